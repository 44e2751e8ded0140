//! The fonts a document asks for, read from its own parts: Word's styles
//! and runs (and the theme fonts they refer to), Excel's style sheet,
//! PowerPoint's slides, layouts, masters and theme, OpenDocument's font
//! declarations, RTF's font table. Binary Office 97 files and plain text
//! name none that is read here. And the characters its text is made of
//! (OOXML, OpenDocument, plain text), for [`super::scripts`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use super::scripts::{Slot, script_of};
use crate::office::inspect::rtf::Token;

/// The parts of an OOXML package that name fonts, by prefix: Word's styles,
/// body, headers, footers, notes and comments (but [`UNREAD_WORD_PARTS`]),
/// Excel's style sheet, PowerPoint's slides.
const OOXML_PARTS: &[&str] = &[
    "word/",
    "xl/styles.xml",
    "xl/sharedStrings.xml",
    "xl/worksheets/",
    "ppt/slides/",
    "ppt/slideLayouts/",
    "ppt/slideMasters/",
];

/// Parts under `word/` that name fonts but are not read as a document's
/// styles or text: its font table and theme (read otherwise), its numbering
/// (the symbol fonts of bullets, which move no line), and the copy of its
/// styles Word 2010 keeps (`stylesWithEffects.xml`), which LibreOffice
/// never reads: fonts named only there changed nothing in its PDF.
const UNREAD_WORD_PARTS: &[&str] = &[
    "word/fontTable.xml",
    "word/numbering.xml",
    "word/stylesWithEffects.xml",
];

/// How much of one part is read for font names.
const PART_LIMIT: u64 = 16 << 20;

/// What a document asks of the fonts.
#[derive(Debug, Default)]
pub struct Asked {
    /// The font families it names, sorted.
    pub fonts: Vec<String>,
    /// The characters of its text beyond ASCII, each with its count.
    pub characters: BTreeMap<char, u64>,
}

/// What the document at `path` (read as `extension`) asks of the fonts;
/// nothing where the format says nothing we read, or on damage (the
/// conversion has already judged the document).
pub fn requested(path: &Path, extension: &str) -> Asked {
    let asked = match extension {
        "docx" | "docm" | "dotx" | "dotm" | "xlsx" | "xlsm" | "pptx" | "ppsx" => ooxml(path),
        "odt" | "ott" | "ods" | "odp" | "odg" => odf(path),
        "rtf" => rtf(path).map(|fonts| (fonts, BTreeMap::new())),
        "txt" | "csv" | "tsv" => plain(path).map(|characters| (BTreeSet::new(), characters)),
        _ => None,
    };
    let (fonts, characters) = asked.unwrap_or_default();
    Asked {
        fonts: fonts.into_iter().collect(),
        characters,
    }
}

/// The characters of an XML part's text (outside its tags), beyond ASCII.
/// Read by byte, decoding only where a character beyond ASCII starts: most
/// parts have none at all, and tags are ASCII.
fn count_text(xml: &str, characters: &mut BTreeMap<char, u64>) {
    if xml.is_ascii() {
        return;
    }
    let mut in_tag = false;
    for (at, byte) in xml.bytes().enumerate() {
        match byte {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            // The first byte of a character beyond ASCII (its others are 10xxxxxx).
            0xC0.. if !in_tag => {
                if let Some(c) = xml[at..].chars().next() {
                    *characters.entry(c).or_insert(0) += 1;
                }
            }
            _ => {}
        }
    }
}

/// Whether `characters` hold text in the East Asian slots of a run (Han,
/// kana, Hangul), or in its complex-script slots (right to left, Indic,
/// Thai).
fn slots_used(characters: &BTreeMap<char, u64>) -> (bool, bool) {
    let slots: Vec<Slot> = characters.keys().map(|&c| script_of(c).1).collect();
    (
        slots.contains(&Slot::EastAsian),
        slots.contains(&Slot::Complex),
    )
}

