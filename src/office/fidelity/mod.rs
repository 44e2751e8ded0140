//! How faithful a PDF is likely to be to the layout its author saw: the
//! fonts the document asks for, the fonts the PDF embeds, and for each font
//! that is not installed, what stood in for it and whether that font has the
//! same metrics (then lines and pages break where they did for the author).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

mod fonts;
mod installed;
use crate::office::inspect::csv::Dialect;
mod policy;
mod scripts;
pub mod substitutes;
pub use fonts::{Asked, requested};
pub use installed::Installed;
pub use policy::refusal;

/// Free fonts with the metrics of the fonts Office documents ask for most.
const METRIC_TWINS: &[(&str, &str)] = &[
    ("Calibri", "Carlito"),
    ("Cambria", "Caladea"),
    ("Arial", "Liberation Sans"),
    ("Helvetica", "Liberation Sans"),
    ("Arial Narrow", "Liberation Sans Narrow"),
    ("Times New Roman", "Liberation Serif"),
    ("Times", "Liberation Serif"),
    ("Courier New", "Liberation Mono"),
    ("Courier", "Liberation Mono"),
];

/// How much the layout may differ from the author's, the worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutRisk {
    /// Text that no installed font can draw: it shows as empty boxes,
    /// whatever the fonts' metrics.
    MissingGlyphs,
    /// Every font asked for is installed.
    None,
    /// Some were replaced, each by a font of the same metrics.
    MetricCompatible,
    /// Some were replaced by fonts of other widths: lines and pages may
    /// break elsewhere.
    DifferentMetrics,
}

impl LayoutRisk {
    pub fn as_str(self) -> &'static str {
        match self {
            LayoutRisk::MissingGlyphs => "missing-glyphs",
            LayoutRisk::None => "none",
            LayoutRisk::MetricCompatible => "metric-compatible",
            LayoutRisk::DifferentMetrics => "different-metrics",
        }
    }
}

/// One font a document asks for, and what the PDF has for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FontUse {
    pub requested: String,
    pub used: String,
    /// The same font, or one with its metrics.
    pub metric_compatible: bool,
    /// `used` is our stand-in for `requested` ([`super::substitutes`]): the
    /// closest width we have, not the same metrics.
    pub closest_width: bool,
}

/// The fidelity report of one conversion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fidelity {
    pub pages: u64,
    pub fonts: Vec<FontUse>,
    /// The font families the PDF embeds.
    pub embedded: Vec<String>,
    /// Characters of the text no installed font has, counted by script.
    pub missing_glyphs: BTreeMap<String, u64>,
    pub layout_risk: LayoutRisk,
    /// How a CSV was read: its separator, encoding and decimal mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<Dialect>,
}

impl Fidelity {
    /// `Hangul:120,Han:3`, or `none`: for object metadata.
    pub fn missing(&self) -> String {
        if self.missing_glyphs.is_empty() {
            return "none".into();
        }
        let counted = self
            .missing_glyphs
            .iter()
            .map(|(script, n)| format!("{script}:{n}"));
        counted.collect::<Vec<_>>().join(",")
    }

    /// `Calibri->Carlito,Aptos->Carlito (closest width)`, or `none`: for
    /// object metadata.
    pub fn substituted(&self) -> String {
        let replaced: Vec<String> = (self.fonts.iter())
            .filter(|f| f.used != f.requested)
            .map(|f| {
                let note = if f.closest_width {
                    " (closest width)"
                } else {
                    ""
                };
                format!("{}->{}{note}", f.requested, f.used)
            })
            .collect();
        if replaced.is_empty() {
            return "none".into();
        }
        // Written into the PDF's metadata, which Cloud Storage caps at 8 KiB
        // in all: a document can ask for any number of fonts.
        let mut said = String::new();
        for (shown, font) in replaced.iter().enumerate() {
            if said.len() + font.len() + 1 > LONGEST_SUBSTITUTED {
                return format!("{said},... and {} more", replaced.len() - shown);
            }
            if !said.is_empty() {
                said.push(',');
            }
            said.push_str(font);
        }
        said
    }
}

