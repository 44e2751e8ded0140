//! OLE2 compound files: Word, Excel and PowerPoint 97-2003 documents, and
//! the wrapper Office puts around an encrypted OOXML package. Each says in
//! its own way that it is encrypted; each is refused as `encrypted` before
//! LibreOffice would ask for a password.

use std::io::Read;
use std::path::Path;

use super::App;
use crate::office::error::ConvertError;

/// The stream that makes a compound file a document of `app`, and what such
/// a document is called.
fn main_streams(app: App) -> (&'static [&'static str], &'static str) {
    match app {
        App::Writer => (&["/WordDocument"], "Word document"),
        App::Calc => (&["/Workbook", "/Book"], "Excel workbook"),
        App::Impress => (&["/PowerPoint Document"], "PowerPoint presentation"),
        App::Draw => (&[], "drawing"),
    }
}

/// `ooxml`: the file's name says Office Open XML, so unless it is an
/// encrypted package it must at least be a legacy document of the same
/// application (which LibreOffice reads by content). Under a legacy name,
/// content detection decides.
/// Whether its content is encrypted as LibreOffice itself decrypts (a
/// `.doc`'s, an `.xls`'s or a `.ppt`'s own encryption); an encrypted OOXML
/// package is an error here (the worker decrypts those before). Pictures
/// of over `max_pixels` in a document that is not encrypted are refused.
pub(super) fn check(
    path: &Path,
    app: App,
    ooxml: bool,
    max_pixels: u64,
) -> Result<bool, ConvertError> {
    let mut cfb = cfb::open(path)
        .map_err(|e| ConvertError::Corrupt(format!("unreadable OLE2 compound file: {e}")))?;
    if cfb.exists("/EncryptionInfo") || cfb.exists("/EncryptedPackage") {
        return Err(ConvertError::Encrypted);
    }
    let (streams, what) = main_streams(app);
    if ooxml && !streams.iter().any(|s| cfb.exists(s)) {
        return Err(ConvertError::Corrupt(format!(
            "an OLE2 compound file that is neither an encrypted package nor a {what}"
        )));
    }
    if cfb.exists("/WordDocument") && word_is_encrypted(&mut cfb)? {
        return Ok(true);
    }
    for workbook in ["/Workbook", "/Book"] {
        if cfb.exists(workbook) && workbook_is_encrypted(&mut cfb, workbook)? {
            return Ok(true);
        }
    }
    if cfb.exists("/Current User") && presentation_is_encrypted(&mut cfb)? {
        return Ok(true);
    }
    // PowerPoint keeps the encrypted document properties in a stream of their own.
    if cfb.exists("/EncryptedSummary") {
        return Ok(true);
    }
    super::ole2_pictures::check(&mut cfb, max_pixels)?;
    Ok(false)
}

/// PowerPoint's CurrentUserAtom, the `Current User` stream: after an
/// 8-byte record header and a 4-byte size, its headerToken is F3D1C4DF
/// when the presentation is encrypted (E391C05F when not). A stream too
/// short to say is left for LibreOffice to judge.
fn presentation_is_encrypted(cfb: &mut Compound) -> Result<bool, ConvertError> {
    const ENCRYPTED: u32 = 0xF3D1_C4DF;
    let mut head = [0u8; 16];
    let mut stream = cfb
        .open_stream("/Current User")
        .map_err(|e| ConvertError::Corrupt(format!("unreadable Current User stream: {e}")))?;
    if stream.read_exact(&mut head).is_err() {
        return Ok(false);
    }
    Ok(u32::from_le_bytes([head[12], head[13], head[14], head[15]]) == ENCRYPTED)
}

type Compound = cfb::CompoundFile<std::fs::File>;

/// FIB: wIdent at 0, flags at 0x0A; bit 8 of the flags is fEncrypted.
fn word_is_encrypted(cfb: &mut Compound) -> Result<bool, ConvertError> {
    let mut fib = [0u8; 12];
    let mut stream = cfb
        .open_stream("/WordDocument")
        .map_err(|e| ConvertError::Corrupt(format!("unreadable WordDocument stream: {e}")))?;
    stream
        .read_exact(&mut fib)
        .map_err(|_| ConvertError::Corrupt("the WordDocument stream is truncated".into()))?;
    let flags = u16::from_le_bytes([fib[0x0A], fib[0x0B]]);
    Ok(flags & 0x0100 != 0)
}

