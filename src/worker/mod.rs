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
//!
//! Here: the worker, admission (object lock, then a permit) and `handle`,
//! the one place that turns a verdict into ack or nack. Beside it, a file
//! per mechanism: `intake` (pull and push), `pipeline` (one message's work),
//! `ownership` (whose PDF a name holds), `report` (records, events, the log
//! line), `attempts`, `object_locks`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job::{self, Job, Parsed, Rejected, Routing};
use crate::office::Pool;
use crate::storage::Store;
use crate::telemetry::metrics::{Metrics, Outcome};

mod attempts;
mod intake;
mod object_locks;
mod ownership;
mod pipeline;
mod report;
use attempts::Attempts;
use object_locks::ObjectLocks;
use report::Trace;

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
        let verdict = match self.process(parsed, &mut trace).await {
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
}

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

/// 1, 2, 4, ... seconds, at most 30.
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
