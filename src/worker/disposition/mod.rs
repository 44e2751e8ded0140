//! The one place that decides what Pub/Sub is told about a message: a pure
//! function of how its work ended and of its delivery (attempt, limits,
//! whether the worker is stopping), then of whether its failure record
//! could be written. No I/O: the ack policy of docs/design.md, row by row, is the
//! test table below.
//!
//! | how the work ended | reply | record |
//! |---|---|---|
//! | converted, cached, skipped (duplicate, stale event), ignored | ack | none |
//! | permanent failure of a named object | ack once recorded, else nack | yes |
//! | permanent failure of a message naming nothing we may write beside | ack | none (the log line is the record) |
//! | transient failure | nack, held 1, 2, 4 ... 30 s | none |
//! | transient at its last attempt (timeout or crash: the second) | ack as `gave_up` once recorded | yes |
//! | transient while the worker stops | nack: the next instance tries | none |

use std::time::Duration;

use crate::job::Job;
use crate::outcome::{ErrorKind, Outcome, Reply};

/// How one message's work ended, before anything is decided.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Finished; `detail` says what happened, `output` is the PDF's URI if one was made.
    Done {
        outcome: Outcome,
        detail: String,
        output: Option<String>,
    },
    /// `job`: where a failure record may be written, if anywhere.
    Permanent {
        kind: ErrorKind,
        reason: String,
        job: Option<Job>,
    },
    /// Always about a parsed job: a message that cannot be parsed is permanent.
    Transient {
        kind: ErrorKind,
        reason: String,
        job: Job,
    },
}

/// What is known of the delivery when its work ends.
#[derive(Clone, Copy, Debug)]
pub(super) struct Delivery {
    /// 1 for the first delivery.
    pub(super) attempt: u32,
    /// `MAX_ATTEMPTS`: deliveries after which a transient failure is permanent.
    pub(super) max_attempts: u32,
    /// The worker is draining: a failure now says nothing of the document.
    pub(super) stopping: bool,
}

/// What to do about a message: the first of two decisions.
#[derive(Debug, PartialEq)]
pub(super) enum Disposition {
    /// Ack.
    Finished {
        outcome: Outcome,
        detail: String,
        output: Option<String>,
    },
    /// Write a failure record beside `job`'s PDF (none if `job` is None),
    /// then ack; if it cannot be written, nack held `hold`.
    Record {
        kind: ErrorKind,
        reason: String,
        job: Option<Job>,
        hold: Duration,
    },
    /// Nack, held `hold`.
    Retry {
        kind: ErrorKind,
        reason: String,
        job: Job,
        hold: Duration,
    },
}

/// A document that hung or crashed LibreOffice gets one more try, in the
/// fresh process that replaced the one it took down, whatever `max_attempts`
/// says: each try costs a whole deadline or a process, and a hostile
/// document would otherwise be paid for `max_attempts` times.
const POISON_ATTEMPTS: u32 = 2;

/// Deliveries after which a transient failure of this kind becomes permanent.
fn attempts_allowed(kind: ErrorKind, max_attempts: u32) -> u32 {
    match kind {
        ErrorKind::Timeout | ErrorKind::Crashed => max_attempts.min(POISON_ATTEMPTS),
        _ => max_attempts,
    }
}

/// 1, 2, 4, ... seconds, at most 30.
pub(super) fn nack_delay(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

/// The first decision: from how the work ended and the delivery.
pub(super) fn decide(verdict: Verdict, delivery: Delivery) -> Disposition {
    let hold = nack_delay(delivery.attempt);
    match verdict {
        Verdict::Done {
            outcome,
            detail,
            output,
        } => Disposition::Finished {
            outcome,
            detail,
            output,
        },
        Verdict::Permanent { kind, reason, job } => Disposition::Record {
            kind,
            reason,
            job,
            hold,
        },
        Verdict::Transient { kind, reason, job }
            if delivery.attempt >= attempts_allowed(kind, delivery.max_attempts)
                && !delivery.stopping =>
        {
            Disposition::Record {
                kind: ErrorKind::GaveUp,
                reason: format!("{reason} (giving up after {} attempts)", delivery.attempt),
                job: Some(job),
                hold,
            }
        }
        Verdict::Transient { kind, reason, job } => Disposition::Retry {
            kind,
            reason,
            job,
            hold,
        },
    }
}

/// How a message ends: what Pub/Sub, the log line, the metrics and the
/// result event are told.
#[derive(Debug, PartialEq)]
pub(super) struct Settled {
    pub(super) outcome: Outcome,
    pub(super) reply: Reply,
    /// The failure's kind, for logs and metrics.
    pub(super) error_kind: Option<ErrorKind>,
    /// The log line's message.
    pub(super) text: String,
    /// The document's URI, for the result event.
    pub(super) source: Option<String>,
    /// The PDF's or the failure record's URI, for the result event.
    pub(super) result: Option<String>,
}

/// The second decision: `record` is how writing the failure record went
/// (its URI, or None where there was nothing to write or storage refused it
/// for good), for a [`Disposition::Record`].
pub(super) fn settle(disposition: Disposition, record: Result<Option<String>, String>) -> Settled {
    match disposition {
        Disposition::Finished {
            outcome,
            detail,
            output,
        } => Settled {
            outcome,
            reply: Reply::Ack,
            error_kind: None,
            text: detail,
            source: None,
            result: output,
        },
        Disposition::Record {
            kind,
            reason,
            job,
            hold,
        } => match record {
            Ok(record) => Settled {
                outcome: Outcome::FailedPermanent,
                reply: Reply::Ack,
                error_kind: Some(kind),
                text: match &record {
                    Some(uri) => format!("{reason} (record: {uri})"),
                    None => reason,
                },
                source: job.map(|j| j.source_uri()),
                result: record,
            },
            Err(error) => Settled {
                outcome: Outcome::Nacked,
                reply: Reply::Nack { hold },
                error_kind: Some(kind),
                text: format!(
                    "{reason}; the failure record could not be written ({error}), so it will be retried"
                ),
                source: None,
                result: None,
            },
        },
        Disposition::Retry {
            kind,
            reason,
            job,
            hold,
        } => Settled {
            outcome: Outcome::Nacked,
            reply: Reply::Nack { hold },
            error_kind: Some(kind),
            text: format!("{reason} (retry in {} s)", hold.as_secs()),
            source: Some(job.source_uri()),
            result: None,
        },
    }
}

#[cfg(test)]
mod tests;
