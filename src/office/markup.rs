//! A Word document's tracked changes shown or hidden (`changes`), by its
//! own setting: LibreOffice reads WordprocessingML's `w:revisionView`
//! (measured: `w:insDel="false"` gives the document as if every change
//! were accepted). We write that setting into the package inspection
//! rebuilt, before LibreOffice reads it, rather than ask LibreOffice to
//! accept the changes.

use std::io::{Read, Seek, Write};

use tempfile::NamedTempFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::ConvertError;
use crate::options::Changes;

/// Where Word keeps a document's settings.
const SETTINGS: &str = "word/settings.xml";

/// The most a part read here may inflate to: Word's settings,
/// relationships and content types are a few KiB.
const LARGEST_PART: u64 = 4 << 20;

/// `package` (a rebuilt WordprocessingML package) with its tracked changes
/// shown or hidden, as a new file in `work`. A package without a settings
/// part gets one, with its relationship and content type.
pub(super) fn with_changes(
    package: NamedTempFile,
    changes: Changes,
    work: &std::path::Path,
) -> Result<NamedTempFile, ConvertError> {
    let mut zip = ZipArchive::new(package.reopen()?).map_err(broken)?;
    let parts = match read_part(&mut zip, SETTINGS)? {
        Some(settings) => vec![(SETTINGS, revision_view(&settings, changes))],
        None => new_settings(&mut zip, changes)?,
    };
    let mut out = NamedTempFile::new_in(work)?;
    let mut writer = ZipWriter::new(out.as_file_mut());
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(broken)?;
        let name = entry.name().map_err(broken)?.into_owned();
        if !parts.iter().any(|(part, _)| *part == name) {
            writer.raw_copy_file(entry).map_err(broken)?;
        }
    }
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, text) in parts {
        writer.start_file(name, options).map_err(broken)?;
        writer.write_all(text.as_bytes())?;
    }
    writer.finish().map_err(broken)?;
    out.as_file_mut().rewind()?;
    Ok(out)
}

/// A settings part for a package that has none, and the relationship and
/// content type that make it the document's.
fn new_settings<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    changes: Changes,
) -> Result<Vec<(&'static str, String)>, ConvertError> {
    let empty = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"></w:settings>"#;
    let relationship = r#"<Relationship Id="rIdDocx2pdfSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>"#;
    let content_type = r#"<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>"#;
    let rels = read_part(zip, RELATIONSHIPS)?.unwrap_or_else(|| {
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>"#.into()
    });
    let types = read_part(zip, CONTENT_TYPES)?.unwrap_or_default();
    Ok(vec![
        (SETTINGS, revision_view(empty, changes)),
        (
            RELATIONSHIPS,
            before_last(&rels, "</Relationships>", relationship),
        ),
        (CONTENT_TYPES, before_last(&types, "</Types>", content_type)),
    ])
}

/// `xml` with `insert` before its last `end`, or as it is without one.
fn before_last(xml: &str, end: &str, insert: &str) -> String {
    match xml.rfind(end) {
        Some(at) => format!("{}{insert}{}", &xml[..at], &xml[at..]),
        None => xml.to_string(),
    }
}

const RELATIONSHIPS: &str = "word/_rels/document.xml.rels";
const CONTENT_TYPES: &str = "[Content_Types].xml";

/// Part `name`, as text; None if the package has none.
fn read_part<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
) -> Result<Option<String>, ConvertError> {
    let Ok(entry) = zip.by_name(name) else {
        return Ok(None);
    };
    let mut text = String::new();
    (entry.take(LARGEST_PART + 1).read_to_string(&mut text))
        .map_err(|e| ConvertError::Corrupt(format!("{name} is not text: {e}")))?;
    if text.len() as u64 > LARGEST_PART {
        return Err(ConvertError::Corrupt(format!(
            "{name} is over {LARGEST_PART} bytes, which no Word document's is"
        )));
    }
    Ok(Some(text))
}

/// `settings` with its `revisionView` element replaced by one that shows
/// or hides insertions and deletions, as the first child of the root.
fn revision_view(settings: &str, changes: Changes) -> String {
    let Some((prefix, _)) = root_start(settings) else {
        return settings.to_string();
    };
    let prefix = prefix.to_string();
    let without = remove_element(settings, &format!("<{prefix}revisionView"));
    let Some((_, close)) = root_start(&without) else {
        return without;
    };
    let shown = match changes {
        Changes::Show => "true",
        Changes::Hide => "false",
    };
    let p = &prefix;
    let element = format!(r#"<{p}revisionView {p}markup="{shown}" {p}insDel="{shown}"/>"#);
    format!("{}{element}{}", &without[..=close], &without[close + 1..])
}

/// The prefix of the root element `settings` (`w:` in every file Word
/// writes), and where its start tag ends.
fn root_start(xml: &str) -> Option<(&str, usize)> {
    let mut from = 0;
    loop {
        let open = from + xml[from..].find('<')?;
        let tag = &xml[open + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            from = open + 1;
            continue;
        }
        let name = &tag[..tag.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?];
        let prefix = name.strip_suffix("settings")?;
        return Some((prefix, open + 1 + tag.find('>')?));
    }
}

/// `xml` without the elements that start with `start` (empty elements, as
/// `revisionView` always is, or with their end tag).
fn remove_element(xml: &str, start: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find(start) {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after.find("/>").map(|e| e + 2).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn broken(error: zip::result::ZipError) -> ConvertError {
    ConvertError::Internal(format!(
        "rewriting the settings of a rebuilt package: {error}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_view_is_set_once_at_the_top() {
        let settings = r#"<?xml version="1.0"?><w:settings xmlns:w="x"><w:zoom w:percent="100"/><w:revisionView w:insDel="0"/></w:settings>"#;
        let hidden = revision_view(settings, Changes::Hide);
        assert_eq!(
            hidden,
            r#"<?xml version="1.0"?><w:settings xmlns:w="x"><w:revisionView w:markup="false" w:insDel="false"/><w:zoom w:percent="100"/></w:settings>"#
        );
        let shown = revision_view(settings, Changes::Show);
        assert_eq!(shown.matches("revisionView").count(), 1, "{shown}");
        assert!(shown.contains(r#"w:insDel="true""#), "{shown}");
    }
}
