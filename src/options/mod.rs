//! PDF options, the same names everywhere: `pdfa` (`1b`, `2b`, `3b`),
//! `pdfua`, `tagged`, `pages` (a range such as `1-3,7`),
//! `single-page-sheets`, `font-policy` ([`FontPolicy`]), `watermark` (a
//! line of text across every page), `comments` ([`Comments`]: as notes,
//! or left out), `changes` ([`Changes`]: a Word document's tracked
//! changes shown or hidden), `preview` (a PNG of page 1 this many pixels
//! wide, beside the PDF), and how a `.csv` is read ([`CsvOptions`]). They come from the worker's defaults (environment),
//! the source object's custom metadata (`docx2pdf-pdfa: 2b`) and a JSON
//! job's `"options"`, later wins; `convert` takes them as flags. Here they
//! are checked, layered, written down for provenance, and turned into
//! LibreOffice's PDF export settings.

use serde::Serialize;

mod csv;
mod export;
mod font_policy;
mod markup;
mod parse;
mod properties;
pub use csv::{CsvOptions, Decimal, Encoding, Separator};
pub use export::WATERMARK_FONT;
pub use font_policy::FontPolicy;
pub use markup::{Changes, Comments};
use markup::{parse_changes, parse_comments};
use parse::{
    parse_flag, parse_pages, parse_pdfa, parse_preview, parse_secret_name, parse_watermark,
};
pub use properties::{PROPERTY_NAMES, Properties};

/// The prefix of an option in an object's custom metadata.
pub const METADATA_PREFIX: &str = "docx2pdf-";

/// The option names, as written in metadata, JSON and flags.
pub const NAMES: [&str; 19] = [
    "pdfa",
    "pdfua",
    "tagged",
    "pages",
    "single-page-sheets",
    "font-policy",
    "watermark",
    "comments",
    "changes",
    "preview",
    "title",
    "author",
    "subject",
    "keywords",
    "clear-metadata",
    "password-secret",
    "csv-separator",
    "csv-encoding",
    "csv-decimal",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PdfA {
    #[serde(rename = "1b")]
    A1b,
    #[serde(rename = "2b")]
    A2b,
    #[serde(rename = "3b")]
    A3b,
}

impl PdfA {
    fn as_str(self) -> &'static str {
        match self {
            PdfA::A1b => "1b",
            PdfA::A2b => "2b",
            PdfA::A3b => "3b",
        }
    }

    /// LibreOffice's `SelectPdfVersion` for this conformance level.
    fn version(self) -> u8 {
        match self {
            PdfA::A1b => 1,
            PdfA::A2b => 2,
            PdfA::A3b => 3,
        }
    }
}

/// How a PDF is made. The default is LibreOffice's ordinary PDF.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PdfOptions {
    pub pdfa: Option<PdfA>,
    /// PDF/UA (accessible); implies `tagged`.
    pub pdfua: bool,
    pub tagged: bool,
    /// Only these pages.
    pub pages: Option<String>,
    /// Each sheet of a spreadsheet on one page.
    pub single_page_sheets: bool,
    /// Whether a PDF set in other fonts than the document asks for is
    /// wanted.
    pub font_policy: FontPolicy,
    /// One line of text drawn across every page.
    pub watermark: Option<String>,
    pub comments: Comments,
    /// A Word document's tracked changes; None: as its own view says.
    pub changes: Option<Changes>,
    /// The width in pixels of a PNG of page 1, made beside the PDF.
    pub preview: Option<u32>,
    /// The PDF's document properties.
    pub properties: Properties,
    /// The name of the password that opens the document, in
    /// `PASSWORDS_DIR`; never the password.
    pub password_secret: Option<String>,
    pub csv: CsvOptions,
}

/// An option that cannot be applied, with what is allowed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("option {name}={value:?}: {allowed}")]
pub struct BadOption {
    pub name: String,
    pub value: String,
    pub allowed: String,
}

/// One option at a checked value, as a message, metadata, the environment
/// or a flag asks for it: parsed once, where it comes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    PdfA(Option<PdfA>),
    PdfUa(bool),
    Tagged(bool),
    /// A checked range such as `1-3,7`; None: every page.
    Pages(Option<String>),
    SinglePageSheets(bool),
    FontPolicy(FontPolicy),
    Watermark(Option<String>),
    Comments(Comments),
    Changes(Option<Changes>),
    Preview(Option<u32>),
    /// One of [`PROPERTY_NAMES`], at its value.
    Property(&'static str, Option<String>),
    ClearMetadata(bool),
    PasswordSecret(Option<String>),
    CsvSeparator(Option<Separator>),
    CsvEncoding(Option<Encoding>),
    CsvDecimal(Option<Decimal>),
}

