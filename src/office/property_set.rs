//! A compound file's summary property set (`\x05SummaryInformation`,
//! MS-OLEPS), as far as the PDF's properties need it: the title, subject,
//! author and keywords read from it, and a new one written with them.
//! Everything else the old set held (dates, counts, the application) is
//! not carried over: LibreOffice's PDF shows none of it.

use std::collections::BTreeMap;

/// The summary information's format id, as its bytes lie in the file.
const FMTID_SUMMARY: [u8; 16] = [
    0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9,
];
const PID_CODEPAGE: u32 = 1;
/// Title, subject, author, keywords: the property ids the options name.
pub(super) const PIDS: [(&str, u32); 4] =
    [("title", 2), ("subject", 3), ("author", 4), ("keywords", 5)];
const VT_I2: u32 = 2;
const VT_LPSTR: u32 = 0x1E;
const VT_LPWSTR: u32 = 0x1F;
/// What the new set's strings are written in.
const UTF8: u16 = 65001;

/// The title, subject, author and keywords in `stream` (a summary
/// property set), by property id; what cannot be read is left out.
pub(super) fn read(stream: &[u8]) -> BTreeMap<u32, String> {
    section(stream).map(strings).unwrap_or_default()
}

/// A summary property set holding `properties` (by property id), in UTF-8.
pub(super) fn write(properties: &BTreeMap<u32, String>) -> Vec<u8> {
    let mut values: Vec<(u32, Vec<u8>)> = vec![(PID_CODEPAGE, typed(VT_I2, &UTF8.to_le_bytes()))];
    for (&pid, text) in properties {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        let mut value = (bytes.len() as u32).to_le_bytes().to_vec();
        value.extend(bytes);
        values.push((pid, typed(VT_LPSTR, &value)));
    }
    let table = 8 + 8 * values.len();
    let mut section: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    for (pid, value) in &values {
        offsets.push((*pid, (table + section.len()) as u32));
        section.extend(value);
    }
    let mut out = vec![0xFE, 0xFF, 0, 0, 0x0A, 0x00, 0x02, 0x00];
    out.extend([0; 16]); // CLSID
    out.extend(1u32.to_le_bytes());
    out.extend(FMTID_SUMMARY);
    out.extend(48u32.to_le_bytes());
    out.extend(((table + section.len()) as u32).to_le_bytes());
    out.extend((values.len() as u32).to_le_bytes());
    for (pid, offset) in offsets {
        out.extend(pid.to_le_bytes());
        out.extend(offset.to_le_bytes());
    }
    out.extend(section);
    out
}

/// A value of type `vt`, padded to four bytes.
fn typed(vt: u32, value: &[u8]) -> Vec<u8> {
    let mut out = vt.to_le_bytes().to_vec();
    out.extend(value);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let four = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(four.try_into().ok()?))
}

/// The summary section of a property set stream.
fn section(stream: &[u8]) -> Option<&[u8]> {
    let sets = u32_at(stream, 24)? as usize;
    (0..sets.min(16)).find_map(|i| {
        let at = 28 + 20 * i;
        (stream.get(at..at + 16)? == FMTID_SUMMARY).then_some(())?;
        let offset = u32_at(stream, at + 16)? as usize;
        let size = u32_at(stream, offset)? as usize;
        stream.get(offset..offset.checked_add(size)?)
    })
}

/// The section's strings among [`PIDS`], decoded by its code page.
fn strings(section: &[u8]) -> BTreeMap<u32, String> {
    let count = u32_at(section, 4).unwrap_or(0).min(1024) as usize;
    let entries: BTreeMap<u32, usize> = (0..count)
        .filter_map(|i| {
            Some((
                u32_at(section, 8 + 8 * i)?,
                u32_at(section, 12 + 8 * i)? as usize,
            ))
        })
        .collect();
    let codepage = entries.get(&PID_CODEPAGE).and_then(|&at| {
        (u32_at(section, at)? & 0xFFFF == VT_I2).then_some(())?;
        Some(u16::from_le_bytes(
            section.get(at + 4..at + 6)?.try_into().ok()?,
        ))
    });
    PIDS.iter()
        .filter_map(|&(_, pid)| Some((pid, string_at(section, *entries.get(&pid)?, codepage)?)))
        .collect()
}

/// The string value at `at` in `section`.
fn string_at(section: &[u8], at: usize, codepage: Option<u16>) -> Option<String> {
    let kind = u32_at(section, at)? & 0xFFFF;
    let length = u32_at(section, at + 4)? as usize;
    let text = match kind {
        VT_LPWSTR => utf16(section.get(at + 8..at + 8 + length.checked_mul(2)?)?),
        // LibreOffice writes a Unicode set's lengths in characters.
        VT_LPSTR if codepage == Some(1200) => {
            let bytes = section.get(at + 8..at + 8 + length.checked_mul(2)?);
            utf16(bytes.or_else(|| section.get(at + 8..at + 8 + length))?)
        }
        VT_LPSTR => {
            let bytes = section.get(at + 8..at + 8 + length)?;
            let encoding = encoding(codepage.unwrap_or(1252));
            encoding.decode_without_bom_handling(bytes).0.into_owned()
        }
        _ => return None,
    };
    let text = text.trim_end_matches('\0').to_string();
    (!text.is_empty()).then_some(text)
}

fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = (bytes.chunks_exact(2))
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// The encoding of a Windows code page; Windows-1252 when it is unknown.
fn encoding(codepage: u16) -> &'static encoding_rs::Encoding {
    let label = match codepage {
        65001 => "utf-8".to_string(),
        932 => "shift_jis".to_string(),
        936 => "gbk".to_string(),
        949 => "euc-kr".to_string(),
        950 => "big5".to_string(),
        874 => "windows-874".to_string(),
        1250..=1258 => format!("windows-{codepage}"),
        _ => "windows-1252".to_string(),
    };
    encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let properties =
            BTreeMap::from([(2, "Jahresbericht Ü".to_string()), (4, "Zoë".to_string())]);
        assert_eq!(read(&write(&properties)), properties);
        assert!(read(&write(&BTreeMap::new())).is_empty());
    }

    #[test]
    fn what_cannot_be_read_is_nothing() {
        for broken in [&b""[..], &[0xFE, 0xFF, 0, 0][..], &[0xFF; 80][..]] {
            assert!(read(broken).is_empty());
        }
        let mut truncated = write(&BTreeMap::from([(2, "Title".to_string())]));
        truncated.truncate(truncated.len() - 8);
        assert!(read(&truncated).is_empty());
    }
}
