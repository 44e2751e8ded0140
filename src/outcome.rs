//! The words every layer shares about a message's end: its [`Outcome`]
//! (logs, metrics, push replies, result events, `request`) and the
//! [`Reply`] Pub/Sub gets. A leaf: it imports nothing of the crate.

use std::time::Duration;

/// The HTTP header a push reply names its outcome in (converted, skipped,
/// ignored, failed_permanent or nacked), read by `request`.
pub const OUTCOME_HEADER: &str = "x-docx2pdf-outcome";

/// How a message ended, as logs, metrics, push replies and `request` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Converted,
    /// The PDF of the same bytes and options, made before, copied.
    Cached,
    /// Already converted (duplicate delivery) or a stale event.
    Skipped,
    /// Not a conversion request (another event type, our own output).
    Ignored,
    FailedPermanent,
    Nacked,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Converted,
        Outcome::Cached,
        Outcome::Skipped,
        Outcome::Ignored,
        Outcome::FailedPermanent,
        Outcome::Nacked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Converted => "converted",
            Outcome::Cached => "cached",
            Outcome::Skipped => "skipped",
            Outcome::Ignored => "ignored",
            Outcome::FailedPermanent => "failed_permanent",
            Outcome::Nacked => "nacked",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Outcome, String> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not an outcome"))
    }
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
