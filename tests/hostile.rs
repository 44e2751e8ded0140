//! Hostile documents against the pool, with real LibreOffice: each ends in a
//! clear permanent error or a correct PDF, reaches nothing outside the
//! worker, and leaves the pool converting.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use docx2pdf::office::{ConvertError, Limits, Pool, PoolConfig};
use docx2pdf::options::PdfOptions;

mod common;
use common::{fixture, linked_image, pdf_text, pool_config, start_pool, write_docx};

fn pool() -> Pool {
    capped_pool(1 << 30, Duration::from_secs(60))
}

/// One LibreOffice process that may map at most `memory_cap` bytes of
/// private memory (`u64::MAX`: no cap), with `deadline` per job.
fn capped_pool(memory_cap: u64, deadline: Duration) -> Pool {
    start_pool(PoolConfig {
        job_timeout: deadline,
        memory_limit: memory_cap,
        ..pool_config()
    })
}

async fn convert(pool: &Pool, input: &Path) -> Result<std::path::PathBuf, ConvertError> {
    let pdf = input.with_extension("pdf");
    pool.convert(input, input, &pdf, &PdfOptions::default())
        .await?;
    Ok(pdf)
}

/// The PDF that stock LibreOffice (`soffice`, a fresh profile of its own in
/// `dir`, none of our settings or sandbox) makes of `input`: the controls'
/// way to show what a document does unprotected.
fn stock_soffice_pdf(dir: &Path, input: &Path) -> std::path::PathBuf {
    stock_soffice(dir, input, "pdf")
}

/// `input` saved as `format` by stock LibreOffice, as `stock_soffice_pdf`.
fn stock_soffice(dir: &Path, input: &Path, format: &str) -> std::path::PathBuf {
    let profile = format!("-env:UserInstallation=file://{}/profile", dir.display());
    let out = dir.join("stock");
    let status = Command::new("timeout")
        .args(["120", "soffice", "--headless", "--norestore", &profile])
        .args(["--convert-to", format, "--outdir"])
        .arg(&out)
        .arg(input)
        .status()
        .expect("soffice");
    assert!(status.success(), "stock soffice: {status}");
    out.join(input.with_extension(format).file_name().unwrap())
}

/// The control of a picture test: with no pixel limit, LibreOffice
/// decodes `input`'s picture, past 300 MiB.
async fn decoded_without_the_pixel_limit(input: &Path) {
    let unlimited_pool = start_pool(PoolConfig {
        limits: Limits {
            max_picture_pixels: u64::MAX,
            ..Limits::default()
        },
        ..pool_config()
    });
    let (result, peak) = peak_rss_during(&unlimited_pool, convert(&unlimited_pool, input)).await;
    unlimited_pool.shutdown().await;
    let name = input.file_name().unwrap().to_string_lossy();
    eprintln!(
        "{name}, no pixel limit: {result:?}, peak {} MiB",
        peak >> 20
    );
    assert!(
        peak > 300 << 20,
        "{name}: the control peaked at {} MiB",
        peak >> 20
    );
}

/// `input` is refused as a bomb, saying `said`, and the pool goes on.
async fn refused_as_a_bomb(input: &Path, said: &str) {
    let pool = pool();
    let error = convert(&pool, input).await.unwrap_err();
    assert_eq!(error.kind(), "bomb", "{error}");
    assert!(error.to_string().contains(said), "{error}");
    still_converts(&pool, input.parent().unwrap()).await;
    pool.shutdown().await;
}

/// The pool still converts an ordinary document.
async fn still_converts(pool: &Pool, dir: &Path) {
    let input = dir.join("ordinary.docx");
    std::fs::copy(fixture("one_page.docx"), &input).unwrap();
    convert(pool, &input)
        .await
        .expect("the pool converts the next document");
}

