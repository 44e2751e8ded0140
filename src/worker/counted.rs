//! Cloud Storage as the worker sees it: every call counted by kind
//! (`docx2pdf_storage_calls_total{call}`), so calls per message can be
//! read from `/metrics` against `docx2pdf_messages_total`.

use std::path::Path;
use std::sync::Arc;

use crate::storage::{Described, Digests, Fetched, ObjectRef, Objects, StorageError};
use crate::telemetry::metrics::Metrics;

pub(super) struct Counted<O> {
    inner: O,
    metrics: Arc<Metrics>,
}

impl<O> Counted<O> {
    pub(super) fn new(inner: O, metrics: Arc<Metrics>) -> Self {
        Counted { inner, metrics }
    }
}

impl<O: Objects> Objects for Counted<O> {
    async fn download(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
        dest: &Path,
        limit: u64,
        digests: Digests,
    ) -> Result<Fetched, StorageError> {
        self.metrics.storage_call("download");
        (self.inner)
            .download(bucket, object, generation, dest, limit, digests)
            .await
    }

    async fn describe(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
    ) -> Result<Option<Described>, StorageError> {
        self.metrics.storage_call("describe");
        self.inner.describe(bucket, object, generation).await
    }

    async fn copy(
        &self,
        from: ObjectRef<'_>,
        from_generation: i64,
        to: ObjectRef<'_>,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        self.metrics.storage_call("copy");
        (self.inner)
            .copy(from, from_generation, to, metadata, if_generation)
            .await
    }

    async fn upload(
        &self,
        bucket: &str,
        object: &str,
        body: bytes::Bytes,
        content_type: &str,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        self.metrics.storage_call("upload");
        (self.inner)
            .upload(bucket, object, body, content_type, metadata, if_generation)
            .await
    }
}
