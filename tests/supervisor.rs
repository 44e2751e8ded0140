//! The supervision mechanism on its own, with a program that can never start.

use std::time::{Duration, Instant};

use docx2pdf::supervisor::{CallError, SlotState, Spec, Supervisor};

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_cannot_start_is_retried_with_backoff_and_requests_fail() {
    let scratch = tempfile::tempdir().unwrap();
    let spec = Spec {
        name: "false",
        program: "/bin/false".into(),
        args: vec![],
        prepare: Box::new(|_, _| Ok(())),
        scratch_root: scratch.path().to_owned(),
        start_timeout: Duration::from_secs(2),
        recycle_after: 10,
        rss_ceiling: 1 << 30,
        file_size_cap: u64::MAX,
        backoff: (Duration::from_millis(100), Duration::from_millis(800)),
    };
    let supervisor: Supervisor<String, String> = Supervisor::start(spec, 1);
    let started = Instant::now();
    let error = supervisor
        .call("hello".into(), Duration::from_secs(1))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, CallError::NoProcess(limit) if limit == Duration::from_secs(3)),
        "{error}"
    );
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Starts at 0, 0.1, 0.3, 0.7, 1.5, 2.3 s ...: a handful, not hundreds.
    let slot = &supervisor.status()[0];
    assert!(
        (3..=8).contains(&slot.restarts),
        "{} restarts in {waited:?}",
        slot.restarts
    );
    assert_eq!(slot.state, SlotState::Starting);
    supervisor.shutdown().await;
    assert_eq!(supervisor.status()[0].state, SlotState::Stopped);
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "scratch dirs left behind"
    );
}
