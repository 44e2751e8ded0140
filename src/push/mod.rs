//! Pub/Sub push requests: the envelope that Pub/Sub, or a caller of the
//! original service, POSTs, and the check of the ID token it carries. The
//! message inside then takes the worker's path, as a pulled one does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use google_cloud_pubsub::model::Message;
use serde::Deserialize;

mod key_fetch_gate;
mod token;
pub use token::TokenCheck;

/// `{"message": {...}, "subscription": "...", "deliveryAttempt": N}`; the
/// original service's callers send the message with attributes only.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    message: PushedMessage,
    /// Set by Pub/Sub when the subscription has a dead-letter policy.
    delivery_attempt: Option<i32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushedMessage {
    #[serde(default)]
    attributes: HashMap<String, String>,
    /// Base64, as Pub/Sub sends it.
    #[serde(default)]
    data: Option<String>,
    message_id: Option<String>,
    /// Pub/Sub sends both spellings; a serde alias would call that a duplicate.
    #[serde(rename = "message_id")]
    message_id_snake: Option<String>,
}

/// A pushed message and its delivery attempt, if anyone counts them.
pub struct Pushed {
    pub message: Message,
    pub delivery_attempt: Option<i32>,
}

/// Reads a push request's body; the error says what is wrong with it.
pub fn parse(body: &[u8]) -> Result<Pushed, String> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not a Pub/Sub push envelope ({e}): expected {{\"message\": {{\"attributes\": {{...}}, \"data\": \"<base64>\"}}}}")
    })?;
    let pushed = envelope.message;
    let data = match pushed.data.as_deref().filter(|d| !d.is_empty()) {
        Some(data) => base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("message.data is not base64: {e}"))?,
        None => Vec::new(),
    };
    let id = pushed
        .message_id
        .or(pushed.message_id_snake)
        .filter(|id| !id.is_empty());
    // Without an id (the original envelope) deliveries cannot be told apart
    // or counted: each request is a first attempt.
    let delivery_attempt = envelope
        .delivery_attempt
        .or(if id.is_none() { Some(1) } else { None });
    let id = id.unwrap_or_else(|| {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        format!("push-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    });
    Ok(Pushed {
        message: Message::new()
            .set_message_id(id)
            .set_attributes(pushed.attributes)
            .set_data(data),
        delivery_attempt,
    })
}

/// Why a push request was refused before any work.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// 401: no token, or not a valid one for us.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: a valid token from someone not on the list.
    #[error("{0}")]
    Forbidden(String),
    /// 503: the signers' keys could not be fetched; Pub/Sub will retry.
    #[error("{0}")]
    Unavailable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_envelope_has_attributes_only() {
        let body = br#"{"message": {"attributes": {"bucketId": "in", "objectId": "demo.docx"}}}"#;
        let pushed = parse(body).unwrap();
        assert_eq!(pushed.message.attributes["objectId"], "demo.docx");
        assert!(pushed.message.message_id.starts_with("push-"));
        assert_eq!(pushed.delivery_attempt, Some(1));
        assert!(pushed.message.data.is_empty());
    }

    #[test]
    fn pubsub_envelopes_carry_base64_data_and_an_id() {
        let body = br#"{"message": {"data": "eyJidWNrZXQiOiJpbiJ9", "messageId": "42", "message_id": "42"},
                        "subscription": "projects/p/subscriptions/s", "deliveryAttempt": 3}"#;
        let pushed = parse(body).unwrap();
        assert_eq!(&pushed.message.data[..], br#"{"bucket":"in"}"#);
        assert_eq!(pushed.message.message_id, "42");
        assert_eq!(pushed.delivery_attempt, Some(3));
    }

    #[test]
    fn a_body_that_is_not_an_envelope_says_what_was_expected() {
        for body in [&b"not json"[..], b"{}", br#"{"message": {"data": "%%%"}}"#] {
            let error = parse(body).err().unwrap();
            assert!(
                error.contains("envelope") || error.contains("base64"),
                "{error}"
            );
        }
    }
}
