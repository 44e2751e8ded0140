//! The LibreOffice pool: warm LibreOfficeKit processes that turn documents
//! into PDFs.
//!
//! [`Pool::convert`] checks the input ([`inspect`]), hands it to a free
//! LibreOffice process ([`child`]) through the generic
//! [`Supervisor`](crate::supervisor), and checks the PDF that comes back.
//! Everything LibreOffice-specific lives here, in three parts: the checks
//! of what goes in ([`inspect`]), the fidelity report of what comes out
//! (`fidelity`), and the pool itself (the files beside this one: each
//! process's environment, profile and sandbox, its answers, and what its
//! failures mean).

mod answers;
mod child;
mod decrypt;
mod engine;
mod environment;
mod error;
mod fidelity;
mod file_properties;
mod font_tool;
pub mod inspect;
mod markup;
mod package_parts;
mod pdf;
mod pool_config;
mod preview;
pub mod profile;
mod properties;
mod property_set;
mod request;
pub mod sandbox;
mod volume;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use child::main as child_main;
pub use decrypt::main as decrypt_main;
pub use error::ConvertError;
pub use fidelity::{Fidelity, FontUse, LayoutRisk, substitutes};
pub use font_tool::{FontTool, configure as configure_fonts, main as font_tool_main};
pub use inspect::Limits;
pub use pool_config::{OwnFonts, PoolConfig};
pub use preview::{Preview, main as preview_main, path_beside as preview_path};
pub use sandbox::Protections;

use crate::config::OFFICE_CHILD_SUBCOMMAND;
use crate::options::{PdfOptions, WATERMARK_FONT};
use crate::supervisor::{Backoff, RequestDir, SlotState, SlotStatus, Spec, Supervisor};
use crate::workspace::Workspace;
use inspect::csv::Dialect;
use request::{Taken, take_pdf};

/// What a successful conversion cost.
#[derive(Clone, Debug)]
pub struct Conversion {
    /// The pool slot whose LibreOffice converted it.
    pub slot: usize,
    /// Time spent waiting for a free LibreOffice process.
    pub queue_wait: Duration,
    /// Time LibreOffice spent converting.
    pub convert_time: Duration,
    pub pdf_bytes: u64,
    /// The page count, the fonts asked for and used, and the layout risk.
    pub fidelity: Fidelity,
    /// Page 1 as a PNG, when the options ask for one.
    pub preview: Option<Preview>,
}

/// A document checked, and the file LibreOffice is to read.
struct Prepared {
    extension: &'static str,
    document: tempfile::NamedTempFile,
    /// How a CSV is read.
    dialect: Option<Dialect>,
    /// What LibreOffice opens it with, if it decrypts it itself.
    password: Option<child::Password>,
}

/// Where and how long a document was converted.
struct Ran {
    slot: usize,
    queue_wait: Duration,
    run_time: Duration,
}

pub struct Pool {
    supervisor: Supervisor<child::Request, child::Response>,
    job_timeout: Duration,
    max_output_bytes: u64,
    max_pages: u64,
    limits: Limits,
    /// Where rebuilt packages and the slots' scratch directories are; kept
    /// as long as the pool.
    workspace: Arc<Workspace>,
    /// The fonts its processes have, for the fidelity report.
    fonts: Arc<fidelity::Installed>,
    /// How many of them the deployment brought.
    own_fonts: usize,
    /// Our own executable, which also decrypts (`decrypt`).
    program: PathBuf,
    /// Where the passwords documents name are (`PASSWORDS_DIR`).
    passwords_dir: Option<PathBuf>,
}

impl Pool {
    /// What makes this pool's PDFs, as one name (LibreOffice's version,
    /// ours, the fonts, the deployment's own among them): the content
    /// cache keys on it.
    pub fn engine_identity(own_fonts: Option<&OwnFonts>) -> anyhow::Result<String> {
        engine::identity(own_fonts.map(|fonts| fonts.digest.as_str()))
    }

