//! Cloud Storage: describe an object (its generation, MD5 and metadata:
//! where an existing PDF came from, what a document is before it is
//! downloaded), download a document, upload a PDF or a failure record, copy
//! a PDF inside Cloud Storage.
//!
//! Reads and writes of content use the crate's HTTP `Storage` client; its
//! gRPC `StorageControl` does not work against the emulator, so metadata and
//! copies go through the JSON API (`json_api`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use google_cloud_storage::client::Storage;
use tokio::io::AsyncWriteExt;

mod digests;
mod json_api;
mod port;
pub use digests::{Digests, Fetched};
pub(crate) use json_api::JsonApi;
pub use json_api::Listed;
pub use port::{ObjectRef, Objects};

/// Metadata keys written on every PDF, naming its source.
pub const SOURCE_BUCKET: &str = "source-bucket";
pub const SOURCE_OBJECT: &str = "source-object";
pub const SOURCE_GENERATION: &str = "source-generation";
/// The PDF options it was made with ([`crate::options::PdfOptions::describe`]).
pub const PDF_OPTIONS: &str = "pdf-options";
/// Its fidelity report, written on every PDF and carried by cache copies.
pub const PAGES: &str = "pages";
pub const FONTS_SUBSTITUTED: &str = "fonts-substituted";
pub const LAYOUT_RISK: &str = "layout-risk";
/// Characters no installed font has, by script (`Hangul:120`), or `none`.
pub const MISSING_GLYPHS: &str = "missing-glyphs";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} does not exist (deleted, or replaced by a newer generation)")]
    NotFound(String),
    #[error("the object is over the {limit}-byte input limit (MAX_INPUT_BYTES){}", .size.map(|s| format!(": {s} bytes")).unwrap_or_default())]
    TooLarge { size: Option<u64>, limit: u64 },
    #[error("Cloud Storage refused the request for {uri}: {message}")]
    Rejected { uri: String, message: String },
    #[error("Cloud Storage call failed for {uri}: {message}")]
    Unavailable { uri: String, message: String },
    /// 401 or 403: this identity lacks a grant (which may be on its way).
    #[error(
        "Cloud Storage denied access to {uri} (grant this identity a role on its bucket): {message}"
    )]
    Forbidden { uri: String, message: String },
    #[error("{0} changed while we worked (another worker wrote it)")]
    Changed(String),
}

/// Where an existing output came from, as its metadata says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The output object's own generation: replacing it is conditional on it.
    pub generation: i64,
    pub source_bucket: Option<String>,
    pub source_object: Option<String>,
    pub source_generation: Option<i64>,
    /// The options it was made with; None for a PDF from before options.
    pub options: Option<String>,
}

impl Provenance {
    /// Whether the object was made from `bucket`/`object` (any generation).
    pub fn is_from(&self, bucket: &str, object: &str) -> bool {
        self.source_bucket.as_deref() == Some(bucket)
            && self.source_object.as_deref() == Some(object)
    }
}

/// An object as Cloud Storage describes it, before any download.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    pub generation: i64,
    /// Hex; None for composite objects, which have only a CRC32C.
    pub md5: Option<String>,
    /// Its size in bytes, when Cloud Storage says.
    pub size: Option<u64>,
    pub metadata: HashMap<String, String>,
}

impl Described {
    /// Where this object, an output, came from, as its metadata says.
    pub fn provenance(&self) -> Provenance {
        let metadata = |key: &str| self.metadata.get(key).cloned();
        Provenance {
            generation: self.generation,
            source_bucket: metadata(SOURCE_BUCKET),
            source_object: metadata(SOURCE_OBJECT),
            source_generation: metadata(SOURCE_GENERATION).and_then(|g| g.parse().ok()),
            options: metadata(PDF_OPTIONS),
        }
    }
}

fn bucket_path(bucket: &str) -> String {
    format!("projects/_/buckets/{bucket}")
}

