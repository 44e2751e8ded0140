//! The intake's bounds on work in flight, each apart from the others.

use super::*;

/// Three messages at once, each a 1,000-byte document converting for 5 s,
/// through a worker tuned by `tune`: how many conversions ran at once.
async fn most_conversions_at_once(tune: impl FnOnce(&mut Settings)) -> u32 {
    let converter = FakeConverter {
        delay: Duration::from_secs(5),
        ..FakeConverter::default()
    };
    let h = harness_tuned(converter, None, tune);
    let mut messages = Vec::new();
    for name in ["a.docx", "b.docx", "c.docx"] {
        let generation = h.objects.put("in", name, &[7; 1000], &[]);
        messages.push(notification_of(name, name, generation));
    }
    let (a, b, c) = tokio::join!(
        h.push(&messages[0], 1),
        h.push(&messages[1], 1),
        h.push(&messages[2], 1)
    );
    for (outcome, _) in [a, b, c] {
        assert_eq!(outcome, Outcome::Converted);
    }
    h.worker
        .pipeline
        .converter()
        .most_at_once
        .load(Ordering::SeqCst)
}

/// Conversions have a limit of their own, apart from the messages worked
/// on, which go on being fetched and stored meanwhile. (Control: with a
/// turn for each, all three convert at once.)
#[tokio::test(start_paused = true)]
async fn conversions_are_bounded_apart_from_messages() {
    assert_eq!(most_conversions_at_once(|s| s.max_conversions = 4).await, 3);
    assert_eq!(most_conversions_at_once(|s| s.max_conversions = 1).await, 1);
}

/// Documents on disk between download and conversion are bounded by their
/// bytes (each holds twice its size: the download and its rebuilt
/// package): a budget of 3,000 bytes holds one 1,000-byte document at a
/// time. (Control: with room for all, all three convert at once.)
#[tokio::test(start_paused = true)]
async fn documents_on_disk_are_bounded_by_their_bytes() {
    assert_eq!(
        most_conversions_at_once(|s| s.max_held_bytes = 1 << 20).await,
        3
    );
    assert_eq!(
        most_conversions_at_once(|s| s.max_held_bytes = 3000).await,
        1
    );
}

/// The calls a converted message makes, as `/metrics` counts them, on
/// its first delivery (a redelivery reads its output name first): the
/// source described, the download, the upload; with a notification whose
/// payload describes the source, only the download and the upload.
#[tokio::test(start_paused = true)]
async fn a_converted_message_makes_three_storage_calls_or_two_with_a_payload() {
    let h = harness(FakeConverter::default());
    let generation = h.objects.put("in", "a.docx", b"document", &[]);
    assert_eq!(
        h.push(&notification("m1", generation), 1).await.0,
        Outcome::Converted
    );
    assert_calls(&h, &[("describe", 1), ("download", 1), ("upload", 1)]);
    let generation = h.objects.put("in", "b.docx", b"document", &[]);
    let described = notification_with_payload("b.docx", "m2", generation, b"document");
    assert_eq!(h.push(&described, 1).await.0, Outcome::Converted);
    assert_calls(&h, &[("describe", 1), ("download", 2), ("upload", 2)]);
}

/// `/metrics` counts these storage calls so far, and no copy.
fn assert_calls(h: &Harness, calls: &[(&str, u32)]) {
    let text = h.worker.metrics.encode(&[]);
    for (call, count) in calls {
        let line = format!(r#"docx2pdf_storage_calls_total{{call="{call}"}} {count}"#);
        assert!(text.contains(&line), "{line}: {text}");
    }
    assert!(!text.contains(r#"call="copy""#), "{text}");
}
