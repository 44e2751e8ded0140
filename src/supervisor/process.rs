//! One running child process: its start-up handshake, one request and its
//! reply, its memory as the kernel counts it, why it died, and its stop.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::confine::Confinement;
use super::lines::{self, Line};
use super::request_dir::{NAME as REQUEST, RequestDir};
use super::scratch::{self, Held};
use super::{READY, Spec, limits};

/// The longest reply line a child may send: replies are a few hundred
/// bytes of JSON, and a longer one is a child that lost its mind.
const LONGEST_REPLY: usize = 64 << 10;
/// Longer stderr lines are cut for the log and the crash report.
const LONGEST_STDERR_LINE: usize = 4 << 10;

/// A walk of a process's scratch, as far as the next one needs it.
#[derive(Clone, Copy, Default)]
struct Walked {
    written: Option<u64>,
    outside: u64,
}

/// One running child process and its private scratch directory.
pub(super) struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    scratch: tempfile::TempDir,
    /// The scratch directory as it was made: request directories are
    /// reached through it, whatever the child renames meanwhile.
    scratch_fd: OwnedFd,
    /// What it held in files once ready: its profile, warmed up.
    scratch_at_start: u64,
    /// Its write counter and what it held outside the request directory at
    /// the last walk of its scratch.
    last_walk: Walked,
    stderr_tail: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub(super) fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// What it held in files when it was ready to take requests.
    pub(super) fn scratch_at_start(&self) -> u64 {
        self.scratch_at_start
    }

    /// What it holds in files (with what is in its request directory set
    /// aside), walked only if it could hold more than `allowed` outside the
    /// request directory: a process that wrote less than the room left
    /// since the last walk (by its write counter, children it reaped
    /// included) cannot have. None: not walked, within `allowed`.
    pub(super) fn held_if_grown(&mut self, allowed: u64) -> Option<Held> {
        let written = self.pid().and_then(scratch::written);
        let room = allowed.saturating_sub(self.last_walk.outside);
        if let (Some(now), Some(then)) = (written, self.last_walk.written)
            && now.saturating_sub(then) <= room
        {
            return None;
        }
        let held = scratch::held(self.scratch.path(), Some(OsStr::new(REQUEST)), self.pid());
        self.last_walk = Walked {
            written,
            outside: held.outside(),
        };
        Some(held)
    }

    /// A new empty directory for the next request, in place of the last
    /// one's: nothing of one request is left for the next.
    pub(super) fn request_dir(&self) -> std::io::Result<RequestDir> {
        RequestDir::renew(self.scratch.path(), &self.scratch_fd)
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
        let scratch_fd = nix::fcntl::open(
            scratch.path(),
            OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .context("opening the scratch directory")?;
        let mut child = spawn(spec, scratch.path())?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr_tail =
            forward_stderr(child.stderr.take().expect("piped stderr"), spec.name, slot);
        let process = Process {
            child,
            stdin,
            stdout,
            scratch,
            scratch_fd,
            scratch_at_start: 0,
            last_walk: Walked::default(),
            stderr_tail,
        };
        let mut process = process.handshake(spec.start_timeout).await?;
        process.scratch_at_start = scratch::held(process.scratch(), None, process.pid()).total;
        process.last_walk = Walked {
            written: process.pid().and_then(scratch::written),
            outside: process.scratch_at_start,
        };
        Ok(process)
    }

    /// Waits for the new process's `ready`.
    async fn handshake(mut self, start_timeout: Duration) -> anyhow::Result<Process> {
        let first = lines::next(&mut self.stdout, LONGEST_REPLY);
        match tokio::time::timeout(start_timeout, first).await {
            Ok(Ok(Line::Whole(line))) if line == READY.as_bytes() => Ok(self),
            Ok(Ok(Line::Whole(line) | Line::Cut(line))) => {
                self.stop().await;
                let line = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                bail!("expected `{READY}` from the new process, got {line:?}")
            }
            Ok(Ok(Line::End)) | Ok(Err(_)) => {
                let cause = self
                    .death_cause(std::io::ErrorKind::UnexpectedEof.into())
                    .await;
                self.stop().await;
                bail!("the process exited during start-up: {cause}")
            }
            Err(_) => {
                self.stop().await;
                bail!("the process was not ready within {start_timeout:?}")
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
        let answer = match lines::next(&mut self.stdout, LONGEST_REPLY).await? {
            Line::Whole(answer) => answer,
            Line::Cut(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a reply longer than {LONGEST_REPLY} bytes"),
                ));
            }
            Line::End => return Err(std::io::ErrorKind::UnexpectedEof.into()),
        };
        serde_json::from_slice(&answer).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a reply that is not the JSON expected: {e}"),
            )
        })
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
        self.child
            .id()
            .and_then(limits::resident_bytes)
            .unwrap_or(0)
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

/// Starts `spec`'s program in its own process group, under its caps and
/// the supervision filter, with its state in `scratch`.
fn spawn(spec: &Spec, scratch: &Path) -> anyhow::Result<Child> {
    let confinement = Confinement::new()?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own group, so a kill reaches anything the child spawned.
        .process_group(0);
    let (memory_limit, file_size_cap) = (spec.memory_limit, spec.file_size_cap);
    // SAFETY: only calls prctl, setrlimit, signal and seccomp, which are
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // Children must not outlive us, even after a kill -9 of the parent.
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            limits::apply(memory_limit, file_size_cap)?;
            // Last: from here on no limit can be changed.
            confinement.install()
        });
    }
    (spec.prepare)(scratch, &mut command)?;
    command
        .spawn()
        .with_context(|| format!("spawning {}", spec.program.display()))
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
        let mut stderr = BufReader::new(stderr);
        loop {
            let line = match lines::next(&mut stderr, LONGEST_STDERR_LINE).await {
                Ok(Line::Whole(line)) => String::from_utf8_lossy(&line).into_owned(),
                Ok(Line::Cut(start)) => {
                    if lines::skip(&mut stderr).await.is_err() {
                        return;
                    }
                    format!("{} [cut]", String::from_utf8_lossy(&start))
                }
                Ok(Line::End) | Err(_) => return,
            };
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
