//! The Google Cloud edge: every Google client is built here, from one
//! description of where the services are (the real ones, with Application
//! Default Credentials or a service-account key file, or the emulators,
//! anonymously).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use google_cloud_auth::credentials::{Credentials, anonymous, service_account};
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin};
use google_cloud_storage::client::Storage;
use google_cloud_storage::retry_policy::RetryableErrors;

use crate::storage::{JsonApi, Store};

/// Where the Google services are.
#[derive(Clone, Debug, Default)]
pub struct Services {
    /// `STORAGE_EMULATOR_HOST`: Cloud Storage's emulator, reached anonymously.
    pub storage_emulator: Option<String>,
    /// `PUBSUB_EMULATOR_HOST`: Pub/Sub's emulator, reached anonymously (the
    /// crates do not read the variable themselves).
    pub pubsub_emulator: Option<String>,
    /// A service-account key file (`--credentials`); None: Application
    /// Default Credentials.
    pub key_file: Option<PathBuf>,
}

impl Services {
    /// `retry_limit` bounds how long one call retries before its job fails
    /// as transient and Pub/Sub redelivers it later instead.
    pub async fn store(&self, retry_limit: Duration) -> anyhow::Result<Store> {
        let mut builder =
            Storage::builder().with_retry_policy(RetryableErrors.with_time_limit(retry_limit));
        if let Some(emulator) = &self.storage_emulator {
            builder = builder.with_endpoint(emulator_endpoint(emulator));
        }
        // One set of credentials (one token cache) for the crate's client
        // and our JSON API calls; ADC unless an emulator or a key file says
        // otherwise, as the crate would have chosen.
        let credentials = match self.credentials(self.storage_emulator.is_some())? {
            Some(credentials) => credentials,
            None => google_cloud_auth::credentials::Builder::default()
                .build()
                .context("finding Application Default Credentials for Cloud Storage")?,
        };
        let client = builder
            .with_credentials(credentials.clone())
            .build()
            .await
            .context("connecting to Cloud Storage")?;
        let endpoint = self.storage_emulator.as_deref().map(emulator_endpoint);
        let json = JsonApi::new(endpoint, credentials, retry_limit)?;
        Ok(Store::new(client, json, retry_limit))
    }

    pub async fn publisher(&self, topic: &str) -> anyhow::Result<Publisher> {
        let mut builder = Publisher::builder(topic);
        if let Some(emulator) = &self.pubsub_emulator {
            builder = builder.with_endpoint(emulator_endpoint(emulator));
        }
        if let Some(credentials) = self.credentials(self.pubsub_emulator.is_some())? {
            builder = builder.with_credentials(credentials);
        }
        builder
            .build()
            .await
            .with_context(|| format!("connecting to Pub/Sub for {topic}"))
    }

    /// The streaming-pull client and the client that reads subscriptions.
    pub async fn subscriber(&self) -> anyhow::Result<(Subscriber, SubscriptionAdmin)> {
        let mut admin = SubscriptionAdmin::builder();
        if let Some(emulator) = &self.pubsub_emulator {
            admin = admin.with_endpoint(emulator_endpoint(emulator));
        }
        if let Some(credentials) = self.credentials(self.pubsub_emulator.is_some())? {
            admin = admin.with_credentials(credentials);
        }
        let admin = admin.build().await.context("connecting to Pub/Sub")?;
        Ok((self.streaming_pull().await?, admin))
    }

    /// A streaming-pull client, on connections of its own.
    pub async fn streaming_pull(&self) -> anyhow::Result<Subscriber> {
        let mut subscriber = Subscriber::builder();
        if let Some(emulator) = &self.pubsub_emulator {
            subscriber = subscriber.with_endpoint(emulator_endpoint(emulator));
        }
        if let Some(credentials) = self.credentials(self.pubsub_emulator.is_some())? {
            subscriber = subscriber.with_credentials(credentials);
        }
        subscriber.build().await.context("connecting to Pub/Sub")
    }

    /// Anonymous for an emulator, the key file's if one was given, else
    /// None (the crates then use Application Default Credentials).
    fn credentials(&self, emulator: bool) -> anyhow::Result<Option<Credentials>> {
        if emulator {
            return Ok(Some(anonymous::Builder::new().build()));
        }
        let Some(path) = &self.key_file else {
            return Ok(None);
        };
        let key = service_account_key(path)?;
        let credentials = service_account::Builder::new(key)
            .build()
            .with_context(|| {
                format!(
                    "--credentials {}: not a service-account key",
                    path.display()
                )
            })?;
        Ok(Some(credentials))
    }
}

/// A service-account key file (`--credentials`), as JSON.
pub fn service_account_key(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let key = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read --credentials {}: {e}", path.display()))?;
    serde_json::from_slice(&key).map_err(|e| {
        anyhow::anyhow!(
            "--credentials {}: not a service-account key file (JSON): {e}",
            path.display()
        )
    })
}

/// `host:port` or a URL, as Google's other client libraries accept in
/// `STORAGE_EMULATOR_HOST` and `PUBSUB_EMULATOR_HOST`.
fn emulator_endpoint(value: &str) -> String {
    let value = value.trim_end_matches('/');
    if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emulator_host_may_be_a_host_and_port_or_a_url() {
        assert_eq!(emulator_endpoint("127.0.0.1:8085"), "http://127.0.0.1:8085");
        assert_eq!(emulator_endpoint("http://h:1/"), "http://h:1");
        assert_eq!(emulator_endpoint("https://h"), "https://h");
    }
}
