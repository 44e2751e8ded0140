//! The PDF's properties for the files we copy rather than rebuild as
//! packages. LibreOffice takes a document's title, author, subject and
//! keywords from an RTF's `{\info ...}` group and from a compound file's
//! (`.doc`, `.xls`, `.ppt`) summary property set. Each is rewritten with
//! what the options set, over the document's own (`clear-metadata`: with
//! nothing of the document's; a compound file loses its document summary
//! set too).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;

use super::{ConvertError, property_set};
use crate::options::Properties;

/// The property sets of a compound file: the summary (title, subject,
/// author, keywords, comments, last author) and the document summary
/// (company, manager, category, custom properties).
const PROPERTY_STREAMS: [&str; 2] = [
    "/\u{5}SummaryInformation",
    "/\u{5}DocumentSummaryInformation",
];

/// Writes `asked` into the summary property set of the compound file at
/// `path`, in place.
pub(super) fn write_compound(path: &Path, asked: &Properties) -> Result<(), ConvertError> {
    let unreadable =
        |e: std::io::Error| ConvertError::Corrupt(format!("unreadable OLE2 compound file: {e}"));
    let mut compound = cfb::open_rw(path).map_err(unreadable)?;
    let [summary, document_summary] = PROPERTY_STREAMS;
    let mut properties = BTreeMap::new();
    if !asked.clear && compound.exists(summary) {
        let mut bytes = Vec::new();
        let stream = compound.open_stream(summary).map_err(unreadable)?;
        stream.take(1 << 20).read_to_end(&mut bytes)?;
        properties = property_set::read(&bytes);
    }
    for (name, value) in asked.set_ones() {
        if let Some(&(_, pid)) = property_set::PIDS.iter().find(|(n, _)| *n == name) {
            properties.insert(pid, value.to_string());
        }
    }
    for stream in [Some(summary), asked.clear.then_some(document_summary)]
        .into_iter()
        .flatten()
    {
        if compound.exists(stream) {
            compound.remove_stream(stream).map_err(unreadable)?;
        }
    }
    if !properties.is_empty() {
        let mut stream = compound.create_stream(summary).map_err(unreadable)?;
        stream.write_all(&property_set::write(&properties))?;
    }
    compound.flush().map_err(unreadable)
}

/// Writes `asked` into the `{\info ...}` group of the RTF file at `path`,
/// in place: each property set replaces the document's; `clear` leaves
/// none of the document's.
pub(super) fn write_rtf(path: &Path, asked: &Properties) -> Result<(), ConvertError> {
    let rtf = std::fs::read(path)?;
    let groups = groups(&rtf);
    let info = groups.iter().find(|g| g.depth == 2 && g.word == b"info");
    let mut group = b"{\\info".to_vec();
    if let (Some(info), false) = (info, asked.clear) {
        let replaced: Vec<&str> = asked.set_ones().map(|(name, _)| name).collect();
        let children = groups
            .iter()
            .filter(|g| g.depth == 3 && within(&g.at, &info.at));
        for child in children {
            let word = std::str::from_utf8(child.word).unwrap_or("");
            if !replaced.contains(&word) {
                group.extend(&rtf[child.at.clone()]);
            }
        }
    }
    for (name, value) in asked.set_ones() {
        group.extend(format!("{{\\{name} {}}}", rtf_text(value)).bytes());
    }
    group.push(b'}');
    // Without a group of its own, just inside the document's.
    let at = info.map_or(start_of_body(&rtf), |info| info.at.clone());
    let mut out = std::fs::File::create(path)?;
    out.write_all(&rtf[..at.start])?;
    out.write_all(&group)?;
    out.write_all(&rtf[at.end..])?;
    Ok(())
}

fn within(inner: &Range<usize>, outer: &Range<usize>) -> bool {
    outer.start < inner.start && inner.end <= outer.end
}

/// Where a new group may go: after the `\rtfN` word that opens the file.
fn start_of_body(rtf: &[u8]) -> Range<usize> {
    let at = match word_at(rtf, 1) {
        Some(b"rtf") => parameter(rtf, 2 + 3).1,
        _ => 1,
    };
    at..at
}

