//! `docx2pdf worker` end to end: the Pub/Sub emulator, fake-gcs-server
//! publishing genuine notifications, real LibreOffice, and the real binary
//! (tests/common/emulators.rs starts them).
//!
//! Tests run one at a time: they measure shutdown timing and leases, which
//! two emulator sets competing for two cores would blur.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;
use common::emulators::*;
use common::fixture;

#[test]
fn three_message_formats_results_and_duplicates() {
    let _serial = serial();
    let env = Env::start(&[]);
    let results_topic = format!("{}-results", env.topic);
    create_topic_and_subscription(&env.pubsub, &results_topic, &results_topic);
    let worker = env.worker(&[(
        "RESULT_TOPIC",
        &format!("projects/{PROJECT}/topics/{results_topic}"),
    )]);

    // 1. A genuine notification: upload, OBJECT_FINALIZE, worker.
    env.upload(&fixture("one_page.docx"), "in dir/ünï côdé.docx");
    // 2. The original service's attributes, and 3. a JSON body. Their
    // uploads are announced too: each object comes twice, by design.
    env.upload(&fixture("one_page.odt"), "b.odt");
    env.upload(&fixture("one_page.rtf"), "c.rtf");
    env.publish(&["--attribute=bucketId=input,objectId=b.odt"]);
    env.publish_json("input", "c.rtf");

    for name in ["pdf/in dir/ünï côdé.pdf", "pdf/b.pdf", "pdf/c.pdf"] {
        let object = env.wait_object(name, Duration::from_secs(90));
        // contentType is not checked: fake-gcs-server v1.54 drops it on
        // uploads (fsouza/fake-gcs-server#1098, fixed after that release).
        assert_eq!(
            object["metadata"]["source-bucket"], "input",
            "{name}: {object}"
        );
        let generation = object["metadata"]["source-generation"]
            .as_str()
            .unwrap_or_default();
        assert!(generation.parse::<i64>().is_ok_and(|g| g > 0), "{object}");
        assert!(env.read_object(name).starts_with(b"%PDF-"), "{name}");
    }
    // Five announcements of three objects: three conversions, two skipped.
    wait_until("all five messages", Duration::from_secs(60), || {
        worker.outcome("converted") + worker.outcome("skipped") >= 5.0
    });
    assert_eq!(worker.outcome("converted"), 3.0);

    // A duplicate delivery converts nothing.
    let skipped = worker.outcome("skipped");
    env.publish_json("input", "c.rtf");
    worker.wait_outcome("skipped", skipped + 1.0, Duration::from_secs(60));
    assert_eq!(worker.outcome("converted"), 3.0);

    let converted: Vec<String> = (env.pull_events(&results_topic).iter())
        .filter(|event| event["outcome"] == "converted")
        .map(|event| event["result"].as_str().unwrap().to_string())
        .collect();
    assert!(
        converted.contains(&"gs://output/pdf/c.pdf".to_string()),
        "{converted:?}"
    );
}

#[test]
fn spreadsheets_presentations_and_drawings_convert_through_the_worker() {
    let _serial = serial();
    let env = Env::start(&[]);
    let _worker = env.worker(&[]);
    env.upload(&fixture("one_sheet.xlsx"), "q1/report.xlsx");
    env.upload(&fixture("one_slide.pptx"), "q1/deck.pptx");
    env.upload(&fixture("one_drawing.odg"), "q1/plan.odg");
    env.upload(&fixture("one_sheet.csv"), "q1/figures.csv");
    for name in [
        "pdf/q1/report.pdf",
        "pdf/q1/deck.pdf",
        "pdf/q1/plan.pdf",
        "pdf/q1/figures.pdf",
    ] {
        let object = env.wait_object(name, Duration::from_secs(90));
        assert_eq!(object["metadata"]["source-bucket"], "input", "{name}");
        assert!(env.read_object(name).starts_with(b"%PDF-"), "{name}");
    }
}

