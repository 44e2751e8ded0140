//! What is said about each finished message: the failure record beside
//! where its PDF would be, the result event on `RESULT_TOPIC`, and its one
//! log line.

use std::time::Duration;

use std::sync::Arc;

use super::disposition::Settled;
use super::edges::Announce;
use crate::job::Job;
use crate::office::Fidelity;
use crate::options::Canonical;
use crate::outcome::{ErrorKind, FailureRecord, Outcome};
use crate::storage::{self, ObjectRef, Objects, StorageError};

/// Where what is said of a message goes: records beside the PDFs in the
/// output bucket, events on the result topic (if there is one).
pub(super) struct Reporter<O, A> {
    objects: Arc<O>,
    results: Option<A>,
    output_bucket: String,
}

impl<O: Objects, A: Announce> Reporter<O, A> {
    pub(super) fn new(objects: Arc<O>, results: Option<A>, output_bucket: String) -> Self {
        Reporter {
            objects,
            results,
            output_bucket,
        }
    }

    /// One event per finished message on `RESULT_TOPIC`, for chained systems.
    pub(super) async fn publish_result(
        &self,
        message_id: &str,
        settled: &Settled,
        trace: &Trace,
        elapsed: Duration,
    ) {
        let Some(results) = &self.results else {
            return;
        };
        let outcome = settled.outcome;
        let source = (settled.source.clone()).or_else(|| trace.job.as_ref().map(Job::source_uri));
        let event = ResultEvent {
            message_id,
            outcome,
            source,
            result: settled.result.as_deref(),
            options: trace.options.as_ref(),
            fidelity: trace.fidelity.as_ref(),
            warnings: &trace.warnings,
            preview: trace.preview.as_deref(),
            seconds: elapsed.as_secs_f64(),
        };
        let event = serde_json::to_vec(&event).expect("JSON of plain values");
        if let Err(error) = results.announce(outcome.as_str(), event).await {
            tracing::warn!(%error, message_id, "could not publish the result event");
        }
    }

    /// Writes `<prefix><object>.error.json` beside where the PDF would be.
    /// A message too malformed to name an object has nowhere to write one:
    /// its log line is the record. The record carries the generation Cloud
    /// Storage served (the trace's), never one a message merely claimed,
    /// and for a font policy's refusal, the fonts.
    pub(super) async fn record_failure(
        &self,
        job: Option<&Job>,
        trace: &Trace,
        kind: ErrorKind,
        reason: &str,
        message_id: &str,
        attempts: u32,
    ) -> Result<Option<String>, StorageError> {
        let Some(job) = job else {
            return Ok(None);
        };
        let confirmed = trace.generation;
        let fonts = (trace.fidelity.as_ref()).filter(|_| kind == ErrorKind::Fonts);
        let record = FailureRecord {
            source: job.source_uri(),
            generation: confirmed,
            kind,
            reason: reason.into(),
            message_id: message_id.into(),
            attempts,
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            fonts: fonts.map(Fidelity::refused_fonts),
        };
        let out = &self.output_bucket;
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
        let Some(if_generation) = self.record_claim(job, message_id).await? else {
            return Ok(None);
        };
        let uploaded = self
            .objects
            .upload(
                out,
                &job.failure_record,
                body,
                "application/json",
                &metadata,
                Some(if_generation),
            )
            .await;
        match uploaded {
            Ok(_) => Ok(Some(ObjectRef::new(out, &job.failure_record).to_string())),
            // Retrying cannot help a record that storage refuses outright.
            Err(error @ StorageError::Rejected { .. }) => {
                tracing::error!(message_id, %error, "the failure record was refused: this log line is the record");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The generation the job's failure record may be written over (0:
    /// nothing there), or None when its name holds something that is not
    /// this document's: an object someone wrote, another source's record.
    /// Those are never replaced; the log line is the record.
    async fn record_claim(&self, job: &Job, message_id: &str) -> Result<Option<i64>, StorageError> {
        let out = &self.output_bucket;
        let existing = self
            .objects
            .describe(out, &job.failure_record, None)
            .await?;
        let Some(existing) = existing else {
            return Ok(Some(0));
        };
        if existing.provenance().is_from(&job.bucket, &job.object) {
            return Ok(Some(existing.generation));
        }
        tracing::error!(
            message_id,
            record = %ObjectRef::new(out, &job.failure_record),
            "the failure record's name holds an object that is not this document's: this log line is the record"
        );
        Ok(None)
    }
}

/// The event on `RESULT_TOPIC` for a finished message.
#[derive(serde::Serialize)]
struct ResultEvent<'a> {
    message_id: &'a str,
    outcome: Outcome,
    /// `gs://bucket/name` of the document, when the message named one.
    source: Option<String>,
    /// The PDF's or the failure record's URI.
    result: Option<&'a str>,
    options: Option<&'a Canonical>,
    fidelity: Option<&'a Fidelity>,
    /// What `font-policy=warn` warns of.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    /// The preview's URI, when one was asked for and stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<&'a str>,
    seconds: f64,
}

/// What one message's log line says about it, filled in as work goes.
#[derive(Default)]
pub(super) struct Trace {
    pub(super) job: Option<Job>,
    /// The generation Cloud Storage served, once the download began.
    pub(super) generation: Option<i64>,
    pub(super) slot: Option<usize>,
    pub(super) queue_wait: Option<Duration>,
    /// The PDF options settled for it, once its metadata was read.
    pub(super) options: Option<Canonical>,
    /// What the conversion says of its own faithfulness.
    pub(super) fidelity: Option<Fidelity>,
    /// What `font-policy=warn` warns of: the log line is a warning too.
    pub(super) warnings: Vec<String>,
    /// The preview's URI, once stored.
    pub(super) preview: Option<String>,
}

impl Trace {
    /// One line per message, with the fields Cloud Logging queries filter on.
    pub(super) fn log(&self, message_id: &str, attempt: u32, settled: &Settled, elapsed: Duration) {
        let (outcome, error_kind, text) = (settled.outcome, settled.error_kind, &settled.text);
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
                    pdf_options = self.options.as_ref().map(Canonical::as_str),
                    pages = self.fidelity.as_ref().map(|f| f.pages),
                    layout_risk = self.fidelity.as_ref().map(|f| f.layout_risk.as_str()),
                    fonts_substituted = self.fidelity.as_ref().map(Fidelity::substituted),
                    missing_glyphs = self.fidelity.as_ref().map(Fidelity::missing),
                    warnings = (!self.warnings.is_empty()).then(|| self.warnings.join("; ")),
                    duration_ms = elapsed.as_millis() as u64,
                    outcome = outcome.as_str(),
                    error_kind = error_kind.map(ErrorKind::as_str),
                    "{text}"
                )
            };
        }
        match outcome {
            Outcome::FailedPermanent | Outcome::Nacked => line!(tracing::Level::WARN),
            _ if !self.warnings.is_empty() => line!(tracing::Level::WARN),
            Outcome::Converted | Outcome::Cached | Outcome::Skipped | Outcome::Ignored => {
                line!(tracing::Level::INFO)
            }
        }
    }
}
