//! What a download computes of its bytes as they arrive: its length and,
//! when asked, its MD5 (checked against what a notification announced) and
//! its SHA-256 (the content cache's key). Computed in passing, so nothing
//! reads the local copy again before converting it.

use sha2::{Digest, Sha256};

/// The digests being computed over a download's bytes; none by default.
#[derive(Default)]
pub struct Digests {
    bytes: u64,
    md5: Option<md5::Context>,
    sha256: Option<Sha256>,
}

/// A download's local copy as written: its length and digests, in hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: u64,
    /// As Cloud Storage's `md5Hash`, decoded to hex; when asked for.
    pub md5: Option<String>,
    /// When asked for.
    pub sha256: Option<String>,
}

impl Digests {
    /// The MD5 too, if `wanted`.
    pub fn md5(self, wanted: bool) -> Digests {
        let md5 = wanted.then(md5::Context::new);
        Digests { md5, ..self }
    }

    /// The SHA-256 too, if `wanted`.
    pub fn sha256(self, wanted: bool) -> Digests {
        let sha256 = wanted.then(Sha256::new);
        Digests { sha256, ..self }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if let Some(md5) = &mut self.md5 {
            md5.consume(chunk);
        }
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(chunk);
        }
    }

    /// The bytes seen so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn finish(self) -> Fetched {
        Fetched {
            bytes: self.bytes,
            md5: self.md5.map(|md5| format!("{:x}", md5.finalize())),
            sha256: self.sha256.map(|sha256| hex(&sha256.finalize())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digests of "hello\n" fed in two chunks, as `md5sum` and
    /// `sha256sum` print them.
    #[test]
    fn chunks_are_digested_as_one() {
        let mut digests = Digests::default().md5(true).sha256(true);
        digests.update(b"hel");
        digests.update(b"lo\n");
        let fetched = digests.finish();
        assert_eq!(fetched.bytes, 6);
        assert_eq!(
            fetched.md5.as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
        assert_eq!(
            fetched.sha256.as_deref(),
            Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        );
        let none = Digests::default().finish();
        assert_eq!((none.md5, none.sha256), (None, None));
    }
}
