//! One slot: a loop that keeps a process of its own running (start-up with
//! backoff, replacement after a crash, a deadline or recycling) and serves
//! it requests from the shared queue, one at a time, sampling its memory.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::process::Process;
use super::{CallError, Peak, Queue, Reply, SlotState, SlotStatus, Spec, limits};

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
        let (min_backoff, max_backoff) = self.spec.backoff;
        let mut backoff = min_backoff;
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
            let started = tokio::select! {
                started = Process::start(&self.spec, self.id) => started,
                _ = self.stop.cancelled() => break,
            };
            let mut process = match started {
                Ok(process) => process,
                Err(error) => {
                    tracing::error!(
                        slot = self.id,
                        error = format!("{error:#}"),
                        retry_in = ?backoff,
                        "{} process failed to start", self.spec.name
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = self.stop.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(max_backoff);
                    continue;
                }
            };
            backoff = min_backoff;
            self.update(|s| {
                s.state = SlotState::Ready;
                s.pid = process.pid();
                s.rss_bytes = process.rss_bytes();
            });
            tracing::debug!(
                slot = self.id,
                pid = process.pid(),
                "{} process ready",
                self.spec.name
            );

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
        });
    }

    /// Runs one request in `process` within its deadline, sampling the
    /// process's memory meanwhile; `None` if the supervisor stopped first.
    async fn run_request(
        &self,
        process: &mut Process,
        request: &Req,
        deadline: Duration,
    ) -> Option<(
        Result<std::io::Result<Resp>, tokio::time::error::Elapsed>,
        Peak,
    )> {
        let pid = process.pid();
        let mut memory_peak = Peak::default();
        let mut sampling = tokio::time::interval(limits::SAMPLE_EVERY);
        let call = tokio::time::timeout(deadline, process.call::<Req, Resp>(request));
        tokio::pin!(call);
        loop {
            tokio::select! {
                outcome = &mut call => return Some((outcome, memory_peak)),
                _ = sampling.tick() => memory_peak.sample(pid),
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    /// Why the process died: at its memory cap, or of something else.
    async fn died(
        &self,
        process: &mut Process,
        error: std::io::Error,
        memory_peak: Peak,
    ) -> CallError {
        let cause = process.death_cause(error).await;
        tracing::warn!(
            slot = self.id,
            cause,
            memory_peak_mib = memory_peak.bytes >> 20,
            "{} process died during a request",
            self.spec.name
        );
        let cap = self.spec.rss_ceiling;
        if memory_peak.reached(cap) {
            CallError::MemoryCap {
                peak: memory_peak,
                cap,
            }
        } else {
            CallError::Died(cause)
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
            };
            if task.taken.send(()).is_err() || task.reply.is_closed() {
                continue; // the caller gave up while queued
            }
            self.update(|s| s.state = SlotState::Busy);
            let queue_wait = task.enqueued.elapsed();
            let started = Instant::now();
            let Some((outcome, memory_peak)) = self
                .run_request(process, &task.request, task.deadline)
                .await
            else {
                let _ = task.reply.send(Err(CallError::Stopped));
                return End::Stop;
            };
            let reply = match outcome {
                Ok(Ok(value)) => Ok(Reply {
                    value,
                    slot: self.id,
                    queue_wait,
                    run_time: started.elapsed(),
                    memory_peak,
                }),
                Ok(Err(error)) => {
                    let error = self.died(process, error, memory_peak).await;
                    let _ = task.reply.send(Err(error));
                    return End::Lost;
                }
                Err(_) => {
                    tracing::warn!(slot = self.id, deadline = ?task.deadline, "request over its deadline: killing the {} process", self.spec.name);
                    let _ = task.reply.send(Err(CallError::Timeout(task.deadline)));
                    return End::Lost;
                }
            };
            answered += 1;
            let rss = process.rss_bytes();
            let recycle = if answered >= self.spec.recycle_after {
                Some("request count")
            } else if rss > self.spec.rss_ceiling {
                Some("memory ceiling")
            } else {
                None
            };
            // The status is final before the caller hears back.
            self.update(|s| {
                s.served += 1;
                s.rss_bytes = rss;
                s.state = if recycle.is_some() {
                    SlotState::Recycling
                } else {
                    SlotState::Ready
                };
            });
            let _ = task.reply.send(reply);
            if let Some(reason) = recycle {
                return End::Recycle(reason);
            }
        }
    }
}
