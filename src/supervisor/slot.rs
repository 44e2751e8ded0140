//! One slot: a loop that keeps a process of its own running (start-up with
//! backoff, replacement after a crash, a deadline or recycling) and serves
//! it requests from the shared queue, one at a time, sampling its memory.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::limits::{self, CpuCap};
use super::process::Process;
use super::request_dir::{LentDir, Returned};
use super::scratch;
use super::{Backoff, CallError, MemoryUse, Peak, Queue, Reply, SlotState, SlotStatus, Spec, Task};

/// How one request went, and what its process was seen to use.
struct Run<Resp> {
    ended: Ended<Resp>,
    usage: Usage,
}

/// How one request ended.
enum Ended<Resp> {
    Answered(std::io::Result<Resp>),
    /// Its deadline passed first.
    Late,
    /// The process held more in files than its cap: the bytes seen.
    OverScratch(u64),
}

/// What a process was seen to use during one request.
#[derive(Clone, Copy)]
struct Usage {
    memory_peak: Peak,
    /// Present when the process's CPU time was capped for the request.
    cpu: Option<CpuCap>,
}

/// Scratch is walked every this many memory samples (100 ms): a walk costs
/// a few hundred system calls, and a one-page document takes less.
const SCRATCH_SAMPLE_EVERY: u32 = 10;
/// What a request may leave in its process's scratch (besides its request
/// directory, which is emptied anyway) before the process is replaced:
/// LibreOffice's few small temp files, not a document's.
const LEFTOVER_ALLOWED: u64 = 4 << 20;

/// How an attempt to start a process ended.
enum Started {
    Ready(Box<Process>),
    Failed,
    /// The supervisor stopped first.
    Stopped,
}

