//! Messages in every format, and the names and refusals they lead to.
use super::*;
use crate::options::PdfA;

fn routing() -> Routing {
    Routing {
        output_bucket: "out".into(),
        output_prefix: "pdf/".into(),
        input_buckets: vec![],
    }
}

fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn job(parsed: Result<Parsed, Rejected>) -> Job {
    match parsed {
        Ok(Parsed::Convert(job)) => job,
        other => panic!("expected a job, got {other:?}"),
    }
}

#[test]
fn gcs_notification_with_json_payload() {
    let a = attrs(&[
        ("eventType", "OBJECT_FINALIZE"),
        ("bucketId", "in"),
        ("objectId", "reports/q1.docx"),
        ("objectGeneration", "1700000000000001"),
        ("payloadFormat", "JSON_API_V1"),
    ]);
    let data = br#"{"kind":"storage#object","bucket":"in","name":"reports/q1.docx","generation":"1700000000000001","size":"37029","md5Hash":"sZRqySSS0jR8YjW00mERhA==","metadata":{"docx2pdf-pdfa":"2b"}}"#;
    let job = job(parse(&a, data, &routing()));
    assert_eq!(job.bucket, "in");
    assert_eq!(job.object, "reports/q1.docx");
    assert_eq!(job.generation, Some(1_700_000_000_000_001));
    assert_eq!(job.preview(), "pdf/reports/q1.png");
    let announced = job.announced.expect("the payload describes the object");
    assert_eq!(announced.generation, 1_700_000_000_000_001);
    assert_eq!(announced.size, Some(37029));
    assert_eq!(
        announced.md5.as_deref(),
        Some("b1946ac92492d2347c6235b4d2611184")
    );
    assert_eq!(announced.metadata["docx2pdf-pdfa"], "2b");
    assert_eq!(job.output, "pdf/reports/q1.pdf");
    assert_eq!(job.failure_record, "pdf/reports/q1.docx.error.json");
}

