//! The LibreOffice process: one LibreOfficeKit instance for its whole life,
//! converting one document per request from the supervisor.
//!
//! It runs as the hidden `office-child` subcommand of our own binary, so the
//! parent can kill it at any moment and a hostile document can only take this
//! process down. It is synchronous: LibreOfficeKit is single-threaded.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Context;
use libreofficekit::{CallbackType, DocUrl, Office, OfficeOptionalFeatures};
use serde::{Deserialize, Serialize};

use super::sandbox;
use crate::supervisor::ChildChannel;

/// No dialogs can ever be answered here, so never wait on one (but for a
/// password, which the callback answers).
const LOAD_OPTIONS: &str = "Batch=true";
const WARMUP_DOCX: &[u8] = include_bytes!("warmup.docx");

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub input: PathBuf,
    pub output: PathBuf,
    /// LibreOffice's PDF export settings, as JSON ([`crate::options`]).
    pub filter: String,
    /// The import filter's options (a CSV's dialect), or empty.
    #[serde(default)]
    pub import: String,
    /// The password that opens the document, when LibreOffice decrypts it
    /// itself (OpenDocument, `.doc`, `.xls`); the process is replaced
    /// after such a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
}

/// A password, never shown: its `Debug` is a placeholder.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Response {
    Converted,
    Encrypted,
    /// The password given did not open it.
    PasswordRefused,
    LoadFailed {
        message: String,
    },
    SaveFailed {
        message: String,
    },
    /// A file LibreOffice wrote (the PDF, or a temporary file) reached the
    /// size cap, and the kernel refused the rest.
    FileSizeCap,
}

/// Entry point of the `office-child` subcommand. Never returns.
pub fn main() -> ! {
    let code = match run() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("office child: {error:#}");
            1
        }
    };
    // LibreOffice 7.4 aborts in its exit handlers after a conversion, so
    // leave without running them.
    unsafe { libc::_exit(code) }
}

fn run() -> anyhow::Result<()> {
    let mut channel = ChildChannel::open().context("opening the supervisor channel")?;
    sandbox::deny_network()?;
    confine_files()?;
    let converter = Converter::new()?;
    file_size_cap::watch()?;
    let scratch = std::env::temp_dir();
    converter.warm_up(&scratch)?;
    channel.ready()?;
    while let Some(request) = channel.next_request::<Request>()? {
        let response = converter.convert(&request);
        channel.reply(&response)?;
    }
    Ok(())
}

/// Reading and writing beyond the installation, the system's files and this
/// process's scratch (HOME, TMPDIR and the request directory are in it) is
/// refused from here on: other processes' jobs too.
fn confine_files() -> anyhow::Result<()> {
    let install = Office::find_install_path().context("LibreOffice is not installed")?;
    let scratch = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|home| home.parent().map(PathBuf::from))
        .context("HOME is not set")?;
    // The deployment's fonts, beside their fontconfig file.
    let fonts = std::env::var_os("FONTCONFIG_FILE")
        .map(PathBuf::from)
        .and_then(|config| config.parent().map(Path::to_path_buf));
    let readable: Vec<PathBuf> = [sandbox::installation(&install)]
        .into_iter()
        .chain(fonts)
        .collect();
    let status = sandbox::confine_files(&readable, &[scratch])?;
    if !matches!(status, landlock::RulesetStatus::FullyEnforced) {
        eprintln!("office child: the file system sandbox is {status:?} on this kernel");
    }
    Ok(())
}

struct Converter {
    office: Office,
    /// Set by the password callback: the document being loaded is encrypted.
    password_asked: Rc<Cell<bool>>,
    /// The document being loaded, for the password callback to answer.
    loading: Rc<RefCell<Option<DocUrl>>>,
    /// The password to answer with, taken by the first ask: LibreOffice asks
    /// again while a password is wrong, and the second ask is declined.
    password: Rc<RefCell<Option<Password>>>,
}

