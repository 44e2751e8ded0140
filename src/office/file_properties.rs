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

use super::inspect::rtf::{Token, tokens};
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
    let layout = layout(&rtf)?;
    let mut group = b"{\\info".to_vec();
    if !asked.clear {
        let replaced: Vec<&[u8]> = asked.set_ones().map(|(name, _)| name.as_bytes()).collect();
        for child in layout
            .children
            .iter()
            .filter(|c| !replaced.contains(&c.word))
        {
            group.extend(&rtf[child.at.clone()]);
        }
    }
    for (name, value) in asked.set_ones() {
        group.extend(format!("{{\\{name} {}}}", rtf_text(value)).bytes());
    }
    group.push(b'}');
    // Without a group of its own, just inside the document's.
    let at = layout.info.unwrap_or(layout.body..layout.body);
    let mut out = std::fs::File::create(path)?;
    out.write_all(&rtf[..at.start])?;
    out.write_all(&group)?;
    out.write_all(&rtf[at.end..])?;
    Ok(())
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

/// A group inside the info group: its braces, and the control word that
/// opens it.
struct Group<'a> {
    at: Range<usize>,
    word: &'a [u8],
}

/// Where an RTF file's properties are: its info group (one level inside
/// the document's group), the groups directly inside that, and where a
/// group may go if it has none (after the `\rtfN` that opens the file).
struct Layout<'a> {
    info: Option<Range<usize>>,
    children: Vec<Group<'a>>,
    body: usize,
}

/// The most groups an info group's own are kept: Word writes a dozen.
const MOST_CHILDREN: usize = 1024;

/// The [`Layout`] of `rtf`, read by the tokenizer the inspection reads it
/// with; nothing is kept of any other group, however many the file has.
fn layout(rtf: &[u8]) -> std::io::Result<Layout<'_>> {
    // The groups open at a token: each one's start and first control word.
    let mut open: Vec<(usize, &[u8])> = Vec::new();
    let (mut just_opened, mut after_rtf) = (false, false);
    let mut layout = Layout {
        info: None,
        children: Vec::new(),
        body: rtf.len(),
    };
    tokens(rtf, |at, token| {
        if std::mem::take(&mut after_rtf) {
            layout.body = at;
        }
        let first = std::mem::take(&mut just_opened);
        match token {
            Token::Open => {
                open.push((at, b""));
                just_opened = true;
            }
            Token::Word(word) if first => {
                let word = &rtf[at + 1..at + 1 + word.len()];
                after_rtf = open.len() == 1 && word == b"rtf" && layout.body == rtf.len();
                if let Some(top) = open.last_mut() {
                    top.1 = word;
                }
            }
            Token::Close => {
                let Some((start, word)) = open.pop() else {
                    return;
                };
                let in_info = open.get(1).is_some_and(|&(_, w)| w == b"info");
                match open.len() + 1 {
                    _ if layout.info.is_some() => {}
                    2 if word == b"info" => layout.info = Some(start..at + 1),
                    3 if in_info && layout.children.len() < MOST_CHILDREN => {
                        (layout.children).push(Group {
                            at: start..at + 1,
                            word,
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    })?;
    Ok(layout)
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
        let layout = layout(rtf.as_bytes()).unwrap();
        let words: Vec<&[u8]> = layout.children.iter().map(|g| g.word).collect();
        assert_eq!(words, [&b"title"[..]]);
        assert!(layout.info.is_some());
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