fn pdf_images(pdf: &Path) -> usize {
    let out = Command::new("pdfimages")
        .arg("-list")
        .arg(pdf)
        .output()
        .expect("pdfimages (poppler-utils)");
    // Two header lines, then one line per image.
    String::from_utf8_lossy(&out.stdout).lines().skip(2).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_xml_converts_and_the_pool_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("nested.docx");
    let depth = 200_000;
    let body = format!(
        "{}<w:p><w:r><w:t>deep</w:t></w:r></w:p>{}",
        "<w:sdt><w:sdtContent>".repeat(depth),
        "</w:sdtContent></w:sdt>".repeat(depth)
    );
    write_docx(&input, "", &body, "");
    let pool = pool();
    // LibreOffice's parser stops at its depth limit: a PDF, or a clean
    // refusal; never a hang or a dead pool.
    match convert(&pool, &input).await {
        Ok(pdf) => assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF-")),
        Err(error) => assert!(error.is_permanent(), "{error}"),
    }
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn entity_expansion_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("laughs.docx");
    let entities: String = (1..10)
        .map(|i| format!(r#"<!ENTITY a{i} "{}">"#, format!("&a{};", i - 1).repeat(10)))
        .collect();
    let doctype = format!(r#"<!DOCTYPE w:document [<!ENTITY a0 "laugh">{entities}]>"#);
    write_docx(
        &input,
        &doctype,
        "<w:p><w:r><w:t>&a9;</w:t></w:r></w:p>",
        "",
    );
    let pool = pool();
    let error = convert(&pool, &input).await.unwrap_err();
    assert_eq!(error.kind(), "corrupt", "{error}");
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// Stock LibreOffice fetches this image during conversion (an OPTIONS
/// request was seen here with the sandbox switched off): from a bucket that
/// would be a request forgery from inside Cloud Run.
#[tokio::test(flavor = "multi_thread")]
async fn a_linked_image_on_the_network_is_never_fetched() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/x.png", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("linked.docx");
    let (body, relationship) = linked_image(&url);
    write_docx(&input, "", &body, &relationship);
    let pool = pool();
    let pdf = convert(&pool, &input).await.unwrap();
    assert_eq!(pdf_images(&pdf), 0);
    pool.shutdown().await;
    // A connection made and dropped meanwhile would still wait in the backlog.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("LibreOffice connected to {url} from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
}

/// A PNG (from the corpus) at `dir/secret.png`, for documents to point at.
fn secret_picture(dir: &Path) -> std::path::PathBuf {
    let image = dir.join("secret.png");
    let mut corpus =
        zip::ZipArchive::new(std::fs::File::open(fixture("corpus/having-images.docx")).unwrap())
            .unwrap();
    let mut png = Vec::new();
    corpus
        .by_name("word/media/image1.png")
        .unwrap()
        .read_to_end(&mut png)
        .unwrap();
    std::fs::write(&image, png).unwrap();
    image
}

/// An RTF document whose `INCLUDEPICTURE` field names the local `picture`.
fn include_picture_rtf(picture: &Path) -> String {
    format!(
        r#"{{\rtf1\ansi Before the picture.\par {{\field{{\*\fldinst INCLUDEPICTURE "{}" \\d}}{{\fldrslt }}}}\par After.\par}}"#,
        picture.display()
    )
}

/// Without BlockUntrustedRefererLinks in the profile, LibreOffice embeds a
/// linked local image in the PDF (seen here): any image the worker can read.
#[tokio::test(flavor = "multi_thread")]
async fn a_linked_local_image_is_never_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let image = secret_picture(dir.path());
    let input = dir.path().join("linked-local.docx");
    let (body, relationship) = linked_image(&format!("file://{}", image.display()));
    write_docx(&input, "", &body, &relationship);
    let pool = pool();
    let pdf = convert(&pool, &input).await.unwrap();
    assert_eq!(pdf_images(&pdf), 0, "the local image reached the PDF");
    pool.shutdown().await;
}

/// An RTF `INCLUDEPICTURE` field with a local path: stock LibreOffice embeds
/// the file, and the profile's settings do not stop it (they stop the DOCX
/// equivalent); the file system sandbox does.
#[tokio::test(flavor = "multi_thread")]
async fn a_local_picture_named_by_an_rtf_field_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let image = secret_picture(dir.path());
    let input = dir.path().join("picture.rtf");
    std::fs::write(&input, include_picture_rtf(&image)).unwrap();

    // The control: stock LibreOffice reads the picture into the PDF.
    let stock = stock_soffice_pdf(dir.path(), &input);
    assert_eq!(pdf_images(&stock), 1, "the control");

    let pool = pool();
    let pdf = convert(&pool, &input).await.unwrap();
    assert!(pdf_text(&pdf).contains("After."));
    assert_eq!(pdf_images(&pdf), 0, "the local picture reached the PDF");
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// Another job's files, where the worker keeps its downloads and PDFs, are
/// as far out of reach as any other file: each process works in its own
/// request directory. The control is stock LibreOffice reading the same path.
#[tokio::test(flavor = "multi_thread")]
async fn another_jobs_files_are_out_of_reach() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = common::workspace();
    let pool = Pool::start(pool_config(), workspace.clone()).expect("pool starts");
    let other_job = workspace.job_dir().unwrap();
    let image = secret_picture(other_job.path());
    let input = dir.path().join("picture.rtf");
    std::fs::write(&input, include_picture_rtf(&image)).unwrap();
    let stock = stock_soffice_pdf(dir.path(), &input);
    assert_eq!(pdf_images(&stock), 1, "the control");

    let pdf = convert(&pool, &input).await.unwrap();
    assert!(pdf_text(&pdf).contains("After."));
    assert_eq!(pdf_images(&pdf), 0, "another job's picture reached the PDF");
    pool.shutdown().await;
}

/// A DOCX whose `altChunk` part is another DOCX: Writer imports the inner
/// package, so its parts are inspected as the outer ones are.
#[tokio::test(flavor = "multi_thread")]
async fn a_package_nested_in_a_package_is_inspected_too() {
    let dir = tempfile::tempdir().unwrap();
    let chunk = |name: &str, body: &str| {
        let path = dir.path().join(name);
        write_docx(&path, "", body, "");
        std::fs::read(path).unwrap()
    };
    let nested = dir.path().join("nested.docx");
    let inner = chunk(
        "inner.docx",
        "<w:p><w:r><w:t>Text of the inner package.</w:t></w:r></w:p>",
    );
    common::write_docx_with_chunk(&nested, "<w:p><w:r><w:t>Outer.</w:t></w:r></w:p>", &inner);

    // The control: stock LibreOffice imports the inner package's text.
    let stock = stock_soffice_pdf(dir.path(), &nested);
    assert!(pdf_text(&stock).contains("Text of the inner package."));

    // An honest nested package still converts.
    let pool = pool();
    let text = pdf_text(&convert(&pool, &nested).await.unwrap());
    assert!(text.contains("Text of the inner package."), "{text}");

    // 24 MiB of text in the inner package, about 1000:1: the outer part
    // holding it is an ordinary compressed zip, near 1:1.
    let bomb = dir.path().join("nested-bomb.docx");
    let body = format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", "a".repeat(24 << 20));
    common::write_docx_with_chunk(&bomb, "", &chunk("inner-bomb.docx", &body));
    let started = std::time::Instant::now();
    let error = convert(&pool, &bomb).await.unwrap_err();
    assert_eq!(error.kind(), "bomb", "{error}");
    assert!(error.to_string().contains("in word/chunk.docx"), "{error}");
    eprintln!("nested bomb refused in {:?}: {error}", started.elapsed());
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// A fan-out: a 30 KB presentation whose ten video shapes all show one
/// embedded 15 MiB media part, which LibreOffice copies to a temporary
/// file once per shape (on Cloud Run, memory; twenty shapes took 558 MiB).
/// Under a 96 MiB scratch budget it is stopped as it goes, refused naming
/// the budget, and the pool goes on. (Control: under the default 512 MiB
/// the same deck converts: it is heavy, not broken.)
#[tokio::test(flavor = "multi_thread")]
async fn a_document_whose_files_fan_out_is_stopped_at_its_scratch_budget() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("media-fan-out.pptx");
    common::write_pptx_with_media_fan_out(&input, 10, 15 << 20);
    assert!(std::fs::metadata(&input).unwrap().len() < 100 << 10);

    let roomy = start_pool(pool_config());
    convert(&roomy, &input).await.expect("the control converts");
    roomy.shutdown().await;

    let tight = start_pool(PoolConfig {
        scratch_cap: 96 << 20,
        ..pool_config()
    });
    let started = std::time::Instant::now();
    let error = convert(&tight, &input).await.unwrap_err();
    assert_eq!(error.kind(), "resource_limit", "{error}");
    assert!(error.to_string().contains("SCRATCH_LIMIT_MIB"), "{error}");
    eprintln!("fan-out refused in {:?}: {error}", started.elapsed());
    still_converts(&tight, dir.path()).await;
    tight.shutdown().await;
}

/// What downloads and mail gateways do to real Word files: bytes after
/// the end record, an end record whose comment length is stale. Word opens
/// them and so does stock LibreOffice (the control); the pool converts them
/// to the same text as the clean file, since LibreOffice reads the package
/// rebuilt from the inspected entries.
#[tokio::test(flavor = "multi_thread")]
async fn sloppy_archives_word_opens_convert() {
    let dir = tempfile::tempdir().unwrap();
    let clean = std::fs::read(fixture("one_page.docx")).unwrap();
    let trailing = dir.path().join("trailing.docx");
    std::fs::write(&trailing, [&clean[..], b"\r\n\r\n"].concat()).unwrap();
    let mut stale = clean.clone();
    let comment_length = stale.len() - 2;
    stale[comment_length..].copy_from_slice(&7u16.to_le_bytes());
    let stale_path = dir.path().join("stale-comment.docx");
    std::fs::write(&stale_path, stale).unwrap();

    let stock = stock_soffice_pdf(dir.path(), &trailing);
    assert!(!pdf_text(&stock).trim().is_empty(), "the control");

    let pool = pool();
    let original = dir.path().join("clean.docx");
    std::fs::write(&original, &clean).unwrap();
    let expected = pdf_text(&convert(&pool, &original).await.unwrap());
    for sloppy in [&trailing, &stale_path] {
        let pdf = convert(&pool, sloppy)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", sloppy.display()));
        assert_eq!(pdf_text(&pdf), expected, "{}", sloppy.display());
    }
    pool.shutdown().await;
}

/// Fields and alternative-format chunks that point at a local file keep
/// their stored text; the file never reaches the PDF.
#[tokio::test(flavor = "multi_thread")]
async fn local_files_named_by_fields_never_reach_the_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("passwd.docx");
    let body = concat!(
        r#"<w:p><w:r><w:t>Before.</w:t></w:r></w:p>"#,
        r#"<w:p><w:fldSimple w:instr=" INCLUDETEXT &quot;/etc/passwd&quot; "><w:r><w:t>[simple field]</w:t></w:r></w:fldSimple></w:p>"#,
        r#"<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> INCLUDETEXT "file:///etc/passwd" </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>[complex field]</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>"#,
        r#"<w:altChunk r:id="rIdChunk"/>"#,
        r#"<w:p><w:r><w:t>After.</w:t></w:r></w:p>"#,
    );
    let relationship = r#"<Relationship Id="rIdChunk" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="file:///etc/passwd" TargetMode="External"/>"#;
    write_docx(&input, "", body, relationship);
    let pool = pool();
    let text = pdf_text(&convert(&pool, &input).await.unwrap());
    assert!(
        text.contains("Before.") && text.contains("After."),
        "{text}"
    );
    assert!(
        !text.contains("root:"),
        "/etc/passwd reached the PDF: {text}"
    );
    pool.shutdown().await;
}

