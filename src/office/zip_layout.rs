//! Whether a zip container's central directory tells the whole truth about
//! its bytes.
//!
//! `inspect` reads the entries the central directory lists; LibreOffice,
//! handed an archive whose directory disagrees with its local headers,
//! repairs it by scanning those headers, and then reads entries the
//! directory never listed (a hidden 512 MiB `content.xml`, text nobody
//! inspected). So an archive is accepted only if it is laid out as every
//! office suite writes one: local entries back to back from the first byte,
//! each where the directory says and under the same name, no name twice,
//! then the directory, exactly where and as long as its end record says,
//! then that record and its comment, to the last byte.

use std::io::{Read, Seek, SeekFrom};

use super::ConvertError;

const LOCAL_HEADER: &[u8; 4] = b"PK\x03\x04";
const END_RECORD: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
/// Bytes a data descriptor may take after an entry's data: CRC and sizes,
/// 32- or 64-bit, with or without its optional signature.
const DESCRIPTOR_LENGTHS: [u64; 4] = [12, 16, 20, 24];

/// What the central directory says of one entry.
struct Listed {
    name: Vec<u8>,
    header_start: u64,
    compressed_size: u64,
}

/// Where the end record says the central directory is.
struct Directory {
    entries: u64,
    start: u64,
    size: u64,
    /// Where the directory must end: the end record, or the Zip64 one.
    end: u64,
}

/// Refuses `archive` (read through `zip`) unless its layout is the one its
/// central directory describes.
pub(super) fn check<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    archive: &mut (impl Read + Seek),
) -> Result<(), ConvertError> {
    let mut listed = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|e| corrupt(format!("unreadable entry {index}: {e}")))?;
        listed.push(Listed {
            name: entry.name_raw().to_vec(),
            header_start: entry.header_start(),
            compressed_size: entry.compressed_size(),
        });
    }
    let directory = directory(archive)?;
    // The zip crate keeps one entry per name; LibreOffice may take another.
    if directory.entries != listed.len() as u64 {
        return Err(corrupt(format!(
            "the central directory lists {} entries under {} names: a name is listed twice",
            directory.entries,
            listed.len()
        )));
    }
    if zip.offset() != 0 || zip.central_directory_start() != directory.start {
        return Err(corrupt(
            "the end record misplaces the central directory".into(),
        ));
    }
    if directory.start + directory.size != directory.end {
        return Err(corrupt(
            "the end record gives the central directory a wrong size".into(),
        ));
    }
    listed.sort_by_key(|e| e.header_start);
    let mut position = 0;
    for entry in &listed {
        if entry.header_start != position {
            return Err(unlisted(position));
        }
        position = after_entry(archive, entry, &listed, directory.start)?;
    }
    if position != directory.start {
        return Err(unlisted(position));
    }
    Ok(())
}

/// Where the entry at `entry.header_start` ends (with its data descriptor),
/// after checking its local header against the directory.
fn after_entry(
    archive: &mut (impl Read + Seek),
    entry: &Listed,
    listed: &[Listed],
    directory_start: u64,
) -> Result<u64, ConvertError> {
    let mut header = [0u8; 30];
    archive.seek(SeekFrom::Start(entry.header_start))?;
    archive
        .read_exact(&mut header)
        .map_err(|_| corrupt("a local header is cut short".into()))?;
    let shown = String::from_utf8_lossy(&entry.name).into_owned();
    if &header[..4] != LOCAL_HEADER {
        return Err(corrupt(format!("no local header where {shown} should be")));
    }
    let flags = u16::from_le_bytes([header[6], header[7]]);
    let name_length = u16::from_le_bytes([header[26], header[27]]) as u64;
    let extra_length = u16::from_le_bytes([header[28], header[29]]) as u64;
    let mut name = vec![0u8; name_length as usize];
    archive
        .read_exact(&mut name)
        .map_err(|_| corrupt("a local header is cut short".into()))?;
    if name != entry.name {
        return Err(corrupt(format!(
            "the local header of {shown} names {}",
            String::from_utf8_lossy(&name)
        )));
    }
    let end = entry.header_start + 30 + name_length + extra_length + entry.compressed_size;
    if flags & 0x0008 == 0 {
        return Ok(end);
    }
    // A data descriptor follows: the next entry (or the directory) says
    // which of its lengths this one has.
    let next = listed
        .iter()
        .map(|e| e.header_start)
        .find(|&start| start > entry.header_start)
        .unwrap_or(directory_start);
    Ok(DESCRIPTOR_LENGTHS
        .iter()
        .map(|length| end + length)
        .find(|&candidate| candidate == next)
        .unwrap_or(end))
}

/// Reads the end record (and the Zip64 one, when the sizes need it). The
/// record and its comment must end the file.
fn directory(archive: &mut (impl Read + Seek)) -> Result<Directory, ConvertError> {
    let length = archive.seek(SeekFrom::End(0))?;
    let tail_start = length.saturating_sub(22 + u16::MAX as u64);
    let mut tail = Vec::new();
    archive.seek(SeekFrom::Start(tail_start))?;
    archive.read_to_end(&mut tail)?;
    let record = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| {
            let comment = u16::from_le_bytes([tail[at + 20], tail[at + 21]]) as usize;
            &tail[at..at + 4] == END_RECORD && at + 22 + comment == tail.len()
        })
        .ok_or_else(|| corrupt("no end record closes the file".into()))?;
    let field =
        |at: usize| u32::from_le_bytes(tail[record + at..record + at + 4].try_into().unwrap());
    let (size, start) = (field(12) as u64, field(16) as u64);
    let entries = u16::from_le_bytes([tail[record + 10], tail[record + 11]]) as u64;
    let end = tail_start + record as u64;
    if size != u32::MAX as u64 && start != u32::MAX as u64 && entries != u16::MAX as u64 {
        return Ok(Directory {
            entries,
            start,
            size,
            end,
        });
    }
    zip64_directory(archive, &tail, record, tail_start)
}

