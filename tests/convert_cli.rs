//! `docx2pdf convert` as a user runs it: real binary, real LibreOffice.

use std::process::Command;

mod common;
use common::{fixture, processes_using};

#[test]
fn converts_good_files_reports_bad_ones_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("pdfs");
    std::fs::create_dir(&out).unwrap();
    let mut inputs = Vec::new();
    for i in 0..5 {
        let copy = work.path().join(format!("doc{i}.docx"));
        std::fs::copy(fixture("one_page.docx"), &copy).unwrap();
        inputs.push(copy);
    }
    let bad = work.path().join("notes.docx");
    std::fs::write(&bad, "plain text with a .docx name").unwrap();
    inputs.push(bad);

    let output = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .env("TMPDIR", tmp.path())
        .arg("convert")
        .args(&inputs)
        .arg("--out-dir")
        .arg(&out)
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "one file failed, so exit 1: {stderr}"
    );
    let reasons: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("notes.docx"))
        .collect();
    assert_eq!(reasons.len(), 1, "one line for the bad file: {stderr}");
    assert!(
        reasons[0].contains("must be a zip container"),
        "{}",
        reasons[0]
    );
    assert!(stderr.contains("5 converted, 1 failed"), "{stderr}");
    for i in 0..5 {
        let pdf = out.join(format!("doc{i}.pdf"));
        assert!(
            std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"),
            "{}",
            pdf.display()
        );
    }
    assert!(!out.join("notes.pdf").exists());

    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    assert_eq!(
        processes_using(tmp.path()),
        Vec::<String>::new(),
        "LibreOffice processes outlived the command"
    );
}

#[test]
fn output_flag_takes_exactly_one_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .args(["convert", "a.docx", "b.docx", "-o", "x.pdf"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("use --out-dir"), "{stderr}");
}

#[test]
fn single_file_to_a_named_output() {
    let work = tempfile::tempdir().unwrap();
    let pdf = work.path().join("letter.pdf");
    let status = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .arg(fixture("one_page.odt"))
        .arg("-o")
        .arg(&pdf)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
}