#[derive(Clone)]
pub struct Store {
    client: Storage,
    json: JsonApi,
    /// How long a call may wait on Cloud Storage without progress
    /// (`STORAGE_RETRY_SECONDS`): its answer, or the next part of a body.
    /// A connection gone silent (a black-holed NAT mapping) fails the call
    /// instead of holding its message.
    patience: Duration,
}

/// A body goes at least this fast, or its upload fails: on top of the
/// patience, one second per MiB.
const SLOWEST_UPLOAD_BYTES_PER_SECOND: u64 = 1 << 20;

impl Store {
    /// Built by [`crate::gcloud::Services::store`].
    pub(crate) fn new(client: Storage, json: JsonApi, patience: Duration) -> Store {
        Store {
            client,
            json,
            patience,
        }
    }

    /// `step` (an answer, or the next part of a body), or `Unavailable`
    /// if it does not come within the patience.
    async fn within<T>(
        &self,
        uri: &str,
        wait: Duration,
        step: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(wait, step).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::Unavailable {
                uri: uri.to_string(),
                message: format!("no answer from Cloud Storage within {wait:?}"),
            }),
        }
    }

    /// The source generation recorded on an existing output, or `None` when
    /// there is no such object (or it carries no record).
    pub async fn source_generation_of(
        &self,
        bucket: &str,
        object: &str,
    ) -> Result<Option<i64>, StorageError> {
        let described = self.describe(bucket, object, None).await?;
        Ok(described.and_then(|d| d.provenance().source_generation))
    }

    /// The objects under `prefix` in `bucket` (a page or so past `most`).
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        most: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        let uri = ObjectRef::new(bucket, prefix).to_string();
        let listed = self.json.list(bucket, prefix, most);
        self.within(&uri, self.patience, listed).await
    }

    /// An object's contents, for objects known to be small (failure records).
    pub async fn read(&self, bucket: &str, object: &str) -> Result<Vec<u8>, StorageError> {
        let uri = ObjectRef::new(bucket, object).to_string();
        let request = self.client.read_object(bucket_path(bucket), object);
        let sent = async { request.send().await.map_err(|e| classify(&uri, e)) };
        let mut response = self.within(&uri, self.patience, sent).await?;
        let mut body = Vec::new();
        while let Some(chunk) = self
            .within(&uri, self.patience, async { Ok(response.next().await) })
            .await?
        {
            body.extend_from_slice(&chunk.map_err(|e| classify(&uri, e))?);
        }
        Ok(body)
    }
}

