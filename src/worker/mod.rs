//! Messages in, PDFs out, and the one place that decides between ack and
//! nack. Messages come from a streaming pull, or from Pub/Sub push requests
//! that `http` hands to [`Worker::push`]: both take the same path.
//!
//! Flow control holds at most two messages per LibreOffice process (one
//! converting, one downloading), so a busy instance never hoards work
//! another instance could take. A message is acked only once its PDF (or its
//! failure record) is stored. Permanent failures are acked with a failure
//! record; transient ones are nacked so the subscription's retry policy and
//! dead-letter topic apply, until `max_attempts` makes them permanent.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::ShutdownBehavior;
use google_cloud_pubsub::subscriber::handler::Handler;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job::{self, Job, Parsed, Routing};
use crate::office::Pool;
use crate::storage::{self, StorageError, Store};
use crate::telemetry::metrics::{Metrics, Outcome};

mod attempts;
mod object_locks;
mod ownership;
use attempts::Attempts;
use object_locks::ObjectLocks;
use ownership::Claim;

/// Delivery counts kept at once: far more than one instance works on within
/// a retry cycle, and a bound on what push callers (who choose ids) can fill.
const ATTEMPTS_REMEMBERED: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Settings {
    /// None: push requests only, the original service's deployment.
    pub subscription: Option<String>,
    pub routing: Routing,
    pub max_input_bytes: u64,
    pub max_attempts: u32,
    pub shutdown_grace: Duration,
    /// How long the server waits to hear from us before redelivering a
    /// message: the lease we keep extending while a job runs.
    pub ack_deadline: Duration,
    /// Messages worked on at once; also the flow control asked of the server.
    pub max_outstanding: usize,
}

pub struct Worker {
    pub pool: Arc<Pool>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Where one event per finished message goes (`RESULT_TOPIC`), if set.
    results: Option<Publisher>,
    attempts: Attempts,
    objects: ObjectLocks,
    /// One per message being worked on (downloaded, converted, uploaded).
    permits: Semaphore,
    /// True once the subscription answered and messages can flow.
    pub subscribed: AtomicBool,
    /// Every message being handled, pulled or pushed: shutdown drains them.
    tasks: TaskTracker,
}

/// What Pub/Sub is told about a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Ack,
    /// Redeliver; a puller holds the message `hold` first.
    Nack {
        hold: Duration,
    },
}

/// How one message ended, before it is acked or nacked.
enum Verdict {
    /// Finished; the string says what happened, the URI is the PDF's if one was made.
    Done(Outcome, String, Option<String>),
    Permanent {
        kind: &'static str,
        reason: String,
        job: Option<Job>,
    },
    /// Always about a parsed job: a message that cannot be parsed is permanent.
    Transient {
        kind: &'static str,
        reason: String,
        job: Job,
    },
}

impl Worker {
    pub fn new(
        pool: Arc<Pool>,
        store: Store,
        metrics: Arc<Metrics>,
        settings: Settings,
        results: Option<Publisher>,
    ) -> Worker {
        let max_outstanding = settings.max_outstanding;
        Worker {
            pool,
            store,
            metrics,
            settings,
            results,
            attempts: Attempts::new(ATTEMPTS_REMEMBERED),
            objects: ObjectLocks::default(),
            permits: Semaphore::new(max_outstanding),
            subscribed: AtomicBool::new(false),
            tasks: TaskTracker::new(),
        }
    }

    /// Ready for messages: pulling, or serving push requests only.
    pub fn accepting(&self) -> bool {
        self.settings.subscription.is_none() || self.subscribed.load(Ordering::SeqCst)
    }

