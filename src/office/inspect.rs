//! Checks a document before LibreOffice sees it.
//!
//! LibreOffice happily "converts" a text file named `.docx`, spins forever on
//! a zip bomb and would ask for a password nobody can type. Each of those is
//! cheaper and clearer to refuse here, as a permanent error that names the
//! problem, than to discover through a timeout.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::ConvertError;

/// The extensions the pool converts, all through LibreOffice Writer.
pub const SUPPORTED: &[&str] = &[
    "docx", "docm", "dotx", "dotm", "doc", "dot", "odt", "ott", "rtf", "txt",
];

pub(super) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
pub(super) const OLE2_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const RTF_MAGIC: &[u8] = b"{\\rtf";

/// Limits on what a zip container may inflate to.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Total uncompressed bytes of all entries.
    pub max_uncompressed: u64,
    /// Uncompressed / compressed size of one entry, checked above
    /// [`Limits::ratio_floor`] bytes, since small XML parts compress very well.
    pub max_ratio: u64,
    pub ratio_floor: u64,
    pub max_entries: usize,
    /// Width x height of one picture, read from its header: a few KB of
    /// PNG can ask for gigabytes once decoded.
    pub max_picture_pixels: u64,
    /// How deep an RTF file's groups may nest.
    pub max_rtf_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_uncompressed: 512 << 20,
            max_ratio: 100,
            ratio_floor: 16 << 20,
            max_entries: 10_000,
            // A 48-megapixel phone photo fits; decoded, 100 MP is 400 MB.
            max_picture_pixels: 100_000_000,
            max_rtf_depth: 1000,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    /// Office Open XML: a zip with `[Content_Types].xml`.
    Ooxml,
    /// OpenDocument: a zip with `content.xml`.
    Odf,
    /// Word 97-2003: an OLE2 compound file.
    Legacy,
    Rtf,
    Text,
}

fn family(extension: &str) -> Option<Family> {
    Some(match extension {
        "docx" | "docm" | "dotx" | "dotm" => Family::Ooxml,
        "odt" | "ott" => Family::Odf,
        "doc" | "dot" => Family::Legacy,
        "rtf" => Family::Rtf,
        "txt" => Family::Text,
        _ => return None,
    })
}

/// The lower-case extension of a supported file name, or why it is not.
pub fn extension(name: &Path) -> Result<&'static str, ConvertError> {
    let ext = name
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    SUPPORTED
        .iter()
        .copied()
        .find(|s| *s == ext)
        .ok_or_else(|| {
            let shown = if ext.is_empty() {
                "no extension".to_string()
            } else {
                format!("'.{ext}'")
            };
            ConvertError::Unsupported(format!("{shown}; supported: .{}", SUPPORTED.join(", .")))
        })
}

/// Checks the file at `path`, judged by the extension of `name`. Returns the
/// normalised extension the converter should give the file.
pub fn check(path: &Path, name: &Path, limits: &Limits) -> Result<&'static str, ConvertError> {
    let extension = extension(name)?;
    let family = family(extension).expect("every supported extension has a family");
    let mut head = [0u8; 8];
    let unreadable =
        |e: std::io::Error| ConvertError::Internal(format!("cannot read {}: {e}", path.display()));
    let read = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(unreadable)?;
    let head = &head[..read];
    if head.is_empty() {
        return Err(ConvertError::Empty);
    }
    if family == Family::Text {
        return super::text::check(path).map(|()| extension);
    }
    if head.starts_with(OLE2_MAGIC) {
        check_ole2(path, family)?;
    } else if head.starts_with(ZIP_MAGIC) {
        check_zip(path, family, limits)?;
    } else {
        if head.starts_with(RTF_MAGIC) {
            super::rtf::check_nesting(path, limits.max_rtf_depth)?;
        }
        let expected = match family {
            Family::Ooxml | Family::Odf => Some("a zip container"),
            Family::Legacy if !head.starts_with(RTF_MAGIC) => Some("an OLE2 compound file"),
            Family::Rtf if !head.starts_with(RTF_MAGIC) => Some("an RTF file starting with {\\rtf"),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(ConvertError::Corrupt(format!(
                "a .{extension} file must be {expected}, but this one starts with {}",
                describe(head)
            )));
        }
    }
    Ok(extension)
}

fn describe(head: &[u8]) -> String {
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("the text {:?}", String::from_utf8_lossy(head))
    } else {
        format!("the bytes {head:02x?}")
    }
}

