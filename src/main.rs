//! The `docx2pdf` binary: parses the command line and wires the modules.

use std::process::ExitCode;

use clap::Parser;

use std::sync::Arc;

use anyhow::Context;
use docx2pdf::config::{Cli, Command, LogFormat, WorkerArgs};
use docx2pdf::gcloud::Services;
use docx2pdf::office::{Pool, PoolConfig};
use docx2pdf::push::TokenCheck;
use docx2pdf::storage::Store;
use docx2pdf::telemetry::metrics::Metrics;
use docx2pdf::worker::{Edges, PullClients, Settings, Worker};
use docx2pdf::workspace::Workspace;
use docx2pdf::{convert, fonts, http, office, request, submit, telemetry};
use tokio_util::sync::CancellationToken;

/// The exit status of a usage error or a failure that stopped the command,
/// as for clap's own usage errors; 1 says that some documents failed.
const FATAL: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        // Before any runtime exists: the child is single-threaded by design.
        Command::OfficeChild => office::child_main(),
        Command::FontTool { args } => office::font_tool_main(args),
        Command::Decrypt { args } => office::decrypt_main(args),
        Command::RenderPreview { args } => office::preview_main(args),
        command => command,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("docx2pdf: cannot start the async runtime: {error}");
            return ExitCode::from(FATAL);
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Convert(args) => {
                telemetry::init_logging(args.log_format.unwrap_or(LogFormat::Text), "warn");
                convert::run(args).await
            }
            Command::Worker(args) => {
                telemetry::init_logging(args.log_format.unwrap_or_else(LogFormat::detect), "info");
                worker(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Submit(args) => {
                telemetry::init_logging(LogFormat::Text, "warn");
                submit::run(args).await
            }
            Command::Request(args) => {
                telemetry::init_logging(LogFormat::Text, "warn");
                request::run(args).await
            }
            Command::Health(args) => Ok(http::probe(args.port).await),
            Command::OfficeChild
            | Command::FontTool { .. }
            | Command::Decrypt { .. }
            | Command::RenderPreview { .. } => unreachable!("handled above"),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("docx2pdf: {error:#}");
            ExitCode::from(FATAL)
        }
    }
}

/// The pool's configuration, with the deployment's fonts (`FONTS`) read
/// into `workspace` before any process starts.
async fn pool_config(
    args: &WorkerArgs,
    store: &Store,
    workspace: &Workspace,
) -> anyhow::Result<PoolConfig> {
    let mut config = PoolConfig::from_args(&args.pool)?;
    if let Some(source) = &args.pool.fonts {
        let (source, into) = (fonts::Source::parse(source), workspace.fonts());
        config.own_fonts = fonts::gather(&source, Some(store), into, &config.program).await?;
    }
    Ok(config)
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let push_auth = args.push.auth()?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", args.port))
        .await
        .with_context(|| format!("cannot listen on PORT={}", args.port))?;
    let workspace = Arc::new(Workspace::create()?);
    let services = Services {
        storage_emulator: args.storage_emulator_host.clone(),
        pubsub_emulator: args.pubsub_emulator_host.clone(),
        key_file: None,
    };
    let store = services
        .store(std::time::Duration::from_secs(args.storage_retry_seconds))
        .await?;
    let pool_config = pool_config(&args, &store, &workspace).await?;
    let engine = Pool::engine_identity(pool_config.own_fonts.as_ref());
    let settings = Settings::from_args(&args, pool_config.size, engine)?;
    let pool = Arc::new(Pool::start(pool_config, workspace.clone())?);
    let pubsub = match &args.subscription {
        Some(_) => Some(pull_clients(&services).await?),
        None => None,
    };
    let results = match &args.result_topic {
        Some(topic) => Some(services.publisher(topic).await.context("RESULT_TOPIC")?),
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    for (protection, active) in pool.protections().list() {
        metrics.protection(protection, active);
    }
    metrics.own_fonts(pool.own_fonts());
    let edges = Edges {
        objects: store,
        converter: pool.clone(),
        results,
        workspace,
    };
    let worker = Arc::new(Worker::new(edges, metrics, settings));

    let shutdown = CancellationToken::new();
    let http = tokio::spawn(http::serve(
        listener,
        worker.clone(),
        push_auth.map(TokenCheck::new),
        shutdown.clone(),
    ));
    tokio::spawn(stop_on_signal(shutdown.clone()));
    tracing::info!(
        subscription = args.subscription.as_deref().unwrap_or("none: push only"),
        port = args.port,
        "docx2pdf worker started"
    );
    worker.run(pubsub, shutdown.clone()).await;
    shutdown.cancel();
    pool.shutdown().await;
    let _ = http.await;
    tracing::info!("docx2pdf worker stopped");
    Ok(())
}

/// The Pub/Sub clients of a pulling worker, and how it makes a new
/// streaming-pull client when a stream goes silent.
async fn pull_clients(services: &Services) -> anyhow::Result<PullClients> {
    let (subscriber, admin) = services.subscriber().await?;
    let services = services.clone();
    Ok(PullClients {
        subscriber,
        admin,
        connect: Box::new(move || {
            let services = services.clone();
            Box::pin(async move { services.streaming_pull().await })
        }),
    })
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::error!(%error, "cannot watch SIGTERM");
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}
