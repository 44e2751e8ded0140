//! A zip container, inspected part by part: every part inflated for real
//! under a ratio and a total (packages inside packages too, under the outer
//! one's budget), each picture's header read, and the archive rebuilt from
//! exactly what was read for LibreOffice ([`super::repack`]).

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

use super::inline_pictures::{InlinePictures, is_xml};
use super::lenient;
use super::picture::check_picture;
use super::repack::Repack;
use super::{App, Family, Limits, ZIP_MAGIC};
use crate::office::error::ConvertError;

/// Inspects the zip container at `path` and writes it, rebuilt, to `out`;
/// whether it is an OpenDocument encrypted with a password (its parts
/// checked as containers only: their content is not readable).
pub(super) fn check_zip(
    path: &Path,
    family: Family,
    app: App,
    limits: &Limits,
    out: &mut File,
) -> Result<bool, ConvertError> {
    let corrupt =
        |e: zip::result::ZipError| ConvertError::Corrupt(format!("broken zip container: {e}"));
    let mut zip = lenient::open(BufReader::new(File::open(path)?)).map_err(corrupt)?;
    // LibreOffice 24.2 on encrypts the whole package into one part: no
    // content.xml to be seen.
    let encrypted = family == Family::Odf && odf_is_encrypted(&mut zip)?;
    let required = match family {
        Family::Ooxml => Some(("[Content_Types].xml", "an Office Open XML document")),
        Family::Odf if !encrypted => Some(("content.xml", odf_name(app))),
        _ => None,
    };
    if let Some((part, what)) = required
        && zip.index_for_name(part).is_none()
    {
        return Err(ConvertError::Corrupt(format!(
            "a zip archive without {part}, so not {what}"
        )));
    }
    let mut inflated = 0;
    let mut repack = Repack::new(std::io::BufWriter::new(out));
    check_parts(&mut zip, &mut repack, limits, &mut inflated, 0)?;
    repack
        .finish()?
        .flush()
        .map_err(|e| ConvertError::Internal(format!("writing the rebuilt package: {e}")))?;
    Ok(encrypted)
}

fn odf_name(app: App) -> &'static str {
    match app {
        App::Writer => "an OpenDocument text",
        App::Calc => "an OpenDocument spreadsheet",
        App::Impress => "an OpenDocument presentation",
        App::Draw => "an OpenDocument drawing",
    }
}

/// Packages inside packages (an `altChunk` that is a DOCX, an embedded
/// workbook) are read by LibreOffice too, so they are inspected as deep as
/// this, under the one budget of the outermost document.
const MAX_NESTING: usize = 3;

/// Inflates every part of `zip`, bounding each part's ratio and all parts'
/// total (`inflated`, shared with the packages around and inside this one),
/// and inspects each part that is itself a zip the same way. Each part
/// goes into `repack` once inspected.
fn check_parts<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    repack: &mut Repack<impl Write + Seek>,
    limits: &Limits,
    inflated: &mut u64,
    depth: usize,
) -> Result<(), ConvertError> {
    let corrupt =
        |e: zip::result::ZipError| ConvertError::Corrupt(format!("broken zip container: {e}"));
    if zip.len() > limits.max_entries {
        return Err(ConvertError::Bomb(format!(
            "{} entries in the zip container (limit {})",
            zip.len(),
            limits.max_entries
        )));
    }
    for index in 0..zip.len() {
        let entry = zip.by_index(index).map_err(corrupt)?;
        match check_part(entry, index, limits, inflated, depth)? {
            None => repack.copy(zip, index)?,
            Some(mut nested) => repack.add(&nested.name, &mut nested.rebuilt)?,
        }
    }
    Ok(())
}

/// A part that is a package itself, rebuilt.
struct Nested {
    name: String,
    rebuilt: File,
}

