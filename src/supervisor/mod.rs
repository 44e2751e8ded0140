//! Process supervision, independent of what the supervised processes do.
//!
//! A [`Supervisor`] keeps N slots, each running one child process of a
//! [`Spec`], and hands requests to whichever slot is free. It owns the
//! mechanism the rest of the program should never have to think about:
//! spawning in a fresh private scratch directory, the start-up handshake,
//! per-request deadlines (kill the whole process group when one passes), a
//! cap on each process's memory while it works ([`memory`]), respawning after
//! a crash with exponential backoff, recycling after N requests or above an
//! RSS ceiling, and leaving nothing behind on stop.
//!
//! Children speak newline-delimited JSON: one request line in on stdin, one
//! response line out. A child announces it is warm by printing `ready`.
//! [`ChildChannel`] is the child's side of that protocol.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod limits;
pub use limits::Peak;

/// The line a child prints once it can take requests.
const READY: &str = "ready";

/// How to run one kind of supervised process.
pub struct Spec {
    /// Short name used in logs and scratch directory names.
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Points the process's state (profile, temp files) into its scratch
    /// directory, which is new for every process and removed when it stops.
    #[allow(clippy::type_complexity)]
    pub prepare: Box<dyn Fn(&Path, &mut Command) -> std::io::Result<()> + Send + Sync>,
    /// Where scratch directories are made.
    pub scratch_root: PathBuf,
    /// How long a new process may take to print `ready`.
    pub start_timeout: Duration,
    /// Replace a process after it has answered this many requests.
    pub recycle_after: u64,
    /// Replace a process whose resident memory exceeds this many bytes
    /// between requests; during one, the kernel refuses it more private
    /// memory (`RLIMIT_DATA`) than this. `u64::MAX`: no cap.
    pub rss_ceiling: u64,
    /// The largest file a process may write (`RLIMIT_FSIZE`): past it, the
    /// write fails with `EFBIG`. `u64::MAX`: no cap.
    pub file_size_cap: u64,
    /// First and longest wait between failed starts.
    pub backoff: (Duration, Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    Starting,
    Ready,
    Busy,
    Recycling,
    Stopped,
}

impl SlotState {
    pub const ALL: [SlotState; 5] = [
        SlotState::Starting,
        SlotState::Ready,
        SlotState::Busy,
        SlotState::Recycling,
        SlotState::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::Starting => "starting",
            SlotState::Ready => "ready",
            SlotState::Busy => "busy",
            SlotState::Recycling => "recycling",
            SlotState::Stopped => "stopped",
        }
    }
}

/// A snapshot of one slot, for health checks and metrics.
#[derive(Clone, Debug, Serialize)]
pub struct SlotStatus {
    pub id: usize,
    pub state: SlotState,
    pub pid: Option<u32>,
    /// Requests answered by this slot over its whole life.
    pub served: u64,
    /// Processes started after the first one (crashes, kills and recycles).
    pub restarts: u64,
    pub rss_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}: the process was killed and is being replaced")]
    Timeout(Duration),
    #[error("the process died during the request ({0}); it is being replaced")]
    Died(String),
    #[error(
        "the process died at its memory cap ({} MiB used of {} MiB); it is being replaced",
        peak.bytes >> 20,
        cap >> 20
    )]
    MemoryCap { peak: Peak, cap: u64 },
    #[error(
        "no process took the request within {0:?}: processes fail to start (see the log) or all are stuck"
    )]
    NoProcess(Duration),
    #[error("the supervisor is shutting down")]
    Stopped,
}

/// A child's answer with the time it spent waiting for a slot and running.
#[derive(Debug)]
pub struct Reply<T> {
    pub value: T,
    /// The slot that answered.
    pub slot: usize,
    pub queue_wait: Duration,
    pub run_time: Duration,
    /// The most private memory the process held while it ran the request.
    pub memory_peak: Peak,
}

struct Task<Req, Resp> {
    request: Req,
    deadline: Duration,
    enqueued: Instant,
    /// Told when a slot takes the request.
    taken: oneshot::Sender<()>,
    reply: oneshot::Sender<Result<Reply<Resp>, CallError>>,
}

type Queue<Req, Resp> = Arc<AsyncMutex<mpsc::UnboundedReceiver<Task<Req, Resp>>>>;

