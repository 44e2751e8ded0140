//! A `.csv` as LibreOffice reads it. We decode it from its encoding into
//! UTF-8 ourselves (encoding_rs), so Calc reads one encoding whatever the
//! file's, and what it reads is checked text. Its separator and decimal
//! mark come from the options, or are detected from its first lines as a
//! spreadsheet user expects (a European `;` file with `1,5` in it), and go
//! to Calc's CSV import as its filter options. The fidelity report says
//! what was used.

use std::io::{Read, Write};
use std::path::Path;

use encoding_rs::{UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use serde::Serialize;
use tempfile::NamedTempFile;

use crate::office::error::ConvertError;
use crate::options::{CsvOptions, Decimal, Encoding, Separator};

/// How a CSV was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dialect {
    pub separator: Separator,
    /// The encoding it was decoded from (a WHATWG name).
    pub encoding: &'static str,
    pub decimal: Decimal,
    /// Which of the three were detected rather than asked for.
    pub detected: Vec<&'static str>,
}

impl Dialect {
    /// Calc's CSV import options: the separator, `"` around text, UTF-8
    /// (76), from the first line, standard columns, and the language whose
    /// decimal mark the numbers use (en-US, or de-DE for a comma).
    pub fn filter_options(&self) -> String {
        let separator = self.separator.char() as u32;
        let language = match self.decimal {
            Decimal::Point => 1033,
            Decimal::Comma => 1031,
        };
        format!("{separator},34,76,1,,{language}")
    }
}

/// How much of the file the detection reads.
const HEAD: usize = 64 << 10;

/// The CSV at `input`, decoded into a UTF-8 file in `work`, and how it is
/// to be read: as `asked`, the rest detected.
pub fn prepare(
    input: &Path,
    asked: &CsvOptions,
    work: &Path,
) -> Result<(NamedTempFile, Dialect), ConvertError> {
    let mut file = std::fs::File::open(input)?;
    let mut head = Vec::with_capacity(HEAD);
    (&mut file).take(HEAD as u64).read_to_end(&mut head)?;
    let mut detected = Vec::new();
    let encoding = match asked.encoding {
        Some(named) => named,
        None => {
            detected.push("encoding");
            detect_encoding(&head)
        }
    };
    let mut decoded = NamedTempFile::new_in(work)?;
    let text_head = decode(encoding, &head, &mut file, decoded.as_file_mut())?;
    let separator = asked.separator.unwrap_or_else(|| {
        detected.push("separator");
        detect_separator(&text_head)
    });
    let decimal = asked.decimal.unwrap_or_else(|| {
        detected.push("decimal");
        detect_decimal(&text_head, separator)
    });
    let encoding = encoding_of(encoding, &head).name();
    let dialect = Dialect {
        separator,
        encoding: whatwg_name(encoding),
        decimal,
        detected,
    };
    Ok((decoded, dialect))
}

/// The decoder for `named`: UTF-16 without a byte order goes by its mark.
fn encoding_of(named: Encoding, head: &[u8]) -> &'static encoding_rs::Encoding {
    match named {
        Encoding::Utf8 => UTF_8,
        Encoding::Utf16 if head.starts_with(&[0xFE, 0xFF]) => UTF_16BE,
        Encoding::Utf16 | Encoding::Utf16Le => UTF_16LE,
        Encoding::Utf16Be => UTF_16BE,
        // ISO-8859-1 as the web reads it, which is Windows-1252: the two
        // differ only in C1 control codes, which no CSV holds.
        Encoding::Windows1252 | Encoding::Iso8859_1 => WINDOWS_1252,
        Encoding::ShiftJis => encoding_rs::SHIFT_JIS,
    }
}

