//! The PDF's title, author, subject and keywords, and `clear-metadata`,
//! set as the document's own properties in the package inspection rebuilt,
//! before LibreOffice reads it: LibreOffice makes the PDF's Info
//! dictionary and a PDF/A's XMP from them alike. OOXML keeps them in its
//! core properties part (`docProps/core.xml`, found through the package's
//! relationships), OpenDocument in `meta.xml`; a package without one gets
//! one. Binary Office, RTF and text files keep their own.

use tempfile::NamedTempFile;

use super::ConvertError;
use super::package_parts::{
    CONTENT_TYPES, EMPTY_RELATIONSHIPS, Format, MANIFEST, Package, before_last,
};
use crate::options::Properties;

const DC: &str = "http://purl.org/dc/elements/1.1/";
const CP: &str = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties";
const META: &str = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0";
const OFFICE: &str = "urn:oasis:names:tc:opendocument:xmlns:office:1.0";

/// `package` with its properties as `asked`, as a new file in `work`.
pub(super) fn with_properties(
    package: NamedTempFile,
    format: Format,
    asked: &Properties,
    work: &std::path::Path,
) -> Result<NamedTempFile, ConvertError> {
    let mut package = Package::open(package)?;
    let parts = match format {
        Format::Ooxml => ooxml_parts(&mut package, asked)?,
        Format::Odf => odf_parts(&mut package, asked)?,
    };
    package.with(parts, work)
}

/// The core properties part rewritten, or added with its relationship
/// and content type.
fn ooxml_parts(
    package: &mut Package,
    asked: &Properties,
) -> Result<Vec<(String, String)>, ConvertError> {
    let rels = package.read(ROOT_RELATIONSHIPS)?;
    let named = rels.as_deref().and_then(core_part_of);
    let existing = match &named {
        Some(name) => package.read(name)?,
        None => None,
    };
    let fresh = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties xmlns:cp="{CP}" xmlns:dc="{DC}"></cp:coreProperties>"#
    );
    let base = existing.filter(|_| !asked.clear).unwrap_or(fresh);
    let elements = asked.set_ones().map(|(option, value)| {
        let (namespace, element) = match option {
            "title" => (DC, "dc:title"),
            "author" => (DC, "dc:creator"),
            "subject" => (DC, "dc:subject"),
            _ => (CP, "cp:keywords"),
        };
        (element, namespace, value)
    });
    let core = set_elements(&base, "coreProperties", elements.collect());
    let Some(name) = named else {
        let relationship = r#"<Relationship Id="rIdDocx2pdfCore" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>"#;
        let content_type = r#"<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>"#;
        let rels = rels.unwrap_or_else(|| EMPTY_RELATIONSHIPS.into());
        let types = package.read(CONTENT_TYPES)?.unwrap_or_default();
        return Ok(vec![
            ("docProps/core.xml".into(), core),
            (
                ROOT_RELATIONSHIPS.into(),
                before_last(&rels, "</Relationships>", relationship),
            ),
            (
                CONTENT_TYPES.into(),
                before_last(&types, "</Types>", content_type),
            ),
        ]);
    };
    Ok(vec![(name, core)])
}

const ROOT_RELATIONSHIPS: &str = "_rels/.rels";

/// The core properties part the package's relationships name.
fn core_part_of(rels: &str) -> Option<String> {
    let at = rels.find("/metadata/core-properties\"")?;
    let start = rels[..at].rfind('<')?;
    let end = at + rels[at..].find('>')?;
    let element = &rels[start..end];
    let target = element.split("Target=\"").nth(1)?.split('"').next()?;
    Some(target.trim_start_matches('/').to_string())
}

