//! Checks a document before LibreOffice sees it: the formats we convert
//! (text documents, spreadsheets, presentations, drawings), their
//! containers, and what each container may hold.
//!
//! LibreOffice happily "converts" a text file named `.docx`, spins forever on
//! a zip bomb and would ask for a password nobody can type. Each of those is
//! cheaper and clearer to refuse here, as a permanent error that names the
//! problem, than to discover through a timeout.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::office::error::ConvertError;

pub(in crate::office) mod csv;
mod inline_pictures;
pub(in crate::office) mod lenient;
mod ole2;
mod ole2_pictures;
mod package;
mod picture;
mod repack;
pub(super) mod rtf;
mod text;
pub(in crate::office) use picture::check_picture;

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
    /// Encrypted as LibreOffice itself decrypts, given the password (an
    /// OpenDocument's, a `.doc`'s, an `.xls`'s): its container was checked,
    /// its content could not be.
    pub encrypted: bool,
}

/// Checks the file at `path`, judged by the extension of `name`. A zip
/// container is rebuilt into a new file in `work`. A password-protected
/// document is [`ConvertError::Encrypted`].
pub fn check(
    path: &Path,
    name: &Path,
    limits: &Limits,
    work: &Path,
) -> Result<Inspected, ConvertError> {
    let inspected = check_locked(path, name, limits, work)?;
    match inspected.encrypted {
        true => Err(ConvertError::Encrypted),
        false => Ok(inspected),
    }
}

/// [`check`], for a document whose password is known: one encrypted as
/// LibreOffice itself decrypts is checked as far as it can be, and said
/// to be encrypted.
pub fn check_locked(
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
    let (mut package, mut encrypted) = (None, false);
    if family == Family::Text {
        text::check(path, extension)?;
    } else if head.starts_with(OLE2_MAGIC) {
        encrypted = ole2::check(
            path,
            app,
            family == Family::Ooxml,
            limits.max_picture_pixels,
        )?;
    } else if head.starts_with(ZIP_MAGIC) {
        let mut rebuilt = tempfile::NamedTempFile::new_in(work)?;
        encrypted = package::check_zip(path, family, app, limits, rebuilt.as_file_mut())?;
        package = Some(rebuilt);
    } else {
        check_other(path, head, family, extension, limits)?;
    }
    Ok(Inspected {
        extension,
        package,
        encrypted,
    })
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
        rtf::check(path, limits.max_rtf_depth, limits.max_picture_pixels)?;
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
