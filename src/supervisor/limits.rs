//! What a child may use, enforced by the kernel while a request runs, and
//! how close a request came to its memory cap.
//!
//! Each child gets, before it starts, a cap on its private memory
//! (`RLIMIT_DATA`) and on the size of any file it writes (`RLIMIT_FSIZE`,
//! with `SIGXFSZ` ignored, so a write past it fails with `EFBIG` instead of
//! killing the process). A child refused memory either fails the request
//! cleanly or dies; either way its last samples show how close it was,
//! which [`Peak::reached`] tells the caller.

use std::time::Duration;

/// How often a busy child's private memory is sampled.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// A request whose child reached this share of its cap failed at the cap:
/// the allocation that was refused is not in the samples, only what came
/// before it.
const NEAR_THE_CAP: f64 = 0.75;

/// Sets the calling process's caps; for `pre_exec`, so only async-signal-safe
/// calls. `u64::MAX`: no cap.
pub(super) fn apply(private_memory: u64, file_size: u64) -> std::io::Result<()> {
    set(libc::RLIMIT_DATA, private_memory)?;
    set(libc::RLIMIT_FSIZE, file_size)?;
    // SAFETY: signal() only changes this process's disposition of SIGXFSZ;
    // an ignored signal stays ignored across exec.
    if unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) } == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn set(resource: libc::__rlimit_resource_t, bytes: u64) -> std::io::Result<()> {
    let cap = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit reads only the struct it is given.
    if unsafe { libc::setrlimit(resource, &cap) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The most private memory (data and stack, as `RLIMIT_DATA` counts it) a
/// child was seen to hold during one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Peak {
    pub bytes: u64,
}

impl Peak {
    pub(super) fn sample(&mut self, pid: Option<u32>) {
        if let Some(now) = pid.and_then(private_bytes) {
            self.bytes = self.bytes.max(now);
        }
    }

    /// Whether a failure at this peak is put down to `cap`.
    pub fn reached(self, cap: u64) -> bool {
        cap != u64::MAX && self.bytes as f64 >= cap as f64 * NEAR_THE_CAP
    }
}

/// The sixth field of /proc/PID/statm: data and stack, in pages.
fn private_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(5)?.parse().ok()?;
    Some(pages * super::process::page_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_near_the_cap_is_the_cap() {
        assert!(Peak { bytes: 800 << 20 }.reached(1 << 30));
        assert!(!Peak { bytes: 200 << 20 }.reached(1 << 30));
        assert!(!Peak { bytes: u64::MAX }.reached(u64::MAX), "no cap");
    }

    #[test]
    fn a_sample_sees_the_memory_a_process_holds() {
        let mut peak = Peak::default();
        peak.sample(Some(std::process::id()));
        let before = peak.bytes;
        let block = vec![1u8; 64 << 20];
        peak.sample(Some(std::process::id()));
        drop(block);
        assert!(
            peak.bytes >= before + (60 << 20),
            "{peak:?}, before {before}"
        );
    }
}