impl Setting {
    /// Option `name` at its text `value`, as metadata, the environment or
    /// JSON give it.
    pub fn parse(name: &str, value: &str) -> Result<Setting, BadOption> {
        let bad = |allowed: String| BadOption {
            name: name.to_string(),
            value: value.to_string(),
            allowed,
        };
        Ok(match name {
            "pdfa" => Setting::PdfA(parse_pdfa(value).map_err(bad)?),
            "pdfua" => Setting::PdfUa(parse_flag(value).map_err(bad)?),
            "tagged" => Setting::Tagged(parse_flag(value).map_err(bad)?),
            "single-page-sheets" => Setting::SinglePageSheets(parse_flag(value).map_err(bad)?),
            "pages" => Setting::Pages(parse_pages(value).map_err(bad)?),
            "font-policy" => Setting::FontPolicy(FontPolicy::parse(value).map_err(bad)?),
            "watermark" => Setting::Watermark(parse_watermark(value).map_err(bad)?),
            "comments" => Setting::Comments(parse_comments(value).map_err(bad)?),
            "changes" => Setting::Changes(parse_changes(value).map_err(bad)?),
            "preview" => Setting::Preview(parse_preview(value).map_err(bad)?),
            "clear-metadata" => Setting::ClearMetadata(parse_flag(value).map_err(bad)?),
            "password-secret" => Setting::PasswordSecret(parse_secret_name(value).map_err(bad)?),
            property if PROPERTY_NAMES.contains(&property) => {
                let name = PROPERTY_NAMES.into_iter().find(|n| *n == property);
                let value = properties::parse_property(value).map_err(bad)?;
                Setting::Property(name.unwrap_or("title"), value)
            }
            "csv-separator" => Setting::CsvSeparator(Separator::parse(value).map_err(bad)?),
            "csv-encoding" => Setting::CsvEncoding(Encoding::parse(value).map_err(bad)?),
            "csv-decimal" => Setting::CsvDecimal(Decimal::parse(value).map_err(bad)?),
            _ => {
                let known = NAMES.join(", ");
                return Err(bad(format!("no such option; the options are {known}")));
            }
        })
    }
}

impl PdfOptions {
    /// Applies a setting over what is set.
    pub fn apply(&mut self, setting: &Setting) {
        match setting.clone() {
            Setting::PdfA(pdfa) => self.pdfa = pdfa,
            Setting::PdfUa(on) => self.pdfua = on,
            Setting::Tagged(on) => self.tagged = on,
            Setting::Pages(pages) => self.pages = pages,
            Setting::SinglePageSheets(on) => self.single_page_sheets = on,
            Setting::FontPolicy(policy) => self.font_policy = policy,
            Setting::Watermark(text) => self.watermark = text,
            Setting::Comments(comments) => self.comments = comments,
            Setting::Changes(changes) => self.changes = changes,
            Setting::Preview(width) => self.preview = width,
            Setting::Property(name, value) => self.properties.set(name, value),
            Setting::ClearMetadata(on) => self.properties.clear = on,
            Setting::PasswordSecret(name) => self.password_secret = name,
            Setting::CsvSeparator(separator) => self.csv.separator = separator,
            Setting::CsvEncoding(encoding) => self.csv.encoding = encoding,
            Setting::CsvDecimal(decimal) => self.csv.decimal = decimal,
        }
    }

