//! The output's side of a message's work: whether its name may be
//! written ([`super::super::ownership`]), the PDF stored there with its
//! provenance, and the cache entry filled from it.

use std::collections::HashMap;
use std::ops::ControlFlow::{Break, Continue};
use std::path::Path;

use super::{OrEnd, Pipeline, Ready, Step, done, permanent, transient};
use crate::job::Job;
use crate::office::{Fidelity, LayoutRisk, Preview};
use crate::options::{Canonical, FontPolicy};
use crate::outcome::{ErrorKind, Outcome};
use crate::storage::{self, ObjectRef, Objects, Provenance, StorageError};
use crate::worker::cache::{self, Cache};
use crate::worker::edges::Converter;
use crate::worker::ownership::{self, Claim, Source};

impl<O: Objects, C: Converter> Pipeline<O, C> {
    /// Uploads the PDF at `pdf`, made as `ready` says, if its name still
    /// holds the generation claimed; its URI.
    pub(super) async fn store_pdf(
        &self,
        job: &Job,
        pdf: &Path,
        ready: &mut Ready<'_>,
        cache: &Cache,
        fidelity: &Fidelity,
    ) -> Step<String> {
        let body = (tokio::fs::read(pdf).await)
            .or_end(|e| transient(job, ErrorKind::Disk, format!("reading the PDF back: {e}")))?;
        // What the cache entry's seal covers; nothing to hash without one.
        let pdf_md5 = ready.entry.as_ref().map(|_| cache::md5_hex(&body));
        let mut metadata = ready.target.provenance(job);
        metadata.extend([
            (storage::PAGES, fidelity.pages.to_string()),
            (storage::FONTS_SUBSTITUTED, fidelity.substituted()),
            (storage::MISSING_GLYPHS, fidelity.missing()),
            (
                storage::LAYOUT_RISK,
                fidelity.layout_risk.as_str().to_string(),
            ),
        ]);
        let out = &self.output_bucket;
        let body = bytes::Bytes::from(body);
        // On the heap: the client's upload is large, and two of them in
        // this future overflowed a worker thread's stack (debug build).
        let upload = |if_generation| {
            let body = body.clone();
            Box::pin((self.objects).upload(
                out,
                &job.output,
                body,
                "application/pdf",
                &metadata,
                Some(if_generation),
            ))
        };
        let stored = match upload(ready.target.if_generation).await {
            Err(StorageError::Changed(_)) if !ready.target.read => {
                self.reclaim(job, &mut ready.target).await?;
                upload(ready.target.if_generation).await
            }
            stored => stored,
        };
        let generation = stored.or_end(|error| transient(job, ErrorKind::Storage, error))?;
        let at = ObjectRef::new(out, &job.output);
        if let (Some(entry), Some(pdf_md5)) = (&ready.entry, &pdf_md5) {
            let objects = &*self.objects;
            cache
                .fill(objects, entry, at, generation, &metadata, pdf_md5)
                .await;
        }
        Continue(at.to_string())
    }

    /// Uploads `preview` beside the PDF, before the PDF: the PDF marks the
    /// message done, so a preview stored after it and then lost to a
    /// failure would never be made. Written as if its name were free, and
    /// read, to be judged as the PDF's name is, only if it is not; its URI.
    pub(super) async fn store_preview(
        &self,
        job: &Job,
        preview: &Preview,
        target: &Target,
    ) -> Step<String> {
        let body = (tokio::fs::read(&preview.path).await).or_end(|e| {
            transient(
                job,
                ErrorKind::Disk,
                format!("reading the preview back: {e}"),
            )
        })?;
        let (out, name) = (&self.output_bucket, job.preview());
        let (body, metadata) = (bytes::Bytes::from(body), target.provenance(job));
        let upload = |if_generation| {
            let body = body.clone();
            let stored = (self.objects).upload(
                out,
                &name,
                body,
                "image/png",
                &metadata,
                Some(if_generation),
            );
            Box::pin(stored)
        };
        let at = ObjectRef::new(out, &name);
        match upload(0).await {
            Err(StorageError::Changed(_)) => {}
            stored => {
                stored.or_end(|error| transient(job, ErrorKind::Storage, error))?;
                return Continue(at.to_string());
            }
        }
        let existing = (self.objects.describe(out, &name, None).await)
            .or_end(|error| transient(job, ErrorKind::Storage, error))?;
        let source = Source {
            bucket: &job.bucket,
            object: &job.object,
            generation: target.source_generation,
            options: &target.options,
        };
        match ownership::claim(source, existing.map(|e| e.provenance()).as_ref()) {
            Claim::Write { if_generation } => {
                (upload(if_generation).await)
                    .or_end(|error| transient(job, ErrorKind::Storage, error))?;
            }
            Claim::AlreadyDone => {}
            Claim::Taken { owner } => {
                return Break(permanent(
                    job,
                    ErrorKind::NameTaken,
                    format!(
                        "{at} was made from {owner}, and the preview of {} would replace it: give one of the two another name",
                        job.source()
                    ),
                ));
            }
        }
        Continue(at.to_string())
    }

