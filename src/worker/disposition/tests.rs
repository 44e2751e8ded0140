//! The ack policy, row by row.

use super::*;

fn job() -> Job {
    Job {
        bucket: "in".into(),
        object: "a.docx".into(),
        generation: Some(7),
        announced: None,
        output: "a.pdf".into(),
        failure_record: "a.docx.error.json".into(),
        options: Vec::new(),
    }
}

fn delivery(attempt: u32) -> Delivery {
    Delivery {
        attempt,
        max_attempts: 5,
        stopping: false,
    }
}

fn done(outcome: Outcome) -> Verdict {
    Verdict::Done {
        outcome,
        detail: "detail".into(),
        output: Some("gs://out/a.pdf".into()),
    }
}

fn transient(kind: ErrorKind) -> Verdict {
    Verdict::Transient {
        kind,
        reason: "gs://in/a.docx: it failed".into(),
        job: job(),
    }
}

fn permanent(job: Option<Job>) -> Verdict {
    Verdict::Permanent {
        kind: ErrorKind::Corrupt,
        reason: "gs://in/a.docx: damaged".into(),
        job,
    }
}

const RECORD: &str = "gs://out/a.docx.error.json";

/// Decides and settles, with the record written when one is asked for.
fn run(verdict: Verdict, delivery: Delivery) -> Settled {
    let disposition = decide(verdict, delivery);
    let record = match &disposition {
        Disposition::Record { job: Some(_), .. } => Ok(Some(RECORD.to_string())),
        _ => Ok(None),
    };
    settle(disposition, record)
}

#[test]
fn a_converted_document_is_acked_with_its_pdf() {
    let settled = run(done(Outcome::Converted), delivery(1));
    assert_eq!(settled.reply, Reply::Ack);
    assert_eq!(settled.outcome, Outcome::Converted);
    assert_eq!(settled.error_kind, None);
    assert_eq!(settled.result.as_deref(), Some("gs://out/a.pdf"));
}

#[test]
fn a_duplicate_or_a_stale_event_is_acked_as_skipped() {
    let settled = run(done(Outcome::Skipped), delivery(3));
    assert_eq!(
        (settled.reply, settled.outcome),
        (Reply::Ack, Outcome::Skipped)
    );
}

#[test]
fn a_message_that_asks_for_nothing_is_acked_as_ignored() {
    let settled = run(done(Outcome::Ignored), delivery(1));
    assert_eq!(
        (settled.reply, settled.outcome),
        (Reply::Ack, Outcome::Ignored)
    );
}

#[test]
fn a_permanent_failure_is_recorded_then_acked() {
    let disposition = decide(permanent(Some(job())), delivery(1));
    assert!(matches!(
        disposition,
        Disposition::Record { job: Some(_), .. }
    ));
    let settled = settle(disposition, Ok(Some(RECORD.into())));
    assert_eq!(settled.reply, Reply::Ack);
    assert_eq!(settled.outcome, Outcome::FailedPermanent);
    assert_eq!(settled.error_kind, Some(ErrorKind::Corrupt));
    assert_eq!(settled.result.as_deref(), Some(RECORD));
    assert_eq!(settled.source.as_deref(), Some("gs://in/a.docx"));
    assert!(settled.text.ends_with(&format!("(record: {RECORD})")));
}

#[test]
fn a_permanent_failure_whose_record_cannot_be_written_is_nacked() {
    let disposition = decide(permanent(Some(job())), delivery(2));
    let settled = settle(disposition, Err("storage unavailable".into()));
    assert_eq!(
        settled.reply,
        Reply::Nack {
            hold: Duration::from_secs(2)
        }
    );
    assert_eq!(settled.outcome, Outcome::Nacked);
    assert!(
        settled
            .text
            .contains("could not be written (storage unavailable)")
    );
}

#[test]
fn a_malformed_message_naming_nothing_is_acked_without_a_record() {
    let disposition = decide(permanent(None), delivery(1));
    assert!(matches!(disposition, Disposition::Record { job: None, .. }));
    let settled = settle(disposition, Ok(None));
    assert_eq!(settled.reply, Reply::Ack);
    assert_eq!(settled.outcome, Outcome::FailedPermanent);
    assert_eq!((settled.source, settled.result), (None, None));
}

#[test]
fn a_transient_failure_is_nacked_and_held() {
    let settled = run(transient(ErrorKind::Storage), delivery(1));
    assert_eq!(
        settled.reply,
        Reply::Nack {
            hold: Duration::from_secs(1)
        }
    );
    assert_eq!(settled.outcome, Outcome::Nacked);
    assert_eq!(settled.error_kind, Some(ErrorKind::Storage));
    assert!(settled.text.ends_with("(retry in 1 s)"));
}

#[test]
fn the_hold_doubles_with_each_attempt_up_to_thirty_seconds() {
    let holds: Vec<u64> = (1..=8).map(|a| nack_delay(a).as_secs()).collect();
    assert_eq!(holds, [1, 2, 4, 8, 16, 30, 30, 30]);
}

#[test]
fn a_transient_failure_before_the_last_attempt_is_retried() {
    let settled = run(transient(ErrorKind::Storage), delivery(4));
    assert_eq!(settled.outcome, Outcome::Nacked);
}

#[test]
fn a_transient_failure_at_the_last_attempt_gives_up_with_a_record() {
    let settled = run(transient(ErrorKind::Storage), delivery(5));
    assert_eq!(settled.reply, Reply::Ack);
    assert_eq!(settled.outcome, Outcome::FailedPermanent);
    assert_eq!(settled.error_kind, Some(ErrorKind::GaveUp));
    assert!(settled.text.contains("(giving up after 5 attempts)"));
    assert_eq!(settled.result.as_deref(), Some(RECORD));
}

#[test]
fn a_hang_or_a_crash_gets_one_more_try_whatever_max_attempts_says() {
    for kind in [ErrorKind::Timeout, ErrorKind::Crashed] {
        assert_eq!(run(transient(kind), delivery(1)).outcome, Outcome::Nacked);
        let second = run(transient(kind), delivery(2));
        assert_eq!(second.error_kind, Some(ErrorKind::GaveUp), "{kind}");
    }
    assert_eq!(attempts_allowed(ErrorKind::Crashed, 1), 1);
    assert_eq!(attempts_allowed(ErrorKind::Disk, 5), 5);
}

#[test]
fn a_failure_while_stopping_is_never_made_permanent() {
    let stopping = Delivery {
        stopping: true,
        ..delivery(5)
    };
    let settled = run(transient(ErrorKind::Internal), stopping);
    assert_eq!(
        settled.reply,
        Reply::Nack {
            hold: Duration::from_secs(16)
        }
    );
    assert_eq!(settled.outcome, Outcome::Nacked);
}

#[test]
fn a_single_allowed_attempt_gives_up_at_once() {
    let once = Delivery {
        max_attempts: 1,
        ..delivery(1)
    };
    assert_eq!(
        run(transient(ErrorKind::Storage), once).error_kind,
        Some(ErrorKind::GaveUp)
    );
}

#[test]
fn a_delivery_counted_past_max_attempts_still_gives_up() {
    // Pub/Sub's count can run past ours (a dead-letter policy of 10, MAX_ATTEMPTS 5).
    assert_eq!(
        run(transient(ErrorKind::Storage), delivery(9)).error_kind,
        Some(ErrorKind::GaveUp)
    );
}

#[test]
fn outcomes_read_back_from_their_names() {
    for outcome in Outcome::ALL {
        assert_eq!(outcome.as_str().parse::<Outcome>(), Ok(outcome));
    }
    assert!("done".parse::<Outcome>().is_err());
}
