//! A zip container written anew from exactly the entries inspection read.
//!
//! Real archives carry sloppiness that Word and LibreOffice both open:
//! bytes after the end record (web downloads and mail gateways append
//! `\r\n`), a prefix, a stale comment. Hostile ones lie: a central
//! directory that leaves out entries whose local headers are still there,
//! a name listed twice, a local header naming another part. LibreOffice
//! repairs a lying archive by scanning its local headers, and would then
//! read parts inspection never saw. Rather than judge the layout (and
//! refuse honest files for their sloppiness), LibreOffice gets a new
//! archive holding the entries the central directory lists, as inspection
//! inflated them, one per name, back to back: there is nothing else in it
//! to find. Entries are copied compressed (no inflating twice); a package
//! inside the package is rebuilt the same way and stored.

use std::io::{Read, Seek, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::office::error::ConvertError;

pub(super) struct Repack<W: Write + Seek>(ZipWriter<W>);

impl<W: Write + Seek> Repack<W> {
    pub(super) fn new(out: W) -> Repack<W> {
        Repack(ZipWriter::new(out))
    }

    /// Entry `index` of `zip`, as it is (compressed, under its listed name).
    pub(super) fn copy<R: Read + Seek>(
        &mut self,
        zip: &mut ZipArchive<R>,
        index: usize,
    ) -> Result<(), ConvertError> {
        let entry = zip.by_index_raw(index).map_err(broken)?;
        self.0.raw_copy_file(entry).map_err(broken)
    }

    /// A package found inside the package, already rebuilt, stored as `name`.
    pub(super) fn add(
        &mut self,
        name: &str,
        package: &mut std::fs::File,
    ) -> Result<(), ConvertError> {
        let size = package.seek(std::io::SeekFrom::End(0))?;
        package.rewind()?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(size >= u32::MAX as u64);
        self.0.start_file(name, options).map_err(broken)?;
        std::io::copy(package, &mut self.0)?;
        Ok(())
    }

    pub(super) fn finish(self) -> Result<W, ConvertError> {
        self.0.finish().map_err(broken)
    }
}

/// A read or write that failed is the machine's (a full disk); anything
/// else the zip crate refuses is the archive's.
fn broken(error: zip::result::ZipError) -> ConvertError {
    match error {
        zip::result::ZipError::Io(error) => {
            ConvertError::Internal(format!("rebuilding the zip container: {error}"))
        }
        error => ConvertError::Corrupt(format!("broken zip container: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A stored entry as written, and whether the directory lists it.
    struct Part {
        name: &'static str,
        data: &'static [u8],
        listed: bool,
        /// The name written in the local header instead of `name`.
        local_name: Option<&'static str>,
    }

    fn part(name: &'static str, data: &'static [u8]) -> Part {
        Part {
            name,
            data,
            listed: true,
            local_name: None,
        }
    }

    /// What the archive adds around its entries.
    #[derive(Default)]
    struct Around {
        prefix: &'static [u8],
        trailing: &'static [u8],
    }

    /// Writes `parts` stored, byte by byte, as a zip archive: each local
    /// entry, then the directory of those `listed`, then the end record.
    fn archive(parts: &[Part], around: Around) -> Vec<u8> {
        let (mut out, mut directory) = (around.prefix.to_vec(), Vec::new());
        let mut listed = 0u16;
        for part in parts {
            let offset = out.len() as u32;
            let local = part.local_name.unwrap_or(part.name);
            let crc = crc32fast::hash(part.data);
            let size = part.data.len() as u32;
            out.extend(b"PK\x03\x04");
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend(crc.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend((local.len() as u16).to_le_bytes());
            out.extend([0, 0]);
            out.extend(local.as_bytes());
            out.extend(part.data);
            if part.listed {
                listed += 1;
                directory.extend(b"PK\x01\x02");
                directory.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                directory.extend(crc.to_le_bytes());
                directory.extend(size.to_le_bytes());
                directory.extend(size.to_le_bytes());
                directory.extend((part.name.len() as u16).to_le_bytes());
                directory.extend([0; 12]);
                directory.extend(offset.to_le_bytes());
                directory.extend(part.name.as_bytes());
            }
        }
        let start = out.len() as u32;
        out.extend(&directory);
        out.extend(b"PK\x05\x06");
        out.extend([0, 0, 0, 0]);
        out.extend(listed.to_le_bytes());
        out.extend(listed.to_le_bytes());
        out.extend((directory.len() as u32).to_le_bytes());
        out.extend(start.to_le_bytes());
        out.extend([0, 0]);
        out.extend(around.trailing);
        out
    }

    /// The archive rebuilt, as bytes.
    fn rebuilt(bytes: Vec<u8>) -> Vec<u8> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).expect("the zip crate reads it");
        let mut repack = Repack::new(Cursor::new(Vec::new()));
        for index in 0..zip.len() {
            repack.copy(&mut zip, index).unwrap();
        }
        repack.finish().unwrap().into_inner()
    }

    /// Each entry of `bytes` by its local header, read front to back the
    /// way a repairing reader scans: names and contents, in file order.
    fn scanned(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        let mut at = 0;
        while bytes[at..].starts_with(b"PK\x03\x04") {
            let field = |o: usize| u16::from_le_bytes([bytes[at + o], bytes[at + o + 1]]) as usize;
            let size = u32::from_le_bytes(bytes[at + 18..at + 22].try_into().unwrap()) as usize;
            let (name_length, extra_length) = (field(26), field(28));
            let name = &bytes[at + 30..at + 30 + name_length];
            let data_start = at + 30 + name_length + extra_length;
            found.push((
                String::from_utf8_lossy(name).into_owned(),
                bytes[data_start..data_start + size].to_vec(),
            ));
            at = data_start + size;
        }
        found
    }

    fn names(bytes: &[u8]) -> Vec<String> {
        scanned(bytes).into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn an_honest_archive_keeps_its_entries() {
        let bytes = rebuilt(archive(
            &[part("a.xml", b"<a/>"), part("b.xml", b"<b/>")],
            Around::default(),
        ));
        assert_eq!(
            scanned(&bytes),
            vec![
                ("a.xml".into(), b"<a/>".to_vec()),
                ("b.xml".into(), b"<b/>".to_vec())
            ]
        );
    }

    /// The lie: a part the directory leaves out, which a scan of the
    /// original finds (the control) and the rebuilt archive does not hold.
    #[test]
    fn an_entry_the_directory_does_not_list_is_left_out() {
        let mut hidden = part("hidden.xml", b"<text>nobody inspected this</text>");
        hidden.listed = false;
        let original = archive(
            &[part("a.xml", b"<a/>"), hidden, part("b.xml", b"<b/>")],
            Around::default(),
        );
        assert!(
            names(&original).contains(&"hidden.xml".to_string()),
            "control"
        );
        let bytes = rebuilt(original);
        assert_eq!(names(&bytes), ["a.xml", "b.xml"]);
        assert!(!bytes.windows(8).any(|w| w == b"nobody i"));
    }

    #[test]
    fn a_name_listed_twice_is_written_once() {
        let original = archive(
            &[part("a.xml", b"<first/>"), part("a.xml", b"<second/>")],
            Around::default(),
        );
        assert_eq!(names(&rebuilt(original)), ["a.xml"]);
    }

    #[test]
    fn a_local_header_naming_another_part_is_written_under_its_listed_name() {
        let mut lying = part("a.xml", b"<a/>");
        lying.local_name = Some("word/document.xml");
        let original = archive(&[lying], Around::default());
        assert_eq!(
            scanned(&rebuilt(original)),
            vec![("a.xml".into(), b"<a/>".to_vec())]
        );
    }

    /// What mail gateways and downloads do to real files: accepted, and
    /// gone from what LibreOffice reads.
    #[test]
    fn bytes_before_and_after_the_archive_are_dropped() {
        for around in [
            Around {
                trailing: b"\r\n\r\n",
                ..Around::default()
            },
            Around {
                prefix: b"MZ a self-extractor's stub",
                ..Around::default()
            },
        ] {
            let bytes = rebuilt(archive(&[part("a.xml", b"<a/>")], around));
            assert!(bytes.starts_with(b"PK\x03\x04"));
            assert_eq!(ZipArchive::new(Cursor::new(&bytes)).unwrap().len(), 1);
            let end = bytes.len() - 22;
            assert_eq!(
                &bytes[end..end + 4],
                b"PK\x05\x06",
                "the end record closes the file"
            );
        }
    }

    #[test]
    fn every_fixture_is_rebuilt_with_all_its_entries() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for name in [
            "one_page.docx",
            "one_page.odt",
            "long.docx",
            "macros.docm",
            "one_slide.pptx",
        ] {
            let original = std::fs::read(fixtures.join(name)).unwrap();
            let listed: Vec<String> = {
                let zip = ZipArchive::new(Cursor::new(&original)).unwrap();
                zip.file_names().map(|n| n.unwrap().into_owned()).collect()
            };
            let mut again: Vec<String> = names(&rebuilt(original));
            let mut listed = listed;
            listed.sort();
            again.sort();
            assert_eq!(again, listed, "{name}");
        }
    }
}