fn whatwg_name(name: &'static str) -> &'static str {
    match name {
        "UTF-8" => "utf-8",
        "UTF-16LE" => "utf-16le",
        "UTF-16BE" => "utf-16be",
        "windows-1252" => "windows-1252",
        "Shift_JIS" => "shift_jis",
        other => other,
    }
}

/// A byte-order mark, else UTF-16 by where its NUL bytes fall, else
/// UTF-8 if the bytes are, else Windows-1252 (what Excel writes in most
/// of Europe and the Americas). Shift_JIS is not guessed: it is asked for.
fn detect_encoding(head: &[u8]) -> Encoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Encoding::Utf8;
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Encoding::Utf16Le;
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Encoding::Utf16Be;
    }
    let zeros = |parity: usize| {
        (head.iter().skip(parity).step_by(2))
            .filter(|b| **b == 0)
            .count()
    };
    let half = head.len() / 2;
    if half > 0 && zeros(1) * 2 > half {
        return Encoding::Utf16Le;
    }
    if half > 0 && zeros(0) * 2 > half {
        return Encoding::Utf16Be;
    }
    match std::str::from_utf8(head) {
        Ok(_) => Encoding::Utf8,
        // Cut mid-character at the end of the head: still UTF-8.
        Err(error) if error.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    }
}

/// Decodes `head` and the rest of `file` from `named` into `to`, as
/// UTF-8 without a byte-order mark; the decoded head, for the detection.
fn decode(
    named: Encoding,
    head: &[u8],
    file: &mut std::fs::File,
    to: &mut std::fs::File,
) -> Result<String, ConvertError> {
    let mut decoder = encoding_of(named, head).new_decoder_with_bom_removal();
    let mut text_head = String::new();
    let mut chunk = head.to_vec();
    let mut first = true;
    loop {
        let mut more = vec![0u8; HEAD];
        let read = file.read(&mut more)?;
        let last = read == 0;
        let mut text =
            String::with_capacity(decoder.max_utf8_buffer_length(chunk.len()).unwrap_or(0));
        let _ = decoder.decode_to_string(&chunk, &mut text, last);
        if text.contains('\0') {
            return Err(ConvertError::Corrupt(format!(
                "a .csv file must be text, but read as {} this one holds binary data (NUL characters): name its encoding with csv-encoding",
                whatwg_name(encoding_of(named, head).name())
            )));
        }
        to.write_all(text.as_bytes())?;
        if first {
            text_head = text;
            first = false;
        }
        if last {
            return Ok(text_head);
        }
        more.truncate(read);
        chunk = more;
    }
}

/// The first lines of `text` (a last line cut by the head left out).
fn first_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if !text.ends_with('\n') && lines.len() > 1 {
        lines.pop();
    }
    lines.truncate(20);
    lines
}

/// How many times `separator` occurs in `line` outside double quotes.
fn fields_split(line: &str, separator: char) -> usize {
    let mut quoted = false;
    let mut count = 0;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => count += 1,
            _ => {}
        }
    }
    count
}

/// The separator that splits the most lines the same way (as many times
/// on each); a comma when none splits any.
fn detect_separator(text: &str) -> Separator {
    let lines = first_lines(text);
    let score = |separator: Separator| {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| fields_split(l, separator.char()))
            .collect();
        let first = counts.first().copied().unwrap_or(0);
        let same = counts.iter().filter(|&&n| n == first).count();
        if first == 0 { (0, 0) } else { (same, first) }
    };
    let best = Separator::ALL.into_iter().max_by_key(|s| {
        let (same, splits) = score(*s);
        // Ties go to the first of ALL (max_by_key keeps the last maximum).
        (same, splits, std::cmp::Reverse(*s as u8))
    });
    best.filter(|s| score(*s).0 > 0).unwrap_or(Separator::Comma)
}