/// Options set by the uploader as custom metadata, as `gcloud storage cp
/// --custom-metadata` sets them, over the worker's own default (TAGGED).
#[test]
fn options_set_as_custom_metadata_shape_the_pdf() {
    let _serial = serial();
    let env = Env::start(&[]);
    let _worker = env.worker(&[("TAGGED", "true")]);
    let metadata = [
        ("docx2pdf-pdfa", "2b"),
        ("docx2pdf-single-page-sheets", "true"),
    ];
    env.upload_with_metadata(&fixture("two_sheets.xlsx"), "archive.xlsx", &metadata);
    env.upload_with_metadata(
        &fixture("one_page.docx"),
        "bad.docx",
        &[("docx2pdf-pdfa", "9z")],
    );

    let object = env.wait_object("pdf/archive.pdf", Duration::from_secs(90));
    assert_eq!(
        object["metadata"]["pdf-options"], "pdfa=2b;tagged;single-page-sheets",
        "{object}"
    );
    let pdf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pdf.path(), env.read_object("pdf/archive.pdf")).unwrap();
    let bytes = std::fs::read(pdf.path()).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("<pdfaid:part>2</pdfaid:part>"), "PDF/A-2b");
    assert!(text.contains("/StructTreeRoot"), "tagged");
    // The fidelity report beside the options.
    assert_eq!(object["metadata"]["pages"], "2", "{object}");
    let risk = object["metadata"]["layout-risk"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ["none", "metric-compatible", "different-metrics"].contains(&risk),
        "{object}"
    );
    assert!(
        object["metadata"]["fonts-substituted"].is_string(),
        "{object}"
    );
    let info = Command::new("pdfinfo").arg(pdf.path()).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines().any(|l| l == "Pages:           2"),
        "one page per sheet: {info}"
    );

    env.wait_object("pdf/bad.docx.error.json", Duration::from_secs(90));
    let record = env.read_object("pdf/bad.docx.error.json");
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert_eq!(record["kind"], "bad_options", "{record}");
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("1b, 2b or 3b"), "{record}");
}

#[test]
fn every_permanent_failure_is_acked_with_a_record_and_work_goes_on() {
    let _serial = serial();
    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), vec![b'x'; 70_000]).unwrap();
    let empty = tempfile::NamedTempFile::new().unwrap();
    let env = Env::start(&[
        ("big-unannounced.docx", big.path().to_owned()),
        ("in-elsewhere.docx", fixture("one_page.docx")),
    ]);
    // Above every real fixture (encrypted.docx is 42 KB), below `big`.
    let worker = env.worker(&[("MAX_INPUT_BYTES", "60000"), ("INPUT_BUCKETS", "input")]);
    worker.wait_ready();

    // Over the limit by the notification's size: refused before any byte is read.
    env.upload(big.path(), "big.docx");
    env.wait_object("pdf/big.docx.error.json", Duration::from_secs(60));
    assert_eq!(
        worker.metric("docx2pdf_input_bytes_total"),
        0.0,
        "big.docx was downloaded"
    );

    env.publish(&["--message={not json"]); // malformed JSON
    env.publish(&["--attribute=bucketId=input"]); // objectId missing
    env.publish_json("other-bucket", "x.docx"); // bucket not allowed
    env.publish_json("input", "missing.docx"); // object missing
    env.publish_json("input", "big-unannounced.docx"); // over the limit, while reading
    env.upload(empty.path(), "empty.docx");
    env.upload(&fixture("encrypted.docx"), "encrypted.docx");
    let text = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(text.path(), "plain text").unwrap();
    env.upload(text.path(), "corrupt.docx");
    env.upload(text.path(), "image.png"); // unknown extension
    env.publish(&["--attribute=eventType=OBJECT_DELETE,bucketId=input,objectId=gone.docx"]);
    env.publish(&["--attribute=bucketId=input,objectId=scan.pdf"]); // an output as input

    let expected = [
        ("pdf/missing.docx.error.json", "not_found"),
        ("pdf/big.docx.error.json", "too_large"),
        ("pdf/big-unannounced.docx.error.json", "too_large"),
        ("pdf/empty.docx.error.json", "empty"),
        ("pdf/encrypted.docx.error.json", "encrypted"),
        ("pdf/corrupt.docx.error.json", "corrupt"),
        ("pdf/image.png.error.json", "unsupported"),
    ];
    for (record, kind) in expected {
        env.wait_object(record, Duration::from_secs(60));
        let record: serde_json::Value = serde_json::from_slice(&env.read_object(record)).unwrap();
        assert_eq!(record["kind"], kind, "{record}");
        assert!(!record["reason"].as_str().unwrap().is_empty());
        assert!(
            record["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{record}"
        );
    }
    // Two malformed messages (no object to write a record for), one bucket
    // outside INPUT_BUCKETS (not ours to answer: no record either), and
    // seven records.
    worker.wait_outcome("failed_permanent", 10.0, Duration::from_secs(60));
    assert!(
        env.object("pdf/x.docx.error.json").is_none(),
        "a record was written for a bucket outside INPUT_BUCKETS"
    );
    // OBJECT_DELETE, scan.pdf, and the notifications of our own records.
    assert!(worker.outcome("ignored") >= 2.0);
    assert_eq!(worker.outcome("nacked"), 0.0);

    // The worker still converts.
    env.upload(&fixture("one_page.docx"), "after.docx");
    env.wait_object("pdf/after.pdf", Duration::from_secs(60));
    assert_eq!(worker.outcome("converted"), 1.0);
}

