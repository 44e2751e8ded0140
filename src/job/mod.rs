//! From a Pub/Sub message to a conversion job: which object, which
//! generation, where its PDF and failure record go, or why there is nothing
//! to do.
//!
//! Three real publishers, told apart by their attributes:
//! - a Cloud Storage notification (`eventType`, `bucketId`, `objectId`, ...),
//!   with the object resource as JSON (`JSON_API_V1`) or no data (`NONE`);
//! - the original Cloud Run service's format: `bucketId` and `objectId` only;
//! - a JSON body `{"bucket": ..., "name": ..., "generation": ...}`.

use crate::gcloud::ObjectRef;
use std::collections::HashMap;

use serde::Deserialize;

mod names;
use names::{MAX_NAME_BYTES, invalid_name, is_output, with_extension};

/// Where outputs go, and which inputs are allowed.
#[derive(Clone, Debug)]
pub struct Routing {
    pub output_bucket: String,
    pub output_prefix: String,
    /// Empty: any bucket.
    pub input_buckets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub bucket: String,
    pub object: String,
    /// The generation named by the message; `None` means the live one.
    pub generation: Option<i64>,
    /// The size announced by the notification, checked before downloading.
    pub size: Option<u64>,
    pub output: String,
    pub failure_record: String,
}

impl Job {
    pub fn source(&self) -> ObjectRef<'_> {
        ObjectRef::new(&self.bucket, &self.object)
    }

    pub fn source_uri(&self) -> String {
        self.source().to_string()
    }
}

/// What a message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Convert(Job),
    /// Nothing to do, with the reason (another event type, our own output).
    Ignore(String),
}

/// A message that can never become a job. It names the message's source
/// object when it could be read, so a failure record can be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{reason}")]
pub struct Rejected {
    pub reason: String,
    pub kind: &'static str,
    /// The job the message named, when that much could be parsed.
    pub job: Option<Box<Job>>,
}

impl Rejected {
    /// Whether a failure record may be written for it. Not for a bucket
    /// outside INPUT_BUCKETS: whoever named it is not ours to answer, and
    /// its record would sit among the records of real documents (with a
    /// generation nobody checked); the log line is its record.
    pub fn recordable(&self) -> bool {
        self.kind != BUCKET_NOT_ALLOWED
    }

    fn malformed(reason: impl Into<String>) -> Rejected {
        Rejected {
            reason: reason.into(),
            kind: "malformed_message",
            job: None,
        }
    }
}

#[derive(Deserialize)]
struct Body {
    bucket: Option<String>,
    name: Option<String>,
    /// Cloud Storage writes numbers as strings in JSON_API_V1; apps may not.
    generation: Option<NumberOrString>,
    size: Option<NumberOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    String(String),
}

impl NumberOrString {
    fn parse(&self, field: &str) -> Result<i64, Rejected> {
        match self {
            NumberOrString::Number(n) => Ok(*n),
            NumberOrString::String(s) => s
                .parse()
                .map_err(|_| Rejected::malformed(format!("\"{field}\" is not a number: {s:?}"))),
        }
    }
}

