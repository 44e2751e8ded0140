//! The options that add to a page or take from it, `watermark`,
//! `comments` and `changes`, and the PDF's properties, through
//! `convert` and through the worker (an object's metadata and a JSON job),
//! each against the same document without the option (the control; for
//! comments, `none` is the control of today's default, notes).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::emulators::*;
use common::{convert_to, fixture, pdf_text, write_docx, write_reviewed_docx};

const COMMENT: &str = "Please check this figure.";

/// A Word document with a tracked insertion and a tracked deletion, and
/// no settings part (the option adds one).
fn write_tracked_docx(path: &Path) {
    let change = r#"w:author="Editor" w:date="2026-01-01T00:00:00Z""#;
    let body = format!(
        r#"<w:p><w:r><w:t xml:space="preserve">Kept </w:t></w:r><w:ins w:id="1" {change}><w:r><w:t>INSERTED</w:t></w:r></w:ins><w:del w:id="2" {change}><w:r><w:delText>DELETED</w:delText></w:r></w:del></w:p>"#
    );
    write_docx(path, "", &body, "");
}

/// `convert` of `input` to `output` with `flags`, which succeeds.
fn convert(input: &Path, output: &Path, flags: &[&str]) {
    let (code, stderr) = convert_to(input, output, flags);
    assert_eq!(code, Some(0), "{flags:?}: {stderr}");
}

/// The lines of the page's text in capitals only, joined without spaces:
/// pdftotext reads a diagonal watermark as a line per few letters.
fn capitals(pdf: &Path) -> String {
    let text = pdf_text(pdf);
    let lines = text.lines().map(str::trim).filter(|line| {
        !line.is_empty() && line.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
    });
    lines.collect::<String>().replace(' ', "")
}

/// A field of the PDF's Info dictionary, as pdfinfo prints it.
fn info(pdf: &Path, field: &str) -> Option<String> {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let prefix = format!("{field}:");
    let line = text.lines().find(|line| line.starts_with(&prefix))?;
    Some(line[prefix.len()..].trim().to_string())
}

/// Whether the PDF at `pdf` has a text annotation (a note a reader opens).
fn has_note(pdf: &Path) -> bool {
    let bytes = std::fs::read(pdf).unwrap();
    let text = String::from_utf8_lossy(&bytes).replace(' ', "");
    text.contains("/Subtype/Text")
}

#[test]
fn convert_draws_a_watermark_and_places_comments() {
    let dir = tempfile::tempdir().unwrap();
    let reviewed = dir.path().join("reviewed.docx");
    write_reviewed_docx(&reviewed, 1, true);
    let pdf = dir.path().join("out.pdf");

    // Today's default: each comment a note, not page text.
    convert(&reviewed, &pdf, &[]);
    let plain = pdf_text(&pdf);
    assert!(
        !plain.contains(COMMENT) && !plain.contains("Entwurf"),
        "{plain}"
    );
    assert!(has_note(&pdf));

    convert(&reviewed, &pdf, &["--comments", "none"]);
    assert!(!has_note(&pdf) && !pdf_text(&pdf).contains(COMMENT));

    convert(&reviewed, &pdf, &["--watermark", "NOT FOR RELEASE"]);
    assert_eq!(capitals(&pdf), "NOTFORRELEASE", "{}", pdf_text(&pdf));
}