/// Why a slot stopped using its current process.
enum End {
    Recycle(&'static str),
    Lost,
    Stop,
}

pub(super) struct Slot<Req, Resp> {
    pub(super) id: usize,
    pub(super) spec: Arc<Spec>,
    pub(super) queue: Queue<Req, Resp>,
    pub(super) status: Arc<Mutex<Vec<SlotStatus>>>,
    pub(super) stop: CancellationToken,
}

impl<Req, Resp> Slot<Req, Resp>
where
    Req: Serialize + Send + Sync + 'static,
    Resp: DeserializeOwned + Send + 'static,
{
    fn update(&self, f: impl FnOnce(&mut SlotStatus)) {
        f(&mut self.status.lock().expect("slot status lock")[self.id]);
    }

    pub(super) async fn run(self) {
        let Backoff {
            first: shortest,
            longest,
        } = self.spec.backoff;
        let mut backoff = shortest;
        let mut first = true;
        while !self.stop.is_cancelled() {
            if !first {
                self.update(|s| s.restarts += 1);
            }
            first = false;
            self.update(|s| {
                s.state = SlotState::Starting;
                s.pid = None;
            });
            let mut process = match self.start(backoff).await {
                Started::Ready(process) => *process,
                Started::Failed => {
                    backoff = (backoff * 2).min(longest);
                    continue;
                }
                Started::Stopped => break,
            };
            backoff = shortest;
            let end = self.serve(&mut process).await;
            if let End::Recycle(reason) = end {
                tracing::info!(
                    slot = self.id,
                    reason,
                    "recycling {} process",
                    self.spec.name
                );
                self.update(|s| s.state = SlotState::Recycling);
            }
            process.stop().await;
            if let End::Stop = end {
                break;
            }
        }
        self.update(|s| {
            s.state = SlotState::Stopped;
            s.pid = None;
            s.rss_bytes = 0;
            s.scratch_bytes = 0;
        });
    }

    /// Starts a process; after a failure, waits out `backoff` first.
    async fn start(&self, backoff: Duration) -> Started {
        let started = tokio::select! {
            started = Process::start(&self.spec, self.id) => started,
            _ = self.stop.cancelled() => return Started::Stopped,
        };
        match started {
            Ok(process) => {
                self.update(|s| {
                    s.state = SlotState::Ready;
                    s.pid = process.pid();
                    s.rss_bytes = process.rss_bytes();
                    s.scratch_bytes = process.scratch_at_start();
                });
                tracing::debug!(
                    slot = self.id,
                    pid = process.pid(),
                    "{} process ready",
                    self.spec.name
                );
                Started::Ready(Box::new(process))
            }
            Err(error) => {
                tracing::error!(
                    slot = self.id,
                    error = format!("{error:#}"),
                    retry_in = ?backoff,
                    "{} process failed to start", self.spec.name
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => Started::Failed,
                    _ = self.stop.cancelled() => Started::Stopped,
                }
            }
        }
    }

    /// Runs one request in `process` within its deadline, CPU budget and
    /// scratch cap, sampling the process meanwhile; `None` if the
    /// supervisor stopped first.
    async fn run_request(
        &self,
        process: &mut Process,
        request: &Req,
        deadline: Duration,
    ) -> Option<Run<Resp>> {
        let pid = process.pid();
        let mut cpu = match (self.spec.cpu_budget, pid) {
            (Some(budget), Some(pid)) => match CpuCap::set(pid, budget) {
                Ok(cap) => Some(cap),
                Err(error) => {
                    tracing::warn!(slot = self.id, %error, "could not cap the CPU time of the {} process", self.spec.name);
                    None
                }
            },
            _ => None,
        };
        let scratch = process.scratch().to_owned();
        let capped = self.spec.scratch_cap != u64::MAX;
        let mut memory_peak = Peak::default();
        let mut sampling = tokio::time::interval(limits::SAMPLE_EVERY);
        let mut samples = 0u32;
        let call = tokio::time::timeout(deadline, process.call::<Req, Resp>(request));
        tokio::pin!(call);
        loop {
            let ended = tokio::select! {
                outcome = &mut call => Some(outcome.map_or(Ended::Late, Ended::Answered)),
                _ = sampling.tick() => {
                    memory_peak.sample(pid);
                    if let Some(cpu) = &mut cpu {
                        cpu.sample(pid);
                    }
                    samples += 1;
                    let held = (capped && samples.is_multiple_of(SCRATCH_SAMPLE_EVERY))
                        .then(|| scratch::held(&scratch, None, pid).total);
                    held.filter(|&held| held > self.spec.scratch_cap).map(Ended::OverScratch)
                }
                _ = self.stop.cancelled() => return None,
            };
            if let Some(ended) = ended {
                return Some(Run {
                    ended,
                    usage: Usage { memory_peak, cpu },
                });
            }
        }
    }

    /// Why the process died: at its memory or CPU cap, or of something else.
    async fn died(&self, process: &mut Process, error: std::io::Error, run: Usage) -> CallError {
        let cause = process.death_cause(error).await;
        tracing::warn!(
            slot = self.id,
            cause,
            memory_peak_mib = run.memory_peak.bytes >> 20,
            "{} process died during a request",
            self.spec.name
        );
        let memory = MemoryUse {
            peak: run.memory_peak,
            limit: self.spec.memory_limit,
        };
        match (run.cpu, self.spec.cpu_budget) {
            (Some(cpu), Some(budget)) if cpu.reached() => CallError::CpuCap(budget),
            _ if memory.reached() => CallError::MemoryLimit(memory),
            _ => CallError::Died(cause),
        }
    }

    async fn serve(&self, process: &mut Process) -> End {
        let mut answered = 0;
        loop {
            let task = tokio::select! {
                task = async { self.queue.lock().await.recv().await } => match task {
                    Some(task) => task,
                    None => return End::Stop,
                },
                _ = self.stop.cancelled() => return End::Stop,
                // Noticed now, not by the next request, which would fail for it.
                status = process.exited() => {
                    tracing::warn!(slot = self.id, status, "{} process exited while idle; replacing it", self.spec.name);
                    return End::Lost;
                }
            };
            if let Err(end) = self.serve_one(process, task, &mut answered).await {
                return end;
            }
        }
    }

    /// Prepares `task` in a new request directory, runs it and answers its
    /// caller; `Err` when this process must not take another request.
    async fn serve_one(
        &self,
        process: &mut Process,
        task: Task<Req, Resp>,
        answered: &mut u64,
    ) -> Result<(), End> {
        if task.taken.send(()).is_err() || task.reply.is_closed() {
            return Ok(()); // the caller gave up while queued
        }
        self.update(|s| s.state = SlotState::Busy);
        let queue_wait = task.enqueued.elapsed();
        let prepared = process
            .request_dir()
            .and_then(|dir| Ok(((task.prepare)(&dir)?, dir)));
        let (request, dir) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                self.update(|s| s.state = SlotState::Ready);
                let _ = task.reply.send(Err(CallError::Prepare(error)));
                return Ok(());
            }
        };
        let started = Instant::now();
        let Some(run) = self.run_request(process, &request, task.deadline).await else {
            let _ = task.reply.send(Err(CallError::Stopped));
            return Err(End::Stop);
        };
        let value = match run.ended {
            Ended::Answered(Ok(value)) => value,
            Ended::Answered(Err(error)) if error.kind() == std::io::ErrorKind::InvalidData => {
                tracing::warn!(slot = self.id, %error, "the {} process broke the protocol: killing it", self.spec.name);
                let _ = task
                    .reply
                    .send(Err(CallError::Misbehaved(error.to_string())));
                return Err(End::Lost);
            }
            Ended::Answered(Err(error)) => {
                let error = self.died(process, error, run.usage).await;
                let _ = task.reply.send(Err(error));
                return Err(End::Lost);
            }
            Ended::OverScratch(held) => {
                let cap = self.spec.scratch_cap;
                tracing::warn!(
                    slot = self.id,
                    held_mib = held >> 20,
                    cap_mib = cap >> 20,
                    "request over its scratch cap: killing the {} process",
                    self.spec.name
                );
                let _ = task.reply.send(Err(CallError::ScratchCap { held, cap }));
                return Err(End::Lost);
            }
            Ended::Late => {
                tracing::warn!(slot = self.id, deadline = ?task.deadline, "request over its deadline: killing the {} process", self.spec.name);
                let _ = task.reply.send(Err(CallError::Timeout(task.deadline)));
                return Err(End::Lost);
            }
        };
        *answered += 1;
        let recycle = self.recycle_reason(process, *answered);
        let (lent, returned) = oneshot::channel();
        let reply = Reply {
            value,
            slot: self.id,
            queue_wait,
            run_time: started.elapsed(),
            memory: MemoryUse {
                peak: run.usage.memory_peak,
                limit: self.spec.memory_limit,
            },
            dir: LentDir {
                dir,
                returned: lent,
            },
        };
        let _ = task.reply.send(Ok(reply));
        // Dropped by the caller when done with the directory (or with the
        // reply unread): either way it may be emptied now.
        if let Ok(Returned::Condemned) = returned.await {
            return Err(End::Recycle("its caller saw it misbehave"));
        }
        recycle.map_or(Ok(()), |reason| Err(End::Recycle(reason)))
    }

    /// Records an answered request in the slot's status, final before the
    /// caller hears back; why the process should be replaced, if it should.
    fn recycle_reason(&self, process: &mut Process, answered: u64) -> Option<&'static str> {
        let rss = process.rss_bytes();
        // The request directory is emptied before the next request anyway.
        let allowed = process.scratch_at_start() + LEFTOVER_ALLOWED;
        let held = process.held_if_grown(allowed);
        let recycle = if answered >= self.spec.recycle_after {
            Some("request count")
        } else if rss > self.spec.memory_limit {
            Some("memory limit")
        } else if held.is_some_and(|held| held.outside() > allowed) {
            Some("files left in its scratch")
        } else {
            (self.spec.unfit)(process.scratch())
        };
        self.update(|s| {
            s.served += 1;
            s.rss_bytes = rss;
            s.scratch_bytes = held.map_or(s.scratch_bytes, |held| held.total);
            s.state = if recycle.is_some() {
                SlotState::Recycling
            } else {
                SlotState::Ready
            };
        });
        recycle
    }
}