impl Converter {
    fn new() -> anyhow::Result<Converter> {
        let install = Office::find_install_path().context(
            "LibreOffice is not installed (run ./dev/setup; see docs/fidelity.md, The engine)",
        )?;
        let office = Office::new(&install)
            .with_context(|| format!("starting LibreOfficeKit from {}", install.display()))?;
        let password_asked = Rc::new(Cell::new(false));
        let loading: Rc<RefCell<Option<DocUrl>>> = Rc::new(RefCell::new(None));
        let password: Rc<RefCell<Option<Password>>> = Rc::new(RefCell::new(None));
        // Without these features LibreOffice would prompt on a terminal that
        // nobody reads; with them it asks us, and we answer with the
        // request's password once, and with "no password" after.
        office.set_optional_features(
            OfficeOptionalFeatures::DOCUMENT_PASSWORD
                | OfficeOptionalFeatures::DOCUMENT_PASSWORD_TO_MODIFY,
        )?;
        let (asked, url, given) = (password_asked.clone(), loading.clone(), password.clone());
        office.register_callback(move |office, kind, _payload| {
            let ask = match kind {
                CallbackType::DocumentPassword => true,
                // A password only to edit: open read-only, which is all we need.
                CallbackType::DocumentPasswordModify => false,
                _ => return,
            };
            asked.set(asked.get() || ask);
            let answer = if ask { given.borrow_mut().take() } else { None };
            let answer = answer.as_ref().map(|password| password.0.as_str());
            if let Some(url) = url.borrow().as_ref()
                && let Err(error) = office.set_document_password(url, answer)
            {
                eprintln!("office child: answering a password prompt failed: {error}");
            }
        })?;
        Ok(Converter {
            office,
            password_asked,
            loading,
            password,
        })
    }

    /// The first conversion in a process is several times slower than the
    /// next ones; pay it before taking real work.
    fn warm_up(&self, scratch: &Path) -> anyhow::Result<()> {
        let input = scratch.join("warmup.docx");
        let output = scratch.join("warmup.pdf");
        std::fs::write(&input, WARMUP_DOCX)?;
        let warm_up = Request {
            input: input.clone(),
            output: output.clone(),
            filter: crate::options::PdfOptions::default().filter_data(),
            import: String::new(),
            password: None,
        };
        match self.convert(&warm_up) {
            Response::Converted => {}
            other => anyhow::bail!("the warm-up conversion failed: {other:?}"),
        }
        std::fs::remove_file(&input)?;
        std::fs::remove_file(&output)?;
        Ok(())
    }

    fn convert(&self, request: &Request) -> Response {
        let (input, output, filter) = (&request.input, &request.output, &request.filter);
        let load_failed = |message: String| Response::LoadFailed { message };
        let save_failed = |message: String| Response::SaveFailed { message };
        let input_url = match DocUrl::from_absolute_path(input.to_string_lossy()) {
            Ok(url) => url,
            Err(error) => return load_failed(error.to_string()),
        };
        let output_url = match DocUrl::from_absolute_path(output.to_string_lossy()) {
            Ok(url) => url,
            Err(error) => return save_failed(error.to_string()),
        };
        self.password_asked.set(false);
        *self.password.borrow_mut() = request.password.clone();
        *self.loading.borrow_mut() = Some(input_url.clone());
        // LibreOfficeKit takes what follows its own options as the import
        // filter's.
        // In batch mode LibreOffice gives up on an encrypted document
        // without asking for its password (measured): a document that comes
        // with one is loaded out of it, its other prompts bounded by the
        // job's deadline.
        let batch = match request.password {
            Some(_) => "",
            None => LOAD_OPTIONS,
        };
        let options = [batch, request.import.as_str()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let loaded = self.office.document_load_with_options(&input_url, &options);
        *self.loading.borrow_mut() = None;
        let unused = self.password.borrow_mut().take();
        let mut document = match loaded {
            Err(_) if file_size_cap::reached() => return Response::FileSizeCap,
            Ok(document) => document,
            Err(_)
                if self.password_asked.get() && request.password.is_some() && unused.is_none() =>
            {
                return Response::PasswordRefused;
            }
            Err(_) if self.password_asked.get() => return Response::Encrypted,
            Err(error) => return load_failed(error.to_string()),
        };
        match document.save_as(&output_url, "pdf", Some(filter.as_str())) {
            Ok(true) => Response::Converted,
            _ if file_size_cap::reached() => Response::FileSizeCap,
            Ok(false) => save_failed("LibreOffice reported that the PDF export failed".into()),
            Err(error) => save_failed(error.to_string()),
        }
    }
}

/// Tells a write refused at the file size cap (`RLIMIT_FSIZE`) from other
/// failures. LibreOffice installs a handler that aborts on `SIGXFSZ`; ours
/// replaces it and only notes the signal, so the write fails with `EFBIG`
/// and LibreOffice fails the load or export instead of the process.
mod file_size_cap {
    use std::sync::atomic::{AtomicBool, Ordering};

    static REACHED: AtomicBool = AtomicBool::new(false);

    extern "C" fn noted(_: libc::c_int) {
        REACHED.store(true, Ordering::SeqCst);
    }

    pub fn watch() -> std::io::Result<()> {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; sigaction reads only the struct it is given.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = noted as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            if libc::sigaction(libc::SIGXFSZ, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Whether a write reached the cap since the last call.
    pub fn reached() -> bool {
        REACHED.swap(false, Ordering::SeqCst)
    }
}
