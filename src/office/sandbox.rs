//! Keeps documents from reaching the network and the file system beyond
//! what converting them needs.
//!
//! LibreOffice fetches linked images and OLE objects while it converts, so a
//! document could make the worker request any URL it can reach (the metadata
//! server, internal services). A seccomp filter in each LibreOffice process
//! makes every IPv4, IPv6 and raw socket fail with EACCES. Unix sockets, which
//! LibreOffice uses internally, stay allowed.
//!
//! It also reads local files a document names (an RTF `INCLUDEPICTURE`, for
//! one). Landlock confines each process to reading its installation and the
//! system's libraries, fonts and settings, and to reading and writing its own
//! scratch (profile, temp dir and the request directory its job is put in):
//! other jobs, the worker's environment in /proc, mounted secrets and any
//! other file are refused by the kernel.
//!
//! In its scratch it may make regular files and directories only: no link
//! that could point the worker elsewhere, no FIFO that would make it wait.
//! Where the kernel has Landlock's scoping (Linux 6.12), it can signal no
//! process outside its sandbox (the worker runs as the same user) and
//! connect to no abstract Unix socket made outside it.
//!
//! Both are unprivileged, inherited by every thread LibreOffice starts
//! afterwards, and impossible to lift.

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use anyhow::Context;
use landlock::{
    ABI, Access, AccessFs, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, RulesetStatus, Scope,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The sandbox each LibreOffice process runs in, as this kernel allows it.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Protections {
    /// The seccomp filter refusing IP sockets; a process cannot start without it.
    pub network: bool,
    /// Landlock confining the file system, and its ABI; missing on kernels
    /// before 5.13 or where it is not enabled.
    pub files: Option<i64>,
}

impl Protections {
    /// Each protection by its metric name, and whether it is in force.
    pub fn list(self) -> [(&'static str, bool); 2] {
        [
            ("seccomp_network", self.network),
            ("landlock_files", self.files.is_some()),
        ]
    }
}

/// Must run before any thread is started, so every thread inherits it.
pub fn deny_network() -> anyhow::Result<()> {
    let denied_domains = [libc::AF_INET, libc::AF_INET6, libc::AF_PACKET];
    let rules = denied_domains
        .iter()
        .map(|&domain| {
            let condition =
                SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, domain as u64)?;
            SeccompRule::new(vec![condition])
        })
        .collect::<Result<Vec<_>, _>>()
        .context("building the network filter")?;
    let filter = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_socket, rules)]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        std::env::consts::ARCH
            .try_into()
            .context("seccomp does not support this CPU")?,
    )
    .context("building the network filter")?;
    let program: BpfProgram = filter.try_into().context("compiling the network filter")?;
    seccompiler::apply_filter(&program).context("installing the network filter")?;
    Ok(())
}

/// What every LibreOffice process may read besides its installation: system
/// libraries, fonts and their caches, locale and time zone data, the user
/// database, the CPU count, and its own /proc entry. Paths missing on a
/// machine are skipped.
const READABLE: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc/fonts",
    "/etc/libreoffice",
    // Debian links parts of the installation there (bundled extensions).
    "/var/lib/libreoffice",
    "/var/spool/libreoffice",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/locale.alias",
    // LibreOffice finds its user's home (and so its profile) through the
    // user database; it holds no secrets (those are in /etc/shadow).
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/var/cache/fontconfig",
    "/sys/devices/system/cpu",
    "/dev/urandom",
    "/proc/self",
];

/// Confines this process's file system access; to be called before any
/// thread is started. It reads the system's files and `readable` (such as
/// LibreOffice's installation and the deployment's fonts), and works in
/// `writable`.
pub fn confine_files(readable: &[PathBuf], writable: &[PathBuf]) -> anyhow::Result<RulesetStatus> {
    let ruleset = files_ruleset(readable, writable, scratch_access(ABI::V5), OUT_OF_REACH)?;
    Ok(ruleset.restrict_self()?.ruleset)
}

/// What LibreOffice installed at `install` (its program directory) reads
/// of its own: the installation, its program directory's parent.
pub fn installation(install: &Path) -> PathBuf {
    install.parent().unwrap_or(install).to_path_buf()
}

/// What a process may do in the directories it works in: read, write,
/// remove and rename, and make regular files and directories; no links,
/// FIFOs, sockets or devices, which could point the worker (which empties
/// and reads those directories) at something else or make it wait.
pub fn scratch_access(abi: ABI) -> BitFlags<AccessFs> {
    let special = AccessFs::MakeSym
        | AccessFs::MakeFifo
        | AccessFs::MakeSock
        | AccessFs::MakeChar
        | AccessFs::MakeBlock;
    AccessFs::from_all(abi) & !special
}

/// What a process may not reach outside its own sandbox (Landlock ABI 6,
/// Linux 6.12; ignored by older kernels): no signal to another process,
/// such as the worker, which runs as the same user; no abstract Unix socket
/// another process made.
pub const OUT_OF_REACH: [Scope; 2] = [Scope::Signal, Scope::AbstractUnixSocket];

/// The Landlock rules of a process that reads the system's files and
/// `readable`, and has `scratch` rights in `writable`; not yet applied.
pub fn files_ruleset(
    readable: &[PathBuf],
    writable: &[PathBuf],
    scratch: BitFlags<AccessFs>,
    out_of_reach: impl IntoIterator<Item = Scope>,
) -> anyhow::Result<RulesetCreated> {
    let abi = ABI::V5;
    let readable = READABLE
        .iter()
        .map(PathBuf::from)
        .chain(readable.iter().cloned());
    let mut handled = Ruleset::default().handle_access(AccessFs::from_all(abi))?;
    for scope in out_of_reach {
        handled = handled.scope(scope)?;
    }
    let mut ruleset = handled.create()?;
    for path in readable {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        // Rights on a file are file rights only, or Landlock enforces the
        // rule only in part.
        let read = if metadata.is_dir() {
            AccessFs::from_read(abi)
        } else {
            AccessFs::from_read(abi) & AccessFs::from_file(abi)
        };
        ruleset = ruleset.add_rule(PathBeneath::new(PathFd::new(&path)?, read))?;
    }
    let null = PathFd::new("/dev/null").context("opening /dev/null")?;
    ruleset = ruleset.add_rule(PathBeneath::new(
        null,
        AccessFs::ReadFile | AccessFs::WriteFile,
    ))?;
    for dir in writable {
        let fd = PathFd::new(dir).with_context(|| format!("opening {}", dir.display()))?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, scratch))?;
    }
    Ok(ruleset)
}

/// The Landlock ABI this kernel offers, or `None` where it has none; for
/// reporting which protections are active.
pub fn landlock_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: with a null attribute and size 0 the call only reports the
    // ABI version; it touches no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version)
}
