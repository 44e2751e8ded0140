//! How a document's markup shows in its PDF: its comments, and its
//! tracked changes.

use serde::Serialize;

/// Where a document's comments go in its PDF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comments {
    /// As PDF annotations, notes a reader opens: LibreOffice's default
    /// here (measured: a note and its popup per comment), so today's.
    #[default]
    Annotations,
    None,
}

impl Comments {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Comments::None => "none",
            Comments::Annotations => "annotations",
        }
    }
}

/// A `comments` value.
pub(super) fn parse_comments(value: &str) -> Result<Comments, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "annotations" => Ok(Comments::Annotations),
        "none" => Ok(Comments::None),
        // LibreOfficeKit lays out no comment in the margin: with it made
        // to, a comment came out as its author and date, its text "...".
        _ => Err("annotations or none".into()),
    }
}

/// Whether a Word document's tracked changes show: as the document's own
/// view says (unset, today's), or forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Changes {
    /// Insertions and deletions marked, as Word prints them with markup.
    Show,
    /// The document as if every change were accepted.
    Hide,
}

impl Changes {
    pub fn as_str(self) -> &'static str {
        match self {
            Changes::Show => "show",
            Changes::Hide => "hide",
        }
    }
}

/// A `changes` value: None for the document's own view.
pub(super) fn parse_changes(value: &str) -> Result<Option<Changes>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "document" => Ok(None),
        "show" => Ok(Some(Changes::Show)),
        "hide" => Ok(Some(Changes::Hide)),
        _ => Err("show, hide or document (as the document's own view says)".into()),
    }
}