pub struct Supervisor<Req, Resp> {
    queue: mpsc::UnboundedSender<Task<Req, Resp>>,
    start_timeout: Duration,
    status: Arc<Mutex<Vec<SlotStatus>>>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl<Req, Resp> Supervisor<Req, Resp>
where
    Req: Serialize + Send + Sync + 'static,
    Resp: DeserializeOwned + Send + 'static,
{
    /// Starts `size` slots. They warm up in the background; requests queue
    /// until one is ready.
    pub fn start(spec: Spec, size: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let queue: Queue<Req, Resp> = Arc::new(AsyncMutex::new(rx));
        let status = Arc::new(Mutex::new(
            (0..size)
                .map(|id| SlotStatus {
                    id,
                    state: SlotState::Starting,
                    pid: None,
                    served: 0,
                    restarts: 0,
                    rss_bytes: 0,
                })
                .collect(),
        ));
        let start_timeout = spec.start_timeout;
        let spec = Arc::new(spec);
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        for id in 0..size {
            let slot = Slot {
                id,
                spec: spec.clone(),
                queue: queue.clone(),
                status: status.clone(),
                stop: stop.clone(),
            };
            tasks.spawn(slot.run());
        }
        tasks.close();
        Supervisor {
            queue: tx,
            start_timeout,
            status,
            stop,
            tasks,
        }
    }

    /// Sends `request` to the next free slot and waits for its answer. The
    /// deadline counts from when a slot takes the request. A request that no
    /// slot takes within one deadline plus one start-up fails, rather than
    /// waiting forever on processes that cannot start.
    pub async fn call(&self, request: Req, deadline: Duration) -> Result<Reply<Resp>, CallError> {
        let (reply, answer) = oneshot::channel();
        let (taken, taken_signal) = oneshot::channel();
        let task = Task {
            request,
            deadline,
            enqueued: Instant::now(),
            taken,
            reply,
        };
        self.queue.send(task).map_err(|_| CallError::Stopped)?;
        let queue_limit = deadline + self.start_timeout;
        match tokio::time::timeout(queue_limit, taken_signal).await {
            Ok(Ok(())) => answer.await.unwrap_or(Err(CallError::Stopped)),
            Ok(Err(_)) => Err(CallError::Stopped),
            // Dropping `answer` makes a slot skip the request if it comes late.
            Err(_) => Err(CallError::NoProcess(queue_limit)),
        }
    }

    pub fn status(&self) -> Vec<SlotStatus> {
        self.status.lock().expect("slot status lock").clone()
    }

    /// Stops every slot at once: requests still running are answered with
    /// [`CallError::Stopped`], processes are killed and their scratch removed.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.wait().await;
    }
}

impl<Req, Resp> Drop for Supervisor<Req, Resp> {
    fn drop(&mut self) {
        // Slots see this and kill their processes even if shutdown() was skipped.
        self.stop.cancel();
    }
}

