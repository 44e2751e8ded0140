//! The pull loop: messages in, PDFs out, and the one place that decides
//! between ack and nack.
//!
//! Flow control holds at most two messages per LibreOffice process (one
//! converting, one downloading), so a busy instance never hoards work
//! another instance could take. A message is acked only once its PDF (or its
//! failure record) is stored. Permanent failures are acked with a failure
//! record; transient ones are nacked so the subscription's retry policy and
//! dead-letter topic apply, until `max_attempts` makes them permanent.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::ShutdownBehavior;
use google_cloud_pubsub::subscriber::handler::Handler;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job::{self, Job, Parsed, Routing};
use crate::office::Pool;
use crate::storage::{self, StorageError, Store};
use crate::telemetry::metrics::{Metrics, Outcome};

#[derive(Clone, Debug)]
pub struct Settings {
    pub subscription: String,
    pub routing: Routing,
    pub max_input_bytes: u64,
    pub max_attempts: u32,
    pub shutdown_grace: Duration,
    /// How long the server waits to hear from us before redelivering a
    /// message: the lease we keep extending while a job runs.
    pub ack_deadline: Duration,
    /// Messages leased at once.
    pub max_outstanding: usize,
}

pub struct Worker {
    pub pool: Arc<Pool>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Delivery counts for subscriptions without a dead-letter policy, where
    /// Pub/Sub does not count attempts for us.
    attempts: Mutex<HashMap<String, u32>>,
    /// True once the subscription answered and messages can flow.
    pub subscribed: AtomicBool,
}

/// How one message ended, before it is acked or nacked.
enum Verdict {
    Done(Outcome, String),
    Permanent {
        kind: &'static str,
        reason: String,
        job: Option<Job>,
    },
    /// Always about a parsed job: a message that cannot be parsed is permanent.
    Transient {
        reason: String,
        job: Job,
    },
}

impl Worker {
    pub fn new(pool: Arc<Pool>, store: Store, metrics: Arc<Metrics>, settings: Settings) -> Worker {
        Worker {
            pool,
            store,
            metrics,
            settings,
            attempts: Mutex::new(HashMap::new()),
            subscribed: AtomicBool::new(false),
        }
    }

    /// Pulls until `shutdown` fires, then drains: in-flight jobs get
    /// `shutdown_grace` to finish, the rest are nacked, and queued acks are
    /// flushed before returning.
    pub async fn run(
        self: Arc<Self>,
        subscriber: Subscriber,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut stream = subscriber
            .subscribe(&self.settings.subscription)
            .set_max_outstanding_messages(self.settings.max_outstanding as i64)
            .set_max_lease_extension(self.settings.ack_deadline)
            .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
            .build();
        let stream_shutdown = stream.shutdown_token();
        let tasks = TaskTracker::new();
        self.subscribed.store(true, Ordering::SeqCst);
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
                    tasks.spawn(async move { worker.handle(message, handler, &shutdown).await });
                }
                Some(Err(error)) => {
                    tracing::warn!(error = %error, "the subscription stream failed; it reconnects by itself");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                None => break,
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
        stream_shutdown.shutdown().await;
        Ok(())
    }

