//! From a Pub/Sub message to a conversion job: which object, which
//! generation, where its PDF and failure record go, or why there is nothing
//! to do.
//!
//! Three real publishers, told apart by their attributes:
//! - a Cloud Storage notification (`eventType`, `bucketId`, `objectId`, ...),
//!   with the object resource as JSON (`JSON_API_V1`) or no data (`NONE`);
//! - the original Cloud Run service's format: `bucketId` and `objectId` only;
//! - a JSON body `{"bucket": ..., "name": ..., "generation": ...}`.

use crate::options::Setting;
use crate::outcome::ErrorKind;
use crate::storage::{Described, ObjectRef, hex_of_base64};
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
    /// What a Cloud Storage notification's payload says of the object at
    /// its generation: it stands in for asking Cloud Storage, and the
    /// download is checked against its size and MD5.
    pub announced: Option<Box<Described>>,
    pub output: String,
    pub failure_record: String,
    /// PDF options the job's message asked for, checked; they override
    /// the worker's defaults and the object's metadata.
    pub options: Vec<Setting>,
}

impl Job {
    pub fn source(&self) -> ObjectRef<'_> {
        ObjectRef::new(&self.bucket, &self.object)
    }

    pub fn source_uri(&self) -> String {
        self.source().to_string()
    }

    /// Where its preview goes, beside its PDF: `.png` for `.pdf`.
    pub fn preview(&self) -> String {
        with_extension(&self.output, "png")
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
    pub kind: ErrorKind,
    /// The job the message named, when that much could be parsed.
    pub job: Option<Box<Job>>,
}

impl Rejected {
    /// Whether a failure record may be written for it. Not for a bucket
    /// outside INPUT_BUCKETS: whoever named it is not ours to answer, and
    /// its record would sit among the records of real documents (with a
    /// generation nobody checked); the log line is its record.
    pub fn recordable(&self) -> bool {
        self.kind != ErrorKind::BucketNotAllowed
    }

    fn malformed(reason: impl Into<String>) -> Rejected {
        Rejected {
            reason: reason.into(),
            kind: ErrorKind::MalformedMessage,
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
    /// Base64, in a notification's payload.
    #[serde(rename = "md5Hash")]
    md5_hash: Option<String>,
    /// The object's custom metadata, in a notification's payload.
    metadata: Option<HashMap<String, String>>,
    /// PDF options for this job: `{"pdfa": "2b", "pages": "1-3"}`.
    options: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    String(String),
}

impl Body {
    fn names(&self, bucket: &str, object: &str) -> bool {
        self.bucket.as_deref() == Some(bucket) && self.name.as_deref() == Some(object)
    }

    /// The object at `generation` as a notification's payload describes
    /// it; `None` unless it has all a description needs (a composite
    /// object has no MD5: it is described by asking).
    fn described(&self, generation: i64) -> Result<Option<Box<Described>>, Rejected> {
        let (Some(size), Some(md5)) = (&self.size, &self.md5_hash) else {
            return Ok(None);
        };
        let size = u64::try_from(size.parse("size")?)
            .map_err(|_| Rejected::malformed("negative \"size\""))?;
        Ok(hex_of_base64(md5).map(|md5| {
            Box::new(Described {
                generation,
                md5: Some(md5),
                size: Some(size),
                metadata: self.metadata.clone().unwrap_or_default(),
            })
        }))
    }
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
    let (bucket, object) = named(attribute("bucketId"), attribute("objectId"), body.as_ref())?;
    let generation = match (
        attribute("objectGeneration"),
        body.as_ref().and_then(|b| b.generation.as_ref()),
    ) {
        (Some(g), _) => Some(NumberOrString::String(g).parse("objectGeneration")?),
        (None, Some(g)) => Some(g.parse("generation")?),
        (None, None) => None,
    };
    let announced = match (attribute("eventType"), &body, generation) {
        (Some(_), Some(body), Some(generation)) if body.names(&bucket, &object) => {
            body.described(generation)?
        }
        _ => None,
    };

    let requested = body.and_then(|b| b.options);
    match (
        job_for(bucket, object, generation, announced, routing)?,
        requested,
    ) {
        (Parsed::Convert(job), Some(requested)) => with_options(job, requested),
        (parsed, _) => Ok(parsed),
    }
}

/// The job, asking for the PDF options of its JSON body; a bad one is a
/// permanent `bad_options` failure, recorded like any other.
fn with_options(
    mut job: Job,
    requested: serde_json::Map<String, serde_json::Value>,
) -> Result<Parsed, Rejected> {
    for (name, value) in requested {
        let text = match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        match Setting::parse(&name, &text) {
            Ok(setting) => job.options.push(setting),
            Err(bad) => {
                return Err(Rejected {
                    reason: format!("{}: {bad}", job.source()),
                    kind: ErrorKind::BadOptions,
                    job: Some(Box::new(job)),
                });
            }
        }
    }
    Ok(Parsed::Convert(job))
}

/// The bucket and object a message names: by the `bucketId` and `objectId`
/// attributes, or else by its JSON body.
fn named(
    bucket: Option<String>,
    object: Option<String>,
    body: Option<&Body>,
) -> Result<(String, String), Rejected> {
    match (bucket, object) {
        (Some(bucket), Some(object)) => Ok((bucket, object)),
        (None, None) => match body {
            Some(Body {
                bucket: Some(bucket),
                name: Some(name),
                ..
            }) if !bucket.is_empty() && !name.is_empty() => Ok((bucket.clone(), name.clone())),
            Some(_) => Err(Rejected::malformed(
                "the JSON body needs non-empty \"bucket\" and \"name\"",
            )),
            None => Err(Rejected::malformed(
                "no bucketId/objectId attributes and no JSON body: nothing names a document",
            )),
        },
        _ => Err(Rejected::malformed(
            "bucketId and objectId attributes must come together",
        )),
    }
}

/// The job for `gs://bucket/object` as the worker will see it (its output
/// names, or why it is no job), by the worker's own rules: `submit` asks
/// it too, to know where results will appear.
pub fn job_for(
    bucket: String,
    object: String,
    generation: Option<i64>,
    announced: Option<Box<Described>>,
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
        announced,
        options: Vec::new(),
    };
    if job.output.len() > MAX_NAME_BYTES {
        // The failure record's name is longer still: the log is the record.
        return Err(Rejected {
            reason: format!(
                "the PDF's name would be {} bytes, over Cloud Storage's {MAX_NAME_BYTES}: shorten OUTPUT_PREFIX or the object name",
                job.output.len()
            ),
            kind: ErrorKind::NameTooLong,
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
            kind: ErrorKind::BucketNotAllowed,
            job: Some(Box::new(job)),
        });
    }
    Ok(Parsed::Convert(job))
}

#[cfg(test)]
mod tests;