/// `text` as RTF text: braces and backslashes escaped, anything beyond
/// printable ASCII as `\uN?` (UTF-16, signed, with `?` for readers
/// without Unicode).
fn rtf_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{}?", *unit as i16));
                }
            }
        }
    }
    out
}

/// A group of an RTF file: its braces, how deep it is (the document's own
/// is 1), and its first control word (empty if none opens it).
struct Group<'a> {
    at: Range<usize>,
    depth: usize,
    word: &'a [u8],
}

/// The most groups an info group's own are read: Word writes a dozen.
const MOST_CHILDREN: usize = 1024;

/// The document's info group (one level inside the outermost group) and
/// the groups directly inside it, in the order they close; nothing is kept
/// of any other group, however many the file has. Escaped braces and a
/// `\binN`'s raw bytes are neither groups nor words.
fn groups(rtf: &[u8]) -> Vec<Group<'_>> {
    let (mut open, mut found, mut at) = (Vec::new(), Vec::new(), 0);
    let mut in_info = false;
    while at < rtf.len() {
        match rtf[at] {
            b'{' => {
                open.push(at);
                in_info |= open.len() == 2 && word_at(rtf, at + 1) == Some(b"info");
            }
            b'}' => {
                let (Some(start), true) = (open.pop(), in_info) else {
                    at += 1;
                    continue;
                };
                let (depth, word) = (open.len() + 1, word_at(rtf, start + 1).unwrap_or(b""));
                if depth == 2 || (depth == 3 && found.len() < MOST_CHILDREN) {
                    found.push(Group {
                        at: start..at + 1,
                        depth,
                        word,
                    });
                }
                if depth == 2 {
                    break;
                }
            }
            b'\\' => match word_at(rtf, at) {
                Some(word) if word == b"bin" => {
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
    found
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
    let at = at.min(rtf.len());
    let digits = rtf[at..].iter().take_while(|b| b.is_ascii_digit()).count();
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

    fn written(rtf: &str, pairs: &[(&str, &str)]) -> String {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), rtf).unwrap();
        let mut options = crate::options::PdfOptions::default();
        for (name, value) in pairs {
            options.set(name, value).unwrap();
        }
        write_rtf(file.path(), &options.properties).unwrap();
        String::from_utf8(std::fs::read(file.path()).unwrap()).unwrap()
    }

    #[test]
    fn a_property_set_replaces_the_documents_and_keeps_the_rest() {
        let rtf = r"{\rtf1{\info{\title Old}{\author Ann}}\pard Text\par}";
        assert_eq!(
            written(rtf, &[("title", "Q3 {draft}")]),
            r"{\rtf1{\info{\author Ann}{\title Q3 \{draft\}}}\pard Text\par}"
        );
        assert_eq!(
            written(rtf, &[("clear-metadata", "true")]),
            r"{\rtf1{\info}\pard Text\par}"
        );
    }

    #[test]
    fn a_document_without_an_info_group_gets_one() {
        let rtf = r"{\rtf1\ansi\pard Text\par}";
        assert_eq!(
            written(rtf, &[("author", "Zoë 😀")]),
            r"{\rtf1{\info{\author Zo\u235? \u-10179?\u-8704?}}\ansi\pard Text\par}"
        );
    }

    #[test]
    fn of_a_file_of_many_groups_only_the_info_group_is_kept() {
        let rtf = format!("{{\\rtf1{}{{\\info{{\\title T}}}}}}", "{x}".repeat(100_000));
        let found = groups(rtf.as_bytes());
        let words: Vec<&[u8]> = found.iter().map(|g| g.word).collect();
        assert_eq!(words, [&b"title"[..], b"info"]);
    }

    #[test]
    fn only_the_documents_own_info_group_counts() {
        // Not a deeper group, escaped text or binary data that looks like one.
        let rtf = r"{\rtf1{\pict\bin7 {\info}}{\pard {\info y}}\{\info z\}}";
        assert_eq!(
            written(rtf, &[("title", "T")]),
            r"{\rtf1{\info{\title T}}{\pict\bin7 {\info}}{\pard {\info y}}\{\info z\}}"
        );
    }
}