    /// Pulls until `shutdown` fires, then drains: in-flight jobs get
    /// `shutdown_grace` to finish, the rest are nacked, and queued acks are
    /// flushed before returning.
    pub async fn run(
        self: Arc<Self>,
        pubsub: Option<(Subscriber, SubscriptionAdmin)>,
        shutdown: CancellationToken,
    ) {
        let tasks = &self.tasks;
        // Streams that ended stay here until the end: messages they handed
        // out may still be running, and their acks flush through them.
        let mut streams = Vec::new();
        // A stream ends for good on errors such as a deleted subscription;
        // the worker then waits for the subscription again, as at start.
        let pull = self.settings.subscription.clone().zip(pubsub);
        if pull.is_none() {
            tracing::info!("no SUBSCRIPTION: serving Pub/Sub push requests only");
            shutdown.cancelled().await;
        }
        while let Some((subscription, (subscriber, admin))) = &pull
            && self
                .check_subscription(subscription, admin, &shutdown)
                .await
        {
            let mut stream = subscriber
                .subscribe(subscription)
                .set_max_outstanding_messages(self.settings.max_outstanding as i64)
                .set_max_lease_extension(self.settings.ack_deadline)
                .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
                .build();
            streams.push(stream.shutdown_token());
            loop {
                let next = tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break,
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok((message, handler))) => {
                        let worker = self.clone();
                        let shutdown = shutdown.clone();
                        tasks
                            .spawn(async move { worker.pulled(message, handler, &shutdown).await });
                    }
                    Some(Err(error)) => {
                        tracing::warn!(error = %error, "the subscription stream failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    None => {
                        tracing::warn!(
                            "the subscription stream ended; asking for the subscription again"
                        );
                        self.subscribed.store(false, Ordering::SeqCst);
                        break;
                    }
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
        }
        self.subscribed.store(false, Ordering::SeqCst);
        tasks.close();
        tracing::info!(in_flight = tasks.len(), grace = ?self.settings.shutdown_grace, "stopped pulling; draining");
        if tokio::time::timeout(self.settings.shutdown_grace, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = tasks.len(),
                "grace period over: stopping LibreOffice, unfinished messages are nacked"
            );
            self.pool.shutdown().await;
            tasks.wait().await;
        }
        // ack() only queues; this flushes what is queued before we exit.
        for stream in streams {
            stream.shutdown().await;
        }
    }

