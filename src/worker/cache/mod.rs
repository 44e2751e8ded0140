//! The content cache: a document whose bytes, reading, PDF options,
//! limits and engine match one converted before is not converted again;
//! the PDF made then is copied inside Cloud Storage to the new name, under
//! the new source's metadata.
//!
//! The index is Cloud Storage itself, so every instance shares it and there
//! is nothing to run: one object per key, `docx2pdf-cache/<engine>/<key>.pdf`
//! in the output bucket. The engine part names LibreOffice's version, ours,
//! the font table and the installed fonts, so an upgrade starts a new
//! cache; the key is a SHA-256 of everything else that decides the PDF or
//! the verdict: how the document is read (its extension: the same bytes are
//! a spreadsheet as `.csv` and text as `.txt`), the options, the limits,
//! and the SHA-256 of the downloaded bytes (an MD5 can be made to collide,
//! and composite objects have none). A hit costs a download, never a
//! conversion.
//!
//! The output bucket may be writable by others (uploaders, when it is
//! shared), so an entry counts only if it is provably ours: the fill seals
//! it with an HMAC, under a key only the worker holds (`CACHE_KEY_FILE`, a
//! mounted secret), of the entry's name and its PDF's MD5 as Cloud Storage
//! computed it. A planted object, a genuine entry copied to another name,
//! or an entry whose bytes were replaced does not verify and is ignored.
//!
//! Within an instance, copies of one document arriving together wait for
//! the first one's PDF rather than each converting it; they wait without
//! holding a permit, so other documents go on meanwhile. Instances do not
//! coordinate: each converts a document at most once at a time.
//!
//! It finds an entry, then copies it ([`Lookup`]: a hit, or convert); what
//! a hit means for the message is the pipeline's to say.

use std::path::Path;

mod seal;
pub use seal::SealKey;
use seal::hex;

use sha2::{Digest, Sha256};

use super::intake::Permit;
use super::object_locks::{ObjectGuard, ObjectLocks};
use crate::job::Job;
use crate::options::Canonical;
use crate::storage::{self, Described, ObjectRef, Objects, StorageError};

/// Where the cache lives, and what its entries are keyed and sealed with.
#[derive(Clone, Debug)]
pub struct CacheAt {
    pub bucket: String,
    /// `docx2pdf-cache/<engine>/`.
    pub prefix: String,
    /// The settings that change a PDF or a verdict besides its options
    /// (the limits), as one line.
    pub limits: String,
    /// What entries are sealed with.
    pub seal: SealKey,
}

impl CacheAt {
    /// The cache of the engine `engine` (`Pool::engine_identity`) in
    /// `bucket`, for documents converted under `limits`.
    pub fn new(bucket: &str, engine: &str, limits: &str, seal: SealKey) -> CacheAt {
        CacheAt {
            bucket: bucket.into(),
            prefix: format!("{PREFIX}{engine}/"),
            limits: limits.into(),
            seal,
        }
    }

    /// The cache of `engine` in `bucket`, for documents converted under
    /// `limits`, sealed with the key in `key_file`; None when it is off
    /// (`on` false), when there is no key to seal entries with, or when the
    /// engine it keys on could not be named (each said once, at start). A
    /// key file that cannot be used is an error naming `CACHE_KEY_FILE`.
    pub fn configured(
        on: bool,
        key_file: Option<&Path>,
        bucket: &str,
        limits: &str,
        engine: anyhow::Result<String>,
    ) -> anyhow::Result<Option<CacheAt>> {
        if !on {
            return Ok(None);
        }
        let Some(key_file) = key_file else {
            tracing::warn!(
                "the content cache is off: CACHE_KEY_FILE is not set (entries are sealed with a key only the worker reads, so nobody who can write the output bucket can plant one)"
            );
            return Ok(None);
        };
        let key = std::fs::read(key_file)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| SealKey::new(bytes.trim_ascii().to_vec()))
            .map_err(|e| e.context(format!("CACHE_KEY_FILE={}", key_file.display())))?;
        match engine {
            Ok(engine) => Ok(Some(CacheAt::new(bucket, &engine, limits, key))),
            Err(error) => {
                tracing::warn!("the content cache is off: cannot name the engine: {error:#}");
                Ok(None)
            }
        }
    }

    /// The entry of a document whose bytes have the SHA-256 `sha256`, read
    /// as a `.read_as` file and made with `options` (described).
    pub fn key(&self, read_as: &str, options: &Canonical, sha256: &str) -> String {
        let mut digest = Sha256::new();
        for field in [KEY_VERSION, read_as, options.as_str(), &self.limits, sha256] {
            digest.update(field.as_bytes());
            digest.update(b"\n");
        }
        format!("{}{}.pdf", self.prefix, hex(&digest.finalize()))
    }
}

