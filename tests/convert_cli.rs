//! The command line as a user runs it: real binary, real LibreOffice. Exit
//! status 1 says some documents failed, 2 that the command could not run.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

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
    assert_eq!(output.status.code(), Some(2), "a usage error");
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

#[test]
fn a_missing_input_says_so_and_the_out_dir_is_created() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("new/pdfs");
    let output = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .arg(work.path().join("missing.docx"))
        .arg(fixture("one_page.docx"))
        .arg("--out-dir")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing.docx: no such file"), "{stderr}");
    assert!(stderr.contains("1 converted, 1 failed"), "{stderr}");
    assert!(out.join("one_page.pdf").exists());
}

#[test]
fn unknown_flags_are_usage_errors() {
    let output = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .args(["convert", "--no-such-flag", "a.docx"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `request` prints its one line to a reader that has gone (`| head -0`):
/// the control is the same run with the reader there.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nx-docx2pdf-outcome: converted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let run = |read_stdout: bool| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
            .args(["request", &url, "--id-token", "t"])
            .args(["--bucket", "in", "--object", "a.docx"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut printed = String::new();
        if read_stdout {
            stdout.read_to_string(&mut printed).unwrap();
        } else {
            drop(stdout);
        }
        let output = child.wait_with_output().unwrap();
        (
            output.status.code(),
            printed,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, printed, stderr) = run(true);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(printed.contains("gs://in/a.docx: converted"), "{printed}");
    let (code, _, stderr) = run(false);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn report_json_prints_one_object_per_document_and_nothing_without_it() {
    let work = tempfile::tempdir().unwrap();
    let run = |report: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_docx2pdf"));
        command
            .arg("convert")
            .arg(fixture("one_page.docx"))
            .arg(fixture("one_sheet.xlsx"))
            .arg("--out-dir")
            .arg(work.path());
        if report {
            command.args(["--report", "json"]);
        }
        let output = command.output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(run(false), "", "without --report stdout stays empty");
    let printed = run(true);
    let reports: Vec<serde_json::Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{printed}");
    for report in &reports {
        for key in ["input", "output", "pages", "fonts", "layout_risk"] {
            assert!(report.get(key).is_some(), "{key}: {report}");
        }
        assert_eq!(report["pages"], 1, "{report}");
    }
}
