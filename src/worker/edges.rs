//! What the worker needs of the world, as narrow traits: Cloud Storage
//! ([`Objects`], the port `storage` owns), the converter ([`Converter`])
//! and the result topic ([`Announce`]). Production implements them with
//! [`Store`], [`Pool`] and a Pub/Sub [`Publisher`] (here), the only
//! implementations outside tests; the worker's unit tests use small
//! in-memory fakes and paused time.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;

use crate::office::{Conversion, ConvertError, Pool};
use crate::options::PdfOptions;
pub use crate::storage::Objects;
use crate::storage::Store;
use crate::workspace::Workspace;

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

/// How long publishing a result event may take: the event is best effort,
/// and the message's reply waits for it.
const ANNOUNCE_DEADLINE: Duration = Duration::from_secs(10);

impl Announce for Publisher {
    async fn announce(&self, outcome: &'static str, event: Vec<u8>) -> Result<(), String> {
        let message = Message::new()
            .set_data(event)
            .set_attributes([("outcome", outcome)]);
        match tokio::time::timeout(ANNOUNCE_DEADLINE, self.publish(message)).await {
            Ok(published) => published.map(drop).map_err(|error| error.to_string()),
            Err(_) => Err(format!(
                "no answer from Pub/Sub within {ANNOUNCE_DEADLINE:?}"
            )),
        }
    }
}