#[test]
fn the_worker_takes_them_from_metadata_and_from_a_job() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let reviewed = dir.path().join("reviewed.docx");
    write_reviewed_docx(&reviewed, 1, true);
    let tracked = dir.path().join("tracked.docx");
    write_tracked_docx(&tracked);
    // Preloaded: announced only by the jobs below.
    let env = Env::start(&[("job.docx", reviewed.clone()), ("tracked.docx", tracked)]);
    let _worker = env.worker(&[]);
    let watermark = [("docx2pdf-watermark", "CONFIDENTIAL")];
    env.upload_with_metadata(&fixture("one_page.docx"), "marked.docx", &watermark);
    env.upload(&fixture("one_page.docx"), "plain.docx");
    let title = [("docx2pdf-title", "Jahresbericht Ü")];
    env.upload_with_metadata(&fixture("one_page.docx"), "titled.docx", &title);
    let job = r#"{"bucket": "input", "name": "job.docx", "options": {"comments": "none"}}"#;
    env.publish(&[&format!("--message={job}")]);
    let job = r#"{"bucket": "input", "name": "tracked.docx", "options": {"changes": "hide"}}"#;
    env.publish(&[&format!("--message={job}")]);

    let pdf = dir.path().join("got.pdf");
    let fetch = |name: &str| {
        let object = env.wait_object(name, Duration::from_secs(90));
        std::fs::write(&pdf, env.read_object(name)).unwrap();
        object
    };
    let object = fetch("pdf/marked.pdf");
    assert_eq!(capitals(&pdf), "CONFIDENTIAL", "{}", pdf_text(&pdf));
    assert_eq!(object["metadata"]["pdf-options"], "watermark=CONFIDENTIAL");
    assert_eq!(
        object["metadata"]["layout-risk"], "metric-compatible",
        "the watermark's font stands in for none of the document's"
    );
    fetch("pdf/plain.pdf");
    assert_eq!(capitals(&pdf), "", "the control");
    let object = fetch("pdf/job.pdf");
    assert!(!has_note(&pdf), "the job's option, over today's notes");
    assert_eq!(object["metadata"]["pdf-options"], "comments=none");
    let object = fetch("pdf/titled.pdf");
    assert_eq!(info(&pdf, "Title").as_deref(), Some("Jahresbericht Ü"));
    assert_eq!(object["metadata"]["pdf-options"], "title=Jahresbericht Ü");
    fetch("pdf/tracked.pdf");
    let text = pdf_text(&pdf);
    assert!(
        text.contains("INSERTED") && !text.contains("DELETED"),
        "{text}"
    );
}

#[test]
fn tracked_changes_show_or_hide_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tracked = dir.path().join("tracked.docx");
    write_tracked_docx(&tracked);
    let pdf = dir.path().join("out.pdf");
    let words = |flags: &[&str]| {
        convert(&tracked, &pdf, flags);
        pdf_text(&pdf)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(words(&[]), "Kept INSERTEDDELETED", "the control: as today");
    assert_eq!(words(&["--changes", "show"]), "Kept INSERTEDDELETED");
    assert_eq!(
        words(&["--changes", "hide"]),
        "Kept INSERTED",
        "as if accepted"
    );

    let odt = fixture("tracked_changes.odt");
    let words = |flags: &[&str]| {
        convert(&odt, &pdf, flags);
        pdf_text(&pdf)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(words(&[]), "Kept text INSERTEDDELETED", "the control");
    assert_eq!(words(&["--changes", "hide"]), "Kept text INSERTED");
}

#[test]
fn the_pdfs_properties_are_set_over_the_documents_or_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("out.pdf");
    let docx = fixture("one_page.docx");
    convert(&docx, &pdf, &[]);
    assert_eq!(
        info(&pdf, "Author").as_deref(),
        Some("python-docx"),
        "the control: its own"
    );
    assert_eq!(info(&pdf, "Title"), None);

    let asked = [
        "--title",
        "Q3 Bericht – Ü & <x>",
        "--author",
        "ACME GmbH",
        "--keywords",
        "finance, q3",
    ];
    convert(&docx, &pdf, &asked);
    assert_eq!(info(&pdf, "Title").as_deref(), Some("Q3 Bericht – Ü & <x>"));
    assert_eq!(info(&pdf, "Author").as_deref(), Some("ACME GmbH"));
    assert_eq!(info(&pdf, "Keywords").as_deref(), Some("finance, q3"));

    convert(&docx, &pdf, &["--clear-metadata"]);
    assert_eq!(info(&pdf, "Author"), None, "none of its own");

    convert(&fixture("one_page.odt"), &pdf, &["--author", "Bob"]);
    assert_eq!(info(&pdf, "Author").as_deref(), Some("Bob"));

    // PDF/A: the XMP says what the Info dictionary says.
    convert(
        &fixture("one_sheet.xlsx"),
        &pdf,
        &["--title", "Bilanz 2026", "--pdfa", "2b"],
    );
    assert_eq!(info(&pdf, "Title").as_deref(), Some("Bilanz 2026"));
    let bytes = String::from_utf8_lossy(&std::fs::read(&pdf).unwrap()).into_owned();
    let xmp = &bytes[bytes.find("<dc:title>").expect("an XMP title")..];
    assert!(
        xmp[..200.min(xmp.len())].contains("Bilanz 2026"),
        "{}",
        &xmp[..200.min(xmp.len())]
    );
}

