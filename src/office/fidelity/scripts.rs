//! Which characters of a document no installed font can draw. LibreOffice
//! draws each character in the font asked for, or else in any installed
//! font that has it; a character that no font has is drawn as an empty box
//! while the PDF's text layer still holds it, so only the fonts tell. The
//! machine's fonts are read once from fontconfig (each font's character
//! set), and a document's characters are checked against their union.

use std::collections::BTreeMap;

/// Which of a run's font slots Word sets a script in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `w:eastAsia`, `a:ea`: Han, kana, Hangul.
    EastAsian,
    /// `w:cs`, `a:cs`: right to left, Indic, Thai and its neighbours.
    Complex,
    /// `w:ascii`, `w:hAnsi`, `a:latin`: everything else.
    Other,
}

/// Named writing systems, for saying which text could not be drawn:
/// `(name, first, last, slot)`, by Unicode block.
const SCRIPTS: &[(&str, u32, u32, Slot)] = &[
    ("Latin", 0x0000, 0x024F, Slot::Other),
    ("Greek", 0x0370, 0x03FF, Slot::Other),
    ("Cyrillic", 0x0400, 0x052F, Slot::Other),
    ("Armenian", 0x0530, 0x058F, Slot::Other),
    ("Hebrew", 0x0590, 0x05FF, Slot::Complex),
    ("Arabic", 0x0600, 0x06FF, Slot::Complex),
    ("Arabic", 0x0750, 0x077F, Slot::Complex),
    ("Devanagari", 0x0900, 0x097F, Slot::Complex),
    ("Bengali", 0x0980, 0x09FF, Slot::Complex),
    ("Tamil", 0x0B80, 0x0BFF, Slot::Complex),
    ("Thai", 0x0E00, 0x0E7F, Slot::Complex),
    ("Lao", 0x0E80, 0x0EFF, Slot::Complex),
    ("Myanmar", 0x1000, 0x109F, Slot::Complex),
    ("Georgian", 0x10A0, 0x10FF, Slot::Other),
    ("Hangul", 0x1100, 0x11FF, Slot::EastAsian),
    ("Ethiopic", 0x1200, 0x137F, Slot::Other),
    ("Khmer", 0x1780, 0x17FF, Slot::Complex),
    ("CJK punctuation", 0x3000, 0x303F, Slot::EastAsian),
    ("Kana", 0x3040, 0x30FF, Slot::EastAsian),
    ("Hangul", 0x3130, 0x318F, Slot::EastAsian),
    ("Han", 0x3400, 0x4DBF, Slot::EastAsian),
    ("Han", 0x4E00, 0x9FFF, Slot::EastAsian),
    ("Hangul", 0xAC00, 0xD7AF, Slot::EastAsian),
    ("Han", 0xF900, 0xFAFF, Slot::EastAsian),
    ("Arabic", 0xFB50, 0xFDFF, Slot::Complex),
    ("Arabic", 0xFE70, 0xFEFF, Slot::Complex),
    ("Fullwidth forms", 0xFF00, 0xFFEF, Slot::EastAsian),
    ("Emoji", 0x1F300, 0x1FAFF, Slot::Other),
    ("Han", 0x20000, 0x3FFFF, Slot::EastAsian),
];

/// The writing system `c` belongs to, as [`SCRIPTS`] names it, and the
/// font slot Word sets it in.
pub fn script_of(c: char) -> (&'static str, Slot) {
    let code = c as u32;
    (SCRIPTS.iter())
        .find(|(_, first, last, _)| (*first..=*last).contains(&code))
        .map_or(("other", Slot::Other), |(name, _, _, slot)| (name, *slot))
}

/// Whether `c` needs a glyph at all: not a control, a space, a joiner or
/// mark of direction, nor a private-use code, which symbol fonts map and
/// LibreOffice draws from its own.
pub fn needs_glyph(c: char) -> bool {
    let code = c as u32;
    !(c.is_control()
        || c.is_whitespace()
        || (0x200B..=0x200F).contains(&code)
        || (0x202A..=0x202E).contains(&code)
        || (0x2060..=0x206F).contains(&code)
        || (0xE000..=0xF8FF).contains(&code)
        || (0xFE00..=0xFE0F).contains(&code)
        || code == 0xFEFF
        || code >= 0xF0000)
}

/// Code points some installed font has: sorted, disjoint ranges.
pub struct Coverage(Vec<(u32, u32)>);

impl Coverage {
    /// From fontconfig's character sets, one font per line, each a list of
    /// hex code points and ranges (`20-7e a0 ...`).
    pub fn parse(listing: &str) -> Coverage {
        let mut ranges: Vec<(u32, u32)> = listing
            .split_whitespace()
            .filter_map(|item| {
                let (first, last) = item.split_once('-').unwrap_or((item, item));
                let first = u32::from_str_radix(first, 16).ok()?;
                Some((first, u32::from_str_radix(last, 16).ok()?))
            })
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (first, last) in ranges {
            match merged.last_mut() {
                Some(open) if first <= open.1.saturating_add(1) => open.1 = open.1.max(last),
                _ => merged.push((first, last)),
            }
        }
        Coverage(merged)
    }

    pub fn has(&self, c: char) -> bool {
        let code = c as u32;
        let at = self.0.partition_point(|&(_, last)| last < code);
        self.0.get(at).is_some_and(|&(first, _)| first <= code)
    }

    /// Of `characters` (each with its count), those no installed font
    /// has, counted by script.
    pub fn missing(&self, characters: &BTreeMap<char, u64>) -> BTreeMap<String, u64> {
        let mut missing = BTreeMap::new();
        for (&c, &count) in characters {
            if needs_glyph(c) && !self.has(c) {
                *missing.entry(script_of(c).0.to_string()).or_insert(0) += count;
            }
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_sets_are_merged_and_searched() {
        let coverage = Coverage::parse("20-7e a0\n41-5a 400-4ff\nac00-d7a3\n");
        assert!(coverage.has('A') && coverage.has('~') && coverage.has('\u{a0}'));
        assert!(coverage.has('Ж') && coverage.has('한'));
        assert!(!coverage.has('\u{7f}') && !coverage.has('ا') && !coverage.has('漢'));
    }

    #[test]
    fn what_no_font_has_is_counted_by_script() {
        let coverage = Coverage::parse("20-7e");
        let mut characters = BTreeMap::new();
        for c in "Hi 한국어 漢字, مرحبا \u{200d}\u{f020}\n".chars() {
            *characters.entry(c).or_insert(0) += 1;
        }
        let missing = coverage.missing(&characters);
        let counts: Vec<(&str, u64)> = missing.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        assert_eq!(counts, [("Arabic", 5), ("Han", 2), ("Hangul", 3)]);
    }
}
