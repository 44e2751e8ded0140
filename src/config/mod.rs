//! Every setting, from flags or environment variables, checked at start.
//!
//! Each flag of a long-running command also reads an environment variable,
//! so the same binary is configured by flags locally and by `--set-env-vars`
//! on Cloud Run. Values are validated here, once, with messages that name the
//! setting and say what to do. Plain values only: each part builds itself
//! from its arguments (`PoolConfig::from_args`, `Settings::from_args`), so
//! this module imports nothing of the crate but the PDF options.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod pdf;
mod push;
pub use pdf::OptionArgs;
pub use push::{PushArgs, PushAuth};

/// Every default, in one place: clap applies and shows them, and
/// [`crate::office::PoolConfig::defaults`] (which the tests start from)
/// takes them. docs/operations.md's table says the same.
pub mod defaults {
    pub const JOB_TIMEOUT_SECS: u64 = 120;
    pub const RECYCLE_AFTER: u64 = 200;
    pub const SLOT_MEMORY_LIMIT_MIB: u64 = 1024;
    pub const MAX_OUTPUT_BYTES: u64 = 256 << 20;
    pub const MAX_PAGES: u64 = 5000;
    pub const SCRATCH_LIMIT_MIB: u64 = 512;
    pub const MAX_INPUT_BYTES: u64 = 100 << 20;
    pub const MAX_ATTEMPTS: u32 = 5;
    /// `MAX_MESSAGES` per LibreOffice process: enough that the next
    /// documents are fetched and the last ones stored while a slot
    /// converts, with Cloud Storage tens of milliseconds away.
    pub const MESSAGES_PER_SLOT: usize = 8;
    pub const PORT: u16 = 8080;
    pub const SHUTDOWN_GRACE_SECS: u64 = 8;
    pub const ACK_DEADLINE_SECS: u64 = 60;
    pub const PULL_SILENCE_SECS: u64 = 300;
    pub const STORAGE_RETRY_SECONDS: u64 = 20;
}

/// The hidden subcommand each LibreOffice process of the pool runs as.
pub const OFFICE_CHILD_SUBCOMMAND: &str = "office-child";

/// The hidden subcommand a password-protected package is decrypted in.
pub const DECRYPT_SUBCOMMAND: &str = "decrypt";

/// The hidden subcommand fontconfig's tools run confined as.
pub const FONT_TOOL_SUBCOMMAND: &str = "font-tool";