#[test]
fn a_storage_outage_nacks_with_backoff_then_converts() {
    let _serial = serial();
    let mut env = Env::start_persistent(&[("outage.docx", fixture("one_page.docx"))]);
    let worker = env.worker(&[("STORAGE_RETRY_SECONDS", "2")]);
    worker.wait_ready();
    env.stop_gcs();
    env.publish_json("input", "outage.docx");
    worker.wait_outcome("nacked", 2.0, Duration::from_secs(30));
    env.start_gcs(None);
    env.wait_object("pdf/outage.pdf", Duration::from_secs(90));
    worker.wait_outcome("converted", 1.0, Duration::from_secs(10));
    // Backoff before each nack (1 s, 2 s, 4 s ...) keeps attempts few.
    let nacks = worker.outcome("nacked");
    assert!(
        (2.0..=5.0).contains(&nacks),
        "{nacks} nacks for one message"
    );
    assert_eq!(worker.outcome("failed_permanent"), 0.0);
}

/// A connection to Cloud Storage that goes silent in the middle of a
/// download (a black-holed NAT mapping) fails the call within
/// STORAGE_RETRY_SECONDS: the message is nacked, not held, and converts
/// once the path works again. (Control, run by hand: with the body read
/// without a deadline on each part, no nack came within the 30 s.)
#[test]
fn a_download_gone_silent_midway_is_given_up_not_held() {
    let _serial = serial();
    let document = fixture("corpus/having-images.docx");
    assert!(std::fs::metadata(&document).unwrap().len() > 100 << 10);
    let env = Env::start(&[("silent.docx", document)]);
    let proxy = common::stalling_proxy::StallingProxy::start(&env.gcs_host);
    let worker = env.worker(&[
        ("STORAGE_EMULATOR_HOST", proxy.url.as_str()),
        ("STORAGE_RETRY_SECONDS", "2"),
    ]);
    worker.wait_ready();
    proxy.stall_after(64 << 10);
    env.publish_json("input", "silent.docx");
    worker.wait_outcome("nacked", 1.0, Duration::from_secs(30));
    assert!(env.object("pdf/silent.pdf").is_none());
    proxy.heal();
    env.wait_object("pdf/silent.pdf", Duration::from_secs(60));
    worker.wait_outcome("converted", 1.0, Duration::from_secs(10));
}

/// The subscription stream's connection goes silent (a dropped NAT
/// mapping: nothing arrives and nothing fails; TCP would notice only after
/// many minutes). With nothing in flight for PULL_SILENCE_SECONDS the
/// worker opens a new stream on a new connection, and the next message
/// converts; the control (`PULL_SILENCE_SECONDS=0`, never) converts
/// nothing.
#[test]
fn a_pull_stream_gone_silent_is_reopened_on_a_new_connection() {
    let _serial = serial();
    assert!(
        silent_stream_then_a_message("8", Duration::from_secs(150)),
        "the message never came"
    );
}

