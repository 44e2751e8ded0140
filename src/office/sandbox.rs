//! Keeps documents from reaching the network.
//!
//! LibreOffice fetches linked images and OLE objects while it converts, so a
//! document could make the worker request any URL it can reach (the metadata
//! server, internal services). A seccomp filter in each LibreOffice process
//! makes every IPv4, IPv6 and raw socket fail with EACCES. Unix sockets, which
//! LibreOffice uses internally, stay allowed. Unprivileged, inherited by every
//! thread LibreOffice starts afterwards, and impossible to lift.

use std::collections::BTreeMap;

use anyhow::Context;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

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