const PREFIX: &str = "docx2pdf-cache/";
const KEY_VERSION: &str = "docx2pdf cache key 1";
/// On an entry: its seal. Only the worker's cache fill can write one that
/// verifies.
const ENTRY_SEAL: &str = "cache-entry-seal";
/// On an entry: how its document was read, for whoever looks.
const ENTRY_READ_AS: &str = "cache-entry-read-as";
/// What an entry keeps of its conversion and gives every copy.
const CARRIED: [&str; 5] = [
    storage::PDF_OPTIONS,
    storage::PAGES,
    storage::FONTS_SUBSTITUTED,
    storage::MISSING_GLYPHS,
    storage::LAYOUT_RISK,
];

/// A job's place in the cache.
pub(super) struct Entry {
    bucket: String,
    key: String,
    read_as: &'static str,
    seal: SealKey,
}

impl Entry {
    fn at(&self) -> ObjectRef<'_> {
        ObjectRef::new(&self.bucket, &self.key)
    }
}

/// The cache as the worker holds it: where it lives (None: off) and the
/// entries being made here.
pub(super) struct Cache {
    at: Option<CacheAt>,
    /// One per entry being made: copies of a document wait for it.
    flights: ObjectLocks,
}

/// What the cache answers about a document.
pub(super) enum Lookup {
    /// Its PDF, the entry at `from`, was copied to the job's output name.
    Hit { from: String },
    /// Not there, not ours, or not reachable: convert it.
    Convert,
}

impl Cache {
    pub(super) fn new(at: Option<CacheAt>) -> Cache {
        Cache {
            at,
            flights: ObjectLocks::default(),
        }
    }

    /// Whether the cache is on: then a download is keyed for it.
    pub(super) fn is_on(&self) -> bool {
        self.at.is_some()
    }

    /// The cache entry for `job`'s document, whose bytes have this SHA-256,
    /// made with `options`; None if the cache is off or the document's name
    /// says nothing we read (its conversion will say why).
    pub(super) fn entry(&self, job: &Job, sha256: &str, options: &Canonical) -> Option<Entry> {
        let cache = self.at.as_ref()?;
        let read_as = crate::office::inspect::extension(Path::new(&job.object)).ok()?;
        Some(Entry {
            bucket: cache.bucket.clone(),
            key: cache.key(read_as, options, sha256),
            read_as,
            seal: cache.seal.clone(),
        })
    }

