//! What an RTF file can make LibreOffice hold that its size does not say:
//! how deep it nests its groups, and how large its pictures are.
//!
//! LibreOffice's RTF import keeps state per open group: 200,000 nested
//! groups in a 400 KB file took a process to 695 MB, and ten times as many
//! would take it past any cap. Word's own files nest a few dozen deep; the
//! limit is `Limits::max_rtf_depth` (1,000). A picture (`\pict`) is hex in
//! the text, outside any zip part, and decoded whole: its header is read as
//! a zip part's is (`Limits::max_picture_pixels`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::office::error::ConvertError;

/// Refuses an RTF file whose groups nest deeper than `max_depth`, or
/// that holds a picture (`{\pict ...}`) whose header declares more pixels
/// than `max_pixels`: LibreOffice decodes an RTF picture whole, and no zip
/// part holds it for the package check to see. One pass over the file.
pub fn check(path: &Path, max_depth: usize, max_pixels: u64) -> Result<(), ConvertError> {
    let unreadable =
        |e: std::io::Error| ConvertError::Internal(format!("cannot read {}: {e}", path.display()));
    let file = File::open(path).map_err(unreadable)?;
    let mut refused = None;
    let depth = scan(BufReader::new(file), |head| {
        if refused.is_none() {
            refused = super::check_picture("an RTF picture", head, max_pixels).err();
        }
    })
    .map_err(unreadable)?;
    if depth > max_depth {
        return Err(ConvertError::Bomb(format!(
            "RTF groups nested {depth} deep (at most {max_depth})"
        )));
    }
    refused.map_or(Ok(()), Err)
}

/// The first bytes of a picture's data kept for its header: every format's
/// header that gives a size fits.
const PICTURE_HEAD: usize = 64 << 10;

/// What an RTF stream is made of, as far as its readers here care (these
/// checks, and the rewriting of its properties, `office::file_properties`).
pub(in crate::office) enum Token<'a> {
    Open,
    Close,
    /// A control word (its parameter is read, and used here for `\binN`).
    Word(&'a [u8]),
    /// One raw byte of a `\binN`.
    Binary(u8),
    /// Any other byte (text, hex digits of picture data).
    Byte(u8),
}

