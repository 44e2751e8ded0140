//! What is checked of a PDF LibreOffice wrote: that it is one, its size and
//! its page count.

use std::path::Path;

use tokio::io::AsyncReadExt;

use super::ConvertError;

/// A PDF as it came out of LibreOffice.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub bytes: u64,
    pub pages: u64,
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
    let pages = count_pages(&mut file).await?;
    Ok(Checked { bytes, pages })
}

const PAGE: &[u8] = b"/Type/Page";

/// Page objects in LibreOffice's PDF, which writes each uncompressed as
/// `/Type/Page` followed by a delimiter (the tree node is `/Type/Pages`).
/// Read in chunks, never whole. Anything else that spells it can only add
/// to the count.
async fn count_pages(file: &mut tokio::fs::File) -> std::io::Result<u64> {
    let mut pages = 0;
    // The tail of the previous chunk, so a match across two chunks counts.
    let mut window = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let read = file.read(&mut chunk).await?;
        window.extend_from_slice(&chunk[..read]);
        // The byte after a match decides it: keep a match with nothing
        // after it for the next round, unless the file ended.
        let mut at = 0;
        while let Some(found) = find(&window[at..], PAGE) {
            let end = at + found + PAGE.len();
            match window.get(end) {
                Some(b's') => {}
                Some(_) => pages += 1,
                None if read == 0 => pages += 1,
                None => break,
            }
            at = end;
        }
        if read == 0 {
            return Ok(pages);
        }
        // Nothing before `at` can match again, and a match still to come
        // starts in the last PAGE.len() bytes at the earliest.
        let keep_from = at.max(window.len().saturating_sub(PAGE.len()));
        window.drain(..keep_from);
    }
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
    async fn not_a_pdf_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pdf");
        std::fs::write(&path, b"<html>").unwrap();
        assert_eq!(check(&path).await.unwrap_err().kind(), "internal");
    }
}
