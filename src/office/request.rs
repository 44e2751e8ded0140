//! A document's trip through a LibreOffice process's request directory:
//! placed there for it (its own file, never the caller's, which a process
//! running a document's exploit could rewrite), and its PDF taken out into
//! a file only we write.

use std::fs::File;
use std::path::Path;

use tempfile::NamedTempFile;

use super::inspect::csv::Dialect;
use super::inspect::{self, Inspected};
use super::{ConvertError, child, file_properties, markup, package_parts, properties};
use crate::options::{PdfOptions, Properties};
use crate::supervisor::RequestDir;

/// The file LibreOffice is to read, made in the worker's `work` directory
/// (off the slot, before one is taken): the package inspection rebuilt
/// (a Word document's tracked changes, and a package's properties, as
/// `options` say), a CSV
/// decoded into UTF-8 (with how to read it), or else a copy of the
/// caller's `input`.
pub(super) fn document_for_libreoffice(
    inspected: Inspected,
    input: &Path,
    options: &PdfOptions,
    work: &Path,
) -> Result<(NamedTempFile, Option<Dialect>), ConvertError> {
    let extension = inspected.extension;
    if let Some(mut rebuilt) = inspected.package {
        if let (Some(changes), Some(format)) = (options.changes, markup::takes_changes(extension)) {
            rebuilt = markup::with_changes(rebuilt, format, changes, work)?;
        }
        let asked = &options.properties;
        if let (false, Some(format)) = (asked.is_default(), package_parts::Format::of(extension)) {
            rebuilt = properties::with_properties(rebuilt, format, asked, work)?;
        }
        return Ok((rebuilt, None));
    }
    inapplicable(extension, options)?;
    if inspected.extension == "csv" {
        let (decoded, dialect) = inspect::csv::prepare(input, &options.csv, work)?;
        return Ok((decoded, Some(dialect)));
    }
    let mut copy = NamedTempFile::new_in(work)?;
    std::io::copy(&mut File::open(input)?, copy.as_file_mut())?;
    if !options.properties.is_default() {
        write_properties(copy.path(), &options.properties)?;
    }
    Ok((copy, None))
}

/// The properties `asked` for a file we copy rather than rebuild, by what
/// it holds: an RTF or a compound file takes them; a text file has none.
fn write_properties(path: &Path, asked: &Properties) -> Result<(), ConvertError> {
    let mut head = [0u8; 8];
    let read = std::io::Read::read(&mut File::open(path)?, &mut head)?;
    match &head[..read] {
        head if head.starts_with(br"{\rtf") => file_properties::write_rtf(path, asked),
        head if head.starts_with(inspect::OLE2_MAGIC) => {
            file_properties::write_compound(path, asked)
        }
        _ => Ok(()),
    }
}

/// The options a document of `extension`, not a package we rebuild, cannot
/// take: refused by name, rather than a PDF silently without them. (The
/// properties the others take: [`file_properties`].)
fn inapplicable(extension: &str, options: &PdfOptions) -> Result<(), ConvertError> {
    let asked = &options.properties;
    let mut refused: Vec<&str> = match extension {
        // A text file has no properties; `clear-metadata` finds none.
        "txt" | "csv" => asked.set_ones().map(|(name, _)| name).collect(),
        _ => Vec::new(),
    };
    if options.changes.is_some() && matches!(extension, "doc" | "dot" | "rtf") {
        refused.push("changes");
    }
    match refused.is_empty() {
        true => Ok(()),
        false => Err(ConvertError::Inapplicable(format!(
            "{} cannot be applied to a .{extension} file yet (a text file has no properties, and .doc and .rtf take no tracked-changes setting): convert it without them, or save it as .docx, .xlsx or OpenDocument",
            refused.join(", ")
        ))),
    }
}

/// A document as LibreOffice is to read it.
pub(super) struct ForLibreOffice {
    pub(super) file: NamedTempFile,
    /// How it is read: `input.<extension>`.
    pub(super) extension: &'static str,
    /// The import filter's options (a CSV's dialect), or empty.
    pub(super) import: String,
    /// What opens it, when LibreOffice decrypts it itself.
    pub(super) password: Option<child::Password>,
}

/// Moves `document` into `dir` as `input.<extension>`: the request for it,
/// to be exported with `filter`.
pub(super) fn place(
    dir: &RequestDir,
    document: ForLibreOffice,
    filter: String,
) -> std::io::Result<child::Request> {
    let name = format!("input.{}", document.extension);
    dir.adopt(document.file.path(), &name)?;
    Ok(child::Request {
        input: dir.path().join(name),
        output: dir.path().join(PDF_NAME),
        filter,
        import: document.import,
        password: document.password,
    })
}

/// What the child writes in its request directory.
const PDF_NAME: &str = "output.pdf";

/// Why the PDF could not be taken from a request directory.
pub(super) enum Taken {
    /// What LibreOffice left is not a PDF file of its own making: its
    /// process cannot be trusted with another document.
    Misbehaved(ConvertError),
    Failed(ConvertError),
}

/// Copies the PDF LibreOffice made into `output`, a file only we write:
/// what is checked and uploaded is that copy, never a file the process
/// could still change. At most `cap` bytes (`MAX_OUTPUT_BYTES`).
pub(super) async fn take_pdf(dir: &RequestDir, output: &Path, cap: u64) -> Result<(), Taken> {
    let made = dir
        .open_written(PDF_NAME)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => Taken::Failed(ConvertError::Internal(
                "LibreOffice reported success but wrote no PDF".into(),
            )),
            std::io::ErrorKind::InvalidData => Taken::Misbehaved(ConvertError::Crashed(format!(
                "its process misbehaved and was replaced: {error}"
            ))),
            _ => Taken::Failed(ConvertError::Internal(format!(
                "opening the PDF LibreOffice made: {error}"
            ))),
        })?;
    let output = output.to_owned();
    let copied = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut to = std::fs::File::create(&output)?;
        let copied = std::io::copy(&mut std::io::Read::take(made, cap + 1), &mut to)?;
        if copied > cap {
            drop(to);
            std::fs::remove_file(&output)?;
        }
        Ok(copied)
    })
    .await
    .map_err(|e| {
        Taken::Failed(ConvertError::Internal(format!(
            "copying the PDF panicked: {e}"
        )))
    })?
    .map_err(|e| Taken::Failed(ConvertError::Internal(format!("copying the PDF: {e}"))))?;
    if copied > cap {
        // The file-size cap stops an honest LibreOffice before this.
        return Err(Taken::Misbehaved(ConvertError::ResourceLimit(format!(
            "the PDF is larger than {cap} bytes (MAX_OUTPUT_BYTES)"
        ))));
    }
    Ok(())
}
