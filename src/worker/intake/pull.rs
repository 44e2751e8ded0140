//! Where messages come in: the streaming pull (with its subscription check
//! and reconnection) and Pub/Sub push requests, both handed to the worker's
//! `receive`. The intake's state is its own (`mod.rs`); this is its loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::client::{Subscriber, SubscriptionAdmin};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use google_cloud_pubsub::subscriber::{MessageStream, ShutdownBehavior, ShutdownToken};
use tokio_util::sync::CancellationToken;

use super::NackHold;
use crate::outcome::{Outcome, Reply};
use crate::worker::Worker;
use crate::worker::edges::{Announce, Converter, Objects};

/// A new streaming-pull client.
pub type Connect =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Subscriber>> + Send>> + Send + Sync>;

/// The Pub/Sub clients a pulling worker uses.
pub struct PullClients {
    pub subscriber: Subscriber,
    pub admin: SubscriptionAdmin,
    /// Makes a new `subscriber`, on connections of its own: a stream gone
    /// silent may sit on a connection that is dead without knowing it.
    pub connect: Connect,
}

/// Why a pull stopped.
enum Stopped {
    Shutdown,
    /// The stream ended; the subscription is asked for again.
    Ended,
    /// Nothing came for `PULL_SILENCE_SECONDS`, with nothing in flight.
    Silent,
}

/// How long closing a stream may take to flush its acks: over a dead
/// connection it would never end.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

impl<O: Objects, C: Converter, A: Announce> Worker<O, C, A> {
    /// Pulls until `shutdown` fires, then drains: in-flight jobs get
    /// `shutdown_grace` to finish, the rest are nacked, and queued acks are
    /// flushed before returning.
    pub async fn run(self: Arc<Self>, pubsub: Option<PullClients>, shutdown: CancellationToken) {
        // Streams that ended stay here until the end: messages they handed
        // out may still be running, and their acks flush through them.
        let mut streams = Vec::new();
        // A stream ends for good on errors such as a deleted subscription;
        // the worker then waits for the subscription again, as at start.
        let mut pull = self.settings.subscription.clone().zip(pubsub);
        if pull.is_none() {
            tracing::info!("no SUBSCRIPTION: serving Pub/Sub push requests only");
            shutdown.cancelled().await;
        }
        while let Some((subscription, clients)) = &mut pull
            && self
                .check_subscription(subscription, &clients.admin, &shutdown)
                .await
        {
            let mut stream = (clients.subscriber.subscribe(subscription.as_str()))
                .set_max_outstanding_messages(self.settings.max_messages as i64)
                .set_max_lease_extension(self.settings.ack_deadline)
                .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
                .build();
            let token = stream.shutdown_token();
            match self.pull(&mut stream, &shutdown).await {
                Stopped::Shutdown => {
                    streams.push(token);
                    break;
                }
                Stopped::Ended => streams.push(token),
                Stopped::Silent => reconnect(clients, token).await,
            }
        }
        self.intake.set_subscribed(false);
        self.drain(streams).await;
    }

    /// Hands each message of `stream` to a task of its own, until the
    /// stream ends, goes silent with nothing in flight, or `shutdown`.
    async fn pull(
        self: &Arc<Self>,
        stream: &mut MessageStream,
        shutdown: &CancellationToken,
    ) -> Stopped {
        let patience = self.settings.pull_silence;
        let silence = tokio::time::sleep(patience);
        tokio::pin!(silence);
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Stopped::Shutdown,
                next = stream.next() => next,
                _ = &mut silence, if !patience.is_zero() => {
                    if self.intake.tasks().is_empty() {
                        return Stopped::Silent;
                    }
                    silence.as_mut().reset(tokio::time::Instant::now() + patience);
                    continue;
                }
            };
            silence
                .as_mut()
                .reset(tokio::time::Instant::now() + patience);
            match next {
                Some(Ok((message, handler))) => {
                    let worker = self.clone();
                    let shutdown = shutdown.clone();
                    (self.intake.tasks())
                        .spawn(async move { worker.pulled(message, handler, &shutdown).await });
                }
                Some(Err(error)) => {
                    tracing::warn!(error = %error, "the subscription stream failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                None => {
                    tracing::warn!(
                        "the subscription stream ended; asking for the subscription again"
                    );
                    self.intake.set_subscribed(false);
                    return Stopped::Ended;
                }
            }
        }
    }

    /// In-flight messages get `shutdown_grace` to finish, the rest are
    /// nacked, and the acks queued on `streams` are flushed.
    async fn drain(&self, streams: Vec<ShutdownToken>) {
        let tasks = self.intake.tasks();
        tasks.close();
        tracing::info!(in_flight = tasks.len(), grace = ?self.settings.shutdown_grace, "stopped pulling; draining");
        if tokio::time::timeout(self.settings.shutdown_grace, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = tasks.len(),
                "grace period over: stopping LibreOffice, unfinished messages are nacked"
            );
            self.pipeline.converter().stop().await;
            tasks.wait().await;
        }
        // ack() only queues; this flushes what is queued before we exit.
        let flushes = streams
            .iter()
            .map(|stream| tokio::time::timeout(FLUSH_TIMEOUT, stream.shutdown()));
        futures::future::join_all(flushes).await;
    }
}