#[test]
fn control_a_pull_stream_gone_silent_and_never_reopened_brings_nothing() {
    let _serial = serial();
    assert!(
        !silent_stream_then_a_message("0", Duration::from_secs(30)),
        "converted without reopening the stream"
    );
}

/// Whether a message published after the worker's subscription stream went
/// silent converts within `wait`, with PULL_SILENCE_SECONDS=`silence`.
fn silent_stream_then_a_message(silence: &str, wait: Duration) -> bool {
    let env = Env::start(&[
        ("before.docx", fixture("one_page.docx")),
        ("after.docx", fixture("one_page.docx")),
    ]);
    let proxy = common::stalling_proxy::StallingProxy::to(&env.pubsub);
    let worker = env.worker(&[
        ("PUBSUB_EMULATOR_HOST", proxy.url.as_str()),
        ("PULL_SILENCE_SECONDS", silence),
    ]);
    worker.wait_ready();
    env.publish_json("input", "before.docx");
    env.wait_object("pdf/before.pdf", Duration::from_secs(30));
    proxy.black_hole_open_connections();
    let black_hole = std::time::Instant::now();
    // Published once the silence was noticed (or would have been): the
    // emulator may keep a stream that went away fed for a while.
    std::thread::sleep(Duration::from_secs(12));
    env.publish_json("input", "after.docx");
    while black_hole.elapsed() < wait {
        if env.object("pdf/after.pdf").is_some() {
            eprintln!("converted {:?} after the black hole", black_hole.elapsed());
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("{}", env.log_of(&worker));
    false
}

#[test]
fn a_worker_killed_mid_conversion_leaves_the_message_to_the_next_one() {
    let _serial = serial();
    let env = Env::start(&[("long.docx", fixture("long.docx"))]);
    let mut first = env.worker(&[]);
    first.wait_ready();
    env.publish_json("input", "long.docx");
    first.wait_slots(
        "a busy LibreOffice process",
        Duration::from_secs(30),
        |slots| slots.iter().any(|s| s["state"] == "busy"),
    );
    first.signal(Signal::SIGKILL);
    first.child.wait().unwrap();
    wait_until(
        "LibreOffice to die with its worker",
        Duration::from_secs(5),
        || first.leftover_processes().is_empty(),
    );
    assert!(env.object("pdf/long.pdf").is_none());

    // The next worker on the same machine removes what the dead one left.
    let tmpdir = first.tmp.path().to_string_lossy().into_owned();
    let second = env.worker(&[("TMPDIR", tmpdir.as_str())]);
    // Redelivery waits out the ack deadline, and the emulator may first feed
    // the dead worker's stream for a while (a known emulator bug).
    env.wait_object("pdf/long.pdf", Duration::from_secs(300));
    assert_eq!(second.outcome("converted"), 1.0);
    let own = format!("docx2pdf-{}-", second.child.id());
    let left: Vec<String> = std::fs::read_dir(first.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(&own))
        .collect();
    assert!(left.is_empty(), "left by the killed worker: {left:?}");
}

#[test]
fn sigterm_drains_within_the_grace_period_and_loses_nothing() {
    let _serial = serial();
    let names = numbered("long", 4);
    let env = Env::start(&preload(&names, "long.docx"));
    // Copies of one document: with the cache they would wait for one
    // conversion instead of keeping both processes busy.
    let mut worker = env.worker(&[("SHUTDOWN_GRACE", "3"), ("CACHE", "off")]);
    worker.wait_ready();
    for name in &names {
        env.publish_json("input", name);
    }
    worker.wait_slots(
        "both LibreOffice processes busy",
        Duration::from_secs(30),
        |slots| slots.iter().all(|s| s["state"] == "busy"),
    );
    let took = worker.terminate();
    assert!(
        took < Duration::from_secs(3 + 1),
        "took {took:?} to exit with SHUTDOWN_GRACE=3"
    );
    assert!(
        worker.leftover_processes().is_empty(),
        "LibreOffice outlived the worker"
    );

    // Whatever was not converted comes back to the next worker. The
    // emulator may first feed the stream that went away (a known emulator
    // bug: once, under the full suite's load, a nacked message took over
    // 120 s to come back).
    let _next = env.worker(&[]);
    for name in &names {
        env.wait_object(
            &format!("pdf/{}", name.replace(".docx", ".pdf")),
            Duration::from_secs(300),
        );
    }
}

#[test]
fn flow_control_bounds_the_work_and_loses_no_lease() {
    let _serial = serial();
    let names = numbered("doc", 20);
    let env = Env::start(&preload(&names, "one_page.docx"));
    for name in &names {
        env.publish_json("input", name);
    }
    // Twenty conversions, not one and nineteen copies from the cache; at
    // most four messages at once (MAX_MESSAGES, 8 per slot by default).
    let worker = env.worker(&[("CACHE", "off"), ("MAX_MESSAGES", "4")]);
    let mut seen = Vec::new();
    wait_until("/readyz to say 200", Duration::from_secs(60), || {
        let (code, _) = worker.readyz();
        if code != 0 && seen.last() != Some(&code) {
            seen.push(code);
        }
        code == 200
    });
    assert_eq!(
        seen,
        vec![503, 200],
        "/readyz answers before warm-up and after"
    );
    worker.wait_outcome("converted", 20.0, Duration::from_secs(120));
    let active = worker.metric("docx2pdf_messages_active_max");
    assert!(
        (1.0..=4.0).contains(&active),
        "worked on {active} messages at once; the bound is MAX_MESSAGES=4"
    );
    // The emulator ignores the limit the worker asks for and sends all 20;
    // the ones waiting are held with their lease, never redelivered.
    let held = worker.metric("docx2pdf_messages_in_flight_max");
    assert!(held >= active, "held {held}, active {active}");
    assert_eq!(
        worker.outcome("skipped"),
        0.0,
        "messages were redelivered while they waited"
    );
}

#[test]
fn a_long_conversion_keeps_its_lease() {
    let _serial = serial();
    const HOLD: Duration = Duration::from_secs(180);
    let env = Env::start(&[("slow.docx", fixture("one_page.docx"))]);
    let worker = env.worker(&[("JOB_TIMEOUT", "600")]);
    // A stopped LibreOffice is the slowest conversion there is; stopped
    // while still warming up, it would be replaced.
    let pids = worker.wait_all_warm();
    assert_eq!(pids.len(), 2);
    for pid in &pids {
        kill(Pid::from_raw(*pid), Signal::SIGSTOP).unwrap();
    }
    env.publish_json("input", "slow.docx");
    wait_until("the message to arrive", Duration::from_secs(30), || {
        worker.metric("docx2pdf_messages_in_flight") >= 1.0
    });
    std::thread::sleep(HOLD);
    // Read before the PDF exists: its upload notification is a message too.
    let held = worker.metric("docx2pdf_messages_in_flight_max");
    for pid in &pids {
        kill(Pid::from_raw(*pid), Signal::SIGCONT).unwrap();
    }
    assert_eq!(held, 1.0, "redelivered while held");
    worker.wait_outcome("converted", 1.0, Duration::from_secs(60));
    // A redelivery still on its way would find the PDF made and skip.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(worker.outcome("skipped"), 0.0, "redelivered while held");
}

/// Ready means a warm LibreOffice and a subscription that answered: a
/// worker whose Pub/Sub is unreachable stays unready however warm it is,
/// and becomes ready by itself when Pub/Sub comes up.
#[test]
fn readiness_waits_for_a_warm_slot_and_the_subscription() {
    let _serial = serial();
    let pubsub = format!("127.0.0.1:{}", free_port());
    let mut worker = Worker::spawn(
        &pubsub,
        "ready",
        free_port(),
        Stdio::null(),
        &[
            ("POOL_SIZE", "1".into()),
            ("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9".into()),
        ],
    );
    wait_until("/healthz", Duration::from_secs(30), || {
        curl(&[&format!("{}/healthz", worker.url)]).is_some()
    });
    wait_until("a warm slot", Duration::from_secs(60), || {
        worker.readyz().1["warm_slots"] == 1
    });
    let (code, body) = worker.readyz();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["subscribed"], false, "{body}");

    let mut emulator = spawn_pubsub_emulator(&pubsub);
    gcloud(&pubsub, &["pubsub", "topics", "create", "ready"]);
    // Pub/Sub answers now, but the subscription does not exist yet: the
    // worker keeps asking (backoff up to 10 s) and stays unready.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(worker.readyz().0, 503);
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker gave up"
    );
    gcloud(
        &pubsub,
        &[
            "pubsub",
            "subscriptions",
            "create",
            "ready",
            "--topic=ready",
        ],
    );
    wait_until("/readyz to say 200", Duration::from_secs(60), || {
        worker.readyz().0 == 200
    });
    let _ = emulator.kill();
    let _ = emulator.wait();
}

