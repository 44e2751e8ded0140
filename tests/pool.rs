//! The LibreOffice pool against real LibreOffice: formats, bad inputs,
//! deadlines, crashes, recycling and parallelism.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use docx2pdf::office::{ConvertError, Pool, PoolConfig};
use docx2pdf::options::PdfOptions;
use docx2pdf::supervisor::SlotState;

mod common;
use common::{fixture, pdf_pages};

fn pool(size: usize, timeout: Duration, recycle_after: u64) -> Pool {
    common::start_pool(PoolConfig {
        size,
        job_timeout: timeout,
        recycle_after,
        ..common::pool_config()
    })
}

async fn convert(pool: &Pool, input: &Path, out: &Path) -> Result<u32, ConvertError> {
    let pdf = out.join(input.with_extension("pdf").file_name().unwrap());
    pool.convert(input, input, &pdf, &PdfOptions::default())
        .await?;
    Ok(pdf_pages(&pdf))
}

async fn wait_for(
    pool: &Pool,
    what: &str,
    test: impl Fn(&[docx2pdf::supervisor::SlotStatus]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !test(&pool.slots()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            pool.slots()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_corpus_document_becomes_a_pdf() {
    let pool = pool(2, Duration::from_secs(120), 200);
    let out = tempfile::tempdir().unwrap();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(fixture("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "docx"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 45, "the corpus copy is incomplete");
    let results =
        futures::future::join_all(inputs.iter().map(|input| convert(&pool, input, out.path())))
            .await;
    for (input, result) in inputs.iter().zip(results) {
        match result {
            Ok(pages) => assert!(pages >= 1, "{} has no page", input.display()),
            Err(error) => panic!("{}: {error}", input.display()),
        }
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writer_formats_convert_through_the_same_pool() {
    let pool = pool(1, Duration::from_secs(120), 200);
    let out = tempfile::tempdir().unwrap();
    for name in [
        "one_page.docx",
        "one_page.doc",
        "one_page.odt",
        "one_page.rtf",
        "one_page.txt",
    ] {
        let pages = convert(&pool, &fixture(name), out.path())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pages, 1, "{name}");
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_permanent_errors_and_the_pool_goes_on() {
    let pool = pool(1, Duration::from_secs(120), 200);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let cases = [
        (write("text.docx", b"just some text, renamed"), "corrupt"),
        (
            write(
                "random.docx",
                &[0x13, 0x37, 0x00, 0xff, 0x42, 0x42, 0x42, 0x42],
            ),
            "corrupt",
        ),
        (write("empty.docx", b""), "empty"),
        (write("fake.doc", b"not an OLE2 file at all"), "corrupt"),
        (write("image.png", b"\x89PNG\r\n\x1a\n"), "unsupported"),
        (write("noext", b"hello"), "unsupported"),
        (fixture("bomb.docx"), "bomb"),
        (fixture("encrypted.docx"), "encrypted"),
        (fixture("encrypted-standard.docx"), "encrypted"),
    ];
    for (input, kind) in &cases {
        let error = convert(&pool, input, dir.path()).await.expect_err(kind);
        assert_eq!(error.kind(), *kind, "{}: {error}", input.display());
        assert!(error.is_permanent(), "{kind} must be permanent");
    }
    // A zip that is not a Word document, and a damaged one.
    let zip_path = dir.path().join("plain.docx");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file("hello.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"hello").unwrap();
    zip.finish().unwrap();
    let error = convert(&pool, &zip_path, dir.path()).await.unwrap_err();
    assert_eq!(error.kind(), "corrupt", "{error}");
    let good = std::fs::read(fixture("one_page.docx")).unwrap();
    let truncated = write("truncated.docx", &good[..good.len() / 2]);
    let error = convert(&pool, &truncated, dir.path()).await.unwrap_err();
    assert_eq!(error.kind(), "corrupt", "{error}");

    assert_eq!(
        convert(&pool, &fixture("one_page.docx"), dir.path())
            .await
            .unwrap(),
        1
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_conversion_is_killed_at_its_deadline_and_the_slot_comes_back() {
    let deadline = Duration::from_secs(3);
    let pool = pool(1, deadline, 200);
    let out = tempfile::tempdir().unwrap();
    wait_for(&pool, "a ready slot", |s| s[0].state == SlotState::Ready).await;
    let pid = pool.slots()[0].pid.unwrap();
    // A stopped process is the purest hang: it never answers.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let started = Instant::now();
    let error = convert(&pool, &fixture("one_page.docx"), out.path())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, ConvertError::Timeout(d) if d == deadline),
        "{error}"
    );
    assert!(!error.is_permanent());
    assert!(
        took < deadline + Duration::from_secs(1),
        "killed after {took:?}"
    );
    assert_eq!(
        convert(&pool, &fixture("one_page.docx"), out.path())
            .await
            .unwrap(),
        1
    );
    let slot = &pool.slots()[0];
    assert_ne!(slot.pid, Some(pid), "the hung process was replaced");
    assert_eq!(slot.restarts, 1);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the hung process is gone"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_killed_mid_job_gives_crashed_and_the_pool_recovers() {
    let pool = pool(2, Duration::from_secs(120), 200);
    let out = tempfile::tempdir().unwrap();
    let long = fixture("long.docx");
    let job = convert(&pool, &long, out.path());
    let killer = async {
        wait_for(&pool, "a busy slot", |s| {
            s.iter().any(|s| s.state == SlotState::Busy)
        })
        .await;
        let busy = pool
            .slots()
            .into_iter()
            .find(|s| s.state == SlotState::Busy)
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(busy.pid.unwrap() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    };
    let (result, ()) = tokio::join!(job, killer);
    let error = result.unwrap_err();
    assert!(matches!(error, ConvertError::Crashed(_)), "{error}");
    assert!(!error.is_permanent());
    wait_for(&pool, "both slots ready", |s| {
        s.iter().all(|s| s.state == SlotState::Ready)
    })
    .await;
    assert_eq!(pool.slots().iter().map(|s| s.restarts).sum::<u64>(), 1);
    let copies = copies(out.path(), 2);
    let results =
        futures::future::join_all(copies.iter().map(|input| convert(&pool, input, out.path())))
            .await;
    assert!(results.iter().all(|r| matches!(r, Ok(1))), "{results:?}");
    pool.shutdown().await;
}

/// `n` copies of the one-page document, so each gets its own output name.
fn copies(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let copy = dir.join(format!("copy{i}.docx"));
            std::fs::copy(fixture("one_page.docx"), &copy).unwrap();
            copy
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn slots_are_recycled_while_jobs_keep_succeeding() {
    let pool = pool(2, Duration::from_secs(120), 3);
    let out = tempfile::tempdir().unwrap();
    let inputs = copies(out.path(), 12);
    let results =
        futures::future::join_all(inputs.iter().map(|input| convert(&pool, input, out.path())))
            .await;
    assert!(results.iter().all(|r| matches!(r, Ok(1))), "{results:?}");
    assert_eq!(pool.slots().iter().map(|s| s.served).sum::<u64>(), 12);
    // A recycle is counted when the new process starts: after the last reply.
    wait_for(&pool, "both slots ready", |s| {
        s.iter().all(|s| s.state == SlotState::Ready)
    })
    .await;
    let slots = pool.slots();
    // 12 jobs at 3 per process, split a + b: a/3 + b/3 >= 3 recycles.
    assert!(
        slots.iter().map(|s| s.restarts).sum::<u64>() >= 3,
        "{slots:?}"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_slots_convert_at_the_same_time() {
    let pool = pool(2, Duration::from_secs(120), 200);
    let out = tempfile::tempdir().unwrap();
    wait_for(&pool, "both slots ready", |s| {
        s.iter().all(|s| s.state == SlotState::Ready)
    })
    .await;
    let long = fixture("long.docx");
    let mut both_busy = false;
    let jobs = futures::future::join(convert(&pool, &long, out.path()), async {
        let copy = out.path().join("long2.docx");
        std::fs::copy(&long, &copy).unwrap();
        convert(&pool, &copy, out.path()).await
    });
    tokio::pin!(jobs);
    let (a, b) = loop {
        tokio::select! {
            results = &mut jobs => break results,
            _ = tokio::time::sleep(Duration::from_millis(10)) => {
                both_busy |= pool.slots().iter().all(|s| s.state == SlotState::Busy);
            }
        }
    };
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert!(both_busy, "the two conversions never ran side by side");
    pool.shutdown().await;
}

/// Processes named `name` (as /proc's comm shows it) descending from us.
fn descendants_named(name: &str) -> Vec<u32> {
    let me = std::process::id();
    let stats: Vec<(u32, String, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, comm.to_string(), ppid))
        })
        .collect();
    let parent = |pid: u32| stats.iter().find(|s| s.0 == pid).map(|s| s.2);
    stats
        .iter()
        .filter(|(_, comm, _)| comm == name)
        .filter(|(pid, _, _)| {
            let mut at = Some(*pid);
            while let Some(pid) = at.filter(|&p| p > 1) {
                if pid == me {
                    return true;
                }
                at = parent(pid);
            }
            false
        })
        .map(|s| s.0)
        .collect()
}

/// Review comments are common in the documents people convert. LibreOfficeKit
/// reads them itself once the Writer UI files are installed (7.4's `-nogui`
/// packages lacked them, and such documents went to a one-off `soffice`
/// taking several times as long): the same warm process converts both kinds.
#[tokio::test(flavor = "multi_thread")]
async fn documents_with_comments_convert_in_the_warm_pool_like_any_other() {
    let pool = pool(1, Duration::from_secs(120), 200);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.docx");
    let reviewed = dir.path().join("reviewed.docx");
    common::write_reviewed_docx(&plain, 40, false);
    common::write_reviewed_docx(&reviewed, 40, true);
    wait_for(&pool, "the slot ready", |s| s[0].state == SlotState::Ready).await;
    let mut times: [Vec<Duration>; 2] = Default::default();
    let mut soffice = Vec::new();
    // Alternating rounds, medians compared: one pair on a shared machine is noise.
    for _ in 0..5 {
        for (side, input) in [&plain, &reviewed].into_iter().enumerate() {
            let started = Instant::now();
            let job = convert(&pool, input, dir.path());
            tokio::pin!(job);
            let pages = loop {
                tokio::select! {
                    pages = &mut job => break pages,
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {
                        soffice.extend(descendants_named("soffice.bin"));
                    }
                }
            };
            let pages = pages.unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            assert!(pages >= 1);
            times[side].push(started.elapsed());
        }
    }
    assert_eq!(soffice, Vec::<u32>::new(), "a one-off soffice was started");
    let text = Command::new("pdftotext")
        .arg(dir.path().join("reviewed.pdf"))
        .arg("-")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("reviewed report"));
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    let (plain, reviewed) = (median(&mut times[0]), median(&mut times[1]));
    assert!(
        reviewed <= plain * 2,
        "with a comment {reviewed:?}, without {plain:?} (medians of 5)"
    );
    assert_eq!(pool.slots()[0].restarts, 0, "{:?}", pool.slots());
    pool.shutdown().await;
}

/// A LibreOffice process sees only the environment it needs, not the
/// worker's (credentials, settings): documents cannot read it from /proc.
#[tokio::test(flavor = "multi_thread")]
async fn libreoffice_gets_a_minimal_environment() {
    let pool = pool(1, Duration::from_secs(120), 200);
    wait_for(&pool, "the slot ready", |s| s[0].state == SlotState::Ready).await;
    let keys = |pid: &str| -> Vec<String> {
        std::fs::read(format!("/proc/{pid}/environ"))
            .unwrap()
            .split(|b| *b == 0)
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                String::from_utf8_lossy(kv)
                    .split('=')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // The control: this test process has variables a child must not get.
    assert!(keys("self").iter().any(|k| k == "CARGO_MANIFEST_DIR"));
    let child = keys(&pool.slots()[0].pid.unwrap().to_string());
    let allowed = [
        "PATH",
        "LANG",
        "LC_ALL",
        "TZ",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LOK_PROGRAM_PATH",
        "RUST_BACKTRACE",
        "HOME",
        "TMPDIR",
    ];
    let extra: Vec<&String> = child
        .iter()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    assert!(extra.is_empty(), "the child inherited {extra:?}");
    pool.shutdown().await;
}

/// The files named `fromdocs` holds (where LibreOffice unpacks a
/// document's embedded fonts) anywhere below `dir`.
fn unpacked_fonts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            } else if path
                .parent()
                .is_some_and(|p| p.ends_with("embeddedfonts/fromdocs"))
            {
                found.push(path);
            }
        }
    }
    found
}

/// A document that brings its own font, as Word's "embed fonts in the
/// file" does: it converts, and the process that loaded the font (which
/// LibreOffice keeps, unpacked into the profile and loaded, after the
/// document is closed) is replaced before the next document, taking the
/// font's file with it.
#[tokio::test(flavor = "multi_thread")]
async fn a_document_with_embedded_fonts_converts_and_leaves_nothing_behind() {
    let workspace = common::workspace();
    let pool = Pool::start(common::pool_config(), workspace.clone()).expect("pool starts");
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("embedded.docx");
    let font = std::fs::read("/usr/share/fonts/truetype/crosextra/Caladea-Regular.ttf")
        .expect("fonts-crosextra-caladea (./dev/setup)");
    common::write_docx_with_embedded_font(&input, "Brought Along Serif", &font, 1);
    assert_eq!(convert(&pool, &input, out.path()).await.unwrap(), 1);
    wait_for(
        &pool,
        "the process that loaded the font to be replaced",
        |slots| slots[0].restarts == 1 && slots[0].state == SlotState::Ready,
    )
    .await;
    assert_eq!(unpacked_fonts(workspace.slots()), Vec::<PathBuf>::new());
    assert_eq!(
        convert(&pool, &fixture("one_page.docx"), out.path())
            .await
            .unwrap(),
        1
    );
    assert_eq!(pool.slots()[0].restarts, 1, "an ordinary document does not");
    pool.shutdown().await;
}

/// Another document's files (or the worker's) fill the volume every slot
/// shares: the document converting meanwhile fails, and that failure is
/// the machine's, transient, never recorded as the document's.
#[tokio::test(flavor = "multi_thread")]
async fn a_failure_on_a_full_volume_is_not_the_documents() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_mount) = common::mount_tmpfs(dir.path(), "96m") else {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    };
    let workspace = docx2pdf::workspace::Workspace::create_in(dir.path()).unwrap();
    let pool = Pool::start(common::pool_config(), std::sync::Arc::new(workspace)).unwrap();
    wait_for(&pool, "a warm process", |slots| {
        slots[0].state == SlotState::Ready
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("innocent.docx");
    std::fs::copy(fixture("long.docx"), &input).unwrap();
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(dir.path().join("filler")).unwrap();
        let chunk = vec![0u8; 16 << 10];
        while filler.write_all(&chunk).is_ok() {}
        // Room for the package inspection rebuilds, not for the PDF.
        let full = filler.metadata().unwrap().len();
        let room = std::fs::metadata(&input).unwrap().len() + (16 << 10);
        filler.set_len(full - room).unwrap();
    }
    let error = convert(&pool, &input, out.path()).await.unwrap_err();
    assert!(!error.is_permanent(), "{}: {error}", error.kind());
    std::fs::remove_file(dir.path().join("filler")).unwrap();
    assert!(convert(&pool, &input, out.path()).await.unwrap() > 1);
    pool.shutdown().await;
}
