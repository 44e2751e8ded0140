//! One message's work, from the job admission parsed: claim its output
//! name, describe the document, then copy its PDF from the cache or
//! download, convert and upload. Its verdict goes to the one place that
//! decides ack or nack (`disposition`). Each step either goes on with what
//! it made or ends the message early with a verdict
//! (`ControlFlow::Break`). Here the flow; the document's side (options,
//! description, download) in `source.rs`, the output's (claim, upload,
//! provenance) in `output.rs`.

use std::ops::ControlFlow::{self, Break, Continue};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod output;
mod source;

use output::{Seen, Target};
use source::Downloaded;

use super::cache::{Cache, Entry, Lookup};
use super::disposition::Verdict;
use super::edges::Converter;
use super::intake::{HeldBytes, Permit};
use super::object_locks::ObjectGuard;
use super::report::Trace;
use super::settings::Settings;
use crate::job::{Job, Parsed, Rejected};
use crate::office::{Conversion, ConvertError};
use crate::options::{FontPolicy, PdfOptions};
use crate::outcome::{ErrorKind, Outcome};
use crate::storage::{ObjectRef, Objects};
use crate::telemetry::metrics::Metrics;
use crate::workspace::Workspace;

/// Where one step of a message's work leads: on, or to its verdict.
type Step<T> = ControlFlow<Verdict, T>;

/// A failed call as the end of the message, `verdict` saying how.
trait OrEnd<T, E> {
    fn or_end(self, verdict: impl FnOnce(E) -> Verdict) -> Step<T>;
}

impl<T, E> OrEnd<T, E> for Result<T, E> {
    fn or_end(self, verdict: impl FnOnce(E) -> Verdict) -> Step<T> {
        match self {
            Ok(value) => Continue(value),
            Err(error) => Break(verdict(error)),
        }
    }
}

/// Fetch, inspect (in the converter), convert, store, over the `Objects`
/// and `Converter` edges.
pub(super) struct Pipeline<O, C> {
    objects: Arc<O>,
    converter: Arc<C>,
    workspace: Arc<Workspace>,
    metrics: Arc<Metrics>,
    output_bucket: String,
    max_input_bytes: u64,
    /// The PDF options of a document whose metadata and job set none.
    default_options: PdfOptions,
}

/// A document converted and its PDF stored.
struct Converted {
    output: String,
    detail: String,
}

impl<O: Objects, C: Converter> Pipeline<O, C> {
    pub(super) fn new(
        objects: Arc<O>,
        converter: Arc<C>,
        workspace: Arc<Workspace>,
        metrics: Arc<Metrics>,
        settings: &Settings,
    ) -> Self {
        Pipeline {
            objects,
            converter,
            workspace,
            metrics,
            output_bucket: settings.routing.output_bucket.clone(),
            max_input_bytes: settings.max_input_bytes,
            default_options: settings.default_options.clone(),
        }
    }

    pub(super) fn converter(&self) -> &C {
        &self.converter
    }

    /// `parsed`: the message, as admission read it, delivered for the
    /// first time or not; `permit`: the one it was admitted with, lent
    /// back while it waits for another copy.
    pub(super) async fn process(
        &self,
        parsed: Result<Parsed, Rejected>,
        first_delivery: bool,
        cache: &Cache,
        permit: &mut Permit,
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
        match self.work(&job, first_delivery, cache, permit, trace).await {
            Continue(made) => done(Outcome::Converted, made.detail, Some(made.output)),
            Break(verdict) => verdict,
        }
    }

    /// Claims the output name, downloads, converts and uploads.
    async fn work(
        &self,
        job: &Job,
        first_delivery: bool,
        cache: &Cache,
        permit: &mut Permit,
        trace: &mut Trace,
    ) -> Step<Converted> {
        let mut ready = (self.prepare(job, first_delivery, cache, permit, trace)).await?;
        let pdf = ready.dir.path().join("output.pdf");
        // Fetching and storing need no turn: other messages' calls go on
        // while this one converts.
        let turn = permit.conversion_turn().await;
        let conversion = (self.converter)
            .convert(&ready.input, Path::new(&job.object), &pdf, &ready.options)
            .await
            .or_end(|error| match error {
                // The report of a refused PDF is what its log line, event
                // and record say.
                ConvertError::Fonts { reason, fidelity } => {
                    trace.fidelity = Some(*fidelity);
                    permanent(job, ErrorKind::Fonts, reason)
                }
                error if error.is_permanent() => permanent(job, error.kind(), &error),
                error => transient(job, error.kind(), format!("{}: {error}", job.source())),
            })?;
        // Only the PDF is left to store: the document goes, and the PDF
        // takes its place in the budget. A PDF larger than that keeps its
        // turn until it is stored, so the PDFs over the budget are never
        // more than the turns, and nothing waits for bytes holding a turn.
        let _ = tokio::fs::remove_file(&ready.input).await;
        let preview_bytes = conversion.preview.as_ref().map_or(0, |p| p.bytes);
        let kept_bytes = conversion.pdf_bytes + preview_bytes;
        let _kept = (!ready.held.shrink_to(kept_bytes)).then_some(turn);
        self.observe(&conversion, trace);
        if let Some(preview) = &conversion.preview {
            trace.preview = Some(self.store_preview(job, preview, &ready.target).await?);
        }
        let output = self
            .store_pdf(job, &pdf, &mut ready, cache, &conversion.fidelity)
            .await?;
        trace.warnings = (conversion.fidelity).warnings(ready.target.font_policy);
        trace.fidelity = Some(conversion.fidelity);
        self.metrics.bytes_out.inc_by(conversion.pdf_bytes);
        Continue(Converted {
            detail: format!(
                "{} -> {output} ({:.2} s converting, {:.2} s queued)",
                job.source(),
                conversion.convert_time.as_secs_f64(),
                conversion.queue_wait.as_secs_f64()
            ),
            output,
        })
    }