#[test]
fn a_full_temp_disk_is_transient_and_the_worker_recovers() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let Some(_mount) = common::mount_tmpfs(dir.path(), "8m") else {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    };
    let env = Env::start(&[("tight.docx", fixture("one_page.docx"))]);
    let tmpdir = dir.path().to_string_lossy().into_owned();
    let mut worker = env.worker(&[("TMPDIR", tmpdir.as_str())]);
    // A process still starting would fail on the full disk and free its
    // directory: room for the conversion.
    worker.wait_all_warm();

    // Fill what the pool left free.
    let filler = dir.path().join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
    }
    env.publish_json("input", "tight.docx");
    worker.wait_outcome("nacked", 1.0, Duration::from_secs(30));
    assert!(worker.child_alive(), "the worker died on a full disk");
    assert_eq!(worker.outcome("failed_permanent"), 0.0);

    std::fs::remove_file(&filler).unwrap();
    worker.wait_outcome("converted", 1.0, Duration::from_secs(60));
    env.wait_object("pdf/tight.pdf", Duration::from_secs(10));
}

/// Object names are data, never paths: odd ones convert under their own
/// names, and nothing lands anywhere on the worker's disk under them.
#[test]
fn odd_object_names_convert_and_never_touch_the_disk() {
    let _serial = serial();
    let env = Env::start(&[]);
    let worker = env.worker(&[]);
    worker.wait_ready();
    let escape = format!("escape-{}", std::process::id());
    let long = format!("{}.docx", "n".repeat(895));
    // The longest whose PDF's name ("pdf/" + 1016 + ".pdf") Cloud Storage holds.
    let longest = format!("{}.docx", "l".repeat(1016));
    let names = [
        format!("../../{escape}.docx"),
        "a%2Fb.docx".to_string(),
        "ünï côdé/résumé (final).docx".to_string(),
        long.clone(),
        "Q3\treport.docx".to_string(),
        "100% #1 why?.docx".to_string(),
        longest,
    ];
    for name in &names {
        env.upload(&fixture("one_page.docx"), name);
    }
    // Names Cloud Storage cannot hold: refused, with nothing to retry.
    env.publish_json("input", "line\nbreak.docx");
    env.publish_json("input", &format!("{}.docx", "m".repeat(1030)));

    for name in &names {
        let pdf = format!("pdf/{}.pdf", name.strip_suffix(".docx").unwrap());
        let object = env.wait_object(&pdf, Duration::from_secs(60));
        assert_eq!(object["metadata"]["source-object"], name.as_str());
    }
    worker.wait_outcome("failed_permanent", 2.0, Duration::from_secs(30));
    assert_eq!(worker.outcome("nacked"), 0.0);
    // One conversion; the other six names are copies from the content
    // cache, whose server-side copy carries the names in its URL too.
    assert_eq!(worker.outcome("converted"), 1.0);
    assert_eq!(worker.outcome("cached"), 6.0);
    // Worker's TMPDIR and working directory both lie in ours.
    let found = Command::new("find")
        .arg(std::env::temp_dir())
        .args(["-name", &format!("{escape}*")])
        .output()
        .unwrap();
    assert!(
        found.stdout.is_empty(),
        "written under the object's name: {}",
        String::from_utf8_lossy(&found.stdout)
    );
}

