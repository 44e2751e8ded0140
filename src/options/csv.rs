//! How a `.csv` is read: `csv-separator`, `csv-encoding` and
//! `csv-decimal`. Each left unset is detected from the file
//! (`office::inspect::csv`), as a spreadsheet user expects.

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CsvOptions {
    pub separator: Option<Separator>,
    pub encoding: Option<Encoding>,
    pub decimal: Option<Decimal>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Separator {
    Comma,
    Semicolon,
    Tab,
    Pipe,
}

impl Separator {
    pub const ALL: [Separator; 4] = [
        Separator::Comma,
        Separator::Semicolon,
        Separator::Tab,
        Separator::Pipe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Separator::Comma => "comma",
            Separator::Semicolon => "semicolon",
            Separator::Tab => "tab",
            Separator::Pipe => "pipe",
        }
    }

    pub fn char(self) -> char {
        match self {
            Separator::Comma => ',',
            Separator::Semicolon => ';',
            Separator::Tab => '\t',
            Separator::Pipe => '|',
        }
    }

    pub(super) fn parse(value: &str) -> Result<Option<Separator>, String> {
        // Spaces only: a tab is a value.
        let value = value.trim_matches(' ').to_ascii_lowercase();
        if value.is_empty() || value == "auto" {
            return Ok(None);
        }
        let found = Separator::ALL.into_iter().find(|s| {
            s.as_str() == value
                || s.char().to_string() == value
                || (value == "\\t" && *s == Separator::Tab)
        });
        found.map(Some).ok_or_else(|| SEPARATORS.into())
    }
}

const SEPARATORS: &str = ", ; tab or | (or comma, semicolon, pipe; auto: detected)";

/// The encodings a CSV may name, as WHATWG labels name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-16 by its byte-order mark, little-endian without one.
    #[serde(rename = "utf-16")]
    Utf16,
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
    #[serde(rename = "windows-1252")]
    Windows1252,
    #[serde(rename = "iso-8859-1")]
    Iso8859_1,
    #[serde(rename = "shift_jis")]
    ShiftJis,
}

impl Encoding {
    const ALL: [Encoding; 7] = [
        Encoding::Utf8,
        Encoding::Utf16,
        Encoding::Utf16Le,
        Encoding::Utf16Be,
        Encoding::Windows1252,
        Encoding::Iso8859_1,
        Encoding::ShiftJis,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16 => "utf-16",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Windows1252 => "windows-1252",
            Encoding::Iso8859_1 => "iso-8859-1",
            Encoding::ShiftJis => "shift_jis",
        }
    }

    pub(super) fn parse(value: &str) -> Result<Option<Encoding>, String> {
        let value = value.trim().to_ascii_lowercase().replace('_', "-");
        let aliases = [
            ("utf8", Encoding::Utf8),
            ("cp1252", Encoding::Windows1252),
            ("latin1", Encoding::Iso8859_1),
            ("sjis", Encoding::ShiftJis),
        ];
        if value.is_empty() || value == "auto" {
            return Ok(None);
        }
        let named = Encoding::ALL
            .into_iter()
            .find(|e| e.as_str().replace('_', "-") == value);
        let aliased = aliases.iter().find(|(a, _)| *a == value).map(|(_, e)| *e);
        (named.or(aliased)).map(Some).ok_or_else(|| {
            "utf-8, utf-16, utf-16le, utf-16be, windows-1252, iso-8859-1 or shift_jis (auto: detected)"
                .into()
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decimal {
    Point,
    Comma,
}

impl Decimal {
    pub fn as_str(self) -> &'static str {
        match self {
            Decimal::Point => "point",
            Decimal::Comma => "comma",
        }
    }

    pub(super) fn parse(value: &str) -> Result<Option<Decimal>, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(None),
            "." | "point" => Ok(Some(Decimal::Point)),
            "," | "comma" => Ok(Some(Decimal::Comma)),
            _ => Err(". or , (or point, comma; auto: detected)".into()),
        }
    }
}
