//! Password-protected OOXML (`password-secret`): decrypted by us before
//! inspection, so the plain package is checked and rebuilt like any other
//! and LibreOffice never sees a password (nor keeps one in a process that
//! converts the next document).
//!
//! Decryption parses a file uploaders wrote with code that was not written
//! for hostile input (`office-crypto` trusts the sizes the file declares).
//! So it runs as the hidden `decrypt` subcommand of our binary, like
//! fontconfig's tools: no network (seccomp), Landlock to reading the
//! document and writing the job's directory, and CPU and memory limits; a
//! crash or a limit reached is the document's failure, never the worker's.
//! The password goes on its stdin, never on a command line or in its
//! environment.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use tempfile::NamedTempFile;

use super::child::Password;
use super::{ConvertError, sandbox};
use crate::config::DECRYPT_SUBCOMMAND;
use crate::options::PdfOptions;

/// What decrypting one document may use: Word's own key derivation takes
/// 100,000 hash rounds, well under a second.
const CPU_SECONDS: u64 = 30;
const MEMORY_BYTES: u64 = 2 << 30;

/// The exit status that says the password did not open the document.
const REFUSED: i32 = 3;

/// Whether the file at `path` is an encrypted OOXML package: an OLE2
/// compound file holding `EncryptionInfo` and `EncryptedPackage`.
fn is_encrypted_package(path: &Path) -> bool {
    cfb::open(path)
        .is_ok_and(|cfb| cfb.exists("/EncryptionInfo") && cfb.exists("/EncryptedPackage"))
}

/// The document at `input` decrypted into a new file in `work`, when its
/// options name a password and it is a password-protected OOXML package;
/// None when there is nothing to decrypt.
pub(super) fn unlocked(
    input: &Path,
    options: &PdfOptions,
    program: &Path,
    passwords_dir: Option<&Path>,
    work: &Path,
) -> Result<Option<NamedTempFile>, ConvertError> {
    let Some(name) = &options.password_secret else {
        return Ok(None);
    };
    if !is_encrypted_package(input) {
        return Ok(None);
    }
    let password = password(passwords_dir, name)?;
    let plain = NamedTempFile::new_in(work)?;
    decrypt(program, input, plain.path(), &password, name)?;
    Ok(Some(plain))
}

/// The password LibreOffice is to answer its prompt with: for a document
/// `inspected` as encrypted the way LibreOffice decrypts itself
/// (OpenDocument, `.doc`, `.xls`), the one its options name. Its content
/// could not be inspected: it is bounded by the process's sandbox and
/// caps, as every document is, and the process is replaced after it.
pub(super) fn for_libreoffice(
    encrypted: bool,
    extension: &str,
    options: &PdfOptions,
    passwords_dir: Option<&Path>,
) -> Result<Option<Password>, ConvertError> {
    let (true, Some(name)) = (encrypted, &options.password_secret) else {
        return match encrypted {
            true => Err(ConvertError::Encrypted),
            false => Ok(None),
        };
    };
    // Measured with a presentation PowerPoint encrypted (RC4 CryptoAPI):
    // LibreOffice 25.2 fails to load it, password or not.
    if matches!(extension, "ppt" | "pps") {
        return Err(ConvertError::Password(
            "LibreOffice cannot open a password-protected PowerPoint 97-2003 file: save it as .pptx, which opens with its password here".into(),
        ));
    }
    // Both are written into the package's plain parts, which an
    // OpenDocument encrypts with the rest.
    if options.changes.is_some() || !options.properties.is_default() {
        return Err(ConvertError::Inapplicable(
            "changes, title, author, subject, keywords and clear-metadata cannot be applied to a password-protected OpenDocument, .doc or .xls: ask for it without them".into(),
        ));
    }
    password(passwords_dir, name).map(|text| Some(Password(text)))
}

/// The password in `dir` (PASSWORDS_DIR) named `name`: the file `name`,
/// or the file `password` in the directory `name` (Cloud Run mounts each
/// secret in a directory of its own: `--set-secrets
/// /passwords/contracts/password=contracts:latest`).
fn password(dir: Option<&Path>, name: &str) -> Result<String, ConvertError> {
    let dir = dir.ok_or_else(|| {
        ConvertError::Password(format!(
            "it names the password {name:?}, but this worker has no PASSWORDS_DIR"
        ))
    })?;
    let mut path = dir.join(name);
    if path.is_dir() {
        path.push("password");
    }
    let text = std::fs::read_to_string(&path).map_err(|error| {
        ConvertError::Password(format!(
            "no password named {name:?} in PASSWORDS_DIR ({error})"
        ))
    })?;
    // A mounted secret often ends with a newline nobody typed.
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Decrypts `input` into `output` with `password`, in a confined process
/// of `program`.
fn decrypt(
    program: &Path,
    input: &Path,
    output: &Path,
    password: &str,
    name: &str,
) -> Result<(), ConvertError> {
    let mut child = Command::new(program)
        .arg(DECRYPT_SUBCOMMAND)
        .arg(input)
        .arg(output)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(password.as_bytes())?;
    }
    let mut said = String::new();
    if let Some(stderr) = child.stderr.take() {
        stderr.take(4096).read_to_string(&mut said)?;
    }
    let status = child.wait()?;
    match status.code() {
        Some(0) => Ok(()),
        Some(REFUSED) => Err(ConvertError::Password(format!(
            "the password named {name:?} did not open it"
        ))),
        _ => Err(ConvertError::Corrupt(format!(
            "its encryption could not be undone ({status}: {})",
            said.trim()
        ))),
    }
}

/// Entry point of the `decrypt` subcommand: `INPUT OUTPUT`, the password
/// on stdin. Never returns.
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let code = match run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("decrypt: {error:#}");
            1
        }
    };
    std::process::exit(code)
}

fn run(args: Vec<std::ffi::OsString>) -> anyhow::Result<i32> {
    let [input, output] = <[std::ffi::OsString; 2]>::try_from(args)
        .map_err(|_| anyhow::anyhow!("usage: decrypt INPUT OUTPUT"))?;
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let out_dir = output
        .parent()
        .context("OUTPUT has no directory")?
        .to_path_buf();
    rlimit::setrlimit(rlimit::Resource::CPU, CPU_SECONDS, CPU_SECONDS)?;
    rlimit::setrlimit(rlimit::Resource::AS, MEMORY_BYTES, MEMORY_BYTES)?;
    sandbox::deny_network()?;
    sandbox::confine_files(std::slice::from_ref(&input), &[out_dir])?;
    let plain = office_crypto::decrypt_from_file(&input, &password)
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    // The formats carry no check of the password that this reads: a
    // wrong one gives bytes that are not a package.
    if !plain.starts_with(b"PK\x03\x04") {
        return Ok(REFUSED);
    }
    std::fs::write(&output, plain)?;
    Ok(0)
}
