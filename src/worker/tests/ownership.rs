//! Whose an output name is: another source's PDF, a record that is not
//! this document's, a payload that is not its object.

use super::*;

/// A first delivery writes as if its name were free; the write finds
/// another source's PDF there, and the message reads whose it is.
#[tokio::test(start_paused = true)]
async fn another_sources_pdf_is_never_replaced() {
    let h = harness(FakeConverter::default());
    let owner = [
        (storage::SOURCE_BUCKET, "in"),
        (storage::SOURCE_OBJECT, "a.doc"),
        (storage::SOURCE_GENERATION, "1"),
    ];
    h.objects.put("out", "a.pdf", b"%PDF- the .doc's", &owner);
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let answer = h.push(&notification("m1", generation), 1).await;
    assert_eq!(answer, (Outcome::FailedPermanent, Reply::Ack));
    assert_eq!(h.recorded_kind().as_deref(), Some("name_taken"));
    assert_eq!(
        h.objects.get("out", "a.pdf").unwrap().body,
        b"%PDF- the .doc's"
    );
    // A redelivery reads the name first, and converts nothing.
    let answer = h.push(&notification("m1", generation), 2).await;
    assert_eq!(answer, (Outcome::FailedPermanent, Reply::Ack));
    assert_eq!(h.calls(), 1);
}

/// A payload that is not the object it names at its generation (Cloud
/// Storage never sends one) is refused after the download, before any
/// conversion. (Control: an honest payload converts, in `bounds`.)
#[tokio::test(start_paused = true)]
async fn a_payload_unlike_its_object_is_refused() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    for (id, claimed) in [("m1", &b"documenT"[..]), ("m2", b"doc")] {
        let lying = notification_with_payload("a.docx", id, generation, claimed);
        let answer = h.push(&lying, 1).await;
        assert_eq!(answer, (Outcome::FailedPermanent, Reply::Ack), "{id}");
        assert_eq!(h.recorded_kind().as_deref(), Some("malformed_message"));
    }
    assert_eq!(h.calls(), 0);
    assert!(h.objects.get("out", "a.pdf").is_none());
}

/// Where a document's failure record goes, the output bucket may already
/// hold something else's: an object someone wrote, or another source's
/// record. It is never replaced (the log line is the record); the
/// document's own earlier record is.
#[tokio::test(start_paused = true)]
async fn a_failure_record_never_replaces_what_is_not_this_documents() {
    let corrupt = || ConvertError::Corrupt("bad".into());
    let h = harness(FakeConverter::failing([corrupt(), corrupt(), corrupt()]));
    h.objects
        .put("out", "a.docx.error.json", b"someone's file", &[]);
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    let (outcome, reply) = h.push(&notification("m1", generation), 1).await;
    assert_eq!((outcome, reply), (Outcome::FailedPermanent, Reply::Ack));
    assert_eq!(
        h.objects.get("out", "a.docx.error.json").unwrap().body,
        b"someone's file"
    );

    h.objects
        .objects
        .lock()
        .unwrap()
        .remove(&("out".to_string(), "a.docx.error.json".to_string()));
    assert_eq!(
        h.push(&notification("m2", generation), 1).await.0,
        Outcome::FailedPermanent
    );
    let generation = h.objects.put("in", "a.docx", b"document, again", &[]);
    assert_eq!(
        h.push(&notification("m3", generation), 1).await.0,
        Outcome::FailedPermanent
    );
    let record = h.objects.get("out", "a.docx.error.json").unwrap();
    assert_eq!(
        record.metadata[storage::SOURCE_GENERATION],
        generation.to_string(),
        "its own record is replaced"
    );
}
