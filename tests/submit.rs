//! `docx2pdf submit` against a worker on the real emulators: upload,
//! announce, wait, download, and one-line errors.

use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::emulators::*;
use common::fixture;

fn submit(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("submit")
        .args(args)
        .args(["--output-bucket", "output", "--output-prefix", "pdf/"])
        .env("PUBSUB_EMULATOR_HOST", &env.pubsub)
        .env("STORAGE_EMULATOR_HOST", env.gcs_url())
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn submit_uploads_announces_waits_and_downloads() {
    let _serial = serial();
    let env = Env::start(&[]);
    let topic = format!("projects/{PROJECT}/topics/{}", env.topic);
    let work = tempfile::tempdir().unwrap();
    let file = |name: &str, source: &str| {
        let path = work.path().join(name);
        std::fs::copy(fixture(source), &path).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (first, second, broken) = (
        file("first.docx", "one_page.docx"),
        file("second.odt", "one_page.odt"),
        file("broken.docx", "bomb.docx"),
    );
    let pdfs = work.path().join("pdfs");
    std::fs::create_dir(&pdfs).unwrap();

    // No worker yet: the wait ends with a reason, and the job stays queued.
    let early = submit(
        &env,
        &[
            &first,
            "--bucket",
            "input",
            "--topic",
            &topic,
            "--timeout",
            "2",
        ],
    );
    assert!(!early.status.success());
    assert!(
        text(&early.stderr).contains("no PDF after 2 s"),
        "{}",
        text(&early.stderr)
    );

    let _worker = env.worker(&[]);
    let run = submit(
        &env,
        &[
            &first,
            &second,
            &broken,
            "--bucket",
            "input",
            "--topic",
            &topic,
            "--download",
            pdfs.to_str().unwrap(),
            "--preview",
            "64",
            "--timeout",
            "120",
        ],
    );
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(
        run.status.code(),
        Some(1),
        "one document is broken: {stderr}"
    );
    for name in ["first.pdf", "second.pdf"] {
        let pdf = std::fs::read(pdfs.join(name)).unwrap_or_default();
        assert!(
            pdf.starts_with(b"%PDF-"),
            "{name} was not downloaded: {stdout}"
        );
        let png = std::fs::read(pdfs.join(name.replace(".pdf", ".png"))).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG"), "{name}'s preview: {stdout}");
    }
    let failure: Vec<&str> = stderr.lines().collect();
    assert_eq!(failure.len(), 1, "{stderr}");
    assert!(
        failure[0].contains("broken.docx: not converted") && failure[0].contains("error.json"),
        "{stderr}"
    );

    // The bucket's notification alone announces the upload.
    let notified = submit(
        &env,
        &[&second, "--bucket", "input", "--notify", "--timeout", "120"],
    );
    assert!(notified.status.success(), "{}", text(&notified.stderr));
    assert!(text(&notified.stdout).contains("gs://output/pdf/second.pdf"));

    // Options travel as the upload's docx2pdf-* metadata.
    let deck = file("deck.pptx", "one_slide.pptx");
    let archived = submit(
        &env,
        &[
            &deck,
            "--bucket",
            "input",
            "--notify",
            "--pdfa",
            "2b",
            "--timeout",
            "120",
        ],
    );
    assert!(archived.status.success(), "{}", text(&archived.stderr));
    let object = env.wait_object("pdf/deck.pdf", Duration::from_secs(10));
    assert_eq!(object["metadata"]["pdf-options"], "pdfa=2b", "{object}");

    let missing = submit(&env, &[&first, "--bucket", "nosuch", "--topic", &topic]);
    assert!(!missing.status.success());
    let stderr = text(&missing.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("gs://nosuch does not exist"), "{stderr}");
}
