//! The size a picture declares in its header, read without decoding it,
//! and the check of it against the pixel limit. Read with `imagesize`,
//! except where its reading and LibreOffice's differ: a bitmap stored
//! top-down has a negative height, which `imagesize` reads as four billion
//! rows (refusing an honest picture); PCX, which LibreOffice decodes, is
//! not among its formats.

use crate::office::error::ConvertError;

/// A part whose header says it is a picture of more pixels than allowed.
/// Parts that are not pictures, or whose header does not tell, pass.
pub(in crate::office) fn check_picture(
    name: &str,
    head: &[u8],
    max_pixels: u64,
) -> Result<(), ConvertError> {
    match declared_size(head).and_then(|size| over_limit(size, max_pixels)) {
        Some(why) => Err(ConvertError::Bomb(format!("{name} is a picture of {why}"))),
        None => Ok(()),
    }
}

/// Why a picture of `width` x `height` is refused, if it has more than
/// `max_pixels`: the one limit every reader of pictures here applies.
pub(super) fn over_limit((width, height): (u64, u64), max_pixels: u64) -> Option<String> {
    (width * height > max_pixels).then(|| {
        format!(
            "{width} x {height} pixels, over the {}-megapixel limit",
            max_pixels / 1_000_000
        )
    })
}

/// Width and height, if `head` starts a picture whose header says.
pub(super) fn declared_size(head: &[u8]) -> Option<(u64, u64)> {
    match head {
        [b'B', b'M', ..] => dib_size(head.get(14..)?),
        [0x0A, 0 | 2..=5, 0 | 1, 1 | 2 | 4 | 8, ..] => pcx_size(head),
        _ => {
            imagesize::image_type(head).ok()?;
            let size = imagesize::blob_size(head).ok()?;
            Some((size.width as u64, size.height as u64))
        }
    }
}

/// A bitmap's info header (after a BMP file's 14-byte header, or alone in
/// a DIB): BITMAPINFOHEADER and its larger versions (signed width and
/// height), or the old BITMAPCOREHEADER (16-bit sizes).
pub(super) fn dib_size(head: &[u8]) -> Option<(u64, u64)> {
    let head = head.get(..12)?;
    let le = |at: usize| i32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    match le(0) {
        12 => Some((
            u16::from_le_bytes([head[4], head[5]]) as u64,
            u16::from_le_bytes([head[6], head[7]]) as u64,
        )),
        40 | 52 | 56 | 64 | 108 | 124 => {
            Some((le(4).unsigned_abs() as u64, le(8).unsigned_abs() as u64))
        }
        _ => None,
    }
}

/// PCX: the window's corners, inclusive, at bytes 4-11.
fn pcx_size(head: &[u8]) -> Option<(u64, u64)> {
    let head = head.get(..12)?;
    let le = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]) as u64;
    let (x_min, y_min, x_max, y_max) = (le(4), le(6), le(8), le(10));
    Some((x_max.checked_sub(x_min)? + 1, y_max.checked_sub(y_min)? + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bmp(width: i32, height: i32) -> Vec<u8> {
        let mut bmp = b"BM".to_vec();
        bmp.extend([0; 12]);
        bmp.extend(40u32.to_le_bytes());
        bmp.extend(width.to_le_bytes());
        bmp.extend(height.to_le_bytes());
        bmp.extend([0; 40]);
        bmp
    }

    #[test]
    fn a_top_down_bitmap_is_as_tall_as_it_says() {
        assert_eq!(declared_size(&bmp(4000, -3000)), Some((4000, 3000)));
        assert_eq!(declared_size(&bmp(4000, 3000)), Some((4000, 3000)));
        // The control: imagesize reads the negative height as 4 billion.
        let read = imagesize::blob_size(&bmp(4000, -3000)).unwrap();
        assert!(read.height > 1 << 31, "{read:?}");
    }

    #[test]
    fn a_pcx_header_gives_its_window() {
        let mut pcx = vec![0x0A, 5, 1, 8];
        for corner in [0u16, 0, 19_999, 19_999] {
            pcx.extend(corner.to_le_bytes());
        }
        pcx.extend([0; 116]);
        assert_eq!(declared_size(&pcx), Some((20_000, 20_000)));
        assert!(
            imagesize::blob_size(&pcx).is_err(),
            "imagesize reads PCX now"
        );
        pcx[8..10].copy_from_slice(&0u16.to_le_bytes());
        pcx[4..6].copy_from_slice(&5u16.to_le_bytes());
        assert_eq!(
            declared_size(&pcx),
            None,
            "a window that ends before it starts"
        );
    }

    #[test]
    fn other_formats_are_read_by_imagesize() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(20_000u32.to_be_bytes());
        png.extend(10u32.to_be_bytes());
        png.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(declared_size(&png), Some((20_000, 10)));
        assert_eq!(declared_size(b"<?xml version='1.0'?>"), None);
    }
}