fn ooxml(path: &Path) -> Option<(BTreeSet<String>, BTreeMap<char, u64>)> {
    let mut zip = crate::office::inspect::lenient::open(std::fs::File::open(path).ok()?).ok()?;
    let (mut names, mut characters) = (BTreeSet::new(), BTreeMap::new());
    // Fonts of the East Asian and complex-script slots count only when the
    // text has such characters: Word's own templates name them everywhere.
    let (mut east_asian, mut complex) = (BTreeSet::new(), BTreeSet::new());
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
        let skipped = name.starts_with("word/theme/") || UNREAD_WORD_PARTS.contains(&name.as_str());
        if skipped || !OOXML_PARTS.iter().any(|p| name.starts_with(p)) || !name.ends_with(".xml") {
            continue;
        }
        let mut text = String::new();
        part.take(PART_LIMIT).read_to_string(&mut text).ok()?;
        count_text(&text, &mut characters);
        // Bullets and symbols (a:buFont, a:sym) move no line.
        let named = |attributes: &[&str]| -> Vec<String> {
            let values = attributes.iter().flat_map(|a| values(&text, a));
            values
                .filter(|v| !v.starts_with('+'))
                .map(String::from)
                .collect()
        };
        names.extend(named(&["w:ascii", "w:hAnsi", "<a:latin typeface"]));
        east_asian.extend(named(&["<a:ea typeface"]));
        complex.extend(named(&["<a:cs typeface"]));
        // In a run's fonts only: `w:lang` has a `w:eastAsia` too.
        for fonts in text.split("<w:rFonts ").skip(1) {
            let fonts = fonts.split('>').next().unwrap_or_default();
            let named = |attribute| values(fonts, attribute).into_iter().map(String::from);
            east_asian.extend(named("w:eastAsia").filter(|v| !v.starts_with('+')));
            complex.extend(named("w:cs").filter(|v| !v.starts_with('+')));
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
    let (has_east_asian, has_complex) = slots_used(&characters);
    if has_east_asian {
        names.extend(east_asian);
    }
    if has_complex {
        names.extend(complex);
    }
    names.retain(|n| !n.is_empty());
    Some((names, characters))
}

/// The Latin typeface of the theme's minor or major font.
fn theme_font(theme: Option<&str>, which: &str) -> Option<String> {
    let section = theme?.split_once(&format!("<{which}>"))?.1;
    values(section, "typeface").first().map(|v| v.to_string())
}

/// The faces an OpenDocument's styles use (`style:font-name`), by the
/// family each declares (`svg:font-family`): declared but unused faces
/// (LibreOffice declares many) are left out.
fn odf(path: &Path) -> Option<(BTreeSet<String>, BTreeMap<char, u64>)> {
    let mut zip = crate::office::inspect::lenient::open(std::fs::File::open(path).ok()?).ok()?;
    let (mut used, mut families) = (BTreeSet::new(), Vec::new());
    let mut characters = BTreeMap::new();
    for part in ["content.xml", "styles.xml"] {
        let Ok(file) = zip.by_name(part) else {
            continue;
        };
        let mut text = String::new();
        file.take(PART_LIMIT).read_to_string(&mut text).ok()?;
        count_text(&text, &mut characters);
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
    Some((names, characters))
}

/// A plain text file's characters beyond ASCII (as UTF-8; LibreOffice
/// reads other encodings too, which this does not guess).
fn plain(path: &Path) -> Option<BTreeMap<char, u64>> {
    let mut bytes = Vec::new();
    (std::fs::File::open(path).ok()?.take(PART_LIMIT))
        .read_to_end(&mut bytes)
        .ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut characters = BTreeMap::new();
    for c in text
        .chars()
        .filter(|c| !c.is_ascii() && *c != char::REPLACEMENT_CHARACTER)
    {
        *characters.entry(c).or_insert(0) += 1;
    }
    Some(characters)
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

/// `{\fonttbl{\f0\froman\fcharset0 Times New Roman;}...}`, read with the
/// tokenizer the inspection reads RTF with: bytes, whatever their
/// encoding, and escapes and `\bin` as it reads them.
fn rtf(path: &Path) -> Option<BTreeSet<String>> {
    let file = std::fs::File::open(path).ok()?;
    let mut table = FontTable::default();
    let reader = std::io::BufReader::new(file.take(1 << 20));
    crate::office::inspect::rtf::tokens(reader, |_, token| table.take(token)).ok()?;
    Some(table.names)
}

/// An RTF font table as its tokens go by. A font's name is the text of
/// its entry up to `;`, outside the groups inside it (`{\*\panose ..}`);
/// an entry is a group of the table's own, or (in old files) a run of the
/// table's text.
#[derive(Default)]
struct FontTable {
    depth: usize,
    /// The depth of the table's group, once it began.
    table: Option<usize>,
    ended: bool,
    name: Vec<u8>,
    names: BTreeSet<String>,
}

impl FontTable {
    fn take(&mut self, token: Token<'_>) {
        let in_entry = self
            .table
            .is_some_and(|t| self.depth == t || self.depth == t + 1);
        match token {
            _ if self.ended => {}
            Token::Open => self.depth += 1,
            Token::Close => {
                if in_entry {
                    self.end_name();
                }
                self.ended = self.table == Some(self.depth);
                self.depth = self.depth.saturating_sub(1);
            }
            Token::Word(b"fonttbl") if self.table.is_none() => self.table = Some(self.depth),
            Token::Byte(b';') if in_entry => self.end_name(),
            Token::Byte(byte) if in_entry => self.name.push(byte),
            _ => {}
        }
    }

    fn end_name(&mut self) {
        let name = String::from_utf8_lossy(&self.name).trim().to_string();
        if !name.is_empty() {
            self.names.insert(name);
        }
        self.name.clear();
    }
}

/// The values of `attribute="..."` in `text`, in order.
fn values<'a>(text: &'a str, attribute: &str) -> Vec<&'a str> {
    let key = format!("{attribute}=\"");
    // memmem's search: four times faster than str's on a 349 KB styles.xml;
    // the key ends in an ASCII quote, so what follows a match is a char
    // boundary.
    memchr::memmem::find_iter(text.as_bytes(), key.as_bytes())
        .filter_map(|at| text[at + key.len()..].split_once('"'))
        .map(|(value, _)| value)
        .collect()
}

#[cfg(test)]
mod tests;
