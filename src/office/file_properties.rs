//! `clear-metadata` for the files we do not rebuild as packages: a
//! compound file's (`.doc`, `.xls`, `.ppt`) property-set streams removed,
//! an RTF's `{\info ...}` group cut. LibreOffice takes a document's title,
//! author, subject and keywords from there; without them its PDF carries
//! none. Setting them (`title` and the rest) is not done for these files.

use std::io::Write;
use std::path::Path;

use super::ConvertError;

/// The property sets of a compound file: the summary (title, subject,
/// author, keywords, comments, last author) and the document summary
/// (company, manager, category, custom properties).
const PROPERTY_STREAMS: [&str; 2] = [
    "/\u{5}SummaryInformation",
    "/\u{5}DocumentSummaryInformation",
];

/// Removes the property sets of the compound file at `path`, in place.
pub(super) fn clear_compound(path: &Path) -> Result<(), ConvertError> {
    let unreadable =
        |e: std::io::Error| ConvertError::Corrupt(format!("unreadable OLE2 compound file: {e}"));
    let mut compound = cfb::open_rw(path).map_err(unreadable)?;
    for stream in PROPERTY_STREAMS {
        if compound.exists(stream) {
            compound.remove_stream(stream).map_err(unreadable)?;
        }
    }
    compound.flush().map_err(unreadable)
}

/// Cuts the `{\info ...}` group out of the RTF file at `path`, in place.
pub(super) fn clear_rtf(path: &Path) -> Result<(), ConvertError> {
    let text = std::fs::read(path)?;
    if let Some(group) = info_group(&text) {
        let mut out = std::fs::File::create(path)?;
        out.write_all(&text[..group.start])?;
        out.write_all(&text[group.end..])?;
    }
    Ok(())
}

/// Where the document's `{\info ...}` group is (one level inside the
/// outermost group), braces included. Escaped braces and a `\binN`'s raw
/// bytes are neither groups nor words.
fn info_group(rtf: &[u8]) -> Option<std::ops::Range<usize>> {
    let (mut depth, mut start, mut at) = (0usize, None, 0);
    while at < rtf.len() {
        match rtf[at] {
            b'{' => {
                depth += 1;
                if depth == 2 && start.is_none() && word_at(rtf, at + 1) == Some(b"info") {
                    start = Some(at);
                }
            }
            b'}' => {
                if let (2, Some(from)) = (depth, start) {
                    return Some(from..at + 1);
                }
                depth = depth.saturating_sub(1);
            }
            b'\\' => match word_at(rtf, at) {
                Some(word) if word.starts_with(b"bin") => {
                    let (length, end) = parameter(rtf, at + 1 + word.len());
                    at = end.saturating_add(length);
                    continue;
                }
                Some(word) => at += word.len(),
                // An escaped character, `\{` among them.
                None => at += 1,
            },
            _ => {}
        }
        at += 1;
    }
    None
}

/// The control word (its letters) of the backslash at `at`, if one is
/// there.
fn word_at(rtf: &[u8], at: usize) -> Option<&[u8]> {
    let rest = rtf.get(at + 1..).filter(|_| rtf.get(at) == Some(&b'\\'))?;
    let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    (letters > 0).then(|| &rest[..letters])
}

/// The number after a control word's letters at `at`, and where the word
/// ends (its one delimiting space included).
fn parameter(rtf: &[u8], at: usize) -> (usize, usize) {
    let digits = rtf[at.min(rtf.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let number = std::str::from_utf8(&rtf[at..at + digits])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let end = at + digits;
    (number, end + usize::from(rtf.get(end) == Some(&b' ')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(rtf: &str) -> String {
        let bytes = rtf.as_bytes();
        match info_group(bytes) {
            Some(group) => [&bytes[..group.start], &bytes[group.end..]]
                .concat()
                .iter()
                .map(|&b| b as char)
                .collect(),
            None => rtf.to_string(),
        }
    }

    #[test]
    fn the_info_group_goes_and_nothing_else() {
        let rtf = r"{\rtf1{\info{\title Q3 \{draft\}}{\author Ann}}\pard Text\par}";
        assert_eq!(cut(rtf), r"{\rtf1\pard Text\par}");
        // Not a group named otherwise, nor one deeper, nor escaped text.
        let kept = r"{\rtf1{\infoline x}{\pard {\info y}}\{\info z\}}";
        assert_eq!(cut(kept), kept);
    }

    #[test]
    fn binary_data_before_it_is_skipped_whole() {
        let rtf = "{\\rtf1{\\pict\\bin3 {{{}{\\info{\\author Ann}}x}";
        assert_eq!(cut(rtf), "{\\rtf1{\\pict\\bin3 {{{}x}");
    }
}
