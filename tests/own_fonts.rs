//! `FONTS`: a deployment's own fonts. A document asking for a font only the
//! deployment has (Inhouse: Caladea renamed, so no machine has it) is set
//! in it and reported `exact`; the control, the same document without
//! `FONTS`, gets a stand-in. A file that is not a font is skipped with a
//! warning naming it, and start goes on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::emulators::*;
use common::write_docx;

/// Caladea with every name of its family changed: a font no machine here
/// has, whose metrics we know.
fn inhouse_font() -> Vec<u8> {
    let caladea = std::fs::read("/usr/share/fonts/truetype/crosextra/Caladea-Regular.ttf")
        .expect("Caladea is installed (./dev/setup)");
    let utf16 =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_be_bytes).collect() };
    let renamed = replace_all(&caladea, b"Caladea", b"Inhouse");
    replace_all(&renamed, &utf16("Caladea"), &utf16("Inhouse"))
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "offsets in the font stay put");
    let mut out = bytes.to_vec();
    let mut at = 0;
    while let Some(found) = out[at..].windows(from.len()).position(|w| w == from) {
        out[at + found..at + found + to.len()].copy_from_slice(to);
        at += found + to.len();
    }
    out
}

/// A directory of fonts as a deployment might keep it: the font, a file
/// with a font's name that is not one, and its licence.
fn font_dir(dir: &Path) -> PathBuf {
    let fonts = dir.join("fonts");
    std::fs::create_dir_all(fonts.join("serif")).unwrap();
    std::fs::write(fonts.join("serif/Inhouse-Regular.ttf"), inhouse_font()).unwrap();
    std::fs::write(fonts.join("broken.ttf"), "<html>not a font</html>").unwrap();
    std::fs::write(fonts.join("LICENSE.txt"), "licensed to us").unwrap();
    fonts
}

fn inhouse_document(dir: &Path) -> PathBuf {
    let path = dir.join("letter.docx");
    let run = r#"<w:rPr><w:rFonts w:ascii="Inhouse" w:hAnsi="Inhouse"/></w:rPr>"#;
    let body = format!("<w:p><w:r>{run}<w:t>Set in our own typeface</w:t></w:r></w:p>");
    write_docx(&path, "", &body, "");
    path
}

/// The font families a PDF embeds, as pdffonts names them.
fn embedded(pdf: &Path) -> String {
    let out = Command::new("pdffonts")
        .arg(pdf)
        .output()
        .expect("pdffonts (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `convert --report json` of `input`, with `extra` flags: the report
/// line and stderr.
fn convert(input: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .arg(input)
        .args(["--report", "json"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (report, stderr)
}

#[test]
fn convert_sets_a_document_in_the_fonts_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (fonts, input) = (font_dir(dir.path()), inhouse_document(dir.path()));
    let pdf = input.with_extension("pdf");

    let (report, _) = convert(&input, &[]);
    let asked = &report["fonts"][0];
    assert_eq!(asked["requested"], "Inhouse", "{report}");
    assert_ne!(asked["used"], "Inhouse", "the control: no machine has it");
    assert!(!embedded(&pdf).contains("Inhouse"), "{}", embedded(&pdf));

    let (report, stderr) = convert(&input, &["--fonts", &fonts.to_string_lossy()]);
    let asked = &report["fonts"][0];
    assert_eq!(asked["used"], "Inhouse", "{report}");
    assert_eq!(report["layout_risk"], "none", "{report}");
    assert!(
        embedded(&pdf).contains("Inhouse-Regular"),
        "{}",
        embedded(&pdf)
    );
    assert!(
        stderr.contains("broken.ttf") && stderr.contains("does not start as"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("LICENSE.txt"),
        "not a font by name, not a warning: {stderr}"
    );
}

#[test]
fn the_worker_loads_fonts_from_a_bucket_and_they_start_a_new_cache() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let fonts = font_dir(dir.path());
    let env = Env::start(&[
        (
            "fonts/serif/Inhouse-Regular.ttf",
            fonts.join("serif/Inhouse-Regular.ttf"),
        ),
        ("fonts/broken.ttf", fonts.join("broken.ttf")),
        ("fonts/LICENSE.txt", fonts.join("LICENSE.txt")),
    ]);
    let document = inhouse_document(dir.path());

    let mut worker = env.worker(&[("FONTS", "gs://input/fonts/")]);
    worker.wait_ready();
    assert_eq!(worker.readyz().1["own_fonts"], 1);
    assert_eq!(worker.metric("docx2pdf_own_fonts"), 1.0);
    let log = env.log_of(&worker);
    assert!(
        log.contains("fonts/broken.ttf") && log.contains("does not start as"),
        "{log}"
    );
    env.upload(&document, "ours.docx");
    let pdf = env.wait_object("pdf/ours.pdf", Duration::from_secs(90));
    assert_eq!(pdf["metadata"]["layout-risk"], "none", "{pdf}");
    assert_eq!(pdf["metadata"]["fonts-substituted"], "none", "{pdf}");
    let file = dir.path().join("ours.pdf");
    std::fs::write(&file, env.read_object("pdf/ours.pdf")).unwrap();
    assert!(
        embedded(&file).contains("Inhouse-Regular"),
        "{}",
        embedded(&file)
    );
    worker.terminate();

    // The control: a worker without them substitutes, and converts the
    // same bytes again rather than copy the PDF made with the fonts.
    let control = env.subscription_apart("control");
    let worker = env.worker(&[("SUBSCRIPTION", &control)]);
    env.upload(&document, "theirs.docx");
    let pdf = env.wait_object("pdf/theirs.pdf", Duration::from_secs(90));
    let substituted = pdf["metadata"]["fonts-substituted"]
        .as_str()
        .unwrap_or_default();
    assert!(substituted.starts_with("Inhouse->"), "{pdf}");
    assert_eq!(
        worker.outcome("converted"),
        1.0,
        "not a copy from the cache"
    );
    assert_eq!(worker.readyz().1["own_fonts"], 0);
}
