//! What a pool is started with: its size, deadline and caps, from the
//! command line or at their defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::Limits;
use crate::config::{PoolArgs, defaults};

#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Our own executable, run as `office-child` for each LibreOffice process.
    pub program: PathBuf,
    pub size: usize,
    pub job_timeout: Duration,
    pub recycle_after: u64,
    pub memory_limit: u64,
    /// The largest PDF (or any file) a LibreOffice process may write.
    pub max_output_bytes: u64,
    /// More pages than this are refused.
    pub max_pages: u64,
    /// Bytes a LibreOffice process may hold in files while it converts:
    /// its profile, temp files, the document and the PDF.
    pub scratch_cap: u64,
    pub limits: Limits,
    /// The fonts the deployment brought (`FONTS`), if any.
    pub own_fonts: Option<OwnFonts>,
    /// Where the passwords documents name are (`PASSWORDS_DIR`).
    pub passwords_dir: Option<PathBuf>,
}

/// The fonts a deployment brought, ready for the pool.
#[derive(Clone, Debug)]
pub struct OwnFonts {
    /// Their `fonts.conf` ([`super::configure_fonts`]).
    pub fontconfig: PathBuf,
    /// How many font files.
    pub count: usize,
    /// Of their names and contents: another set is another engine.
    pub digest: String,
}

impl PoolConfig {
    /// One process of `program` (run as `office-child`), with every other
    /// setting at its default (`config::defaults`).
    pub fn defaults(program: PathBuf) -> PoolConfig {
        PoolConfig {
            program,
            size: 1,
            job_timeout: Duration::from_secs(defaults::JOB_TIMEOUT_SECS),
            recycle_after: defaults::RECYCLE_AFTER,
            memory_limit: defaults::SLOT_MEMORY_LIMIT_MIB << 20,
            max_output_bytes: defaults::MAX_OUTPUT_BYTES,
            max_pages: defaults::MAX_PAGES,
            scratch_cap: defaults::SCRATCH_LIMIT_MIB << 20,
            limits: Limits::default(),
            own_fonts: None,
            passwords_dir: None,
        }
    }

    /// The pool `args` describe, of our own executable's LibreOffice processes.
    pub fn from_args(args: &PoolArgs) -> anyhow::Result<PoolConfig> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let program = std::env::current_exe().map_err(|e| {
            anyhow::anyhow!("cannot find our own executable to run LibreOffice in: {e}")
        })?;
        Ok(PoolConfig {
            program,
            size: args.pool_size.map_or(cores, usize::from),
            job_timeout: Duration::from_secs(args.job_timeout),
            recycle_after: args.recycle_after,
            memory_limit: args.slot_memory_limit_mib << 20,
            max_output_bytes: args.max_output_bytes,
            max_pages: args.max_pages,
            scratch_cap: args.scratch_limit_mib << 20,
            limits: Limits::default(),
            own_fonts: None,
            passwords_dir: args.passwords_dir.clone(),
        })
    }
}

/// CPU time one conversion may use: a backstop to the deadline, so twice it,
/// which LibreOffice's few threads do not reach in a job that would finish.
pub(super) fn cpu_budget(job_timeout: Duration) -> Duration {
    job_timeout * 2
}
