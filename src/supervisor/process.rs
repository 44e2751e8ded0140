//! One running child process: its start-up handshake, one request and its
//! reply, its memory as the kernel counts it, why it died, and its stop.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{READY, Spec, limits};

/// One running child process and its private scratch directory.
pub(super) struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    scratch: tempfile::TempDir,
    stderr_tail: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// A new empty directory for the next request, in place of the last
    /// one's: nothing of one request is left for the next.
    pub(super) fn request_dir(&self) -> std::io::Result<std::path::PathBuf> {
        let dir = self.scratch.path().join("request");
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir(&dir)?;
        Ok(dir)
    }

    pub(super) async fn start(spec: &Spec, slot: usize) -> anyhow::Result<Process> {
        let scratch = tempfile::Builder::new()
            .prefix(&format!("{}-slot{slot}-", spec.name))
            .tempdir_in(&spec.scratch_root)
            .with_context(|| {
                format!(
                    "creating a scratch directory in {}",
                    spec.scratch_root.display()
                )
            })?;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own group, so a kill reaches anything the child spawned.
            .process_group(0);
        let (memory_cap, file_size_cap) = (spec.rss_ceiling, spec.file_size_cap);
        // SAFETY: only calls prctl, setrlimit and signal, which are
        // async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                // Children must not outlive us, even after a kill -9 of the parent.
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                limits::apply(memory_cap, file_size_cap)
            });
        }
        (spec.prepare)(scratch.path(), &mut command)?;
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {}", spec.program.display()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr_tail =
            forward_stderr(child.stderr.take().expect("piped stderr"), spec.name, slot);
        let mut process = Process {
            child,
            stdin,
            stdout,
            scratch,
            stderr_tail,
        };
        match tokio::time::timeout(spec.start_timeout, process.stdout.next_line()).await {
            Ok(Ok(Some(line))) if line == READY => Ok(process),
            Ok(Ok(Some(line))) => {
                process.stop().await;
                bail!("expected `{READY}` from the new process, got {line:?}")
            }
            Ok(Ok(None)) | Ok(Err(_)) => {
                let cause = process
                    .death_cause(std::io::ErrorKind::UnexpectedEof.into())
                    .await;
                process.stop().await;
                bail!("the process exited during start-up: {cause}")
            }
            Err(_) => {
                process.stop().await;
                bail!("the process was not ready within {:?}", spec.start_timeout)
            }
        }
    }

    pub(super) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        request: &Req,
    ) -> std::io::Result<Resp> {
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.flush().await?;
        let answer = self
            .stdout
            .next_line()
            .await?
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        serde_json::from_str(&answer)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Waits until the process exits by itself; its exit status.
    pub(super) async fn exited(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(error) => format!("unknown ({error})"),
        }
    }

    /// Describes why the protocol broke: the exit status if the process is
    /// gone, and the last lines it wrote to stderr.
    pub(super) async fn death_cause(&mut self, error: std::io::Error) -> String {
        let status = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        let mut cause = match status {
            Ok(Ok(status)) => status.to_string(),
            _ => format!("broken pipe: {error}"),
        };
        let tail = self.stderr_tail.lock().expect("stderr tail").join(" | ");
        if !tail.is_empty() {
            cause.push_str("; last stderr: ");
            cause.push_str(&tail);
        }
        cause
    }

    pub(super) fn rss_bytes(&self) -> u64 {
        let Some(pid) = self.child.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/statm"))
            .ok()
            .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * page_size())
    }

    /// Kills the whole process group, reaps the child and removes its
    /// scratch directory. Children keep no state worth a graceful exit.
    pub(super) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = self.child.wait().await;
        if let Err(error) = self.scratch.close() {
            tracing::warn!(%error, "could not remove a scratch directory");
        }
    }
}

pub(super) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as u64,
        _ => 4096,
    }
}

const STDERR_TAIL_LINES: usize = 5;

/// Logs a child's stderr at debug level (LibreOffice is chatty) and keeps the
/// last few lines to explain a crash.
fn forward_stderr(
    stderr: tokio::process::ChildStderr,
    name: &'static str,
    slot: usize,
) -> Arc<Mutex<Vec<String>>> {
    let tail = Arc::new(Mutex::new(Vec::new()));
    let keep = tail.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(slot, child = name, "{line}");
            let mut tail = keep.lock().expect("stderr tail");
            if tail.len() == STDERR_TAIL_LINES {
                tail.remove(0);
            }
            tail.push(line);
        }
    });
    tail
}
