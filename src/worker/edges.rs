//! What the worker needs of the world, as narrow traits: Cloud Storage
//! ([`Objects`]), the converter ([`Converter`]) and the result topic
//! ([`Announce`]). Production implements them with [`Store`] (in
//! `storage.rs`), [`Pool`] and a Pub/Sub [`Publisher`] (here), the only
//! implementations outside tests; the worker's unit tests use small
//! in-memory fakes and paused time.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;

use crate::gcloud::ObjectRef;
use crate::office::{Conversion, ConvertError, Pool};
use crate::options::PdfOptions;
use crate::storage::{Described, StorageError, Store};
use crate::workspace::Workspace;

/// The objects of Cloud Storage the worker reads and writes.
pub trait Objects: Send + Sync + 'static {
    /// Downloads `gs://bucket/object` (at `generation`, if given) to `dest`,
    /// refusing anything over `limit` bytes; the bytes written.
    fn download(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
        dest: &Path,
        limit: u64,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

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

/// Turns a document into a PDF.
pub trait Converter: Send + Sync + 'static {
    /// `name` is the document's real name, whose extension says how to read
    /// the file at `input`; `options` say how to make the PDF.
    fn convert(
        &self,
        input: &Path,
        name: &Path,
        output: &Path,
        options: &PdfOptions,
    ) -> impl Future<Output = Result<Conversion, ConvertError>> + Send;

    /// Stops now: conversions still running fail.
    fn stop(&self) -> impl Future<Output = ()> + Send;
}

/// Where one event per finished message goes (`RESULT_TOPIC`).
pub trait Announce: Send + Sync + 'static {
    fn announce(
        &self,
        outcome: &'static str,
        event: Vec<u8>,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// Everything outside the worker it is built with.
pub struct Edges<O = Store, C = Pool, A = Publisher> {
    pub objects: O,
    pub converter: Arc<C>,
    /// None without `RESULT_TOPIC`.
    pub results: Option<A>,
    /// Where jobs' downloads and PDFs go.
    pub workspace: Arc<Workspace>,
}

impl Converter for Pool {
    async fn convert(
        &self,
        input: &Path,
        name: &Path,
        output: &Path,
        options: &PdfOptions,
    ) -> Result<Conversion, ConvertError> {
        Pool::convert(self, input, name, output, options).await
    }

    async fn stop(&self) {
        self.shutdown().await
    }
}

impl Announce for Publisher {
    async fn announce(&self, outcome: &'static str, event: Vec<u8>) -> Result<(), String> {
        let message = Message::new()
            .set_data(event)
            .set_attributes([("outcome", outcome)]);
        self.publish(message)
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    }
}
