//! CSV dialects: a European file (`;` between fields, `,` in numbers,
//! Windows-1252) becomes a table with the right numbers, by detection and
//! by the options, through `convert` and through the worker. The control:
//! read as LibreOffice read it before (comma, UTF-8), it is one column of
//! text with its letters lost.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::emulators::*;

/// The PDF's text in its layout: a row of cells on one line.
fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// "Müller;1,5" and "Bäcker;1.234,56", with ü and ä as one byte each.
const EUROPEAN: &[u8] = b"Name;Betrag\nM\xfcller;1,5\nB\xe4cker;1.234,56\n";

/// `convert --report json` of `input` with `flags`: the PDF's text and
/// the report.
fn convert(input: &Path, flags: &[&str]) -> (String, serde_json::Value) {
    let pdf = input.with_extension("pdf");
    let out = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .arg(input)
        .args(["--report", "json"])
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{flags:?}: {stderr}");
    let report = serde_json::from_slice(&out.stdout).unwrap();
    (pdf_text(&pdf), report)
}

/// The PDF's text as rows of fields, spaces squeezed.
fn rows(text: &str) -> Vec<String> {
    let rows = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    rows.filter(|l| !l.is_empty()).collect()
}

#[test]
fn a_european_csv_is_read_as_its_author_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("accounts.csv");
    std::fs::write(&input, EUROPEAN).unwrap();

    let (text, report) = convert(&input, &[]);
    let rows = rows(&text);
    assert!(rows.contains(&"Müller 1.5".to_string()), "{rows:?}");
    assert!(
        rows.contains(&"Bäcker 1234.56".to_string()),
        "numbers: {rows:?}"
    );
    assert_eq!(
        report["csv"],
        serde_json::json!({"separator": "semicolon", "encoding": "windows-1252",
            "decimal": "comma", "detected": ["encoding", "separator", "decimal"]})
    );

    let asked = [
        "--csv-separator",
        ";",
        "--csv-encoding",
        "cp1252",
        "--csv-decimal",
        ",",
    ];
    let (asked_text, report) = convert(&input, &asked);
    assert_eq!(asked_text, text, "the options read it as detection did");
    assert_eq!(report["csv"]["detected"], serde_json::json!([]));

    let before = [
        "--csv-separator",
        ",",
        "--csv-encoding",
        "utf-8",
        "--csv-decimal",
        ".",
    ];
    let (text, _) = convert(&input, &before);
    assert!(
        text.contains("Name;Betrag") && !text.contains("Müller"),
        "the control: {text}"
    );
}

#[test]
fn other_separators_and_encodings_are_read_when_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.csv");
    // Shift_JIS: 日本|2 and 東京|3.
    std::fs::write(&input, b"\x93\xfa\x96\x7b|2\n\x93\x8c\x8b\x9e|3\n").unwrap();
    let (text, report) = convert(&input, &["--csv-encoding", "shift_jis"]);
    let japanese = rows(&text);
    assert!(
        japanese.contains(&"日本 2".into()) && japanese.contains(&"東京 3".into()),
        "{japanese:?}"
    );
    assert_eq!(report["csv"]["separator"], "pipe", "detected: {report}");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("a\tb\n1\t2\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let input = dir.path().join("sheet.csv");
    std::fs::write(&input, utf16).unwrap();
    let (text, report) = convert(&input, &[]);
    let rows = rows(&text);
    assert!(
        rows.contains(&"a b".into()) && rows.contains(&"1 2".into()),
        "{rows:?}"
    );
    assert_eq!(report["csv"]["encoding"], "utf-16le");
}

#[test]
fn the_worker_reads_a_csv_by_its_metadata() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("accounts.csv");
    std::fs::write(&input, EUROPEAN).unwrap();
    let env = Env::start(&[]);
    let _worker = env.worker(&[]);
    let asked = [
        ("docx2pdf-csv-separator", ";"),
        ("docx2pdf-csv-encoding", "windows-1252"),
    ];
    env.upload_with_metadata(&input, "accounts.csv", &asked);
    let object = env.wait_object("pdf/accounts.pdf", Duration::from_secs(90));
    assert_eq!(
        object["metadata"]["pdf-options"], "csv-separator=semicolon;csv-encoding=windows-1252",
        "{object}"
    );
    let pdf = dir.path().join("got.pdf");
    std::fs::write(&pdf, env.read_object("pdf/accounts.pdf")).unwrap();
    let rows = rows(&pdf_text(&pdf));
    assert!(rows.contains(&"Bäcker 1234.56".to_string()), "{rows:?}");
}
