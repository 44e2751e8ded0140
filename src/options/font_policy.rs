//! `font-policy`: what to do when a document's fonts are not all here.
//! The fidelity report says what a PDF would look like; the policy says
//! whether such a PDF is wanted.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FontPolicy {
    /// Set each missing font in its stand-in and say so in the report.
    #[default]
    Substitute,
    /// The same PDF; the log line and the result event also warn of each
    /// font set in other metrics and each script drawn as empty boxes.
    Warn,
    /// Refuse a PDF with text no installed font can draw.
    FailMissingGlyphs,
    /// Refuse a PDF unless every font is the one asked for or one of its
    /// metrics (and all text is drawn).
    FailDifferentMetrics,
}

impl FontPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FontPolicy::Substitute => "substitute",
            FontPolicy::Warn => "warn",
            FontPolicy::FailMissingGlyphs => "fail-missing-glyphs",
            FontPolicy::FailDifferentMetrics => "fail-different-metrics",
        }
    }

    /// A `font-policy` value; on error, what is allowed.
    pub(super) fn parse(value: &str) -> Result<FontPolicy, String> {
        let all = [
            FontPolicy::Substitute,
            FontPolicy::Warn,
            FontPolicy::FailMissingGlyphs,
            FontPolicy::FailDifferentMetrics,
        ];
        let value = value.trim().to_ascii_lowercase();
        if value.is_empty() {
            return Ok(FontPolicy::Substitute);
        }
        (all.into_iter().find(|policy| policy.as_str() == value))
            .ok_or_else(|| "substitute, warn, fail-missing-glyphs or fail-different-metrics".into())
    }
}

impl std::fmt::Display for FontPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
