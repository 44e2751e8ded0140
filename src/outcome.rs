//! The words every layer shares about a message's end: its [`Outcome`]
//! (logs, metrics, push replies, result events, `request`) and the
//! [`Reply`] Pub/Sub gets. A leaf: it imports nothing of the crate.

use std::time::Duration;

/// The HTTP header a push reply names its outcome in (converted, skipped,
/// ignored, failed_permanent or nacked), read by `request`.
pub const OUTCOME_HEADER: &str = "x-docx2pdf-outcome";

/// How a message ended, as logs, metrics, push replies and `request` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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

/// Why a message failed, as failure records, result events, log lines and
/// the ack decision name it. Written in records as its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    // The message.
    MalformedMessage,
    BucketNotAllowed,
    NameTooLong,
    BadOptions,
    // The document, as Cloud Storage holds it.
    NotFound,
    Rejected,
    TooLarge,
    /// Its PDF's name holds another source's PDF.
    NameTaken,
    // The document, as inspection and LibreOffice found it.
    Empty,
    Corrupt,
    Encrypted,
    Unsupported,
    Bomb,
    ResourceLimit,
    /// Its fonts, as the document's `font-policy` judges them.
    Fonts,
    // Transient: the machine, LibreOffice, or Cloud Storage.
    Timeout,
    Crashed,
    Internal,
    Storage,
    Disk,
    /// Transient until its attempts ran out.
    GaveUp,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedMessage => "malformed_message",
            ErrorKind::BucketNotAllowed => "bucket_not_allowed",
            ErrorKind::NameTooLong => "name_too_long",
            ErrorKind::BadOptions => "bad_options",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Rejected => "rejected",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NameTaken => "name_taken",
            ErrorKind::Empty => "empty",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Encrypted => "encrypted",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Bomb => "bomb",
            ErrorKind::ResourceLimit => "resource_limit",
            ErrorKind::Fonts => "fonts",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Crashed => "crashed",
            ErrorKind::Internal => "internal",
            ErrorKind::Storage => "storage",
            ErrorKind::Disk => "disk",
            ErrorKind::GaveUp => "gave_up",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind and its name are one: `error.kind() == "corrupt"` reads as it
/// says.
impl PartialEq<&str> for ErrorKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// `<name>.error.json`, written beside where a document's PDF would be
/// (by the worker) and read back (by `submit`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailureRecord {
    /// `gs://bucket/name` of the document.
    pub source: String,
    /// The generation Cloud Storage served, never one a message merely
    /// claimed; None if it served none.
    pub generation: Option<i64>,
    pub kind: ErrorKind,
    pub reason: String,
    pub message_id: String,
    pub attempts: u32,
    /// RFC 3339, to the second.
    pub time: String,
    /// What a font policy refused (kind `fonts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fonts: Option<RefusedFonts>,
}

/// What a font policy refused, as its failure record lists it: so the
/// user can bring the fonts and upload again.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefusedFonts {
    /// Each font the document asks for, and what its PDF would have used.
    pub fonts: Vec<FontChoice>,
    /// Characters no installed font can draw, counted by script.
    pub missing_glyphs: std::collections::BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FontChoice {
    pub requested: String,
    pub would_use: String,
    /// `would_use` is the font asked for, or one of its metrics.
    pub metric_compatible: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name a kind is logged and counted under is the one records
    /// carry.
    #[test]
    fn each_kind_is_written_as_its_name() {
        let kinds = [
            ErrorKind::MalformedMessage,
            ErrorKind::ResourceLimit,
            ErrorKind::GaveUp,
            ErrorKind::NotFound,
        ];
        for kind in kinds {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        }
    }

    /// Result events carry the outcome by the name its metric label has.
    #[test]
    fn each_outcome_is_written_as_its_name() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
        }
    }
}
