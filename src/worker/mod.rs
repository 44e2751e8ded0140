//! Messages in, PDFs out. Messages come from a streaming pull, or from Pub/Sub push requests
//! that `http` hands to [`Worker::push`]: both take the same path.
//!
//! Flow control holds at most two messages per LibreOffice process (one
//! converting, one downloading), so a busy instance never hoards work
//! another instance could take. A message is acked only once its PDF (or its
//! failure record) is stored. Permanent failures are acked with a failure
//! record; transient ones are nacked so the subscription's retry policy and
//! dead-letter topic apply, until `max_attempts` makes them permanent.
//!
//! Here: the worker, admission (object lock, then a permit) and `handle`,
//! which runs the pipeline and carries out what `disposition` decides. Beside
//! it, a file per mechanism: `intake` (pull and push), `pipeline` (one
//! message's work), `disposition` (the one place that decides ack or nack, a
//! pure function), `cache` (PDFs of documents seen before), `ownership`
//! (whose PDF a name holds), `report` (records,
//! events, the log line), `attempts`, `object_locks`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job::{self, Job, Parsed, Rejected};
use crate::office::{Pool, Protections};
use crate::outcome::{Outcome, Reply};
use crate::storage::Store;
use crate::supervisor::SlotStatus;
use crate::telemetry::metrics::Metrics;

mod attempts;
mod cache;
mod disposition;
mod edges;
mod intake;
mod object_locks;
mod ownership;
mod pipeline;
mod report;
mod settings;
use attempts::Attempts;
pub use cache::{CacheAt, SealKey};
use disposition::{Delivery, Disposition, Verdict};
pub use edges::{Announce, Converter, Edges, Objects};
use object_locks::ObjectLocks;
use report::Trace;
pub use settings::Settings;

/// Delivery counts kept at once: far more than one instance works on within
/// a retry cycle, and a bound on what push callers (who choose ids) can fill.
const ATTEMPTS_REMEMBERED: usize = 10_000;

pub struct Worker<O = Store, C = Pool, A = Publisher> {
    edges: Edges<O, C, A>,
    metrics: Arc<Metrics>,
    settings: Settings,
    attempts: Attempts,
    objects: ObjectLocks,
    /// One per cache entry being made: copies of a document wait for it.
    flights: ObjectLocks,
    /// One per message being worked on (downloaded, converted, uploaded).
    /// Shared with a cache entry's waiters, who may lend a permit back.
    permits: Arc<Semaphore>,
    /// True once the subscription answered and messages can flow.
    subscribed: AtomicBool,
    /// Every message being handled, pulled or pushed: shutdown drains them.
    tasks: TaskTracker,
}

impl<O: Objects, C: Converter, A: Announce> Worker<O, C, A> {
    pub fn new(edges: Edges<O, C, A>, metrics: Arc<Metrics>, settings: Settings) -> Self {
        let max_outstanding = settings.max_outstanding;
        Worker {
            edges,
            metrics,
            settings,
            attempts: Attempts::new(ATTEMPTS_REMEMBERED),
            objects: ObjectLocks::default(),
            flights: ObjectLocks::default(),
            permits: Arc::new(Semaphore::new(max_outstanding)),
            subscribed: AtomicBool::new(false),
            tasks: TaskTracker::new(),
        }
    }

    /// Ready for messages: pulling, or serving push requests only.
    pub fn accepting(&self) -> bool {
        self.settings.subscription.is_none() || self.subscribed.load(Ordering::SeqCst)
    }

    /// Marks the subscription as answering (or not): readiness follows it.
    fn set_subscribed(&self, subscribed: bool) {
        self.subscribed.store(subscribed, Ordering::SeqCst);
    }

