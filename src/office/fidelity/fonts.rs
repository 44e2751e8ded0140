//! The fonts a document asks for, read from its own parts: Word's styles
//! and runs (and the theme fonts they refer to), Excel's style sheet,
//! PowerPoint's slides, layouts, masters and theme, OpenDocument's font
//! declarations, RTF's font table. Binary Office 97 files and plain text
//! name none that is read here.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

/// The parts of an OOXML package that name fonts, by prefix: Word's styles,
/// body, headers, footers, notes and comments (its font table and theme
/// are read otherwise; its numbering names the symbol fonts of bullets,
/// which move no line), Excel's style sheet, PowerPoint's slides.
const OOXML_PARTS: &[&str] = &[
    "word/",
    "xl/styles.xml",
    "ppt/slides/",
    "ppt/slideLayouts/",
    "ppt/slideMasters/",
];

/// How much of one part is read for font names.
const PART_LIMIT: u64 = 16 << 20;

/// The font families the document at `path` (read as `extension`) asks
/// for, sorted; empty where the format names none we read, or on damage
/// (the conversion has already judged the document).
pub fn requested(path: &Path, extension: &str) -> Vec<String> {
    let names = match extension {
        "docx" | "docm" | "dotx" | "dotm" | "xlsx" | "xlsm" | "pptx" | "ppsx" => ooxml(path),
        "odt" | "ott" | "ods" | "odp" | "odg" => odf(path),
        "rtf" => rtf(path),
        _ => None,
    };
    names.unwrap_or_default().into_iter().collect()
}

fn ooxml(path: &Path) -> Option<BTreeSet<String>> {
    let mut zip = crate::office::inspect::lenient::open(std::fs::File::open(path).ok()?).ok()?;
    let mut names = BTreeSet::new();
    // The theme first: parts refer to its fonts wherever it is in the archive.
    let theme = ["word/theme/theme1.xml", "ppt/theme/theme1.xml"]
        .iter()
        .find_map(|name| {
            let mut text = String::new();
            let part = zip.by_name(name).ok()?;
            part.take(PART_LIMIT).read_to_string(&mut text).ok()?;
            Some(text)
        });
    for index in 0..zip.len() {
        let part = zip.by_index(index).ok()?;
        let name = part.name().ok()?.into_owned();
        let skipped = name.starts_with("word/theme/")
            || ["word/fontTable.xml", "word/numbering.xml"].contains(&name.as_str());
        if skipped || !OOXML_PARTS.iter().any(|p| name.starts_with(p)) || !name.ends_with(".xml") {
            continue;
        }
        let mut text = String::new();
        part.take(PART_LIMIT).read_to_string(&mut text).ok()?;
        // Latin text only: bullets and symbols (a:buFont, a:sym) and East
        // Asian or complex-script faces do not move Latin lines.
        for attribute in ["w:ascii", "w:hAnsi", "<a:latin typeface"] {
            let named = values(&text, attribute).into_iter();
            names.extend(named.filter(|v| !v.starts_with('+')).map(String::from));
        }
        // Excel: <font><name val="Calibri"/>.
        names.extend(values(&text, "<name val").into_iter().map(String::from));
        if text.contains("Theme=\"minor") || text.contains("+mn-lt") {
            names.extend(theme_font(theme.as_deref(), "a:minorFont"));
        }
        if text.contains("Theme=\"major") || text.contains("+mj-lt") {
            names.extend(theme_font(theme.as_deref(), "a:majorFont"));
        }
    }
    names.retain(|n| !n.is_empty());
    Some(names)
}

/// The Latin typeface of the theme's minor or major font.
fn theme_font(theme: Option<&str>, which: &str) -> Option<String> {
    let section = theme?.split_once(&format!("<{which}>"))?.1;
    values(section, "typeface").first().map(|v| v.to_string())
}

/// The faces an OpenDocument's styles use (`style:font-name`), by the
/// family each declares (`svg:font-family`): declared but unused faces
/// (LibreOffice declares many) are left out.
fn odf(path: &Path) -> Option<BTreeSet<String>> {
    let mut zip = crate::office::inspect::lenient::open(std::fs::File::open(path).ok()?).ok()?;
    let (mut used, mut families) = (BTreeSet::new(), Vec::new());
    for part in ["content.xml", "styles.xml"] {
        let Ok(file) = zip.by_name(part) else {
            continue;
        };
        let mut text = String::new();
        file.take(PART_LIMIT).read_to_string(&mut text).ok()?;
        used.extend(values(&text, " style:font-name").into_iter().map(unescape));
        for face in text.split("<style:font-face ").skip(1) {
            let face = face.split('>').next().unwrap_or_default();
            let name = values(face, "style:name").first().map(|n| unescape(n));
            let family = values(face, "svg:font-family").first().map(|f| unescape(f));
            if let (Some(name), Some(family)) = (name, family) {
                families.push((name, family));
            }
        }
    }
    let names = families
        .into_iter()
        .filter(|(name, _)| used.contains(name))
        .map(|(_, family)| family.trim_matches(|c| c == '\'' || c == '"').to_string())
        .filter(|family| !family.is_empty())
        .collect();
    Some(names)
}

/// XML's entities in an attribute value.
fn unescape(value: &str) -> String {
    value
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `{\fonttbl{\f0\froman\fcharset0 Times New Roman;}...}`.
fn rtf(path: &Path) -> Option<BTreeSet<String>> {
    let mut head = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut head)
        .ok()?;
    let table = head.split_once("\\fonttbl")?.1;
    let mut names = BTreeSet::new();
    for entry in table.split("{\\f").skip(1) {
        let Some((declaration, _)) = entry.split_once(';') else {
            continue;
        };
        // The name follows the last control word.
        let name = declaration.rsplit(['\\', '}']).next().unwrap_or_default();
        let name = name.split_once(' ').map_or("", |(_, n)| n).trim();
        if !name.is_empty() {
            names.insert(name.to_string());
        }
        if entry.contains("}}") {
            break;
        }
    }
    Some(names)
}

/// The values of `attribute="..."` in `text`, in order.
fn values<'a>(text: &'a str, attribute: &str) -> Vec<&'a str> {
    let key = format!("{attribute}=\"");
    text.match_indices(&key)
        .filter_map(|(at, _)| text[at + key.len()..].split_once('"'))
        .map(|(value, _)| value)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn each_container_names_its_fonts() {
        let docx = requested(&fixture("one_page.docx"), "docx");
        assert!(docx.contains(&"Courier".to_string()), "{docx:?}");
        assert!(!docx.iter().any(|f| f.starts_with('+')), "{docx:?}");
        let xlsx = requested(&fixture("one_sheet.xlsx"), "xlsx");
        assert!(!xlsx.is_empty(), "{xlsx:?}");
        let odp = requested(&fixture("one_slide.odp"), "odp");
        assert!(!odp.is_empty(), "{odp:?}");
        assert!(requested(&fixture("one_page.txt"), "txt").is_empty());
    }

    #[test]
    fn an_rtf_font_table_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rtf");
        let rtf = r"{\rtf1{\fonttbl{\f0\froman\fcharset0 Times New Roman;}{\f1\fswiss Aptos;}}\f1 Hello\par}";
        std::fs::write(&path, rtf).unwrap();
        assert_eq!(requested(&path, "rtf"), ["Aptos", "Times New Roman"]);
    }
}
