//! The content cache on fakes: what is copied, what is converted, and what
//! is never taken for a cache entry.

use super::*;

fn cached() -> Harness {
    harness_with(
        FakeConverter::default(),
        Some(CacheAt::new("out", "engine")),
    )
}

impl Harness {
    /// Uploads `body` as `gs://in/<object>` and delivers its notification.
    async fn upload(&self, object: &str, body: &[u8], metadata: &[(&str, &str)]) -> Outcome {
        let generation = self.objects.put("in", object, body, metadata);
        let message = notification_of(object, &format!("m-{object}"), generation);
        self.push(&message, 1).await.0
    }

    fn copies(&self) -> u32 {
        self.objects.copies.load(Ordering::SeqCst)
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_bytes_under_other_names_are_converted_once() {
    let h = cached();
    assert_eq!(h.upload("a.docx", b"same", &[]).await, Outcome::Converted);
    for name in ["b.docx", "c.docx"] {
        assert_eq!(h.upload(name, b"same", &[]).await, Outcome::Cached);
        let pdf = h
            .objects
            .get("out", &name.replace(".docx", ".pdf"))
            .unwrap();
        assert_eq!(pdf.body, b"%PDF-1.7 fake");
        // The new source's provenance; the conversion's report.
        assert_eq!(pdf.metadata[storage::SOURCE_OBJECT], name);
        assert_eq!(pdf.metadata["pages"], "1");
        assert_eq!(pdf.metadata[storage::PDF_OPTIONS], "default");
    }
    assert_eq!(h.calls(), 1);
    // One copy into the cache, one out of it per later upload.
    assert_eq!(h.copies(), 3);
    assert_eq!(
        *h.results.outcomes.lock().unwrap(),
        ["converted", "cached", "cached"]
    );
    assert_eq!(h.upload("d.docx", b"other", &[]).await, Outcome::Converted);
}

#[tokio::test(start_paused = true)]
async fn other_options_are_another_entry() {
    let h = cached();
    assert_eq!(h.upload("a.docx", b"same", &[]).await, Outcome::Converted);
    let pdfa = [("docx2pdf-pdfa", "2b")];
    assert_eq!(h.upload("b.docx", b"same", &pdfa).await, Outcome::Converted);
    assert_eq!(h.upload("c.docx", b"same", &pdfa).await, Outcome::Cached);
    let pdf = h.objects.get("out", "c.pdf").unwrap();
    assert_eq!(pdf.metadata[storage::PDF_OPTIONS], "pdfa=2b");
    assert_eq!(h.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn without_an_md5_or_with_the_cache_off_every_upload_is_converted() {
    let h = cached();
    for name in ["a.docx", "b.docx"] {
        let generation = h.objects.put("in", name, b"composite", &[]);
        let key = ("in".to_string(), name.to_string());
        h.objects.objects.lock().unwrap().get_mut(&key).unwrap().md5 = None;
        let message = notification_of(name, name, generation);
        assert_eq!(h.push(&message, 1).await.0, Outcome::Converted);
    }
    let off = harness(FakeConverter::default());
    for name in ["a.docx", "b.docx"] {
        assert_eq!(off.upload(name, b"same", &[]).await, Outcome::Converted);
    }
    assert_eq!(
        (h.calls(), h.copies(), off.calls(), off.copies()),
        (2, 0, 2, 0)
    );
}

/// A document named so that its PDF lands where an entry would be: its
/// PDF is not an entry, and another document with those bytes' MD5 gets
/// its own conversion, not that PDF.
#[tokio::test(start_paused = true)]
async fn a_pdf_on_an_entrys_name_is_not_taken_for_an_entry() {
    let h = cached();
    let md5 = format!("{:08x}", crc32c::crc32c(b"victim"));
    let planted = format!("docx2pdf-cache/engine/default/{md5}.docx");
    h.objects.put("in", &planted, b"attacker", &[]);
    let generation = h.objects.get("in", &planted).unwrap().generation;
    let message = notification_of(&planted, "m-planted", generation);
    assert_eq!(h.push(&message, 1).await.0, Outcome::Converted);
    assert!(
        h.objects
            .get("out", &planted.replace(".docx", ".pdf"))
            .is_some()
    );
    assert_eq!(h.upload("a.docx", b"victim", &[]).await, Outcome::Converted);
    assert_eq!(h.calls(), 2);
}

/// Four copies arriving together with another document, four permits: one
/// copy converts, three wait for its PDF without holding a permit, and the
/// other document converts meanwhile, not after.
#[tokio::test(start_paused = true)]
async fn copies_arriving_together_wait_for_the_first_without_holding_up_others() {
    let converter = FakeConverter {
        delay: Duration::from_secs(10),
        ..FakeConverter::default()
    };
    let h = harness_with(converter, Some(CacheAt::new("out", "engine")));
    let started = tokio::time::Instant::now();
    let copies = ["a.docx", "b.docx", "c.docx", "d.docx"].map(|name| {
        let h = &h;
        async move { h.upload(name, b"same", &[]).await }
    });
    let other = async {
        // After the copies have taken every permit.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let outcome = h.upload("other.docx", b"other", &[]).await;
        (outcome, started.elapsed())
    };
    let (mut outcomes, (other, other_took)) =
        tokio::join!(futures::future::join_all(copies), other);
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(
        outcomes,
        [
            Outcome::Cached,
            Outcome::Cached,
            Outcome::Cached,
            Outcome::Converted
        ]
    );
    assert_eq!(other, Outcome::Converted);
    assert_eq!(h.calls(), 2);
    assert!(
        other_took < Duration::from_secs(11),
        "waited {other_took:?}"
    );
}

/// A worker that writes the output name between our claim and our copy
/// wins: the copy is conditional on what the claim saw, and the message is
/// nacked to be judged again.
#[tokio::test(start_paused = true)]
async fn a_copy_never_replaces_a_pdf_written_since_the_claim() {
    let h = cached();
    assert_eq!(h.upload("a.docx", b"same", &[]).await, Outcome::Converted);
    *h.objects.raced_copy.lock().unwrap() = Some(("out".into(), "b.pdf".into()));
    assert_eq!(h.upload("b.docx", b"same", &[]).await, Outcome::Nacked);
    let pdf = h.objects.get("out", "b.pdf").unwrap();
    assert_eq!(pdf.body, b"%PDF- the racer's");
}

/// A worker that replaces our PDF between our upload and the cache fill:
/// its PDF is not kept as the entry for our document's bytes (the fill
/// copies the generation we wrote, which is gone), so the next copy of our
/// document is converted rather than handed the other PDF.
#[tokio::test(start_paused = true)]
async fn the_cache_keeps_only_the_pdf_this_document_made() {
    let h = cached();
    *h.objects.raced_copy.lock().unwrap() = Some(("out".into(), "a.pdf".into()));
    assert_eq!(h.upload("a.docx", b"same", &[]).await, Outcome::Converted);
    assert_eq!(h.upload("b.docx", b"same", &[]).await, Outcome::Converted);
    let pdf = h.objects.get("out", "b.pdf").unwrap();
    assert_eq!(pdf.body, b"%PDF-1.7 fake");
}