/// Closes a silent stream (its acks flushed, within a bound) and makes a new
/// client for the next, on new connections: Pub/Sub sends nothing on an
/// idle stream, so a silent one may be idle or may sit on a connection
/// whose NAT mapping was dropped, which TCP notices only after many
/// minutes. Nothing is in flight, so nothing is lost either way.
async fn reconnect(clients: &mut PullClients, silent: ShutdownToken) {
    tracing::info!(
        "the subscription stream was silent for PULL_SILENCE_SECONDS; opening a new one on a new connection"
    );
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, silent.shutdown()).await;
    match (clients.connect)().await {
        Ok(subscriber) => clients.subscriber = subscriber,
        Err(error) => {
            tracing::warn!(error = %error, "cannot make a new Pub/Sub client; pulling on the old one")
        }
    }
}

impl<O: Objects, C: Converter, A: Announce> Worker<O, C, A> {
    /// Waits until the subscription answers: a streaming pull aimed at a
    /// wrong address retries silently forever, so readiness must not trust
    /// it. A missing subscription or a missing grant is logged as an error
    /// that says what to do, and asked again: both are often only early
    /// (deploy order, IAM propagation), and a crash loop would not help.
    /// Returns false if asked to stop first.
    async fn check_subscription(
        &self,
        name: &str,
        admin: &SubscriptionAdmin,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut backoff = Duration::from_secs(1);
        loop {
            let request = admin.get_subscription().set_subscription(name).send();
            let answer = tokio::select! {
                answer = tokio::time::timeout(Duration::from_secs(10), request) => answer,
                _ = shutdown.cancelled() => return false,
            };
            match answer {
                Ok(Ok(subscription)) => {
                    tracing::info!(
                        subscription = name,
                        dead_letter_policy = subscription.dead_letter_policy.is_some(),
                        "subscription found; pulling"
                    );
                    self.intake.set_subscribed(true);
                    return true;
                }
                Ok(Err(error)) => match error.status().map(|s| s.code) {
                    Some(Code::NotFound) => tracing::error!(
                        retry_in = ?backoff,
                        "SUBSCRIPTION {name} does not exist: create it (gcloud pubsub subscriptions create) or fix the name"
                    ),
                    // roles/pubsub.subscriber may pull but not read the
                    // subscription's settings: Pub/Sub answered, so pull.
                    Some(Code::PermissionDenied) => {
                        tracing::info!(
                            subscription = name,
                            "subscription settings not readable (pubsub.subscriptions.get, in roles/pubsub.viewer); pulling. If nothing arrives, grant this service account roles/pubsub.subscriber on it"
                        );
                        self.intake.set_subscribed(true);
                        return true;
                    }
                    _ => tracing::warn!(%error, retry_in = ?backoff, "Pub/Sub does not answer yet"),
                },
                Err(_) => tracing::warn!(retry_in = ?backoff, "Pub/Sub did not answer within 10 s"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => return false,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Real Pub/Sub sends at most max_messages messages; the emulator
    /// sends all it has, and the crate does not extend the lease of what it
    /// buffers (each was redelivered about ten times in ./dev/chaos
    /// hygiene). So every message is taken, its handler keeps its lease, and
    /// the work waits for one of max_messages permits.
    async fn pulled(&self, message: Message, handler: Handler, shutdown: &CancellationToken) {
        let attempt = handler.delivery_attempt();
        let hold = NackHold::KeepingThePermit;
        match self.receive(&message, attempt, shutdown, hold).await.1 {
            Reply::Ack => handler.ack(),
            Reply::Nack { .. } => handler.nack(),
        }
    }

    /// A Pub/Sub push request's message, handled like a pulled one. Push
    /// has no lease to lose, and its retries are spaced by Pub/Sub, so a
    /// transient failure is answered at once.
    pub async fn push(
        &self,
        message: Message,
        delivery_attempt: Option<i32>,
        shutdown: &CancellationToken,
    ) -> (Outcome, Reply) {
        let _tracked = self.intake.tasks().token();
        (self.receive(&message, delivery_attempt, shutdown, NackHold::None)).await
    }
}
