//! Checks a document before LibreOffice sees it: the formats we convert
//! (text documents, spreadsheets, presentations, drawings), their
//! containers, and what each container may hold.
//!
//! LibreOffice happily "converts" a text file named `.docx`, spins forever on
//! a zip bomb and would ask for a password nobody can type. Each of those is
//! cheaper and clearer to refuse here, as a permanent error that names the
//! problem, than to discover through a timeout.

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

use super::ConvertError;
use super::lenient;
use super::repack::Repack;

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
    /// Office 97-2003: an OLE2 compound file.
    Legacy,
    Rtf,
    /// Plain text (`.txt`) or comma-separated values (`.csv`).
    Text,
}

/// The LibreOffice application that reads a format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum App {
    Writer,
    Calc,
    Impress,
    Draw,
}

/// Every extension the pool converts, with its container and application.
const FORMATS: &[(&str, Family, App)] = &[
    ("docx", Family::Ooxml, App::Writer),
    ("docm", Family::Ooxml, App::Writer),
    ("dotx", Family::Ooxml, App::Writer),
    ("dotm", Family::Ooxml, App::Writer),
    ("doc", Family::Legacy, App::Writer),
    ("dot", Family::Legacy, App::Writer),
    ("odt", Family::Odf, App::Writer),
    ("ott", Family::Odf, App::Writer),
    ("rtf", Family::Rtf, App::Writer),
    ("txt", Family::Text, App::Writer),
    ("xlsx", Family::Ooxml, App::Calc),
    ("xlsm", Family::Ooxml, App::Calc),
    ("xls", Family::Legacy, App::Calc),
    ("ods", Family::Odf, App::Calc),
    ("csv", Family::Text, App::Calc),
    ("pptx", Family::Ooxml, App::Impress),
    ("ppsx", Family::Ooxml, App::Impress),
    ("ppt", Family::Legacy, App::Impress),
    ("pps", Family::Legacy, App::Impress),
    ("odp", Family::Odf, App::Impress),
    ("odg", Family::Odf, App::Draw),
];

/// The extensions the pool converts.
pub fn supported() -> impl Iterator<Item = &'static str> {
    FORMATS.iter().map(|(extension, ..)| *extension)
}

fn format(extension: &str) -> Option<(Family, App)> {
    FORMATS
        .iter()
        .find(|(e, ..)| *e == extension)
        .map(|&(_, family, app)| (family, app))
}

/// The lower-case extension of a supported file name, or why it is not.
pub fn extension(name: &Path) -> Result<&'static str, ConvertError> {
    let ext = name
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    supported().find(|s| *s == ext).ok_or_else(|| {
        let shown = if ext.is_empty() {
            "no extension".to_string()
        } else {
            format!("'.{ext}'")
        };
        let all: Vec<&str> = supported().collect();
        ConvertError::Unsupported(format!("{shown}; supported: .{}", all.join(", .")))
    })
}

/// What inspection found a document to be, and what LibreOffice reads.
pub struct Inspected {
    /// The normalised extension the converter should give the file.
    pub extension: &'static str,
    /// For a zip container, the archive rebuilt from the entries that were
    /// inspected ([`super::repack`]), for LibreOffice to read instead of
    /// the file; `None` for other containers.
    pub package: Option<tempfile::NamedTempFile>,
}

/// Checks the file at `path`, judged by the extension of `name`. A zip
/// container is rebuilt into a new file in `work`.
pub fn check(
    path: &Path,
    name: &Path,
    limits: &Limits,
    work: &Path,
) -> Result<Inspected, ConvertError> {
    let extension = extension(name)?;
    let (family, app) = format(extension).expect("every supported extension has a format");
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
    let mut package = None;
    if family == Family::Text {
        super::text::check(path, extension)?;
    } else if head.starts_with(OLE2_MAGIC) {
        super::ole2::check(path, app, family == Family::Ooxml)?;
    } else if head.starts_with(ZIP_MAGIC) {
        let mut rebuilt = tempfile::NamedTempFile::new_in(work)?;
        check_zip(path, family, app, limits, rebuilt.as_file_mut())?;
        package = Some(rebuilt);
    } else {
        check_other(path, head, family, extension, limits)?;
    }
    Ok(Inspected { extension, package })
}

/// A file that is neither text, OLE2 nor zip: RTF, or the wrong thing.
fn check_other(
    path: &Path,
    head: &[u8],
    family: Family,
    extension: &str,
    limits: &Limits,
) -> Result<(), ConvertError> {
    if head.starts_with(RTF_MAGIC) {
        super::rtf::check_nesting(path, limits.max_rtf_depth)?;
        super::rtf::check_pictures(path, limits.max_picture_pixels)?;
    }
    let expected = match family {
        Family::Ooxml | Family::Odf => Some("a zip container"),
        Family::Legacy if !head.starts_with(RTF_MAGIC) => Some("an OLE2 compound file"),
        Family::Rtf if !head.starts_with(RTF_MAGIC) => Some("an RTF file starting with {\\rtf"),
        _ => None,
    };
    match expected {
        Some(expected) => Err(ConvertError::Corrupt(format!(
            "a .{extension} file must be {expected}, but this one starts with {}",
            describe(head)
        ))),
        None => Ok(()),
    }
}

fn describe(head: &[u8]) -> String {
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("the text {:?}", String::from_utf8_lossy(head))
    } else {
        format!("the bytes {head:02x?}")
    }
}

/// Inspects the zip container at `path` and writes it, rebuilt, to `out`.
fn check_zip(
    path: &Path,
    family: Family,
    app: App,
    limits: &Limits,
    out: &mut File,
) -> Result<(), ConvertError> {
    let corrupt =
        |e: zip::result::ZipError| ConvertError::Corrupt(format!("broken zip container: {e}"));
    let mut zip = lenient::open(BufReader::new(File::open(path)?)).map_err(corrupt)?;
    let required = match family {
        Family::Ooxml => Some(("[Content_Types].xml", "an Office Open XML document")),
        Family::Odf => Some(("content.xml", odf_name(app))),
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
    if family == Family::Odf && odf_is_encrypted(&mut zip)? {
        return Err(ConvertError::Encrypted);
    }
    repack
        .finish()?
        .flush()
        .map_err(|e| ConvertError::Internal(format!("writing the rebuilt package: {e}")))
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
        let size = std::io::copy(&mut part, &mut std::io::sink())
            .map_err(|e| ConvertError::Corrupt(format!("{name} does not inflate: {e}")))?;
        (size, None)
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

/// A part whose header says it is a picture of more pixels than allowed.
/// Parts that are not pictures, or whose header does not tell, pass.
pub(super) fn check_picture(name: &str, head: &[u8], max_pixels: u64) -> Result<(), ConvertError> {
    if imagesize::image_type(head).is_err() {
        return Ok(());
    }
    let Ok(size) = imagesize::blob_size(head) else {
        return Ok(());
    };
    let pixels = size.width as u64 * size.height as u64;
    if pixels > max_pixels {
        return Err(ConvertError::Bomb(format!(
            "{name} is a picture of {} x {} pixels, over the {}-megapixel limit",
            size.width,
            size.height,
            max_pixels / 1_000_000
        )));
    }
    Ok(())
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
