//! The content cache on fakes: what is copied, what is converted, and what
//! is never taken for a cache entry.

use super::*;
use crate::options::Canonical;

pub(super) fn cache() -> CacheAt {
    CacheAt::new(
        "out",
        "engine",
        "limits",
        SealKey::new(vec![1; 32]).unwrap(),
    )
}

/// What the cache keys a document's bytes by.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cached() -> Harness {
    harness_with(FakeConverter::default(), Some(cache()))
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

/// The key is the downloaded bytes' SHA-256, so composite objects (no MD5)
/// take part; with the cache off nothing is copied.
#[tokio::test(start_paused = true)]
async fn without_an_md5_copies_are_cached_and_with_the_cache_off_every_upload_is_converted() {
    let h = cached();
    let mut outcomes = Vec::new();
    for name in ["a.docx", "b.docx"] {
        let generation = h.objects.put("in", name, b"composite", &[]);
        let key = ("in".to_string(), name.to_string());
        h.objects.objects.lock().unwrap().get_mut(&key).unwrap().md5 = None;
        let message = notification_of(name, name, generation);
        outcomes.push(h.push(&message, 1).await.0);
    }
    assert_eq!(outcomes, [Outcome::Converted, Outcome::Cached]);
    let off = harness(FakeConverter::default());
    for name in ["a.docx", "b.docx"] {
        assert_eq!(off.upload(name, b"same", &[]).await, Outcome::Converted);
    }
    assert_eq!(
        (h.calls(), h.copies(), off.calls(), off.copies()),
        (1, 2, 2, 0)
    );
}

/// The same bytes as `table.csv` and as `notes.txt` are read by Calc and
/// by Writer: two entries, two conversions.
#[tokio::test(start_paused = true)]
async fn the_same_bytes_read_another_way_are_another_entry() {
    let h = cached();
    assert_eq!(
        h.upload("table.csv", b"a,b\n1,2\n", &[]).await,
        Outcome::Converted
    );
    assert_eq!(
        h.upload("notes.txt", b"a,b\n1,2\n", &[]).await,
        Outcome::Converted
    );
    assert_eq!(
        h.upload("copy.csv", b"a,b\n1,2\n", &[]).await,
        Outcome::Cached
    );
    assert_eq!(h.calls(), 2);
}

/// Two documents whose MD5s Cloud Storage reports alike (a collision can
/// be manufactured) never share a PDF: the key is their bytes' SHA-256.
#[tokio::test(start_paused = true)]
async fn documents_with_one_md5_never_share_a_pdf() {
    let h = cached();
    for (name, body) in [("a.docx", &b"first"[..]), ("b.docx", &b"second"[..])] {
        let generation = h.objects.put("in", name, body, &[]);
        let key = ("in".to_string(), name.to_string());
        h.objects.objects.lock().unwrap().get_mut(&key).unwrap().md5 = Some("0".repeat(32));
        let message = notification_of(name, name, generation);
        assert_eq!(h.push(&message, 1).await.0, Outcome::Converted, "{name}");
    }
    assert_eq!(h.calls(), 2);
}

/// Someone who can write the output bucket uploads a PDF where the entry
/// for a victim's document will be, with every piece of metadata the fill
/// writes and a seal made with another key: the victim's document is
/// converted, not handed that PDF. (Control: the same plant sealed with the
/// worker's own key, which only the worker holds, is handed out.)
#[tokio::test(start_paused = true)]
async fn an_entry_planted_in_the_output_bucket_is_never_handed_out() {
    for (sealed_with, expected) in [(2u8, Outcome::Converted), (1u8, Outcome::Cached)] {
        let h = cached();
        let sha256 = sha256_hex(b"victim");
        let entry = cache().key("docx", &Canonical::of(&[]), &sha256);
        let planted = b"%PDF- the attacker's";
        let seal = SealKey::new(vec![sealed_with; 32])
            .unwrap()
            .seal(&entry, &crate::worker::cache::md5_hex(planted));
        let metadata = [
            ("pdf-options", "default"),
            ("pages", "1"),
            ("cache-entry-read-as", "docx"),
            ("cache-entry-seal", seal.as_str()),
        ];
        h.objects.put("out", &entry, planted, &metadata);
        assert_eq!(
            h.upload("a.docx", b"victim", &[]).await,
            expected,
            "sealed with {sealed_with}"
        );
        let pdf = h.objects.get("out", "a.pdf").unwrap();
        assert_eq!(pdf.body == planted, expected == Outcome::Cached);
    }
}

/// A genuine entry whose bytes someone replaced, keeping its metadata:
/// its seal covers the MD5 of the bytes it was made with.
#[tokio::test(start_paused = true)]
async fn an_entry_whose_bytes_were_replaced_is_not_handed_out() {
    let h = cached();
    assert_eq!(h.upload("a.docx", b"same", &[]).await, Outcome::Converted);
    let (entry, mut stored) = {
        let objects = h.objects.objects.lock().unwrap();
        let (key, stored) = objects
            .iter()
            .find(|((_, name), _)| name.starts_with("docx2pdf-cache/"))
            .expect("the entry");
        (key.1.clone(), stored.clone())
    };
    stored.body = b"%PDF- replaced".to_vec();
    let metadata: Vec<(&str, &str)> = (stored.metadata.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.objects.put("out", &entry, &stored.body, &metadata);
    assert_eq!(h.upload("b.docx", b"same", &[]).await, Outcome::Converted);
    assert_eq!(
        h.objects.get("out", "b.pdf").unwrap().body,
        b"%PDF-1.7 fake"
    );
}

/// A document named so that its PDF lands where an entry would be: its
/// PDF is not an entry, and another document with those bytes gets its
/// own conversion, not that PDF.
#[tokio::test(start_paused = true)]
async fn a_pdf_on_an_entrys_name_is_not_taken_for_an_entry() {
    let h = cached();
    let sha256 = sha256_hex(b"victim");
    let planted = cache()
        .key("docx", &Canonical::of(&[]), &sha256)
        .replace(".pdf", ".docx");
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
    let h = harness_with(converter, Some(cache()));
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

/// A push request whose caller goes away while it waits for another copy's
/// PDF: the permit it lent back while waiting is taken back all the same,
/// so the worker still holds no more messages at once than it may.
#[tokio::test(start_paused = true)]
async fn a_copy_cancelled_while_it_waits_leaves_the_permits_as_they_were() {
    let converter = FakeConverter {
        delay: Duration::from_secs(10),
        ..FakeConverter::default()
    };
    let h = harness_with(converter, Some(cache()));
    let first = h.upload("a.docx", b"same", &[]);
    let cancelled = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let waiting = h.upload("b.docx", b"same", &[]);
        // The caller gives up while the copy waits for a.docx's PDF.
        assert!(
            tokio::time::timeout(Duration::from_secs(2), waiting)
                .await
                .is_err()
        );
    };
    let (first, ()) = tokio::join!(first, cancelled);
    assert_eq!(first, Outcome::Converted);
    tokio::task::yield_now().await;
    assert_eq!(h.worker.intake.available_permits(), 4, "max_messages");
}
