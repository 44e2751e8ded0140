//! The worker's settings, built from its arguments: where documents may come
//! from and PDFs go, its limits, its default PDF options and its cache.

use std::time::Duration;

use super::cache::CacheAt;
use crate::config::{WorkerArgs, defaults};
use crate::job::Routing;
use crate::options::PdfOptions;

#[derive(Clone, Debug)]
pub struct Settings {
    /// None: push requests only, the original service's deployment.
    pub subscription: Option<String>,
    pub routing: Routing,
    pub max_input_bytes: u64,
    pub max_attempts: u32,
    /// The PDF options of a document whose metadata and job set none.
    pub default_options: PdfOptions,
    pub shutdown_grace: Duration,
    /// How long the server waits to hear from us before redelivering a
    /// message: the lease we keep extending while a job runs.
    pub ack_deadline: Duration,
    /// How long the subscription stream may bring nothing, with nothing in
    /// flight, before it is reopened on a new connection; zero: never.
    pub pull_silence: Duration,
    /// Messages worked on at once; also the flow control asked of the server.
    pub max_messages: usize,
    /// Documents handed to the pool at once (converting or queued).
    pub max_conversions: usize,
    /// Bytes of documents held on disk between download and conversion.
    pub max_held_bytes: u64,
    /// Where converted PDFs are kept for copies of the same document; None
    /// with `CACHE=off`.
    pub cache: Option<CacheAt>,
}

impl Settings {
    /// The settings `args` give, checked, for a pool of `pool_size` whose
    /// engine is `engine` (`Pool::engine_identity`, which the cache keys on).
    pub fn from_args(
        args: &WorkerArgs,
        pool_size: usize,
        engine: anyhow::Result<String>,
    ) -> anyhow::Result<Settings> {
        args.validate()?;
        Ok(Settings {
            subscription: args.subscription.clone(),
            routing: Routing {
                output_bucket: args.output_bucket.clone(),
                output_prefix: args.output_prefix.clone(),
                input_buckets: args
                    .input_buckets
                    .iter()
                    .filter(|b| !b.is_empty())
                    .cloned()
                    .collect(),
            },
            max_input_bytes: args.max_input_bytes,
            max_attempts: args.max_attempts,
            default_options: args.pdf.options(),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            ack_deadline: Duration::from_secs(args.ack_deadline),
            pull_silence: Duration::from_secs(args.pull_silence_seconds),
            max_messages: args
                .max_messages
                .map_or(pool_size * defaults::MESSAGES_PER_SLOT, usize::from),
            // One converting and one waiting per LibreOffice process.
            max_conversions: pool_size * 2,
            // What the sizing gives the worker's job files: per message of
            // the two per slot it once held, a download and its rebuilt
            // package.
            max_held_bytes: (pool_size * 2 * 2) as u64 * args.max_input_bytes,
            cache: cache(args, engine)?,
        })
    }
}

/// Where the content cache lives, if it is on ([`CacheAt::configured`]).
fn cache(args: &WorkerArgs, engine: anyhow::Result<String>) -> anyhow::Result<Option<CacheAt>> {
    let limits = format!(
        "pages{}-output{}-input{}",
        args.pool.max_pages, args.pool.max_output_bytes, args.max_input_bytes
    );
    let key_file = args.cache_key_file.as_deref();
    CacheAt::configured(args.cache, key_file, &args.output_bucket, &limits, engine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Worker {
        #[command(flatten)]
        args: WorkerArgs,
    }

    fn settings(extra: &[&str]) -> anyhow::Result<Settings> {
        let args = ["worker", "--output-bucket", "out"].iter().chain(extra);
        let engine = Ok("lo25.2.3.2-docx2pdf0.1.0-fonts1234abcd".to_string());
        Settings::from_args(&Worker::try_parse_from(args).unwrap().args, 2, engine)
    }

    #[test]
    fn without_a_key_the_cache_is_off() {
        assert!(settings(&[]).unwrap().cache.is_none());
    }

    #[test]
    fn a_key_too_short_to_seal_with_is_refused_naming_its_setting() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "short\n").unwrap();
        let error = settings(&["--cache-key-file", key.to_str().unwrap()]).unwrap_err();
        let error = format!("{error:#}");
        assert!(
            error.contains("CACHE_KEY_FILE=") && error.contains("at least 32"),
            "{error}"
        );
        let missing = settings(&["--cache-key-file", "/nonexistent/key"]);
        assert!(missing.is_err());
    }
}