/// Calls `on` with each token of `reader` and the offset of its first
/// byte. Escaped braces (`\{`, `\}`) and the raw bytes of `\binN` are
/// neither groups nor text.
pub(in crate::office) fn tokens(
    reader: impl BufRead,
    mut on: impl FnMut(usize, Token<'_>),
) -> std::io::Result<()> {
    let mut bytes = reader.bytes();
    let mut offset = 0;
    let mut next_byte = || -> std::io::Result<Option<(usize, u8)>> {
        let byte = bytes.next().transpose()?;
        offset += usize::from(byte.is_some());
        Ok(byte.map(|b| (offset - 1, b)))
    };
    let mut word = Vec::new();
    // A control word ends at the first byte that is not part of it; that
    // byte is the stream's again, unless it is the space that delimits.
    let mut pending: Option<(usize, u8)> = None;
    loop {
        let (at, byte) = match pending.take() {
            Some(read) => read,
            None => match next_byte()? {
                Some(read) => read,
                None => return Ok(()),
            },
        };
        match byte {
            b'{' => on(at, Token::Open),
            b'}' => on(at, Token::Close),
            b'\\' => {
                word.clear();
                let mut next = next_byte()?;
                while let Some((_, c)) = next.filter(|(_, c)| c.is_ascii_alphabetic()) {
                    word.push(c);
                    next = next_byte()?;
                }
                // An escaped symbol (\{ \} \\) ends here, the symbol with it.
                if word.is_empty() {
                    continue;
                }
                let mut parameter = 0u64;
                if next.is_some_and(|(_, c)| c == b'-') {
                    next = next_byte()?;
                }
                while let Some((_, digit)) = next.filter(|(_, c)| c.is_ascii_digit()) {
                    parameter = parameter.saturating_mul(10) + u64::from(digit - b'0');
                    next = next_byte()?;
                }
                on(at, Token::Word(&word));
                if word == b"bin" {
                    for _ in 0..parameter {
                        match next_byte()? {
                            Some((at, raw)) => on(at, Token::Binary(raw)),
                            None => break,
                        }
                    }
                }
                pending = next.filter(|&(_, c)| c != b' ');
            }
            other => on(at, Token::Byte(other)),
        }
    }
}

/// A `\pict` group being read: its depth, and its data's first bytes.
struct Picture {
    depth: usize,
    head: Vec<u8>,
    /// The high half of a byte whose hex digits are split.
    nibble: Option<u8>,
}

impl Picture {
    fn push(&mut self, byte: u8) {
        if self.head.len() < PICTURE_HEAD {
            self.head.push(byte);
        }
    }

    fn hex_digit(&mut self, digit: u8) {
        match self.nibble.take() {
            Some(high) => self.push(high << 4 | digit),
            None => self.nibble = Some(digit),
        }
    }
}

/// The deepest group nesting of an RTF stream; and `found` called with the
/// first bytes of each picture's data: its hex digits decoded, or its
/// `\binN` bytes, at the `\pict` group's own level (a nested group such as
/// `{\*\blipuid ...}` is not the data).
fn scan(reader: impl BufRead, mut found: impl FnMut(&[u8])) -> std::io::Result<usize> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut picture: Option<Picture> = None;
    tokens(reader, |_, token| {
        let at_its_level = picture.as_ref().is_some_and(|p| p.depth == depth);
        match token {
            Token::Open => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::Close => {
                if at_its_level && let Some(done) = picture.take() {
                    found(&done.head);
                }
                depth = depth.saturating_sub(1);
            }
            Token::Word(b"pict") => {
                picture = Some(Picture {
                    depth,
                    head: Vec::new(),
                    nibble: None,
                });
            }
            Token::Binary(raw) if at_its_level => {
                if let Some(picture) = picture.as_mut() {
                    picture.push(raw);
                }
            }
            Token::Byte(c) if at_its_level && c.is_ascii_hexdigit() => {
                let digit = (c as char).to_digit(16).expect("a hex digit") as u8;
                if let Some(picture) = picture.as_mut() {
                    picture.hex_digit(digit);
                }
            }
            _ => {}
        }
    })?;
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(rtf: &str) -> usize {
        scan(rtf.as_bytes(), |_| {}).unwrap()
    }

    #[test]
    fn groups_are_counted_escapes_and_binary_data_are_not() {
        assert_eq!(depth(r"{\rtf1 {\b bold} text}"), 2);
        assert_eq!(depth(r"{\rtf1 \{ not a group \} \\}"), 1);
        assert_eq!(depth(r"{\rtf1{\*\generator x;}}"), 2);
        assert_eq!(depth("{\\rtf1 {\\bin4 {{{{} x}"), 2);
        assert_eq!(depth(r"{\rtf1 \par{\i x}}"), 2);
        // A control word's delimiter is not swallowed: here it is an escape.
        assert_eq!(depth(r"{\rtf1 \b\{ not a group}"), 1);
    }

    fn heads(rtf: &[u8]) -> Vec<Vec<u8>> {
        let mut found = Vec::new();
        scan(rtf, |head| found.push(head.to_vec())).unwrap();
        found
    }

    #[test]
    fn a_pictures_data_is_its_hex_or_binary_at_its_own_level() {
        let rtf = b"{\\rtf1 {\\pict\\pngblip\\picw1 {\\*\\blipuid ffff}\n8950 4e\n47}{\\pict \\bin3 abc}{\\b 89}}";
        assert_eq!(
            heads(rtf),
            vec![vec![0x89, 0x50, 0x4e, 0x47], b"abc".to_vec()]
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep.rtf");
        let depth = 1001;
        std::fs::write(
            &path,
            format!(r"{{\rtf1 {}x{}}}", "{".repeat(depth), "}".repeat(depth)),
        )
        .unwrap();
        let error = check(&path, 1000, u64::MAX).unwrap_err();
        assert_eq!(error.kind(), "bomb");
        assert!(error.to_string().contains("1002 deep"), "{error}");
        std::fs::write(&path, r"{\rtf1 {\b fine}}").unwrap();
        assert!(check(&path, 1000, u64::MAX).is_ok());
    }
}
