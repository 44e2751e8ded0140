//! Spreadsheets, presentations and drawings through the same pool, checks
//! and failure kinds as text documents, and the PDF options, with real
//! LibreOffice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use docx2pdf::office::{ConvertError, Pool};
use docx2pdf::options::PdfOptions;

mod common;
use common::{fixture, pdf_pages, pdf_text, pool};

async fn convert(pool: &Pool, input: &Path, out: &Path) -> Result<PathBuf, ConvertError> {
    let pdf = out.join(input.file_name().unwrap()).with_extension("pdf");
    pool.convert(input, input, &pdf, &PdfOptions::default())
        .await?;
    Ok(pdf)
}

#[tokio::test(flavor = "multi_thread")]
async fn spreadsheets_presentations_and_drawings_convert() {
    let pool = pool();
    let out = tempfile::tempdir().unwrap();
    let cases = [
        ("one_sheet.csv", 1, "Region"),
        ("one_sheet.xlsx", 1, "Region"),
        ("one_sheet.ods", 1, "Region"),
        ("one_sheet.xls", 1, "Region"),
        ("one_slide.pptx", 2, "Quarterly review"),
        ("one_slide.odp", 2, "Quarterly review"),
        ("one_slide.ppt", 2, "Quarterly review"),
        ("one_drawing.odg", 1, "Box A"),
    ];
    for (name, pages, text) in cases {
        let pdf = convert(&pool, &fixture(name), out.path())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pdf_pages(&pdf), pages, "{name}");
        assert!(pdf_text(&pdf).contains(text), "{name}: {}", pdf_text(&pdf));
    }
    pool.shutdown().await;
}

/// Every sheet is printed, each as its print settings (print ranges) lay it out.
#[tokio::test(flavor = "multi_thread")]
async fn a_workbook_converts_every_sheet() {
    let pool = pool();
    let out = tempfile::tempdir().unwrap();
    let pdf = convert(&pool, &fixture("two_sheets.xlsx"), out.path())
        .await
        .unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains("Item 5"), "the first sheet");
    assert!(
        text.contains("4800"),
        "the last cell of the second sheet (120 x 40)"
    );
    assert_eq!(pdf_pages(&pdf), 19);
    // A print range set in the workbook is what is printed of its sheet.
    let pdf = convert(&pool, &fixture("print_range.xlsx"), out.path())
        .await
        .unwrap();
    assert_eq!(pdf_pages(&pdf), 2);
    let text = pdf_text(&pdf);
    assert!(text.contains("Item 5") && text.contains("50"), "{text}");
    assert!(!text.contains("4800"), "outside the print range");
    pool.shutdown().await;
}

/// A zip holding one part, for containers built by hand.
fn zip_with(path: &Path, parts: &[(&str, &[u8])], method: zip::CompressionMethod) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in parts {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_container_refuses_corrupt_encrypted_and_bomb_files() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let copy = |from: &str, to: &str| {
        std::fs::copy(fixture(from), at(to)).unwrap();
        at(to)
    };
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(at(name), bytes).unwrap();
        at(name)
    };
    let good = std::fs::read(fixture("one_sheet.xlsx")).unwrap();
    let manifest = br#"<manifest:manifest><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>"#;
    let huge = vec![b' '; 200 << 20];
    zip_with(
        &at("locked.ods"),
        &[("content.xml", b"x"), ("META-INF/manifest.xml", manifest)],
        zip::CompressionMethod::Stored,
    );
    zip_with(
        &at("no-content.odp"),
        &[(
            "mimetype",
            b"application/vnd.oasis.opendocument.presentation",
        )],
        zip::CompressionMethod::Stored,
    );
    zip_with(
        &at("bomb.ods"),
        &[("content.xml", &huge)],
        zip::CompressionMethod::Deflated,
    );
    zip_with(
        &at("bomb.pptx"),
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("ppt/slides/slide1.xml", &huge),
        ],
        zip::CompressionMethod::Deflated,
    );
    let mut gzip = vec![0x1f, 0x8b, 0x08, 0x00];
    gzip.extend([0u8; 32]);
    let cases = [
        // Office Open XML
        (write("truncated.xlsx", &good[..good.len() / 2]), "corrupt"),
        (copy("encrypted.docx", "locked.xlsx"), "encrypted"),
        (copy("encrypted.docx", "locked.pptx"), "encrypted"),
        (at("bomb.pptx"), "bomb"),
        // OpenDocument
        (at("no-content.odp"), "corrupt"),
        (at("locked.ods"), "encrypted"),
        (at("bomb.ods"), "bomb"),
        // OLE2: a compound file of another application under an OOXML name
        (copy("one_sheet.xls", "workbook.pptx"), "corrupt"),
        (write("fake.xls", b"not an OLE2 file at all"), "corrupt"),
        // Text
        (write("packed.csv", &gzip), "corrupt"),
        (write("binary.csv", b"a,b\0c"), "corrupt"),
        (write("empty.csv", b""), "empty"),
    ];
    for (input, kind) in &cases {
        let error = convert(&pool, input, dir.path()).await.expect_err(kind);
        assert_eq!(error.kind(), *kind, "{}: {error}", input.display());
    }
    let pdf = convert(&pool, &fixture("one_slide.pptx"), dir.path())
        .await
        .unwrap();
    assert_eq!(pdf_pages(&pdf), 2, "the pool goes on");
    pool.shutdown().await;
}