    /// What the output name holds now: where its PDF came from, if there is one.
    pub(super) async fn read_output(&self, job: &Job) -> Step<Option<Provenance>> {
        let out = &self.output_bucket;
        let described = (self.objects.describe(out, &job.output, None).await)
            .or_end(|error| transient(job, ErrorKind::Storage, error))?;
        Continue(described.map(|output| output.provenance()))
    }

    /// Reads what the output name holds, and settles `target`'s condition
    /// on it, or ends the message (already done, or another source's).
    pub(super) async fn reclaim(&self, job: &Job, target: &mut Target) -> Step<()> {
        let existing = self.read_output(job).await?;
        let (generation, options) = (target.source_generation, &target.options);
        target.if_generation = self.claim(job, generation, options, existing.as_ref())?;
        target.read = true;
        Continue(())
    }

    /// What the output name, holding `existing`, allows this generation
    /// made with `options`: the generation to write it over, or the verdict
    /// ending the message (a duplicate delivery, an event older than the PDF
    /// there, or another source's PDF).
    pub(super) fn claim(
        &self,
        job: &Job,
        generation: i64,
        options: &Canonical,
        existing: Option<&Provenance>,
    ) -> Step<i64> {
        let out = &self.output_bucket;
        let source = Source {
            bucket: &job.bucket,
            object: &job.object,
            generation,
            options,
        };
        match ownership::claim(source, existing) {
            Claim::Write { if_generation } => Continue(if_generation),
            Claim::AlreadyDone => Break(done(
                Outcome::Skipped,
                format!(
                    "{} generation {generation} is already converted ({options})",
                    job.source_uri()
                ),
                Some(ObjectRef::new(out, &job.output).to_string()),
            )),
            Claim::Taken { owner } => Break(permanent(
                job,
                ErrorKind::NameTaken,
                format!(
                    "{} was made from {owner}, and {} would replace it: give one of the two another name",
                    ObjectRef::new(out, &job.output),
                    job.source()
                ),
            )),
        }
    }
}

/// What the output name holds, as far as the message knows.
pub(super) enum Seen {
    /// Not read: the name is written as if free, and read if it is not.
    Unread,
    Read(Option<Provenance>),
}

impl Seen {
    pub(super) fn is_unread(&self) -> bool {
        matches!(self, Seen::Unread)
    }

    /// What the name was seen to hold; nothing when it was not read.
    pub(super) fn holding(&self) -> Option<&Provenance> {
        match self {
            Seen::Read(existing) => existing.as_ref(),
            Seen::Unread => None,
        }
    }
}

/// Where a PDF goes and on what condition: made from generation
/// `source_generation` with `options`, written only if its name holds
/// `if_generation`, which was `read`, or assumed (0: free) until a write
/// is refused.
pub(super) struct Target {
    pub(super) source_generation: i64,
    pub(super) options: Canonical,
    /// Among the options: whether a PDF in other fonts is to be warned of.
    pub(super) font_policy: FontPolicy,
    pub(super) if_generation: i64,
    pub(super) read: bool,
}

impl Target {
    /// The metadata naming the PDF's source and options.
    pub(super) fn provenance(&self, job: &Job) -> Vec<(&'static str, String)> {
        vec![
            (storage::SOURCE_BUCKET, job.bucket.clone()),
            (storage::SOURCE_OBJECT, job.object.clone()),
            (
                storage::SOURCE_GENERATION,
                self.source_generation.to_string(),
            ),
            (storage::PDF_OPTIONS, self.options.to_string()),
        ]
    }
}

/// What a cached PDF's metadata says a reader would see is not as its
/// author set it ([`crate::office::Fidelity::shortfalls`], as metadata
/// keeps it).
pub(super) fn cached_shortfalls(metadata: &HashMap<String, String>) -> Vec<String> {
    let said = |key: &str| metadata.get(key).map(String::as_str).unwrap_or("none");
    let missing = said(storage::MISSING_GLYPHS);
    let boxes =
        (missing != "none").then(|| format!("characters no installed font can draw: {missing}"));
    let other_metrics = LayoutRisk::DifferentMetrics.as_str();
    let fonts = (said(storage::LAYOUT_RISK) == other_metrics)
        .then(|| format!("fonts replaced: {}", said(storage::FONTS_SUBSTITUTED)));
    boxes.into_iter().chain(fonts).collect()
}