/// One part: its ratio, its picture header, its content inflated for real
/// (inspected as a package if it is one, and then rebuilt), added to the
/// shared `inflated`.
fn check_part(
    mut entry: zip::read::ZipFile<'_, impl Read>,
    index: usize,
    limits: &Limits,
    inflated: &mut u64,
    depth: usize,
) -> Result<Option<Nested>, ConvertError> {
    if entry.encrypted() {
        return Err(ConvertError::Encrypted);
    }
    let name = entry
        .name()
        .map_or_else(|_| format!("entry {index}"), |n| n.into_owned());
    let allowed = limits
        .ratio_floor
        .max(entry.compressed_size().saturating_mul(limits.max_ratio));
    if entry.size() > allowed {
        return Err(ConvertError::Bomb(format!(
            "{name} declares {} bytes from {} compressed",
            entry.size(),
            entry.compressed_size()
        )));
    }
    // Enough for a zip signature and any picture's header.
    let mut head = vec![0u8; 64 << 10];
    let read = read_up_to(&mut entry, &mut head)
        .map_err(|e| ConvertError::Corrupt(format!("{name} does not inflate: {e}")))?;
    let head = &head[..read];
    check_picture(&name, head, limits.max_picture_pixels)?;
    let nested = head.starts_with(ZIP_MAGIC);
    // Declared sizes can lie: inflate for real, but never past the limit.
    let mut part = head.chain(entry.take(allowed + 1 - read as u64));
    let (size, rebuilt) = if nested {
        let mut copy = tempfile::tempfile()?;
        let size = std::io::copy(&mut part, &mut copy)
            .map_err(|e| ConvertError::Corrupt(format!("{name} does not inflate: {e}")))?;
        (
            size,
            Some(check_nested(copy, &name, limits, inflated, depth)?),
        )
    } else {
        (inflate(part, &name, head, limits.max_picture_pixels)?, None)
    };
    if size > allowed {
        return Err(ConvertError::Bomb(format!(
            "{name} inflates past {allowed} bytes, over {}x its compressed size",
            limits.max_ratio
        )));
    }
    *inflated += size;
    if *inflated > limits.max_uncompressed {
        return Err(ConvertError::Bomb(format!(
            "the parts inflate past {} bytes in all",
            limits.max_uncompressed
        )));
    }
    Ok(rebuilt.map(|rebuilt| Nested { name, rebuilt }))
}

/// Inflates a part that is not a package; how many bytes it holds. An XML
/// part's pictures written as base64 are checked on the way.
fn inflate(
    mut part: impl Read,
    name: &str,
    head: &[u8],
    max_pixels: u64,
) -> Result<u64, ConvertError> {
    let broken = |e: std::io::Error| ConvertError::Corrupt(format!("{name} does not inflate: {e}"));
    if !is_xml(head) {
        return std::io::copy(&mut part, &mut std::io::sink()).map_err(broken);
    }
    let mut pictures = InlinePictures::new(name, max_pixels);
    let inflated = std::io::copy(&mut part, &mut pictures);
    match inflated.and_then(|size| pictures.flush().map(|()| size)) {
        Ok(size) => Ok(size),
        Err(error) => Err(pictures.refused.take().unwrap_or_else(|| broken(error))),
    }
}

/// A part that is itself a zip package, copied to `copy`; the package
/// rebuilt from what was inspected.
fn check_nested(
    mut copy: File,
    name: &str,
    limits: &Limits,
    inflated: &mut u64,
    depth: usize,
) -> Result<File, ConvertError> {
    if depth + 1 > MAX_NESTING {
        return Err(ConvertError::Bomb(format!(
            "{name} holds packages nested more than {MAX_NESTING} deep"
        )));
    }
    copy.rewind()?;
    let mut inner = lenient::open(BufReader::new(copy))
        .map_err(|e| ConvertError::Corrupt(format!("{name} is a broken zip package: {e}")))?;
    let mut repack = Repack::new(tempfile::tempfile()?);
    check_parts(&mut inner, &mut repack, limits, inflated, depth + 1)
        .map_err(|error| error.inside(name))?;
    repack.finish()
}

/// Reads until `buf` is full or the stream ends.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// OpenDocument encrypts parts inside an ordinary zip and says so in its manifest.
fn odf_is_encrypted(zip: &mut zip::ZipArchive<impl Read + Seek>) -> Result<bool, ConvertError> {
    let Ok(manifest) = zip.by_name("META-INF/manifest.xml") else {
        return Ok(false);
    };
    let mut text = String::new();
    manifest
        .take(16 << 20)
        .read_to_string(&mut text)
        .map_err(|e| ConvertError::Corrupt(format!("unreadable manifest: {e}")))?;
    Ok(text.contains("encryption-data"))
}