    /// What a conversion cost, in the message's trace and the metrics.
    fn observe(&self, conversion: &Conversion, trace: &mut Trace) {
        trace.slot = Some(conversion.slot);
        trace.queue_wait = Some(conversion.queue_wait);
        let metrics = &self.metrics;
        (metrics.conversion_seconds).observe(conversion.convert_time.as_secs_f64());
        (metrics.queue_wait_seconds).observe(conversion.queue_wait.as_secs_f64());
        metrics.layout_risk(conversion.fidelity.layout_risk.as_str());
    }

    /// Everything before converting: the output name claimed, the document
    /// described and its options settled, the document downloaded, and its
    /// PDF copied from the cache if it is there (a verdict).
    async fn prepare<'c>(
        &self,
        job: &Job,
        first_delivery: bool,
        cache: &'c Cache,
        permit: &mut Permit,
        trace: &mut Trace,
    ) -> Step<Ready<'c>> {
        // A first delivery writes as if its name were free, and reads what
        // the name holds only if the write finds it is not: a new document
        // costs no read. A redelivery, likely done already, reads it first.
        let seen = match first_delivery {
            true => Seen::Unread,
            false => Seen::Read(self.read_output(job).await?),
        };
        // A notification names its generation: a redelivery, or another
        // source's name, ends here before anything else is read. The
        // object's metadata may add options, so this can only skip work
        // whose options are known without it.
        if let (Some(generation), Seen::Read(existing)) = (job.generation, &seen) {
            let asked = self.options(job, None)?.describe();
            trace.options = Some(asked.clone());
            self.claim(job, generation, &asked, existing.as_ref())?;
        }
        let source = self.describe_source(job).await?;
        trace.generation = Some(source.generation);
        let options = self.options(job, Some(&source.metadata))?;
        let described = options.describe();
        trace.options = Some(described.clone());
        // The write's precondition catches anything written since the read.
        let if_generation = self.claim(job, source.generation, &described, seen.holding())?;
        let mut target = Target {
            source_generation: source.generation,
            options: described,
            font_policy: options.font_policy,
            if_generation,
            read: !seen.is_unread(),
        };
        // Keyed on the downloaded bytes: a hit costs the download, never a
        // conversion. The cache keeps PDFs only: a preview is drawn each
        // time, so a document that asks for one converts each time too.
        let keyed = cache.is_on() && options.preview.is_none();
        let downloaded = self.download(job, &source, permit, keyed).await?;
        let Downloaded {
            dir,
            input,
            held,
            sha256,
        } = downloaded;
        let entry = sha256.and_then(|sha256| cache.entry(job, &sha256, &target.options));
        let mut turn = None;
        if let Some(entry) = &entry {
            turn = Some(cache.turn(entry, permit).await);
            self.reuse(job, cache, entry, &mut target, trace).await?;
        }
        Continue(Ready {
            dir,
            input,
            options,
            target,
            entry,
            _turn: turn,
            held,
        })
    }

    /// The PDF of the same document, from the cache, at the job's output
    /// name: a verdict that ends the message; or go on and convert.
    async fn reuse(
        &self,
        job: &Job,
        cache: &Cache,
        entry: &Entry,
        target: &mut Target,
        trace: &mut Trace,
    ) -> Step<()> {
        let to = ObjectRef::new(&self.output_bucket, &job.output);
        let objects = &*self.objects;
        let Some(found) = cache.find(objects, entry).await else {
            return Continue(());
        };
        // Bytes converted before are often a copy of a message done
        // already: the name is read before anything is copied onto it.
        if !target.read {
            self.reclaim(job, target).await?;
        }
        let source = target.provenance(job);
        let copied = cache.copy(objects, entry, &found, to, &source, target.if_generation);
        match (copied.await).or_end(|error| transient(job, ErrorKind::Storage, error))? {
            Lookup::Hit { from } => {
                if target.font_policy == FontPolicy::Warn {
                    trace.warnings = output::cached_shortfalls(&found.metadata);
                }
                Break(done(
                    Outcome::Cached,
                    format!("{} -> {to} (copied from {from})", job.source()),
                    Some(to.to_string()),
                ))
            }
            Lookup::Convert => Continue(()),
        }
    }
}

/// A job ready to convert.
struct Ready<'w> {
    /// Removed when the job is done.
    dir: tempfile::TempDir,
    input: PathBuf,
    options: PdfOptions,
    /// Where its PDF goes, and on what condition.
    target: Target,
    /// Where its PDF is kept for the next copy of the same document.
    entry: Option<Entry>,
    /// Held until the entry is filled: copies here wait for it.
    _turn: Option<ObjectGuard<'w>>,
    /// Its share of the byte budget, while its files are on disk.
    held: HeldBytes,
}

fn done(outcome: Outcome, detail: impl Into<String>, output: Option<String>) -> Verdict {
    Verdict::Done {
        outcome,
        detail: detail.into(),
        output,
    }
}

fn transient(job: &Job, kind: ErrorKind, reason: impl std::fmt::Display) -> Verdict {
    Verdict::Transient {
        kind,
        reason: reason.to_string(),
        job: job.clone(),
    }
}

fn permanent(job: &Job, kind: ErrorKind, error: impl std::fmt::Display) -> Verdict {
    Verdict::Permanent {
        kind,
        reason: format!("{}: {error}", job.source_uri()),
        job: Some(job.clone()),
    }
}
