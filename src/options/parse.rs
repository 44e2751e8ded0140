//! Each option's text read as its value; on error, what is allowed.

use super::PdfA;

/// A `pdfa` value; on error, what is allowed.
pub(super) fn parse_pdfa(value: &str) -> Result<Option<PdfA>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "none" | "false" => Ok(None),
        "1b" => Ok(Some(PdfA::A1b)),
        "2b" => Ok(Some(PdfA::A2b)),
        "3b" => Ok(Some(PdfA::A3b)),
        _ => Err("1b, 2b or 3b".into()),
    }
}

/// A `pages` value, spaces dropped; None for every page; on error, what
/// is allowed.
pub(super) fn parse_pages(value: &str) -> Result<Option<String>, String> {
    let range = value.replace(' ', "");
    match range.as_str() {
        "" | "all" => Ok(None),
        _ if range.len() <= LONGEST_RANGE && valid_range(&range) => Ok(Some(range)),
        _ => Err(format!(
            "a page range such as 1-3,7 (pages count from 1), at most {LONGEST_RANGE} characters"
        )),
    }
}

pub(super) fn parse_flag(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err("true or false".into()),
    }
}

/// The longest page range: it is written, as part of the options, into
/// every PDF's metadata, which Cloud Storage caps at 8 KiB in all.
const LONGEST_RANGE: usize = 256;

/// `1-3,7`: comma-separated pages or ascending ranges, counting from 1,
/// in digits (`+1` is not a second spelling of `1`).
fn valid_range(range: &str) -> bool {
    let page = |text: &str| {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| text.parse::<u32>().ok())
            .flatten()
            .filter(|&n| n >= 1)
    };
    range.split(',').all(|part| match part.split_once('-') {
        Some((from, to)) => matches!((page(from), page(to)), (Some(a), Some(b)) if a <= b),
        None => page(part).is_some(),
    })
}

/// The narrowest and widest preview, in pixels.
pub(super) const PREVIEW_WIDTHS: std::ops::RangeInclusive<u32> = 16..=2048;

/// A `preview` value, a width in pixels: None for no preview; on error,
/// what is allowed.
pub(super) fn parse_preview(value: &str) -> Result<Option<u32>, String> {
    let text = value.trim();
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    match text.to_ascii_lowercase().as_str() {
        "" | "none" | "false" => Ok(None),
        _ => (digits.then(|| text.parse::<u32>().ok()).flatten())
            .filter(|width| PREVIEW_WIDTHS.contains(width))
            .map(Some)
            .ok_or_else(|| {
                let (narrowest, widest) = (PREVIEW_WIDTHS.start(), PREVIEW_WIDTHS.end());
                format!("a width in pixels, {narrowest} to {widest}, or none")
            }),
    }
}

/// The longest watermark, in characters.
pub(super) const LONGEST_WATERMARK: usize = 200;

/// A `watermark` value: None for none; on error, what is allowed.
pub(super) fn parse_watermark(value: &str) -> Result<Option<String>, String> {
    parse_line(value, LONGEST_WATERMARK)
}

/// Free text: one line of at most `longest` characters, trimmed; None
/// when empty.
pub(super) fn parse_line(value: &str, longest: usize) -> Result<Option<String>, String> {
    let text = value.trim();
    let plain = !text.chars().any(char::is_control);
    match text.chars().count() {
        0 => Ok(None),
        n if n <= longest && plain => Ok(Some(text.to_string())),
        _ => Err(format!("one line of text, at most {longest} characters")),
    }
}

/// A `password-secret` value: the name of a file in `PASSWORDS_DIR`, so no
/// path: letters, digits, `.`, `_` and `-`, not starting with a dot.
pub(super) fn parse_secret_name(value: &str) -> Result<Option<String>, String> {
    let name = value.trim();
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    match name.len() {
        0 => Ok(None),
        1..=64 if plain && !name.starts_with('.') => Ok(Some(name.to_string())),
        _ => Err(
            "the name of a password in PASSWORDS_DIR: letters, digits, . _ and -, not a path"
                .into(),
        ),
    }
}