/// The hidden subcommand a preview is drawn in, confined.
pub const PREVIEW_SUBCOMMAND: &str = "render-preview";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// JSON when a machine reads stdout (Cloud Run), text at a terminal.
    pub fn detect() -> LogFormat {
        if std::io::stdout().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "docx2pdf",
    version,
    about = "Office documents to PDF with warm LibreOffice processes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert local files to PDF.
    Convert(ConvertArgs),
    /// Pull conversion messages from Pub/Sub (or take push requests): documents in Cloud Storage to PDFs.
    Worker(WorkerArgs),
    /// Upload documents for a running worker and wait for their PDFs.
    Submit(SubmitArgs),
    /// Ask a push-mode worker to convert one object, as the original service's clients did.
    Request(RequestArgs),
    /// Exit 0 if the worker on this machine answers /healthz (for container health checks).
    Health(HealthArgs),
    /// One LibreOffice process of the pool (started by the pool, not by people).
    #[command(name = OFFICE_CHILD_SUBCOMMAND, hide = true)]
    OfficeChild,
    /// Decrypts a password-protected package, confined (run by the pool, not by people).
    #[command(name = DECRYPT_SUBCOMMAND, hide = true)]
    Decrypt {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Draws a PDF's first page as a PNG, confined (run by the pool, not by people).
    #[command(name = PREVIEW_SUBCOMMAND, hide = true)]
    RenderPreview {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// A fontconfig tool, confined (run by the pool, not by people).
    #[command(name = FONT_TOOL_SUBCOMMAND, hide = true)]
    FontTool {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, Args)]
pub struct PoolArgs {
    /// LibreOffice processes converting in parallel [default: the number of cores]
    #[arg(long = "jobs", short = 'j', visible_alias = "pool-size", env = "POOL_SIZE", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub pool_size: Option<u16>,
    /// Seconds one document may take before its LibreOffice process is killed
    #[arg(long = "timeout", env = "JOB_TIMEOUT", default_value_t = defaults::JOB_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_timeout: u64,
    /// Replace a LibreOffice process after this many documents
    #[arg(long, env = "RECYCLE_AFTER", default_value_t = defaults::RECYCLE_AFTER, value_parser = clap::value_parser!(u64).range(1..))]
    pub recycle_after: u64,
    /// Cap on a LibreOffice process's private memory while it converts, in MiB; above it between documents, the process is replaced
    #[arg(long, env = "SLOT_MEMORY_LIMIT_MIB", default_value_t = defaults::SLOT_MEMORY_LIMIT_MIB, value_parser = clap::value_parser!(u64).range(64..))]
    pub slot_memory_limit_mib: u64,
    /// Largest PDF, or any other file, a LibreOffice process may write, in bytes
    #[arg(long, env = "MAX_OUTPUT_BYTES", default_value_t = defaults::MAX_OUTPUT_BYTES, value_parser = clap::value_parser!(u64).range((1 << 20)..))]
    pub max_output_bytes: u64,
    /// Largest page count of a PDF; more is refused
    #[arg(long, env = "MAX_PAGES", default_value_t = defaults::MAX_PAGES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pages: u64,
    /// Cap on what a LibreOffice process holds in files while it converts (its profile, temp files, the document and the PDF), in MiB: on Cloud Run files are memory
    #[arg(long, env = "SCRATCH_LIMIT_MIB", default_value_t = defaults::SCRATCH_LIMIT_MIB, value_parser = clap::value_parser!(u64).range(64..))]
    pub scratch_limit_mib: u64,
    /// The deployment's own fonts (.ttf, .otf, .ttc), loaded at start ahead of the stand-ins: a local directory, or for the worker a Cloud Storage prefix (gs://bucket/fonts/) that uploaders cannot write
    #[arg(long, env = "FONTS")]
    pub fonts: Option<String>,
    /// A directory of passwords, one file per password (a mounted secret), that documents name with the option password-secret=NAME
    #[arg(long, env = "PASSWORDS_DIR")]
    pub passwords_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Documents to convert: text documents (.docx .doc .odt .rtf .txt ...), spreadsheets (.xlsx .xls .ods .csv), presentations (.pptx .ppt .odp ...), drawings (.odg)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write PDFs into this directory [default: next to each input]
    #[arg(long, conflicts_with = "output")]
    pub out_dir: Option<PathBuf>,
    /// Write the PDF to this path (one input file only)
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    pub pdf: OptionArgs,
    /// Print a fidelity report per document on stdout (pages, fonts asked for and used, layout risk)
    #[arg(long, value_enum)]
    pub report: Option<ReportFormat>,
    /// Log format [default: json when stdout is not a terminal]
    #[arg(long, env = "LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// How `convert --report` prints.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ReportFormat {
    /// One JSON object per document.
    Json,
}

impl ConvertArgs {
    /// Checks what clap cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.output.is_some() && self.files.len() != 1 {
            anyhow::bail!(
                "-o/--output names one PDF but {} files were given: use --out-dir DIR for several",
                self.files.len()
            );
        }
        if let Some(dir) = &self.out_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create --out-dir {}: {e}", dir.display()))?;
        }
        Ok(())
    }

    /// Where the PDF for `input` goes.
    pub fn output_for(&self, input: &std::path::Path) -> PathBuf {
        if let Some(output) = &self.output {
            return output.clone();
        }
        let name = input.with_extension("pdf");
        match &self.out_dir {
            Some(dir) => dir.join(name.file_name().unwrap_or_default()),
            None => name,
        }
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The subscription to pull from: projects/PROJECT/subscriptions/NAME [default: none, push requests only]
    #[arg(long, env = "SUBSCRIPTION")]
    pub subscription: Option<String>,
    /// Bucket that receives the PDFs and failure records
    #[arg(long, env = "OUTPUT_BUCKET")]
    pub output_bucket: String,
    /// Prefix for every output object name
    #[arg(long, env = "OUTPUT_PREFIX", default_value = "")]
    pub output_prefix: String,
    /// Comma-separated buckets documents may come from [default: any]
    #[arg(long, env = "INPUT_BUCKETS", value_delimiter = ',')]
    pub input_buckets: Vec<String>,
    #[command(flatten)]
    pub pool: PoolArgs,
    /// Documents larger than this are refused without being downloaded
    #[arg(long, env = "MAX_INPUT_BYTES", default_value_t = defaults::MAX_INPUT_BYTES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_input_bytes: u64,
    /// Messages worked on at once (their Cloud Storage calls overlap with conversions) [default: 8 per LibreOffice process]
    #[arg(long, env = "MAX_MESSAGES", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_messages: Option<u16>,
    /// Deliveries after which a transient failure counts as permanent
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = defaults::MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Port for /healthz, /readyz, /metrics and Pub/Sub push requests (POST /)
    #[arg(long, env = "PORT", default_value_t = defaults::PORT)]
    pub port: u16,
    /// Seconds in-flight jobs get to finish after SIGTERM (Cloud Run allows 10 in all)
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = defaults::SHUTDOWN_GRACE_SECS, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub shutdown_grace: u64,
    /// Seconds Pub/Sub waits to hear from a crashed worker before redelivering (10-600)
    #[arg(long, env = "ACK_DEADLINE", default_value_t = defaults::ACK_DEADLINE_SECS, value_parser = clap::value_parser!(u64).range(10..=600))]
    pub ack_deadline: u64,
    /// Seconds the subscription stream may bring nothing, with nothing in flight, before it is reopened on a new connection (0: never)
    #[arg(long, env = "PULL_SILENCE_SECONDS", default_value_t = defaults::PULL_SILENCE_SECS)]
    pub pull_silence_seconds: u64,
    /// Seconds one Cloud Storage call keeps retrying before the message is nacked
    #[arg(long, env = "STORAGE_RETRY_SECONDS", default_value_t = defaults::STORAGE_RETRY_SECONDS, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub storage_retry_seconds: u64,
    /// Topic that gets one event per finished message (outcome, source, result)
    #[arg(long, env = "RESULT_TOPIC")]
    pub result_topic: Option<String>,
    /// host:port or URL of the Pub/Sub emulator; unset means Google Cloud
    #[arg(long, env = "PUBSUB_EMULATOR_HOST")]
    pub pubsub_emulator_host: Option<String>,
    /// host:port or URL of the Cloud Storage emulator; unset means Google Cloud
    #[arg(long, env = "STORAGE_EMULATOR_HOST")]
    pub storage_emulator_host: Option<String>,
    /// Log format [default: json when stdout is not a terminal]
    #[arg(long, env = "LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(flatten)]
    pub push: PushArgs,
    /// The PDF options of every document, unless its metadata or its job says otherwise
    #[command(flatten)]
    pub pdf: OptionArgs,
    /// Copy the PDF of a document converted before (same bytes, options and engine) instead of converting it again: on or off
    #[arg(long, env = "CACHE", default_value = "on", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub cache: bool,
    /// A file holding the key (32 bytes or more) that seals cache entries as this worker's: a mounted secret nobody else reads [default: none, and the cache is off]
    #[arg(long, env = "CACHE_KEY_FILE")]
    pub cache_key_file: Option<PathBuf>,
}