    /// The work waits for a permit; its future is large (about 30 KB), so
    /// it is only made once a permit is granted. With `hold`, a nack waits
    /// out its backoff first, keeping the permit: during an outage that
    /// slows intake too.
    async fn admit(
        &self,
        message: &Message,
        delivery_attempt: Option<i32>,
        shutdown: &CancellationToken,
        hold: bool,
    ) -> (Outcome, Reply) {
        self.metrics.message_started();
        // The object's lock before a permit: copies of one message wait
        // without holding the permits other messages need.
        let parsed = job::parse(&message.attributes, &message.data, &self.settings.routing);
        let source = match &parsed {
            Ok(Parsed::Convert(job)) => Some(job.source_uri()),
            _ => None,
        };
        let admitted = async {
            let object = match source {
                Some(source) => Some(self.objects.lock(source).await),
                None => None,
            };
            let permit = self.permits.acquire().await;
            (object, permit.expect("the semaphore is never closed"))
        };
        let (object, permit) = tokio::select! {
            admitted = admitted => admitted,
            _ = shutdown.cancelled() => {
                self.metrics.count(Outcome::Nacked);
                self.metrics.message_finished();
                return (Outcome::Nacked, Reply::Nack { hold: Duration::ZERO });
            }
        };
        self.metrics.work_started();
        let (outcome, reply) =
            Box::pin(self.handle(message, parsed, delivery_attempt, shutdown)).await;
        // The next message about this object need not wait out a hold.
        drop(object);
        self.metrics.count(outcome);
        self.metrics.work_finished();
        if let Reply::Nack { hold: delay } = reply
            && hold
        {
            // Redelivery can be immediate (no retry policy, the emulator):
            // holding the message first spaces the attempts out.
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        drop(permit);
        self.metrics.message_finished();
        (outcome, reply)
    }

    async fn handle(
        &self,
        message: &Message,
        parsed: Result<Parsed, Rejected>,
        delivery_attempt: Option<i32>,
        shutdown: &CancellationToken,
    ) -> (Outcome, Reply) {
        let started = Instant::now();
        let attempt = delivery_attempt.map_or_else(
            || self.attempts.count(&message.message_id),
            |a| a.max(1) as u32,
        );
        let mut trace = Trace::default();
        let verdict = self.process(parsed, &mut trace).await;
        let delivery = Delivery {
            attempt,
            max_attempts: self.settings.max_attempts,
            stopping: shutdown.is_cancelled(),
        };
        let disposition = disposition::decide(verdict, delivery);
        let id = message.message_id.as_str();
        let record = match &disposition {
            Disposition::Record {
                kind, reason, job, ..
            } => self
                .record_failure(job.as_ref(), trace.generation, kind, reason, id, attempt)
                .await
                .map_err(|error| error.to_string()),
            _ => Ok(None),
        };
        let settled = disposition::settle(disposition, record);
        let elapsed = started.elapsed();
        trace.log(id, attempt, &settled, elapsed);
        if settled.outcome != Outcome::Nacked {
            self.attempts.forget(id);
            self.publish_result(id, &settled, &trace, elapsed).await;
        }
        (settled.outcome, settled.reply)
    }
}

/// What `/healthz`, `/readyz` and `/metrics` show of the production worker.
impl<O: Objects, A: Announce> Worker<O, Pool, A> {
    pub fn slots(&self) -> Vec<SlotStatus> {
        self.edges.converter.slots()
    }

    pub fn ready_slots(&self) -> usize {
        self.edges.converter.ready_slots()
    }

    pub fn protections(&self) -> Protections {
        self.edges.converter.protections()
    }

    /// The Prometheus text exposition of every metric.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode(&self.slots())
    }
}

fn done(outcome: Outcome, detail: impl Into<String>, output: Option<String>) -> Verdict {
    Verdict::Done {
        outcome,
        detail: detail.into(),
        output,
    }
}

fn transient(job: &Job, kind: &'static str, reason: impl std::fmt::Display) -> Verdict {
    Verdict::Transient {
        kind,
        reason: reason.to_string(),
        job: job.clone(),
    }
}

fn permanent(job: &Job, kind: &'static str, error: impl std::fmt::Display) -> Verdict {
    Verdict::Permanent {
        kind,
        reason: format!("{}: {error}", job.source_uri()),
        job: Some(job.clone()),
    }
}

#[cfg(test)]
mod tests;