    /// Applies option `name` at its text `value` ([`Setting::parse`]).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), BadOption> {
        self.apply(&Setting::parse(name, value)?);
        Ok(())
    }

    /// Applies every `docx2pdf-*` entry of an object's custom metadata.
    pub fn set_from_metadata<'a>(
        &mut self,
        metadata: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<(), BadOption> {
        for (key, value) in metadata {
            if let Some(name) = key.strip_prefix(METADATA_PREFIX) {
                self.set(name, value)?;
            }
        }
        Ok(())
    }

    /// The options' canonical form: the same for equal options.
    pub fn describe(&self) -> Canonical {
        let mut parts = Vec::new();
        if let Some(pdfa) = self.pdfa {
            parts.push(format!("pdfa={}", pdfa.as_str()));
        }
        if self.pdfua {
            parts.push("pdfua".to_string());
        }
        if self.tagged {
            parts.push("tagged".to_string());
        }
        if let Some(pages) = &self.pages {
            parts.push(format!("pages={pages}"));
        }
        if self.single_page_sheets {
            parts.push("single-page-sheets".to_string());
        }
        if self.font_policy != FontPolicy::Substitute {
            parts.push(format!("font-policy={}", self.font_policy));
        }
        if let Some(text) = &self.watermark {
            parts.push(format!("watermark={}", escaped(text)));
        }
        if self.comments != Comments::Annotations {
            parts.push(format!("comments={}", self.comments.as_str()));
        }
        if let Some(changes) = self.changes {
            parts.push(format!("changes={}", changes.as_str()));
        }
        if let Some(width) = self.preview {
            parts.push(format!("preview={width}"));
        }
        for (name, value) in self.properties.set_ones() {
            parts.push(format!("{name}={}", escaped(value)));
        }
        if self.properties.clear {
            parts.push("clear-metadata".to_string());
        }
        if let Some(name) = &self.password_secret {
            parts.push(format!("password-secret={name}"));
        }
        parts.extend(
            self.csv_settings()
                .map(|(name, value)| format!("{name}={value}")),
        );
        if parts.is_empty() {
            Canonical(DEFAULT.to_string())
        } else {
            Canonical(parts.join(";"))
        }
    }

    /// The options as custom metadata (`docx2pdf-pdfa: 2b`), for an upload
    /// whose PDF should be made with them; the defaults need none.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let flag = |name: &str, on: bool| on.then(|| (name.to_string(), "true".to_string()));
        let entries = [
            self.pdfa
                .map(|a| ("pdfa".to_string(), a.as_str().to_string())),
            flag("pdfua", self.pdfua),
            flag("tagged", self.tagged),
            self.pages.clone().map(|p| ("pages".to_string(), p)),
            flag("single-page-sheets", self.single_page_sheets),
            (self.font_policy != FontPolicy::Substitute)
                .then(|| ("font-policy".to_string(), self.font_policy.to_string())),
            self.watermark
                .clone()
                .map(|text| ("watermark".to_string(), text)),
            (self.comments != Comments::Annotations)
                .then(|| ("comments".to_string(), self.comments.as_str().to_string())),
            (self.changes).map(|c| ("changes".to_string(), c.as_str().to_string())),
            (self.preview).map(|width| ("preview".to_string(), width.to_string())),
            flag("clear-metadata", self.properties.clear),
            (self.password_secret.clone()).map(|name| ("password-secret".to_string(), name)),
        ];
        let properties = (self.properties.set_ones())
            .map(|(name, value)| Some((name.to_string(), value.to_string())));
        let csv = self
            .csv_settings()
            .map(|(n, v)| Some((n.to_string(), v.to_string())));
        entries
            .into_iter()
            .chain(properties)
            .chain(csv)
            .flatten()
            .map(|(name, value)| (format!("{METADATA_PREFIX}{name}"), value))
            .collect()
    }

    /// The CSV options set, by name and value.
    fn csv_settings(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        let csv = &self.csv;
        [
            ("csv-separator", csv.separator.map(Separator::as_str)),
            ("csv-encoding", csv.encoding.map(Encoding::as_str)),
            ("csv-decimal", csv.decimal.map(Decimal::as_str)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }
}

/// Free text in the canonical form: `%` and `;` (which separates options)
/// percent-encoded, so that no text reads as another option.
fn escaped(text: &str) -> String {
    text.replace('%', "%25").replace(';', "%3B")
}

/// How the default options are written.
const DEFAULT: &str = "default";

/// The options in force, as one line: what the PDF's provenance records,
/// what tells new work from work done, and part of a cache entry's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Canonical(String);

impl Canonical {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a PDF whose provenance records `recorded` was made with
    /// these options; a PDF from before options were recorded was made
    /// with the defaults.
    pub fn is_recorded_as(&self, recorded: Option<&str>) -> bool {
        recorded.unwrap_or(DEFAULT) == self.0
    }
}

#[cfg(test)]
impl Canonical {
    /// The canonical form of the options `pairs` set.
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Canonical {
        let mut options = PdfOptions::default();
        for (name, value) in pairs {
            options.set(name, value).unwrap();
        }
        options.describe()
    }
}

impl std::fmt::Display for Canonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
