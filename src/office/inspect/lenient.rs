//! An archive read as Word and LibreOffice read it where the zip crate is
//! stricter: an end record whose comment length runs past the end of the
//! file (a comment cut off, or a length never updated) is read as if the
//! length were what is there. The comment itself is never used: the
//! rebuilt package has none.

use std::io::{Read, Seek, SeekFrom};

const END_RECORD: &[u8; 4] = b"PK\x05\x06";
/// The end record's fixed part; its last two bytes are the comment length.
const END_RECORD_LENGTH: u64 = 22;

/// Opens `inner` as a zip archive, leniently.
pub(in crate::office) fn open<R: Read + Seek>(
    inner: R,
) -> zip::result::ZipResult<zip::ZipArchive<Lenient<R>>> {
    zip::ZipArchive::new(Lenient::new(inner)?)
}

/// `inner`, with the one field that needs it corrected.
pub(in crate::office) struct Lenient<R> {
    inner: R,
    /// Where the comment length is, and what it should say.
    patch: Option<(u64, [u8; 2])>,
    position: u64,
}

impl<R: Read + Seek> Lenient<R> {
    pub(super) fn new(mut inner: R) -> std::io::Result<Lenient<R>> {
        let patch = stale_comment(&mut inner)?;
        inner.rewind()?;
        Ok(Lenient {
            inner,
            patch,
            position: 0,
        })
    }
}

/// The last end record in the file's tail whose comment length says more
/// than the file holds: where that length is, and what it should say.
fn stale_comment(file: &mut (impl Read + Seek)) -> std::io::Result<Option<(u64, [u8; 2])>> {
    let length = file.seek(SeekFrom::End(0))?;
    let tail_start = length.saturating_sub(END_RECORD_LENGTH + u16::MAX as u64);
    file.seek(SeekFrom::Start(tail_start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let Some(record) = tail
        .windows(4)
        .rposition(|w| w == END_RECORD)
        .filter(|&at| at as u64 + END_RECORD_LENGTH <= tail.len() as u64)
    else {
        return Ok(None);
    };
    let said = u16::from_le_bytes([tail[record + 20], tail[record + 21]]) as usize;
    let there = tail.len() - record - END_RECORD_LENGTH as usize;
    if said <= there {
        return Ok(None);
    }
    let at = tail_start + record as u64 + 20;
    Ok(Some((at, (there as u16).to_le_bytes())))
}

impl<R: Read> Read for Lenient<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if let Some((at, bytes)) = self.patch {
            for (offset, byte) in bytes.iter().enumerate() {
                let wanted = at + offset as u64;
                if (self.position..self.position + read as u64).contains(&wanted) {
                    buf[(wanted - self.position) as usize] = *byte;
                }
            }
        }
        self.position += read as u64;
        Ok(read)
    }
}

impl<R: Seek> Seek for Lenient<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn fixture() -> Vec<u8> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/one_page.docx");
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_comment_length_past_the_end_is_read_as_what_is_there() {
        let mut stale = fixture();
        let at = stale.len() - 2;
        stale[at..].copy_from_slice(&7u16.to_le_bytes());
        assert!(
            zip::ZipArchive::new(Cursor::new(stale.clone())).is_err(),
            "control"
        );
        assert!(open(Cursor::new(stale)).unwrap().len() > 1);
    }

    #[test]
    fn an_honest_archive_is_read_unchanged() {
        let honest = fixture();
        let mut read = Vec::new();
        Lenient::new(Cursor::new(honest.clone()))
            .unwrap()
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, honest);
    }
}
