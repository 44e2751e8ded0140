//! The worker above its edges: in-memory fakes of Cloud Storage, the
//! converter and the result topic, with paused time. The emulator tests
//! (`tests/worker.rs`) keep the real path.

use std::sync::atomic::Ordering;
use std::time::Duration;

use google_cloud_pubsub::model::Message;

use super::*;
use crate::job::Routing;
use crate::office::ConvertError;
use crate::options::PdfOptions;
use crate::storage;
use crate::workspace::Workspace;

mod bounds;
mod cache;
mod fakes;
mod ownership;
mod preview;
use fakes::{FakeAnnounce, FakeConverter, FakeObjects};

type TestWorker = Worker<Arc<FakeObjects>, FakeConverter, Arc<FakeAnnounce>>;

/// A worker on fakes, and the fakes to look at.
struct Harness {
    worker: TestWorker,
    objects: Arc<FakeObjects>,
    results: Arc<FakeAnnounce>,
    _tmp: tempfile::TempDir,
}

fn harness(converter: FakeConverter) -> Harness {
    harness_with(converter, None)
}

fn harness_with(converter: FakeConverter, cache: Option<CacheAt>) -> Harness {
    harness_tuned(converter, cache, |_| {})
}

/// A harness whose settings `tune` changes first.
fn harness_tuned(
    converter: FakeConverter,
    cache: Option<CacheAt>,
    tune: impl FnOnce(&mut Settings),
) -> Harness {
    let tmp = tempfile::tempdir().unwrap();
    let objects = Arc::new(FakeObjects::default());
    let results = Arc::new(FakeAnnounce::default());
    let edges = Edges {
        objects: objects.clone(),
        converter: Arc::new(converter),
        results: Some(results.clone()),
        workspace: Arc::new(Workspace::create_in(tmp.path()).unwrap()),
    };
    let mut settings = Settings {
        subscription: None,
        routing: Routing {
            output_bucket: "out".into(),
            output_prefix: String::new(),
            input_buckets: vec!["in".into()],
        },
        max_input_bytes: 1 << 20,
        max_attempts: 5,
        default_options: PdfOptions::default(),
        shutdown_grace: Duration::from_secs(10),
        ack_deadline: Duration::from_secs(60),
        pull_silence: Duration::ZERO,
        max_messages: 4,
        max_conversions: 4,
        max_held_bytes: 1 << 30,
        cache,
    };
    tune(&mut settings);
    let worker = Worker::new(edges, Arc::new(Metrics::new()), settings);
    Harness {
        worker,
        objects,
        results,
        _tmp: tmp,
    }
}

/// A Cloud Storage notification of `gs://in/a.docx` at `generation`.
fn notification(id: &str, generation: i64) -> Message {
    notification_of("a.docx", id, generation)
}

/// A Cloud Storage notification of `gs://in/<object>` at `generation`.
fn notification_of(object: &str, id: &str, generation: i64) -> Message {
    Message::new().set_message_id(id).set_attributes([
        ("eventType", "OBJECT_FINALIZE".to_string()),
        ("bucketId", "in".to_string()),
        ("objectId", object.to_string()),
        ("objectGeneration", generation.to_string()),
    ])
}

/// The same, with the JSON payload Cloud Storage sends, describing an
/// object whose bytes are `body`.
fn notification_with_payload(object: &str, id: &str, generation: i64, body: &[u8]) -> Message {
    use base64::Engine;
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::compute(body).0);
    let payload = serde_json::json!({
        "kind": "storage#object", "bucket": "in", "name": object,
        "generation": generation.to_string(), "size": body.len().to_string(),
        "md5Hash": md5,
    });
    let message = notification_of(object, id, generation);
    message.set_data(payload.to_string())
}

impl Harness {
    async fn push(&self, message: &Message, attempt: i32) -> (Outcome, Reply) {
        let running = CancellationToken::new();
        self.worker
            .push(message.clone(), Some(attempt), &running)
            .await
    }

    fn calls(&self) -> u32 {
        self.worker
            .pipeline
            .converter()
            .calls
            .load(Ordering::SeqCst)
    }

