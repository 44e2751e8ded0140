//! One message's work, from the job admission parsed: claim its output
//! name, download, convert, upload. Its verdict goes to the one place that
//! decides ack or nack (`disposition`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ownership::{self, Claim, Source};
use super::report::Trace;
use super::{Announce, Converter, Objects, Outcome, Verdict, Worker, done, permanent, transient};
use crate::gcloud::ObjectRef;
use crate::job::{BAD_OPTIONS, Job, Parsed, Rejected};
use crate::office::Fidelity;
use crate::options::PdfOptions;
use crate::storage::{self, Download, Provenance, StorageError};

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
        let ready = self.prepare(job, trace).await?;
        let pdf = ready.dir.path().join("output.pdf");
        let conversion = self
            .edges
            .converter
            .convert(&ready.input, Path::new(&job.object), &pdf, &ready.options)
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
        self.metrics
            .layout_risk(conversion.fidelity.layout_risk.as_str());
        let made = self
            .store_pdf(job, &pdf, &ready, &conversion.fidelity)
            .await?;
        trace.fidelity = Some(conversion.fidelity);
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

    /// Everything before converting: the output name claimed, the document
    /// downloaded, its options settled.
    async fn prepare(&self, job: &Job, trace: &mut Trace) -> Result<Ready, Verdict> {
        let out = &self.settings.routing.output_bucket;
        // One read of what the output name holds, for both claims below.
        let existing = self
            .edges
            .objects
            .provenance(out, &job.output)
            .await
            .map_err(|error| transient(job, "storage", error))?;
        // A notification names its generation: a redelivery, or another
        // source's name, ends here before anything is downloaded. The
        // object's metadata may add options, so this can only skip work
        // whose options are known without it.
        if let Some(generation) = job.generation {
            let asked = self.options(job, None).map_err(|v| *v)?.describe();
            trace.options = Some(asked.clone());
            self.claim(job, generation, &asked, existing.as_ref())
                .map_err(|v| *v)?;
        }
        let dir =
            self.edges.workspace.job_dir().map_err(|e| {
                transient(job, "disk", format!("cannot create a job directory: {e}"))
            })?;
        // Local names are ours; the object name never reaches the file system.
        let input = dir.path().join("input");
        let download = self.fetch(job, &input).await?;
        trace.generation = Some(download.generation);
        let options = self
            .options(job, Some(&download.metadata))
            .map_err(|v| *v)?;
        trace.options = Some(options.describe());
        // The upload's precondition catches anything written since the read.
        let described = options.describe();
        let if_generation = self
            .claim(job, download.generation, &described, existing.as_ref())
            .map_err(|v| *v)?;
        Ok(Ready {
            dir,
            input,
            generation: download.generation,
            options,
            if_generation,
        })
    }

    /// The job's PDF options: the worker's defaults, then the object's
    /// `docx2pdf-*` metadata (when known), then what its message asked.
    fn options(
        &self,
        job: &Job,
        metadata: Option<&HashMap<String, String>>,
    ) -> Result<PdfOptions, Box<Verdict>> {
        let bad = |reason: String| Box::new(permanent(job, BAD_OPTIONS, reason));
        let mut options = self.settings.default_options.clone();
        if let Some(metadata) = metadata {
            options
                .set_from_metadata(metadata)
                .map_err(|e| bad(format!("its metadata: {e}")))?;
        }
        for (name, value) in &job.options {
            options.set(name, value).map_err(|e| bad(e.to_string()))?;
        }
        Ok(options)
    }

    /// Downloads the job's document to `input`. A stale event, or an object
    /// missing, refused or too large, ends the message.
    async fn fetch(&self, job: &Job, input: &Path) -> Result<Download, Verdict> {
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
        Ok(download)
    }

    /// Uploads the PDF at `pdf`, made as `ready` says, if its name still
    /// holds the generation claimed; its URI.
    async fn store_pdf(
        &self,
        job: &Job,
        pdf: &Path,
        ready: &Ready,
        fidelity: &Fidelity,
    ) -> Result<String, Verdict> {
        let body = tokio::fs::read(pdf)
            .await
            .map_err(|e| transient(job, "disk", format!("reading the PDF back: {e}")))?;
        let metadata = [
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
            (storage::SOURCE_GENERATION, ready.generation.to_string()),
            (storage::PDF_OPTIONS, ready.options.describe()),
            ("pages", fidelity.pages.to_string()),
            ("fonts-substituted", fidelity.substituted()),
            ("layout-risk", fidelity.layout_risk.as_str().to_string()),
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
                Some(ready.if_generation),
            )
            .await
            .map_err(|error| transient(job, "storage", error))?;
        Ok(ObjectRef::new(out, &job.output).to_string())
    }

    /// What the output name, holding `existing`, allows this generation
    /// made with `options`: the generation to write it over, or the verdict
    /// ending the message (a duplicate delivery, an event older than the PDF
    /// there, or another source's PDF).
    fn claim(
        &self,
        job: &Job,
        generation: i64,
        options: &str,
        existing: Option<&Provenance>,
    ) -> Result<i64, Box<Verdict>> {
        let out = &self.settings.routing.output_bucket;
        let source = Source {
            bucket: &job.bucket,
            object: &job.object,
            generation,
            options,
        };
        match ownership::claim(source, existing) {
            Claim::Write { if_generation } => Ok(if_generation),
            Claim::AlreadyDone => Err(Box::new(done(
                Outcome::Skipped,
                format!(
                    "{} generation {generation} is already converted ({options})",
                    job.source_uri()
                ),
                Some(ObjectRef::new(out, &job.output).to_string()),
            ))),
            Claim::Taken { owner } => Err(Box::new(permanent(
                job,
                "name_taken",
                format!(
                    "{} was made from {owner}, and {} would replace it: give one of the two another name",
                    ObjectRef::new(out, &job.output),
                    job.source()
                ),
            ))),
        }
    }
}

/// A job ready to convert.
struct Ready {
    /// Removed when the job is done.
    dir: tempfile::TempDir,
    input: PathBuf,
    /// The generation downloaded.
    generation: i64,
    options: PdfOptions,
    /// The generation the output name must still hold when the PDF is written.
    if_generation: i64,
}
