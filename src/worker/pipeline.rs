//! One message's work, from the job admission parsed: claim its output
//! name, describe the document, then copy its PDF from the cache or
//! download, convert and upload. Its verdict goes to the one place that
//! decides ack or nack (`disposition`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::cache::Entry;
use super::object_locks::ObjectGuard;
use super::ownership::{self, Claim, Source};
use super::report::Trace;
use super::{Announce, Converter, Objects, Verdict, Worker, done, permanent, transient};
use crate::job::{BAD_OPTIONS, Job, Parsed, Rejected};
use crate::office::Fidelity;
use crate::options::PdfOptions;
use crate::outcome::Outcome;
use crate::storage::ObjectRef;
use crate::storage::{self, Described, Provenance, StorageError};

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
    /// described and its options settled, the document downloaded, and its
    /// PDF copied from the cache if it is there (a verdict).
    async fn prepare(&self, job: &Job, trace: &mut Trace) -> Result<Ready<'_>, Verdict> {
        let out = &self.settings.routing.output_bucket;
        // One read of what the output name holds, for both claims below.
        let existing = self
            .edges
            .objects
            .describe(out, &job.output, None)
            .await
            .map_err(|error| transient(job, "storage", error))?
            .map(|output| output.provenance());
        // A notification names its generation: a redelivery, or another
        // source's name, ends here before anything else is read. The
        // object's metadata may add options, so this can only skip work
        // whose options are known without it.
        if let Some(generation) = job.generation {
            let asked = self.options(job, None).map_err(|v| *v)?.describe();
            trace.options = Some(asked.clone());
            self.claim(job, generation, &asked, existing.as_ref())
                .map_err(|v| *v)?;
        }
        let source = self.describe_source(job).await?;
        trace.generation = Some(source.generation);
        let options = self.options(job, Some(&source.metadata)).map_err(|v| *v)?;
        let described = options.describe();
        trace.options = Some(described.clone());
        // The write's precondition catches anything written since the read.
        let if_generation = self
            .claim(job, source.generation, &described, existing.as_ref())
            .map_err(|v| *v)?;
        let provenance = provenance(job, source.generation, &described);
        let dir =
            self.edges.workspace.job_dir().map_err(|e| {
                transient(job, "disk", format!("cannot create a job directory: {e}"))
            })?;
        // Local names are ours; the object name never reaches the file system.
        let input = dir.path().join("input");
        // The generation described is the one converted (and cached).
        self.fetch(job, &input, source.generation).await?;
        // Keyed on the downloaded bytes: a hit costs the download, never a
        // conversion.
        let entry = self.entry(job, &input, &described).await;
        let mut turn = None;
        if let Some(entry) = &entry {
            turn = Some(self.turn(entry).await);
            self.reuse(job, entry, &provenance, if_generation).await?;
        }
        Ok(Ready {
            dir,
            input,
            options,
            provenance,
            if_generation,
            entry,
            _turn: turn,
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

    /// The job's document as Cloud Storage describes it (the generation it
    /// names, else the live one). A stale event, or an object missing or
    /// refused, ends the message.
    async fn describe_source(&self, job: &Job) -> Result<Described, Verdict> {
        (self.edges.objects)
            .describe(&job.bucket, &job.object, job.generation)
            .await
            .and_then(|found| found.ok_or_else(|| StorageError::NotFound(job.source_uri())))
            .map_err(|error| source_error(job, error))
    }

    /// Downloads the job's document, at the generation described, to
    /// `input`. Too large, or replaced since it was described, ends the
    /// message.
    async fn fetch(&self, job: &Job, input: &Path, generation: i64) -> Result<(), Verdict> {
        let limit = self.settings.max_input_bytes;
        let bytes = self
            .edges
            .objects
            .download(&job.bucket, &job.object, Some(generation), input, limit)
            .await
            .map_err(|error| match error {
                // Replaced or deleted since: the next attempt describes it again.
                StorageError::NotFound(_) if job.generation.is_none() => transient(
                    job,
                    "storage",
                    format!("{} changed while we read it", job.source_uri()),
                ),
                error => source_error(job, error),
            })?;
        self.metrics.bytes_in.inc_by(bytes);
        Ok(())
    }

    /// Uploads the PDF at `pdf`, made as `ready` says, if its name still
    /// holds the generation claimed; its URI.
    async fn store_pdf(
        &self,
        job: &Job,
        pdf: &Path,
        ready: &Ready<'_>,
        fidelity: &Fidelity,
    ) -> Result<String, Verdict> {
        let body = tokio::fs::read(pdf)
            .await
            .map_err(|e| transient(job, "disk", format!("reading the PDF back: {e}")))?;
        // What the cache entry's seal covers; nothing to hash without one.
        let pdf_md5 = ready.entry.as_ref().map(|_| super::cache::md5_hex(&body));
        let mut metadata = ready.provenance.clone();
        metadata.extend([
            ("pages", fidelity.pages.to_string()),
            ("fonts-substituted", fidelity.substituted()),
            ("layout-risk", fidelity.layout_risk.as_str().to_string()),
        ]);
        let out = &self.settings.routing.output_bucket;
        let generation = self
            .edges
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
        if let (Some(entry), Some(pdf_md5)) = (&ready.entry, &pdf_md5) {
            self.fill(job, entry, generation, &metadata, pdf_md5).await;
        }
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
struct Ready<'w> {
    /// Removed when the job is done.
    dir: tempfile::TempDir,
    input: PathBuf,
    options: PdfOptions,
    /// The PDF's metadata naming its source and options.
    provenance: Vec<(&'static str, String)>,
    /// The generation the output name must still hold when the PDF is written.
    if_generation: i64,
    /// Where its PDF is kept for the next copy of the same document.
    entry: Option<Entry>,
    /// Held until the entry is filled: copies here wait for it.
    _turn: Option<ObjectGuard<'w>>,
}

/// The metadata naming a PDF's source (`generation` of the job's object)
/// and the options it is made with.
fn provenance(job: &Job, generation: i64, options: &str) -> Vec<(&'static str, String)> {
    vec![
        (storage::SOURCE_BUCKET, job.bucket.clone()),
        (storage::SOURCE_OBJECT, job.object.clone()),
        (storage::SOURCE_GENERATION, generation.to_string()),
        (storage::PDF_OPTIONS, options.to_string()),
    ]
}

/// How a failure to read the job's document ends its message.
fn source_error(job: &Job, error: StorageError) -> Verdict {
    match error {
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
    }
}
