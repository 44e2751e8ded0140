//! A LibreOffice process running a document's exploit, played by stand-ins
//! that misbehave on purpose: scripted children for the supervisor, and a
//! stand-in for the `office-child` program under the real pool. Real
//! LibreOffice cannot be made to misbehave on command; its own path keeps
//! its own tests. Each test shows the move works outside our supervision
//! (the control) and is harmless under it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use docx2pdf::office::{ConvertError, Limits, Pool, PoolConfig};
use docx2pdf::options::PdfOptions;
use docx2pdf::supervisor::{CallError, Spec, Supervisor};

mod common;
use common::fixture;

/// Answers each request line with itself, after doing what it names.
const SCRIPTED: &str = r#"echo ready
while read -r line; do
  case "$line" in
    '"escape"') setsid sleep 4242.4242 & sleep 0.3 ;;
    '"raise"') if ulimit -S -t unlimited 2>/dev/null; then line='"raised"'; else line='"refused"'; fi ;;
    '"raise and spin"') ulimit -S -t unlimited 2>/dev/null; while :; do :; done ;;
    '"flood"') head -c 268435456 /dev/zero | tr '\0' x ;;
    '"flood stderr"') head -c 268435456 /dev/zero | tr '\0' x >&2 ;;
  esac
  echo "$line"
done"#;

fn spec(scratch: &Path) -> Spec {
    Spec {
        name: "scripted",
        program: "/bin/sh".into(),
        args: vec!["-c".into(), SCRIPTED.into()],
        prepare: Box::new(|_, _| Ok(())),
        scratch_root: scratch.to_owned(),
        start_timeout: Duration::from_secs(5),
        recycle_after: 1000,
        rss_ceiling: u64::MAX,
        file_size_cap: u64::MAX,
        cpu_budget: None,
        scratch_cap: u64::MAX,
        unfit: Box::new(|_| None),
        backoff: (Duration::from_millis(50), Duration::from_millis(400)),
    }
}

fn processes_named(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(needle))
        })
        .collect()
}

/// Control: a process group killed whole still misses a member that made
/// a session of its own. Under the supervisor, `setsid` is refused, so
/// nothing the child starts outlives it.
#[tokio::test(flavor = "multi_thread")]
async fn no_process_a_child_starts_outlives_its_kill() {
    let mut plain = Command::new("/bin/sh")
        .args([
            "-c",
            "setsid sleep 4343.4343 & sleep 0.3; echo started; sleep 1000",
        ])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(plain.stdout.take().unwrap()),
        &mut started,
    )
    .unwrap();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(plain.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    plain.wait().unwrap();
    let escaped = processes_named("sleep\x004343.4343");
    for pid in &escaped {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        !escaped.is_empty(),
        "control: setsid escaped the group kill"
    );

    let scratch = tempfile::tempdir().unwrap();
    let supervisor: Supervisor<String, String> = Supervisor::start(spec(scratch.path()), 1);
    let reply = supervisor
        .call("escape".into(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.value, "escape");
    drop(reply);
    supervisor.shutdown().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        processes_named("sleep\x004242.4242"),
        Vec::<u32>::new(),
        "a process started by the child outlived it"
    );
}