    /// Waits until no other message here is making the entry's PDF; the
    /// turn lasts until the guard is dropped. The message's permit is lent
    /// back meanwhile, so waiting copies hold up nothing.
    pub(super) async fn turn(&self, entry: &Entry, permit: &mut Permit) -> ObjectGuard<'_> {
        permit
            .lend_while(self.flights.lock(entry.key.clone()))
            .await
    }

    /// The entry's PDF as Cloud Storage describes it, if it is there and
    /// ours. A lookup that fails answers nothing: the document converts.
    pub(super) async fn find(&self, objects: &impl Objects, entry: &Entry) -> Option<Described> {
        let from = entry.at();
        match objects.describe(from.bucket, from.name, None).await {
            Ok(Some(found)) if sealed_by_us(entry, &found) => Some(found),
            Ok(Some(_)) => {
                tracing::warn!(entry = %from, "an object on a cache entry's name is not sealed by this worker's key; converting instead");
                None
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "cache lookup failed; converting instead");
                None
            }
        }
    }

    /// Copies the entry's PDF, `found`, to `to` with the new source's
    /// metadata (`source`), if `to` still holds `if_generation`. An entry
    /// gone meanwhile answers `Convert`; a copy that fails otherwise is an
    /// error.
    pub(super) async fn copy(
        &self,
        objects: &impl Objects,
        entry: &Entry,
        found: &Described,
        to: ObjectRef<'_>,
        source: &[(&'static str, String)],
        if_generation: i64,
    ) -> Result<Lookup, StorageError> {
        let from = entry.at();
        let mut metadata = source.to_vec();
        for key in CARRIED {
            if let Some(value) = found.metadata.get(key) {
                metadata.push((key, value.clone()));
            }
        }
        // The generation whose metadata was checked, nothing else.
        let copied = objects
            .copy(from, found.generation, to, &metadata, Some(if_generation))
            .await;
        match copied {
            Ok(_) => Ok(Lookup::Hit {
                from: from.to_string(),
            }),
            Err(StorageError::NotFound(_)) => Ok(Lookup::Convert),
            Err(error) => Err(error),
        }
    }

    /// Keeps the PDF just written at `from`, generation `generation` with
    /// `made` metadata and MD5 `pdf_md5` (hex), as the entry, unless one is
    /// already there. Best effort: a failure costs a later conversion,
    /// never this message; a PDF replaced since is not kept.
    pub(super) async fn fill(
        &self,
        objects: &impl Objects,
        entry: &Entry,
        from: ObjectRef<'_>,
        generation: i64,
        made: &[(&'static str, String)],
        pdf_md5: &str,
    ) {
        let mut metadata: Vec<(&str, String)> = (made.iter())
            .filter(|(key, _)| CARRIED.contains(key))
            .cloned()
            .collect();
        metadata.push((ENTRY_READ_AS, entry.read_as.to_string()));
        metadata.push((ENTRY_SEAL, entry.seal.seal(&entry.key, pdf_md5)));
        let copied = objects.copy(from, generation, entry.at(), &metadata, Some(0));
        match copied.await {
            Ok(_) | Err(StorageError::Changed(_) | StorageError::NotFound(_)) => {}
            Err(error) => tracing::warn!(%error, "could not keep the PDF in the cache"),
        }
    }
}

/// Whether `found`, at the entry's name, carries a seal made with our key
/// over that name and the MD5 Cloud Storage computed of its bytes.
fn sealed_by_us(entry: &Entry, found: &Described) -> bool {
    match (found.metadata.get(ENTRY_SEAL), &found.md5) {
        (Some(seal), Some(md5)) => entry.seal.verifies(&entry.key, md5, seal),
        _ => false,
    }
}

/// The MD5 of `bytes` in hex, as Cloud Storage reports an object's.
pub(super) fn md5_hex(bytes: &[u8]) -> String {
    hex(&md5::compute(bytes).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealKey {
        SealKey::new(vec![byte; 32]).unwrap()
    }

    #[test]
    fn an_entry_is_named_by_a_digest_of_all_that_decides_the_pdf() {
        let cache = CacheAt::new(
            "out",
            "lo25.2.3.2-docx2pdf0.1.0-fonts1234abcd",
            "pages5000",
            key(1),
        );
        let sha = "ab".repeat(32);
        let tagged_2b = Canonical::of(&[("pdfa", "2b"), ("tagged", "true")]);
        let entry = cache.key("docx", &tagged_2b, &sha);
        assert!(
            entry.starts_with("docx2pdf-cache/lo25.2.3.2-docx2pdf0.1.0-fonts1234abcd/"),
            "{entry}"
        );
        assert!(entry.ends_with(".pdf"));
        // The same bytes read another way, with other options, under other
        // limits: each another entry.
        let others = [
            cache.key("csv", &tagged_2b, &sha),
            cache.key("docx", &Canonical::of(&[]), &sha),
            CacheAt::new(
                "out",
                "lo25.2.3.2-docx2pdf0.1.0-fonts1234abcd",
                "pages10",
                key(1),
            )
            .key("docx", &tagged_2b, &sha),
        ];
        assert!(others.iter().all(|other| *other != entry), "{others:?}");
    }

    #[test]
    fn md5_is_written_as_cloud_storage_reports_it() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
