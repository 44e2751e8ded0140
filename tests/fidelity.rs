//! The fidelity report with real LibreOffice and the machine's fonts:
//! what a document asks for, what the PDF embeds, and the layout risk.

use std::collections::BTreeSet;
use std::path::Path;

use docx2pdf::office::{Fidelity, LayoutRisk, Pool, substitutes};
use docx2pdf::options::PdfOptions;

mod common;
use common::{pool, write_docx};

/// A one-paragraph DOCX whose only run asks for `font`.
async fn report_for(pool: &Pool, dir: &Path, font: &str) -> Fidelity {
    let input = dir.join(format!("{}.docx", font.replace(' ', "_")));
    let body = format!(
        r#"<w:p><w:r><w:rPr><w:rFonts w:ascii="{font}" w:hAnsi="{font}" w:cs="{font}"/></w:rPr><w:t>The quick brown fox jumps over the lazy dog.</w:t></w:r></w:p>"#
    );
    write_docx(&input, "", &body, "");
    let conversion = pool
        .convert(
            &input,
            &input,
            &input.with_extension("pdf"),
            &PdfOptions::default(),
        )
        .await
        .unwrap();
    conversion.fidelity
}

/// The report's `used` fonts are exactly the PDF's embedded fonts.
fn used_is_embedded(report: &Fidelity) {
    let used: BTreeSet<&str> = report.fonts.iter().map(|f| f.used.as_str()).collect();
    let embedded: BTreeSet<&str> = report.embedded.iter().map(String::as_str).collect();
    assert_eq!(used, embedded, "{report:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn calibri_is_set_in_carlito_with_the_same_metrics() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let report = report_for(&pool, dir.path(), "Calibri").await;
    assert_eq!(report.fonts.len(), 1, "{report:?}");
    assert_eq!(report.fonts[0].requested, "Calibri");
    assert_eq!(report.fonts[0].used, "Carlito");
    assert!(report.fonts[0].metric_compatible);
    assert_eq!(report.layout_risk, LayoutRisk::MetricCompatible);
    assert_eq!(report.substituted(), "Calibri->Carlito");
    assert_eq!(report.pages, 1);
    used_is_embedded(&report);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_font_nobody_has_is_replaced_by_one_of_other_metrics() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let report = report_for(&pool, dir.path(), "Nonexistent Grotesk").await;
    assert_eq!(report.fonts.len(), 1, "{report:?}");
    assert_ne!(report.fonts[0].used, "Nonexistent Grotesk");
    assert!(!report.fonts[0].metric_compatible);
    assert_eq!(report.layout_risk, LayoutRisk::DifferentMetrics);
    used_is_embedded(&report);
    pool.shutdown().await;
}

/// A list of alternatives is set in its first, installed or not
/// (fontconfig matches any name), and the report judges that one: the
/// list that starts with an installed font carries no risk, the one that
/// starts with a font nobody has is replaced, the second never reached.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_of_fonts_is_judged_by_its_first() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let report = report_for(&pool, dir.path(), "Liberation Serif;Nonexistent Grotesk").await;
    assert_eq!(report.fonts[0].used, "Liberation Serif", "{report:?}");
    assert_eq!(report.layout_risk, LayoutRisk::None);
    used_is_embedded(&report);
    let report = report_for(&pool, dir.path(), "Nonexistent Grotesk;Liberation Serif").await;
    assert_eq!(
        report.fonts[0].requested, "Nonexistent Grotesk",
        "{report:?}"
    );
    assert_ne!(report.fonts[0].used, "Liberation Serif", "{report:?}");
    assert_eq!(report.layout_risk, LayoutRisk::DifferentMetrics);
    used_is_embedded(&report);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn installed_fonts_carry_no_risk() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let report = report_for(&pool, dir.path(), "Liberation Serif").await;
    assert_eq!(report.fonts[0].used, "Liberation Serif", "{report:?}");
    assert_eq!(report.layout_risk, LayoutRisk::None);
    assert_eq!(report.substituted(), "none");
    used_is_embedded(&report);
    pool.shutdown().await;
}

/// Each rule of fonts/30-docx2pdf-substitutes.conf (installed by ./dev/setup)
/// is in effect: a document asking for the original gets the stand-in, and
/// the report says it is our closest-width choice, not a twin. Without the
/// rules LibreOffice set each of them in Noto Serif.
#[tokio::test(flavor = "multi_thread")]
async fn fonts_without_a_twin_get_the_stand_in_of_closest_width() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    for rule in substitutes::table() {
        let report = report_for(&pool, dir.path(), &rule.original).await;
        assert_eq!(report.fonts.len(), 1, "{report:?}");
        let font = &report.fonts[0];
        assert_eq!(font.used, rule.stand_in, "{}: {report:?}", rule.original);
        assert!(font.closest_width && !font.metric_compatible, "{report:?}");
        assert_eq!(report.embedded, std::slice::from_ref(&rule.stand_in));
        assert_eq!(report.layout_risk, LayoutRisk::DifferentMetrics);
        assert_eq!(
            report.substituted(),
            format!("{}->{} (closest width)", rule.original, rule.stand_in)
        );
    }
    pool.shutdown().await;
}