/// `meta.xml` rewritten, or added with its manifest entry.
fn odf_parts(
    package: &mut Package,
    asked: &Properties,
) -> Result<Vec<(String, String)>, ConvertError> {
    let existing = package.read("meta.xml")?;
    let added = existing.is_none();
    let fresh = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="{OFFICE}" xmlns:meta="{META}" xmlns:dc="{DC}" office:version="1.3"><office:meta></office:meta></office:document-meta>"#
    );
    let base = existing.filter(|_| !asked.clear).unwrap_or(fresh);
    let elements = asked.set_ones().map(|(option, value)| {
        // LibreOffice's author is the initial creator; dc:creator is
        // whoever saved it last.
        let (namespace, element) = match option {
            "title" => (DC, "dc:title"),
            "author" => (META, "meta:initial-creator"),
            "subject" => (DC, "dc:subject"),
            _ => (META, "meta:keyword"),
        };
        (element, namespace, value)
    });
    let meta = set_elements(&base, "meta", elements.collect());
    let mut parts = vec![("meta.xml".to_string(), meta)];
    if added && let Some(manifest) = package.read(MANIFEST)? {
        let entry = r#"<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>"#;
        parts.push((
            MANIFEST.into(),
            before_last(&manifest, "</manifest:manifest>", entry),
        ));
    }
    Ok(parts)
}

/// `xml` with each of `elements` (name with its prefix, the prefix's
/// namespace, text) in place of the elements of that local name, at the
/// end of the element whose local name is `parent`.
fn set_elements(xml: &str, parent: &str, elements: Vec<(&str, &str, &str)>) -> String {
    let mut xml = xml.to_string();
    let mut added = String::new();
    for (name, namespace, text) in elements {
        let (prefix, local) = name.split_once(':').unwrap_or(("", name));
        xml = remove_local(&xml, local);
        let text = escape(text);
        added += &format!(r#"<{name} xmlns:{prefix}="{namespace}">{text}</{name}>"#);
    }
    match closing_tag(&xml, parent) {
        Some(at) => format!("{}{added}{}", &xml[..at], &xml[at..]),
        None => xml,
    }
}

/// Where the end tag of the last element whose local name is `local` starts.
fn closing_tag(xml: &str, local: &str) -> Option<usize> {
    let mut found = None;
    for (at, _) in xml.match_indices("</") {
        let name = &xml[at + 2..at + 2 + xml[at + 2..].find('>')?];
        if name.rsplit(':').next() == Some(local) {
            found = Some(at);
        }
    }
    found
}

/// `xml` without the elements whose local name is `local` (text-only
/// elements, as these properties are).
fn remove_local(xml: &str, local: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = next_start(rest, local) {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(tag_end) = after.find('>') else {
            return out + after;
        };
        let name = &after[1..after[1..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .map_or(tag_end, |n| n + 1)];
        let end = if after[..tag_end].ends_with('/') {
            tag_end + 1
        } else {
            let close = format!("</{name}>");
            after.find(&close).map_or(tag_end + 1, |c| c + close.len())
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next start tag whose local name is `local` begins.
fn next_start(xml: &str, local: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(open) = xml[from..].find('<').map(|o| from + o) {
        let tag = &xml[open + 1..];
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(tag.len());
        let name = &tag[..name_end];
        if !name.is_empty() && name.rsplit(':').next() == Some(local) && !name.starts_with('/') {
            return Some(open);
        }
        from = open + 1;
    }
    None
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_property_replaces_the_documents_own_and_others_stay() {
        let core = r#"<cp:coreProperties xmlns:cp="c" xmlns:dc="d"><dc:title>Old</dc:title><dc:creator>Ann</dc:creator><cp:keywords/></cp:coreProperties>"#;
        let set = set_elements(
            core,
            "coreProperties",
            vec![
                ("dc:title", DC, "Q3 <report> & more"),
                ("cp:keywords", CP, "a, b"),
            ],
        );
        assert_eq!(
            set,
            format!(
                r#"<cp:coreProperties xmlns:cp="c" xmlns:dc="d"><dc:creator>Ann</dc:creator><dc:title xmlns:dc="{DC}">Q3 &lt;report&gt; &amp; more</dc:title><cp:keywords xmlns:cp="{CP}">a, b</cp:keywords></cp:coreProperties>"#
            )
        );
    }

    #[test]
    fn the_core_part_is_found_by_its_relationship() {
        let rels = r#"<Relationships><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/props/core.xml"/></Relationships>"#;
        assert_eq!(core_part_of(rels).as_deref(), Some("props/core.xml"));
        assert_eq!(core_part_of("<Relationships/>"), None);
    }
}
