//! `/healthz`, `/readyz` and `/metrics` on `$PORT`. Probes never convert.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::supervisor::SlotState;
use crate::worker::Worker;

pub async fn serve(
    listener: tokio::net::TcpListener,
    worker: Arc<Worker>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(worker);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Alive while the pool's supervisor runs slots.
async fn healthz(State(worker): State<Arc<Worker>>) -> impl IntoResponse {
    let slots = worker.pool.slots();
    if slots.iter().any(|s| s.state != SlotState::Stopped) {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the LibreOffice pool is stopped\n",
        )
    }
}

/// Ready once a LibreOffice process is warm and the subscription answered.
async fn readyz(State(worker): State<Arc<Worker>>) -> impl IntoResponse {
    let warm = worker.pool.ready_slots();
    let subscribed = worker.subscribed.load(Ordering::SeqCst);
    let body = serde_json::json!({ "warm_slots": warm, "subscribed": subscribed, "slots": worker.pool.slots() });
    let status = if warm > 0 && subscribed {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

async fn metrics(State(worker): State<Arc<Worker>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        worker.metrics.encode(&worker.pool.slots()),
    )
}
