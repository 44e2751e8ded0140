//! A `.txt` or `.csv` must be text. LibreOffice's text import inflates a compressed
//! stream, whole and in memory, so only plain text reaches it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{OLE2_MAGIC, ZIP_MAGIC};
use crate::office::error::ConvertError;

/// Signatures of compressed streams (a gzipped 3.6 MB file took a process
/// past 4 GiB).
const COMPRESSED: &[(&[u8], &str)] = &[
    (&[0x1F, 0x8B], "gzip"),
    (b"BZh", "bzip2"),
    (&[0xFD, b'7', b'z', b'X', b'Z', 0x00], "xz"),
    (&[0x28, 0xB5, 0x2F, 0xFD], "zstd"),
];
const UTF16_BOMS: &[&[u8]] = &[&[0xFF, 0xFE], &[0xFE, 0xFF]];

/// A .txt or .csv (`extension`) must be text: not an Office document, not
/// compressed, and a .txt no NUL bytes in its first 64 KiB (UTF-16, which
/// has them, starts with a BOM). A .csv is decoded by [`super::csv`],
/// which finds NULs in the text its encoding gives.
pub fn check(path: &Path, extension: &str) -> Result<(), ConvertError> {
    let mut head = Vec::with_capacity(64 << 10);
    File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .map_err(|e| ConvertError::Internal(format!("cannot read {}: {e}", path.display())))?;
    if head.starts_with(OLE2_MAGIC) || head.starts_with(ZIP_MAGIC) {
        return Err(ConvertError::Corrupt(format!(
            "a .{extension} file that holds an Office document: give it its real extension (.docx, .xlsx, .odt ...)"
        )));
    }
    if let Some((_, format)) = COMPRESSED.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(ConvertError::Corrupt(format!(
            "a .{extension} file must be plain text, but this one is {format}-compressed data: decompress it first"
        )));
    }
    let decoded_later = extension == "csv";
    if !decoded_later && !UTF16_BOMS.iter().any(|bom| head.starts_with(bom)) && head.contains(&0) {
        return Err(ConvertError::Corrupt(format!(
            "a .{extension} file must be plain text, but this one holds binary data (NUL bytes)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::office::inspect::{self, Limits};

    fn text_verdict(bytes: &[u8]) -> Result<&'static str, ConvertError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, bytes).unwrap();
        // Through inspect, which sends a .txt here by its extension.
        inspect::check(&path, &path, &Limits::default(), dir.path()).map(|i| i.extension)
    }

    #[test]
    fn a_txt_must_be_text() {
        assert!(text_verdict(b"two lines\nof text\n").is_ok());
        assert!(text_verdict("caf\u{e9}, UTF-8".as_bytes()).is_ok());
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hi".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(text_verdict(&utf16).is_ok());
        for (bytes, said) in [
            (&[0x1F, 0x8B, 0x08, 0x00][..], "gzip-compressed"),
            (b"BZh91AY&SY", "bzip2-compressed"),
            (b"text\0with a NUL", "binary data"),
            (b"PK\x03\x04rest", "real extension"),
        ] {
            let error = text_verdict(bytes).unwrap_err();
            assert_eq!(error.kind(), "corrupt");
            assert!(error.to_string().contains(said), "{error}");
        }
    }
}