/// The most of `fonts-substituted` written: the first fonts, then a count.
const LONGEST_SUBSTITUTED: usize = 1024;

/// The report for a document that asked for `asked` and became a PDF of
/// `pages` embedding the PostScript fonts `embedded`, made with the fonts
/// `have` lists; `ours` are families the PDF embeds for what we drew on
/// it (a watermark), which stood in for nothing the document asked for.
pub fn report(
    asked: &Asked,
    pages: u64,
    embedded: &[String],
    have: &Installed,
    ours: &[&str],
) -> Fidelity {
    let installed = have.families();
    let requested: Vec<String> = (asked.fonts.iter())
        .map(|font| first_alternative(font))
        .collect();
    let families = embedded.iter().map(|ps| family_of(ps, installed));
    let embedded: Vec<String> = families.collect::<BTreeSet<_>>().into_iter().collect();
    let fonts = stand_ins(&requested, &embedded, have, ours);
    let missing_glyphs = have.coverage().missing(&asked.characters);
    let layout_risk = if !missing_glyphs.is_empty() {
        LayoutRisk::MissingGlyphs
    } else if fonts.iter().all(|f| f.used == f.requested) {
        LayoutRisk::None
    } else if fonts.iter().all(|f| f.metric_compatible) {
        LayoutRisk::MetricCompatible
    } else {
        LayoutRisk::DifferentMetrics
    };
    Fidelity {
        pages,
        fonts,
        embedded,
        missing_glyphs,
        layout_risk,
        csv: None,
    }
}

/// What stood in for each of the `requested` fonts in a PDF embedding the
/// families `embedded` (`ours` among them for what we drew): itself if
/// installed, else what fontconfig names if the PDF has it, else a font
/// the PDF has that nothing else explains (LibreOffice's own fallback can
/// differ from fontconfig's first choice).
fn stand_ins(
    requested: &[String],
    embedded: &[String],
    have: &Installed,
    ours: &[&str],
) -> Vec<FontUse> {
    let installed = have.families();
    let mut used: Vec<Option<String>> = (requested.iter())
        .map(|font| match installed.get(&normal(font)) {
            Some(_) => Some(font.clone()),
            None => have.matching(font).and_then(|m| find(embedded, &m)),
        })
        .collect();
    let explained: Vec<String> = used.iter().flatten().map(|f| normal(f)).collect();
    let ours: Vec<String> = ours.iter().map(|f| normal(f)).collect();
    let unexplained =
        (embedded.iter()).find(|e| !explained.contains(&normal(e)) && !ours.contains(&normal(e)));
    for (font, used) in requested.iter().zip(used.iter_mut()) {
        if used.is_none() {
            *used = (unexplained.cloned())
                .or_else(|| have.matching(font))
                .or_else(|| Some("unknown".into()));
        }
    }
    (requested.iter().zip(used))
        .map(|(font, used)| font_use(font, used.unwrap_or_default()))
        .collect()
}

/// A list of alternatives (`Liberation Sans;Arial`, as Word and
/// LibreOffice write them), as the name LibreOffice sets: its first, which
/// fontconfig always matches to something, so later ones are never
/// reached (measured: `Nonexistent Grotesk;Liberation Serif` came out in
/// Noto Serif).
fn first_alternative(font: &str) -> String {
    let mut alternatives = font.split(';').map(str::trim).filter(|f| !f.is_empty());
    alternatives.next().unwrap_or(font).to_string()
}

/// `used` in place of `requested`: the same font, its metric twin, our
/// closest-width stand-in, or another.
fn font_use(requested: &str, used: String) -> FontUse {
    let pair = |original: &str, free: &str| {
        normal(original) == normal(requested) && normal(free) == normal(&used)
    };
    let twin = METRIC_TWINS
        .iter()
        .any(|(original, free)| pair(original, free));
    let ours = (substitutes::table().iter()).any(|s| pair(&s.original, &s.stand_in));
    FontUse {
        requested: requested.to_string(),
        metric_compatible: twin || used == requested,
        closest_width: ours && !twin,
        used,
    }
}

