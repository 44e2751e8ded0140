//! Process supervision, independent of what the supervised processes do.
//!
//! A [`Supervisor`] keeps N slots, each running one child process of a
//! [`Spec`], and hands requests to whichever slot is free. It owns the
//! mechanism the rest of the program should never have to think about:
//! spawning in a fresh private scratch directory, the start-up handshake,
//! a request directory inside that scratch, emptied before each request (a
//! child confined to its scratch sees its own request's files and no
//! other's), per-request deadlines (kill the whole process group when one
//! passes), caps on each process's memory, file sizes, CPU time and the
//! bytes it holds in files while it works (`limits`, `scratch`),
//! respawning after a crash with exponential backoff, recycling after N
//! requests, above an RSS ceiling, when a request left files behind or
//! when the spec finds the process unfit, and leaving nothing behind on stop.
//! Each mechanism has a file: `slot` (the loop keeping one process and
//! serving it requests), `process` (one running child), `limits`,
//! `confine` (what a child may not undo: its group, its limits),
//! `request_dir` (touching what a child wrote without trusting it), `lines`
//! (reading what a child sends with a bound), `channel`.
//!
//! Children are trusted with nothing: a child may be running a hostile
//! document's code. What it sends is read with a bound, what it writes is
//! opened as a regular file or not at all, and it cannot leave its process
//! group or change its own limits.
//!
//! Children speak newline-delimited JSON: one request line in on stdin, one
//! response line out. A child announces it is warm by printing `ready`.
//! [`ChildChannel`] is the child's side of that protocol.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::process::Command;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod channel;
mod confine;
mod limits;
mod lines;
mod process;
mod request_dir;
mod scratch;
mod slot;
pub use channel::ChildChannel;
pub use limits::{MemoryUse, Peak};
pub use request_dir::{LentDir, RequestDir};
use slot::Slot;

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
    /// The memory limit, in bytes (`SLOT_MEMORY_LIMIT_MIB`): during a
    /// request the kernel refuses a process more private memory
    /// (`RLIMIT_DATA`) than this; between requests, a process whose
    /// resident memory exceeds it is replaced. `u64::MAX`: no limit.
    pub memory_limit: u64,
    /// The largest file a process may write (`RLIMIT_FSIZE`): past it, the
    /// write fails with `EFBIG`. `u64::MAX`: no cap.
    pub file_size_cap: u64,
    /// CPU time (all threads) one request may use before the kernel stops
    /// the process (`RLIMIT_CPU`). None: no cap.
    pub cpu_budget: Option<Duration>,
    /// Bytes a process may hold in files (its scratch, and files it deleted
    /// but keeps open) during a request: sampled, and the process killed
    /// when it holds more. On Cloud Run files are memory. `u64::MAX`: no cap.
    pub scratch_cap: u64,
    /// Why a process that answered must not take another request, judged
    /// from its scratch: what the program it runs keeps between requests
    /// that a request must not find.
    #[allow(clippy::type_complexity)]
    pub unfit: Box<dyn Fn(&Path) -> Option<&'static str> + Send + Sync>,
    /// The waits between failed starts.
    pub backoff: Backoff,
}

/// The wait after a failed start: `first`, doubled after each further
/// failure up to `longest`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub longest: Duration,
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
    /// What the process holds in files, as last measured.
    pub scratch_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}: the process was killed and is being replaced")]
    Timeout(Duration),
    #[error("the process died during the request ({0}); it is being replaced")]
    Died(String),
    #[error(
        "the process died at its memory limit ({} MiB used of {} MiB); it is being replaced",
        .0.peak.bytes >> 20,
        .0.limit >> 20
    )]
    MemoryLimit(MemoryUse),
    #[error("the process used up its CPU time ({0:?} per request); it is being replaced")]
    CpuCap(Duration),
    #[error(
        "the process held {} MiB in files, over its {} MiB; it was killed and is being replaced",
        held >> 20,
        cap >> 20
    )]
    ScratchCap { held: u64, cap: u64 },
    #[error("the process broke the protocol ({0}); it was killed and is being replaced")]
    Misbehaved(String),
    #[error("the request could not be prepared in the process's directory: {0}")]
    Prepare(std::io::Error),
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
    /// The most private memory the process held while it ran the request,
    /// and its limit.
    pub memory: MemoryUse,
    /// The request's directory, with what the child left there. The slot
    /// takes no other request until this is dropped: take what you need
    /// first, through [`RequestDir::open_written`].
    pub dir: LentDir,
}

/// Makes a request inside the directory of the slot that takes it.
pub type Prepare<Req> = Box<dyn FnOnce(&RequestDir) -> std::io::Result<Req> + Send>;

struct Task<Req, Resp> {
    prepare: Prepare<Req>,
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
                    scratch_bytes: 0,
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
        self.call_in(Box::new(move |_| Ok(request)), deadline).await
    }

    /// Like [`Supervisor::call`], with the request made by `prepare` in the
    /// (empty) request directory of the slot that takes it: files a request
    /// needs go there, where only that slot's process can reach them.
    pub async fn call_in(
        &self,
        prepare: Prepare<Req>,
        deadline: Duration,
    ) -> Result<Reply<Resp>, CallError> {
        let (reply, answer) = oneshot::channel();
        let (taken, taken_signal) = oneshot::channel();
        let task = Task {
            prepare,
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
