//! One message's work, from the job admission parsed: claim its output
//! name, download, convert, upload. Its verdict goes to the one place that
//! decides ack or nack (`disposition`).

use std::path::Path;

use super::ownership::{self, Claim};
use super::report::Trace;
use super::{Outcome, Verdict, Worker, done, permanent, transient};
use crate::job::{Job, Parsed, Rejected};
use crate::storage::{self, StorageError};

impl Worker {
    /// `parsed`: the message, as admission read it.
    pub(super) async fn process(
        &self,
        parsed: Result<Parsed, Rejected>,
        trace: &mut Trace,
    ) -> Verdict {
        let settings = &self.settings;
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
        // A notification names its generation: claim the output name (and
        // skip a redelivery) before downloading anything. The download is of
        // that generation, so the claim holds for it; the upload's
        // precondition catches anything written meanwhile.
        let early_claim = match job.generation {
            Some(generation) => match self.claim_output(&job, generation).await {
                Ok(if_generation) => Some(if_generation),
                Err(verdict) => return verdict,
            },
            None => None,
        };
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
                return done(
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
        let if_generation = match early_claim {
            Some(if_generation) => if_generation,
            None => match self.claim_output(&job, download.generation).await {
                Ok(if_generation) => if_generation,
                Err(verdict) => return verdict,
            },
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
        done(
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
    pub(super) async fn claim_output(&self, job: &Job, generation: i64) -> Result<i64, Verdict> {
        let out = &self.settings.routing.output_bucket;
        let existing = self
            .store
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
}
