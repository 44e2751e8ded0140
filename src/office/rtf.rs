//! How deep an RTF file nests its groups. LibreOffice's RTF import keeps
//! state per open group: 200,000 nested groups in a 400 KB file took a
//! process to 695 MB, and ten times as many would take it past any cap.
//! Word's own files nest a few dozen deep; the limit is
//! `Limits::max_rtf_depth` (1,000).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::ConvertError;

/// Refuses an RTF file whose groups nest deeper than `max_depth`.
pub fn check_nesting(path: &Path, max_depth: usize) -> Result<(), ConvertError> {
    let file = File::open(path)
        .map_err(|e| ConvertError::Internal(format!("cannot read {}: {e}", path.display())))?;
    let depth = deepest(BufReader::new(file))
        .map_err(|e| ConvertError::Internal(format!("cannot read {}: {e}", path.display())))?;
    if depth > max_depth {
        return Err(ConvertError::Bomb(format!(
            "RTF groups nested {depth} deep (at most {max_depth})"
        )));
    }
    Ok(())
}

/// The deepest group nesting of an RTF stream. Escaped braces (`\{`, `\}`)
/// and the raw bytes of `\binN` are not groups.
fn deepest(reader: impl BufRead) -> std::io::Result<usize> {
    let mut bytes = reader.bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    while let Some(byte) = bytes.next() {
        match byte? {
            b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' => depth = depth.saturating_sub(1),
            b'\\' => {
                let mut word = Vec::new();
                let mut next = bytes.next().transpose()?;
                while let Some(c) = next.filter(u8::is_ascii_alphabetic) {
                    word.push(c);
                    next = bytes.next().transpose()?;
                }
                // An escaped symbol (\{ \} \\) ends here.
                if word.is_empty() {
                    continue;
                }
                let mut parameter = 0u64;
                while let Some(digit) = next.filter(u8::is_ascii_digit) {
                    parameter = parameter.saturating_mul(10) + u64::from(digit - b'0');
                    next = bytes.next().transpose()?;
                }
                match next {
                    Some(b'{') => {
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    Some(b'}') => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if word == b"bin" {
                    for _ in 0..parameter {
                        if bytes.next().transpose()?.is_none() {
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(rtf: &str) -> usize {
        deepest(rtf.as_bytes()).unwrap()
    }

    #[test]
    fn groups_are_counted_escapes_and_binary_data_are_not() {
        assert_eq!(depth(r"{\rtf1 {\b bold} text}"), 2);
        assert_eq!(depth(r"{\rtf1 \{ not a group \} \\}"), 1);
        assert_eq!(depth(r"{\rtf1{\*\generator x;}}"), 2);
        assert_eq!(depth("{\\rtf1 {\\bin4 {{{{} x}"), 2);
        assert_eq!(depth(r"{\rtf1 \par{\i x}}"), 2);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep.rtf");
        let depth = 1001;
        std::fs::write(
            &path,
            format!(r"{{\rtf1 {}x{}}}", "{".repeat(depth), "}".repeat(depth)),
        )
        .unwrap();
        let error = check_nesting(&path, 1000).unwrap_err();
        assert_eq!(error.kind(), "bomb");
        assert!(error.to_string().contains("1002 deep"), "{error}");
        std::fs::write(&path, r"{\rtf1 {\b fine}}").unwrap();
        assert!(check_nesting(&path, 1000).is_ok());
    }
}
