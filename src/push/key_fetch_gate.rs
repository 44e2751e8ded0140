//! How often an unknown signing key may make us fetch Google's keys.
//!
//! The ID-token verifier fetches the published keys whenever a token names a
//! key id it has not cached, under the one lock every push request takes.
//! Anyone can send a token with a made-up key id, so without a bound each
//! such request is a fetch, and the requests behind it wait. A key id we
//! have verified a token with is always let through; an unknown one, at
//! most once per interval (a real new key gets in at the next interval,
//! and Pub/Sub retries the push meanwhile). A fetch that failed (Google's
//! keys unreachable for a moment) says nothing about the key: the next
//! unknown key may try again after a few seconds, not a whole interval.

use std::collections::HashSet;
use std::time::{Duration, Instant};

pub const INTERVAL: Duration = Duration::from_secs(60);
/// How soon an unknown key may try again after a fetch that failed.
const AFTER_A_FAILED_FETCH: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct KeyFetchGate {
    known: HashSet<String>,
    /// When the next unknown key may go to the verifier.
    next_unknown: Option<Instant>,
}

impl KeyFetchGate {
    /// Whether a token signed with `kid` may go to the verifier at `now`.
    pub fn admit(&mut self, kid: &str, now: Instant) -> bool {
        if self.known.contains(kid) {
            return true;
        }
        if self.next_unknown.is_some_and(|next| now < next) {
            return false;
        }
        self.next_unknown = Some(now + INTERVAL);
        true
    }

    /// The keys could not be fetched at `now` (a network error, not a
    /// missing key).
    pub fn fetch_failed(&mut self, now: Instant) {
        self.next_unknown = Some(now + AFTER_A_FAILED_FETCH);
    }

    /// A token signed with `kid` was verified: its key is Google's.
    pub fn learned(&mut self, kid: &str) {
        self.known.insert(kid.to_string());
    }
}

/// The `kid` of a JWT's header, if it has one.
pub fn key_id(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&json).ok()?;
    header.get("kid")?.as_str().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_reach_the_verifier_once_per_interval() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert!(gate.admit("forged-1", start));
        assert!(!gate.admit("forged-2", start + Duration::from_secs(1)));
        assert!(!gate.admit("forged-3", start + INTERVAL - Duration::from_millis(1)));
        assert!(gate.admit("forged-4", start + INTERVAL));
    }

    #[test]
    fn a_failed_fetch_lets_the_next_unknown_key_try_again_soon() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert!(gate.admit("new-google-key", start));
        gate.fetch_failed(start + Duration::from_secs(1));
        assert!(!gate.admit("new-google-key", start + Duration::from_secs(2)));
        assert!(gate.admit("new-google-key", start + Duration::from_secs(6)));
        // That one fetched: the interval applies again.
        assert!(!gate.admit("forged", start + Duration::from_secs(7)));
    }

    #[test]
    fn a_learned_key_is_always_let_through() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert!(gate.admit("google", start));
        gate.learned("google");
        // Within the interval an unknown key waits; the learned one does not.
        assert!(!gate.admit("forged", start + Duration::from_secs(1)));
        assert!(gate.admit("google", start + Duration::from_secs(1)));
    }

    #[test]
    fn the_key_id_comes_from_the_header() {
        // {"alg":"RS256","kid":"abc"}
        let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.e30.sig";
        assert_eq!(key_id(token).as_deref(), Some("abc"));
        assert_eq!(key_id("not a token"), None);
    }
}