    /// Waits until the subscription answers: a streaming pull aimed at a
    /// wrong address retries silently forever, so readiness must not trust
    /// it. A missing subscription or a missing grant is logged as an error
    /// that says what to do, and asked again: both are often only early
    /// (deploy order, IAM propagation), and a crash loop would not help.
    /// Returns false if asked to stop first.
    async fn check_subscription(
        &self,
        name: &str,
        admin: &SubscriptionAdmin,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut backoff = Duration::from_secs(1);
        loop {
            let request = admin.get_subscription().set_subscription(name).send();
            let answer = tokio::select! {
                answer = tokio::time::timeout(Duration::from_secs(10), request) => answer,
                _ = shutdown.cancelled() => return false,
            };
            match answer {
                Ok(Ok(subscription)) => {
                    tracing::info!(
                        subscription = name,
                        dead_letter_policy = subscription.dead_letter_policy.is_some(),
                        "subscription found; pulling"
                    );
                    self.subscribed.store(true, Ordering::SeqCst);
                    return true;
                }
                Ok(Err(error)) => match error.status().map(|s| s.code) {
                    Some(Code::NotFound) => tracing::error!(
                        retry_in = ?backoff,
                        "SUBSCRIPTION {name} does not exist: create it (gcloud pubsub subscriptions create) or fix the name"
                    ),
                    // roles/pubsub.subscriber may pull but not read the
                    // subscription's settings: Pub/Sub answered, so pull.
                    Some(Code::PermissionDenied) => {
                        tracing::info!(
                            subscription = name,
                            "subscription settings not readable (pubsub.subscriptions.get, in roles/pubsub.viewer); pulling. If nothing arrives, grant this service account roles/pubsub.subscriber on it"
                        );
                        self.subscribed.store(true, Ordering::SeqCst);
                        return true;
                    }
                    _ => tracing::warn!(%error, retry_in = ?backoff, "Pub/Sub does not answer yet"),
                },
                Err(_) => tracing::warn!(retry_in = ?backoff, "Pub/Sub did not answer within 10 s"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => return false,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Real Pub/Sub sends at most max_outstanding messages; the emulator
    /// sends all it has, and the crate does not extend the lease of what it
    /// buffers (each was redelivered about ten times in ./dev/chaos
    /// hygiene). So every message is taken, its handler keeps its lease, and
    /// the work waits for one of max_outstanding permits.
    async fn pulled(&self, message: Message, handler: Handler, shutdown: &CancellationToken) {
        let attempt = handler.delivery_attempt();
        match self.admit(&message, attempt, shutdown, true).await.1 {
            Reply::Ack => handler.ack(),
            Reply::Nack { .. } => handler.nack(),
        }
    }

    /// A Pub/Sub push request's message, handled like a pulled one. Push
    /// has no lease to lose, and its retries are spaced by Pub/Sub, so a
    /// transient failure is answered at once.
    pub async fn push(
        &self,
        message: Message,
        delivery_attempt: Option<i32>,
        shutdown: &CancellationToken,
    ) -> (Outcome, Reply) {
        let _tracked = self.tasks.token();
        self.admit(&message, delivery_attempt, shutdown, false)
            .await
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
        let source = match job::parse(&message.attributes, &message.data, &self.settings.routing) {
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
        let (outcome, reply) = Box::pin(self.handle(message, delivery_attempt, shutdown)).await;
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
        delivery_attempt: Option<i32>,
        shutdown: &CancellationToken,
    ) -> (Outcome, Reply) {
        let started = Instant::now();
        let attempt = delivery_attempt.map_or_else(
            || self.attempts.count(&message.message_id),
            |a| a.max(1) as u32,
        );
        let mut trace = Trace::default();
        let verdict = match self.process(message, &mut trace).await {
            Verdict::Transient { kind, reason, job }
                if attempt >= attempts_allowed(kind, self.settings.max_attempts)
                    && !shutdown.is_cancelled() =>
            {
                Verdict::Permanent {
                    kind: "gave_up",
                    reason: format!("{reason} (giving up after {attempt} attempts)"),
                    job: Some(job),
                }
            }
            verdict => verdict,
        };
        let id = message.message_id.as_str();
        let (outcome, reply, source, result, error_kind, text) = match verdict {
            Verdict::Done(outcome, detail, output) => {
                (outcome, Reply::Ack, None, output, None, detail)
            }
            Verdict::Permanent { kind, reason, job } => {
                match self
                    .record_failure(job.as_ref(), trace.generation, kind, &reason, id, attempt)
                    .await
                {
                    Ok(record) => {
                        let text = match &record {
                            Some(record) => format!("{reason} (record: {record})"),
                            None => reason,
                        };
                        (
                            Outcome::FailedPermanent,
                            Reply::Ack,
                            job.map(|j| j.source_uri()),
                            record,
                            Some(kind),
                            text,
                        )
                    }
                    Err(error) => (
                        Outcome::Nacked,
                        Reply::Nack {
                            hold: nack_delay(attempt),
                        },
                        None,
                        None,
                        Some(kind),
                        format!(
                            "{reason}; the failure record could not be written ({error}), so it will be retried"
                        ),
                    ),
                }
            }
            Verdict::Transient { kind, reason, job } => {
                let hold = nack_delay(attempt);
                (
                    Outcome::Nacked,
                    Reply::Nack { hold },
                    Some(job.source_uri()),
                    None,
                    Some(kind),
                    format!("{reason} (retry in {} s)", hold.as_secs()),
                )
            }
        };
        trace.log(id, attempt, outcome, error_kind, started.elapsed(), &text);
        if outcome != Outcome::Nacked {
            self.attempts.forget(id);
            self.publish_result(id, outcome, source, result, started.elapsed())
                .await;
        }
        (outcome, reply)
    }

    /// One event per finished message on `RESULT_TOPIC`, for chained systems.
    async fn publish_result(
        &self,
        message_id: &str,
        outcome: Outcome,
        source: Option<String>,
        result: Option<String>,
        elapsed: Duration,
    ) {
        let Some(publisher) = &self.results else {
            return;
        };
        let event = serde_json::json!({
            "message_id": message_id,
            "outcome": outcome.as_str(),
            "source": source,
            "result": result,
            "seconds": elapsed.as_secs_f64(),
        });
        let message = Message::new()
            .set_data(serde_json::to_vec(&event).expect("JSON of plain values"))
            .set_attributes([("outcome", outcome.as_str())]);
        if let Err(error) = publisher.publish(message).await {
            tracing::warn!(%error, message_id, "could not publish the result event");
        }
    }

    async fn process(&self, message: &Message, trace: &mut Trace) -> Verdict {
        let settings = &self.settings;
        let job = match job::parse(&message.attributes, &message.data, &settings.routing) {
            Ok(Parsed::Convert(job)) => job,
            Ok(Parsed::Ignore(reason)) => return Verdict::Done(Outcome::Ignored, reason, None),
            Err(rejected) => {
                trace.job = rejected.job.as_deref().cloned();
                let recordable = rejected.recordable();
                return Verdict::Permanent {
                    kind: rejected.kind,
                    reason: rejected.reason,
                    job: rejected.job.map(|j| *j).filter(|_| recordable),
                };
            }
        };
        trace.job = Some(job.clone());
        // A redelivered notification names its generation: skip it before
        // downloading anything.
        if let Some(generation) = job.generation
            && let Err(verdict) = self.claim_output(&job, generation).await
        {
            return verdict;
        }
        let dir = match self.pool.job_dir() {
            Ok(dir) => dir,
            Err(e) => {
                return transient(&job, "disk", format!("cannot create a job directory: {e}"));
            }
        };
        // Local names are ours; the object name never reaches the file system.
        let input = dir.path().join("input");
        let download = match self
            .store
            .download(
                &job.bucket,
                &job.object,
                job.generation,
                &input,
                settings.max_input_bytes,
            )
            .await
        {
            Ok(download) => download,
            Err(StorageError::NotFound(uri)) if job.generation.is_some() => {
                return Verdict::Done(
                    Outcome::Skipped,
                    format!("{uri} at that generation is gone: a stale event"),
                    None,
                );
            }
            Err(error @ StorageError::NotFound(_)) => return permanent(&job, "not_found", error),
            Err(error @ StorageError::Rejected { .. }) => {
                return permanent(&job, "rejected", error);
            }
            Err(error @ StorageError::TooLarge { .. }) => {
                return permanent(&job, "too_large", error);
            }
            Err(error @ (StorageError::Unavailable { .. } | StorageError::Changed(_))) => {
                return transient(&job, "storage", error);
            }
        };
        self.metrics.bytes_in.inc_by(download.bytes);
        trace.generation = Some(download.generation);
        let if_generation = match self.claim_output(&job, download.generation).await {
            Ok(if_generation) => if_generation,
            Err(verdict) => return verdict,
        };
        let pdf = dir.path().join("output.pdf");
        let conversion = match self
            .pool
            .convert(&input, Path::new(&job.object), &pdf)
            .await
        {
            Ok(conversion) => conversion,
            Err(error) if error.is_permanent() => return permanent(&job, error.kind(), error),
            Err(error) => {
                return transient(&job, error.kind(), format!("{}: {error}", job.source_uri()));
            }
        };
        trace.slot = Some(conversion.slot);
        trace.queue_wait = Some(conversion.queue_wait);
        self.metrics
            .conversion_seconds
            .observe(conversion.convert_time.as_secs_f64());
        self.metrics
            .queue_wait_seconds
            .observe(conversion.queue_wait.as_secs_f64());
        let body = match tokio::fs::read(&pdf).await {
            Ok(body) => bytes::Bytes::from(body),
            Err(e) => return transient(&job, "disk", format!("reading the PDF back: {e}")),
        };
        let metadata = [
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
            (storage::SOURCE_GENERATION, download.generation.to_string()),
        ];
        let out = &settings.routing.output_bucket;
        let written = self
            .store
            .upload(
                out,
                &job.output,
                body,
                "application/pdf",
                &metadata,
                Some(if_generation),
            )
            .await;
        if let Err(error) = written {
            return transient(&job, "storage", error);
        }
        self.metrics.bytes_out.inc_by(conversion.pdf_bytes);
        Verdict::Done(
            Outcome::Converted,
            format!(
                "{} -> gs://{out}/{} ({:.2} s converting, {:.2} s queued)",
                job.source_uri(),
                job.output,
                conversion.convert_time.as_secs_f64(),
                conversion.queue_wait.as_secs_f64()
            ),
            Some(format!("gs://{out}/{}", job.output)),
        )
    }

    /// What the output name allows this generation: the generation to write
    /// it over, or the verdict ending the message (a duplicate delivery, an
    /// event older than the PDF there, or another source's PDF).
    async fn claim_output(&self, job: &Job, generation: i64) -> Result<i64, Verdict> {
        let out = &self.settings.routing.output_bucket;
        let existing = self
            .store
            .provenance(out, &job.output)
            .await
            .map_err(|error| transient(job, "storage", error))?;
        match ownership::claim(&job.bucket, &job.object, generation, existing.as_ref()) {
            Claim::Write { if_generation } => Ok(if_generation),
            Claim::AlreadyDone => Err(Verdict::Done(
                Outcome::Skipped,
                format!(
                    "{} generation {generation} is already converted",
                    job.source_uri()
                ),
                Some(format!("gs://{out}/{}", job.output)),
            )),
            Claim::Taken { owner } => Err(permanent(
                job,
                "name_taken",
                format!(
                    "gs://{out}/{} was made from {owner}, and {} would replace it: give one of the two another name",
                    job.output,
                    job.source_uri()
                ),
            )),
        }
    }

    /// Writes `<prefix><object>.error.json` beside where the PDF would be.
    /// A message too malformed to name an object has nowhere to write one:
    /// its log line is the record. The record carries the generation Cloud
    /// Storage served (`confirmed`), never one a message merely claimed.
    async fn record_failure(
        &self,
        job: Option<&Job>,
        confirmed: Option<i64>,
        kind: &str,
        reason: &str,
        message_id: &str,
        attempts: u32,
    ) -> Result<Option<String>, StorageError> {
        let Some(job) = job else {
            return Ok(None);
        };
        let record = serde_json::json!({
            "source": job.source_uri(),
            "generation": confirmed,
            "kind": kind,
            "reason": reason,
            "message_id": message_id,
            "attempts": attempts,
            "time": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        });
        let out = &self.settings.routing.output_bucket;
        let body =
            bytes::Bytes::from(serde_json::to_vec_pretty(&record).expect("JSON of plain values"));
        let mut metadata = vec![
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
        ];
        // Lets `docx2pdf submit` tell this record from an older one.
        if let Some(generation) = confirmed {
            metadata.push((storage::SOURCE_GENERATION, generation.to_string()));
        }
        let uploaded = self
            .store
            .upload(
                out,
                &job.failure_record,
                body,
                "application/json",
                &metadata,
                None,
            )
            .await;
        match uploaded {
            Ok(_) => Ok(Some(format!("gs://{out}/{}", job.failure_record))),
            // Retrying cannot help a record that storage refuses outright.
            Err(error @ StorageError::Rejected { .. }) => {
                tracing::error!(message_id, %error, "the failure record was refused: this log line is the record");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

/// What one message's log line says about it, filled in as work goes.
#[derive(Default)]
struct Trace {
    job: Option<Job>,
    /// The generation Cloud Storage served, once the download began.
    generation: Option<i64>,
    slot: Option<usize>,
    queue_wait: Option<Duration>,
}

impl Trace {
    /// One line per message, with the fields Cloud Logging queries filter on.
    fn log(
        &self,
        message_id: &str,
        attempt: u32,
        outcome: Outcome,
        error_kind: Option<&str>,
        elapsed: Duration,
        text: &str,
    ) {
        let job = self.job.as_ref();
        let generation = self.generation.or(job.and_then(|j| j.generation));
        macro_rules! line {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    message_id,
                    delivery_attempt = attempt,
                    bucket = job.map(|j| j.bucket.as_str()),
                    object = job.map(|j| j.object.as_str()),
                    generation,
                    slot = self.slot,
                    queue_wait_ms = self.queue_wait.map(|d| d.as_millis() as u64),
                    duration_ms = elapsed.as_millis() as u64,
                    outcome = outcome.as_str(),
                    error_kind,
                    "{text}"
                )
            };
        }
        match outcome {
            Outcome::Converted | Outcome::Skipped | Outcome::Ignored => line!(tracing::Level::INFO),
            Outcome::FailedPermanent | Outcome::Nacked => line!(tracing::Level::WARN),
        }
    }
}

/// 1, 2, 4, ... seconds, at most 30.
/// A document that hung or crashed LibreOffice gets one more try, in the
/// fresh process that replaced the one it took down, whatever `max_attempts`
/// says: each try costs a whole deadline or a process, and a hostile
/// document would otherwise be paid for `max_attempts` times.
const POISON_ATTEMPTS: u32 = 2;

/// Deliveries after which a transient failure of this kind becomes permanent.
fn attempts_allowed(kind: &str, max_attempts: u32) -> u32 {
    match kind {
        "timeout" | "crashed" => max_attempts.min(POISON_ATTEMPTS),
        _ => max_attempts,
    }
}

fn nack_delay(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30))
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
mod tests {
    use super::attempts_allowed;

    #[test]
    fn a_hang_or_a_crash_gets_one_more_try_other_transients_get_max_attempts() {
        assert_eq!(attempts_allowed("timeout", 5), 2);
        assert_eq!(attempts_allowed("crashed", 5), 2);
        assert_eq!(attempts_allowed("crashed", 1), 1);
        assert_eq!(attempts_allowed("storage", 5), 5);
        assert_eq!(attempts_allowed("disk", 5), 5);
    }
}
