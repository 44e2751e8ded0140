//! The port of Cloud Storage: what the rest of the crate asks of it
//! ([`Objects`]) and how it names an object ([`ObjectRef`], shown as
//! `gs://bucket/name`). [`super::Store`] is the implementation; the
//! worker's unit tests have an in-memory one.

use std::future::Future;
use std::path::Path;

use super::{Described, Digests, Fetched, StorageError};

/// A Cloud Storage object, by bucket and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef<'a> {
    pub bucket: &'a str,
    pub name: &'a str,
}

impl<'a> ObjectRef<'a> {
    pub fn new(bucket: &'a str, name: &'a str) -> ObjectRef<'a> {
        ObjectRef { bucket, name }
    }
}

impl std::fmt::Display for ObjectRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gs://{}/{}", self.bucket, self.name)
    }
}

/// The objects of Cloud Storage the worker reads and writes.
pub trait Objects: Send + Sync + 'static {
    /// Downloads `gs://bucket/object` (at `generation`, if given) to `dest`,
    /// refusing anything over `limit` bytes; what was written, with the
    /// `digests` computed over it.
    fn download(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
        dest: &Path,
        limit: u64,
        digests: Digests,
    ) -> impl Future<Output = Result<Fetched, StorageError>> + Send;

    /// The object's generation, MD5 and metadata (at `generation`, if
    /// given), before any download; `None` when there is none.
    fn describe(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
    ) -> impl Future<Output = Result<Option<Described>, StorageError>> + Send;

    /// Copies generation `from_generation` of the PDF `from` to `to` inside
    /// Cloud Storage with `metadata`, only if `to` is still at
    /// `if_generation` (0: absent) when given; the copy's generation.
    fn copy(
        &self,
        from: ObjectRef<'_>,
        from_generation: i64,
        to: ObjectRef<'_>,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;

    /// Stores `body`, only if the object is still at `if_generation` (0:
    /// only if there is none) when given; the new generation.
    fn upload(
        &self,
        bucket: &str,
        object: &str,
        body: bytes::Bytes,
        content_type: &str,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_shows_as_its_gs_uri() {
        assert_eq!(
            ObjectRef::new("in", "dir/a b.docx").to_string(),
            "gs://in/dir/a b.docx"
        );
    }
}
