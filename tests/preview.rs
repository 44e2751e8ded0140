//! `preview=WIDTH`: a PNG of the PDF's first page beside it, through
//! `convert` and through the worker (an object's metadata and a JSON job).
//! Its pixels are compared with a rendering of the PDF's page 1 four
//! times as wide, scaled down here; the control is the same comparison
//! with page 2, which must differ.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::emulators::*;
use common::{convert_to, fixture, write_docx};

/// A grey image, one byte a pixel, row by row.
struct Grey {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Grey {
    fn at(&self, x: usize, y: usize) -> f64 {
        f64::from(self.pixels[y * self.width + x])
    }
}

/// The PNG in `bytes`, in grey.
fn decode_png(bytes: &[u8]) -> Grey {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = frame.color_type.samples();
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let pixels = (buffer[..frame.buffer_size()].chunks(channels))
        .map(|p| {
            ((u32::from(p[0]) + u32::from(p[1 % channels]) + u32::from(p[2 % channels])) / 3) as u8
        })
        .collect();
    Grey {
        width: frame.width as usize,
        height: frame.height as usize,
        pixels,
    }
}

/// Page `page` of the PDF at `pdf`, `width` pixels wide, in grey, drawn
/// by pdftoppm here (a PGM).
fn render(pdf: &Path, page: u32, width: usize) -> Grey {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let (page, width) = (page.to_string(), width.to_string());
    let status = Command::new("pdftoppm")
        .args(["-gray", "-singlefile", "-f", &page, "-l", &page])
        .args(["-scale-to-x", &width, "-scale-to-y", "-1"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(status.success());
    let bytes = std::fs::read(prefix.with_extension("pgm")).unwrap();
    // "P5\n<width> <height>\n255\n", then the pixels.
    let mut fields = bytes.splitn(5, u8::is_ascii_whitespace);
    let mut number = || {
        std::str::from_utf8(fields.next().unwrap())
            .unwrap()
            .to_string()
    };
    assert_eq!(number(), "P5");
    let (width, height): (usize, usize) = (number().parse().unwrap(), number().parse().unwrap());
    assert_eq!(number(), "255");
    let pixels = fields.next().unwrap()[..width * height].to_vec();
    Grey {
        width,
        height,
        pixels,
    }
}

/// How far `preview` is from `large` scaled down by `factor` (each pixel
/// the mean of a `factor` x `factor` square): the mean difference per
/// pixel, 0 to 255.
fn distance(preview: &Grey, large: &Grey, factor: usize) -> f64 {
    let height = preview.height.min(large.height / factor);
    let mut total = 0.0;
    for y in 0..height {
        for x in 0..preview.width {
            let square = (0..factor * factor)
                .map(|i| large.at(x * factor + i % factor, y * factor + i / factor))
                .sum::<f64>();
            total += (preview.at(x, y) - square / (factor * factor) as f64).abs();
        }
    }
    total / (height * preview.width) as f64
}

/// A two-page Word document: a page of large black bars, then a page of
/// one short line.
fn write_two_pages(path: &Path) {
    let bar = r#"<w:p><w:r><w:rPr><w:sz w:val="96"/></w:rPr><w:t>████████████</w:t></w:r></w:p>"#;
    let page_break = r#"<w:p><w:r><w:br w:type="page"/></w:r></w:p>"#;
    let body = format!(
        "{}{page_break}<w:p><w:r><w:t>The second page.</w:t></w:r></w:p>",
        bar.repeat(8)
    );
    write_docx(path, "", &body, "");
}

/// Checks that `png` is a preview `width` wide of page 1 of `pdf`, and not
/// of page 2.
fn assert_page_one(png: &[u8], pdf: &Path, width: usize) {
    let preview = decode_png(png);
    assert_eq!(preview.width, width);
    let page = |n| distance(&preview, &render(pdf, n, width * 4), 4);
    let (first, second) = (page(1), page(2));
    // Measured: 4.4 for page 1 (two ways of scaling down), 106 for page 2.
    assert!(first < 12.0, "page 1 is {first:.1} away");
    assert!(
        second > 4.0 * first.max(1.0),
        "the control: page 2 is only {second:.1} away"
    );
}

#[test]
fn convert_draws_page_one_beside_the_pdf_at_the_width_asked() {
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("two.docx");
    write_two_pages(&document);
    let pdf = dir.path().join("two.pdf");
    let (code, stderr) = convert_to(&document, &pdf, &["--preview", "150"]);
    assert_eq!(code, Some(0), "{stderr}");
    let png = std::fs::read(dir.path().join("two.png")).expect("the preview beside the PDF");
    assert_page_one(&png, &pdf, 150);

    // Without the option, none; a width out of bounds is refused by name.
    let plain = dir.path().join("plain.pdf");
    let (code, stderr) = convert_to(&document, &plain, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!dir.path().join("plain.png").exists());
    let (code, stderr) = convert_to(&document, &plain, &["--preview", "4000"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("preview") && stderr.contains("16 to 2048"),
        "{stderr}"
    );
}

/// A receipt's roll: a page 1 inch wide and 100 inches tall. Drawn whole
/// (the control, pdftoppm as it comes) its preview would be 100 widths
/// tall, and memory with it; the preview shows its top, 4 widths tall.
#[test]
fn a_page_far_taller_than_wide_shows_its_top() {
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("roll.docx");
    let size = r#"<w:sectPr><w:pgSz w:w="1440" w:h="144000"/><w:pgMar w:top="0" w:right="0" w:bottom="0" w:left="0"/></w:sectPr>"#;
    write_docx(
        &document,
        "",
        &format!("<w:p><w:r><w:t>Total</w:t></w:r></w:p>{size}"),
        "",
    );
    let pdf = dir.path().join("roll.pdf");
    let (code, stderr) = convert_to(&document, &pdf, &["--preview", "64"]);
    assert_eq!(code, Some(0), "{stderr}");
    let preview = decode_png(&std::fs::read(dir.path().join("roll.png")).unwrap());
    assert_eq!((preview.width, preview.height), (64, 256));
    let whole = render(&pdf, 1, 64);
    assert!(whole.height > 50 * 64, "the control: {} tall", whole.height);
}

#[test]
fn the_worker_stores_it_beside_the_pdf_from_metadata_and_from_a_job() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("two.docx");
    write_two_pages(&document);
    // Preloaded: announced only by the job below.
    let env = Env::start(&[("job.xlsx", fixture("one_sheet.xlsx"))]);
    let results = format!("{}-results", env.topic);
    create_topic_and_subscription(&env.pubsub, &results, &results);
    let topic = format!("projects/{PROJECT}/topics/{results}");
    let _worker = env.worker(&[("RESULT_TOPIC", &topic)]);
    env.upload_with_metadata(&document, "two.docx", &[("docx2pdf-preview", "120")]);
    let job = r#"{"bucket": "input", "name": "job.xlsx", "options": {"preview": "64"}}"#;
    env.publish(&[&format!("--message={job}")]);
    env.upload_with_metadata(&document, "bad.docx", &[("docx2pdf-preview", "9")]);

    let pdf = dir.path().join("two.pdf");
    env.wait_object("pdf/two.pdf", Duration::from_secs(90));
    std::fs::write(&pdf, env.read_object("pdf/two.pdf")).unwrap();
    let png = env.object("pdf/two.png").expect("stored before the PDF");
    // contentType is not checked: fake-gcs-server v1.54 drops it on
    // uploads (as in tests/worker.rs).
    assert_eq!(png["metadata"]["source-object"], "two.docx");
    assert_eq!(png["metadata"]["pdf-options"], "preview=120");
    assert_page_one(&env.read_object("pdf/two.png"), &pdf, 120);

    env.wait_object("pdf/job.pdf", Duration::from_secs(90));
    assert_eq!(decode_png(&env.read_object("pdf/job.png")).width, 64);
    env.wait_object("pdf/bad.docx.error.json", Duration::from_secs(90));
    let record = env.read_object("pdf/bad.docx.error.json");
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert_eq!(record["kind"], "bad_options", "{record}");
    assert!(
        record["reason"].as_str().unwrap().contains("preview"),
        "{record}"
    );
    assert!(env.object("pdf/bad.png").is_none());

    let events = env.pull_events(&results);
    let preview_of = |result: &str| {
        let event = (events.iter()).find(|e| e["result"] == result);
        event.unwrap_or_else(|| panic!("no event for {result}: {events:?}"))["preview"].clone()
    };
    assert_eq!(
        preview_of("gs://output/pdf/two.pdf"),
        "gs://output/pdf/two.png"
    );
    assert_eq!(
        preview_of("gs://output/pdf/job.pdf"),
        "gs://output/pdf/job.png"
    );
}

/// Without pdftoppm a preview is the machine's failure (internal, so the
/// worker retries it), not the document's: no record calls it damaged, and
/// no PDF is made without its preview. The control: on the same `PATH`,
/// the same document without a preview converts.
#[test]
fn without_pdftoppm_a_preview_is_the_machines_failure() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["fc-list", "fc-match", "fc-cache"] {
        std::os::unix::fs::symlink(Path::new("/usr/bin").join(tool), bin.join(tool)).unwrap();
    }
    let pdf = dir.path().join("out.pdf");
    let run = |flags: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
            .arg("convert")
            .arg(fixture("one_page.docx"))
            .arg("-o")
            .arg(&pdf)
            .args(flags)
            .env("PATH", &bin)
            .output()
            .unwrap()
    };
    let plain = run(&[]);
    assert!(plain.status.success(), "the control: {plain:?}");
    std::fs::remove_file(&pdf).unwrap();
    let asked = run(&["--preview", "100"]);
    let stderr = String::from_utf8_lossy(&asked.stderr);
    assert_eq!(asked.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("internal error") && stderr.contains("poppler-utils"),
        "{stderr}"
    );
    assert!(!pdf.exists());
}
