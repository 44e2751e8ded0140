//! What a LibreOffice process may allocate, and how close a job came to it.
//!
//! The supervisor caps each process's private memory with `RLIMIT_DATA`, so
//! the kernel refuses an allocation past the cap while a job runs. LibreOffice
//! then mostly fails the load or the export cleanly, which looks the same as
//! a damaged document. [`Watch`] samples the process's private memory while a
//! job runs, so that such a failure can be told for what it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::Duration;

/// A failure whose job reached this share of the cap is put down to the cap:
/// the allocation that failed is not in the samples, only what came before it.
const NEAR_THE_CAP: f64 = 0.75;
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// This process's cap on private memory, if one is set.
pub fn cap() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Whether a job whose private memory peaked at `peak` failed at `cap`.
pub fn reached(peak: u64, cap: u64) -> bool {
    peak as f64 >= cap as f64 * NEAR_THE_CAP
}

/// Peak private memory (data and stack, as `RLIMIT_DATA` counts it) of this
/// process during each job, sampled by a thread that sleeps between jobs.
pub struct Watch {
    peak: Arc<AtomicU64>,
    active: Arc<AtomicBool>,
    sampler: Thread,
}

impl Watch {
    pub fn start() -> std::io::Result<Watch> {
        let peak = Arc::new(AtomicU64::new(0));
        let active = Arc::new(AtomicBool::new(false));
        let (p, a) = (peak.clone(), active.clone());
        let sampler = std::thread::Builder::new()
            .name("memory-watch".into())
            .spawn(move || {
                loop {
                    if !a.load(Ordering::Acquire) {
                        std::thread::park();
                        continue;
                    }
                    if let Some(now) = private_bytes() {
                        p.fetch_max(now, Ordering::Relaxed);
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })?
            .thread()
            .clone();
        Ok(Watch {
            peak,
            active,
            sampler,
        })
    }

    pub fn begin(&self) {
        self.peak
            .store(private_bytes().unwrap_or(0), Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
        self.sampler.unpark();
    }

    /// Stops sampling; the job's peak.
    pub fn end(&self) -> u64 {
        self.active.store(false, Ordering::Release);
        let last = private_bytes().unwrap_or(0);
        self.peak.fetch_max(last, Ordering::Relaxed).max(last)
    }
}

/// The sixth field of /proc/self/statm: data and stack, in pages.
fn private_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(5)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    Some(pages * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_near_the_cap_is_the_cap() {
        assert!(reached(800 << 20, 1 << 30));
        assert!(!reached(200 << 20, 1 << 30));
    }

    #[test]
    fn the_watch_sees_memory_taken_during_a_job() {
        let watch = Watch::start().unwrap();
        watch.begin();
        let before = private_bytes().unwrap();
        let block = vec![1u8; 64 << 20];
        std::thread::sleep(Duration::from_millis(30));
        drop(block);
        let peak = watch.end();
        assert!(peak >= before + (60 << 20), "peak {peak}, before {before}");
    }
}
