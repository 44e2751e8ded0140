//! The seal that makes a cache entry provably the worker's: an HMAC-SHA256,
//! under a key only the worker holds (`CACHE_KEY_FILE`), of the entry's name
//! and the MD5 Cloud Storage computed of its bytes. Anyone who can write the
//! output bucket can copy metadata; nobody without the key can make a seal
//! that verifies for another name or other bytes.

use std::sync::Arc;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

const SEAL_VERSION: &str = "docx2pdf cache entry 1";

type Hmac = hmac::Hmac<Sha256>;

/// The key entries are sealed with. Never printed.
#[derive(Clone)]
pub struct SealKey(Arc<Vec<u8>>);

impl SealKey {
    /// The shortest key accepted: an HMAC-SHA256 key should be as long as
    /// its output.
    pub const MIN_BYTES: usize = 32;

    pub fn new(bytes: Vec<u8>) -> anyhow::Result<SealKey> {
        anyhow::ensure!(
            bytes.len() >= Self::MIN_BYTES,
            "the key is {} bytes; it needs at least {} (e.g. `head -c 32 /dev/urandom | base64`)",
            bytes.len(),
            Self::MIN_BYTES
        );
        Ok(SealKey(Arc::new(bytes)))
    }

    fn mac(&self, entry: &str, pdf_md5: &str) -> Hmac {
        let mut mac = Hmac::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for field in [SEAL_VERSION, entry, pdf_md5] {
            mac.update(field.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    pub(in crate::worker) fn seal(&self, entry: &str, pdf_md5: &str) -> String {
        hex(&self.mac(entry, pdf_md5).finalize().into_bytes())
    }

    pub(super) fn verifies(&self, entry: &str, pdf_md5: &str, seal: &str) -> bool {
        let Some(seal) = unhex(seal) else {
            return false;
        };
        self.mac(entry, pdf_md5).verify_slice(&seal).is_ok()
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealKey {
        SealKey::new(vec![byte; 32]).unwrap()
    }

    #[test]
    fn a_seal_verifies_only_under_its_key_name_and_md5() {
        let seal = key(1).seal("docx2pdf-cache/e/k.pdf", "00ff");
        assert!(key(1).verifies("docx2pdf-cache/e/k.pdf", "00ff", &seal));
        assert!(!key(2).verifies("docx2pdf-cache/e/k.pdf", "00ff", &seal));
        assert!(!key(1).verifies("docx2pdf-cache/e/other.pdf", "00ff", &seal));
        assert!(!key(1).verifies("docx2pdf-cache/e/k.pdf", "00fe", &seal));
        assert!(!key(1).verifies("docx2pdf-cache/e/k.pdf", "00ff", "not hex"));
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(SealKey::new(vec![7; 31]).is_err());
    }
}
