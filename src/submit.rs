//! `docx2pdf submit`: uploads documents for a running worker, announces
//! them (a job message, or the bucket's own notification), and waits for
//! each PDF or failure record, optionally downloading the PDFs.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::SubmitArgs;
use crate::gcloud::Services;
use crate::job::{self, Job, Parsed, Routing};
use crate::outcome::FailureRecord;
use crate::storage::ObjectRef;
use crate::storage::{Digests, Objects, StorageError, Store};

/// A document on its way: the job the worker will see, and the generation
/// we uploaded, which tells our result from an older one.
struct Pending {
    file: PathBuf,
    job: Job,
    generation: i64,
}

enum Finished {
    Converted,
    Failed(String),
}

/// What one `submit` works with.
struct Submission {
    args: SubmitArgs,
    /// Set on each upload as `docx2pdf-*` metadata, for the worker to read.
    options: Vec<(String, String)>,
    /// Whether a preview beside each PDF was asked for.
    preview: bool,
    store: Store,
    /// None with `--notify`: the bucket's notification announces each upload.
    publisher: Option<Publisher>,
}

pub async fn run(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    args.validate()?;
    // A key file is for the real services; the emulators take anyone.
    let services = Services {
        storage_emulator: args.storage_emulator_host.clone(),
        pubsub_emulator: args.pubsub_emulator_host.clone(),
        key_file: args.credentials.clone(),
    };
    let store = services.store(Duration::from_secs(30)).await?;
    let publisher = match &args.topic {
        Some(topic) => Some(services.publisher(topic).await?),
        None => None,
    };
    let options = args.pdf.options();
    let submission = Submission {
        args,
        options: options.metadata(),
        preview: options.preview.is_some(),
        store,
        publisher,
    };
    let mut pending = Vec::new();
    for file in &submission.args.files {
        pending.push(submission.send(file).await?);
    }
    let mut results = submission.wait(&pending).await?;
    let mut failed = 0;
    for (i, p) in pending.iter().enumerate() {
        if !submission.report(p, results.remove(&i)).await? {
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

impl Submission {
    /// Uploads `file` and announces it (unless the bucket's notification will).
    async fn send(&self, file: &Path) -> anyhow::Result<Pending> {
        let args = &self.args;
        let routing = Routing {
            output_bucket: args.output_bucket.clone(),
            output_prefix: args.output_prefix.clone(),
            input_buckets: Vec::new(),
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let object = format!("{}{name}", args.prefix);
        let job = job_for(&args.bucket, &object, &routing)?;
        let body = tokio::fs::read(file)
            .await
            .with_context(|| format!("cannot read {}", file.display()))?;
        let metadata: Vec<(&str, String)> = (self.options.iter())
            .map(|(key, value)| (key.as_str(), value.clone()))
            .collect();
        let generation = self
            .store
            .upload(
                &args.bucket,
                &object,
                body.into(),
                content_type(&object),
                &metadata,
                None,
            )
            .await
            .map_err(|e| explain(e, &args.bucket, "roles/storage.objectCreator"))
            .with_context(|| format!("uploading {}", file.display()))?;
        if let Some(publisher) = &self.publisher {
            let message = serde_json::json!({
                "bucket": args.bucket, "name": object, "generation": generation.to_string(),
            });
            publisher
                .publish(Message::new().set_data(message.to_string()))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{e}: does the topic exist, and may this identity publish (roles/pubsub.publisher)?")
                })
                .with_context(|| {
                    format!("publishing the job for {}", ObjectRef::new(&args.bucket, &object))
                })?;
        }
        Ok(Pending {
            file: file.to_owned(),
            job,
            generation,
        })
    }

    /// Polls for each document's PDF or failure record until all are there
    /// or `--timeout` passes; what was found, by index in `pending`.
    async fn wait(&self, pending: &[Pending]) -> anyhow::Result<HashMap<usize, Finished>> {
        let progress = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(pending.len() as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} {elapsed_precise} waiting for PDFs",
                )
                .expect("static template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let deadline = Instant::now() + Duration::from_secs(self.args.timeout);
        let mut results = HashMap::new();
        while results.len() < pending.len() && Instant::now() < deadline {
            for (i, p) in pending.iter().enumerate() {
                if results.contains_key(&i) {
                    continue;
                }
                if let Some(result) = result_of(&self.store, &self.args.output_bucket, p).await? {
                    progress.inc(1);
                    results.insert(i, result);
                }
            }
            if results.len() < pending.len() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        progress.finish_and_clear();
        Ok(results)
    }

    /// Says how one document ended (downloading its PDF with `--download`);
    /// whether it was converted.
    async fn report(&self, p: &Pending, result: Option<Finished>) -> anyhow::Result<bool> {
        let shown = p.file.display();
        match result {
            Some(Finished::Converted) => {
                // The preview is stored before the PDF: both are there.
                let preview = self.preview.then(|| p.job.preview());
                let made: Vec<&str> = std::iter::once(p.job.output.as_str())
                    .chain(preview.as_deref())
                    .collect();
                let mut got = Vec::new();
                for object in made {
                    got.push(self.fetch(object).await?);
                }
                crate::stdout::line(format_args!("{shown} -> {}", got.join(", ")));
            }
            Some(Finished::Failed(reason)) => {
                eprintln!("{shown}: not converted: {reason}");
                return Ok(false);
            }
            None => {
                eprintln!(
                    "{shown}: no PDF after {} s: is a worker running on the subscription of this topic (or the bucket's notification)? Wait longer with --timeout",
                    self.args.timeout
                );
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Submission {
    /// Where `object` in the output bucket is for the user: downloaded into
    /// `--download DIR`, or its URI.
    async fn fetch(&self, object: &str) -> anyhow::Result<String> {
        let uri = ObjectRef::new(&self.args.output_bucket, object).to_string();
        let Some(dir) = &self.args.download else {
            return Ok(uri);
        };
        let dest = dir.join(Path::new(object).file_name().unwrap_or_default());
        let out = &self.args.output_bucket;
        (self
            .store
            .download(out, object, None, &dest, u64::MAX, Digests::default())
            .await)
            .with_context(|| format!("downloading {uri}"))?;
        Ok(dest.display().to_string())
    }
}

/// The names the worker will use, by the worker's own rules.
fn job_for(bucket: &str, object: &str, routing: &Routing) -> anyhow::Result<Job> {
    match job::job_for(bucket.into(), object.into(), None, None, routing) {
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
        return Ok(Some(Finished::Converted));
    }
    if store
        .source_generation_of(out, &p.job.failure_record)
        .await
        .map_err(from)?
        .is_some_and(|g| g >= p.generation)
    {
        let body = store.read(out, &p.job.failure_record).await.map_err(from)?;
        let record = ObjectRef::new(out, &p.job.failure_record);
        let said = match serde_json::from_slice::<FailureRecord>(&body) {
            Ok(failure) => format!("{}: {} ({record})", failure.kind, failure.reason),
            Err(_) => format!("failed: see the failure record ({record})"),
        };
        return Ok(Some(Finished::Failed(said)));
    }
    Ok(None)
}

/// Cloud Storage's answer, with what to do about the usual ones.
fn explain(error: StorageError, bucket: &str, role: &str) -> anyhow::Error {
    match error {
        StorageError::Forbidden { message, .. } => anyhow::anyhow!(
            "permission denied on gs://{bucket}: grant this identity {role}: {message}"
        ),
        StorageError::NotFound(_) => anyhow::anyhow!("bucket gs://{bucket} does not exist"),
        error => anyhow::anyhow!(error),
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
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xls" => "application/vnd.ms-excel",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "csv" => "text/csv",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "ppsx" => "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
        "ppt" | "pps" => "application/vnd.ms-powerpoint",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "odg" => "application/vnd.oasis.opendocument.graphics",
        _ => "application/octet-stream",
    }
}
