//! Pictures inside Office 97-2003 compound files (`.doc`, `.xls`, `.ppt`),
//! bounded by the pixels their headers declare, as a zip part's are.
//!
//! Each format keeps its pictures as OfficeArt BLIP records, reached by
//! routes of its own (a `.doc`'s Data stream and delay stream, an `.xls`'s
//! drawing group split across BIFF records, a `.ppt`'s Pictures stream).
//! Rather than follow three importers' routes and miss the one we got
//! wrong, every stream is scanned for a bitmap BLIP's record header: four
//! bytes, a version of 0 with the instance that names the picture's format
//! and the record type that agrees with it. A chance match in an honest
//! file must then also be followed by that format's header declaring
//! over `max_pixels`, and a bad one only stops the check of that record.
//! Metafile BLIPs (EMF, WMF, PICT) are deflated drawings, not bitmaps; the
//! memory cap bounds what they draw.

use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom};

use super::picture::over_limit;
use crate::office::error::ConvertError;

mod spliced;
use spliced::Spliced;

/// More BLIP record headers than this in one stream is no honest file.
const MAX_RECORDS: usize = 65_536;
/// Bytes read to measure one file's pictures: a JPEG's header is a walk
/// over its segments to the frame that gives its size, and record headers
/// that overlap would read the same bytes again. An honest file reads a
/// few KB per picture.
const MAX_READ: u64 = 256 << 20;

/// A BLIP record header: where it is, and how many 16-byte identifiers
/// come before its tag byte and picture.
#[derive(Clone, Copy, Debug)]
struct Record {
    at: u64,
    uids: u64,
}

/// How many identifiers a bitmap BLIP with these first two header fields
/// (version and instance, record type; little-endian) has, if it is one:
/// JPEG, PNG, DIB and TIFF, with the instances MS-ODRAW names for each.
fn identifiers(first: u16, record_type: u16) -> Option<u64> {
    let instances: [u16; 4] = match record_type {
        0xF01D => [0x46A, 0x46B, 0x6E2, 0x6E3],
        0xF01E => [0x6E0, 0x6E1, 0x6E0, 0x6E1],
        0xF01F => [0x7A8, 0x7A9, 0x7A8, 0x7A9],
        0xF029 => [0x6E4, 0x6E5, 0x6E4, 0x6E5],
        _ => return None,
    };
    let (version, instance) = (first & 0xF, first >> 4);
    if version != 0 || !instances.contains(&instance) {
        return None;
    }
    // The odd instance of each pair carries a second identifier.
    Some(1 + (instance & 1) as u64)
}

/// Checks every stream of `cfb` for a picture of over `max_pixels`.
pub(super) fn check<F: Read + Seek>(
    cfb: &mut cfb::CompoundFile<F>,
    max_pixels: u64,
) -> Result<(), ConvertError> {
    let streams: Vec<_> = cfb
        .walk()
        .filter(|entry| entry.is_stream())
        .map(|entry| entry.path().to_path_buf())
        .collect();
    let mut budget = 0;
    for path in streams {
        let name = path.display().to_string();
        let unreadable = |e: std::io::Error| {
            ConvertError::Corrupt(format!(
                "unreadable stream {name} in the compound file: {e}"
            ))
        };
        let mut stream = cfb.open_stream(&path).map_err(unreadable)?;
        // A workbook's pictures are in its drawing group, whose pieces
        // are read joined: its raw stream would show a picture's header
        // with a record header cut into it.
        let checked = if matches!(name.as_str(), "/Workbook" | "/Book") {
            let spliced = Spliced::drawing_group(&mut stream).map_err(unreadable)?;
            check_stream(&mut spliced.over(&mut stream), max_pixels, &mut budget)
        } else {
            check_stream(&mut stream, max_pixels, &mut budget)
        };
        checked.map_err(|e| e.or_io(&unreadable))?;
    }
    Ok(())
}