    /// Starts the processes; they warm up in the background and conversions
    /// queue until one is ready.
    pub fn start(config: PoolConfig, workspace: Arc<Workspace>) -> anyhow::Result<Pool> {
        libreofficekit::Office::find_install_path().context(
            "LibreOffice is not installed: run ./dev/setup, or install LibreOffice 25.2's -nogui Writer, Calc, Impress and Draw packages and their uiconfig packages from bookworm-backports (docs/fidelity.md, The engine)",
        )?;
        if sandbox::landlock_abi().is_none() {
            tracing::warn!(
                "this kernel has no Landlock: LibreOffice processes can read any file the worker can (Linux 5.13 or later, with Landlock enabled, confines them)"
            );
        }
        volume::warn_if_small(workspace.slots(), config.size as u64 * config.scratch_cap);
        if !preview::installed() {
            tracing::warn!(
                "pdftoppm (poppler-utils) is not installed: a document asking for a preview fails, and is retried, until it is"
            );
        }
        let allocator = environment::jemalloc();
        if allocator.is_none() {
            tracing::info!(
                "libjemalloc2 is not installed: LibreOffice runs on glibc malloc, about 15% slower"
            );
        }
        let fontconfig = config.own_fonts.as_ref().map(|f| f.fontconfig.clone());
        let tool = FontTool::new(config.program.clone(), fontconfig.clone());
        let own_fonts = config.own_fonts.as_ref().map_or(0, |fonts| fonts.count);
        let program = config.program.clone();
        let spec = Spec {
            name: "libreoffice",
            program: config.program,
            args: vec![OFFICE_CHILD_SUBCOMMAND.into()],
            prepare: Box::new(move |scratch, command| {
                environment::prepare_child(scratch, command, allocator.as_deref())?;
                // After the environment is cleared: the deployment's fonts.
                if let Some(fontconfig) = &fontconfig {
                    command.env("FONTCONFIG_FILE", fontconfig);
                }
                Ok(())
            }),
            scratch_root: workspace.slots().to_owned(),
            start_timeout: Duration::from_secs(60),
            recycle_after: config.recycle_after,
            memory_limit: config.memory_limit,
            file_size_cap: config.max_output_bytes,
            cpu_budget: Some(pool_config::cpu_budget(config.job_timeout)),
            scratch_cap: config.scratch_cap,
            unfit: Box::new(profile::unfit),
            backoff: Backoff {
                first: Duration::from_millis(500),
                longest: Duration::from_secs(30),
            },
        };
        Ok(Pool {
            supervisor: Supervisor::start(spec, config.size),
            job_timeout: config.job_timeout,
            max_output_bytes: config.max_output_bytes,
            max_pages: config.max_pages,
            limits: config.limits,
            workspace,
            fonts: Arc::new(fidelity::Installed::new(Box::new(move |name| {
                tool.command(name)
            }))),
            own_fonts,
            program,
            passwords_dir: config.passwords_dir,
        })
    }

    /// Converts the document at `input` into a PDF at `output`, made as
    /// `options` say. `name` is the document's real name, whose extension
    /// decides how it is read (the file at `input` may have any name).
    pub async fn convert(
        &self,
        input: &Path,
        name: &Path,
        output: &Path,
        options: &PdfOptions,
    ) -> Result<Conversion, ConvertError> {
        let converted = self.inspect_and_run(input, name, output, options).await;
        converted.map_err(|error| volume::blame(error, volume::space(self.workspace.slots())))
    }

    /// [`Pool::convert`], with failures as they were met.
    async fn inspect_and_run(
        &self,
        input: &Path,
        name: &Path,
        output: &Path,
        options: &PdfOptions,
    ) -> Result<Conversion, ConvertError> {
        let prepared = self.prepare(input, name, options).await?;
        let extension = prepared.extension;
        let import = (prepared.dialect.as_ref()).map_or_else(String::new, Dialect::filter_options);
        let document = request::ForLibreOffice {
            file: prepared.document,
            extension,
            import,
            password: prepared.password,
        };
        let ran = (self.run(document, output, options).await).map_err(|error| {
            match (error, &options.password_secret) {
                (ConvertError::Password(_), Some(name)) => {
                    ConvertError::Password(format!("the password named {name:?} did not open it"))
                }
                (error, _) => error,
            }
        })?;
        let checked = self.check_pdf(output).await?;
        let mut fidelity = self.report(input, extension, &checked, options).await?;
        fidelity.csv = prepared.dialect;
        if let Some(reason) = fidelity::refusal(options.font_policy, &fidelity) {
            let _ = tokio::fs::remove_file(output).await;
            let fidelity = Box::new(fidelity);
            return Err(ConvertError::Fonts { reason, fidelity });
        }
        let preview = match options.preview {
            Some(width) => Some(self.preview(output, width).await?),
            None => None,
        };
        Ok(Conversion {
            slot: ran.slot,
            queue_wait: ran.queue_wait,
            convert_time: ran.run_time,
            pdf_bytes: checked.bytes,
            fidelity,
            preview,
        })
    }

    /// A PNG of page 1 of the PDF at `output`, `width` pixels wide, beside
    /// it; without it, no PDF either.
    async fn preview(&self, output: &Path, width: u32) -> Result<Preview, ConvertError> {
        let draw = preview::Draw {
            program: &self.program,
            deadline: self.job_timeout,
            max_bytes: self.max_output_bytes,
        };
        draw.render(output, width).await
    }

