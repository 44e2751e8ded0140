//! Whose PDF an output name holds, and whether a document may write it.
//!
//! `dir/report.docx` becomes `dir/report.pdf`, so `dir/report.txt`, or
//! `report.docx` of another input bucket, maps to the same name. A PDF is
//! replaced only by a newer generation of its own source; another source
//! gets a failure record naming the owner, never a silent overwrite. The
//! write is conditional on the generation seen here, so two workers racing
//! for one name cannot both win.

use crate::options::Canonical;
use crate::storage::{ObjectRef, Provenance};

/// What a document may do with its output name.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Write, if the name still holds generation `if_generation` (0: nothing).
    Write { if_generation: i64 },
    /// The PDF there was made from this generation of this source, or a newer one.
    AlreadyDone,
    /// Another source's PDF (or one we did not make) holds the name.
    Taken { owner: String },
}

/// What a PDF would be made from.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub bucket: &'a str,
    pub object: &'a str,
    pub generation: i64,
    /// The options it would be made with.
    pub options: &'a Canonical,
}

/// The claim of `source` on a name that holds `existing`. The same
/// generation made with other options is new work; a PDF from before
/// options were recorded was made with the defaults.
pub fn claim(source: Source<'_>, existing: Option<&Provenance>) -> Claim {
    let Source {
        bucket,
        object,
        generation,
        options,
    } = source;
    let Some(existing) = existing else {
        return Claim::Write { if_generation: 0 };
    };
    if !existing.is_from(bucket, object) {
        let owner = match (&existing.source_bucket, &existing.source_object) {
            (Some(b), Some(o)) => ObjectRef::new(b, o).to_string(),
            _ => "something other than docx2pdf (it records no source)".to_string(),
        };
        return Claim::Taken { owner };
    }
    let same_options = options.is_recorded_as(existing.options.as_deref());
    let done = match existing.source_generation {
        Some(made) if made > generation => true,
        Some(made) => made == generation && same_options,
        None => false,
    };
    if done {
        Claim::AlreadyDone
    } else {
        Claim::Write {
            if_generation: existing.generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made_from(bucket: &str, object: &str, source_generation: Option<i64>) -> Provenance {
        Provenance {
            generation: 900,
            source_bucket: Some(bucket.into()),
            source_object: Some(object.into()),
            source_generation,
            options: None,
        }
    }

    fn claim(bucket: &str, object: &str, generation: i64, existing: Option<&Provenance>) -> Claim {
        with_options(bucket, object, generation, &[], existing)
    }

    fn with_options(
        bucket: &str,
        object: &str,
        generation: i64,
        options: &[(&str, &str)],
        existing: Option<&Provenance>,
    ) -> Claim {
        let options = Canonical::of(options);
        let source = Source {
            bucket,
            object,
            generation,
            options: &options,
        };
        super::claim(source, existing)
    }

    #[test]
    fn the_same_generation_with_other_options_is_new_work() {
        let pdf = Provenance {
            options: Some("pdfa=2b".into()),
            ..made_from("in", "a.docx", Some(5))
        };
        assert_eq!(
            with_options("in", "a.docx", 5, &[("pdfa", "2b")], Some(&pdf)),
            Claim::AlreadyDone
        );
        assert_eq!(
            with_options("in", "a.docx", 5, &[], Some(&pdf)),
            Claim::Write { if_generation: 900 }
        );
        // An older event stays old, whatever its options.
        assert_eq!(
            with_options("in", "a.docx", 4, &[("tagged", "true")], Some(&pdf)),
            Claim::AlreadyDone
        );
        // A PDF from before options were recorded was made with the defaults.
        let old = made_from("in", "a.docx", Some(5));
        assert_eq!(claim("in", "a.docx", 5, Some(&old)), Claim::AlreadyDone);
    }

    #[test]
    fn a_free_name_is_written_only_if_still_free() {
        assert_eq!(
            claim("in", "a.docx", 5, None),
            Claim::Write { if_generation: 0 }
        );
    }

    #[test]
    fn a_newer_generation_of_the_same_source_replaces_its_pdf_if_unchanged() {
        let pdf = made_from("in", "a.docx", Some(4));
        assert_eq!(
            claim("in", "a.docx", 5, Some(&pdf)),
            Claim::Write { if_generation: 900 }
        );
    }

    #[test]
    fn the_same_or_an_older_generation_is_already_done() {
        let pdf = made_from("in", "a.docx", Some(5));
        assert_eq!(claim("in", "a.docx", 5, Some(&pdf)), Claim::AlreadyDone);
        assert_eq!(claim("in", "a.docx", 4, Some(&pdf)), Claim::AlreadyDone);
    }

    #[test]
    fn another_source_never_replaces_a_pdf() {
        let pdf = made_from("in", "report.docx", Some(5));
        assert_eq!(
            claim("in", "report.txt", 9, Some(&pdf)),
            Claim::Taken {
                owner: "gs://in/report.docx".into()
            }
        );
        assert_eq!(
            claim("in2", "report.docx", 9, Some(&pdf)),
            Claim::Taken {
                owner: "gs://in/report.docx".into()
            }
        );
    }

    #[test]
    fn a_pdf_we_did_not_make_is_never_replaced() {
        let foreign = Provenance {
            generation: 3,
            ..Provenance::default()
        };
        assert!(matches!(
            claim("in", "a.docx", 1, Some(&foreign)),
            Claim::Taken { .. }
        ));
    }
}