#[test]
fn the_worker_reconnects_after_a_pubsub_restart() {
    let _serial = serial();
    let mut env = Env::start(&[
        ("before.docx", fixture("one_page.docx")),
        ("after.docx", fixture("one_page.docx")),
    ]);
    // Two conversions of the same bytes: the second is not a copy.
    let mut worker = env.worker(&[("CACHE", "off")]);
    worker.wait_ready();
    env.publish_json("input", "before.docx");
    worker.wait_outcome("converted", 1.0, Duration::from_secs(60));

    env.restart_pubsub();
    env.publish_json("input", "after.docx");
    env.wait_object("pdf/after.pdf", Duration::from_secs(120));
    assert!(
        worker.child_alive(),
        "the worker exited instead of reconnecting"
    );
    assert_eq!(worker.outcome("converted"), 2.0);
}

/// A document that outlives its deadline on every try is tried twice (the
/// second time in the fresh process that replaced the killed one), then gets
/// a failure record, whatever MAX_ATTEMPTS allows.
#[test]
fn a_document_that_always_hangs_is_tried_twice_then_recorded() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow.docx");
    let paragraph = "<w:p><w:r><w:t>A paragraph that wraps over two lines of the page, written many thousands of times.</w:t></w:r></w:p>";
    common::write_docx(&slow, "", &paragraph.repeat(40_000), "");
    let env = Env::start(&[]);
    let worker = env.worker(&[("JOB_TIMEOUT", "1"), ("MAX_ATTEMPTS", "5")]);
    worker.wait_ready();
    env.upload(&slow, "slow.docx");
    env.wait_object("pdf/slow.docx.error.json", Duration::from_secs(90));
    let record: serde_json::Value =
        serde_json::from_slice(&env.read_object("pdf/slow.docx.error.json")).unwrap();
    assert_eq!(record["kind"], "gave_up", "{record}");
    assert_eq!(record["attempts"], 2, "{record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("took longer than"),
        "{record}"
    );
    assert_eq!(worker.outcome("nacked"), 1.0);
    env.upload(&fixture("one_page.docx"), "after.docx");
    env.wait_object("pdf/after.pdf", Duration::from_secs(60));
}