    /// The document at `input` (named `name`) checked, and the file
    /// LibreOffice is to read made from it, off the async threads.
    async fn prepare(
        &self,
        input: &Path,
        name: &Path,
        options: &PdfOptions,
    ) -> Result<Prepared, ConvertError> {
        let (input, name, limits) = (input.to_owned(), name.to_owned(), self.limits.clone());
        let (work, options) = (self.workspace.jobs().to_owned(), options.clone());
        let (program, passwords) = (self.program.clone(), self.passwords_dir.clone());
        tokio::task::spawn_blocking(move || {
            let plain = decrypt::unlocked(&input, &options, &program, passwords.as_deref(), &work)?;
            let input = plain.as_ref().map_or(input, |plain| plain.path().to_owned());
            let inspected = inspect::check_locked(&input, &name, &limits, &work).map_err(|error| {
                match (error, &options.password_secret) {
                    (ConvertError::Encrypted, Some(_)) => ConvertError::Password(
                        "its encryption is none that a password opens here (.docx .xlsx .pptx, OpenDocument, .doc, .xls): remove its password".into(),
                    ),
                    (error, _) => error,
                }
            })?;
            let (extension, encrypted) = (inspected.extension, inspected.encrypted);
            let password =
                decrypt::for_libreoffice(encrypted, extension, &options, passwords.as_deref())?;
            let (document, dialect) =
                request::document_for_libreoffice(inspected, &input, &options, &work)?;
            Ok(Prepared {
                extension,
                document,
                dialect,
                password,
            })
        })
        .await
        .map_err(|e| ConvertError::Internal(format!("input check panicked: {e}")))?
    }

    /// The fidelity report of the PDF `checked`, made from `input`.
    async fn report(
        &self,
        input: &Path,
        extension: &'static str,
        checked: &pdf::Checked,
        options: &PdfOptions,
    ) -> Result<Fidelity, ConvertError> {
        let (source, fonts) = (input.to_owned(), self.fonts.clone());
        let ours: Vec<&str> = options.watermark.iter().map(|_| WATERMARK_FONT).collect();
        let (pages, embedded) = (checked.pages, checked.fonts.clone());
        tokio::task::spawn_blocking(move || {
            let requested = fidelity::requested(&source, extension);
            fidelity::report(&requested, pages, &embedded, &fonts, &ours)
        })
        .await
        .map_err(|e| ConvertError::Internal(format!("the fidelity report panicked: {e}")))
    }

    /// Has a LibreOffice process convert `document` (read as `extension`)
    /// and takes its PDF into `output`. LibreOffice reads and writes only
    /// inside its own request directory, under names we chose: no document
    /// name reaches its file system, and no process can reach another's
    /// job (Landlock, `sandbox`).
    async fn run(
        &self,
        document: request::ForLibreOffice,
        output: &Path,
        options: &PdfOptions,
    ) -> Result<Ran, ConvertError> {
        let with_password = document.password.is_some();
        let filter = options.filter_data();
        let prepare = Box::new(move |dir: &RequestDir| request::place(dir, document, filter));
        let reply = self
            .supervisor
            .call_in(prepare, self.job_timeout)
            .await
            .map_err(|error| self.call_failed(error))?;
        let ran = Ran {
            slot: reply.slot,
            queue_wait: reply.queue_wait,
            run_time: reply.run_time,
        };
        // Out of the request directory at once: the slot waits for it back.
        let taken = match self.answered(reply.value, reply.memory) {
            Err(error) => Err(Taken::Failed(error)),
            Ok(()) => take_pdf(&reply.dir, output, self.max_output_bytes).await,
        };
        // A process that held a password holds it no longer than its job;
        // one that left something other than its PDF is not trusted again.
        if with_password || matches!(taken, Err(Taken::Misbehaved(_))) {
            reply.dir.condemn();
        }
        match taken {
            Err(Taken::Misbehaved(error) | Taken::Failed(error)) => Err(error),
            Ok(()) => Ok(ran),
        }
    }

    /// The PDF at `output` checked, and within `MAX_PAGES`; removed if not.
    async fn check_pdf(&self, output: &Path) -> Result<pdf::Checked, ConvertError> {
        let checked = pdf::check(output).await.and_then(|checked| {
            if checked.pages <= self.max_pages {
                Ok(checked)
            } else {
                Err(ConvertError::ResourceLimit(format!(
                    "the PDF has {} pages, over the {} allowed (MAX_PAGES)",
                    checked.pages, self.max_pages
                )))
            }
        });
        if checked.is_err() {
            let _ = tokio::fs::remove_file(output).await;
        }
        checked
    }

    pub fn protections(&self) -> Protections {
        Protections {
            network: true,
            files: sandbox::landlock_abi(),
        }
    }

    pub fn slots(&self) -> Vec<SlotStatus> {
        self.supervisor.status()
    }

    pub fn ready_slots(&self) -> usize {
        self.slots()
            .iter()
            .filter(|s| matches!(s.state, SlotState::Ready | SlotState::Busy))
            .count()
    }

    /// Kills every LibreOffice process now; conversions still running fail.
    pub async fn shutdown(&self) {
        self.supervisor.shutdown().await;
    }
}