/// A comma when fields separated otherwise hold numbers such as `1,5` or
/// `1.234,56`; a point otherwise.
fn detect_decimal(text: &str, separator: Separator) -> Decimal {
    if separator == Separator::Comma {
        return Decimal::Point;
    }
    let comma_number = |field: &str| {
        let field = field
            .trim()
            .trim_matches('"')
            .trim_start_matches(['-', '+']);
        let Some((whole, fraction)) = field.rsplit_once(',') else {
            return false;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits(fraction) && whole.split('.').all(digits)
    };
    let lines = first_lines(text);
    let any = (lines.iter()).any(|line| line.split(separator.char()).any(comma_number));
    if any { Decimal::Comma } else { Decimal::Point }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], asked: &CsvOptions) -> (String, Dialect) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, bytes).unwrap();
        let (decoded, dialect) = prepare(&input, asked, dir.path()).unwrap();
        (std::fs::read_to_string(decoded.path()).unwrap(), dialect)
    }

    #[test]
    fn a_european_csv_is_read_as_its_author_wrote_it() {
        // Windows-1252: "Müller;1,5" with ü as one byte.
        let bytes = b"Name;Betrag\nM\xfcller;1,5\nB\xe4cker;1.234,56\n";
        let (text, dialect) = read(bytes, &CsvOptions::default());
        assert_eq!(text, "Name;Betrag\nMüller;1,5\nBäcker;1.234,56\n");
        assert_eq!(dialect.separator, Separator::Semicolon);
        assert_eq!(dialect.encoding, "windows-1252");
        assert_eq!(dialect.decimal, Decimal::Comma);
        assert_eq!(dialect.detected, ["encoding", "separator", "decimal"]);
        assert_eq!(dialect.filter_options(), "59,34,76,1,,1031");
    }

    #[test]
    fn what_is_asked_for_is_not_guessed() {
        let asked = CsvOptions {
            separator: Some(Separator::Pipe),
            encoding: Some(Encoding::Utf8),
            decimal: Some(Decimal::Point),
        };
        let (_, dialect) = read(b"a;b;c\n1;2;3\n", &asked);
        assert_eq!(dialect.separator, Separator::Pipe);
        assert!(dialect.detected.is_empty());
    }

    #[test]
    fn each_encoding_is_told_or_found() {
        let utf16: Vec<u8> = "a\tb\n1\t2\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let (text, dialect) = read(&utf16, &CsvOptions::default());
        assert_eq!(
            (text.as_str(), dialect.encoding),
            ("a\tb\n1\t2\n", "utf-16le")
        );
        assert_eq!(dialect.separator, Separator::Tab);
        let bom: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("x,y\n".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(read(&bom, &CsvOptions::default()).0, "x,y\n");
        let (text, dialect) = read("é,ü\n".as_bytes(), &CsvOptions::default());
        assert_eq!((text.as_str(), dialect.encoding), ("é,ü\n", "utf-8"));
        let sjis = CsvOptions {
            encoding: Some(Encoding::ShiftJis),
            ..CsvOptions::default()
        };
        assert_eq!(read(b"\x93\xfa\x96\x7b,1\n", &sjis).0, "日本,1\n");
    }

    /// NUL bytes are judged in the text the encoding gives: binary data is
    /// refused, while UTF-16 without a byte-order mark, all NUL bytes
    /// between its letters, is read (the byte check a .txt gets refuses
    /// it).
    #[test]
    fn binary_data_is_refused_in_the_text_it_decodes_to() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, b"a,b\n\x00\x01\x02,c\n").unwrap();
        let error = prepare(&input, &CsvOptions::default(), dir.path()).unwrap_err();
        assert_eq!(error.kind(), "corrupt");
        assert!(error.to_string().contains("NUL characters"), "{error}");
        let utf16: Vec<u8> = "a,b\n1,2\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(read(&utf16, &CsvOptions::default()).0, "a,b\n1,2\n");
        let as_txt = dir.path().join("in.txt");
        std::fs::write(&as_txt, &utf16).unwrap();
        assert!(
            super::super::text::check(&as_txt, "txt").is_err(),
            "the byte check"
        );
    }

    #[test]
    fn a_separator_inside_quotes_does_not_count() {
        let text = "name,comment\n\"Smith; John\",\"a; b; c\"\n\"Doe; Jane\",x\n";
        assert_eq!(detect_separator(text), Separator::Comma);
        assert_eq!(detect_separator("one column\nonly\n"), Separator::Comma);
        assert_eq!(
            detect_decimal("a,b\n1,5,2\n", Separator::Comma),
            Decimal::Point
        );
    }
}
