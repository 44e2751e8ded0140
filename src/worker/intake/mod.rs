//! The intake's state, apart from its loop (`pull.rs`): the limits on the
//! work in flight, the per-object locks that make copies of one message
//! wait before taking a permit, delivery counts, the tasks in flight, and
//! readiness.
//!
//! The only code that acquires, lends or returns a permit. Three limits,
//! so that a slot never waits on the network: messages worked on at once
//! (`MAX_MESSAGES`, what Pub/Sub is asked for; their calls to Cloud
//! Storage overlap with conversions), bytes of documents held on disk
//! between download and conversion (the same budget the sizing counts),
//! and conversions handed to the pool at once (two per slot: one
//! converting, one waiting, so the pool's queue never holds more). A
//! message holds one [`Permit`] from admission to reply; through it, it
//! holds bytes ([`Permit::hold_bytes`]), takes a conversion turn
//! ([`Permit::conversion_turn`]), and lends the permit back while it waits
//! for another copy ([`Permit::lend_while`]).

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

/// How much may be in flight at once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bounds {
    /// Messages worked on (described, downloaded, converted, stored).
    pub(super) messages: usize,
    /// Conversions handed to the pool, converting or queued.
    pub(super) conversions: usize,
    /// Bytes of documents held between download and conversion.
    pub(super) bytes: u64,
}

/// The semaphores behind the bounds, shared with the permits.
struct Limits {
    messages: Arc<Semaphore>,
    conversions: Arc<Semaphore>,
    /// In KiB: a semaphore counts in `u32`-sized steps.
    kib: Arc<Semaphore>,
    /// The whole byte budget, in KiB: one document may need all of it.
    kib_budget: u32,
}

pub(super) struct Intake {
    limits: Arc<Limits>,
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
    pub(super) fn new(bounds: Bounds) -> Intake {
        let kib_budget = u32::try_from(bounds.bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let limits = Limits {
            messages: Arc::new(Semaphore::new(bounds.messages)),
            conversions: Arc::new(Semaphore::new(bounds.conversions)),
            kib: Arc::new(Semaphore::new(kib_budget as usize)),
            kib_budget,
        };
        Intake {
            limits: Arc::new(limits),
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
            let permit = Permit::acquire(&self.limits).await;
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
        self.limits.messages.available_permits()
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
    limits: Arc<Limits>,
    /// None while lent back.
    held: Option<OwnedSemaphorePermit>,
}

/// Bytes of the byte budget, held until dropped.
pub(super) struct HeldBytes {
    limits: Arc<Limits>,
    kib: OwnedSemaphorePermit,
}

impl HeldBytes {
    /// Keeps only `bytes` of what is held, the rest going back at once;
    /// false, keeping everything, if `bytes` is more than is held.
    pub(super) fn shrink_to(&mut self, bytes: u64) -> bool {
        let (wanted, held) = (kib_of(bytes, &self.limits) as usize, self.kib.num_permits());
        if wanted > held {
            return false;
        }
        drop(self.kib.split(held - wanted));
        true
    }
}

/// `bytes` in KiB of the budget: at least one, at most all of it.
fn kib_of(bytes: u64, limits: &Limits) -> u32 {
    let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
    kib.clamp(1, limits.kib_budget.max(1))
}

/// A turn to hand a document to the pool, until dropped.
pub(super) struct ConversionTurn {
    _turn: OwnedSemaphorePermit,
}

impl Permit {
    async fn acquire(limits: &Arc<Limits>) -> Permit {
        let held = limits.messages.clone().acquire_owned().await;
        Permit {
            limits: limits.clone(),
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
        *self = Permit::acquire(&self.limits).await;
        out
    }

    /// Waits until `bytes` of the byte budget are free (all of it, for a
    /// document larger than the budget), and holds them.
    pub(super) async fn hold_bytes(&self, bytes: u64) -> HeldBytes {
        let kib = kib_of(bytes, &self.limits);
        let held = self.limits.kib.clone().acquire_many_owned(kib).await;
        HeldBytes {
            limits: self.limits.clone(),
            kib: held.expect("the semaphore is never closed"),
        }
    }

    /// Waits for a turn to hand a document to the pool.
    pub(super) async fn conversion_turn(&self) -> ConversionTurn {
        let turn = self.limits.conversions.clone().acquire_owned().await;
        ConversionTurn {
            _turn: turn.expect("the semaphore is never closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a conversion the PDF's bytes take the document's place: less
    /// gives the rest back; more keeps all and says so (the caller then
    /// keeps its conversion turn instead of waiting for bytes).
    #[tokio::test]
    async fn held_bytes_shrink_to_the_pdf_or_are_kept_whole() {
        let bounds = Bounds {
            messages: 1,
            conversions: 1,
            bytes: 10 << 10,
        };
        let intake = Intake::new(bounds);
        let admitted = intake.admit(None, &CancellationToken::new()).await;
        let permit = admitted.expect("admitted").permit;
        let mut held = permit.hold_bytes(4 << 10).await;
        let free = || intake.limits.kib.available_permits();
        assert_eq!(free(), 6);
        assert!(!held.shrink_to(8 << 10));
        assert_eq!(free(), 6);
        assert!(held.shrink_to(1 << 10));
        assert_eq!(free(), 9);
        drop(held);
        assert_eq!(free(), 10);
    }
}