/// BIFF records (type, length, data) from the start of the workbook
/// stream: a FILEPASS record (0x002F) in the globals, which end at the
/// first EOF record (0x000A), means the rest is encrypted.
fn workbook_is_encrypted(cfb: &mut Compound, workbook: &str) -> Result<bool, ConvertError> {
    const FILEPASS: u16 = 0x002F;
    const EOF: u16 = 0x000A;
    let stream = cfb
        .open_stream(workbook)
        .map_err(|e| ConvertError::Corrupt(format!("unreadable {workbook} stream: {e}")))?;
    // The globals of a real workbook are far smaller than this.
    let mut globals = stream.take(4 << 20);
    let mut header = [0u8; 4];
    while globals.read_exact(&mut header).is_ok() {
        let kind = u16::from_le_bytes([header[0], header[1]]);
        let length = u16::from_le_bytes([header[2], header[3]]) as u64;
        match kind {
            FILEPASS => return Ok(true),
            EOF => return Ok(false),
            _ => {
                std::io::copy(&mut (&mut globals).take(length), &mut std::io::sink())?;
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A compound file with `streams`, each with its bytes.
    fn compound(streams: &[(&str, Vec<u8>)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut cfb = cfb::create(file.path()).unwrap();
        for (name, bytes) in streams {
            cfb.create_stream(name).unwrap().write_all(bytes).unwrap();
        }
        cfb.flush().unwrap();
        file
    }

    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut bytes = kind.to_le_bytes().to_vec();
        bytes.extend((data.len() as u16).to_le_bytes());
        bytes.extend(data);
        bytes
    }

    fn workbook(encrypted: bool) -> Vec<u8> {
        let mut bytes = record(0x0809, &[0; 16]); // BOF
        if encrypted {
            bytes.extend(record(0x002F, &[1, 0, 1, 0, 1, 0]));
        }
        bytes.extend(record(0x0042, &[0xE4, 0x04])); // CODEPAGE
        bytes.extend(record(0x000A, &[])); // EOF
        bytes
    }

    #[test]
    fn a_workbook_with_a_filepass_record_is_encrypted() {
        let plain = compound(&[("/Workbook", workbook(false))]);
        assert!(!check(plain.path(), App::Calc, false, u64::MAX).unwrap());
        let locked = compound(&[("/Workbook", workbook(true))]);
        assert!(check(locked.path(), App::Calc, false, u64::MAX).unwrap());
    }

    #[test]
    fn a_presentation_whose_current_user_says_so_is_encrypted() {
        let current_user = |token: u32| {
            let mut bytes = vec![0; 12];
            bytes.extend(token.to_le_bytes());
            bytes.extend([0; 16]);
            bytes
        };
        let document = ("/PowerPoint Document", vec![0; 64]);
        let plain = compound(&[
            document.clone(),
            ("/Current User", current_user(0xE391_C05F)),
        ]);
        assert!(!check(plain.path(), App::Impress, false, u64::MAX).unwrap());
        let locked = compound(&[document, ("/Current User", current_user(0xF3D1_C4DF))]);
        assert!(check(locked.path(), App::Impress, false, u64::MAX).unwrap());
    }

    #[test]
    fn a_presentation_with_an_encrypted_summary_is_encrypted() {
        let locked = compound(&[
            ("/PowerPoint Document", vec![0; 64]),
            ("/EncryptedSummary", vec![0; 64]),
        ]);
        assert!(check(locked.path(), App::Impress, false, u64::MAX).unwrap());
    }

    #[test]
    fn an_ooxml_name_on_another_applications_compound_file_is_corrupt() {
        let workbook = compound(&[("/Workbook", workbook(false))]);
        check(workbook.path(), App::Calc, true, u64::MAX).unwrap();
        match check(workbook.path(), App::Impress, true, u64::MAX) {
            Err(ConvertError::Corrupt(reason)) => assert!(reason.contains("PowerPoint")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_encrypted_package_is_encrypted_whatever_its_name() {
        let package = compound(&[
            ("/EncryptionInfo", vec![4, 0, 4, 0]),
            ("/EncryptedPackage", vec![0; 16]),
        ]);
        for app in [App::Writer, App::Calc, App::Impress] {
            assert!(matches!(
                check(package.path(), app, true, u64::MAX),
                Err(ConvertError::Encrypted)
            ));
        }
    }
}