/// `name` as it is written in `families`, if it is there.
fn find(families: &[String], name: &str) -> Option<String> {
    families.iter().find(|f| normal(f) == normal(name)).cloned()
}

/// Names compared without case, spaces or hyphens: `LiberationSerif` is
/// `Liberation Serif`.
fn normal(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The family of a PDF font name: `BAAAAA+Carlito-Bold` is Carlito, named
/// as fontconfig names it when it is installed.
fn family_of(postscript: &str, installed: &HashMap<String, String>) -> String {
    let name = postscript.split_once('+').map_or(postscript, |(_, n)| n);
    let base = name.split_once('-').map_or(name, |(family, _)| family);
    let base = base.split_once(',').map_or(base, |(family, _)| family);
    installed
        .get(&normal(base))
        .cloned()
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_fonts_is_judged_by_its_first() {
        assert_eq!(
            first_alternative("Liberation Sans; Arial"),
            "Liberation Sans"
        );
        assert_eq!(first_alternative(";Other"), "Other");
        assert_eq!(first_alternative("Calibri"), "Calibri");
    }

    #[test]
    fn a_pdf_font_name_is_read_as_its_family() {
        let installed = HashMap::from([
            (normal("Liberation Serif"), "Liberation Serif".to_string()),
            (normal("Carlito"), "Carlito".to_string()),
        ]);
        assert_eq!(family_of("BAAAAA+Carlito-Bold", &installed), "Carlito");
        assert_eq!(
            family_of("LiberationSerif-Italic", &installed),
            "Liberation Serif"
        );
        assert_eq!(family_of("Unknown,Bold", &installed), "Unknown");
    }

    #[test]
    fn substitutions_are_listed_for_the_object_metadata() {
        let font = |requested: &str, used: &str, closest_width: bool| FontUse {
            requested: requested.into(),
            used: used.into(),
            metric_compatible: !closest_width,
            closest_width,
        };
        let report = Fidelity {
            pages: 3,
            fonts: vec![
                font("Calibri", "Carlito", false),
                font("Carlito", "Carlito", false),
                font("Verdana", "DejaVu Sans", true),
            ],
            embedded: vec!["Carlito".into(), "DejaVu Sans".into()],
            missing_glyphs: BTreeMap::new(),
            layout_risk: LayoutRisk::DifferentMetrics,
            csv: None,
        };
        assert_eq!(
            report.substituted(),
            "Calibri->Carlito,Verdana->DejaVu Sans (closest width)"
        );
        assert_eq!(report.layout_risk.as_str(), "different-metrics");
    }

    /// A document asking for 150 fonts nobody has: the list stops at its
    /// bound and says how many it left out.
    #[test]
    fn a_long_list_of_substitutions_is_cut_with_a_count() {
        let fonts = (0..150)
            .map(|n| FontUse {
                requested: format!("Missing Font Number {n}"),
                used: "Noto Sans".into(),
                metric_compatible: false,
                closest_width: false,
            })
            .collect();
        let report = Fidelity {
            pages: 1,
            fonts,
            embedded: vec![],
            missing_glyphs: BTreeMap::new(),
            layout_risk: LayoutRisk::DifferentMetrics,
            csv: None,
        };
        let said = report.substituted();
        assert!(said.len() <= LONGEST_SUBSTITUTED + 32, "{}", said.len());
        assert!(
            said.starts_with("Missing Font Number 0->Noto Sans,"),
            "{said}"
        );
        let (_, more) = said.rsplit_once("... and ").unwrap();
        let listed = said.matches("->").count();
        assert_eq!(more, format!("{} more", 150 - listed));
    }
}