    /// The failure record's kind, if one was written.
    fn recorded_kind(&self) -> Option<String> {
        let record = self.objects.get("out", "a.docx.error.json")?;
        let record: serde_json::Value = serde_json::from_slice(&record.body).unwrap();
        record["kind"].as_str().map(String::from)
    }
}

#[tokio::test(start_paused = true)]
async fn a_notification_becomes_a_pdf_that_records_its_source() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let answer = h.push(&notification("m1", generation), 1).await;
    assert_eq!(answer, (Outcome::Converted, Reply::Ack));
    let pdf = h.objects.get("out", "a.pdf").expect("the PDF");
    assert!(pdf.body.starts_with(b"%PDF-"));
    assert_eq!(pdf.metadata[storage::SOURCE_OBJECT], "a.docx");
    assert_eq!(
        pdf.metadata[storage::SOURCE_GENERATION],
        generation.to_string()
    );
    assert_eq!(*h.results.outcomes.lock().unwrap(), ["converted"]);
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_delivery_is_skipped_without_converting_again() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let message = notification("m1", generation);
    assert_eq!(h.push(&message, 1).await.0, Outcome::Converted);
    assert_eq!(h.push(&message, 2).await, (Outcome::Skipped, Reply::Ack));
    assert_eq!(h.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_event_for_a_replaced_generation_is_skipped() {
    let h = harness(FakeConverter::default());
    let old = h.objects.put("in", "a.docx", b"first", &[]);
    h.objects.put("in", "a.docx", b"second", &[]);
    let answer = h.push(&notification("m1", old), 1).await;
    assert_eq!(answer, (Outcome::Skipped, Reply::Ack));
    assert_eq!(h.calls(), 0);
    assert!(h.objects.get("out", "a.pdf").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_storage_outage_is_nacked_with_growing_holds_then_converts() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    h.objects.download_outages.store(2, Ordering::SeqCst);
    let message = notification("m1", generation);
    let hold = |s| Reply::Nack {
        hold: Duration::from_secs(s),
    };
    assert_eq!(h.push(&message, 1).await, (Outcome::Nacked, hold(1)));
    assert_eq!(h.push(&message, 2).await, (Outcome::Nacked, hold(2)));
    assert_eq!(h.push(&message, 3).await, (Outcome::Converted, Reply::Ack));
    // Nacks announce nothing: the one event is the end.
    assert_eq!(*h.results.outcomes.lock().unwrap(), ["converted"]);
}

#[tokio::test(start_paused = true)]
async fn a_crash_then_a_success_converts_on_the_retry() {
    let h = harness(FakeConverter::failing([ConvertError::Crashed(
        "boom".into(),
    )]));
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let message = notification("m1", generation);
    assert_eq!(h.push(&message, 1).await.0, Outcome::Nacked);
    assert_eq!(h.push(&message, 2).await.0, Outcome::Converted);
    assert_eq!(h.recorded_kind(), None);
}

#[tokio::test(start_paused = true)]
async fn a_document_that_crashes_twice_is_recorded_as_given_up() {
    let crash = || ConvertError::Crashed("boom".into());
    let h = harness(FakeConverter::failing([crash(), crash()]));
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let message = notification("m1", generation);
    assert_eq!(h.push(&message, 1).await.0, Outcome::Nacked);
    assert_eq!(
        h.push(&message, 2).await,
        (Outcome::FailedPermanent, Reply::Ack)
    );
    assert_eq!(h.recorded_kind().as_deref(), Some("gave_up"));
}

#[tokio::test(start_paused = true)]
async fn a_failure_while_stopping_is_left_for_the_next_instance() {
    let converter = FakeConverter {
        delay: Duration::from_secs(5),
        ..FakeConverter::failing([ConvertError::Internal("stopped".into())])
    };
    let h = harness(converter);
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let shutdown = CancellationToken::new();
    // SIGTERM a second into the job, at what would be its last attempt.
    let (answer, ()) = tokio::join!(
        h.worker
            .push(notification("m1", generation), Some(5), &shutdown),
        async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            shutdown.cancel();
        }
    );
    assert_eq!(answer.0, Outcome::Nacked);
    assert_eq!(h.recorded_kind(), None);
}

#[tokio::test(start_paused = true)]
async fn a_failure_record_that_cannot_be_written_is_nacked() {
    let h = harness(FakeConverter::failing([ConvertError::Corrupt(
        "bad".into(),
    )]));
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    h.objects.uploads_fail.store(true, Ordering::SeqCst);
    let (outcome, reply) = h.push(&notification("m1", generation), 1).await;
    assert_eq!(outcome, Outcome::Nacked);
    assert!(matches!(reply, Reply::Nack { .. }));
}

/// Each failed delivery is counted by its kind, the one its record and
/// log line carry: a retry as what went wrong, the last as `gave_up`.
#[tokio::test(start_paused = true)]
async fn failures_are_counted_by_kind() {
    let crash = || ConvertError::Crashed("boom".into());
    let h = harness(FakeConverter::failing([crash(), crash()]));
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let message = notification("m1", generation);
    h.push(&message, 1).await;
    h.push(&message, 2).await;
    let text = h.worker.metrics.encode(&[]);
    for line in [
        r#"docx2pdf_failures_total{kind="crashed"} 1"#,
        r#"docx2pdf_failures_total{kind="gave_up"} 1"#,
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_message_naming_nothing_is_acked_without_a_record() {
    let h = harness(FakeConverter::default());
    let message = Message::new()
        .set_message_id("m1")
        .set_attributes([("bucketId", "in")]);
    assert_eq!(
        h.push(&message, 1).await,
        (Outcome::FailedPermanent, Reply::Ack)
    );
    assert!(h.objects.objects.lock().unwrap().is_empty());
}

/// A JSON job for `gs://in/a.docx` at `generation`, asking for `options`.
fn json_job(id: &str, generation: i64, options: serde_json::Value) -> Message {
    let body = serde_json::json!({
        "bucket": "in", "name": "a.docx", "generation": generation, "options": options,
    });
    Message::new().set_message_id(id).set_data(body.to_string())
}

#[tokio::test(start_paused = true)]
async fn the_same_generation_with_other_options_is_new_work() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let plain = json_job("m1", generation, serde_json::json!({}));
    let archive = json_job("m2", generation, serde_json::json!({"pdfa": "2b"}));
    assert_eq!(h.push(&plain, 1).await.0, Outcome::Converted);
    assert_eq!(h.push(&archive, 1).await.0, Outcome::Converted);
    assert_eq!(h.push(&archive, 2).await.0, Outcome::Skipped);
    assert_eq!(h.calls(), 2);
    let pdf = h.objects.get("out", "a.pdf").unwrap();
    assert_eq!(pdf.metadata[storage::PDF_OPTIONS], "pdfa=2b");
    let events = h.results.events.lock().unwrap().clone();
    let options: Vec<&str> = events
        .iter()
        .filter_map(|e| e["options"].as_str())
        .collect();
    assert_eq!(options, ["default", "pdfa=2b", "pdfa=2b"], "{events:?}");
    assert!(
        events.iter().all(|e| e["source"] == "gs://in/a.docx"),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn options_come_from_defaults_then_metadata_then_the_message() {
    let h = harness(FakeConverter::default());
    let metadata = [("docx2pdf-pdfa", "1b"), ("docx2pdf-tagged", "true")];
    let generation = h.objects.put("in", "a.docx", b"document", &metadata);
    let job = json_job("m1", generation, serde_json::json!({"pdfa": "3b"}));
    assert_eq!(h.push(&job, 1).await.0, Outcome::Converted);
    let used = h
        .worker
        .pipeline
        .converter()
        .options
        .lock()
        .unwrap()
        .clone();
    assert_eq!(used, ["pdfa=3b;tagged"]);
}

#[tokio::test(start_paused = true)]
async fn a_bad_option_in_the_metadata_is_recorded_as_bad_options() {
    let h = harness(FakeConverter::default());
    let generation = h
        .objects
        .put("in", "a.docx", b"document", &[("docx2pdf-pages", "0")]);
    let answer = h.push(&notification("m1", generation), 1).await;
    assert_eq!(answer, (Outcome::FailedPermanent, Reply::Ack));
    assert_eq!(h.recorded_kind().as_deref(), Some("bad_options"));
    assert_eq!(h.calls(), 0);
}
