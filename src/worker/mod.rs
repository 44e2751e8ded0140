//! Messages in, PDFs out. Messages come from a streaming pull, or from Pub/Sub push requests
//! that `http` hands to [`Worker::push`]: both take the same path.
//!
//! Flow control holds at most `MAX_MESSAGES` (8 per LibreOffice process):
//! enough that Cloud Storage calls overlap with conversions, few enough
//! that a busy instance does not hoard work another instance could take;
//! conversions and the bytes on disk have bounds of their own (`intake`).
//! A message is acked only once its PDF (or its
//! failure record) is stored. Permanent failures are acked with a failure
//! record; transient ones are nacked so the subscription's retry policy and
//! dead-letter topic apply, until `max_attempts` makes them permanent.
//!
//! The worker is four parts, each owning its state, and [`Worker::handle`],
//! the one place that sees all four:
//! - `intake/`: permits, per-object locks, delivery counts, tasks in
//!   flight, readiness (`mod.rs`), and the pull loop and push entry
//!   (`pull.rs`);
//! - `pipeline`: one message's work over the storage and converter edges
//!   (with `ownership`: whose PDF a name holds);
//! - `cache/`: PDFs of documents seen before;
//! - `report`: failure records, result events, the log line.
//!
//! Beside them `disposition`, the one place that decides ack or nack (a
//! pure function), `settings`, `edges`, `counted` (storage calls counted)
//! and `object_locks`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use tokio_util::sync::CancellationToken;

use crate::job::{self, Parsed, Rejected};
use crate::office::{Pool, Protections};
use crate::outcome::{Outcome, Reply};
use crate::storage::Store;
use crate::supervisor::SlotStatus;
use crate::telemetry::metrics::Metrics;

mod cache;
mod counted;
mod disposition;
mod edges;
mod intake;
mod object_locks;
mod ownership;
mod pipeline;
mod report;
mod settings;
use cache::Cache;
pub use cache::{CacheAt, SealKey};
use counted::Counted;
use disposition::{Delivery, Disposition};
pub use edges::{Announce, Converter, Edges, Objects};
pub use intake::pull::{Connect, PullClients};
use intake::{Bounds, Intake, NackHold, Permit};
use pipeline::Pipeline;
use report::{Reporter, Trace};
pub use settings::Settings;

pub struct Worker<O = Store, C = Pool, A = Publisher> {
    intake: Intake,
    pipeline: Pipeline<Counted<O>, C>,
    cache: Cache,
    reporter: Reporter<Counted<O>, A>,
    metrics: Arc<Metrics>,
    settings: Settings,
}

impl<O: Objects, C: Converter, A: Announce> Worker<O, C, A> {
    pub fn new(edges: Edges<O, C, A>, metrics: Arc<Metrics>, settings: Settings) -> Self {
        let objects = Arc::new(Counted::new(edges.objects, metrics.clone()));
        let out = settings.routing.output_bucket.clone();
        let pipeline = Pipeline::new(
            objects.clone(),
            edges.converter,
            edges.workspace,
            metrics.clone(),
            &settings,
        );
        Worker {
            intake: Intake::new(Bounds {
                messages: settings.max_messages,
                conversions: settings.max_conversions,
                bytes: settings.max_held_bytes,
            }),
            pipeline,
            cache: Cache::new(settings.cache.clone()),
            reporter: Reporter::new(objects, edges.results, out),
            metrics,
            settings,
        }
    }

    /// Ready for messages: pulling, or serving push requests only.
    pub fn accepting(&self) -> bool {
        self.intake.accepting(self.settings.subscription.is_some())
    }

    /// A message from its arrival to its reply: let in by the intake (the
    /// object's lock, then a permit), handled, then held as `hold` says if
    /// it is nacked. The work's future is large (about 30 KB), so it is
    /// only made once a permit is granted.
    async fn receive(
        &self,
        message: &Message,
        delivery_attempt: Option<i32>,
        shutdown: &CancellationToken,
        hold: NackHold,
    ) -> (Outcome, Reply) {
        self.metrics.message_started();
        let parsed = job::parse(&message.attributes, &message.data, &self.settings.routing);
        let source = match &parsed {
            Ok(Parsed::Convert(job)) => Some(job.source_uri()),
            _ => None,
        };
        let Some(mut admitted) = self.intake.admit(source, shutdown).await else {
            self.metrics.count(Outcome::Nacked);
            self.metrics.message_finished();
            return (
                Outcome::Nacked,
                Reply::Nack {
                    hold: Duration::ZERO,
                },
            );
        };
        self.metrics.work_started();
        let handled = self.handle(
            message,
            parsed,
            delivery_attempt,
            &mut admitted.permit,
            shutdown,
        );
        let (outcome, reply) = Box::pin(handled).await;
        admitted.release_object();
        self.metrics.count(outcome);
        self.metrics.work_finished();
        if let Reply::Nack { hold: delay } = reply {
            admitted.hold(delay, hold, shutdown).await;
        }
        drop(admitted);
        self.metrics.message_finished();
        (outcome, reply)
    }

    /// The one place that sees all four parts: the intake's count of the
    /// delivery, the pipeline's work (with the cache), the disposition's
    /// decision, and the reporter's record, event and log line.
    async fn handle(
        &self,
        message: &Message,
        parsed: Result<Parsed, Rejected>,
        delivery_attempt: Option<i32>,
        permit: &mut Permit,
        shutdown: &CancellationToken,
    ) -> (Outcome, Reply) {
        let started = Instant::now();
        let id = message.message_id.as_str();
        let attempt = self.intake.attempt(id, delivery_attempt);
        let mut trace = Trace::default();
        let verdict = (self.pipeline)
            .process(parsed, attempt == 1, &self.cache, permit, &mut trace)
            .await;
        let delivery = Delivery {
            attempt,
            max_attempts: self.settings.max_attempts,
            stopping: shutdown.is_cancelled(),
        };
        let disposition = disposition::decide(verdict, delivery);
        let record = match &disposition {
            Disposition::Record {
                kind, reason, job, ..
            } => (self.reporter)
                .record_failure(job.as_ref(), &trace, *kind, reason, id, attempt)
                .await
                .map_err(|error| error.to_string()),
            _ => Ok(None),
        };
        let settled = disposition::settle(disposition, record);
        if let Some(kind) = settled.error_kind {
            self.metrics.failed(kind);
        }
        let elapsed = started.elapsed();
        trace.log(id, attempt, &settled, elapsed);
        if settled.outcome != Outcome::Nacked {
            self.intake.forget(id);
            (self.reporter)
                .publish_result(id, &settled, &trace, elapsed)
                .await;
        }
        (settled.outcome, settled.reply)
    }
}

/// What `/healthz`, `/readyz` and `/metrics` show of the production worker.
impl<O: Objects, A: Announce> Worker<O, Pool, A> {
    pub fn slots(&self) -> Vec<SlotStatus> {
        self.pipeline.converter().slots()
    }

    pub fn ready_slots(&self) -> usize {
        self.pipeline.converter().ready_slots()
    }

    pub fn protections(&self) -> Protections {
        self.pipeline.converter().protections()
    }

    /// How many font files the deployment brought (`FONTS`).
    pub fn own_fonts(&self) -> usize {
        self.pipeline.converter().own_fonts()
    }

    /// The Prometheus text exposition of every metric.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode(&self.slots())
    }
}

#[cfg(test)]
mod tests;
