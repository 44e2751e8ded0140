//! The HTTP server on `$PORT`: `/healthz`, `/readyz` and `/metrics`, which
//! never convert, and Pub/Sub push requests on `POST /` and `/pubsub/push`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::outcome::{OUTCOME_HEADER, Reply};
use crate::push::{self, Refused, TokenCheck};
use crate::supervisor::SlotState;
use crate::worker::Worker;

/// A push envelope carries a notification or a job: a few KiB. Pub/Sub's own
/// limit (10 MB) would let any caller make us buffer far more than that.
const PUSH_BODY_LIMIT: usize = 64 << 10;

#[derive(Clone)]
struct App {
    worker: Arc<Worker>,
    /// None: push requests are trusted (Cloud Run's IAM checks them).
    tokens: Option<Arc<TokenCheck>>,
    shutdown: CancellationToken,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    worker: Arc<Worker>,
    tokens: Option<TokenCheck>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = App {
        worker,
        tokens: tokens.map(Arc::new),
        shutdown: shutdown.clone(),
    };
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", post(pushed))
        .route("/pubsub/push", post(pushed))
        .with_state(app);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// 204 once the PDF or the failure record is stored, 503 for a transient
/// failure (Pub/Sub retries it), 400 for a body that is no envelope, 413
/// for one over 64 KiB, and 401/403 for a token that fails the check.
async fn pushed(State(app): State<App>, request: Request) -> Response {
    // The token first: nobody unauthenticated gets us to read a body.
    if let Some(tokens) = &app.tokens
        && let Err(refused) = check_token(tokens, request.headers()).await
    {
        return refused;
    }
    let body = match axum::body::to_bytes(request.into_body(), PUSH_BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            tracing::warn!(
                status = 413,
                "push request refused: body over {PUSH_BODY_LIMIT} bytes"
            );
            let said = format!("a push body is at most {PUSH_BODY_LIMIT} bytes\n");
            return (StatusCode::PAYLOAD_TOO_LARGE, said).into_response();
        }
    };
    let pushed = match push::parse(&body) {
        Ok(pushed) => pushed,
        Err(reason) => {
            tracing::warn!(status = 400, "push request refused: {reason}");
            return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response();
        }
    };
    let (outcome, reply) = app
        .worker
        .push(pushed.message, pushed.delivery_attempt, &app.shutdown)
        .await;
    // Pub/Sub reads the status only; a caller such as `docx2pdf request`
    // can tell a PDF from a failure record.
    let header = [(OUTCOME_HEADER, outcome.as_str())];
    match reply {
        Reply::Ack => (StatusCode::NO_CONTENT, header).into_response(),
        Reply::Nack { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            header,
            "not converted this time; retry later\n",
        )
            .into_response(),
    }
}

/// 401, 403 or 503 with the reason, unless the request's token passes.
async fn check_token(tokens: &TokenCheck, headers: &HeaderMap) -> Result<(), Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    tokens
        .check(authorization)
        .await
        .map(drop)
        .map_err(|refused| {
            let status = match refused {
                Refused::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                Refused::Forbidden(_) => StatusCode::FORBIDDEN,
                Refused::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            tracing::warn!(status = status.as_u16(), "push request refused: {refused}");
            (status, format!("{refused}\n")).into_response()
        })
}

/// Alive while the pool's supervisor runs slots.
async fn healthz(State(App { worker, .. }): State<App>) -> impl IntoResponse {
    if worker.slots().iter().any(|s| s.state != SlotState::Stopped) {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the LibreOffice pool is stopped\n",
        )
    }
}

/// Ready once a LibreOffice process is warm and the subscription, if any,
/// answered.
async fn readyz(State(App { worker, .. }): State<App>) -> impl IntoResponse {
    let warm = worker.ready_slots();
    let accepting = worker.accepting();
    let body = serde_json::json!({
        "warm_slots": warm,
        "subscribed": accepting,
        "protections": worker.protections(),
        "own_fonts": worker.own_fonts(),
        "slots": worker.slots(),
    });
    let status = if warm > 0 && accepting {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

async fn metrics(State(App { worker, .. }): State<App>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        worker.metrics_text(),
    )
}

/// `docx2pdf health`: the container's HEALTHCHECK, without a curl in the
/// image.
pub async fn probe(port: u16) -> std::process::ExitCode {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let answer = reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(3))
        .send()
        .await;
    let problem = match answer {
        Ok(response) if response.status().is_success() => return std::process::ExitCode::SUCCESS,
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            format!("HTTP {status}: {}", body.trim())
        }
        Err(error) => error.to_string(),
    };
    eprintln!("docx2pdf: {url}: {problem}");
    std::process::ExitCode::FAILURE
}
