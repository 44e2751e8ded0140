//! The rules for object names: what Cloud Storage can hold, what is ours
//! (an output, never an input), and the PDF's name for a document.

use super::Routing;

/// Cloud Storage's limit on an object name, in UTF-8 bytes.
pub(super) const MAX_NAME_BYTES: usize = 1024;

/// Names Cloud Storage cannot hold: a message naming one is wrong, and its
/// failure record could not be written either.
pub(super) fn invalid_name(object: &str) -> Option<&'static str> {
    if object.len() > MAX_NAME_BYTES {
        Some("is longer than Cloud Storage's 1024 bytes")
    } else if object.contains(['\r', '\n']) {
        Some("contains a line break, which Cloud Storage names cannot")
    } else if object == "." || object == ".." {
        Some("is not a valid Cloud Storage name")
    } else {
        None
    }
}

/// PDFs, previews in the output bucket and anything under its output
/// prefix are ours: converting them would loop (or record a failure per
/// preview) when input and output share a bucket. A picture uploaded to an
/// input bucket is a document, refused with its record.
pub(super) fn is_output(bucket: &str, object: &str, routing: &Routing) -> bool {
    let in_output = bucket == routing.output_bucket;
    let under_prefix = in_output && object.starts_with(&routing.output_prefix);
    let name = object.to_ascii_lowercase();
    under_prefix || name.ends_with(".pdf") || (in_output && name.ends_with(".png"))
}

/// `dir/report.v2.docx` -> `dir/report.v2.pdf`; a name without extension gains one.
pub(super) fn with_extension(object: &str, extension: &str) -> String {
    let file_start = object.rfind('/').map_or(0, |i| i + 1);
    match object[file_start..].rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{extension}", &object[..file_start + dot]),
        _ => format!("{object}.{extension}"),
    }
}
