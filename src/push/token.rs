//! The ID token on a push request: whose key signed it (Google's published
//! set, fetched here under the key gate), whether it is valid for us
//! (google-cloud-auth's verifier), and who sent it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use google_cloud_auth::credentials::idtoken::verifier;
use serde::Deserialize;

use super::Refused;
use super::key_fetch_gate::{self, Admission, KeyFetchGate};
use crate::config::PushAuth;

/// Google's set is about 2 KB; anything past this is not a key set.
const MAX_KEY_SET_BYTES: usize = 256 << 10;
/// A fetch of the key set, body included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// `PUSH_AUDIENCE` and `PUSH_SERVICE_ACCOUNTS`, checked with
/// google-cloud-auth's ID-token verifier (signature, issuer, expiry,
/// audience); the key gate and the list of senders are ours.
pub struct TokenCheck {
    /// One check at a time: the verifier's key cache refuses a second
    /// caller while it fetches keys, instead of waiting.
    verifier: tokio::sync::Mutex<verifier::Verifier>,
    keys: std::sync::Mutex<KeyFetchGate>,
    http: reqwest::Client,
    jwks_url: String,
    service_accounts: Vec<String>,
}

impl TokenCheck {
    pub fn new(auth: PushAuth) -> TokenCheck {
        TokenCheck {
            verifier: tokio::sync::Mutex::new(
                verifier::Builder::new(auth.audiences)
                    .with_jwks_url(auth.jwks_url.clone())
                    .build(),
            ),
            keys: std::sync::Mutex::new(KeyFetchGate::default()),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
            jwks_url: auth.jwks_url,
            service_accounts: auth.service_accounts,
        }
    }

    /// Checks an `Authorization` header; returns who sent the request.
    pub async fn check(&self, authorization: Option<&str>) -> Result<String, Refused> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Refused::Unauthenticated(
                    "no bearer token: give the push subscription a service account (--push-auth-service-account)".into(),
                )
            })?;
        self.signed_with_a_published_key(token).await?;
        let claims = self.verifier.lock().await.verify(token).await;
        let claims = claims.map_err(|e| {
            if e.is_load_cert() && is_transient(&e) {
                Refused::Unavailable(format!("cannot fetch the token signers' keys: {e}"))
            } else {
                Refused::Unauthenticated(format!("the ID token was refused: {e}"))
            }
        })?;
        self.sender(&claims)
    }

    /// Lets through a token whose key id is in Google's set, fetching the
    /// set when the gate says so.
    async fn signed_with_a_published_key(&self, token: &str) -> Result<(), Refused> {
        let kid = key_fetch_gate::key_id(token).unwrap_or_default();
        let admission = self.gate().admit(&kid, Instant::now());
        if admission == Admission::Fetch {
            let fetched = published_key_ids(&self.http, &self.jwks_url).await;
            let mut gate = self.gate();
            match fetched {
                Ok(published) => gate.fetched(published, Instant::now()),
                Err(error) => {
                    gate.fetch_failed(Instant::now());
                    if !gate.knows(&kid) {
                        return Err(Refused::Unavailable(format!(
                            "cannot fetch the token signers' keys from {}: {error}",
                            self.jwks_url
                        )));
                    }
                }
            }
        }
        if self.gate().knows(&kid) {
            return Ok(());
        }
        Err(Refused::Unauthenticated(format!(
            "the ID token names a signing key ({kid:?}) that is not among Google's; they are fetched again at most every {} s",
            key_fetch_gate::INTERVAL.as_secs()
        )))
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, KeyFetchGate> {
        self.keys.lock().expect("key gate lock")
    }

    /// The sender named by verified claims, if the list allows them.
    fn sender(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, Refused> {
        let email = claims
            .get("email")
            .and_then(|e| e.as_str())
            .unwrap_or_default();
        let verified = claims.get("email_verified").and_then(|v| v.as_bool()) == Some(true);
        if self.service_accounts.is_empty() {
            let subject = claims.get("sub").and_then(|s| s.as_str()).unwrap_or("");
            return Ok(if email.is_empty() { subject } else { email }.to_string());
        }
        if verified && self.service_accounts.iter().any(|a| a == email) {
            Ok(email.to_string())
        } else {
            Err(Refused::Forbidden(format!(
                "{email:?} is not in PUSH_SERVICE_ACCOUNTS"
            )))
        }
    }
}

/// The key ids in the JWKS at `url`.
async fn published_key_ids(http: &reqwest::Client, url: &str) -> Result<HashSet<String>, String> {
    #[derive(Deserialize)]
    struct KeySet {
        keys: Vec<Key>,
    }
    #[derive(Deserialize)]
    struct Key {
        kid: Option<String>,
    }
    let mut response = (http.get(url).send().await)
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_KEY_SET_BYTES {
            return Err(format!("the key set is over {MAX_KEY_SET_BYTES} bytes"));
        }
    }
    let set: KeySet =
        serde_json::from_slice(&body).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
    Ok(set.keys.into_iter().filter_map(|key| key.kid).collect())
}

/// A key fetch that failed (retry later), as opposed to a key that does
/// not exist (a forged or foreign token).
fn is_transient(error: &verifier::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(credentials) = cause.downcast_ref::<google_cloud_gax::error::CredentialsError>()
        {
            return credentials.is_transient();
        }
        source = cause.source();
    }
    false
}
