//! `docx2pdf submit`: uploads documents for a running worker, announces
//! them (a job message, or the bucket's own notification), and waits for
//! each PDF or failure record, optionally downloading the PDFs.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use google_cloud_auth::credentials::{Credentials, anonymous, service_account};
use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::SubmitArgs;
use crate::job::{self, Job, Parsed, Routing};
use crate::storage::{self, StorageError, Store};

/// A document on its way: the job the worker will see, and the generation
/// we uploaded, which tells our result from an older one.
struct Pending {
    file: PathBuf,
    job: Job,
    generation: i64,
}

enum Finished {
    Converted(String),
    Failed(String),
}

pub async fn run(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    args.validate()?;
    let credentials = match &args.credentials {
        Some(path) if args.storage_emulator_host.is_none() => Some(key_file(path)?),
        _ => None,
    };
    let store = Store::connect(
        args.storage_emulator_host.as_deref(),
        credentials.clone(),
        Duration::from_secs(30),
    )
    .await
    .context("connecting to Cloud Storage")?;
    let publisher = match &args.topic {
        Some(topic) => {
            let mut builder = Publisher::builder(topic);
            if let Some(emulator) = &args.pubsub_emulator_host {
                builder = builder
                    .with_endpoint(storage::emulator_endpoint(emulator))
                    .with_credentials(anonymous::Builder::new().build());
            } else if let Some(credentials) = credentials {
                builder = builder.with_credentials(credentials);
            }
            Some(builder.build().await.context("connecting to Pub/Sub")?)
        }
        None => None,
    };
    let routing = Routing {
        output_bucket: args.output_bucket.clone(),
        output_prefix: args.output_prefix.clone(),
        input_buckets: Vec::new(),
    };

    let mut pending = Vec::new();
    for file in &args.files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let object = format!("{}{name}", args.prefix);
        let job = job_for(&args.bucket, &object, &routing)?;
        let body = tokio::fs::read(file)
            .await
            .with_context(|| format!("cannot read {}", file.display()))?;
        let generation = store
            .upload(
                &args.bucket,
                &object,
                body.into(),
                content_type(&object),
                &[],
                None,
            )
            .await
            .map_err(|e| explain(e, &args.bucket, "roles/storage.objectCreator"))
            .with_context(|| format!("uploading {}", file.display()))?;
        if let Some(publisher) = &publisher {
            let message = serde_json::json!({
                "bucket": args.bucket, "name": object, "generation": generation.to_string(),
            });
            publisher
                .publish(Message::new().set_data(message.to_string()))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{e}: does the topic exist, and may this identity publish (roles/pubsub.publisher)?")
                })
                .with_context(|| format!("publishing the job for gs://{}/{object}", args.bucket))?;
        }
        pending.push(Pending {
            file: file.clone(),
            job,
            generation,
        });
    }

    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(pending.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} waiting for PDFs")
                .expect("static template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut results: HashMap<usize, Finished> = HashMap::new();
    while results.len() < pending.len() && Instant::now() < deadline {
        for (i, p) in pending.iter().enumerate() {
            if results.contains_key(&i) {
                continue;
            }
            if let Some(result) = result_of(&store, &args.output_bucket, p).await? {
                progress.inc(1);
                results.insert(i, result);
            }
        }
        if results.len() < pending.len() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    progress.finish_and_clear();

    let mut failed = 0;
    for (i, p) in pending.iter().enumerate() {
        let shown = p.file.display();
        match results.remove(&i) {
            Some(Finished::Converted(uri)) => match &args.download {
                Some(dir) => {
                    let dest = dir.join(Path::new(&p.job.output).file_name().unwrap_or_default());
                    store
                        .download(&args.output_bucket, &p.job.output, None, &dest, u64::MAX)
                        .await
                        .with_context(|| format!("downloading {uri}"))?;
                    crate::stdout::line(format_args!("{shown} -> {}", dest.display()));
                }
                None => crate::stdout::line(format_args!("{shown} -> {uri}")),
            },
            Some(Finished::Failed(reason)) => {
                failed += 1;
                eprintln!("{shown}: not converted: {reason}");
            }
            None => {
                failed += 1;
                eprintln!(
                    "{shown}: no PDF after {} s: is a worker running on the subscription of this topic (or the bucket's notification)? Wait longer with --timeout",
                    args.timeout
                );
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The names the worker will use, by the worker's own rules.
fn job_for(bucket: &str, object: &str, routing: &Routing) -> anyhow::Result<Job> {
    let body = serde_json::json!({ "bucket": bucket, "name": object }).to_string();
    match job::parse(&HashMap::new(), body.as_bytes(), routing) {
        Ok(Parsed::Convert(job)) => Ok(job),
        Ok(Parsed::Ignore(reason)) => anyhow::bail!("{reason}"),
        Err(rejected) => anyhow::bail!("{}", rejected.reason),
    }
}

/// The PDF or the failure record made from our generation, if there is one.
async fn result_of(store: &Store, out: &str, p: &Pending) -> anyhow::Result<Option<Finished>> {
    let from = |e: StorageError| explain(e, out, "roles/storage.objectViewer");
    if store
        .source_generation_of(out, &p.job.output)
        .await
        .map_err(from)?
        .is_some_and(|g| g >= p.generation)
    {
        return Ok(Some(Finished::Converted(format!(
            "gs://{out}/{}",
            p.job.output
        ))));
    }
    if store
        .source_generation_of(out, &p.job.failure_record)
        .await
        .map_err(from)?
        .is_some_and(|g| g >= p.generation)
    {
        let record = store.read(out, &p.job.failure_record).await.map_err(from)?;
        let record: serde_json::Value = serde_json::from_slice(&record).unwrap_or_default();
        let reason = record["reason"]
            .as_str()
            .unwrap_or("see the failure record");
        let kind = record["kind"].as_str().unwrap_or("failed");
        return Ok(Some(Finished::Failed(format!(
            "{kind}: {reason} (gs://{out}/{})",
            p.job.failure_record
        ))));
    }
    Ok(None)
}

/// Cloud Storage's answer, with what to do about the usual ones.
fn explain(error: StorageError, bucket: &str, role: &str) -> anyhow::Error {
    let text = error.to_string();
    if text.contains("403") {
        anyhow::anyhow!("permission denied on gs://{bucket}: grant this identity {role}: {text}")
    } else if matches!(error, StorageError::NotFound(_)) {
        anyhow::anyhow!("bucket gs://{bucket} does not exist")
    } else {
        anyhow::anyhow!(text)
    }
}

fn content_type(object: &str) -> &'static str {
    let extension = object.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "doc" => "application/msword",
        "odt" => "application/vnd.oasis.opendocument.text",
        "rtf" => "application/rtf",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

fn key_file(path: &Path) -> anyhow::Result<Credentials> {
    let key = crate::config::service_account_key(path)?;
    service_account::Builder::new(key).build().with_context(|| {
        format!(
            "--credentials {}: not a service-account key",
            path.display()
        )
    })
}
