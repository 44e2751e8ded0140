//! Every script people write office documents in is drawn: a document in
//! each, set as Word sets it (the run's East Asian or complex-script font
//! and language), becomes a PDF whose text holds the document's words and
//! whose fonts have their characters; the fidelity report says nothing is
//! missing. The control: a script no installed font has is reported as
//! `missing-glyphs`, though the text layer holds it all the same.

use std::path::Path;
use std::process::Command;

use docx2pdf::office::{Fidelity, LayoutRisk, Pool};
use docx2pdf::options::PdfOptions;

mod common;
use common::{pdf_text, pool, write_docx};

/// A document in one script, set as Word sets it: its run asks for `font`
/// in the slot Word uses for that script (`eastAsia` or `cs`), in
/// language `lang`.
struct Sample {
    name: &'static str,
    slot: &'static str,
    font: &'static str,
    lang: &'static str,
    text: &'static str,
}

const fn sample(
    name: &'static str,
    slot: &'static str,
    font: &'static str,
    lang: &'static str,
    text: &'static str,
) -> Sample {
    Sample {
        name,
        slot,
        font,
        lang,
        text,
    }
}

/// `sample` as a one-paragraph DOCX, converted: its report and its PDF's text.
async fn convert(pool: &Pool, dir: &Path, sample: &Sample) -> (Fidelity, String) {
    let Sample {
        name,
        slot,
        font,
        lang,
        text,
    } = *sample;
    let input = dir.join(format!("{name}.docx"));
    let language = match slot {
        "eastAsia" => format!(r#"<w:lang w:eastAsia="{lang}"/>"#),
        _ => format!(r#"<w:rtl/><w:cs/><w:lang w:bidi="{lang}"/>"#),
    };
    let body = format!(
        r#"<w:p><w:r><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri" w:{slot}="{font}"/>{language}</w:rPr><w:t>{text}</w:t></w:r></w:p>"#
    );
    write_docx(&input, "", &body, "");
    let pdf = input.with_extension("pdf");
    let conversion = (pool.convert(&input, &input, &pdf, &PdfOptions::default()))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (conversion.fidelity, pdf_text(&pdf))
}

/// The installed families that have every character of `text`.
fn families_covering(text: &str) -> Vec<String> {
    let charset: Vec<String> = (text.chars())
        .filter(|c| !c.is_whitespace() && !c.is_ascii_punctuation())
        .map(|c| format!("{:x}", c as u32))
        .collect();
    let out = Command::new("fc-list")
        .arg(format!(":charset={}", charset.join(" ")))
        .arg("family")
        .output()
        .expect("fc-list runs");
    (String::from_utf8_lossy(&out.stdout).lines())
        .flat_map(|line| line.split(','))
        .map(|family| family.trim().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_script_is_drawn_in_a_font_that_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let documents = [
        sample(
            "korean",
            "eastAsia",
            "Malgun Gothic",
            "ko-KR",
            "대한민국 헌법 제1조 국민의 권리",
        ),
        sample(
            "japanese",
            "eastAsia",
            "ＭＳ 明朝",
            "ja-JP",
            "日本国憲法 第一条 ひらがな カタカナ",
        ),
        sample(
            "simplified",
            "eastAsia",
            "SimSun",
            "zh-CN",
            "中华人民共和国 简体中文 说明书",
        ),
        sample(
            "traditional",
            "eastAsia",
            "PMingLiU",
            "zh-TW",
            "中華民國 繁體中文 說明書",
        ),
        sample("arabic", "cs", "Arial", "ar-SA", "مرحبا بالعالم العربي"),
        sample("hebrew", "cs", "Arial", "he-IL", "שלום עולם עברית"),
        sample("thai", "cs", "Tahoma", "th-TH", "สวัสดีชาวโลก ภาษาไทย"),
        sample("hindi", "cs", "Mangal", "hi-IN", "नमस्ते दुनिया हिन्दी"),
    ];
    for document in &documents {
        let Sample {
            name, font, text, ..
        } = *document;
        let (report, layer) = convert(&pool, dir.path(), document).await;
        assert!(report.missing_glyphs.is_empty(), "{name}: {report:?}");
        assert_ne!(report.layout_risk, LayoutRisk::MissingGlyphs, "{name}");
        let words = text.split_whitespace().next().unwrap();
        // Right-to-left text may come out of pdftotext in visual order.
        let reversed: String = words.chars().rev().collect();
        assert!(
            layer.contains(words) || layer.contains(&reversed),
            "{name}: {layer:?}"
        );
        let covering = families_covering(text);
        assert!(
            report.embedded.iter().any(|f| covering.contains(f)),
            "{name}: the PDF embeds {:?}; only {covering:?} have its characters",
            report.embedded
        );
        // The font the run asked for in its script's slot is judged too.
        assert!(
            report.fonts.iter().any(|f| f.requested == font),
            "{name}: {:?}",
            report.fonts
        );
    }
}

/// Kawi (Unicode 15) is in no font here: its characters are counted, and
/// the PDF still carries them in its text layer, which is why the layer
/// cannot tell.
#[tokio::test(flavor = "multi_thread")]
async fn a_script_no_font_has_is_reported_as_missing_glyphs() {
    let text = "\u{11F04}\u{11F05}\u{11F06}";
    assert!(
        families_covering(text).is_empty(),
        "a font has Kawi now: pick another script"
    );
    let dir = tempfile::tempdir().unwrap();
    let kawi = sample("kawi", "cs", "Arial", "kaw", text);
    let (report, _) = convert(&pool(), dir.path(), &kawi).await;
    assert_eq!(report.layout_risk, LayoutRisk::MissingGlyphs, "{report:?}");
    assert_eq!(report.missing_glyphs.get("other"), Some(&3), "{report:?}");
}
