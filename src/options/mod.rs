//! PDF options, the same names everywhere: `pdfa` (`1b`, `2b`, `3b`),
//! `pdfua`, `tagged`, `pages` (a range such as `1-3,7`),
//! `single-page-sheets` and `font-policy` ([`FontPolicy`]). They come from the worker's defaults (environment),
//! the source object's custom metadata (`docx2pdf-pdfa: 2b`) and a JSON
//! job's `"options"`, later wins; `convert` takes them as flags. Here they
//! are checked, layered, written down for provenance, and turned into
//! LibreOffice's PDF export settings.

use serde::Serialize;

mod font_policy;
pub use font_policy::FontPolicy;

/// The prefix of an option in an object's custom metadata.
pub const METADATA_PREFIX: &str = "docx2pdf-";

/// The option names, as written in metadata, JSON and flags.
pub const NAMES: [&str; 6] = [
    "pdfa",
    "pdfua",
    "tagged",
    "pages",
    "single-page-sheets",
    "font-policy",
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
        ];
        entries
            .into_iter()
            .flatten()
            .map(|(name, value)| (format!("{METADATA_PREFIX}{name}"), value))
            .collect()
    }

    /// LibreOffice's PDF export settings, as the JSON LibreOfficeKit takes.
    pub fn filter_data(&self) -> String {
        let mut data = serde_json::Map::new();
        let mut put = |name: &str, kind: &str, value: String| {
            data.insert(
                name.to_string(),
                serde_json::json!({"type": kind, "value": value}),
            );
        };
        // Same JPEG quality as `soffice --convert-to pdf`; LibreOfficeKit's default is lower.
        put("Quality", "long", "90".into());
        if let Some(pdfa) = self.pdfa {
            put("SelectPdfVersion", "long", pdfa.version().to_string());
        }
        if self.pdfua {
            put("PDFUACompliance", "boolean", "true".into());
        }
        if self.tagged || self.pdfua {
            put("UseTaggedPDF", "boolean", "true".into());
        }
        if let Some(pages) = &self.pages {
            put("PageRange", "string", pages.clone());
        }
        if self.single_page_sheets {
            put("SinglePageSheets", "boolean", "true".into());
        }
        serde_json::Value::Object(data).to_string()
    }
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

/// A `pdfa` value; on error, what is allowed.
fn parse_pdfa(value: &str) -> Result<Option<PdfA>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "none" | "false" => Ok(None),
        "1b" => Ok(Some(PdfA::A1b)),
        "2b" => Ok(Some(PdfA::A2b)),
        "3b" => Ok(Some(PdfA::A3b)),
        _ => Err("1b, 2b or 3b".into()),
    }
}

/// A `pages` value, spaces dropped; None for every page; on error, what
/// is allowed.
fn parse_pages(value: &str) -> Result<Option<String>, String> {
    let range = value.replace(' ', "");
    match range.as_str() {
        "" | "all" => Ok(None),
        _ if range.len() <= LONGEST_RANGE && valid_range(&range) => Ok(Some(range)),
        _ => Err(format!(
            "a page range such as 1-3,7 (pages count from 1), at most {LONGEST_RANGE} characters"
        )),
    }
}

fn parse_flag(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err("true or false".into()),
    }
}

/// The longest page range: it is written, as part of the options, into
/// every PDF's metadata, which Cloud Storage caps at 8 KiB in all.
const LONGEST_RANGE: usize = 256;

/// `1-3,7`: comma-separated pages or ascending ranges, counting from 1,
/// in digits (`+1` is not a second spelling of `1`).
fn valid_range(range: &str) -> bool {
    let page = |text: &str| {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| text.parse::<u32>().ok())
            .flatten()
            .filter(|&n| n >= 1)
    };
    range.split(',').all(|part| match part.split_once('-') {
        Some((from, to)) => matches!((page(from), page(to)), (Some(a), Some(b)) if a <= b),
        None => page(part).is_some(),
    })
}

#[cfg(test)]
mod tests;
