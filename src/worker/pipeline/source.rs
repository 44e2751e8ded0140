//! The document's side of a message's work: the options it is made with
//! (the worker's defaults, its metadata, its message), what Cloud Storage
//! says of it, and its download.

use std::collections::HashMap;
use std::ops::ControlFlow::{Break, Continue};
use std::path::{Path, PathBuf};

use super::{OrEnd, Pipeline, Step, done, permanent, transient};
use crate::job::Job;
use crate::options::PdfOptions;
use crate::outcome::{ErrorKind, Outcome};
use crate::storage::{Described, Digests, Fetched, Objects, StorageError};
use crate::worker::disposition::Verdict;
use crate::worker::edges::Converter;
use crate::worker::intake::{HeldBytes, Permit};

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
    /// names, else the live one): by its notification, when that says it
    /// all, else by asking. A stale event, or an object missing or refused,
    /// ends the message.
    pub(super) async fn describe_source(&self, job: &Job) -> Step<Described> {
        if let Some(announced) = &job.announced {
            return Continue((**announced).clone());
        }
        (self.objects)
            .describe(&job.bucket, &job.object, job.generation)
            .await
            .and_then(|found| found.ok_or_else(|| StorageError::NotFound(job.source_uri())))
            .or_end(|error| source_error(job, error))
    }

    /// The document `source` describes, downloaded into a job directory of
    /// its own, with its share of the byte budget; its SHA-256 too if
    /// `keyed` (the cache's key).
    pub(super) async fn download(
        &self,
        job: &Job,
        source: &Described,
        permit: &mut Permit,
        keyed: bool,
    ) -> Step<Downloaded> {
        // Its download and rebuilt package, on a disk that is memory.
        let size = source.size.filter(|&size| size > 0);
        let held = (permit.hold_bytes(2 * size.unwrap_or(self.max_input_bytes))).await;
        let dir = (self.workspace.job_dir()).or_end(|e| {
            transient(
                job,
                ErrorKind::Disk,
                format!("cannot create a job directory: {e}"),
            )
        })?;
        // Local names are ours; the object name never reaches the file system.
        let input = dir.path().join("input");
        // The generation described is the one converted (and cached).
        let digests = Digests::default()
            .md5(job.announced.is_some())
            .sha256(keyed);
        let fetched = self.fetch(job, &input, source, digests).await?;
        Continue(Downloaded {
            dir,
            input,
            sha256: fetched.sha256,
            held,
        })
    }

    /// Downloads the job's document, as `source` describes it, to `input`,
    /// computing `digests` as it comes. Too large, replaced since it was
    /// described, or not what its notification announced, ends the message.
    async fn fetch(
        &self,
        job: &Job,
        input: &Path,
        source: &Described,
        digests: Digests,
    ) -> Step<Fetched> {
        let generation = source.generation;
        // What a notification announced bounds the bytes its budget holds.
        let announced = job.announced.as_ref().and_then(|a| a.size);
        let limit = announced.map_or(self.max_input_bytes, |size| size.min(self.max_input_bytes));
        let fetched = self
            .objects
            .download(
                &job.bucket,
                &job.object,
                Some(generation),
                input,
                limit,
                digests,
            )
            .await
            .or_end(|error| match error {
                // Replaced or deleted since: the next attempt describes it again.
                StorageError::NotFound(_) if job.generation.is_none() => transient(
                    job,
                    ErrorKind::Storage,
                    format!("{} changed while we read it", job.source_uri()),
                ),
                StorageError::TooLarge { .. }
                    if announced.is_some_and(|size| size < self.max_input_bytes) =>
                {
                    not_as_announced(job, "is larger than")
                }
                error => source_error(job, error),
            })?;
        self.metrics.bytes_in.inc_by(fetched.bytes);
        if let Some(announced) = &job.announced
            && (Some(fetched.bytes) != announced.size || announced.md5 != fetched.md5)
        {
            return Break(not_as_announced(job, "differs from"));
        }
        Continue(fetched)
    }
}

/// A notification whose payload is not the object it names at its
/// generation, which Cloud Storage never sends: someone else published it.
fn not_as_announced(job: &Job, how: &str) -> Verdict {
    let reason = format!(
        "the object {how} what its notification says (size, MD5): Cloud Storage did not write that message"
    );
    permanent(job, ErrorKind::MalformedMessage, reason)
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

/// A document downloaded.
pub(super) struct Downloaded {
    /// Removed when the job is done.
    pub(super) dir: tempfile::TempDir,
    pub(super) input: PathBuf,
    /// When the download was keyed for the cache.
    pub(super) sha256: Option<String>,
    /// Its share of the byte budget, while its files are on disk.
    pub(super) held: HeldBytes,
}
