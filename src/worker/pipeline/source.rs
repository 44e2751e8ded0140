//! The document's side of a message's work: the options it is made with
//! (the worker's defaults, its metadata, its message), what Cloud Storage
//! says of it, and its download.

use std::collections::HashMap;
use std::ops::ControlFlow::Continue;
use std::path::Path;

use super::{OrEnd, Pipeline, Step, done, permanent, transient};
use crate::job::Job;
use crate::options::PdfOptions;
use crate::outcome::{ErrorKind, Outcome};
use crate::storage::{Described, Objects, StorageError};
use crate::worker::disposition::Verdict;
use crate::worker::edges::Converter;

impl<O: Objects, C: Converter> Pipeline<O, C> {
    /// The job's PDF options: the worker's defaults, then the object's
    /// `docx2pdf-*` metadata (when known), then what its message asked.
    pub(super) fn options(
        &self,
        job: &Job,
        metadata: Option<&HashMap<String, String>>,
    ) -> Step<PdfOptions> {
        let bad = |reason: String| permanent(job, ErrorKind::BadOptions, reason);
        let mut options = self.default_options.clone();
        if let Some(metadata) = metadata {
            (options.set_from_metadata(metadata)).or_end(|e| bad(format!("its metadata: {e}")))?;
        }
        for setting in &job.options {
            options.apply(setting);
        }
        Continue(options)
    }

    /// The job's document as Cloud Storage describes it (the generation it
    /// names, else the live one). A stale event, or an object missing or
    /// refused, ends the message.
    pub(super) async fn describe_source(&self, job: &Job) -> Step<Described> {
        (self.objects)
            .describe(&job.bucket, &job.object, job.generation)
            .await
            .and_then(|found| found.ok_or_else(|| StorageError::NotFound(job.source_uri())))
            .or_end(|error| source_error(job, error))
    }

    /// Downloads the job's document, at the generation described, to
    /// `input`. Too large, or replaced since it was described, ends the
    /// message.
    pub(super) async fn fetch(&self, job: &Job, input: &Path, generation: i64) -> Step<()> {
        let limit = self.max_input_bytes;
        let bytes = self
            .objects
            .download(&job.bucket, &job.object, Some(generation), input, limit)
            .await
            .or_end(|error| match error {
                // Replaced or deleted since: the next attempt describes it again.
                StorageError::NotFound(_) if job.generation.is_none() => transient(
                    job,
                    ErrorKind::Storage,
                    format!("{} changed while we read it", job.source_uri()),
                ),
                error => source_error(job, error),
            })?;
        self.metrics.bytes_in.inc_by(bytes);
        Continue(())
    }
}

/// How a failure to read the job's document ends its message.
fn source_error(job: &Job, error: StorageError) -> Verdict {
    match error {
        StorageError::NotFound(uri) if job.generation.is_some() => done(
            Outcome::Skipped,
            format!("{uri} at that generation is gone: a stale event"),
            None,
        ),
        StorageError::NotFound(_) => permanent(job, ErrorKind::NotFound, error),
        StorageError::Rejected { .. } => permanent(job, ErrorKind::Rejected, error),
        StorageError::TooLarge { .. } => permanent(job, ErrorKind::TooLarge, error),
        // A missing grant is the deployment's, and often only early.
        StorageError::Unavailable { .. }
        | StorageError::Forbidden { .. }
        | StorageError::Changed(_) => transient(job, ErrorKind::Storage, error),
    }
}
