//! Lines from a child, read with a bound: a child may send anything, and a
//! line without an end must not grow the supervisor's memory with it.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How a bounded read of one line ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// The whole line, without its newline.
    Whole(Vec<u8>),
    /// The first `max` bytes of a longer line; the rest is still unread.
    Cut(Vec<u8>),
    /// The stream ended with no bytes of a new line.
    End,
}

/// Reads one line of at most `max` bytes. Stops reading as soon as a line
/// is longer: the caller decides whether to give up or skip the rest.
pub(super) async fn next<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Line> {
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Whole(line)
            });
        }
        let room = max - line.len();
        let newline = available.iter().position(|&b| b == b'\n');
        match newline {
            Some(at) if at <= room => {
                line.extend_from_slice(&available[..at]);
                reader.consume(at + 1);
                return Ok(Line::Whole(line));
            }
            _ if available.len() > room => {
                line.extend_from_slice(&available[..room]);
                reader.consume(room);
                return Ok(Line::Cut(line));
            }
            _ => {
                let taken = available.len();
                line.extend_from_slice(available);
                reader.consume(taken);
            }
        }
    }
}

/// Skips to just after the next newline (or the end), keeping nothing.
pub(super) async fn skip<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<()> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(at) => {
                reader.consume(at + 1);
                return Ok(());
            }
            None => {
                let taken = available.len();
                reader.consume(taken);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, BufReader};

    #[tokio::test]
    async fn lines_within_the_bound_are_read_whole() {
        let mut reader = BufReader::new(&b"ready\n{\"a\":1}\nlast"[..]);
        assert_eq!(
            next(&mut reader, 16).await.unwrap(),
            Line::Whole(b"ready".to_vec())
        );
        assert_eq!(
            next(&mut reader, 16).await.unwrap(),
            Line::Whole(b"{\"a\":1}".to_vec())
        );
        assert_eq!(
            next(&mut reader, 16).await.unwrap(),
            Line::Whole(b"last".to_vec())
        );
        assert_eq!(next(&mut reader, 16).await.unwrap(), Line::End);
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_bound_is_whole() {
        let mut reader = BufReader::new(&b"abcd\nef\n"[..]);
        assert_eq!(
            next(&mut reader, 4).await.unwrap(),
            Line::Whole(b"abcd".to_vec())
        );
        assert_eq!(
            next(&mut reader, 4).await.unwrap(),
            Line::Whole(b"ef".to_vec())
        );
    }

    /// 64 MiB without a newline: the read stops at the bound, having
    /// held no more than it, and skipping the rest keeps nothing either.
    #[tokio::test]
    async fn an_endless_line_is_cut_at_the_bound() {
        let flood = tokio::io::repeat(b'x').take(64 << 20);
        let mut reader = BufReader::with_capacity(8 << 10, flood.chain(&b"\nnext\n"[..]));
        match next(&mut reader, 1024).await.unwrap() {
            Line::Cut(start) => assert_eq!(start.len(), 1024),
            other => panic!("{other:?}"),
        }
        skip(&mut reader).await.unwrap();
        assert_eq!(
            next(&mut reader, 1024).await.unwrap(),
            Line::Whole(b"next".to_vec())
        );
    }
}
