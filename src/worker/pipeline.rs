//! One message's work, from the job admission parsed: claim its output
//! name, download, convert, upload. Its verdict goes to the one place that
//! decides ack or nack (`disposition`).

use std::path::Path;

use super::ownership::{self, Claim};
use super::report::Trace;
use super::{Announce, Converter, Objects, Outcome, Verdict, Worker, done, permanent, transient};
use crate::gcloud::ObjectRef;
use crate::job::{Job, Parsed, Rejected};
use crate::storage::{self, StorageError};

impl<O: Objects, C: Converter, A: Announce> Worker<O, C, A> {
    /// `parsed`: the message, as admission read it.
    pub(super) async fn process(
        &self,
        parsed: Result<Parsed, Rejected>,
        trace: &mut Trace,
    ) -> Verdict {
        let job = match parsed {
            Ok(Parsed::Convert(job)) => job,
            Ok(Parsed::Ignore(reason)) => return done(Outcome::Ignored, reason, None),
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
        match self.work(&job, trace).await {
            Ok(verdict) | Err(verdict) => verdict,
        }
    }

    /// Claims the output name, downloads, converts and uploads; `Err` is a
    /// verdict that ended the work early.
    async fn work(&self, job: &Job, trace: &mut Trace) -> Result<Verdict, Verdict> {
        // A notification names its generation: claim the output name (and
        // skip a redelivery) before downloading anything. The download is of
        // that generation, so the claim holds for it; the upload's
        // precondition catches anything written meanwhile.
        let early_claim = match job.generation {
            Some(generation) => Some(self.claim_output(job, generation).await?),
            None => None,
        };
        let dir =
            self.edges.workspace.job_dir().map_err(|e| {
                transient(job, "disk", format!("cannot create a job directory: {e}"))
            })?;
        // Local names are ours; the object name never reaches the file system.
        let input = dir.path().join("input");
        let generation = self.fetch(job, &input).await?;
        trace.generation = Some(generation);
        let if_generation = match early_claim {
            Some(if_generation) => if_generation,
            None => self.claim_output(job, generation).await?,
        };
        let pdf = dir.path().join("output.pdf");
        let conversion = self
            .edges
            .converter
            .convert(&input, Path::new(&job.object), &pdf)
            .await
            .map_err(|error| {
                if error.is_permanent() {
                    permanent(job, error.kind(), &error)
                } else {
                    transient(job, error.kind(), format!("{}: {error}", job.source()))
                }
            })?;
        trace.slot = Some(conversion.slot);
        trace.queue_wait = Some(conversion.queue_wait);
        self.metrics
            .conversion_seconds
            .observe(conversion.convert_time.as_secs_f64());
        self.metrics
            .queue_wait_seconds
            .observe(conversion.queue_wait.as_secs_f64());
        let made = self.store_pdf(job, &pdf, generation, if_generation).await?;
        self.metrics.bytes_out.inc_by(conversion.pdf_bytes);
        Ok(done(
            Outcome::Converted,
            format!(
                "{} -> {made} ({:.2} s converting, {:.2} s queued)",
                job.source(),
                conversion.convert_time.as_secs_f64(),
                conversion.queue_wait.as_secs_f64()
            ),
            Some(made),
        ))
    }

    /// Downloads the job's document to `input`; the generation read. A
    /// stale event, or an object missing, refused or too large, ends the
    /// message.
    async fn fetch(&self, job: &Job, input: &Path) -> Result<i64, Verdict> {
        let limit = self.settings.max_input_bytes;
        let download = self
            .edges
            .objects
            .download(&job.bucket, &job.object, job.generation, input, limit)
            .await
            .map_err(|error| match error {
                StorageError::NotFound(uri) if job.generation.is_some() => done(
                    Outcome::Skipped,
                    format!("{uri} at that generation is gone: a stale event"),
                    None,
                ),
                StorageError::NotFound(_) => permanent(job, "not_found", error),
                StorageError::Rejected { .. } => permanent(job, "rejected", error),
                StorageError::TooLarge { .. } => permanent(job, "too_large", error),
                StorageError::Unavailable { .. } | StorageError::Changed(_) => {
                    transient(job, "storage", error)
                }
            })?;
        self.metrics.bytes_in.inc_by(download.bytes);
        Ok(download.generation)
    }

    /// Uploads the PDF at `pdf`, made from `generation` of the job's
    /// document, if its name still holds `if_generation`; its URI.
    async fn store_pdf(
        &self,
        job: &Job,
        pdf: &Path,
        generation: i64,
        if_generation: i64,
    ) -> Result<String, Verdict> {
        let body = tokio::fs::read(pdf)
            .await
            .map_err(|e| transient(job, "disk", format!("reading the PDF back: {e}")))?;
        let metadata = [
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
            (storage::SOURCE_GENERATION, generation.to_string()),
        ];
        let out = &self.settings.routing.output_bucket;
        self.edges
            .objects
            .upload(
                out,
                &job.output,
                body.into(),
                "application/pdf",
                &metadata,
                Some(if_generation),
            )
            .await
            .map_err(|error| transient(job, "storage", error))?;
        Ok(ObjectRef::new(out, &job.output).to_string())
    }

    /// What the output name allows this generation: the generation to write
    /// it over, or the verdict ending the message (a duplicate delivery, an
    /// event older than the PDF there, or another source's PDF).
    pub(super) async fn claim_output(&self, job: &Job, generation: i64) -> Result<i64, Verdict> {
        let out = &self.settings.routing.output_bucket;
        let existing = self
            .edges
            .objects
            .provenance(out, &job.output)
            .await
            .map_err(|error| transient(job, "storage", error))?;
        match ownership::claim(&job.bucket, &job.object, generation, existing.as_ref()) {
            Claim::Write { if_generation } => Ok(if_generation),
            Claim::AlreadyDone => Err(done(
                Outcome::Skipped,
                format!(
                    "{} generation {generation} is already converted",
                    job.source_uri()
                ),
                Some(ObjectRef::new(out, &job.output).to_string()),
            )),
            Claim::Taken { owner } => Err(permanent(
                job,
                "name_taken",
                format!(
                    "{} was made from {owner}, and {} would replace it: give one of the two another name",
                    ObjectRef::new(out, &job.output),
                    job.source()
                ),
            )),
        }
    }
}
