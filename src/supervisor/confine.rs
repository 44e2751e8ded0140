//! What a child may not undo of the supervisor's hold on it, whatever code
//! it ends up running (a document can exploit the program it opens).
//!
//! A seccomp filter installed between fork and exec binds the program from
//! its first instruction and everything it starts, and no process under it
//! can lift it:
//! - no new session or process group (`setsid`, `setpgid`): every process
//!   a child starts stays in the child's group, which a kill reaches whole;
//! - no change to its own resource limits (`setrlimit`, `prlimit64` with a
//!   new limit): the CPU budget moved before each request is a soft limit,
//!   which an unprivileged process could otherwise raise back to the hard
//!   one (a hard limit cannot be lowered and raised again without
//!   privileges the image does not have).
//!
//! Reading limits stays allowed. A refused call fails with `EPERM`.

use std::collections::BTreeMap;

use anyhow::Context;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The compiled filter, made before fork so that installing it allocates
/// nothing in the child.
pub(super) struct Confinement(BpfProgram);

impl Confinement {
    pub(super) fn new() -> anyhow::Result<Confinement> {
        // prlimit64(pid, resource, new_limit, old_limit): only with a new limit.
        let sets_a_limit = SeccompRule::new(vec![SeccompCondition::new(
            2,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::Ne,
            0,
        )?])?;
        let refused = BTreeMap::from([
            (libc::SYS_setsid, vec![]),
            (libc::SYS_setpgid, vec![]),
            (libc::SYS_setrlimit, vec![]),
            (libc::SYS_prlimit64, vec![sets_a_limit]),
        ]);
        let filter = SeccompFilter::new(
            refused,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            std::env::consts::ARCH
                .try_into()
                .context("seccomp does not support this CPU")?,
        )
        .context("building the supervision filter")?;
        let program: BpfProgram = filter
            .try_into()
            .context("compiling the supervision filter")?;
        Ok(Confinement(program))
    }

    /// Installs the filter in the calling process; for `pre_exec`, so it
    /// makes system calls only.
    pub(super) fn install(&self) -> std::io::Result<()> {
        match seccompiler::apply_filter(&self.0) {
            Ok(()) => Ok(()),
            Err(seccompiler::Error::Prctl(error) | seccompiler::Error::Seccomp(error)) => {
                Err(error)
            }
            Err(_) => Err(std::io::ErrorKind::InvalidInput.into()),
        }
    }
}