/// An OLE2 file is either a legacy document or an encrypted OOXML package
/// (Office wraps those in OLE2). A legacy document under an OOXML name is
/// left to LibreOffice's content detection.
fn check_ole2(path: &Path, family: Family) -> Result<(), ConvertError> {
    let mut cfb = cfb::open(path)
        .map_err(|e| ConvertError::Corrupt(format!("unreadable OLE2 compound file: {e}")))?;
    if cfb.exists("/EncryptionInfo") || cfb.exists("/EncryptedPackage") {
        return Err(ConvertError::Encrypted);
    }
    if family == Family::Ooxml && !cfb.exists("/WordDocument") {
        return Err(ConvertError::Corrupt(
            "an OLE2 compound file that is neither an encrypted package nor a Word document".into(),
        ));
    }
    if cfb.exists("/WordDocument") {
        // FIB: wIdent at 0, flags at 0x0A; bit 8 of the flags is fEncrypted.
        let mut fib = [0u8; 12];
        let mut stream = cfb
            .open_stream("/WordDocument")
            .map_err(|e| ConvertError::Corrupt(format!("unreadable WordDocument stream: {e}")))?;
        stream
            .read_exact(&mut fib)
            .map_err(|_| ConvertError::Corrupt("the WordDocument stream is truncated".into()))?;
        let flags = u16::from_le_bytes([fib[0x0A], fib[0x0B]]);
        if flags & 0x0100 != 0 {
            return Err(ConvertError::Encrypted);
        }
    }
    Ok(())
}

fn check_zip(path: &Path, family: Family, limits: &Limits) -> Result<(), ConvertError> {
    let corrupt =
        |e: zip::result::ZipError| ConvertError::Corrupt(format!("broken zip container: {e}"));
    let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path)?)).map_err(corrupt)?;
    super::zip_layout::check(&mut zip, &mut File::open(path)?)?;
    let required = match family {
        Family::Ooxml => Some(("[Content_Types].xml", "an Office Open XML document")),
        Family::Odf => Some(("content.xml", "an OpenDocument text")),
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
    check_parts(&mut zip, limits, &mut inflated, 0)?;
    if family == Family::Odf && odf_is_encrypted(&mut zip)? {
        return Err(ConvertError::Encrypted);
    }
    Ok(())
}

/// Packages inside packages (an `altChunk` that is a DOCX, an embedded
/// workbook) are read by LibreOffice too, so they are inspected as deep as
/// this, under the one budget of the outermost document.
const MAX_NESTING: usize = 3;

/// Inflates every part of `zip`, bounding each part's ratio and all parts'
/// total (`inflated`, shared with the packages around and inside this one),
/// and inspects each part that is itself a zip the same way.
fn check_parts<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
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
        check_part(entry, index, limits, inflated, depth)?;
    }
    Ok(())
}

/// One part: its ratio, its picture header, its content inflated for real
/// (inspected as a package if it is one), added to the shared `inflated`.
fn check_part(
    mut entry: zip::read::ZipFile<'_, impl Read>,
    index: usize,
    limits: &Limits,
    inflated: &mut u64,
    depth: usize,
) -> Result<(), ConvertError> {
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
    check_picture(&name, head, limits)?;
    let nested = head.starts_with(ZIP_MAGIC);
    // Declared sizes can lie: inflate for real, but never past the limit.
    let mut part = head.chain(entry.take(allowed + 1 - read as u64));
    let size = if nested {
        let mut copy = tempfile::tempfile()?;
        let size = std::io::copy(&mut part, &mut copy)
            .map_err(|e| ConvertError::Corrupt(format!("{name} does not inflate: {e}")))?;
        check_nested(copy, &name, limits, inflated, depth)?;
        size
    } else {
        std::io::copy(&mut part, &mut std::io::sink())
            .map_err(|e| ConvertError::Corrupt(format!("{name} does not inflate: {e}")))?
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
    Ok(())
}

/// A part whose header says it is a picture of more pixels than allowed.
/// Parts that are not pictures, or whose header does not tell, pass.
fn check_picture(name: &str, head: &[u8], limits: &Limits) -> Result<(), ConvertError> {
    if imagesize::image_type(head).is_err() {
        return Ok(());
    }
    let Ok(size) = imagesize::blob_size(head) else {
        return Ok(());
    };
    let pixels = size.width as u64 * size.height as u64;
    if pixels > limits.max_picture_pixels {
        return Err(ConvertError::Bomb(format!(
            "{name} is a picture of {} x {} pixels, over the {}-megapixel limit",
            size.width,
            size.height,
            limits.max_picture_pixels / 1_000_000
        )));
    }
    Ok(())
}

/// A part that is itself a zip package, copied to `copy`.
fn check_nested(
    mut copy: File,
    name: &str,
    limits: &Limits,
    inflated: &mut u64,
    depth: usize,
) -> Result<(), ConvertError> {
    if depth + 1 > MAX_NESTING {
        return Err(ConvertError::Bomb(format!(
            "{name} holds packages nested more than {MAX_NESTING} deep"
        )));
    }
    std::io::Seek::rewind(&mut copy)?;
    // The archive seeks before every read, so the two may share an offset.
    let mut layout = copy.try_clone()?;
    let mut inner = zip::ZipArchive::new(BufReader::new(copy))
        .map_err(|e| ConvertError::Corrupt(format!("{name} is a broken zip package: {e}")))?;
    super::zip_layout::check(&mut inner, &mut layout).map_err(|error| error.inside(name))?;
    check_parts(&mut inner, limits, inflated, depth + 1).map_err(|error| error.inside(name))
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
fn odf_is_encrypted(zip: &mut zip::ZipArchive<BufReader<File>>) -> Result<bool, ConvertError> {
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
