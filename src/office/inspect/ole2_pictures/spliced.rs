//! An `.xls` workbook's drawing group as one stream: the OfficeArt records
//! (pictures among them) that a BIFF MSODRAWINGGROUP record holds, which
//! Excel cuts into CONTINUE records of at most 8,224 bytes. A picture's
//! header may straddle a cut, where no scan of the workbook stream itself
//! would see it whole; LibreOffice joins the pieces, and so does this.

use std::io::{Read, Seek, SeekFrom};

const MSODRAWINGGROUP: u16 = 0x00EB;
const CONTINUE: u16 = 0x003C;
/// More pieces than this is no workbook Excel wrote (50 MB of drawings is
/// about 6,000).
const MAX_PIECES: usize = 1 << 20;

/// Where a piece of the drawing group is in the workbook stream.
#[derive(Clone, Copy, Debug)]
struct Piece {
    /// Where the piece starts in the joined stream.
    joined_at: u64,
    stream_at: u64,
    len: u64,
}

/// The pieces of a workbook's drawing group, in order.
pub(super) struct Spliced {
    pieces: Vec<Piece>,
    len: u64,
}

impl Spliced {
    /// Finds the drawing group's pieces in a BIFF workbook stream.
    pub(super) fn drawing_group<S: Read + Seek>(stream: &mut S) -> std::io::Result<Spliced> {
        let mut spliced = Spliced {
            pieces: Vec::new(),
            len: 0,
        };
        let mut at = stream.seek(SeekFrom::Start(0))?;
        let mut in_group = false;
        let mut header = [0u8; 4];
        while stream.read_exact(&mut header).is_ok() {
            let kind = u16::from_le_bytes([header[0], header[1]]);
            let len = u16::from_le_bytes([header[2], header[3]]) as u64;
            in_group = kind == MSODRAWINGGROUP || (in_group && kind == CONTINUE);
            if in_group && len > 0 {
                spliced.push(at + 4, len)?;
            }
            at = stream.seek(SeekFrom::Start(at + 4 + len))?;
        }
        Ok(spliced)
    }

    fn push(&mut self, stream_at: u64, len: u64) -> std::io::Result<()> {
        if self.pieces.len() == MAX_PIECES {
            return Err(std::io::Error::other(format!(
                "the workbook's drawing group is cut into over {MAX_PIECES} records"
            )));
        }
        self.pieces.push(Piece {
            joined_at: self.len,
            stream_at,
            len,
        });
        self.len += len;
        Ok(())
    }

    /// The joined stream, read from `stream`.
    pub(super) fn over<S>(self, stream: &mut S) -> Joined<'_, S> {
        Joined {
            spliced: self,
            stream,
            at: 0,
        }
    }
}

/// The drawing group's pieces read as one stream.
pub(super) struct Joined<'a, S> {
    spliced: Spliced,
    stream: &'a mut S,
    at: u64,
}

impl<S: Read + Seek> Read for Joined<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let pieces = &self.spliced.pieces;
        let index = pieces.partition_point(|piece| piece.joined_at + piece.len <= self.at);
        let Some(piece) = pieces.get(index) else {
            return Ok(0);
        };
        let offset = self.at - piece.joined_at;
        let wanted = buf.len().min((piece.len - offset) as usize);
        self.stream
            .seek(SeekFrom::Start(piece.stream_at + offset))?;
        let read = self.stream.read(&mut buf[..wanted])?;
        self.at += read as u64;
        Ok(read)
    }
}

impl<S> Seek for Joined<'_, S> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.at = super::position(self.at, self.spliced.len, to)?;
        Ok(self.at)
    }
}
