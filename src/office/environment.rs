//! The environment each LibreOffice process starts in: a profile and a
//! temp directory of its own in its scratch, the few variables it needs of
//! the worker's, and jemalloc where it is installed.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::profile;

/// What a LibreOffice process inherits of the worker's environment. The rest
/// (credentials, settings, anything a deployment puts there) stays out of
/// reach of the documents it converts.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LOK_PROGRAM_PATH",
    "RUST_BACKTRACE",
];

/// One profile and one temp dir per process: LibreOffice processes sharing a
/// profile silently lose documents. A minimal environment.
pub(super) fn prepare_child(
    scratch: &Path,
    command: &mut Command,
    allocator: Option<&Path>,
) -> std::io::Result<()> {
    let home = scratch.join("home");
    let tmp = scratch.join("tmp");
    std::fs::create_dir(&tmp)?;
    profile::seed(&profile::user_dir(scratch))?;
    command.env_clear();
    for key in INHERITED_ENV {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command.env("HOME", home).env("TMPDIR", tmp);
    if let Some(allocator) = allocator
        && std::env::var_os("LD_PRELOAD").is_none()
    {
        command.env("LD_PRELOAD", allocator);
    }
    Ok(())
}

/// LibreOffice allocates and frees at a furious rate; glibc's malloc spends
/// about a tenth of a conversion consolidating chunks. With jemalloc the
/// same documents convert about 15% faster (perf and ./dev/bench convert).
pub(super) fn jemalloc() -> Option<PathBuf> {
    let path = PathBuf::from(format!(
        "/usr/lib/{}-linux-gnu/libjemalloc.so.2",
        std::env::consts::ARCH
    ));
    path.exists().then_some(path)
}
