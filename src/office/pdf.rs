//! What is checked of a PDF LibreOffice wrote: that it is one, its size,
//! its page count and the fonts it embeds, in one pass.

use std::collections::BTreeSet;
use std::path::Path;

use tokio::io::AsyncReadExt;

use super::ConvertError;

/// A PDF as it came out of LibreOffice.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub bytes: u64,
    pub pages: u64,
    /// The PostScript names of its fonts (`/BaseFont`), sorted.
    pub fonts: Vec<String>,
}

/// LibreOffice can report success and leave nothing, or half a file.
pub async fn check(pdf: &Path) -> Result<Checked, ConvertError> {
    let missing =
        |what: &str| ConvertError::Internal(format!("LibreOffice reported success but {what}"));
    let mut file = tokio::fs::File::open(pdf)
        .await
        .map_err(|_| missing("wrote no PDF"))?;
    let bytes = file.metadata().await?.len();
    let mut magic = [0u8; 5];
    if bytes < magic.len() as u64 {
        return Err(missing("the PDF is empty"));
    }
    file.read_exact(&mut magic).await?;
    if &magic != b"%PDF-" {
        return Err(missing("the output is not a PDF"));
    }
    let scan = scan(&mut file).await?;
    Ok(Checked {
        bytes,
        pages: scan.pages,
        fonts: scan.fonts.into_iter().collect(),
    })
}

const PAGE: &[u8] = b"/Type/Page";
const FONT: &[u8] = b"/BaseFont/";
/// A font name longer than this is not LibreOffice's, and not kept.
const LONGEST_NAME: usize = 256;

#[derive(Default)]
struct Scan {
    pages: u64,
    fonts: BTreeSet<String>,
}

/// Page objects and font names in LibreOffice's PDF, which writes each
/// page uncompressed as `/Type/Page` followed by a delimiter (the tree node
/// is `/Type/Pages`) and each font as `/BaseFont/NAME`. Read in chunks,
/// never whole. Anything else that spells them can only add to them.
async fn scan(file: &mut tokio::fs::File) -> std::io::Result<Scan> {
    let mut found = Scan::default();
    // The tail of the previous chunk, so a match across two chunks counts;
    // `pages_from` and `fonts_from` are where each search resumes in it.
    let mut window = Vec::with_capacity(64 << 10);
    let (mut pages_from, mut fonts_from) = (0, 0);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let read = file.read(&mut chunk).await?;
        let ended = read == 0;
        window.extend_from_slice(&chunk[..read]);
        pages_from = count_pages(&window, pages_from, ended, &mut found.pages);
        fonts_from = read_fonts(&window, fonts_from, ended, &mut found.fonts);
        if ended {
            return Ok(found);
        }
        // Nothing before either point can match again, and a match still to
        // come starts in the last bytes at the earliest.
        let keep_from = pages_from
            .max(window.len().saturating_sub(PAGE.len()))
            .min(fonts_from);
        window.drain(..keep_from);
        pages_from -= keep_from.min(pages_from);
        fonts_from -= keep_from.min(fonts_from);
    }
}

/// Counts the pages in `window` from `at`; where the search resumes. The
/// byte after a match decides it: a match with nothing after it waits for
/// the next chunk, unless the file `ended`.
fn count_pages(window: &[u8], mut at: usize, ended: bool, pages: &mut u64) -> usize {
    while let Some(found) = find(&window[at..], PAGE) {
        let end = at + found + PAGE.len();
        match window.get(end) {
            Some(b's') => {}
            Some(_) => *pages += 1,
            None if ended => *pages += 1,
            None => return at,
        }
        at = end;
    }
    at
}

/// Reads the font names in `window` from `at`; where the search resumes,
/// which nothing before is needed for. A name cut by the chunk's end waits
/// for the next one, from its key.
fn read_fonts(window: &[u8], mut at: usize, ended: bool, fonts: &mut BTreeSet<String>) -> usize {
    while let Some(found) = find(&window[at..], FONT) {
        let key = at + found;
        let start = key + FONT.len();
        let name = window[start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || b"+-_,.".contains(b)));
        match name {
            Some(length) if length <= LONGEST_NAME => {
                fonts.insert(String::from_utf8_lossy(&window[start..start + length]).into_owned());
                at = start + length;
            }
            None if !ended && window.len() - start <= LONGEST_NAME => return key,
            _ => at = start,
        }
    }
    // A key may begin in the last bytes.
    at.max(window.len().saturating_sub(FONT.len()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pages_of(bytes: &[u8]) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pdf");
        std::fs::write(&path, bytes).unwrap();
        check(&path).await.unwrap().pages
    }

    #[tokio::test]
    async fn pages_are_counted_not_the_tree_node() {
        let pdf = b"%PDF-1.7\n1 0 obj<</Type/Pages/Kids[2 0 R 3 0 R]/Count 2>>endobj\n2 0 obj<</Type/Page/Parent 1 0 R>>endobj\n3 0 obj<</Type/Page>>endobj\n";
        assert_eq!(pages_of(pdf).await, 2);
    }

    #[tokio::test]
    async fn a_page_across_two_chunks_counts_once() {
        for offset in (64 << 10) - 12..(64 << 10) + 2 {
            let mut pdf = b"%PDF-1.7\n".to_vec();
            pdf.resize(offset, b' ');
            pdf.extend_from_slice(b"/Type/Page/Parent 1 0 R /Type/Pages");
            assert_eq!(pages_of(&pdf).await, 1, "at {offset}");
        }
    }

    #[tokio::test]
    async fn fonts_are_read_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pdf");
        let mut pdf = b"%PDF-1.7\n<</Type/Font/BaseFont/BAAAAA+Carlito-Regular>>".to_vec();
        // The second name straddles the first 64 KiB chunk's end, after a page.
        pdf.resize((64 << 10) - 40, b' ');
        pdf.extend_from_slice(b"/Type/Page/Parent 1 0 R /BaseFont/CAAAAA+Caladea-Bold/Encoding");
        std::fs::write(&path, pdf).unwrap();
        let checked = check(&path).await.unwrap();
        assert_eq!(
            checked.fonts,
            ["BAAAAA+Carlito-Regular", "CAAAAA+Caladea-Bold"]
        );
        assert_eq!(checked.pages, 1);
    }

    #[tokio::test]
    async fn a_font_across_two_chunks_is_read_once_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pdf");
        for offset in (64 << 10) - 40..(64 << 10) + 2 {
            let mut pdf = b"%PDF-1.7\n".to_vec();
            pdf.resize(offset, b' ');
            pdf.extend_from_slice(b"/BaseFont/DAAAAA+DejaVuSans-Bold/Type/Page ");
            std::fs::write(&path, &pdf).unwrap();
            let checked = check(&path).await.unwrap();
            assert_eq!(checked.fonts, ["DAAAAA+DejaVuSans-Bold"], "at {offset}");
            assert_eq!(checked.pages, 1, "at {offset}");
        }
    }

    #[tokio::test]
    async fn not_a_pdf_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pdf");
        std::fs::write(&path, b"<html>").unwrap();
        assert_eq!(check(&path).await.unwrap_err().kind(), "internal");
    }
}
