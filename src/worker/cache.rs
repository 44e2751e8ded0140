//! The content cache: a document whose bytes, PDF options and engine match
//! one converted before is not converted again; the PDF made then is copied
//! inside Cloud Storage to the new name, under the new source's metadata.
//!
//! The index is Cloud Storage itself, so every instance shares it and there
//! is nothing to run: one object per (engine, options, MD5), at
//! `docx2pdf-cache/<engine>/<options>/<md5>.pdf` in the output bucket. The
//! engine part names LibreOffice's version, ours and the font table, so an
//! upgrade starts a new cache. Only documents with an MD5 take part
//! (composite objects have only a 32-bit CRC32C, too weak to vouch that two
//! documents are the same).
//!
//! Within an instance, copies of one document arriving together wait for
//! the first one's PDF rather than each converting it; they wait without
//! holding a permit, so other documents go on meanwhile. Instances do not
//! coordinate: each converts a document at most once at a time.

use super::object_locks::ObjectGuard;
use super::{Announce, Converter, Objects, Outcome, Verdict, Worker, done, transient};
use crate::gcloud::ObjectRef;
use crate::job::Job;
use crate::storage::{self, Described, StorageError};

/// Where the cache lives.
#[derive(Clone, Debug)]
pub struct CacheAt {
    pub bucket: String,
    /// `docx2pdf-cache/<engine>/`.
    pub prefix: String,
}

impl CacheAt {
    /// The cache of the engine `engine` (office::engine::identity) in `bucket`.
    pub fn new(bucket: &str, engine: &str) -> CacheAt {
        CacheAt {
            bucket: bucket.into(),
            prefix: format!("{PREFIX}{engine}/"),
        }
    }

    /// The entry of a document with MD5 `md5` made with `options` (described).
    pub fn key(&self, options: &str, md5: &str) -> String {
        format!("{}{options}/{md5}.pdf", self.prefix)
    }
}

const PREFIX: &str = "docx2pdf-cache/";
/// On an entry: the MD5 it was made from. Only the worker's cache fill
/// writes it, so a PDF that landed on an entry's name any other way (a
/// document named like an entry) is not taken for one.
const ENTRY_MD5: &str = "cache-entry-md5";
/// What an entry keeps of its conversion and gives every copy.
const CARRIED: [&str; 4] = [
    storage::PDF_OPTIONS,
    "pages",
    "fonts-substituted",
    "layout-risk",
];

/// A job's place in the cache.
pub(super) struct Entry {
    bucket: String,
    key: String,
    md5: String,
}

impl Entry {
    fn at(&self) -> ObjectRef<'_> {
        ObjectRef::new(&self.bucket, &self.key)
    }
}

impl<O: Objects, C: Converter, A: Announce> Worker<O, C, A> {
    /// The cache entry for `source` made with `options`, if the cache is on
    /// and the source has an MD5.
    pub(super) fn entry(&self, source: &Described, options: &str) -> Option<Entry> {
        let cache = self.settings.cache.as_ref()?;
        let md5 = source.md5.clone()?;
        Some(Entry {
            bucket: cache.bucket.clone(),
            key: cache.key(options, &md5),
            md5,
        })
    }

    /// Waits until no other message here is making the entry's PDF; the
    /// turn lasts until the guard is dropped. The caller's permit is lent
    /// back to the worker meanwhile, so waiting copies hold up nothing.
    pub(super) async fn turn(&self, entry: &Entry) -> ObjectGuard<'_> {
        self.permits.add_permits(1);
        let turn = self.flights.lock(entry.key.clone()).await;
        let permit = self.permits.acquire().await;
        permit.expect("the semaphore is never closed").forget();
        turn
    }

    /// Copies the entry's PDF to the job's output name if there is one: the
    /// verdict ending the message. A lookup that fails, or an entry gone
    /// meanwhile, lets the conversion go ahead instead.
    pub(super) async fn reuse(
        &self,
        job: &Job,
        entry: &Entry,
        source: &[(&'static str, String)],
        if_generation: i64,
    ) -> Result<(), Verdict> {
        let from = entry.at();
        let found = match self
            .edges
            .objects
            .describe(from.bucket, from.name, None)
            .await
        {
            Ok(Some(found)) if found.metadata.get(ENTRY_MD5) == Some(&entry.md5) => found,
            Ok(_) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, "cache lookup failed; converting instead");
                return Ok(());
            }
        };
        let mut metadata = source.to_vec();
        for key in CARRIED {
            if let Some(value) = found.metadata.get(key) {
                metadata.push((key, value.clone()));
            }
        }
        let out = &self.settings.routing.output_bucket;
        let to = ObjectRef::new(out, &job.output);
        // The generation whose metadata was just checked, nothing else.
        match (self.edges.objects)
            .copy(from, found.generation, to, &metadata, Some(if_generation))
            .await
        {
            Ok(_) => Err(done(
                Outcome::Cached,
                format!("{} -> {to} (copied from {from})", job.source()),
                Some(to.to_string()),
            )),
            Err(StorageError::NotFound(_)) => Ok(()),
            Err(error) => Err(transient(job, "storage", error)),
        }
    }

    /// Keeps the PDF just written at the job's output name, generation
    /// `generation` with `metadata`, as the entry, unless one is already
    /// there. Best effort: a failure costs a later conversion, never this
    /// message; a PDF replaced since is not kept.
    pub(super) async fn fill(
        &self,
        job: &Job,
        entry: &Entry,
        generation: i64,
        made: &[(&'static str, String)],
    ) {
        let out = &self.settings.routing.output_bucket;
        let from = ObjectRef::new(out, &job.output);
        let mut metadata: Vec<(&str, String)> = (made.iter())
            .filter(|(key, _)| CARRIED.contains(key))
            .cloned()
            .collect();
        metadata.push((ENTRY_MD5, entry.md5.clone()));
        let copied = self
            .edges
            .objects
            .copy(from, generation, entry.at(), &metadata, Some(0));
        match copied.await {
            Ok(_) | Err(StorageError::Changed(_) | StorageError::NotFound(_)) => {}
            Err(error) => tracing::warn!(%error, "could not keep the PDF in the cache"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_named_by_engine_options_and_md5() {
        let cache = CacheAt::new("out", "lo25.2.3.2-docx2pdf0.1.0-fonts1234abcd");
        assert_eq!(
            cache.key("pdfa=2b;tagged", "b1946ac92492d2347c6235b4d2611184"),
            "docx2pdf-cache/lo25.2.3.2-docx2pdf0.1.0-fonts1234abcd/pdfa=2b;tagged/b1946ac92492d2347c6235b4d2611184.pdf"
        );
    }
}
