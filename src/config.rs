//! Every setting, from flags or environment variables, checked at start.
//!
//! Each flag of a long-running command also reads an environment variable,
//! so the same binary is configured by flags locally and by `--set-env-vars`
//! on Cloud Run. Values are validated here, once, with messages that name the
//! setting and say what to do.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::office::{self, PoolConfig};
use crate::telemetry::LogFormat;

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
    /// One LibreOffice process of the pool (started by the pool, not by people).
    #[command(name = office::CHILD_SUBCOMMAND, hide = true)]
    OfficeChild,
}

#[derive(Debug, Args)]
pub struct PoolArgs {
    /// LibreOffice processes converting in parallel [default: the number of cores]
    #[arg(long = "jobs", short = 'j', visible_alias = "pool-size", env = "POOL_SIZE", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub pool_size: Option<u16>,
    /// Seconds one document may take before its LibreOffice process is killed
    #[arg(long = "timeout", env = "JOB_TIMEOUT", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_timeout: u64,
    /// Replace a LibreOffice process after this many documents
    #[arg(long, env = "RECYCLE_AFTER", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub recycle_after: u64,
    /// Replace a LibreOffice process whose resident memory exceeds this many MiB
    #[arg(long, env = "SLOT_MEMORY_LIMIT_MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(64..))]
    pub slot_memory_limit_mib: u64,
}

impl PoolArgs {
    pub fn pool_config(&self) -> anyhow::Result<PoolConfig> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let program = std::env::current_exe().map_err(|e| {
            anyhow::anyhow!("cannot find our own executable to run LibreOffice in: {e}")
        })?;
        Ok(PoolConfig {
            program,
            size: self.pool_size.map_or(cores, usize::from),
            job_timeout: Duration::from_secs(self.job_timeout),
            recycle_after: self.recycle_after,
            rss_ceiling: self.slot_memory_limit_mib << 20,
            limits: office::Limits::default(),
        })
    }
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Documents to convert (.docx, .doc, .odt, .rtf, .txt and their templates)
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
    /// Log format [default: json when stdout is not a terminal]
    #[arg(long, env = "LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
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
        if let Some(dir) = &self.out_dir
            && !dir.is_dir()
        {
            anyhow::bail!(
                "--out-dir {}: no such directory; create it first",
                dir.display()
            );
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
