//! `font-policy`, each value through `convert` and through the worker: a
//! document set in a font we only have a stand-in of (Verdana, in DejaVu
//! Sans's other widths) and one whose script no installed font has (Kawi)
//! convert under `substitute` (the control: the PDF is made, and would
//! show empty boxes), are warned of under `warn`, and are refused, each by
//! the policy that names its defect, with a record listing the fonts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::emulators::*;
use common::write_docx;

/// A one-paragraph document in Verdana: replaced by a font of other widths.
fn verdana(dir: &Path) -> PathBuf {
    let path = dir.join("verdana.docx");
    let run = r#"<w:rPr><w:rFonts w:ascii="Verdana" w:hAnsi="Verdana"/></w:rPr>"#;
    let body = format!("<w:p><w:r>{run}<w:t>Quarterly report</w:t></w:r></w:p>");
    write_docx(&path, "", &body, "");
    path
}

/// A document in Kawi (Unicode 15), which no font here has, in fonts that
/// are all installed: only its glyphs are missing.
fn kawi(dir: &Path) -> PathBuf {
    let path = dir.join("kawi.docx");
    let fonts = r#"<w:rFonts w:ascii="Carlito" w:hAnsi="Carlito" w:cs="Liberation Sans"/>"#;
    let run = format!(r#"<w:rPr>{fonts}<w:cs/><w:lang w:bidi="kaw"/></w:rPr>"#);
    let text = "\u{11F04}\u{11F05}\u{11F06}";
    let body = format!("<w:p><w:r>{run}<w:t>{text}</w:t></w:r></w:p>");
    write_docx(&path, "", &body, "");
    path
}

/// `convert --font-policy POLICY` on both documents: its exit code, its
/// stderr, and which PDFs it left.
fn convert(policy: &str, inputs: &[PathBuf], out: &Path) -> (Option<i32>, String, Vec<String>) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir(out).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .args(inputs)
        .arg("--out-dir")
        .arg(out)
        .args(["--font-policy", policy, "--jobs", "1"])
        .output()
        .unwrap();
    let mut made: Vec<String> = (std::fs::read_dir(out).unwrap())
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr, made)
}

#[test]
fn each_policy_through_convert() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [verdana(dir.path()), kawi(dir.path())];
    let out = dir.path().join("pdfs");

    let (code, stderr, made) = convert("substitute", &inputs, &out);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(made, ["kawi.pdf", "verdana.pdf"]);
    assert!(!stderr.contains("warning"), "{stderr}");

    let (code, stderr, made) = convert("warn", &inputs, &out);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(made, ["kawi.pdf", "verdana.pdf"]);
    assert!(
        stderr.contains("verdana.docx: warning: Verdana set in DejaVu Sans"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kawi.docx: warning: 3 other characters no installed font can draw"),
        "{stderr}"
    );

    let (code, stderr, made) = convert("fail-missing-glyphs", &inputs, &out);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(made, ["verdana.pdf"], "the refused PDF is not left");
    assert!(
        stderr.contains(
            "kawi.docx: font-policy=fail-missing-glyphs refused its PDF: 3 other characters"
        ),
        "{stderr}"
    );

    let (code, stderr, made) = convert("fail-different-metrics", &inputs, &out);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(made.is_empty(), "{made:?}");
    assert!(stderr.contains("0 converted, 2 failed"), "{stderr}");
    assert!(
        stderr.contains("Verdana set in DejaVu Sans (our closest width, other metrics)"),
        "{stderr}"
    );
}

#[test]
fn each_policy_through_the_worker() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (verdana, kawi) = (verdana(dir.path()), kawi(dir.path()));
    let env = Env::start(&[]);
    let results = format!("{}-results", env.topic);
    create_topic_and_subscription(&env.pubsub, &results, &results);
    let topic = format!("projects/{PROJECT}/topics/{results}");
    // The deployment's default is `warn`; each upload may choose its own.
    let worker = env.worker(&[("RESULT_TOPIC", &topic), ("FONT_POLICY", "warn")]);
    let policy = |value| [("docx2pdf-font-policy", value)];
    env.upload(&verdana, "warned.docx");
    env.upload_with_metadata(&verdana, "lenient.docx", &policy("fail-missing-glyphs"));
    env.upload_with_metadata(&verdana, "strict.docx", &policy("fail-different-metrics"));
    env.upload_with_metadata(&kawi, "boxes.docx", &policy("fail-missing-glyphs"));
    env.upload_with_metadata(&kawi, "substituted.docx", &policy("substitute"));

    for made in ["pdf/warned.pdf", "pdf/lenient.pdf", "pdf/substituted.pdf"] {
        env.wait_object(made, Duration::from_secs(90));
    }
    let pdf = env.object("pdf/substituted.pdf").unwrap();
    assert_eq!(pdf["metadata"]["layout-risk"], "missing-glyphs", "{pdf}");
    let record = |name: &str| -> serde_json::Value {
        env.wait_object(name, Duration::from_secs(90));
        serde_json::from_slice(&env.read_object(name)).unwrap()
    };
    let strict = record("pdf/strict.docx.error.json");
    assert_eq!(strict["kind"], "fonts", "{strict}");
    let fonts = strict["fonts"]["fonts"].as_array().unwrap();
    let asked = serde_json::json!({
        "requested": "Verdana", "would_use": "DejaVu Sans", "metric_compatible": false
    });
    assert!(fonts.contains(&asked), "{strict}");
    let boxes = record("pdf/boxes.docx.error.json");
    assert_eq!(boxes["kind"], "fonts", "{boxes}");
    assert_eq!(boxes["fonts"]["missing_glyphs"]["other"], 3, "{boxes}");
    assert!(env.object("pdf/strict.pdf").is_none() && env.object("pdf/boxes.pdf").is_none());

    // The same bytes under `warn` again: copied from the cache, and still
    // warned of.
    env.upload(&verdana, "warned-again.docx");
    env.wait_object("pdf/warned-again.pdf", Duration::from_secs(90));
    worker.wait_outcome("cached", 1.0, Duration::from_secs(30));
    let events = env.pull_events(&results);
    let warnings = |result: &str| {
        let event = (events.iter())
            .find(|e| e["result"] == result)
            .unwrap_or_else(|| panic!("no event for {result}: {events:?}"));
        event["warnings"].to_string()
    };
    assert!(
        warnings("gs://output/pdf/warned.pdf").contains("Verdana set in DejaVu Sans"),
        "{events:?}"
    );
    assert!(
        warnings("gs://output/pdf/warned-again.pdf").contains("Verdana->DejaVu Sans"),
        "{events:?}"
    );
    assert_eq!(warnings("gs://output/pdf/lenient.pdf"), "null", "not warn");
    let refused = (events.iter()).find(|e| e["result"] == "gs://output/pdf/strict.docx.error.json");
    assert!(
        refused.is_some_and(|e| e["fidelity"]["layout_risk"] == "different-metrics"),
        "{events:?}"
    );
}