/// Why a slot stopped using its current process.
enum End {
    Recycle(&'static str),
    Lost,
    Stop,
}

struct Slot<Req, Resp> {
    id: usize,
    spec: Arc<Spec>,
    queue: Queue<Req, Resp>,
    status: Arc<Mutex<Vec<SlotStatus>>>,
    stop: CancellationToken,
}

impl<Req, Resp> Slot<Req, Resp>
where
    Req: Serialize + Send + Sync + 'static,
    Resp: DeserializeOwned + Send + 'static,
{
    fn update(&self, f: impl FnOnce(&mut SlotStatus)) {
        f(&mut self.status.lock().expect("slot status lock")[self.id]);
    }

    async fn run(self) {
        let (min_backoff, max_backoff) = self.spec.backoff;
        let mut backoff = min_backoff;
        let mut first = true;
        while !self.stop.is_cancelled() {
            if !first {
                self.update(|s| s.restarts += 1);
            }
            first = false;
            self.update(|s| {
                s.state = SlotState::Starting;
                s.pid = None;
            });
            let started = tokio::select! {
                started = Process::start(&self.spec, self.id) => started,
                _ = self.stop.cancelled() => break,
            };
            let mut process = match started {
                Ok(process) => process,
                Err(error) => {
                    tracing::error!(
                        slot = self.id,
                        error = format!("{error:#}"),
                        retry_in = ?backoff,
                        "{} process failed to start", self.spec.name
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = self.stop.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(max_backoff);
                    continue;
                }
            };
            backoff = min_backoff;
            self.update(|s| {
                s.state = SlotState::Ready;
                s.pid = process.child.id();
                s.rss_bytes = process.rss_bytes();
            });
            tracing::debug!(
                slot = self.id,
                pid = process.child.id(),
                "{} process ready",
                self.spec.name
            );

            let end = self.serve(&mut process).await;
            if let End::Recycle(reason) = end {
                tracing::info!(
                    slot = self.id,
                    reason,
                    "recycling {} process",
                    self.spec.name
                );
                self.update(|s| s.state = SlotState::Recycling);
            }
            process.stop().await;
            if let End::Stop = end {
                break;
            }
        }
        self.update(|s| {
            s.state = SlotState::Stopped;
            s.pid = None;
            s.rss_bytes = 0;
        });
    }

    /// Runs one request in `process` within its deadline, sampling the
    /// process's memory meanwhile; `None` if the supervisor stopped first.
    async fn run_request(
        &self,
        process: &mut Process,
        request: &Req,
        deadline: Duration,
    ) -> Option<(
        Result<std::io::Result<Resp>, tokio::time::error::Elapsed>,
        Peak,
    )> {
        let pid = process.child.id();
        let mut memory_peak = Peak::default();
        let mut sampling = tokio::time::interval(limits::SAMPLE_EVERY);
        let call = tokio::time::timeout(deadline, process.call::<Req, Resp>(request));
        tokio::pin!(call);
        loop {
            tokio::select! {
                outcome = &mut call => return Some((outcome, memory_peak)),
                _ = sampling.tick() => memory_peak.sample(pid),
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    /// Why the process died: at its memory cap, or of something else.
    async fn died(
        &self,
        process: &mut Process,
        error: std::io::Error,
        memory_peak: Peak,
    ) -> CallError {
        let cause = process.death_cause(error).await;
        tracing::warn!(
            slot = self.id,
            cause,
            memory_peak_mib = memory_peak.bytes >> 20,
            "{} process died during a request",
            self.spec.name
        );
        let cap = self.spec.rss_ceiling;
        if memory_peak.reached(cap) {
            CallError::MemoryCap {
                peak: memory_peak,
                cap,
            }
        } else {
            CallError::Died(cause)
        }
    }

    async fn serve(&self, process: &mut Process) -> End {
        let mut answered = 0;
        loop {
            let task = tokio::select! {
                task = async { self.queue.lock().await.recv().await } => match task {
                    Some(task) => task,
                    None => return End::Stop,
                },
                _ = self.stop.cancelled() => return End::Stop,
            };
            if task.taken.send(()).is_err() || task.reply.is_closed() {
                continue; // the caller gave up while queued
            }
            self.update(|s| s.state = SlotState::Busy);
            let queue_wait = task.enqueued.elapsed();
            let started = Instant::now();
            let Some((outcome, memory_peak)) = self
                .run_request(process, &task.request, task.deadline)
                .await
            else {
                let _ = task.reply.send(Err(CallError::Stopped));
                return End::Stop;
            };
            let reply = match outcome {
                Ok(Ok(value)) => Ok(Reply {
                    value,
                    slot: self.id,
                    queue_wait,
                    run_time: started.elapsed(),
                    memory_peak,
                }),
                Ok(Err(error)) => {
                    let error = self.died(process, error, memory_peak).await;
                    let _ = task.reply.send(Err(error));
                    return End::Lost;
                }
                Err(_) => {
                    tracing::warn!(slot = self.id, deadline = ?task.deadline, "request over its deadline: killing the {} process", self.spec.name);
                    let _ = task.reply.send(Err(CallError::Timeout(task.deadline)));
                    return End::Lost;
                }
            };
            answered += 1;
            let rss = process.rss_bytes();
            let recycle = if answered >= self.spec.recycle_after {
                Some("request count")
            } else if rss > self.spec.rss_ceiling {
                Some("memory ceiling")
            } else {
                None
            };
            // The status is final before the caller hears back.
            self.update(|s| {
                s.served += 1;
                s.rss_bytes = rss;
                s.state = if recycle.is_some() {
                    SlotState::Recycling
                } else {
                    SlotState::Ready
                };
            });
            let _ = task.reply.send(reply);
            if let Some(reason) = recycle {
                return End::Recycle(reason);
            }
        }
    }
}

/// One running child process and its private scratch directory.
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    scratch: tempfile::TempDir,
    stderr_tail: Arc<Mutex<Vec<String>>>,
}

impl Process {
    async fn start(spec: &Spec, slot: usize) -> anyhow::Result<Process> {
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

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
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

    /// Describes why the protocol broke: the exit status if the process is
    /// gone, and the last lines it wrote to stderr.
    async fn death_cause(&mut self, error: std::io::Error) -> String {
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

    fn rss_bytes(&self) -> u64 {
        let Some(pid) = self.child.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/statm"))
            .ok()
            .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * page_size())
    }

    /// Kills the whole process group, reaps the child and removes its
    /// scratch directory. Children keep no state worth a graceful exit.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = self.child.wait().await;
        if let Err(error) = self.scratch.close() {
            tracing::warn!(%error, "could not remove a scratch directory");
        }
    }
}

fn page_size() -> u64 {
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

/// The child's end of the protocol.
pub struct ChildChannel {
    requests: std::io::StdinLock<'static>,
    replies: std::fs::File,
}

impl ChildChannel {
    /// Takes over stdin and stdout for the protocol. Whatever else the
    /// process prints to stdout (libraries do) goes to stderr instead, so it
    /// can never corrupt a reply.
    pub fn open() -> std::io::Result<ChildChannel> {
        let stdout = std::io::stdout();
        let protocol = stdout.as_fd().try_clone_to_owned()?;
        // SAFETY: both descriptors are open for the life of the process.
        if unsafe { libc::dup2(std::io::stderr().as_raw_fd(), stdout.as_raw_fd()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ChildChannel {
            requests: std::io::stdin().lock(),
            replies: std::fs::File::from(protocol),
        })
    }

    pub fn ready(&mut self) -> std::io::Result<()> {
        writeln!(self.replies, "{READY}")
    }

    /// The next request, or `None` when the supervisor closed the pipe.
    pub fn next_request<Req: DeserializeOwned>(&mut self) -> std::io::Result<Option<Req>> {
        let mut line = String::new();
        if self.requests.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn reply<Resp: Serialize>(&mut self, reply: &Resp) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(reply)?;
        line.push(b'\n');
        self.replies.write_all(&line)
    }
}
