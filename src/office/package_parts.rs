//! Parts of a package inspection rebuilt, read and replaced before
//! LibreOffice reads it: how an option that the document's own settings
//! express (tracked changes, properties) is set, rather than asking
//! LibreOffice to change the document. Every other entry is copied as it
//! is, compressed.

use std::io::{Read, Seek, Write};

use tempfile::NamedTempFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::ConvertError;

/// The most a part read here may inflate to: settings, properties,
/// relationships and content types are a few KiB.
const LARGEST_PART: u64 = 4 << 20;

/// A rebuilt package, open for reading its parts.
pub(super) struct Package {
    file: NamedTempFile,
    zip: ZipArchive<std::fs::File>,
}

impl Package {
    pub(super) fn open(file: NamedTempFile) -> Result<Package, ConvertError> {
        let zip = ZipArchive::new(file.reopen()?).map_err(broken)?;
        Ok(Package { file, zip })
    }

    /// Part `name`, as text; None if the package has none.
    pub(super) fn read(&mut self, name: &str) -> Result<Option<String>, ConvertError> {
        let Ok(entry) = self.zip.by_name(name) else {
            return Ok(None);
        };
        let mut text = String::new();
        (entry.take(LARGEST_PART + 1).read_to_string(&mut text))
            .map_err(|e| ConvertError::Corrupt(format!("{name} is not text: {e}")))?;
        if text.len() as u64 > LARGEST_PART {
            return Err(ConvertError::Corrupt(format!(
                "{name} is over {LARGEST_PART} bytes, which no document's is"
            )));
        }
        Ok(Some(text))
    }

    /// The package with `parts` (name, text) in place of its own or added,
    /// as a new file in `work`; itself if there are none.
    pub(super) fn with(
        mut self,
        parts: Vec<(String, String)>,
        work: &std::path::Path,
    ) -> Result<NamedTempFile, ConvertError> {
        if parts.is_empty() {
            return Ok(self.file);
        }
        let mut out = NamedTempFile::new_in(work)?;
        let mut writer = ZipWriter::new(out.as_file_mut());
        for index in 0..self.zip.len() {
            let entry = self.zip.by_index_raw(index).map_err(broken)?;
            let name = entry.name().map_err(broken)?.into_owned();
            if !parts.iter().any(|(part, _)| *part == name) {
                writer.raw_copy_file(entry).map_err(broken)?;
            }
        }
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, text) in parts {
            writer.start_file(name, options).map_err(broken)?;
            writer.write_all(text.as_bytes())?;
        }
        writer.finish().map_err(broken)?;
        out.as_file_mut().rewind()?;
        Ok(out)
    }
}

/// The two package formats whose parts we write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Ooxml,
    Odf,
}

impl Format {
    /// The format of a document read as `extension`, if it is a package.
    pub(super) fn of(extension: &str) -> Option<Format> {
        let ooxml = [
            "docx", "docm", "dotx", "dotm", "xlsx", "xlsm", "pptx", "ppsx",
        ];
        let odf = ["odt", "ott", "ods", "odp", "odg"];
        match extension {
            e if ooxml.contains(&e) => Some(Format::Ooxml),
            e if odf.contains(&e) => Some(Format::Odf),
            _ => None,
        }
    }
}

/// Where an OOXML package lists its parts' content types.
pub(super) const CONTENT_TYPES: &str = "[Content_Types].xml";

/// Where an OpenDocument package lists its parts.
pub(super) const MANIFEST: &str = "META-INF/manifest.xml";

/// A relationships part with none in it.
pub(super) const EMPTY_RELATIONSHIPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>"#;

/// `xml` with `insert` before its last `end`, or as it is without one.
pub(super) fn before_last(xml: &str, end: &str, insert: &str) -> String {
    match xml.rfind(end) {
        Some(at) => format!("{}{insert}{}", &xml[..at], &xml[at..]),
        None => xml.to_string(),
    }
}

fn broken(error: zip::result::ZipError) -> ConvertError {
    ConvertError::Internal(format!("rewriting a part of a rebuilt package: {error}"))
}
