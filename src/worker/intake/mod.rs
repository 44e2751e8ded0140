//! The intake's state, apart from its loop (`pull.rs`): the permits that
//! bound how many messages are worked on at once, the per-object locks
//! that make copies of one message wait before taking one, delivery
//! counts, the tasks in flight, and readiness.
//!
//! The only code that acquires, lends or returns a permit. A message holds
//! one [`Permit`] from admission to its reply; a wait on other work (a
//! copy waiting for the first one's PDF) lends it back through
//! [`Permit::lend_while`]. Separate limits for I/O and for conversions
//! would be a second semaphore here and a second kind of permit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::object_locks::{ObjectGuard, ObjectLocks};

mod attempts;
pub(super) mod pull;

use attempts::Attempts;

/// Delivery counts kept at once: far more than one instance works on within
/// a retry cycle, and a bound on what push callers (who choose ids) can fill.
const ATTEMPTS_REMEMBERED: usize = 10_000;

pub(super) struct Intake {
    /// One per message being worked on (downloaded, converted, uploaded).
    permits: Arc<Semaphore>,
    objects: ObjectLocks,
    attempts: Attempts,
    /// True once the subscription answered and messages can flow.
    subscribed: AtomicBool,
    /// Every message being handled, pulled or pushed: shutdown drains them.
    tasks: TaskTracker,
}

/// A message let in: its object's lock and its permit.
pub(super) struct Admitted<'a> {
    object: Option<ObjectGuard<'a>>,
    pub(super) permit: Permit,
}

/// What a redelivered message must wait out before it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NackHold {
    /// Pulled: redelivery can be immediate (no retry policy, the
    /// emulator), so the message is held first, with its permit: during an
    /// outage that slows intake too.
    KeepingThePermit,
    /// Pushed: Pub/Sub spaces push retries itself.
    None,
}

impl Intake {
    pub(super) fn new(max_outstanding: usize) -> Intake {
        Intake {
            permits: Arc::new(Semaphore::new(max_outstanding)),
            objects: ObjectLocks::default(),
            attempts: Attempts::new(ATTEMPTS_REMEMBERED),
            subscribed: AtomicBool::new(false),
            tasks: TaskTracker::new(),
        }
    }

    /// Lets a message in: first the lock of its source object (`None` for a
    /// message naming none), then a permit, so copies of one message wait
    /// without holding the permits other messages need. `None` if the
    /// worker stops first.
    pub(super) async fn admit(
        &self,
        source: Option<String>,
        shutdown: &CancellationToken,
    ) -> Option<Admitted<'_>> {
        let admitted = async {
            let object = match source {
                Some(source) => Some(self.objects.lock(source).await),
                None => None,
            };
            let permit = Permit::acquire(&self.permits).await;
            Admitted { object, permit }
        };
        tokio::select! {
            admitted = admitted => Some(admitted),
            _ = shutdown.cancelled() => None,
        }
    }

    /// The delivery attempt of message `id`: Pub/Sub's count when it keeps
    /// one (`delivery_attempt`, with a dead-letter policy), else ours.
    pub(super) fn attempt(&self, id: &str, delivery_attempt: Option<i32>) -> u32 {
        delivery_attempt.map_or_else(|| self.attempts.count(id), |a| a.max(1) as u32)
    }

    /// Message `id` is finished: its count goes.
    pub(super) fn forget(&self, id: &str) {
        self.attempts.forget(id);
    }

    /// Ready for messages: pulling, or serving push requests only.
    pub(super) fn accepting(&self, pulling: bool) -> bool {
        !pulling || self.subscribed.load(Ordering::SeqCst)
    }

    /// Marks the subscription as answering (or not): readiness follows it.
    pub(super) fn set_subscribed(&self, subscribed: bool) {
        self.subscribed.store(subscribed, Ordering::SeqCst);
    }

    pub(super) fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    #[cfg(test)]
    pub(super) fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }
}

impl Admitted<'_> {
    /// The next message about this object need not wait out a hold.
    pub(super) fn release_object(&mut self) {
        self.object = None;
    }

    /// Answers after `hold` when asked to (`NackHold`), keeping the permit
    /// meanwhile; a stop cuts the wait short.
    pub(super) async fn hold(&self, hold: Duration, how: NackHold, shutdown: &CancellationToken) {
        if how == NackHold::KeepingThePermit {
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
}

/// One of the intake's permits, held by a message being worked on.
pub(super) struct Permit {
    permits: Arc<Semaphore>,
    /// None while lent back.
    held: Option<OwnedSemaphorePermit>,
}

impl Permit {
    async fn acquire(permits: &Arc<Semaphore>) -> Permit {
        let held = permits.clone().acquire_owned().await;
        Permit {
            permits: permits.clone(),
            held: Some(held.expect("the semaphore is never closed")),
        }
    }

    /// Gives the permit back while `wait` runs, so a message waiting on
    /// another holds up nothing, and takes one again before going on. If
    /// the waiting is abandoned (a push caller gone), nothing is held and
    /// nothing is owed.
    pub(super) async fn lend_while<T>(&mut self, wait: impl Future<Output = T>) -> T {
        self.held = None;
        let out = wait.await;
        *self = Permit::acquire(&self.permits).await;
        out
    }
}