/// Control: an unprivileged process raises its own soft CPU limit back to
/// the hard one. Under the supervisor it cannot, so the budget holds.
#[tokio::test(flavor = "multi_thread")]
async fn a_child_cannot_lift_its_cpu_budget() {
    let plain = Command::new("/bin/sh")
        .args([
            "-c",
            "ulimit -S -t 100; ulimit -S -t unlimited && echo raised",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        "raised\n",
        "control"
    );

    let scratch = tempfile::tempdir().unwrap();
    let capped = Spec {
        cpu_budget: Some(Duration::from_secs(1)),
        ..spec(scratch.path())
    };
    let supervisor: Supervisor<String, String> = Supervisor::start(capped, 1);
    let reply = supervisor
        .call("raise".into(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.value, "refused");
    drop(reply);
    let error = supervisor
        .call("raise and spin".into(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::CpuCap(_)), "{error}");
    supervisor.shutdown().await;
}

/// 256 MiB without a newline, on the channel and on stderr: the reply is
/// refused as soon as it is longer than a reply can be, the process is
/// replaced, and a flood on stderr is cut and skipped while the reply still
/// arrives. (Control: reading such a line whole, as a plain line reader
/// does, holds all of it. That the bounded reader holds no more than its
/// bound is `lines`' unit test: this process's peak memory is shared with
/// the tests running beside it, too noisy to assert on.)
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_a_child_is_read_within_a_bound() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor: Supervisor<String, String> = Supervisor::start(spec(scratch.path()), 1);
    let started = Instant::now();
    let error = supervisor
        .call("flood".into(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::Misbehaved(why) if why.contains("longer than")),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let reply = supervisor
        .call("flood stderr".into(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(reply.value, "flood stderr");
    drop(reply);
    assert_eq!(supervisor.status()[0].restarts, 1);
    supervisor.shutdown().await;

    let mut flood = tokio::process::Command::new("/bin/sh")
        .args(["-c", "head -c 67108864 /dev/zero | tr '\\0' x"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(flood.stdout.take().unwrap()));
    let line = lines.next_line().await.unwrap().unwrap();
    assert_eq!(line.len(), 64 << 20, "control: a plain reader holds it all");
    flood.wait().await.unwrap();
}

/// The `office-child` program of a pool played by `script`: it speaks the
/// protocol, does `action` with `$in` and `$out` (the request's input and
/// output paths), and says the conversion worked.
fn stand_in(dir: &Path, action: &str) -> PathBuf {
    let script = format!(
        r#"#!/bin/sh
echo ready
while read -r line; do
  in=$(printf '%s' "$line" | sed 's/.*"input":"\([^"]*\)".*/\1/')
  out=$(printf '%s' "$line" | sed 's/.*"output":"\([^"]*\)".*/\1/')
  {action}
  echo '{{"outcome":"converted"}}'
done
"#
    );
    let path = dir.join("office-child");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

fn pool(program: PathBuf) -> Pool {
    Pool::start(
        PoolConfig {
            program,
            size: 1,
            job_timeout: Duration::from_secs(20),
            recycle_after: 200,
            rss_ceiling: 1 << 30,
            max_output_bytes: 1 << 20,
            max_pages: 5000,
            scratch_cap: 512 << 20,
            limits: Limits::default(),
        },
        common::workspace(),
    )
    .expect("pool starts")
}

/// What a PDF the stand-in writes looks like to the worker's check.
const A_PDF: &str = r"printf '%%PDF-1.4\n1 0 obj <</Type/Page>> endobj\n%%%%EOF\n'";

async fn convert(pool: &Pool, input: &Path, out: &Path) -> Result<(), ConvertError> {
    let options = PdfOptions::default();
    let converting = pool.convert(input, input, out, &options);
    tokio::time::timeout(Duration::from_secs(15), converting)
        .await
        .expect("the conversion ends within its deadline")
        .map(drop)
}

/// A FIFO in place of the PDF: opening it to read would wait forever for
/// a writer (the control shows a plain open does). The worker opens it
/// without blocking, refuses it, and replaces the process.
#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_for_a_pdf_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("control.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let plain = tokio::task::spawn_blocking(move || std::fs::File::open(fifo));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), plain)
            .await
            .is_err(),
        "control: a plain open of a FIFO waits"
    );

    let pool = pool(stand_in(dir.path(), r#"rm -f "$out"; mkfifo "$out""#));
    let pdf = dir.path().join("out.pdf");
    let error = convert(&pool, &fixture("one_page.docx"), &pdf)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConvertError::Crashed(why) if why.contains("a FIFO")),
        "{error}"
    );
    assert!(!pdf.exists());
    let started = Instant::now();
    while pool.slots()[0].restarts == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pool.slots()[0].restarts, 1, "the process is replaced");
    pool.shutdown().await;
    // The writer the FIFO was waiting for, so the control's thread ends.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("control.fifo"));
}

/// A link, symbolic or hard, to a PDF outside the job in place of its own:
/// followed, it would publish another document's PDF as this one's.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_for_a_pdf_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // On the file system of the process's scratch, so a hard link can reach it.
    let elsewhere = common::workspace();
    let victim = elsewhere.slots().join("victim.pdf");
    std::fs::write(&victim, "%PDF-1.4\nsomeone else's PDF /Type/Page \n%%EOF\n").unwrap();
    for (kind, link) in [("a symbolic link", "ln -sf"), ("a hard link", "ln -f")] {
        let action = format!(r#"{link} "{}" "$out""#, victim.display());
        let pool = pool(stand_in(dir.path(), &action));
        let pdf = dir.path().join("out.pdf");
        let error = convert(&pool, &fixture("one_page.docx"), &pdf)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ConvertError::Crashed(why) if why.contains(kind)),
            "{kind}: {error}"
        );
        assert!(!pdf.exists(), "{kind}: the victim's PDF was taken");
        pool.shutdown().await;
    }
}

/// The process rewrites the document it was given after converting it:
/// the caller's file (in `convert`, the user's own document) and what the
/// worker reads after the conversion stay as they were.
#[tokio::test(flavor = "multi_thread")]
async fn what_the_process_was_given_is_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mine.docx");
    std::fs::copy(fixture("one_page.docx"), &input).unwrap();
    let original = std::fs::read(&input).unwrap();
    let action = format!(r#"{A_PDF} > "$out"; printf 'rewritten' > "$in""#);
    let pool = pool(stand_in(dir.path(), &action));
    convert(&pool, &input, &dir.path().join("out.pdf"))
        .await
        .unwrap();
    assert!(
        std::fs::read(&input).unwrap() == original,
        "the caller's file was changed"
    );
    pool.shutdown().await;
}

/// The process keeps the PDF open and writes into it after saying it is
/// done: what the worker checked and hands on is its own copy, taken when
/// the process answered, and stays as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_pdf_changed_after_the_answer_is_not_what_is_handed_on() {
    let dir = tempfile::tempdir().unwrap();
    let action = format!(
        r#"{A_PDF} > "$out"; exec 4>>"$out"; (sleep 0.3; printf 'rewritten after the answer' >&4) &"#
    );
    let pool = pool(stand_in(dir.path(), &action));
    let pdf = dir.path().join("out.pdf");
    convert(&pool, &fixture("one_page.docx"), &pdf)
        .await
        .unwrap();
    let taken = std::fs::read(&pdf).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(std::fs::read(&pdf).unwrap(), taken);
    assert!(!String::from_utf8_lossy(&taken).contains("rewritten"));
    pool.shutdown().await;
}