/// `report.txt` beside `report.docx` maps to the same PDF name: the PDF
/// stays the one made from the .docx, and the .txt gets a record naming
/// its owner. A new generation of the .docx still replaces its own PDF.
#[test]
fn another_source_never_replaces_a_pdf() {
    let _serial = serial();
    let env = Env::start(&[]);
    let worker = env.worker(&[]);
    worker.wait_ready();
    env.upload(&fixture("one_page.docx"), "report.docx");
    let made = env.wait_object("pdf/report.pdf", Duration::from_secs(60));
    assert_eq!(made["metadata"]["source-object"], "report.docx");

    env.upload(&fixture("one_page.txt"), "report.txt");
    env.wait_object("pdf/report.txt.error.json", Duration::from_secs(60));
    let record: serde_json::Value =
        serde_json::from_slice(&env.read_object("pdf/report.txt.error.json")).unwrap();
    assert_eq!(record["kind"], "name_taken", "{record}");
    let reason = record["reason"].as_str().unwrap();
    assert!(reason.contains("gs://input/report.docx"), "{reason}");
    let kept = env.object("pdf/report.pdf").unwrap();
    assert_eq!(
        kept["generation"], made["generation"],
        "the PDF was replaced"
    );

    // Its own source, uploaded again, replaces it.
    env.upload(&fixture("corpus/having-images.docx"), "report.docx");
    wait_until("the PDF of the new upload", Duration::from_secs(60), || {
        env.object("pdf/report.pdf")
            .is_some_and(|o| o["generation"] != made["generation"])
    });
    let replaced = env.object("pdf/report.pdf").unwrap();
    assert_eq!(replaced["metadata"]["source-object"], "report.docx");
    assert_eq!(worker.outcome("nacked"), 0.0);
}