/// What a check of a stream met: a refusal, or a read that failed.
enum Stop {
    Refused(ConvertError),
    Io(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(error: std::io::Error) -> Stop {
        Stop::Io(error)
    }
}

impl Stop {
    fn or_io(self, io: &impl Fn(std::io::Error) -> ConvertError) -> ConvertError {
        match self {
            Stop::Refused(error) => error,
            Stop::Io(error) => io(error),
        }
    }
}

fn check_stream<S: Read + Seek>(
    stream: &mut S,
    max_pixels: u64,
    budget: &mut u64,
) -> Result<(), Stop> {
    stream.seek(SeekFrom::Start(0))?;
    let records = find_records(&mut *stream)?;
    for record in records {
        let size = picture_size(stream, record, budget)?;
        if let Some(why) = size.and_then(|size| over_limit(size, max_pixels)) {
            let why = format!("a picture in the compound file is {why}");
            return Err(Stop::Refused(ConvertError::Bomb(why)));
        }
    }
    Ok(())
}

/// Every place in `stream` where a bitmap BLIP's record header starts.
fn find_records(mut stream: impl Read) -> Result<Vec<Record>, Stop> {
    let mut records = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    // The last 3 bytes of a chunk start headers the next one completes.
    let (mut kept, mut chunk_at) = (0, 0u64);
    loop {
        let read = stream.read(&mut chunk[kept..])?;
        if read == 0 {
            return Ok(records);
        }
        let end = kept + read;
        for (i, w) in chunk[..end].windows(4).enumerate() {
            let first = u16::from_le_bytes([w[0], w[1]]);
            let Some(uids) = identifiers(first, u16::from_le_bytes([w[2], w[3]])) else {
                continue;
            };
            records.push(Record {
                at: chunk_at + i as u64,
                uids,
            });
            if records.len() > MAX_RECORDS {
                return Err(Stop::Refused(ConvertError::Bomb(format!(
                    "a stream of the compound file holds over {MAX_RECORDS} picture records"
                ))));
            }
        }
        kept = end.min(3);
        chunk.copy_within(end - kept..end, 0);
        chunk_at += (end - kept) as u64;
    }
}

/// The width and height `record`'s picture declares, if its header says.
/// The format is read from the picture itself, whatever the record says,
/// as LibreOffice's graphic import detects it: a JPEG by walking its
/// segments as libjpeg does, others as a zip part's picture is read, and
/// a DIB record's bitmap, which has no header to detect, as one.
fn picture_size<S: Read + Seek>(
    stream: &mut S,
    record: Record,
    budget: &mut u64,
) -> Result<Option<(u64, u64)>, Stop> {
    let start = record.at + 8 + 16 * record.uids + 1;
    let mut window = Window {
        stream,
        start,
        len: 0,
        at: 0,
        budget,
    };
    let size = window
        .fit_to_record(record)
        .and_then(|()| measure(BufReader::with_capacity(512, &mut window)));
    match size {
        Ok(size) => Ok(Some(size)),
        Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::InvalidData) => Ok(None),
        Err(e) if e.kind() == ErrorKind::QuotaExceeded => {
            Err(Stop::Refused(ConvertError::Bomb(format!(
                "the compound file's pictures take over {MAX_READ} bytes of reading to measure"
            ))))
        }
        Err(e) => Err(Stop::Io(e)),
    }
}

fn measure<R: BufRead + Seek>(mut picture: R) -> std::io::Result<(u64, u64)> {
    // Enough for a bitmap's file and info headers.
    let mut head = Vec::with_capacity(26);
    (&mut picture).take(26).read_to_end(&mut head)?;
    let unknown = || std::io::Error::from(ErrorKind::InvalidData);
    match &head[..] {
        [0xFF, 0xD8, ..] => {
            picture.seek(SeekFrom::Start(2))?;
            jpeg_size(&mut picture)
        }
        // Read as LibreOffice reads them, where imagesize differs.
        [b'B', b'M', ..] | [0x0A, ..] => super::picture::declared_size(&head).ok_or_else(unknown),
        _ => {
            picture.rewind()?;
            match imagesize::reader_size(&mut picture) {
                Ok(size) => Ok((size.width as u64, size.height as u64)),
                Err(imagesize::ImageError::IoError(error)) => Err(error),
                Err(_) => super::picture::dib_size(&head).ok_or_else(unknown),
            }
        }
    }
}

