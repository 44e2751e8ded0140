//! Pictures written into a package's XML as base64, which LibreOffice
//! decodes like any other: an SVG's `data:` URIs (`href="data:image/png;
//! base64,..."`) and OpenDocument's `<office:binary-data>` (legal inside
//! `content.xml`). No zip part holds them, so the
//! part check never sees their headers; this reads each one's as the XML
//! streams past during inspection, decoding only the first bytes.

use std::io::Write;

use base64::Engine as _;

use super::picture::check_picture;
use crate::office::error::ConvertError;

/// What comes just before a base64 picture: a `data:` URI's marker (its
/// case does not matter) and the end of a `binary-data` start tag.
const MARKERS: [&[u8]; 2] = [b"base64,", b"binary-data>"];
/// Both markers start with this letter (either case), so bytes up to its
/// next appearance can be skipped unread.
const FIRST: u8 = b'b';
const _: () = assert!(MARKERS[0][0] == FIRST && MARKERS[1][0] == FIRST);
/// Base64 characters read of each picture: 48 KB decoded, as much as any
/// picture header needs (what a zip part's check reads is 64 KB).
const HEAD_CHARS: usize = 64 << 10;

/// A sink for an XML part that checks each inline picture's header
/// against `max_pixels`; a write fails once one is refused, with the
/// reason in [`InlinePictures::refused`].
pub(super) struct InlinePictures<'a> {
    name: &'a str,
    max_pixels: u64,
    /// How much of each marker the last bytes matched.
    matched: [usize; MARKERS.len()],
    /// The base64 of the picture being read, if one is.
    picture: Option<Vec<u8>>,
    pub(super) refused: Option<ConvertError>,
}

impl<'a> InlinePictures<'a> {
    pub(super) fn new(name: &'a str, max_pixels: u64) -> InlinePictures<'a> {
        InlinePictures {
            name,
            max_pixels,
            matched: [0; MARKERS.len()],
            picture: None,
            refused: None,
        }
    }

    fn take(&mut self, byte: u8) -> Result<(), ConvertError> {
        if let Some(picture) = &mut self.picture {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => picture.push(byte),
                b'-' => picture.push(b'+'),
                b'_' => picture.push(b'/'),
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => return self.end_of_picture(),
            }
            if picture.len() >= HEAD_CHARS {
                return self.end_of_picture();
            }
            return Ok(());
        }
        let lower = byte.to_ascii_lowercase();
        for (matched, marker) in self.matched.iter_mut().zip(MARKERS) {
            // No marker starts again inside itself, so a mismatch can only
            // be the start of a new match.
            *matched = if marker[*matched] == lower {
                *matched + 1
            } else {
                usize::from(marker[0] == lower)
            };
            if *matched == marker.len() {
                *matched = 0;
                self.picture = Some(Vec::new());
            }
        }
        Ok(())
    }

    /// Checks the header of the picture read so far, and looks for the next.
    fn end_of_picture(&mut self) -> Result<(), ConvertError> {
        let Some(mut base64) = self.picture.take() else {
            return Ok(());
        };
        base64.truncate(base64.len() / 4 * 4);
        let Ok(head) = base64::engine::general_purpose::STANDARD.decode(&base64) else {
            return Ok(());
        };
        let what = format!("a picture written into {} as base64", self.name);
        check_picture(&what, &head, self.max_pixels)
    }
}

impl Write for InlinePictures<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut at = 0;
        while at < buf.len() {
            // Neither a picture nor a marker under way: only a marker's
            // first letter can change that.
            if self.picture.is_none() && self.matched == [0; MARKERS.len()] {
                let upper = FIRST.to_ascii_uppercase();
                match memchr::memchr2(FIRST, upper, &buf[at..]) {
                    Some(skipped) => at += skipped,
                    None => break,
                }
            }
            if let Err(refused) = self.take(buf[at]) {
                self.refused = Some(refused);
                return Err(std::io::Error::other("a picture was refused"));
            }
            at += 1;
        }
        Ok(buf.len())
    }

    /// The part's end may end a picture too.
    fn flush(&mut self) -> std::io::Result<()> {
        self.end_of_picture().map_err(|refused| {
            self.refused = Some(refused);
            std::io::Error::other("a picture was refused")
        })
    }
}

/// Whether a part's first bytes are XML (after a byte-order mark and
/// white space): the parts inline pictures can be written into.
pub(super) fn is_xml(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 100_000_000;

    fn png(side: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(side.to_be_bytes());
        png.extend(side.to_be_bytes());
        png.extend([1, 0, 0, 0, 0, 0, 0, 0, 0]);
        png
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The refusal `xml`, written in chunks of `chunk` bytes, gives.
    fn scan(xml: &str, chunk: usize) -> Option<String> {
        let mut sink = InlinePictures::new("content.xml", MAX);
        let written = xml
            .as_bytes()
            .chunks(chunk)
            .try_for_each(|c| sink.write_all(c))
            .and_then(|()| sink.flush());
        assert_eq!(written.is_err(), sink.refused.is_some());
        sink.refused.map(|e| e.to_string())
    }

    #[test]
    fn a_data_uri_and_binary_data_are_read_to_their_headers() {
        let huge = b64(&png(20_000));
        let svg = format!(r#"<svg><image href="DATA:image/png;BASE64,{huge}"/></svg>"#);
        let odf = format!("<draw:image><office:binary-data>\n{huge}\n</office:binary-data>");
        for xml in [svg, odf] {
            for chunk in [1, 7, 4096] {
                let why = scan(&xml, chunk).expect("refused");
                assert!(why.contains("20000 x 20000 pixels"), "{why}");
                assert!(why.contains("written into content.xml as base64"), "{why}");
            }
        }
    }

    #[test]
    fn small_pictures_and_text_that_only_looks_like_a_marker_pass() {
        let small = b64(&png(1_000));
        let xml = format!(
            r#"<p>base64, is an encoding</p><image href="data:image/png;base64,{small}"/><x>binary-data></x>"#
        );
        assert_eq!(scan(&xml, 3), None);
    }

    /// Bytes are skipped up to a marker's first letter: a false start just
    /// before a marker, or a marker cut between writes, is still found.
    #[test]
    fn a_marker_after_a_false_start_or_across_writes_is_found() {
        let huge = b64(&png(20_000));
        for xml in [
            format!("<x>bbBase64,{huge}</x>"),
            format!("<x>bBINARY-DATA>{huge}</x>"),
        ] {
            for chunk in [1, 2, 5, 4096] {
                assert!(scan(&xml, chunk).is_some(), "{chunk}: {}", &xml[..20]);
            }
        }
    }

    #[test]
    fn a_picture_at_the_very_end_of_the_part_is_read_too() {
        let xml = format!("<x>data:image/png;base64,{}", b64(&png(20_000)));
        assert!(scan(&xml, 64).is_some());
    }

    #[test]
    fn only_xml_is_scanned() {
        assert!(is_xml(b"\xEF\xBB\xBF  \n<?xml version='1.0'?>"));
        assert!(is_xml(b"<svg/>"));
        assert!(!is_xml(b"\x89PNG\r\n"));
        assert!(!is_xml(b""));
    }
}
