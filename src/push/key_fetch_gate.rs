//! Which signing keys a push token may name, and how often a token may make
//! us fetch Google's published keys.
//!
//! Anyone can send a token naming a made-up key id, and google-cloud-auth's
//! verifier fetches the published keys for every key id it has not cached,
//! under the one lock every push request takes. So only ids in the set we
//! last fetched reach the verifier; an unknown id may make us fetch that set
//! at most once per interval, and every fetch learns the whole set. A forged
//! id that takes the interval's fetch therefore teaches us any new key
//! Google published before it: a key rotation cannot be starved, only
//! delayed by an interval (Pub/Sub retries the push meanwhile). Ids are
//! learned only from Google's set, never from a token (a malformed token's
//! header says nothing about whose key it names). The set is fetched again
//! when it is older than `REFRESH`, so a key Google withdrew stops being
//! let through. A fetch that failed (Google's keys unreachable for a moment)
//! says nothing about the key: the next token may try again after a few
//! seconds, not a whole interval.

use std::collections::HashSet;
use std::time::{Duration, Instant};

pub const INTERVAL: Duration = Duration::from_secs(60);
/// How soon a token may make us fetch again after a fetch that failed.
const AFTER_A_FAILED_FETCH: Duration = Duration::from_secs(5);
/// How long a fetched set is taken as Google's current one.
const REFRESH: Duration = Duration::from_secs(15 * 60);

/// What to do with a token naming a key id.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// The id is in Google's set: verify the token.
    Known,
    /// Fetch Google's set first (this caller holds the interval's fetch).
    Fetch,
    /// Unknown, and the interval's fetch is spent.
    Refused,
}

#[derive(Default)]
pub struct KeyFetchGate {
    /// The key ids of Google's set, as last fetched.
    published: HashSet<String>,
    fetched_at: Option<Instant>,
    /// When a token may next make us fetch.
    next_fetch: Option<Instant>,
}

impl KeyFetchGate {
    /// What to do at `now` with a token signed with `kid`.
    pub fn admit(&mut self, kid: &str, now: Instant) -> Admission {
        let known = self.knows(kid);
        let fresh = self.fetched_at.is_some_and(|at| now < at + REFRESH);
        if known && fresh {
            return Admission::Known;
        }
        if self.next_fetch.is_some_and(|next| now < next) {
            return if known {
                Admission::Known
            } else {
                Admission::Refused
            };
        }
        self.next_fetch = Some(now + INTERVAL);
        Admission::Fetch
    }

    /// Google's set, as fetched at `now`, replaces the one we had.
    pub fn fetched(&mut self, published: HashSet<String>, now: Instant) {
        self.published = published;
        self.fetched_at = Some(now);
    }

    /// The set could not be fetched at `now` (a network error, not a
    /// missing key).
    pub fn fetch_failed(&mut self, now: Instant) {
        self.next_fetch = Some(now + AFTER_A_FAILED_FETCH);
    }

    /// Whether `kid` is in Google's set as last fetched.
    pub fn knows(&self, kid: &str) -> bool {
        self.published.contains(kid)
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

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn unknown_keys_make_us_fetch_once_per_interval() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert_eq!(gate.admit("forged-1", start), Admission::Fetch);
        gate.fetched(set(&["google"]), start);
        let second = start + Duration::from_secs(1);
        assert_eq!(gate.admit("forged-2", second), Admission::Refused);
        let last = start + INTERVAL - Duration::from_millis(1);
        assert_eq!(gate.admit("forged-3", last), Admission::Refused);
        assert_eq!(gate.admit("forged-4", start + INTERVAL), Admission::Fetch);
    }

    #[test]
    fn a_forged_key_that_takes_the_fetch_teaches_a_new_real_key() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert_eq!(gate.admit("google-old", start), Admission::Fetch);
        gate.fetched(set(&["google-old"]), start);
        // Google publishes a new key; a forged id spends each interval's
        // fetch just before the new key's first token.
        let forged = start + INTERVAL;
        assert_eq!(gate.admit("forged", forged), Admission::Fetch);
        gate.fetched(set(&["google-old", "google-new"]), forged);
        let rotated = forged + Duration::from_secs(1);
        assert_eq!(gate.admit("google-new", rotated), Admission::Known);
    }

    #[test]
    fn ids_are_learned_from_the_fetched_set_only() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert_eq!(gate.admit("taught-by-a-token", start), Admission::Fetch);
        gate.fetched(set(&["google"]), start);
        let later = start + Duration::from_secs(1);
        assert_eq!(gate.admit("taught-by-a-token", later), Admission::Refused);
        assert_eq!(gate.admit("google", later), Admission::Known);
    }

    #[test]
    fn a_stale_set_is_fetched_again_and_a_withdrawn_key_drops_out() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert_eq!(gate.admit("google-old", start), Admission::Fetch);
        gate.fetched(set(&["google-old"]), start);
        let stale = start + REFRESH;
        assert_eq!(gate.admit("google-old", stale), Admission::Fetch);
        gate.fetched(set(&["google-new"]), stale);
        let after = stale + Duration::from_secs(1);
        assert_eq!(gate.admit("google-old", after), Admission::Refused);
        // A known key is let through while the interval's fetch is spent.
        assert_eq!(gate.admit("google-new", after), Admission::Known);
    }

    #[test]
    fn a_failed_fetch_lets_the_next_token_try_again_soon() {
        let mut gate = KeyFetchGate::default();
        let start = Instant::now();
        assert_eq!(gate.admit("google", start), Admission::Fetch);
        gate.fetch_failed(start + Duration::from_secs(1));
        let soon = start + Duration::from_secs(2);
        assert_eq!(gate.admit("google", soon), Admission::Refused);
        let retry = start + Duration::from_secs(6);
        assert_eq!(gate.admit("google", retry), Admission::Fetch);
        gate.fetched(set(&["google"]), retry);
        // That one fetched: the interval applies again.
        let then = start + Duration::from_secs(7);
        assert_eq!(gate.admit("forged", then), Admission::Refused);
    }

    #[test]
    fn the_key_id_comes_from_the_header() {
        // {"alg":"RS256","kid":"abc"}
        let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.e30.sig";
        assert_eq!(key_id(token).as_deref(), Some("abc"));
        assert_eq!(key_id("not a token"), None);
    }
}
