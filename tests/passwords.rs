//! Password-protected documents (`password-secret=NAME`, the password in
//! `PASSWORDS_DIR`): both OOXML encryptions open with the right password;
//! a wrong one, an unknown name and a name with a path in it fail with
//! their reasons; the control, without the option, is `encrypted` as
//! before. The password itself is in no log line, record or event.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::emulators::*;
use common::{fixture, pdf_text};

/// The password of the encrypted fixtures (tests/fixtures/README.md).
const PASSWORD: &str = "secret";

/// A PASSWORDS_DIR with the right password as `contracts` (ending in a
/// newline, as a mounted secret may) and a wrong one as `old`.
fn passwords(dir: &Path) -> std::path::PathBuf {
    let passwords = dir.join("passwords");
    std::fs::create_dir(&passwords).unwrap();
    std::fs::write(passwords.join("contracts"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(passwords.join("old"), "not it").unwrap();
    passwords
}

/// `convert` of `input` with `flags`: its exit code and stderr.
fn convert(input: &Path, output: &Path, flags: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(flags)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `text` with the option's name taken out: what is left must not hold
/// the password.
fn without_option_name(text: &str) -> String {
    text.replace("password-secret", "")
        .replace("PASSWORD_SECRET", "")
}

#[test]
fn convert_opens_each_encryption_with_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = passwords(dir.path());
    let dir_flag = ["--passwords-dir", passwords.to_str().unwrap()];
    let pdf = dir.path().join("out.pdf");
    for fixture_name in ["encrypted.docx", "encrypted-standard.docx"] {
        let input = fixture(fixture_name);
        let (code, stderr) = convert(&input, &pdf, &[]);
        assert_eq!(code, Some(1), "the control: {stderr}");
        assert!(
            stderr.contains("password-protected; remove the password"),
            "{stderr}"
        );

        let right = [&dir_flag[..], &["--password-secret", "contracts"]].concat();
        let (code, stderr) = convert(&input, &pdf, &right);
        assert_eq!(code, Some(0), "{fixture_name}: {stderr}");
        assert!(pdf_text(&pdf).contains("Invoice summary"), "{fixture_name}");
        assert!(!without_option_name(&stderr).contains(PASSWORD), "{stderr}");
    }
    let input = fixture("encrypted.docx");
    let wrong = [&dir_flag[..], &["--password-secret", "old"]].concat();
    let (code, stderr) = convert(&input, &pdf, &wrong);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(r#"the password named "old" did not open it"#),
        "{stderr}"
    );
    let unknown = [&dir_flag[..], &["--password-secret", "nobody"]].concat();
    let (_, stderr) = convert(&input, &pdf, &unknown);
    assert!(stderr.contains(r#"no password named "nobody""#), "{stderr}");
    let (code, stderr) = convert(&input, &pdf, &["--password-secret", "../contracts"]);
    assert_eq!(code, Some(2), "a path is a usage error: {stderr}");
    assert!(stderr.contains("not a path"), "{stderr}");
}

#[test]
fn the_worker_opens_a_document_by_the_password_its_metadata_names() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let passwords = passwords(dir.path());
    let env = Env::start(&[]);
    let results = format!("{}-results", env.topic);
    create_topic_and_subscription(&env.pubsub, &results, &results);
    let topic = format!("projects/{PROJECT}/topics/{results}");
    let worker = env.worker(&[
        ("RESULT_TOPIC", &topic),
        ("PASSWORDS_DIR", passwords.to_str().unwrap()),
    ]);
    let secret = |name| [("docx2pdf-password-secret", name)];
    env.upload_with_metadata(
        &fixture("encrypted.docx"),
        "contract.docx",
        &secret("contracts"),
    );
    env.upload_with_metadata(&fixture("encrypted.docx"), "stale.docx", &secret("old"));
    env.upload_with_metadata(&fixture("encrypted.docx"), "path.docx", &secret("../x"));

    env.wait_object("pdf/contract.pdf", Duration::from_secs(90));
    let pdf = dir.path().join("got.pdf");
    std::fs::write(&pdf, env.read_object("pdf/contract.pdf")).unwrap();
    assert!(pdf_text(&pdf).contains("Invoice summary"));
    let record = |name: &str| -> String {
        env.wait_object(name, Duration::from_secs(90));
        String::from_utf8(env.read_object(name)).unwrap()
    };
    let stale = record("pdf/stale.docx.error.json");
    assert!(
        stale.contains(r#""kind": "encrypted""#) && stale.contains("did not open it"),
        "{stale}"
    );
    let path = record("pdf/path.docx.error.json");
    assert!(
        path.contains(r#""kind": "bad_options""#) && path.contains("not a path"),
        "{path}"
    );

    worker.wait_outcome("failed_permanent", 2.0, Duration::from_secs(30));
    let events = format!("{:?}", env.pull_events(&results));
    let said = [env.log_of(&worker), stale, path, events].concat();
    assert!(
        !without_option_name(&said).contains(PASSWORD),
        "the password was written out"
    );
}