/// A name that lies about the content: converted by what the file is, or
/// refused with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn content_and_extension_that_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    for (source, name) in [
        ("one_page.doc", "word97-named.docx"),
        ("one_page.docx", "docx-named.doc"),
        ("one_page.rtf", "rtf-named.doc"),
        ("one_page.docx", "docx-named.rtf"),
    ] {
        let input = dir.path().join(name);
        std::fs::copy(fixture(source), &input).unwrap();
        let pdf = convert(&pool, &input)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(pdf_text(&pdf).contains("Invoice summary"), "{name}");
    }
    for (source, name, says) in [
        ("one_page.docx", "docx-named.odt", "without content.xml"),
        (
            "one_page.odt",
            "odt-named.docx",
            "without [Content_Types].xml",
        ),
        ("one_page.docx", "docx-named.txt", "real extension"),
    ] {
        let input = dir.path().join(name);
        std::fs::copy(fixture(source), &input).unwrap();
        let error = convert(&pool, &input).await.unwrap_err();
        assert_eq!(error.kind(), "corrupt", "{name}: {error}");
        assert!(error.to_string().contains(says), "{name}: {error}");
    }
    pool.shutdown().await;
}

/// Legitimate but huge: a conversion that fits in its deadline, or a
/// Timeout after which the slot is back; never a stuck pool.
#[tokio::test(flavor = "multi_thread")]
async fn a_two_thousand_page_document() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("huge.docx");
    let sentence = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ";
    let body: String = (0..25_000)
        .map(|i| {
            format!(
                "<w:p><w:r><w:t>{i}. {}</w:t></w:r></w:p>",
                sentence.repeat(3)
            )
        })
        .collect();
    write_docx(&input, "", &body, "");
    let pool = pool();
    match convert(&pool, &input).await {
        Ok(pdf) => {
            let out = Command::new("pdfinfo").arg(&pdf).output().unwrap();
            let info = String::from_utf8_lossy(&out.stdout);
            let pages: u32 = info
                .lines()
                .find_map(|l| l.strip_prefix("Pages:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap();
            assert!(pages >= 2000, "{pages} pages");
        }
        Err(ConvertError::Timeout(_)) => {}
        Err(error) => panic!("{error}"),
    }
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// A macro-enabled document whose VBA project, as Word would, runs
/// `AutoOpen` and `Document_Open` on opening; both append their name to
/// `marker`.
fn macro_document(path: &Path, marker: &Path) {
    use common::vba::{Kind, Module, project};
    let append = |who: &str| {
        format!(
            "    Open \"{}\" For Append As #1\n    Print #1, \"{who}\"\n    Close #1\n",
            marker.display()
        )
    };
    let vba = project(&[
        Module {
            kind: Kind::Document,
            name: "ThisDocument",
            source: &format!("Sub Document_Open()\n{}End Sub\n", append("Document_Open")),
        },
        Module {
            kind: Kind::Standard,
            name: "Module1",
            source: &format!("Sub AutoOpen()\n{}End Sub\n", append("AutoOpen")),
        },
    ]);
    common::write_docm(
        path,
        "<w:p><w:r><w:t>A document with macros.</w:t></w:r></w:p>",
        &vba,
    );
}

/// The control: stock LibreOffice, given a profile whose own Basic macro
/// opens `document` with macros allowed and calls its two macros. Headless
/// LibreOffice fires no open event even then (seen here), hence the calls.
fn run_macros_with_stock_libreoffice(document: &Path, dir: &Path) {
    let profile = format!(
        "-env:UserInstallation=file://{}",
        dir.join("control-profile").display()
    );
    let soffice = |args: &[&str]| {
        let status = Command::new("timeout")
            .args(["120", "soffice", "--headless", "--norestore", &profile])
            .args(args)
            .status()
            .expect("soffice");
        assert!(status.success(), "the control's soffice {args:?}: {status}");
    };
    // A first start writes the profile's Basic libraries from a template,
    // over any placed there before it.
    soffice(&["--terminate_after_init"]);
    let standard = dir.join("control-profile/user/basic/Standard");
    std::fs::write(
        standard.join("script.xlb"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" library:readonly="false" library:passwordprotected="false">
<library:element library:name="Control"/>
</library:library>"#,
    )
    .unwrap();
    // MacroExecutionMode 4: ALWAYS_EXECUTE_NO_WARN.
    std::fs::write(
        standard.join("Control.xba"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Control" script:language="StarBasic">
Sub Run(path As String)
  Dim args(0) As New com.sun.star.beans.PropertyValue
  args(0).Name = &quot;MacroExecutionMode&quot;
  args(0).Value = 4
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(path), &quot;_blank&quot;, 0, args())
  provider = doc.getScriptProvider()
  For Each name In Array(&quot;Module1.AutoOpen&quot;, &quot;ThisDocument.Document_Open&quot;)
    uri = &quot;vnd.sun.star.script:Project.&quot; &amp; name &amp; &quot;?language=Basic&amp;location=document&quot;
    provider.getScript(uri).invoke(Array(), Array(), Array())
  Next
  doc.close(True)
  StarDesktop.terminate()
End Sub
</script:module>"#,
    )
    .unwrap();
    soffice(&[&format!(
        "macro:///Standard.Control.Run(\"{}\")",
        document.display()
    )]);
}

/// Word runs AutoOpen and Document_Open when it opens this document; stock
/// LibreOffice imports both as runnable code. docx2pdf converts the text
/// and runs neither: macros are off, and its profile has Writer drop the
/// VBA code altogether.
#[tokio::test(flavor = "multi_thread")]
async fn a_macro_document_never_runs_its_macros() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("macro-ran");
    let input = dir.path().join("macros.docm");
    macro_document(&input, &marker);

    run_macros_with_stock_libreoffice(&input, dir.path());
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(
        ran.split_whitespace().collect::<Vec<_>>(),
        ["AutoOpen", "Document_Open"],
        "the control: this document's macros write the file when run"
    );
    std::fs::remove_file(&marker).unwrap();

    let pool = pool();
    let pdf = convert(&pool, &input).await.unwrap();
    assert!(pdf_text(&pdf).contains("A document with macros."));
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
    assert!(
        !marker.exists(),
        "a macro ran: {:?}",
        std::fs::read_to_string(&marker)
    );
}

/// An OpenDocument text whose one picture is an SVG that fans out through
/// nested `<use>`: ten levels of ten, 10^9 rectangles from 1.4 KB.
fn svg_fan_out(path: &Path) {
    let mut defs = r#"<rect id="l0" width="1" height="1"/>"#.to_string();
    for level in 1..10 {
        let uses: String = (0..10)
            .map(|x| format!(r##"<use xlink:href="#l{}" x="{x}"/>"##, level - 1))
            .collect();
        defs += &format!(r#"<g id="l{level}">{uses}</g>"#);
    }
    let svg = format!(
        r##"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"><defs>{defs}</defs><use xlink:href="#l9"/></svg>"##
    );
    write_odt_with_picture(
        path,
        r#"<draw:image xlink:href="Pictures/fan.svg" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>"#,
        Some(("Pictures/fan.svg", &svg)),
    );
}

/// An OpenDocument text of one picture frame holding `image` (a
/// `draw:image`), with `svg` as a part of the package if given.
fn write_odt_with_picture(path: &Path, image: &str, svg: Option<(&str, &str)>) {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3"><office:body><office:text><text:p>Picture: <draw:frame draw:name="p" text:anchor-type="as-char" svg:width="5cm" svg:height="5cm">{image}</draw:frame></text:p></office:text></office:body></office:document-content>"#
    );
    let svg_entry = svg.map_or(String::new(), |(name, _)| {
        format!(r#"<manifest:file-entry manifest:full-path="{name}" manifest:media-type="image/svg+xml"/>"#)
    });
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>{svg_entry}</manifest:manifest>"#
    );
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    std::io::Write::write_all(&mut zip, b"application/vnd.oasis.opendocument.text").unwrap();
    let parts = [
        ("META-INF/manifest.xml", manifest.as_str()),
        ("content.xml", &content),
    ];
    for (name, text) in parts.into_iter().chain(svg) {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// The result of `job`, and the peak resident memory of the pool's one
/// LibreOffice process while it ran.
async fn peak_rss_during<T>(pool: &Pool, job: impl std::future::Future<Output = T>) -> (T, u64) {
    let rss = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches(" kB")
            .parse::<u64>()
            .ok()
            .map(|kb| kb << 10)
    };
    tokio::pin!(job);
    let mut peak = 0;
    loop {
        tokio::select! {
            out = &mut job => return (out, peak),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if let Some(now) = pool.slots()[0].pid.and_then(rss) {
                    peak = peak.max(now);
                }
            }
        }
    }
}

/// A picture that expands to more memory than a process may have.
#[tokio::test(flavor = "multi_thread")]
async fn a_document_wanting_more_memory_than_the_cap_is_refused_and_the_pool_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("fan-out.odt");
    svg_fan_out(&input);
    let cap: u64 = 512 << 20;

    // The control: with no cap, the same document takes more than twice as
    // much before its deadline stops it.
    let pool = capped_pool(u64::MAX, Duration::from_secs(8));
    let (_, peak) = peak_rss_during(&pool, convert(&pool, &input)).await;
    pool.shutdown().await;
    assert!(peak > 2 * cap, "the control peaked at {} MiB", peak >> 20);
    eprintln!("no cap: {} MiB within the 8 s deadline", peak >> 20);

    let pool = capped_pool(cap, Duration::from_secs(60));
    let started = std::time::Instant::now();
    let (result, peak) = peak_rss_during(&pool, convert(&pool, &input)).await;
    let error = result.unwrap_err();
    assert_eq!(error.kind(), "resource_limit", "{error}");
    assert!(error.is_permanent());
    assert!(error.to_string().contains("of 512 MiB"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    eprintln!(
        "capped: {} MiB, {:?} to the verdict: {error}",
        peak >> 20,
        started.elapsed()
    );
    // Resident memory also counts the libraries, which the cap does not.
    assert!(peak < cap + (256 << 20), "peaked at {} MiB", peak >> 20);
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// LibreOffice's text import inflates a gzip stream saved as .txt, whole
/// and in memory (a 3.6 MB file took a process past 4 GiB).
#[tokio::test(flavor = "multi_thread")]
async fn a_compressed_txt_is_refused_before_libreoffice_inflates_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("packed.txt");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "yes 'Text that only inflating shows.' | head -n 1000 | gzip > '{}'",
            input.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());

    // The control: stock LibreOffice reads the inflated text.
    let out = stock_soffice_pdf(dir.path(), &input);
    assert!(pdf_text(&out).contains("Text that only inflating shows."));

    let pool = pool();
    let error = convert(&pool, &input).await.unwrap_err();
    assert_eq!(error.kind(), "corrupt", "{error}");
    assert!(error.to_string().contains("gzip-compressed"), "{error}");
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// Pages of a few words each, without end: the PDF has no natural bound.
#[tokio::test(flavor = "multi_thread")]
async fn a_pdf_over_the_output_cap_is_refused_and_the_pool_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pages.docx");
    let page =
        r#"<w:p><w:r><w:t>One page of many.</w:t></w:r><w:r><w:br w:type="page"/></w:r></w:p>"#;
    write_docx(&input, "", &page.repeat(3000), "");
    // A process writes files of several hundred KiB as it starts (caches):
    // the cap must leave room for those.
    let cap = 1 << 20;

    // The control: with the default cap the PDF is over this one.
    let pool = pool();
    let pdf = convert(&pool, &input).await.unwrap();
    let size = std::fs::metadata(&pdf).unwrap().len();
    assert!(size > cap, "the control's PDF is {size} bytes");
    pool.shutdown().await;

    let pool = start_pool(PoolConfig {
        max_output_bytes: cap,
        ..pool_config()
    });
    let error = convert(&pool, &input).await.unwrap_err();
    assert_eq!(error.kind(), "resource_limit", "{error}");
    assert!(error.to_string().contains("MAX_OUTPUT_BYTES"), "{error}");
    eprintln!("uncapped PDF {size} bytes; capped at {cap}: {error}");
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// A page count with no natural bound meets MAX_PAGES.
#[tokio::test(flavor = "multi_thread")]
async fn a_pdf_over_the_page_limit_is_refused_and_the_pool_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pages.docx");
    let page =
        r#"<w:p><w:r><w:t>One page of many.</w:t></w:r><w:r><w:br w:type="page"/></w:r></w:p>"#;
    write_docx(&input, "", &page.repeat(1500), "");

    // The control: with the default limit, every page is in the PDF.
    let pool = pool();
    let pdf = convert(&pool, &input).await.unwrap();
    assert_eq!(common::pdf_pages(&pdf), 1500);
    pool.shutdown().await;

    let pool = start_pool(PoolConfig {
        max_pages: 1000,
        scratch_cap: 512 << 20,
        ..pool_config()
    });
    let error = convert(&pool, &input).await.unwrap_err();
    assert_eq!(error.kind(), "resource_limit", "{error}");
    assert!(
        error
            .to_string()
            .contains("1500 pages, over the 1000 allowed (MAX_PAGES)"),
        "{error}"
    );
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// A PNG of 20,000 x 20,000 one-bit pixels: 49 KB, and gigabytes of work
/// once LibreOffice decodes it. Written by Python's zlib (C, fast), which
/// a debug build of a Rust deflater is not.
fn huge_png() -> Vec<u8> {
    png_of(20_000, None)
}

/// A one-bit PNG of `side` x `side` pixels, padded with a text chunk to
/// `length` bytes if given.
fn png_of(side: u32, length: Option<usize>) -> Vec<u8> {
    let script = r#"
import sys, zlib, struct
w = h = int(sys.argv[1])
row = b"\0" * (1 + (w + 7) // 8)
c = zlib.compressobj(9)
data = b"".join(c.compress(row) for _ in range(h)) + c.flush()
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
tail = chunk(b"IDAT", data) + chunk(b"IEND", b"")
if len(sys.argv) > 2:
    head += chunk(b"tEXt", b"pad\0" + b"x" * (int(sys.argv[2]) - len(head) - len(tail) - 16))
sys.stdout.buffer.write(head + tail)
"#;
    let mut python = Command::new("python3");
    python.args(["-c", script, &side.to_string()]);
    if let Some(length) = length {
        python.arg(length.to_string());
    }
    let out = python.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A picture's pixels are bounded from its header, before anything decodes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_picture_of_too_many_pixels_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("huge-picture.docx");
    common::write_docx_with_picture(&input, &huge_png());

    // The control: with no pixel limit LibreOffice decodes it, at length.
    let unlimited = Limits {
        max_picture_pixels: u64::MAX,
        ..Limits::default()
    };
    let unlimited_pool = start_pool(PoolConfig {
        limits: unlimited,
        ..pool_config()
    });
    let started = std::time::Instant::now();
    let (result, peak) = peak_rss_during(&unlimited_pool, convert(&unlimited_pool, &input)).await;
    let control = started.elapsed();
    unlimited_pool.shutdown().await;
    eprintln!(
        "no pixel limit: {result:?} in {control:?}, peak {} MiB",
        peak >> 20
    );
    assert!(peak > 300 << 20, "the control peaked at {} MiB", peak >> 20);

    let pool = pool();
    let started = std::time::Instant::now();
    let error = convert(&pool, &input).await.unwrap_err();
    assert_eq!(error.kind(), "bomb", "{error}");
    assert!(
        error.to_string().contains("20000 x 20000 pixels"),
        "{error}"
    );
    assert!(started.elapsed() < control / 4, "{:?}", started.elapsed());
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}

/// A PCX of 12,000 x 12,000 pixels (run-length coded: 4.6 MB, a few KB
/// deflated), which LibreOffice decodes and `imagesize` cannot read.
fn huge_pcx() -> Vec<u8> {
    let side = 12_000u16;
    let mut pcx = vec![0x0A, 5, 1, 8];
    for corner in [0, 0, side - 1, side - 1] {
        pcx.extend(corner.to_le_bytes());
    }
    pcx.resize(65, 0);
    pcx.push(1);
    pcx.extend(side.to_le_bytes());
    pcx.resize(128, 0);
    let mut row = Vec::new();
    let mut left = side;
    while left > 0 {
        let run = left.min(63);
        row.extend([0xC0 | run as u8, 0]);
        left -= run;
    }
    pcx.extend(row.repeat(side as usize));
    pcx
}

/// A PCX picture's pixels are bounded from its header too.
#[tokio::test(flavor = "multi_thread")]
async fn a_pcx_picture_of_too_many_pixels_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("huge-picture.docx");
    common::write_docx_with_picture(&input, &huge_pcx());

    decoded_without_the_pixel_limit(&input).await;

    refused_as_a_bomb(&input, "12000 x 12000 pixels").await;
}

/// A bitmap stored top-down (a negative height, as Windows writes screen
/// captures) is an honest picture: it converts. (`imagesize` reads its
/// height as four billion rows, which refused it as a bomb before.)
#[tokio::test(flavor = "multi_thread")]
async fn a_top_down_bitmap_is_not_a_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("top-down.docx");
    let (width, height) = (64i32, -64i32);
    let pixels = vec![0x80u8; (width * -height * 3) as usize];
    let mut bmp = b"BM".to_vec();
    bmp.extend((54 + pixels.len() as u32).to_le_bytes());
    bmp.extend([0; 4]);
    bmp.extend(54u32.to_le_bytes());
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(width.to_le_bytes());
    bmp.extend(height.to_le_bytes());
    bmp.extend(1u16.to_le_bytes());
    bmp.extend(24u16.to_le_bytes());
    bmp.extend([0; 24]);
    bmp.extend(pixels);
    common::write_docx_with_picture(&input, &bmp);
    let pool = pool();
    convert(&pool, &input)
        .await
        .expect("a top-down bitmap converts");
    pool.shutdown().await;
}

/// The same picture written into the package's XML as base64, where no
/// part holds it: an SVG's `data:` URI, and OpenDocument's
/// `<office:binary-data>` in `content.xml`. LibreOffice decodes both.
#[tokio::test(flavor = "multi_thread")]
async fn a_picture_of_too_many_pixels_written_as_base64_is_refused_from_its_header() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let huge = base64::engine::general_purpose::STANDARD.encode(huge_png());
    let svg = format!(
        r#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"><image width="100" height="100" xlink:href="data:image/png;base64,{huge}"/></svg>"#
    );
    let in_svg = dir.path().join("data-uri.odt");
    write_odt_with_picture(
        &in_svg,
        r#"<draw:image xlink:href="Pictures/p.svg" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>"#,
        Some(("Pictures/p.svg", &svg)),
    );
    let in_content = dir.path().join("binary-data.odt");
    let image = format!("<draw:image><office:binary-data>{huge}</office:binary-data></draw:image>");
    write_odt_with_picture(&in_content, &image, None);

    for (input, part) in [(&in_svg, "Pictures/p.svg"), (&in_content, "content.xml")] {
        decoded_without_the_pixel_limit(input).await;
        let said =
            format!("a picture written into {part} as base64 is a picture of 20000 x 20000 pixels");
        refused_as_a_bomb(input, &said).await;
    }
}

/// The same picture as RTF hex in a `\pict` group, which no zip part
/// holds: its header is read all the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_picture_of_too_many_pixels_in_rtf_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("huge-picture.rtf");
    let hex: String = huge_png().iter().map(|b| format!("{b:02x}")).collect();
    let rtf = format!(
        "{{\\rtf1\\ansi A picture:{{\\pict\\pngblip\\picw20000\\pich20000\\picwgoal2000\\pichgoal2000\n{hex}}}\\par}}"
    );
    std::fs::write(&input, rtf).unwrap();

    decoded_without_the_pixel_limit(&input).await;

    refused_as_a_bomb(
        &input,
        "an RTF picture is a picture of 20000 x 20000 pixels",
    )
    .await;
}

/// The same picture in a Word 97 document, where no zip part or RTF group
/// holds it: LibreOffice saves an 8 x 8 PNG of the same length into a
/// `.doc`, and the huge one takes its place.
#[tokio::test(flavor = "multi_thread")]
async fn a_picture_of_too_many_pixels_in_a_word_97_document_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let huge = huge_png();
    let small = png_of(8, Some(huge.len()));
    assert_eq!(small.len(), huge.len());
    let rtf = dir.path().join("picture.rtf");
    let hex: String = small.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(
        &rtf,
        format!("{{\\rtf1\\ansi A picture:{{\\pict\\pngblip\\picw8\\pich8\\picwgoal2000\\pichgoal2000\n{hex}}}\\par}}"),
    )
    .unwrap();
    let mut doc = std::fs::read(stock_soffice(dir.path(), &rtf, "doc")).unwrap();
    let at = (doc.windows(small.len()).position(|w| w == small))
        .expect("LibreOffice keeps the PNG whole in the .doc");
    doc[at..at + huge.len()].copy_from_slice(&huge);
    let input = dir.path().join("huge-picture.doc");
    std::fs::write(&input, doc).unwrap();

    decoded_without_the_pixel_limit(&input).await;

    refused_as_a_bomb(
        &input,
        "a picture in the compound file is 20000 x 20000 pixels",
    )
    .await;
}

/// Groups nested 200,000 deep: 400 KB of braces.
#[tokio::test(flavor = "multi_thread")]
async fn rtf_groups_nested_without_end_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("deep.rtf");
    let depth = 200_000;
    let rtf = format!(
        r"{{\rtf1\ansi {}deep{}\par After.\par}}",
        "{".repeat(depth),
        "}".repeat(depth)
    );
    std::fs::write(&input, rtf).unwrap();

    // The control: with no depth limit, LibreOffice's memory grows with it.
    let unlimited_pool = start_pool(PoolConfig {
        limits: Limits {
            max_rtf_depth: usize::MAX,
            ..Limits::default()
        },
        ..pool_config()
    });
    let (result, peak) = peak_rss_during(&unlimited_pool, convert(&unlimited_pool, &input)).await;
    unlimited_pool.shutdown().await;
    eprintln!("no depth limit: {result:?}, peak {} MiB", peak >> 20);
    assert!(peak > 400 << 20, "the control peaked at {} MiB", peak >> 20);

    let pool = pool();
    let error = convert(&pool, &input).await.unwrap_err();
    assert_eq!(error.kind(), "bomb", "{error}");
    assert!(error.to_string().contains("200001 deep"), "{error}");
    still_converts(&pool, dir.path()).await;
    pool.shutdown().await;
}
