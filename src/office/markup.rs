//! A text document's tracked changes shown or hidden (`changes`), by its
//! own setting: LibreOffice reads WordprocessingML's `w:revisionView`
//! (measured: `w:insDel="false"` gives the document as if every change
//! were accepted) and OpenDocument's `ShowRedlineChanges` setting (the
//! same, measured with `false`). We write that setting into the package
//! inspection rebuilt, before LibreOffice reads it, rather than ask
//! LibreOffice to accept the changes.

use tempfile::NamedTempFile;

use super::ConvertError;
use super::package_parts::{
    CONTENT_TYPES, EMPTY_RELATIONSHIPS, Format, MANIFEST, Package, before_last,
};
use crate::options::Changes;

/// Where Word keeps a document's settings.
const SETTINGS: &str = "word/settings.xml";

/// The text documents whose tracked changes `changes` shows or hides, by
/// the extension they are read as.
pub(super) fn takes_changes(extension: &str) -> Option<Format> {
    match extension {
        "docx" | "docm" | "dotx" | "dotm" => Some(Format::Ooxml),
        "odt" | "ott" => Some(Format::Odf),
        _ => None,
    }
}

/// `package` (a rebuilt text document of `format`) with its tracked
/// changes shown or hidden, as a new file in `work`. A package without a
/// settings part gets one, with its relationship and content type (OOXML)
/// or manifest entry (OpenDocument).
pub(super) fn with_changes(
    package: NamedTempFile,
    format: Format,
    changes: Changes,
    work: &std::path::Path,
) -> Result<NamedTempFile, ConvertError> {
    let mut package = Package::open(package)?;
    let parts = match (format, package.read(settings_part(format))?) {
        (Format::Ooxml, Some(settings)) => {
            vec![(SETTINGS.into(), revision_view(&settings, changes))]
        }
        (Format::Ooxml, None) => new_settings(&mut package, changes)?,
        (Format::Odf, settings) => odf_settings(&mut package, settings, changes)?,
    };
    package.with(parts, work)
}

fn settings_part(format: Format) -> &'static str {
    match format {
        Format::Ooxml => SETTINGS,
        Format::Odf => ODF_SETTINGS,
    }
}

const ODF_SETTINGS: &str = "settings.xml";

/// OpenDocument's settings with `ShowRedlineChanges` as asked: its value
/// replaced, or the item added to the document's configuration settings;
/// a package without settings gets a settings part and its manifest entry.
fn odf_settings(
    package: &mut Package,
    settings: Option<String>,
    changes: Changes,
) -> Result<Vec<(String, String)>, ConvertError> {
    let shown = match changes {
        Changes::Show => "true",
        Changes::Hide => "false",
    };
    let item = format!(
        r#"<config:config-item config:name="ShowRedlineChanges" config:type="boolean">{shown}</config:config-item>"#
    );
    let Some(settings) = settings else {
        let fresh = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-settings xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" office:version="1.3"><office:settings><config:config-item-set config:name="ooo:configuration-settings">{item}</config:config-item-set></office:settings></office:document-settings>"#
        );
        let mut parts = vec![(ODF_SETTINGS.to_string(), fresh)];
        if let Some(manifest) = package.read(MANIFEST)? {
            let entry = r#"<manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>"#;
            parts.push((
                MANIFEST.into(),
                before_last(&manifest, "</manifest:manifest>", entry),
            ));
        }
        return Ok(parts);
    };
    let name = r#"config:name="ShowRedlineChanges""#;
    let rewritten = match settings.find(name) {
        Some(at) => {
            let start = settings[..at].rfind('<').unwrap_or(at);
            let end = settings[at..]
                .find("</config:config-item>")
                .map_or(settings.len(), |e| at + e + "</config:config-item>".len());
            format!("{}{item}{}", &settings[..start], &settings[end..])
        }
        None => {
            let set = r#"config:name="ooo:configuration-settings">"#;
            match settings.find(set) {
                Some(at) => format!(
                    "{}{item}{}",
                    &settings[..at + set.len()],
                    &settings[at + set.len()..]
                ),
                None => before_last(
                    &settings,
                    "</office:settings>",
                    &format!(
                        r#"<config:config-item-set config:name="ooo:configuration-settings">{item}</config:config-item-set>"#
                    ),
                ),
            }
        }
    };
    Ok(vec![(ODF_SETTINGS.to_string(), rewritten)])
}

/// A settings part for a package that has none, and the relationship and
/// content type that make it the document's.
fn new_settings(
    package: &mut Package,
    changes: Changes,
) -> Result<Vec<(String, String)>, ConvertError> {
    let empty = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"></w:settings>"#;
    let relationship = r#"<Relationship Id="rIdDocx2pdfSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>"#;
    let content_type = r#"<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>"#;
    let rels = package
        .read(RELATIONSHIPS)?
        .unwrap_or_else(|| EMPTY_RELATIONSHIPS.into());
    let types = package.read(CONTENT_TYPES)?.unwrap_or_default();
    Ok(vec![
        (SETTINGS.into(), revision_view(empty, changes)),
        (
            RELATIONSHIPS.into(),
            before_last(&rels, "</Relationships>", relationship),
        ),
        (
            CONTENT_TYPES.into(),
            before_last(&types, "</Types>", content_type),
        ),
    ])
}

const RELATIONSHIPS: &str = "word/_rels/document.xml.rels";

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

    #[test]
    fn opendocument_settings_get_the_item_once() {
        let package = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(package.reopen().unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("mimetype", options).unwrap();
        zip.finish().unwrap();
        let mut package = Package::open(package).unwrap();
        let with_item = r#"<office:settings><config:config-item-set config:name="ooo:configuration-settings"><config:config-item config:name="ShowRedlineChanges" config:type="boolean">true</config:config-item></config:config-item-set></office:settings>"#;
        for given in [with_item, "<office:settings></office:settings>"] {
            let parts = odf_settings(&mut package, Some(given.into()), Changes::Hide).unwrap();
            let text = &parts[0].1;
            assert_eq!(text.matches("ShowRedlineChanges").count(), 1, "{text}");
            assert!(text.contains(">false</config:config-item>"), "{text}");
        }
        let added = odf_settings(&mut package, None, Changes::Show).unwrap();
        assert!(added[0].1.contains(">true</config:config-item>"));
    }
}