fn options(pairs: &[(&str, &str)]) -> PdfOptions {
    let mut options = PdfOptions::default();
    for (name, value) in pairs {
        options.set(name, value).unwrap();
    }
    options
}

async fn convert_with(pool: &Pool, input: &Path, pdf: &Path, options: &PdfOptions) -> Vec<u8> {
    pool.convert(input, input, pdf, options)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    std::fs::read(pdf).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every font the PDF uses is embedded (`pdffonts`' "emb" column).
fn all_fonts_embedded(pdf: &Path) -> bool {
    let out = Command::new("pdffonts").arg(pdf).output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    let fonts: Vec<&str> = listing.lines().skip(2).collect();
    !fonts.is_empty()
        && fonts
            .iter()
            .all(|line| line.split_whitespace().rev().nth(4) == Some("yes"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pdf_a_is_declared_in_the_xmp_metadata_with_every_font_embedded() {
    let pool = pool();
    let out = tempfile::tempdir().unwrap();
    for (level, part) in [("1b", "1"), ("2b", "2"), ("3b", "3")] {
        let pdf = out.path().join(format!("a{level}.pdf"));
        let bytes = convert_with(
            &pool,
            &fixture("one_page.docx"),
            &pdf,
            &options(&[("pdfa", level)]),
        )
        .await;
        assert!(
            contains(&bytes, &format!("<pdfaid:part>{part}</pdfaid:part>")),
            "{level}"
        );
        assert!(
            contains(&bytes, "<pdfaid:conformance>B</pdfaid:conformance>"),
            "{level}"
        );
        assert!(all_fonts_embedded(&pdf), "{level}");
    }
    // The control: an ordinary PDF declares no conformance.
    let plain = out.path().join("plain.pdf");
    let bytes = convert_with(
        &pool,
        &fixture("one_page.docx"),
        &plain,
        &PdfOptions::default(),
    )
    .await;
    assert!(!contains(&bytes, "pdfaid:part"));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tagged_and_ua_pdfs_carry_a_structure_tree() {
    let pool = pool();
    let out = tempfile::tempdir().unwrap();
    let plain = convert_with(
        &pool,
        &fixture("one_page.docx"),
        &out.path().join("p.pdf"),
        &PdfOptions::default(),
    )
    .await;
    assert!(!contains(&plain, "/StructTreeRoot"), "the control");
    for option in ["tagged", "pdfua"] {
        let pdf = out.path().join(format!("{option}.pdf"));
        let bytes = convert_with(
            &pool,
            &fixture("one_page.docx"),
            &pdf,
            &options(&[(option, "true")]),
        )
        .await;
        assert!(contains(&bytes, "/StructTreeRoot"), "{option}");
        assert!(contains(&bytes, "/Marked true"), "{option}: MarkInfo");
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_range_and_one_page_per_sheet() {
    let pool = pool();
    let out = tempfile::tempdir().unwrap();
    let pdf = out.path().join("range.pdf");
    convert_with(
        &pool,
        &fixture("two_sheets.xlsx"),
        &pdf,
        &options(&[("pages", "2-4,7")]),
    )
    .await;
    assert_eq!(pdf_pages(&pdf), 4);
    let pdf = out.path().join("sheets.pdf");
    convert_with(
        &pool,
        &fixture("two_sheets.xlsx"),
        &pdf,
        &options(&[("single-page-sheets", "true")]),
    )
    .await;
    assert_eq!(pdf_pages(&pdf), 2, "one page per sheet, from 19");
    let pdf = out.path().join("slide.pdf");
    convert_with(
        &pool,
        &fixture("one_slide.pptx"),
        &pdf,
        &options(&[("pages", "2")]),
    )
    .await;
    assert_eq!(pdf_pages(&pdf), 1);
    assert!(pdf_text(&pdf).contains("Next steps"));
    pool.shutdown().await;
}