#[test]
fn a_payload_describes_only_what_it_fully_names() {
    let a = attrs(&[
        ("eventType", "OBJECT_FINALIZE"),
        ("bucketId", "in"),
        ("objectId", "a.docx"),
        ("objectGeneration", "7"),
    ]);
    let described = |data: &str| job(parse(&a, data.as_bytes(), &routing())).announced;
    let full = r#"{"bucket":"in","name":"a.docx","generation":"7","size":"5","md5Hash":"sZRqySSS0jR8YjW00mERhA=="}"#;
    assert!(described(full).is_some());
    // A composite object has only a CRC32C: Cloud Storage is asked.
    assert_eq!(
        described(&full.replace(r#","md5Hash":"sZRqySSS0jR8YjW00mERhA==""#, "")),
        None
    );
    // A payload about another object describes nothing here.
    assert_eq!(described(&full.replace(r#""a.docx""#, r#""b.docx""#)), None);
    // Nor does a JSON job body, which Cloud Storage did not write.
    let body = job(parse(&HashMap::new(), full.as_bytes(), &routing()));
    assert_eq!(body.announced, None);
}

#[test]
fn gcs_notification_without_payload() {
    let a = attrs(&[
        ("eventType", "OBJECT_FINALIZE"),
        ("bucketId", "in"),
        ("objectId", "a.docx"),
        ("objectGeneration", "7"),
        ("payloadFormat", "NONE"),
    ]);
    let job = job(parse(&a, b"", &routing()));
    assert_eq!((job.generation, job.announced), (Some(7), None));
}

#[test]
fn other_events_are_ignored() {
    let a = attrs(&[
        ("eventType", "OBJECT_DELETE"),
        ("bucketId", "in"),
        ("objectId", "a.docx"),
    ]);
    assert!(matches!(parse(&a, b"", &routing()), Ok(Parsed::Ignore(_))));
}

#[test]
fn original_service_attributes() {
    let a = attrs(&[("bucketId", "in"), ("objectId", "demo.docx")]);
    let job = job(parse(&a, b"", &routing()));
    assert_eq!((job.object.as_str(), job.generation), ("demo.docx", None));
}

#[test]
fn json_body_with_numeric_or_string_generation() {
    let job1 = job(parse(
        &attrs(&[]),
        br#"{"bucket":"in","name":"a.docx"}"#,
        &routing(),
    ));
    assert_eq!(job1.generation, None);
    let job2 = job(parse(
        &attrs(&[]),
        br#"{"bucket":"in","name":"a.docx","generation":42}"#,
        &routing(),
    ));
    assert_eq!(job2.generation, Some(42));
    let job3 = job(parse(
        &attrs(&[]),
        br#"{"bucket":"in","name":"a.docx","generation":"43"}"#,
        &routing(),
    ));
    assert_eq!(job3.generation, Some(43));
}

#[test]
fn malformed_messages_are_rejected_with_a_reason() {
    for (a, data) in [
        (attrs(&[]), &b"{not json"[..]),
        (attrs(&[]), &b""[..]),
        (attrs(&[]), &br#"{"bucket":"in"}"#[..]),
        (attrs(&[]), &br#"["in","a.docx"]"#[..]),
        (attrs(&[("bucketId", "in")]), &b""[..]),
        (
            attrs(&[]),
            &br#"{"bucket":"in","name":"a.docx","generation":"soon"}"#[..],
        ),
    ] {
        let rejected = parse(&a, data, &routing()).unwrap_err();
        assert_eq!(rejected.kind, "malformed_message", "{rejected}");
        assert!(!rejected.reason.is_empty());
    }
}

#[test]
fn outputs_are_never_inputs() {
    let same_bucket = Routing {
        output_bucket: "shared".into(),
        ..routing()
    };
    let a = attrs(&[("bucketId", "shared"), ("objectId", "pdf/a.docx")]);
    assert!(matches!(
        parse(&a, b"", &same_bucket),
        Ok(Parsed::Ignore(_))
    ));
    let a = attrs(&[("bucketId", "in"), ("objectId", "scan.PDF")]);
    assert!(matches!(parse(&a, b"", &routing()), Ok(Parsed::Ignore(_))));
    // A preview in the output bucket is ours; a picture uploaded as a
    // document is not (it is refused, with its record).
    let a = attrs(&[("bucketId", "shared"), ("objectId", "report.png")]);
    assert!(matches!(
        parse(&a, b"", &same_bucket),
        Ok(Parsed::Ignore(_))
    ));
    let a = attrs(&[("bucketId", "in"), ("objectId", "report.png")]);
    assert!(matches!(parse(&a, b"", &routing()), Ok(Parsed::Convert(_))));
}

#[test]
fn buckets_outside_the_allowlist_are_rejected_with_their_job_and_no_record() {
    let allow = Routing {
        input_buckets: vec!["in".into()],
        ..routing()
    };
    let a = attrs(&[("bucketId", "elsewhere"), ("objectId", "a.docx")]);
    let rejected = parse(&a, b"", &allow).unwrap_err();
    assert_eq!(rejected.kind, "bucket_not_allowed");
    assert!(!rejected.recordable());
    assert_eq!(rejected.job.unwrap().object, "a.docx");
}

#[test]
fn names_cloud_storage_cannot_hold_are_rejected_without_a_record() {
    for name in ["a\nb.docx", "..", &format!("{}.docx", "x".repeat(1021))] {
        let a = attrs(&[("bucketId", "in"), ("objectId", name)]);
        let rejected = parse(&a, b"", &routing()).unwrap_err();
        assert_eq!(rejected.kind, "malformed_message", "{name:?}");
        assert!(rejected.job.is_none());
    }
    // A 1023-byte source is valid; "pdf/" + 1018 x + ".pdf" is 1026 bytes.
    let a = attrs(&[
        ("bucketId", "in"),
        ("objectId", &format!("{}.docx", "x".repeat(1018))),
    ]);
    let rejected = parse(&a, b"", &routing()).unwrap_err();
    assert_eq!(rejected.kind, "name_too_long", "{rejected}");
    // Odd but valid names convert, under names of their own.
    let a = attrs(&[("bucketId", "in"), ("objectId", "../../a%2Fb ünï.docx")]);
    assert_eq!(
        job(parse(&a, b"", &routing())).output,
        "pdf/../../a%2Fb ünï.pdf"
    );
}

#[test]
fn output_names() {
    assert_eq!(with_extension("a.docx", "pdf"), "a.pdf");
    assert_eq!(with_extension("dir.v2/report", "pdf"), "dir.v2/report.pdf");
    assert_eq!(with_extension("dir/.hidden", "pdf"), "dir/.hidden.pdf");
    assert_eq!(
        with_extension("ünï côdé/x y.tar.docx", "pdf"),
        "ünï côdé/x y.tar.pdf"
    );
}

#[test]
fn a_json_job_asks_for_pdf_options_and_a_bad_one_is_recorded() {
    let job = job(parse(
        &attrs(&[]),
        br#"{"bucket":"in","name":"a.xlsx","options":{"pdfa":"2b","tagged":true,"pages":"1-3"}}"#,
        &routing(),
    ));
    assert_eq!(
        job.options,
        [
            Setting::Pages(Some("1-3".into())),
            Setting::PdfA(Some(PdfA::A2b)),
            Setting::Tagged(true)
        ]
    );
    let rejected = parse(
        &attrs(&[]),
        br#"{"bucket":"in","name":"a.xlsx","options":{"pdfa":"9z"}}"#,
        &routing(),
    )
    .unwrap_err();
    assert_eq!(rejected.kind, "bad_options");
    assert!(
        rejected.reason.contains("1b, 2b or 3b"),
        "{}",
        rejected.reason
    );
    assert!(rejected.job.is_some() && rejected.recordable());
}
