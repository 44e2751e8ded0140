//! A LibreOffice process running a document's exploit, played by a
//! stand-in for the `office-child` program under the real pool (what the
//! supervisor itself does about a misbehaving child is in
//! `tests/supervisor.rs`). Real LibreOffice cannot be made to misbehave on
//! command; its own path keeps its own tests. Each test shows the move works
//! unprotected (the control) and is harmless under the pool.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use docx2pdf::office::{ConvertError, Pool, PoolConfig};
use docx2pdf::options::PdfOptions;

mod common;
use common::fixture;

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
    common::start_pool(PoolConfig {
        job_timeout: Duration::from_secs(20),
        max_output_bytes: 1 << 20,
        ..PoolConfig::defaults(program)
    })
}

/// What a PDF the stand-in writes looks like to the worker's check.
const A_PDF: &str = r"printf '%%PDF-1.4\n1 0 obj <</Type/Page>> endobj\n%%%%EOF\n'";

async fn convert(pool: &Pool, input: &Path, out: &Path) -> Result<(), ConvertError> {
    convert_with(pool, input, out, &PdfOptions::default()).await
}

async fn convert_with(
    pool: &Pool,
    input: &Path,
    out: &Path,
    options: &PdfOptions,
) -> Result<(), ConvertError> {
    let converting = pool.convert(input, input, out, options);
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

/// The program of a pool whose LibreOffice converts honestly (a PDF) and
/// whose preview tool (`render-preview WIDTH MAX_BYTES PDF PREFIX`) does
/// `action` with `$prefix`, where it is to write `$prefix.png`.
fn drawing_stand_in(dir: &Path, action: &str) -> PathBuf {
    let path = stand_in(dir, &format!(r#"{A_PDF} > "$out""#));
    let script = std::fs::read_to_string(&path).unwrap().replacen(
        "#!/bin/sh\n",
        &format!(
            "#!/bin/sh\nif [ \"$1\" = render-preview ]; then prefix=\"$5\"; {action}; exit 0; fi\n"
        ),
        1,
    );
    std::fs::write(&path, script).unwrap();
    path
}

async fn convert_with_preview(pool: &Pool, input: &Path, out: &Path) -> Result<(), ConvertError> {
    let options = PdfOptions {
        preview: Some(64),
        ..PdfOptions::default()
    };
    convert_with(pool, input, out, &options).await
}

/// A preview tool taken over by the PDF it draws leaves a link, a FIFO or
/// a PNG of another size where its PNG goes: each is refused, and the PDF
/// goes with it (the controls: a plain read follows the link to the file
/// it names, and the honest PNG beside them is taken).
#[tokio::test(flavor = "multi_thread")]
async fn what_a_preview_tool_leaves_is_trusted_only_as_a_png_of_the_width_asked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.png");
    let png = |width: u32| {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, width, width);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![255; (width * width) as usize])
            .unwrap();
        writer.finish().unwrap();
        bytes
    };
    std::fs::write(&secret, png(64)).unwrap();
    let link = dir.path().join("control.png");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    assert_eq!(
        std::fs::read(&link).unwrap(),
        png(64),
        "control: a plain read follows it"
    );
    let other = dir.path().join("other.png");
    std::fs::write(&other, png(65)).unwrap();
    let (secret, other) = (secret.display(), other.display());
    let cases = [
        (
            "a symbolic link",
            format!(r#"ln -s "{secret}" "$prefix.png""#),
            "no PNG file",
        ),
        (
            "a hard link",
            format!(r#"ln "{secret}" "$prefix.png""#),
            "hard link",
        ),
        (
            "a FIFO",
            r#"mkfifo "$prefix.png""#.to_string(),
            "other than a file",
        ),
        (
            "another width",
            format!(r#"cp "{other}" "$prefix.png""#),
            "64 pixels wide",
        ),
        (
            "a tall PNG",
            r#"printf '\211PNG\r\n\032\n\0\0\0\rIHDR\0\0\0@\0\1\0\0\10\0\0\0\0' > "$prefix.png""#
                .to_string(),
            "pixels tall",
        ),
    ];
    for (what, action, said) in cases {
        let pool = pool(drawing_stand_in(dir.path(), &action));
        let pdf = dir.path().join("out.pdf");
        let error =
            (convert_with_preview(&pool, &fixture("one_page.docx"), &pdf).await).unwrap_err();
        assert!(
            matches!(&error, ConvertError::Crashed(why) if why.contains(said)),
            "{what}: {error}"
        );
        assert!(
            !pdf.exists() && !dir.path().join("out.png").exists(),
            "{what}"
        );
        pool.shutdown().await;
    }
    let honest = format!(r#"cp "{secret}" "$prefix.png""#);
    let pool = pool(drawing_stand_in(dir.path(), &honest));
    let pdf = dir.path().join("out.pdf");
    convert_with_preview(&pool, &fixture("one_page.docx"), &pdf)
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.path().join("out.png")).unwrap(), png(64));
    pool.shutdown().await;
}

/// A preview tool that never ends is stopped at the job's deadline, and
/// the PDF goes with it.
#[tokio::test(flavor = "multi_thread")]
async fn a_preview_tool_that_never_ends_is_stopped_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let pool = common::start_pool(PoolConfig {
        job_timeout: Duration::from_secs(2),
        ..PoolConfig::defaults(drawing_stand_in(dir.path(), "exec sleep 600"))
    });
    let pdf = dir.path().join("out.pdf");
    let started = Instant::now();
    let error = (convert_with_preview(&pool, &fixture("one_page.docx"), &pdf).await).unwrap_err();
    assert!(
        matches!(&error, ConvertError::ResourceLimit(why) if why.contains("preview")),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!pdf.exists());
    pool.shutdown().await;
}
