//! Password-protected documents (`password-secret=NAME`, the password in
//! `PASSWORDS_DIR`): both OOXML encryptions (decrypted by the worker) and
//! OpenDocument, `.doc` and `.xls` (by LibreOffice) open with the right
//! password;
//! a wrong one, an unknown name and a name with a path in it fail with
//! their reasons; the control, without the option, is `encrypted` as
//! before. The password itself is in no log line, record or event.

use std::path::Path;
use std::time::Duration;

mod common;
use common::emulators::*;
use common::{convert_to as convert, fixture, pdf_text};

/// The password of the encrypted fixtures (tests/fixtures/README.md).
const PASSWORD: &str = "secret";

/// A PASSWORDS_DIR with the right password as `contracts` (ending in a
/// newline, as a mounted secret may), again as `mounted` in a directory of
/// its own as Cloud Run mounts a secret, and a wrong one as `old`.
fn passwords(dir: &Path) -> std::path::PathBuf {
    let passwords = dir.join("passwords");
    std::fs::create_dir(&passwords).unwrap();
    std::fs::write(passwords.join("contracts"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(passwords.join("old"), "not it").unwrap();
    std::fs::create_dir(passwords.join("mounted")).unwrap();
    std::fs::write(passwords.join("mounted/password"), PASSWORD).unwrap();
    passwords
}

/// The CPU-limit test measures a confined process's CPU seconds against
/// the wall clock: it runs alone (write), the others beside each other
/// (read), or their LibreOffice processes share its two cores.
static CORES: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn sharing_cores() -> std::sync::RwLockReadGuard<'static, ()> {
    CORES
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `text` with the option's name taken out: what is left must not hold
/// the password.
fn without_option_name(text: &str) -> String {
    text.replace("password-secret", "")
        .replace("PASSWORD_SECRET", "")
}

#[test]
fn convert_opens_each_encryption_with_the_right_password_only() {
    let _cores = sharing_cores();
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
    let mounted = [&dir_flag[..], &["--password-secret", "mounted"]].concat();
    assert_eq!(
        convert(&input, &pdf, &mounted).0,
        Some(0),
        "a secret in its own directory"
    );
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

/// What LibreOffice decrypts itself, each saved with the password by
/// LibreOffice 25.2 (`tests/fixtures/tools/encrypt_with_libreoffice.py`):
/// OpenDocument (the whole package encrypted, as 24.2 on writes it), and
/// `.doc` and `.xls` (RC4 CryptoAPI). Without the option each is
/// `encrypted` (the control; an OpenDocument was called damaged before).
#[test]
fn convert_opens_what_libreoffice_decrypts_with_the_right_password_only() {
    let _cores = sharing_cores();
    let dir = tempfile::tempdir().unwrap();
    let passwords = passwords(dir.path());
    let dir_flag = ["--passwords-dir", passwords.to_str().unwrap()];
    let with = |name: &'static str| [&dir_flag[..], &["--password-secret", name]].concat();
    let pdf = dir.path().join("out.pdf");
    for (fixture_name, text) in [
        ("encrypted.odt", "Invoice summary"),
        ("encrypted.doc", "Invoice summary"),
        ("encrypted.ods", "Region"),
        ("encrypted.xls", "Region"),
        ("encrypted.odp", "Quarterly review"),
    ] {
        let input = fixture(fixture_name);
        let (code, stderr) = convert(&input, &pdf, &[]);
        assert_eq!(code, Some(1), "the control: {stderr}");
        assert!(
            stderr.contains("password-protected; remove the password"),
            "{fixture_name}: {stderr}"
        );
        let (code, stderr) = convert(&input, &pdf, &with("contracts"));
        assert_eq!(code, Some(0), "{fixture_name}: {stderr}");
        assert!(pdf_text(&pdf).contains(text), "{fixture_name}");
        let (code, stderr) = convert(&input, &pdf, &with("old"));
        assert_eq!(code, Some(1), "{fixture_name}");
        assert!(
            stderr.contains(r#"the password named "old" did not open it"#),
            "{fixture_name}: {stderr}"
        );
    }
    // Encrypted by Office itself; and a presentation LibreOffice cannot
    // open, password or not (measured), said so (it was called damaged).
    std::fs::write(passwords.join("office"), "Password1234_").unwrap();
    let (code, stderr) = convert(&fixture("encrypted-office.doc"), &pdf, &with("office"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(pdf_text(&pdf).contains("lorem ipsum"));
    let deck = fixture("encrypted-office.ppt");
    let (_, stderr) = convert(&deck, &pdf, &[]);
    assert!(
        stderr.contains("password-protected; remove the password"),
        "{stderr}"
    );
    let (code, stderr) = convert(&deck, &pdf, &with("office"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("save it as .pptx"), "{stderr}");
    // What is written into a package's plain parts cannot be, into one
    // whose parts are all encrypted.
    let titled = [&with("contracts")[..], &["--title", "Q3"]].concat();
    let (code, stderr) = convert(&fixture("encrypted.odt"), &pdf, &titled);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot be applied to a password-protected"),
        "{stderr}"
    );
}

/// The LibreOffice process that was given a password is replaced after
/// its job (the control: one that converted a plain document is not).
#[tokio::test(flavor = "multi_thread")]
// The lock is between tests, each on a runtime of its own: no task of
// this runtime waits for it.
#[allow(clippy::await_holding_lock)]
async fn a_process_that_held_a_password_is_replaced() {
    let _cores = sharing_cores();
    let dir = tempfile::tempdir().unwrap();
    let pool = common::start_pool(docx2pdf::office::PoolConfig {
        passwords_dir: Some(passwords(dir.path())),
        ..common::pool_config()
    });
    let pdf = dir.path().join("out.pdf");
    let plain = docx2pdf::options::PdfOptions::default();
    let input = fixture("one_page.odt");
    pool.convert(&input, &input, &pdf, &plain).await.unwrap();
    assert_eq!(pool.slots()[0].restarts, 0, "the control");
    let mut options = plain.clone();
    options.set("password-secret", "contracts").unwrap();
    let input = fixture("encrypted.odt");
    pool.convert(&input, &input, &pdf, &options).await.unwrap();
    wait_until("the process is replaced", Duration::from_secs(10), || {
        pool.slots()[0].restarts == 1
    });
    pool.shutdown().await;
}

#[test]
fn the_worker_opens_a_document_by_the_password_its_metadata_names() {
    let _cores = sharing_cores();
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
    env.upload_with_metadata(
        &fixture("encrypted.odt"),
        "minutes.odt",
        &secret("contracts"),
    );

    env.wait_object("pdf/contract.pdf", Duration::from_secs(90));
    let pdf = dir.path().join("got.pdf");
    std::fs::write(&pdf, env.read_object("pdf/contract.pdf")).unwrap();
    assert!(pdf_text(&pdf).contains("Invoice summary"));
    env.wait_object("pdf/minutes.pdf", Duration::from_secs(90));
    std::fs::write(&pdf, env.read_object("pdf/minutes.pdf")).unwrap();
    assert!(
        pdf_text(&pdf).contains("Invoice summary"),
        "decrypted by LibreOffice"
    );
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

/// `encrypted.docx` with its key derivation asking for four billion hash
/// rounds (Word asks for 100,000): about half an hour of one core, which
/// the decryption code spends because the file says so.
fn write_endless_key_derivation(path: &Path) {
    let mut fixture = cfb::open(fixture("encrypted.docx")).unwrap();
    let read = |cfb: &mut cfb::CompoundFile<std::fs::File>, name: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut cfb.open_stream(name).unwrap(), &mut bytes).unwrap();
        bytes
    };
    let info = read(&mut fixture, "/EncryptionInfo");
    let package = read(&mut fixture, "/EncryptedPackage");
    let text = String::from_utf8_lossy(&info[8..]).into_owned();
    assert!(
        text.contains(r#"spinCount="100000""#),
        "the fixture's derivation"
    );
    let endless = text.replace(r#"spinCount="100000""#, r#"spinCount="4000000000""#);
    let info = [&info[..8], endless.as_bytes()].concat();
    let mut hostile = cfb::create(path).unwrap();
    for (name, bytes) in [("/EncryptionInfo", info), ("/EncryptedPackage", package)] {
        let mut stream = hostile.create_stream(name).unwrap();
        std::io::Write::write_all(&mut stream, &bytes).unwrap();
    }
    hostile.flush().unwrap();
}

/// A file whose key derivation never ends: the decryption code runs on
/// for as long as the file asks (the control, in this process, is still
/// at it after 40 s); confined, it is stopped at its CPU limit and the
/// document fails as `corrupt` within the minute.
#[test]
fn a_key_derivation_that_never_ends_is_stopped_at_its_cpu_limit() {
    let _alone = CORES
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("endless.docx");
    write_endless_key_derivation(&hostile);
    let (done, finished) = std::sync::mpsc::channel();
    let control = hostile.clone();
    std::thread::spawn(move || {
        let _ = office_crypto::decrypt_from_file(&control, PASSWORD);
        let _ = done.send(());
    });

    let passwords = passwords(dir.path());
    let flags = [
        "--passwords-dir",
        passwords.to_str().unwrap(),
        "--password-secret",
        "contracts",
    ];
    let started = std::time::Instant::now();
    let (code, stderr) = convert(&hostile, &dir.path().join("out.pdf"), &flags);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("could not be undone"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let waited = Duration::from_secs(40).saturating_sub(started.elapsed());
    assert!(
        finished.recv_timeout(waited).is_err(),
        "the control finished: the hostile file is not hostile"
    );
}
