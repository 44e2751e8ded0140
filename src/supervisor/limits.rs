//! What a child may use, enforced by the kernel while a request runs, and
//! how close a request came to its caps.
//!
//! Each child gets, before it starts, a cap on its private memory
//! (`RLIMIT_DATA`) and on the size of any file it writes (`RLIMIT_FSIZE`,
//! with `SIGXFSZ` ignored, so a write past it fails with `EFBIG` instead of
//! killing the process). A child refused memory either fails the request
//! cleanly or dies; either way its last samples show how close it was,
//! which [`Peak::reached`] tells the caller.
//!
//! Before each request, its CPU time is capped too (`RLIMIT_CPU`, moved to
//! what it has used so far plus the request's budget): a backstop to the
//! deadline that the kernel enforces even if the supervisor cannot act.

use std::time::Duration;

use rlimit::Resource;

/// How often a busy child's private memory is sampled.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// A request whose child reached this share of its cap failed at the cap:
/// the allocation that was refused is not in the samples, only what came
/// before it.
const NEAR_THE_CAP: f64 = 0.75;

/// Sets the calling process's caps; for `pre_exec`, so only async-signal-safe
/// calls. `u64::MAX`: no cap.
pub(super) fn apply(private_memory: u64, file_size: u64) -> std::io::Result<()> {
    rlimit::setrlimit(Resource::DATA, private_memory, private_memory)?;
    rlimit::setrlimit(Resource::FSIZE, file_size, file_size)?;
    // SAFETY: signal() only changes this process's disposition of SIGXFSZ;
    // an ignored signal stays ignored across exec.
    if unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) } == libc::SIG_ERR {
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
    fn reached(self, cap: u64) -> bool {
        cap != u64::MAX && self.bytes as f64 >= cap as f64 * NEAR_THE_CAP
    }
}

/// The private memory a child held during one request, against its limit
/// (`Spec::memory_limit`).
#[derive(Clone, Copy, Debug)]
pub struct MemoryUse {
    pub peak: Peak,
    pub limit: u64,
}

impl MemoryUse {
    /// Whether a failure with this use is put down to the limit: the one
    /// judgement, for a process that died and for one that answered that
    /// it failed.
    pub fn reached(self) -> bool {
        self.peak.reached(self.limit)
    }
}

/// The CPU time a child may use before the kernel stops it, in seconds of
/// its whole life, and what it was last seen to have used.
#[derive(Clone, Copy, Debug)]
pub(super) struct CpuCap {
    limit: u64,
    used: f64,
}

impl CpuCap {
    /// Lets the process `pid` use `budget` more seconds of CPU (all its
    /// threads together). Only the soft limit moves: an unprivileged process
    /// may raise it again for the next request, never the hard one.
    pub(super) fn set(pid: u32, budget: Duration) -> std::io::Result<CpuCap> {
        let used = cpu_seconds(pid).ok_or(std::io::ErrorKind::NotFound)?;
        let limit = (used + budget.as_secs_f64()).ceil() as u64;
        let (mut soft, mut hard) = (0, 0);
        let pid = pid as libc::pid_t;
        rlimit::prlimit(pid, Resource::CPU, None, Some((&mut soft, &mut hard)))?;
        rlimit::prlimit(pid, Resource::CPU, Some((limit.min(hard), hard)), None)?;
        Ok(CpuCap { limit, used })
    }

    pub(super) fn sample(&mut self, pid: Option<u32>) {
        if let Some(now) = pid.and_then(cpu_seconds) {
            self.used = self.used.max(now);
        }
    }

    /// Whether the process, last seen at `used`, died at its limit: the
    /// samples lag the kernel by one interval of every thread's time.
    pub(super) fn reached(self) -> bool {
        self.used >= self.limit as f64 - 0.5
    }
}

/// User and system time of every thread of `pid`: fields 14 and 15 of
/// /proc/PID/stat, counted from after the command name, which may hold spaces.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    Some(ticks as f64 / per_second as f64)
}

/// The sixth field of /proc/PID/statm: data and stack, in pages.
fn private_bytes(pid: u32) -> Option<u64> {
    statm_bytes(pid, 5)
}

/// The second field of /proc/PID/statm: resident pages.
pub(super) fn resident_bytes(pid: u32) -> Option<u64> {
    statm_bytes(pid, 1)
}

fn statm_bytes(pid: u32, field: usize) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(field)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as u64,
        _ => 4096,
    }
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

    /// Spins until the reading shows 0.2 s more CPU time: on a machine busy
    /// with other work, wall time says little about the CPU time it gets.
    #[test]
    fn cpu_time_is_read_for_this_process() {
        let start = cpu_seconds(std::process::id()).unwrap();
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        let mut end = start;
        while end - start < 0.2 && spin.elapsed() < Duration::from_secs(30) {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            end = cpu_seconds(std::process::id()).unwrap();
        }
        assert!(
            end - start >= 0.2,
            "{start} -> {end} in {:?}",
            spin.elapsed()
        );
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