impl WorkerArgs {
    /// Checks what clap cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(subscription) = &self.subscription {
            full_name("SUBSCRIPTION=", subscription, "subscriptions")?;
        }
        if let Some(topic) = &self.result_topic {
            full_name("RESULT_TOPIC=", topic, "topics")?;
        }
        if self.output_bucket.is_empty() || self.output_bucket.contains('/') {
            anyhow::bail!(
                "OUTPUT_BUCKET={:?} must be a bucket name, without gs:// or slashes",
                self.output_bucket
            );
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Documents to upload
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The input bucket
    #[arg(long, env = "INPUT_BUCKET")]
    pub bucket: String,
    /// Object name prefix in the input bucket
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Topic that the worker's subscription reads: projects/PROJECT/topics/NAME
    #[arg(long, env = "TOPIC", required_unless_present = "notify")]
    pub topic: Option<String>,
    /// Publish nothing: the bucket's notification announces the upload
    #[arg(long, conflicts_with = "topic")]
    pub notify: bool,
    /// Where the worker writes PDFs (its OUTPUT_BUCKET)
    #[arg(long, env = "OUTPUT_BUCKET")]
    pub output_bucket: String,
    /// The worker's OUTPUT_PREFIX
    #[arg(long, env = "OUTPUT_PREFIX", default_value = "")]
    pub output_prefix: String,
    /// Download each PDF into this directory
    #[arg(long)]
    pub download: Option<PathBuf>,
    /// Seconds to wait for all results
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// The PDF options, set on each upload as docx2pdf-* metadata
    #[command(flatten)]
    pub pdf: OptionArgs,
    /// A service-account key file [default: Application Default Credentials]
    #[arg(long, env = "GOOGLE_APPLICATION_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// host:port or URL of the Pub/Sub emulator
    #[arg(long, env = "PUBSUB_EMULATOR_HOST", hide = true)]
    pub pubsub_emulator_host: Option<String>,
    /// host:port or URL of the Cloud Storage emulator
    #[arg(long, env = "STORAGE_EMULATOR_HOST", hide = true)]
    pub storage_emulator_host: Option<String>,
}

impl SubmitArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        for file in &self.files {
            if !file.is_file() {
                anyhow::bail!("{}: no such file", file.display());
            }
        }
        if let Some(topic) = &self.topic {
            full_name("--topic ", topic, "topics")?;
        }
        if let Some(dir) = &self.download {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create --download {}: {e}", dir.display()))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The worker's URL, e.g. https://docx2pdf-abc-ew.a.run.app
    pub url: String,
    /// Bucket of the document
    #[arg(long)]
    pub bucket: String,
    /// Name of the document in the bucket
    #[arg(long)]
    pub object: String,
    /// Audience of the ID token [default: the URL's scheme and host]
    #[arg(long)]
    pub audience: Option<String>,
    /// A service-account key file that makes the ID token [default: Application Default Credentials]
    #[arg(long, conflicts_with = "id_token")]
    pub credentials: Option<PathBuf>,
    /// Send this ID token (e.g. from `gcloud auth print-identity-token`) instead of making one
    #[arg(long, env = "ID_TOKEN", hide_env_values = true)]
    pub id_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The worker's port
    #[arg(long, env = "PORT", default_value_t = defaults::PORT)]
    pub port: u16,
}

/// `projects/PROJECT/<collection>/NAME`, as Pub/Sub names resources.
fn full_name(setting: &str, value: &str, collection: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = value.split('/').collect();
    if parts.len() != 4
        || parts[0] != "projects"
        || parts[2] != collection
        || parts[1].is_empty()
        || parts[3].is_empty()
    {
        anyhow::bail!(
            "{setting}{value:?} must be the full name projects/PROJECT/{collection}/NAME"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