fn byte(reader: &mut impl Read) -> std::io::Result<u8> {
    let mut byte = [0u8];
    reader.read_exact(&mut byte)?;
    Ok(byte[0])
}

/// Walks a JPEG's markers to its frame header (SOF0-15, less DHT, JPG
/// and DAC), which gives its height and width. Like libjpeg, which
/// LibreOffice decodes with, it skips stray bytes and fill bytes between
/// segments, where a stricter reader would give up on a picture libjpeg
/// still decodes.
fn jpeg_size<R: BufRead + Seek>(jpeg: &mut R) -> std::io::Result<(u64, u64)> {
    loop {
        while byte(jpeg)? != 0xFF {}
        let mut kind = byte(jpeg)?;
        while kind == 0xFF {
            kind = byte(jpeg)?;
        }
        match kind {
            // A stuffed zero, or a marker without a length.
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            0xC0..=0xCF if !matches!(kind, 0xC4 | 0xC8 | 0xCC) => {
                let mut frame = [0u8; 7];
                jpeg.read_exact(&mut frame)?;
                let height = u16::from_be_bytes([frame[3], frame[4]]) as u64;
                return Ok((u16::from_be_bytes([frame[5], frame[6]]) as u64, height));
            }
            // A second start, the end, or scan data before any frame.
            0xD8..=0xDA => return Err(ErrorKind::InvalidData.into()),
            _ => {
                let len = u16::from_be_bytes([byte(jpeg)?, byte(jpeg)?]);
                jpeg.seek_relative(len as i64 - 2)?;
            }
        }
    }
}

/// A stream seen as one record's picture: from its first byte to the
/// record's end, each read counted against the file's budget
/// (`QuotaExceeded` past it).
struct Window<'a, S> {
    stream: &'a mut S,
    start: u64,
    len: u64,
    at: u64,
    budget: &'a mut u64,
}

impl<S: Read + Seek> Window<'_, S> {
    /// Ends the window where the record's length, and the stream, end.
    fn fit_to_record(&mut self, record: Record) -> std::io::Result<()> {
        let stream_end = self.stream.seek(SeekFrom::End(0))?;
        let mut len = [0u8; 4];
        self.stream.seek(SeekFrom::Start(record.at + 4))?;
        self.stream.read_exact(&mut len)?;
        let data = (u32::from_le_bytes(len) as u64).saturating_sub(16 * record.uids + 1);
        self.len = data.min(stream_end.saturating_sub(self.start));
        Ok(())
    }
}

impl<S: Read + Seek> Read for Window<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let wanted = buf.len().min(self.len.saturating_sub(self.at) as usize);
        if wanted == 0 {
            return Ok(0);
        }
        // Small reads count as 64 bytes: a budget of calls as well as bytes.
        *self.budget += wanted.max(64) as u64;
        if *self.budget > MAX_READ {
            return Err(ErrorKind::QuotaExceeded.into());
        }
        self.stream.seek(SeekFrom::Start(self.start + self.at))?;
        let read = self.stream.read(&mut buf[..wanted])?;
        self.at += read as u64;
        Ok(read)
    }
}

impl<S> Seek for Window<'_, S> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.at = position(self.at, self.len, to)?;
        Ok(self.at)
    }
}

/// Where a seek `to` lands in a view `len` bytes long now at `at`: the
/// views here ([`Window`], [`spliced::Joined`]) only keep a position.
fn position(at: u64, len: u64, to: SeekFrom) -> std::io::Result<u64> {
    match to {
        SeekFrom::Start(to) => Some(to),
        SeekFrom::Current(by) => at.checked_add_signed(by),
        SeekFrom::End(by) => len.checked_add_signed(by),
    }
    .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, "a seek before the start"))
}

#[cfg(test)]
mod tests;
