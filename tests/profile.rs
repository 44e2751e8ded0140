//! The seeded LibreOffice profile, tested against stock `soffice`: VBA in
//! a document stays out of Writer, Calc and Impress. Here rather than a
//! unit test because it starts LibreOffice.

use docx2pdf::office::profile::seed;
use std::path::Path;
use std::process::Command;

/// `fixture` (an OOXML package whose main part is `main`, of content
/// type `application/vnd.openxmlformats-officedocument.{kind}.main+xml`)
/// made macro-enabled (`application/vnd.{macro_kind}.macroEnabled.main+xml`)
/// with `macros.docm`'s VBA project, as `path`.
fn with_vba(fixture: &str, main: &str, kind: &str, macro_kind: &str, path: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |name: &str, part: &str| {
        let file = std::fs::File::open(fixtures.join(name)).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(part).unwrap(), &mut bytes).unwrap();
        bytes
    };
    let (folder, file) = main.rsplit_once('/').unwrap();
    let rels = format!("{folder}/_rels/{file}.rels");
    let original = std::fs::File::open(fixtures.join(fixture)).unwrap();
    let mut zip = zip::ZipArchive::new(original).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for index in 0..zip.len() {
        let name = zip.by_index(index).unwrap().name().unwrap().into_owned();
        let mut text = String::from_utf8(read(fixture, &name)).unwrap();
        if name == "[Content_Types].xml" {
            text = text
                .replace(
                    &format!("officedocument.{kind}.main+xml"),
                    &format!("{macro_kind}.macroEnabled.main+xml").replace("officedocument.", ""),
                )
                .replace("application/vnd.openxmlformats-ms-", "application/vnd.ms-")
                .replace(
                    r#"<Default Extension="xml""#,
                    r#"<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default Extension="xml""#,
                );
        } else if name == rels {
            text = text.replace("</Relationships>", r#"<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>"#);
        }
        out.start_file(name, options).unwrap();
        std::io::Write::write_all(&mut out, text.as_bytes()).unwrap();
    }
    out.start_file(format!("{folder}/vbaProject.bin"), options)
        .unwrap();
    std::io::Write::write_all(&mut out, &read("macros.docm", "word/vbaProject.bin")).unwrap();
    out.finish().unwrap();
}

/// What `input` holds once stock LibreOffice, with the profile at
/// `profile`, has loaded it (a round trip to OpenDocument, `to`, keeps
/// its Basic): the Basic files, and the statements of its modules that
/// would run (the VBA project's `Open` statements, not commented out).
fn basic_after_loading(profile: &Path, input: &Path, to: &str) -> (Vec<String>, Vec<String>) {
    let dir = input.parent().unwrap().join(profile.file_name().unwrap());
    let status = Command::new("timeout")
        .args(["120", "soffice", "--headless", "--norestore"])
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--convert-to", to, "--outdir"])
        .arg(&dir)
        .arg(input)
        .status()
        .expect("soffice");
    assert!(status.success(), "soffice: {status}");
    let converted = dir.join(input.with_extension(to).file_name().unwrap());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(converted).unwrap()).unwrap();
    let files: Vec<String> = zip
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .filter(|name| name.starts_with("Basic/"))
        .collect();
    let mut runnable = Vec::new();
    for name in &files {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut text).unwrap();
        runnable.extend(
            text.lines()
                .filter(|line| line.trim_start().starts_with("Open "))
                .map(str::to_owned),
        );
    }
    (files, runnable)
}

#[test]
fn the_seed_keeps_vba_code_out_of_writer_calc_and_impress() {
    let dir = tempfile::tempdir().unwrap();
    let docm = dir.path().join("macros.docm");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/macros.docm"),
        &docm,
    )
    .unwrap();
    let xlsm = dir.path().join("macros.xlsm");
    with_vba(
        "one_sheet.xlsx",
        "xl/workbook.xml",
        "spreadsheetml.sheet",
        "ms-excel.sheet",
        &xlsm,
    );
    let pptm = dir.path().join("macros.pptm");
    with_vba(
        "one_slide.pptx",
        "ppt/presentation.xml",
        "presentationml.presentation",
        "ms-powerpoint.presentation",
        &pptm,
    );
    let seeded = dir.path().join("seeded");
    seed(&seeded.join("user")).unwrap();
    // Stock Impress imports VBA only as comments; Calc keeps it as
    // comments under the seed; Writer and Impress drop it.
    let apps = [
        (&docm, "odt", Runs::Yes, Kept::No),
        (&xlsm, "ods", Runs::Yes, Kept::AsComments),
        (&pptm, "odp", Runs::No, Kept::No),
    ];
    for (input, to, stock_runs, seeded_keeps) in apps {
        let (stock_files, stock_runnable) =
            basic_after_loading(&dir.path().join("stock"), input, to);
        assert!(
            !stock_files.is_empty() && stock_runnable.is_empty() == (stock_runs == Runs::No),
            "the control: a fresh profile imports {}'s VBA: {stock_files:?} {stock_runnable:?}",
            input.display()
        );
        let (files, runnable) = basic_after_loading(&seeded, input, to);
        assert_eq!(runnable, Vec::<String>::new(), "{}", input.display());
        assert_eq!(
            files.is_empty(),
            seeded_keeps == Kept::No,
            "{}: {files:?}",
            input.display()
        );
    }
}

#[derive(PartialEq)]
enum Runs {
    Yes,
    No,
}

#[derive(PartialEq)]
enum Kept {
    AsComments,
    No,
}
