//! What a font policy makes of a fidelity report: the shortfalls a reader
//! would see, and whether the policy refuses a PDF that has them.

use super::Fidelity;
use crate::options::FontPolicy;
use crate::outcome::{FontChoice, RefusedFonts};

impl Fidelity {
    /// What a reader would see is not as its author set it: each script
    /// drawn as empty boxes, then each font set in other metrics. Empty
    /// when every font is the one asked for or one of its metrics.
    pub fn shortfalls(&self) -> Vec<String> {
        let boxes = (self.missing_glyphs.iter()).map(|(script, count)| {
            format!("{count} {script} characters no installed font can draw")
        });
        let fonts = (self.fonts.iter().filter(|f| !f.metric_compatible)).map(|f| {
            let how = match f.closest_width {
                true => "our closest width, other metrics",
                false => "other metrics",
            };
            format!("{} set in {} ({how})", f.requested, f.used)
        });
        boxes.chain(fonts).collect()
    }

    /// What `policy` warns of: the shortfalls under `warn`, nothing under
    /// the others (which take the PDF as it is, or refuse it).
    pub fn warnings(&self, policy: FontPolicy) -> Vec<String> {
        match policy {
            FontPolicy::Warn => self.shortfalls(),
            _ => Vec::new(),
        }
    }

    /// The fonts as a refusal's failure record lists them.
    pub fn refused_fonts(&self) -> RefusedFonts {
        let fonts = self.fonts.iter().map(|f| FontChoice {
            requested: f.requested.clone(),
            would_use: f.used.clone(),
            metric_compatible: f.metric_compatible,
        });
        RefusedFonts {
            fonts: fonts.collect(),
            missing_glyphs: self.missing_glyphs.clone(),
        }
    }
}

/// Why `policy` refuses a PDF whose report is `fidelity`, or None when it
/// takes it. Text drawn as boxes is worse than other metrics, so a policy
/// refusing other metrics refuses it too.
pub fn refusal(policy: FontPolicy, fidelity: &Fidelity) -> Option<String> {
    let refused = match policy {
        FontPolicy::Substitute | FontPolicy::Warn => return None,
        FontPolicy::FailMissingGlyphs => (fidelity.shortfalls().into_iter())
            .take(fidelity.missing_glyphs.len())
            .collect(),
        FontPolicy::FailDifferentMetrics => fidelity.shortfalls(),
    };
    if refused.is_empty() {
        return None;
    }
    Some(format!(
        "font-policy={policy} refused its PDF: {}; install the fonts it asks for, or convert it with font-policy=substitute",
        refused.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::office::fidelity::{FontUse, LayoutRisk};

    fn report(fonts: &[(&str, &str, bool)], missing: &[(&str, u64)]) -> Fidelity {
        let fonts = fonts
            .iter()
            .map(|&(requested, used, metric_compatible)| FontUse {
                requested: requested.into(),
                used: used.into(),
                metric_compatible,
                closest_width: false,
            });
        Fidelity {
            pages: 1,
            fonts: fonts.collect(),
            embedded: vec![],
            missing_glyphs: (missing.iter()).map(|&(s, n)| (s.to_string(), n)).collect(),
            layout_risk: LayoutRisk::None,
            csv: None,
        }
    }

    /// Row by row: which policy refuses which report.
    #[test]
    fn each_policy_refuses_what_it_names() {
        use FontPolicy::*;
        let exact = report(&[("Carlito", "Carlito", true)], &[]);
        let twin = report(&[("Calibri", "Carlito", true)], &[]);
        let other = report(&[("Verdana", "DejaVu Sans", false)], &[]);
        let boxes = report(&[("Calibri", "Carlito", true)], &[("Kawi", 5)]);
        let rows = [
            (Substitute, &other, false),
            (Substitute, &boxes, false),
            (Warn, &boxes, false),
            (FailMissingGlyphs, &other, false),
            (FailMissingGlyphs, &boxes, true),
            (FailDifferentMetrics, &exact, false),
            (FailDifferentMetrics, &twin, false),
            (FailDifferentMetrics, &other, true),
            (FailDifferentMetrics, &boxes, true),
        ];
        for (policy, fidelity, refused) in rows {
            let said = refusal(policy, fidelity);
            assert_eq!(said.is_some(), refused, "{policy} {fidelity:?}: {said:?}");
        }
    }

    #[test]
    fn only_warn_warns() {
        let other = report(&[("Verdana", "DejaVu Sans", false)], &[]);
        assert_eq!(
            other.warnings(FontPolicy::Warn),
            ["Verdana set in DejaVu Sans (other metrics)"]
        );
        for policy in [FontPolicy::Substitute, FontPolicy::FailDifferentMetrics] {
            assert!(other.warnings(policy).is_empty(), "{policy}");
        }
    }

    #[test]
    fn a_refusal_names_what_it_refused_and_what_to_do() {
        let both = report(&[("Verdana", "DejaVu Sans", false)], &[("Hangul", 13)]);
        let glyphs = refusal(FontPolicy::FailMissingGlyphs, &both).unwrap();
        assert_eq!(
            glyphs,
            "font-policy=fail-missing-glyphs refused its PDF: 13 Hangul characters no installed font can draw; install the fonts it asks for, or convert it with font-policy=substitute"
        );
        let metrics = refusal(FontPolicy::FailDifferentMetrics, &both).unwrap();
        assert!(
            metrics.contains("Hangul")
                && metrics.contains("Verdana set in DejaVu Sans (other metrics)"),
            "{metrics}"
        );
        let listed = both.refused_fonts();
        assert_eq!(listed.fonts[0].would_use, "DejaVu Sans");
        assert_eq!(
            listed.missing_glyphs,
            BTreeMap::from([("Hangul".into(), 13)])
        );
    }
}
