//! A preview beside the PDF: stored under the PDF's rules of ownership,
//! named in the result event, and never taken from the cache.

use super::cache::cache;
use super::*;

const ASK: [(&str, &str); 1] = [("docx2pdf-preview", "120")];

#[tokio::test(start_paused = true)]
async fn a_preview_goes_beside_the_pdf_with_its_provenance_and_is_announced() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &ASK);
    let answer = h.push(&notification("m1", generation), 1).await;
    assert_eq!(answer, (Outcome::Converted, Reply::Ack));
    let png = h.objects.get("out", "a.png").expect("the preview");
    assert!(png.body.starts_with(b"\x89PNG"));
    assert_eq!(png.metadata[storage::SOURCE_OBJECT], "a.docx");
    assert_eq!(
        png.metadata[storage::SOURCE_GENERATION],
        generation.to_string()
    );
    assert_eq!(png.metadata[storage::PDF_OPTIONS], "preview=120");
    assert!(h.objects.get("out", "a.pdf").is_some());
    let event = h.results.events.lock().unwrap()[0].clone();
    assert_eq!(event["preview"], "gs://out/a.png");
    // A redelivery finds the work done, the preview with it.
    let answer = h.push(&notification("m1", generation), 2).await;
    assert_eq!(answer, (Outcome::Skipped, Reply::Ack));
}

#[tokio::test(start_paused = true)]
async fn without_the_option_there_is_no_preview() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    assert_eq!(
        h.push(&notification("m1", generation), 1).await.0,
        Outcome::Converted
    );
    assert!(h.objects.get("out", "a.png").is_none());
    assert!(h.results.events.lock().unwrap()[0].get("preview").is_none());
}

/// The preview's name is judged as the PDF's is: another source's PNG
/// there stays, and the message makes no PDF either (the control: its
/// own earlier preview is replaced by a newer generation's).
#[tokio::test(start_paused = true)]
async fn another_sources_png_is_never_replaced() {
    let h = harness(FakeConverter::default());
    let owner = [
        (storage::SOURCE_BUCKET, "in"),
        (storage::SOURCE_OBJECT, "a.jpg.docx"),
    ];
    h.objects.put("out", "a.png", b"someone's picture", &owner);
    let generation = h.objects.put("in", "a.docx", b"document", &ASK);
    let answer = h.push(&notification("m1", generation), 1).await;
    assert_eq!(answer, (Outcome::FailedPermanent, Reply::Ack));
    assert_eq!(h.recorded_kind().as_deref(), Some("name_taken"));
    assert_eq!(
        h.objects.get("out", "a.png").unwrap().body,
        b"someone's picture"
    );
    assert!(h.objects.get("out", "a.pdf").is_none());

    let h = harness(FakeConverter::default());
    let first = h.objects.put("in", "a.docx", b"first", &ASK);
    assert_eq!(
        h.push(&notification("m1", first), 1).await.0,
        Outcome::Converted
    );
    let second = h.objects.put("in", "a.docx", b"second", &ASK);
    assert_eq!(
        h.push(&notification("m2", second), 1).await.0,
        Outcome::Converted
    );
    let png = h.objects.get("out", "a.png").unwrap();
    assert_eq!(png.metadata[storage::SOURCE_GENERATION], second.to_string());
}

/// The cache keeps PDFs only: the same bytes asking for a preview convert
/// again (the control: without one, the second is a copy).
#[tokio::test(start_paused = true)]
async fn a_document_asking_for_a_preview_is_converted_each_time() {
    let h = harness_with(FakeConverter::default(), Some(cache()));
    for (name, id) in [("a.docx", "m1"), ("b.docx", "m2")] {
        let generation = h.objects.put("in", name, b"same", &ASK);
        let message = notification_of(name, id, generation);
        assert_eq!(h.push(&message, 1).await.0, Outcome::Converted, "{name}");
    }
    assert!(h.objects.get("out", "b.png").is_some());
    assert_eq!(h.calls(), 2);
    for (name, id, outcome) in [
        ("c.docx", "m3", Outcome::Converted),
        ("d.docx", "m4", Outcome::Cached),
    ] {
        let generation = h.objects.put("in", name, b"same", &[]);
        let message = notification_of(name, id, generation);
        assert_eq!(h.push(&message, 1).await.0, outcome, "{name}");
    }
}