pub fn parse(
    attributes: &HashMap<String, String>,
    data: &[u8],
    routing: &Routing,
) -> Result<Parsed, Rejected> {
    let attribute = |name: &str| attributes.get(name).filter(|v| !v.is_empty()).cloned();
    if let Some(event) = attribute("eventType")
        && event != "OBJECT_FINALIZE"
    {
        return Ok(Parsed::Ignore(format!("event {event} is not a new object")));
    }
    let body = if data.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice::<Body>(data).map_err(|e| {
            Rejected::malformed(format!(
                "the message body is not the JSON {{\"bucket\": ..., \"name\": ...}} this worker reads ({e})"
            ))
        })?)
    };
    let (bucket, object) = match (attribute("bucketId"), attribute("objectId")) {
        (Some(bucket), Some(object)) => (bucket, object),
        (None, None) => match &body {
            Some(Body {
                bucket: Some(bucket),
                name: Some(name),
                ..
            }) if !bucket.is_empty() && !name.is_empty() => (bucket.clone(), name.clone()),
            Some(_) => {
                return Err(Rejected::malformed(
                    "the JSON body needs non-empty \"bucket\" and \"name\"",
                ));
            }
            None => {
                return Err(Rejected::malformed(
                    "no bucketId/objectId attributes and no JSON body: nothing names a document",
                ));
            }
        },
        _ => {
            return Err(Rejected::malformed(
                "bucketId and objectId attributes must come together",
            ));
        }
    };
    let generation = match (
        attribute("objectGeneration"),
        body.as_ref().and_then(|b| b.generation.as_ref()),
    ) {
        (Some(g), _) => Some(NumberOrString::String(g).parse("objectGeneration")?),
        (None, Some(g)) => Some(g.parse("generation")?),
        (None, None) => None,
    };
    let size = match body.as_ref().and_then(|b| b.size.as_ref()) {
        Some(size) => Some(
            u64::try_from(size.parse("size")?)
                .map_err(|_| Rejected::malformed("negative \"size\""))?,
        ),
        None => None,
    };

    job_for(bucket, object, generation, size, routing)
}

/// The job for `gs://bucket/object` as the worker will see it (its output
/// names, or why it is no job), by the worker's own rules: `submit` asks
/// it too, to know where results will appear.
pub fn job_for(
    bucket: String,
    object: String,
    generation: Option<i64>,
    size: Option<u64>,
    routing: &Routing,
) -> Result<Parsed, Rejected> {
    if let Some(problem) = invalid_name(&object) {
        return Err(Rejected::malformed(format!(
            "the object name {object:?} {problem}"
        )));
    }
    if is_output(&bucket, &object, routing) {
        return Ok(Parsed::Ignore(format!(
            "{} is an output, not a document",
            ObjectRef::new(&bucket, &object)
        )));
    }
    let job = Job {
        output: format!(
            "{}{}",
            routing.output_prefix,
            with_extension(&object, "pdf")
        ),
        failure_record: format!("{}{object}.error.json", routing.output_prefix),
        bucket,
        object,
        generation,
        size,
    };
    if job.output.len() > MAX_NAME_BYTES {
        // The failure record's name is longer still: the log is the record.
        return Err(Rejected {
            reason: format!(
                "the PDF's name would be {} bytes, over Cloud Storage's {MAX_NAME_BYTES}: shorten OUTPUT_PREFIX or the object name",
                job.output.len()
            ),
            kind: "name_too_long",
            job: None,
        });
    }
    if !routing.input_buckets.is_empty() && !routing.input_buckets.contains(&job.bucket) {
        return Err(Rejected {
            reason: format!(
                "bucket {} is not in INPUT_BUCKETS ({})",
                job.bucket,
                routing.input_buckets.join(", ")
            ),
            kind: BUCKET_NOT_ALLOWED,
            job: Some(Box::new(job)),
        });
    }
    Ok(Parsed::Convert(job))
}

const BUCKET_NOT_ALLOWED: &str = "bucket_not_allowed";

#[cfg(test)]
mod tests {
    use super::*;

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
        let data = br#"{"kind":"storage#object","bucket":"in","name":"reports/q1.docx","generation":"1700000000000001","size":"37029"}"#;
        let job = job(parse(&a, data, &routing()));
        assert_eq!(job.bucket, "in");
        assert_eq!(job.object, "reports/q1.docx");
        assert_eq!(job.generation, Some(1_700_000_000_000_001));
        assert_eq!(job.size, Some(37029));
        assert_eq!(job.output, "pdf/reports/q1.pdf");
        assert_eq!(job.failure_record, "pdf/reports/q1.docx.error.json");
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
        assert_eq!((job.generation, job.size), (Some(7), None));
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
}