/// Copies of one slow message wait for each other without taking the
/// permits other messages need: another document converts meanwhile.
#[test]
fn copies_of_a_slow_message_do_not_hold_up_other_documents() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow.docx");
    let paragraph = "<w:p><w:r><w:t>A paragraph that wraps over two lines of the page, written many thousands of times.</w:t></w:r></w:p>";
    common::write_docx(&slow, "", &paragraph.repeat(40_000), "");
    let env = Env::start(&[
        ("slow.docx", slow.clone()),
        ("fast.docx", fixture("one_page.docx")),
    ]);
    // Two processes, so four permits: four copies of the slow message could
    // take them all.
    let worker = env.worker(&[("POOL_SIZE", "2"), ("JOB_TIMEOUT", "300")]);
    worker.wait_ready();
    for _ in 0..4 {
        env.publish_json("input", "slow.docx");
    }
    std::thread::sleep(Duration::from_secs(1));
    env.publish_json("input", "fast.docx");
    env.wait_object("pdf/fast.pdf", Duration::from_secs(60));
    assert!(
        env.object("pdf/slow.pdf").is_none(),
        "the slow document finished first: the test shows nothing"
    );
    env.wait_object("pdf/slow.pdf", Duration::from_secs(300));
    worker.wait_outcome("skipped", 3.0, Duration::from_secs(60));
    assert_eq!(worker.outcome("converted"), 2.0);
}

/// The content cache through the emulators: twenty uploads of the same
/// bytes under other names give twenty PDFs, each recording its own
/// source, from one conversion; the same bytes with other options are
/// converted. The entries are objects under `docx2pdf-cache/`.
#[test]
fn the_same_document_uploaded_twenty_times_is_converted_once() {
    let _serial = serial();
    let env = Env::start(&[]);
    let worker = env.worker(&[]);
    let names = numbered("copy", 20);
    for name in &names {
        env.upload(&fixture("one_page.docx"), name);
    }
    worker.wait_outcome("cached", 19.0, Duration::from_secs(120));
    assert_eq!(worker.outcome("converted"), 1.0);
    let first = env.read_object("pdf/copy0.pdf");
    assert!(first.starts_with(b"%PDF-"));
    for name in &names {
        let pdf = format!("pdf/{}", name.replace(".docx", ".pdf"));
        let object = env.wait_object(&pdf, Duration::from_secs(10));
        assert_eq!(
            object["metadata"]["source-object"],
            name.as_str(),
            "{object}"
        );
        assert_eq!(object["metadata"]["pages"], "1", "{object}");
        assert_eq!(env.read_object(&pdf), first, "{pdf}");
    }
    let pdfa = [("docx2pdf-pdfa", "2b")];
    env.upload_with_metadata(&fixture("one_page.docx"), "archived.docx", &pdfa);
    let archived = env.wait_object("pdf/archived.pdf", Duration::from_secs(90));
    assert_eq!(archived["metadata"]["pdf-options"], "pdfa=2b");
    worker.wait_outcome("converted", 2.0, Duration::from_secs(30));
    assert_eq!(cache_entries(&env).len(), 2, "{:?}", cache_entries(&env));
}

#[test]
fn with_the_cache_off_every_copy_is_converted() {
    let _serial = serial();
    let env = Env::start(&[]);
    let worker = env.worker(&[("CACHE", "off")]);
    let names = numbered("copy", 5);
    for name in &names {
        env.upload(&fixture("one_page.docx"), name);
    }
    worker.wait_outcome("converted", 5.0, Duration::from_secs(120));
    assert_eq!(worker.outcome("cached"), 0.0);
    assert!(cache_entries(&env).is_empty());
}

/// The names of the cache's entries in the output bucket.
fn cache_entries(env: &Env) -> Vec<String> {
    let url = format!(
        "{}/storage/v1/b/output/o?prefix=docx2pdf-cache/",
        env.gcs_url()
    );
    let listing: serde_json::Value = serde_json::from_slice(&curl(&[&url]).unwrap()).unwrap();
    let items = listing["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}
