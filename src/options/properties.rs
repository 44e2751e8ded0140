//! The PDF's document properties: `title`, `author`, `subject` and
//! `keywords` (free text, over the document's own) and `clear-metadata`
//! (none of the document's own carried). Set in the document before
//! LibreOffice reads it (`office::properties`), so a PDF/A's XMP says the
//! same as its Info dictionary.

use serde::Serialize;

/// The free-text properties, by option name.
pub const PROPERTY_NAMES: [&str; 4] = ["title", "author", "subject", "keywords"];

/// The longest property, in characters: with the watermark, what every
/// PDF's provenance metadata may hold stays well inside Cloud Storage's
/// 8 KiB.
const LONGEST_PROPERTY: usize = 200;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Properties {
    pub title: Option<String>,
    pub author: Option<String>,
    pub subject: Option<String>,
    pub keywords: Option<String>,
    /// The document's own properties are dropped.
    pub clear: bool,
}

impl Properties {
    /// Nothing asked: the document's own properties, as today.
    pub fn is_default(&self) -> bool {
        *self == Properties::default()
    }

    /// Each free-text property set, by option name.
    pub fn set_ones(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let values = [&self.title, &self.author, &self.subject, &self.keywords];
        (PROPERTY_NAMES.into_iter().zip(values))
            .filter_map(|(name, value)| Some((name, value.as_deref()?)))
    }

    pub(super) fn set(&mut self, name: &str, value: Option<String>) {
        match name {
            "title" => self.title = value,
            "author" => self.author = value,
            "subject" => self.subject = value,
            _ => self.keywords = value,
        }
    }
}

/// A property's value: one line of at most [`LONGEST_PROPERTY`]
/// characters; None when empty.
pub(super) fn parse_property(value: &str) -> Result<Option<String>, String> {
    super::parse::parse_line(value, LONGEST_PROPERTY)
}
