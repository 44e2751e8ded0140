//! Settings as the command line and the environment give them.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Worker {
    #[command(flatten)]
    args: WorkerArgs,
}

fn worker(extra: &[&str]) -> WorkerArgs {
    let args = ["worker", "--output-bucket", "out"].iter().chain(extra);
    Worker::try_parse_from(args).unwrap().args
}

#[test]
fn without_a_key_the_cache_is_off() {
    assert!(worker(&[]).settings(2).unwrap().cache.is_none());
}

#[test]
fn a_key_too_short_to_seal_with_is_refused_naming_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "short\n").unwrap();
    let error = worker(&["--cache-key-file", key.to_str().unwrap()])
        .settings(2)
        .unwrap_err();
    let error = format!("{error:#}");
    assert!(
        error.contains("CACHE_KEY_FILE=") && error.contains("at least 32"),
        "{error}"
    );
    let missing = worker(&["--cache-key-file", "/nonexistent/key"]).settings(2);
    assert!(missing.is_err());
}

#[test]
fn pubsub_names_must_be_full() {
    assert!(full_name("--topic ", "projects/p/topics/t", "topics").is_ok());
    for bad in [
        "t",
        "projects/p/topics/",
        "projects/p/subscriptions/t",
        "projects//topics/t",
    ] {
        let error = full_name("--topic ", bad, "topics").unwrap_err();
        assert!(
            error.to_string().contains("projects/PROJECT/topics/NAME"),
            "{error}"
        );
    }
}