/// The Zip64 end record, found through the locator just before the end record.
fn zip64_directory(
    archive: &mut (impl Read + Seek),
    tail: &[u8],
    record: usize,
    tail_start: u64,
) -> Result<Directory, ConvertError> {
    let missing = || corrupt("the Zip64 end record is missing".into());
    let locator = record.checked_sub(20).ok_or_else(missing)?;
    if &tail[locator..locator + 4] != ZIP64_LOCATOR {
        return Err(missing());
    }
    let at = u64::from_le_bytes(tail[locator + 8..locator + 16].try_into().unwrap());
    let mut zip64 = [0u8; 56];
    archive.seek(SeekFrom::Start(at))?;
    archive.read_exact(&mut zip64).map_err(|_| missing())?;
    let field = |at: usize| u64::from_le_bytes(zip64[at..at + 8].try_into().unwrap());
    if at + 56 > tail_start + locator as u64 {
        return Err(missing());
    }
    Ok(Directory {
        entries: field(32),
        size: field(40),
        start: field(48),
        end: at,
    })
}

fn unlisted(position: u64) -> ConvertError {
    corrupt(format!(
        "bytes at offset {position} belong to no entry the central directory lists"
    ))
}

fn corrupt(reason: String) -> ConvertError {
    ConvertError::Corrupt(format!("inconsistent zip container: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// How the end record lies, if it does.
    #[derive(Default)]
    struct Lies {
        directory_size: i64,
        directory_start: i64,
        trailing: &'static [u8],
    }

    fn archive(parts: &[Part], lies: Lies) -> Vec<u8> {
        let (mut out, mut directory) = (Vec::new(), Vec::new());
        let mut listed = 0u16;
        for part in parts {
            let offset = out.len() as u32;
            let local = part.local_name.unwrap_or(part.name);
            let crc = crc32(part.data);
            let size = part.data.len() as u32;
            out.extend(LOCAL_HEADER);
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
        let start = out.len() as i64 + lies.directory_start;
        let size = directory.len() as i64 + lies.directory_size;
        out.extend(&directory);
        out.extend(END_RECORD);
        out.extend([0, 0, 0, 0]);
        out.extend(listed.to_le_bytes());
        out.extend(listed.to_le_bytes());
        out.extend((size as u32).to_le_bytes());
        out.extend((start as u32).to_le_bytes());
        out.extend([0, 0]);
        out.extend(lies.trailing);
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= byte as u32;
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }

    fn checked(bytes: Vec<u8>) -> Result<(), ConvertError> {
        let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())) {
            Ok(zip) => zip,
            Err(e) => return Err(corrupt(format!("the zip crate refuses it: {e}"))),
        };
        check(&mut zip, &mut std::io::Cursor::new(bytes))
    }

    fn refused(bytes: Vec<u8>, reason: &str) {
        match checked(bytes) {
            Err(ConvertError::Corrupt(message)) => {
                assert!(message.contains(reason), "{message}")
            }
            other => panic!("expected a refusal for {reason:?}, got {other:?}"),
        }
    }

    fn two_parts() -> Vec<Part> {
        vec![part("a.xml", b"<a/>"), part("b.xml", b"<b/>")]
    }

    #[test]
    fn an_honest_archive_passes() {
        checked(archive(&two_parts(), Lies::default())).unwrap();
    }

    #[test]
    fn every_fixture_passes() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for name in ["one_page.docx", "one_page.odt", "long.docx", "macros.docm"] {
            let bytes = std::fs::read(fixtures.join(name)).unwrap();
            checked(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn an_entry_the_directory_does_not_list_is_refused() {
        let mut parts = two_parts();
        parts.insert(
            1,
            Part {
                listed: false,
                ..part("content.xml", b"<hidden/>")
            },
        );
        refused(archive(&parts, Lies::default()), "belong to no entry");
    }

    #[test]
    fn a_name_listed_twice_is_refused() {
        let parts = vec![part("a.xml", b"<a/>"), part("a.xml", b"<other/>")];
        refused(archive(&parts, Lies::default()), "listed twice");
    }

    #[test]
    fn a_local_header_naming_another_entry_is_refused() {
        let mut parts = two_parts();
        parts[1].local_name = Some("c.xml");
        refused(archive(&parts, Lies::default()), "names c.xml");
    }

    #[test]
    fn a_wrong_directory_size_is_refused() {
        let lies = Lies {
            directory_size: -10,
            ..Lies::default()
        };
        refused(archive(&two_parts(), lies), "wrong size");
    }

    #[test]
    fn a_wrong_directory_start_is_refused() {
        let lies = Lies {
            directory_start: -4,
            ..Lies::default()
        };
        refused(archive(&two_parts(), lies), "");
    }

    #[test]
    fn bytes_after_the_end_record_are_refused() {
        let lies = Lies {
            trailing: b"PK\x03\x04 more",
            ..Lies::default()
        };
        refused(archive(&two_parts(), lies), "");
    }
}