impl Objects for Store {
    /// Downloads `gs://bucket/object` (at `generation`, if given) to `dest`,
    /// refusing anything over `limit` bytes as soon as its size is known;
    /// what was written, digested as it came.
    async fn download(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
        dest: &Path,
        limit: u64,
        mut digests: Digests,
    ) -> Result<Fetched, StorageError> {
        let uri = ObjectRef::new(bucket, object).to_string();
        let mut request = self.client.read_object(bucket_path(bucket), object);
        if let Some(generation) = generation {
            request = request.set_generation(generation);
        }
        let sent = async { request.send().await.map_err(|e| classify(&uri, e)) };
        let mut response = self.within(&uri, self.patience, sent).await?;
        let highlights = response.object();
        // The emulator reports 0 here; real Cloud Storage the true size.
        if highlights.size > 0 && highlights.size as u64 > limit {
            return Err(StorageError::TooLarge {
                size: Some(highlights.size as u64),
                limit,
            });
        }
        let io = |e: std::io::Error| StorageError::Unavailable {
            uri: uri.clone(),
            message: format!("writing the local copy: {e}"),
        };
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        while let Some(chunk) = self
            .within(&uri, self.patience, async { Ok(response.next().await) })
            .await?
        {
            let chunk = chunk.map_err(|e| classify(&uri, e))?;
            digests.update(&chunk);
            if digests.bytes() > limit {
                return Err(StorageError::TooLarge { size: None, limit });
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(digests.finish())
    }

    /// The object (at `generation`, if given), or `None` when there is none.
    async fn describe(
        &self,
        bucket: &str,
        object: &str,
        generation: Option<i64>,
    ) -> Result<Option<Described>, StorageError> {
        let found = self
            .json
            .get(ObjectRef::new(bucket, object), generation)
            .await?;
        Ok(found.map(|resource| Described {
            generation: resource.generation,
            md5: resource.md5_hash.as_deref().and_then(hex_of_base64),
            size: resource.size.and_then(|size| size.parse().ok()),
            metadata: resource.metadata,
        }))
    }

    /// Copies a generation of a PDF inside Cloud Storage under new
    /// metadata, only if `to` is still at `if_generation` when given; the
    /// copy's generation.
    async fn copy(
        &self,
        from: ObjectRef<'_>,
        from_generation: i64,
        to: ObjectRef<'_>,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        let from = (from, from_generation);
        (self.json)
            .rewrite(from, to, "application/pdf", metadata, if_generation)
            .await
    }

    /// Stores `body`; returns the new object's generation. With
    /// `if_generation`, only if the object is still at that generation (0:
    /// only if there is none), or [`StorageError::Changed`].
    async fn upload(
        &self,
        bucket: &str,
        object: &str,
        body: bytes::Bytes,
        content_type: &str,
        metadata: &[(&str, String)],
        if_generation: Option<i64>,
    ) -> Result<i64, StorageError> {
        let uri = ObjectRef::new(bucket, object).to_string();
        let wait = self.patience
            + Duration::from_secs(body.len() as u64 / SLOWEST_UPLOAD_BYTES_PER_SECOND);
        let mut request = self
            .client
            .write_object(bucket_path(bucket), object, body)
            .set_content_type(content_type)
            .set_metadata(metadata.iter().map(|(k, v)| (k.to_string(), v.clone())));
        if let Some(generation) = if_generation {
            request = request.set_if_generation_match(generation);
        }
        let sent = async {
            (request.send_buffered().await)
                .map(|object| object.generation)
                .map_err(|e| classify(&uri, e))
        };
        self.within(&uri, wait, sent).await
    }
}

/// 404 and 412 are their own cases, as are authentication and permission
/// (a grant may be on its way); other 4xx answers mean the request itself
/// is wrong and no retry can fix it, except timeouts and rate limits.
fn classify(uri: &str, error: google_cloud_storage::Error) -> StorageError {
    by_status(uri.to_string(), error.http_status_code(), error.to_string())
}

/// [`classify`] for any call: by its HTTP status, if it got one.
fn by_status(uri: String, status: Option<u16>, message: String) -> StorageError {
    match status {
        Some(404) => StorageError::NotFound(uri),
        Some(412) => StorageError::Changed(uri),
        Some(401 | 403) => StorageError::Forbidden { uri, message },
        Some(408 | 429) => StorageError::Unavailable { uri, message },
        Some(400..=499) => StorageError::Rejected { uri, message },
        _ => StorageError::Unavailable { uri, message },
    }
}

/// `md5Hash` as the JSON API writes it (base64) in hex.
pub fn hex_of_base64(text: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_classified_by_its_status() {
        let kind = |status| by_status("gs://b/o".into(), status, "m".into());
        assert!(matches!(kind(Some(403)), StorageError::Forbidden { .. }));
        assert!(matches!(kind(Some(401)), StorageError::Forbidden { .. }));
        assert!(matches!(kind(Some(429)), StorageError::Unavailable { .. }));
        assert!(matches!(kind(Some(400)), StorageError::Rejected { .. }));
        assert!(matches!(kind(Some(404)), StorageError::NotFound(_)));
        assert!(matches!(kind(None), StorageError::Unavailable { .. }));
    }

    #[test]
    fn an_md5_is_keyed_in_hex() {
        // The MD5 of "hello\n", as Cloud Storage shows it.
        assert_eq!(
            hex_of_base64("sZRqySSS0jR8YjW00mERhA==").as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
        assert_eq!(hex_of_base64("not base64!"), None);
    }
}
