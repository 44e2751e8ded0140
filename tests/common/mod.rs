//! Helpers shared by the test binaries.

// Compiled into each test binary, which uses only some of it.
#![allow(dead_code)]

pub mod emulators;
pub mod stalling_proxy;
pub mod vba;

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Processes whose environment mentions `dir`. LibreOffice children get
/// their HOME and TMPDIR below the TMPDIR of whoever started the pool, so
/// this finds any that outlived it.
pub fn processes_using(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|env| String::from_utf8_lossy(&env).contains(&needle))
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

const W_NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture""#;

/// Writes a minimal DOCX: `body` inside `<w:body>`, `doctype` before the
/// root element, and `relationships` (`<Relationship .../>` elements) for
/// the main part.
pub fn write_docx(path: &Path, doctype: &str, body: &str, relationships: &str) {
    write_package(path, DOCX_MAIN, doctype, body, relationships, &[]);
}

/// Writes a DOCX whose body ends with an `altChunk`: the package `chunk`
/// (another DOCX), which Word and Writer import in its place.
pub fn write_docx_with_chunk(path: &Path, body: &str, chunk: &[u8]) {
    let body = format!(r#"{body}<w:altChunk r:id="rIdChunk"/>"#);
    let relationship = r#"<Relationship Id="rIdChunk" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="chunk.docx"/>"#;
    let part = ExtraPart {
        name: "word/chunk.docx",
        content_type: Some(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        bytes: chunk,
    };
    write_package(path, DOCX_MAIN, "", &body, relationship, &[part]);
}

/// Writes a DOCX showing one embedded PNG picture, `png`.
pub fn write_docx_with_picture(path: &Path, png: &[u8]) {
    let (body, _) = linked_image("unused");
    let body = body.replace(r#"r:link="rIdImg""#, r#"r:embed="rIdImg""#);
    let relationship = r#"<Relationship Id="rIdImg" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/picture.png"/>"#;
    let part = ExtraPart {
        name: "word/media/picture.png",
        content_type: Some("image/png"),
        bytes: png,
    };
    write_package(path, DOCX_MAIN, "", &body, relationship, &[part]);
}

/// Writes a DOCX of `paragraphs` paragraphs of text whose first paragraph
/// carries a review comment, or the same document without it.
pub fn write_reviewed_docx(path: &Path, paragraphs: usize, with_comment: bool) {
    let text = "A paragraph of a reviewed report, long enough to wrap over two lines of the page when it is set in the default font.";
    let (start, end) = if with_comment {
        (
            r#"<w:commentRangeStart w:id="0"/>"#,
            r#"<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>"#,
        )
    } else {
        ("", "")
    };
    let mut body = format!("<w:p>{start}<w:r><w:t>{text}</w:t></w:r>{end}</w:p>");
    body += &format!("<w:p><w:r><w:t>{text}</w:t></w:r></w:p>").repeat(paragraphs - 1);
    let comments = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:comments {W_NS}><w:comment w:id="0" w:author="Reviewer" w:date="2026-01-01T00:00:00Z" w:initials="R"><w:p><w:r><w:t>Please check this figure.</w:t></w:r></w:p></w:comment></w:comments>"#
    );
    let part = ExtraPart {
        name: "word/comments.xml",
        content_type: Some(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml",
        ),
        bytes: comments.as_bytes(),
    };
    let parts = if with_comment { &[part][..] } else { &[] };
    let relationship = if with_comment {
        r#"<Relationship Id="rIdComments" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments" Target="comments.xml"/>"#
    } else {
        ""
    };
    write_package(path, DOCX_MAIN, "", &body, relationship, parts);
}

/// Writes a minimal macro-enabled document (DOCM) whose VBA project is
/// `vba_project`, with `body` as its text.
pub fn write_docm(path: &Path, body: &str, vba_project: &[u8]) {
    let relationship = r#"<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>"#;
    write_package(
        path,
        DOCM_MAIN,
        "",
        body,
        relationship,
        &[ExtraPart {
            name: "word/vbaProject.bin",
            content_type: None,
            bytes: vba_project,
        }],
    );
}

/// A part beyond the main document; `content_type` overrides the default
/// for its extension.
struct ExtraPart<'a> {
    name: &'a str,
    content_type: Option<&'a str>,
    bytes: &'a [u8],
}

const DOCX_MAIN: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";
const DOCM_MAIN: &str = "application/vnd.ms-word.document.macroEnabled.main+xml";

fn write_package(
    path: &Path,
    main_type: &str,
    doctype: &str,
    body: &str,
    relationships: &str,
    extra_parts: &[ExtraPart],
) {
    let overrides: String = extra_parts
        .iter()
        .filter_map(|part| part.content_type.map(|t| (part.name, t)))
        .map(|(name, t)| format!(r#"<Override PartName="/{name}" ContentType="{t}"/>"#))
        .collect();
    let parts = [
        (
            "[Content_Types].xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Override PartName="/word/document.xml" ContentType="{main_type}"/>{overrides}</Types>"#),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_string(),
        ),
        (
            "word/_rels/document.xml.rels",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{relationships}</Relationships>"#),
        ),
        (
            "word/document.xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?>{doctype}<w:document {W_NS}><w:body>{body}</w:body></w:document>"#),
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let parts = parts
        .iter()
        .map(|(name, text)| (*name, text.as_bytes()))
        .chain(extra_parts.iter().map(|part| (part.name, part.bytes)));
    for (name, content) in parts {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, content).unwrap();
    }
    zip.finish().unwrap();
}

/// Writes a DOCX whose text is set in `family`, a font the document
/// embeds (`font`, a TrueType file), as Word's "embed fonts in the file"
/// does. Its key is all zeros, so the obfuscated part is the font itself.
/// The font table lists it `names` times, under `family`, `family 2`, ...,
/// all pointing at the one part.
pub fn write_docx_with_embedded_font(path: &Path, family: &str, font: &[u8], names: usize) {
    let body = format!(
        r#"<w:p><w:r><w:rPr><w:rFonts w:ascii="{family}" w:hAnsi="{family}"/></w:rPr><w:t>Set in a font the document brings.</w:t></w:r></w:p>"#
    );
    let entries: String = (1..=names)
        .map(|n| match n {
            1 => family.to_string(),
            n => format!("{family} {n}"),
        })
        .map(|name| format!(r#"<w:font w:name="{name}"><w:embedRegular r:id="rIdFont" w:fontKey="{{00000000-0000-0000-0000-000000000000}}"/></w:font>"#))
        .collect();
    let table =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:fonts {W_NS}>{entries}</w:fonts>"#);
    let table_rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdFont" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/font" Target="fonts/font1.odttf"/></Relationships>"#;
    let relationship = r#"<Relationship Id="rIdFonts" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/fontTable" Target="fontTable.xml"/>"#;
    let parts = [
        ExtraPart {
            name: "word/fontTable.xml",
            content_type: Some(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml",
            ),
            bytes: table.as_bytes(),
        },
        ExtraPart {
            name: "word/_rels/fontTable.xml.rels",
            content_type: None,
            bytes: table_rels.as_bytes(),
        },
        ExtraPart {
            name: "word/fonts/font1.odttf",
            content_type: Some("application/vnd.openxmlformats-officedocument.obfuscatedFont"),
            bytes: font,
        },
    ];
    write_package(path, DOCX_MAIN, "", &body, relationship, &parts);
}

/// Writes a presentation (`one_slide.pptx` with more on its first slide)
/// whose `shapes` video shapes all show one embedded media part of
/// `media_bytes` zero bytes (a few KB compressed): LibreOffice copies the
/// part to a temporary file once per shape.
pub fn write_pptx_with_media_fan_out(path: &Path, shapes: usize, media_bytes: usize) {
    let pic = |i: usize| {
        format!(
            r#"<p:pic><p:nvPicPr><p:cNvPr id="{}" name="Media {i}"/><p:cNvPicPr/><p:nvPr><a:videoFile r:link="rIdV"/><p:extLst><p:ext uri="{{DAA4B4D4-6D71-4841-9C94-3DE7FCFB9230}}"><p14:media r:embed="rIdM"/></p:ext></p:extLst></p:nvPr></p:nvPicPr><p:blipFill><a:blip r:embed="rIdImg"/><a:stretch><a:fillRect/></a:stretch></p:blipFill><p:spPr><a:xfrm><a:off x="{}" y="2000000"/><a:ext cx="300000" cy="300000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>"#,
            100 + i,
            100_000 + i * 300_000
        )
    };
    let pics: String = (0..shapes).map(pic).collect();
    let relationships = r#"<Relationship Id="rIdV" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/video" Target="../media/media1.mp4"/><Relationship Id="rIdM" Type="http://schemas.microsoft.com/office/2007/relationships/media" Target="../media/media1.mp4"/><Relationship Id="rIdImg" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="../media/image1.png"/></Relationships>"#;
    let types = r#"<Default Extension="mp4" ContentType="video/mp4"/><Default Extension="png" ContentType="image/png"/><Default Extension="xml""#;
    let mut original =
        zip::ZipArchive::new(std::fs::File::open(fixture("one_slide.pptx")).unwrap()).unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for index in 0..original.len() {
        let mut entry = original.by_index(index).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        let text = match name.as_str() {
            "ppt/slides/slide1.xml" => text.replace("</p:spTree>", &format!("{pics}</p:spTree>")),
            "ppt/slides/_rels/slide1.xml.rels" => text.replace("</Relationships>", relationships),
            "[Content_Types].xml" => text.replace(r#"<Default Extension="xml""#, types),
            _ => text,
        };
        zip.start_file(name, options).unwrap();
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
    }
    zip.start_file("ppt/media/media1.mp4", options).unwrap();
    std::io::Write::write_all(&mut zip, &vec![0u8; media_bytes]).unwrap();
    zip.start_file("ppt/media/image1.png", options).unwrap();
    std::io::Write::write_all(&mut zip, &one_pixel_png()).unwrap();
    zip.finish().unwrap();
}

/// The smallest PNG: one white pixel.
fn one_pixel_png() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let crc = crc32fast::hash(&[kind, data].concat());
        [
            &(data.len() as u32).to_be_bytes()[..],
            kind,
            data,
            &crc.to_be_bytes(),
        ]
        .concat()
    };
    let header = [0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0];
    // zlib, stored: one row, filter 0, one white RGB pixel.
    let pixels = [
        0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 255, 255, 255, 0x02, 0xfe, 0x01, 0xfe,
    ];
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &header),
        &chunk(b"IDAT", &pixels),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

/// A paragraph with an image whose picture lives at the external `target`.
pub fn linked_image(target: &str) -> (String, String) {
    let body = r#"<w:p><w:r><w:t>Linked image:</w:t></w:r><w:r><w:drawing><wp:inline><wp:extent cx="952500" cy="952500"/><wp:docPr id="1" name="linked"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="linked.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:link="rIdImg"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"#;
    let rel = format!(
        r#"<Relationship Id="rIdImg" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="{target}" TargetMode="External"/>"#
    );
    (body.to_string(), rel)
}

/// A tmpfs of `size` mounted on `dir`, unmounted (lazily) when dropped;
/// None where mounting is not allowed (it needs root).
pub fn mount_tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    mounted.then(|| Mount(dir.to_owned()))
}

pub struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A work directory of its own, in the system's temp directory, for a pool.
pub fn workspace() -> std::sync::Arc<docx2pdf::workspace::Workspace> {
    std::sync::Arc::new(docx2pdf::workspace::Workspace::create().expect("a work directory"))
}

/// One LibreOffice process with a minute per job and the default caps.
pub fn pool_config() -> docx2pdf::office::PoolConfig {
    docx2pdf::office::PoolConfig {
        job_timeout: std::time::Duration::from_secs(60),
        ..docx2pdf::office::PoolConfig::defaults(env!("CARGO_BIN_EXE_docx2pdf").into())
    }
}

/// A pool as `config` says, in a work directory of its own.
pub fn start_pool(config: docx2pdf::office::PoolConfig) -> docx2pdf::office::Pool {
    docx2pdf::office::Pool::start(config, workspace()).expect("pool starts")
}

/// One LibreOffice process as [`pool_config`] says.
pub fn pool() -> docx2pdf::office::Pool {
    start_pool(pool_config())
}

/// `docx2pdf convert INPUT -o OUTPUT FLAGS`: its exit code and stderr.
pub fn convert_to(input: &Path, output: &Path, flags: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .arg("convert")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

/// The text of a PDF, as pdftotext (poppler-utils) reads it.
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page count of a PDF, as pdfinfo (poppler-utils) reads it; the PDF
/// must be one.
pub fn pdf_pages(pdf: &Path) -> u32 {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo runs (poppler-utils)");
    assert!(
        out.status.success(),
        "pdfinfo rejects {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap()))
        .expect("pdfinfo prints Pages")
}