/// Options a document cannot take fail naming them, rather than making a
/// PDF silently without them: properties asked of a text file (which has
/// none), tracked changes of a `.doc` or an RTF (whose setting we do not
/// write). The controls: the same options on a `.docx` apply, and a
/// spreadsheet, with no tracked text changes, takes a deployment's
/// `CHANGES` default without complaint.
#[test]
fn options_a_format_cannot_take_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("out.pdf");
    for (input, flags, refused) in [
        ("one_page.txt", &["--title", "Q3"][..], "title"),
        (
            "one_sheet.csv",
            &["--author", "Ann", "--keywords", "x"][..],
            "author, keywords",
        ),
        ("one_page.rtf", &["--changes", "hide"][..], "changes"),
        ("one_page.doc", &["--changes", "show"][..], "changes"),
    ] {
        let (code, stderr) = convert_to(&fixture(input), &pdf, flags);
        assert_eq!(code, Some(1), "{input}: {stderr}");
        assert!(
            stderr.contains(&format!("{refused} cannot be applied to a .")),
            "{input}: {stderr}"
        );
    }
    convert(
        &fixture("one_page.docx"),
        &pdf,
        &["--title", "Q3", "--changes", "hide"],
    );
    convert(&fixture("one_page.txt"), &pdf, &["--clear-metadata"]);
    convert(&fixture("one_sheet.xls"), &pdf, &["--changes", "hide"]);
}

/// The files we copy rather than rebuild: binary Office files (their
/// summary property set rewritten) and RTF (its info group) take the
/// properties over their own, and `clear-metadata` leaves none of their
/// own (the control: without options, the `.doc` and the RTF name
/// python-docx, which wrote them, as their author).
#[test]
fn properties_reach_binary_and_rtf_files() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("out.pdf");
    for input in ["one_page.doc", "one_page.rtf"] {
        convert(&fixture(input), &pdf, &[]);
        assert_eq!(
            info(&pdf, "Author").as_deref(),
            Some("python-docx"),
            "the control: {input}"
        );
        convert(&fixture(input), &pdf, &["--clear-metadata"]);
        assert_eq!(info(&pdf, "Author"), None, "{input}");
        assert!(pdf_text(&pdf).contains("Invoice summary"), "{input}");
    }
    let flags = ["--title", "Jahresbericht Ü", "--keywords", "a, b"];
    for input in [
        "one_page.doc",
        "one_page.rtf",
        "one_sheet.xls",
        "one_slide.ppt",
    ] {
        convert(&fixture(input), &pdf, &flags);
        assert_eq!(
            info(&pdf, "Title").as_deref(),
            Some("Jahresbericht Ü"),
            "{input}"
        );
        assert_eq!(info(&pdf, "Keywords").as_deref(), Some("a, b"), "{input}");
    }
    for input in ["one_page.doc", "one_page.rtf"] {
        convert(&fixture(input), &pdf, &["--title", "T"]);
        assert_eq!(
            info(&pdf, "Author").as_deref(),
            Some("python-docx"),
            "{input}: kept"
        );
    }
}
