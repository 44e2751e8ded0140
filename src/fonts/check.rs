//! What a deployment's font file must be to be loaded: named as a font,
//! within the bounds, and starting as one. Nothing here parses a font: the
//! worker looks at four bytes (and hashes the rest); fontconfig and LibreOffice, confined, do the
//! rest.

/// At most this many files, this large each and in all: on Cloud Run they
/// are held in memory, as the workspace is, by every instance.
pub const MOST_FONTS: usize = 200;
pub const LARGEST_FONT: u64 = 64 << 20;
pub const MOST_BYTES: u64 = 512 << 20;

/// Why a file was not loaded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    #[error("not a font by its name (.ttf, .otf, .ttc are)")]
    NotNamedAsFont,
    #[error("{0} bytes, over the {LARGEST_FONT} a font may have")]
    TooLarge(u64),
    #[error("over the {MOST_FONTS} fonts a deployment may bring")]
    TooMany,
    #[error("over the {MOST_BYTES} bytes a deployment's fonts may have in all")]
    OverBudget,
    #[error("does not start as a TrueType, OpenType or collection file does")]
    NotAFont,
}

/// The font extension of `name` (lower case), if it has one.
pub fn font_extension(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    ["ttf", "otf", "ttc"]
        .into_iter()
        .find(|known| *known == extension)
}

/// Whether a file of `size` bytes may be the next after `count` files of
/// `total` bytes.
pub fn within_bounds(size: u64, count: usize, total: u64) -> Result<(), Skipped> {
    if size > LARGEST_FONT {
        Err(Skipped::TooLarge(size))
    } else if count >= MOST_FONTS {
        Err(Skipped::TooMany)
    } else if total + size > MOST_BYTES {
        Err(Skipped::OverBudget)
    } else {
        Ok(())
    }
}

/// Whether `head`, a file's first bytes, begins a TrueType (1.0 or
/// Apple's `true`), an OpenType CFF (`OTTO`) or a collection (`ttcf`).
pub fn starts_as_font(head: &[u8]) -> bool {
    let tags: [&[u8]; 4] = [b"\x00\x01\x00\x00", b"true", b"OTTO", b"ttcf"];
    tags.iter().any(|tag| head.starts_with(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_font_is_known_by_its_name_size_and_first_bytes() {
        assert_eq!(font_extension("fonts/Corporate Sans Bold.TTF"), Some("ttf"));
        assert_eq!(font_extension("a.otf"), Some("otf"));
        assert_eq!(font_extension("LICENSE.txt"), None);
        assert_eq!(font_extension("ttf"), None);
        assert_eq!(
            within_bounds(LARGEST_FONT + 1, 0, 0),
            Err(Skipped::TooLarge(LARGEST_FONT + 1))
        );
        assert_eq!(within_bounds(1, MOST_FONTS, 0), Err(Skipped::TooMany));
        assert_eq!(
            within_bounds(2, 1, MOST_BYTES - 1),
            Err(Skipped::OverBudget)
        );
        assert_eq!(within_bounds(LARGEST_FONT, MOST_FONTS - 1, 0), Ok(()));
        assert!(starts_as_font(b"\x00\x01\x00\x00\x00\x10"));
        assert!(starts_as_font(b"OTTO") && starts_as_font(b"ttcf\x00"));
        assert!(!starts_as_font(b"<html>") && !starts_as_font(b"\x00\x01"));
    }
}