    async fn handle(&self, message: Message, handler: Handler, shutdown: &CancellationToken) {
        self.metrics.lease(1);
        let started = Instant::now();
        let attempt = handler.delivery_attempt().map_or_else(
            || self.count_attempt(&message.message_id),
            |a| a.max(1) as u32,
        );
        let verdict = match self.process(&message).await {
            Verdict::Transient { reason, job }
                if attempt >= self.settings.max_attempts && !shutdown.is_cancelled() =>
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
        let elapsed = started.elapsed().as_secs_f64();
        let outcome = match verdict {
            Verdict::Done(outcome, detail) => {
                handler.ack();
                tracing::info!(
                    message_id = id,
                    outcome = outcome.as_str(),
                    seconds = elapsed,
                    "{detail}"
                );
                outcome
            }
            Verdict::Permanent { kind, reason, job } => match self
                .record_failure(job.as_ref(), kind, &reason, id, attempt)
                .await
            {
                Ok(record) => {
                    handler.ack();
                    tracing::warn!(
                        message_id = id,
                        outcome = "failed_permanent",
                        kind,
                        record,
                        attempt,
                        "{reason}"
                    );
                    Outcome::FailedPermanent
                }
                Err(error) => {
                    handler.nack();
                    tracing::warn!(
                        message_id = id,
                        outcome = "nacked",
                        kind,
                        "{reason}; the failure record could not be written ({error}), so it will be retried"
                    );
                    Outcome::Nacked
                }
            },
            Verdict::Transient { reason, .. } => {
                handler.nack();
                tracing::warn!(message_id = id, outcome = "nacked", attempt, "{reason}");
                Outcome::Nacked
            }
        };
        if outcome != Outcome::Nacked {
            self.attempts.lock().expect("attempts lock").remove(id);
        }
        self.metrics.count(outcome);
        self.metrics.lease(-1);
    }

    fn count_attempt(&self, message_id: &str) -> u32 {
        let mut attempts = self.attempts.lock().expect("attempts lock");
        let count = attempts.entry(message_id.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    async fn process(&self, message: &Message) -> Verdict {
        let settings = &self.settings;
        let job = match job::parse(&message.attributes, &message.data, &settings.routing) {
            Ok(Parsed::Convert(job)) => job,
            Ok(Parsed::Ignore(reason)) => return Verdict::Done(Outcome::Ignored, reason),
            Err(rejected) => {
                return Verdict::Permanent {
                    kind: rejected.kind,
                    reason: rejected.reason,
                    job: rejected.job.map(|j| *j),
                };
            }
        };
        if let Some(generation) = job.generation
            && let Some(verdict) = self.already_done(&job, generation).await
        {
            return verdict;
        }
        let dir = match tempfile::Builder::new().prefix("docx2pdf-job-").tempdir() {
            Ok(dir) => dir,
            Err(e) => return transient(&job, format!("cannot create a job directory: {e}")),
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
                );
            }
            Err(error @ StorageError::NotFound(_)) => return permanent(&job, "not_found", error),
            Err(error @ StorageError::TooLarge { .. }) => {
                return permanent(&job, "too_large", error);
            }
            Err(error @ StorageError::Unavailable { .. }) => {
                return transient(&job, error);
            }
        };
        self.metrics.bytes_in.inc_by(download.bytes);
        if job.generation.is_none()
            && let Some(verdict) = self.already_done(&job, download.generation).await
        {
            return verdict;
        }
        let pdf = dir.path().join("output.pdf");
        let conversion = match self
            .pool
            .convert(&input, Path::new(&job.object), &pdf)
            .await
        {
            Ok(conversion) => conversion,
            Err(error) if error.is_permanent() => return permanent(&job, error.kind(), error),
            Err(error) => return transient(&job, format!("{}: {error}", job.source_uri())),
        };
        self.metrics
            .conversion_seconds
            .observe(conversion.convert_time.as_secs_f64());
        self.metrics
            .queue_wait_seconds
            .observe(conversion.queue_wait.as_secs_f64());
        let body = match tokio::fs::read(&pdf).await {
            Ok(body) => bytes::Bytes::from(body),
            Err(e) => return transient(&job, format!("reading the PDF back: {e}")),
        };
        let metadata = [
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
            (storage::SOURCE_GENERATION, download.generation.to_string()),
        ];
        let out = &settings.routing.output_bucket;
        if let Err(error) = self
            .store
            .upload(out, &job.output, body, "application/pdf", &metadata)
            .await
        {
            return transient(&job, error);
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
        )
    }

    /// A duplicate delivery, or an event older than the PDF we already made.
    async fn already_done(&self, job: &Job, generation: i64) -> Option<Verdict> {
        match self
            .store
            .source_generation_of(&self.settings.routing.output_bucket, &job.output)
            .await
        {
            Ok(Some(done)) if done >= generation => Some(Verdict::Done(
                Outcome::Skipped,
                format!(
                    "{} generation {generation} is already converted",
                    job.source_uri()
                ),
            )),
            Ok(_) => None,
            Err(error) => Some(transient(job, error)),
        }
    }

    /// Writes `<prefix><object>.error.json` beside where the PDF would be.
    /// A message too malformed to name an object has nowhere to write one:
    /// its log line is the record.
    async fn record_failure(
        &self,
        job: Option<&Job>,
        kind: &str,
        reason: &str,
        message_id: &str,
        attempts: u32,
    ) -> Result<String, StorageError> {
        let Some(job) = job else {
            return Ok("none (the message names no object)".into());
        };
        let record = serde_json::json!({
            "source": job.source_uri(),
            "generation": job.generation,
            "kind": kind,
            "reason": reason,
            "message_id": message_id,
            "attempts": attempts,
            "time": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        });
        let out = &self.settings.routing.output_bucket;
        let body =
            bytes::Bytes::from(serde_json::to_vec_pretty(&record).expect("JSON of plain values"));
        let metadata = [
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
        ];
        self.store
            .upload(
                out,
                &job.failure_record,
                body,
                "application/json",
                &metadata,
            )
            .await?;
        Ok(format!("gs://{out}/{}", job.failure_record))
    }
}

fn transient(job: &Job, reason: impl std::fmt::Display) -> Verdict {
    Verdict::Transient {
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
