//! The options read, layered, written down and turned into export settings.
use super::*;

#[test]
fn each_option_is_read_from_its_text() {
    let mut options = PdfOptions::default();
    options.set("pdfa", "2B").unwrap();
    options.set("tagged", "true").unwrap();
    options.set("pages", "1-3, 7").unwrap();
    options.set("single-page-sheets", "yes").unwrap();
    assert_eq!(options.pdfa, Some(PdfA::A2b));
    assert!(options.tagged && options.single_page_sheets && !options.pdfua);
    assert_eq!(options.pages.as_deref(), Some("1-3,7"));
    assert_eq!(
        options.describe().as_str(),
        "pdfa=2b;tagged;pages=1-3,7;single-page-sheets"
    );
}

#[test]
fn a_bad_value_names_the_option_and_what_is_allowed() {
    let mut options = PdfOptions::default();
    let error = options.set("pdfa", "4").unwrap_err();
    assert_eq!(error.to_string(), r#"option pdfa="4": 1b, 2b or 3b"#);
    let thousand_ranges = vec!["1-2"; 1000].join(",");
    for range in [
        "0-2",
        "3-1",
        "a",
        "1,,2",
        "-2",
        "+1",
        "1-+3",
        &thousand_ranges,
    ] {
        assert!(options.set("pages", range).is_err(), "{range}");
    }
    assert!(options.set("tagged", "maybe").is_err());
    let unknown = options.set("colour", "red").unwrap_err();
    assert!(unknown.allowed.contains("pdfa, pdfua, tagged"), "{unknown}");
    assert_eq!(options, PdfOptions::default(), "nothing applied");
}

#[test]
fn metadata_options_are_the_prefixed_entries_and_later_ones_win() {
    let mut options = PdfOptions::default();
    options.set("pdfa", "1b").unwrap();
    let metadata = std::collections::HashMap::from([
        ("docx2pdf-pdfa".to_string(), "3b".to_string()),
        ("docx2pdf-pdfua".to_string(), "true".to_string()),
        ("source-bucket".to_string(), "in".to_string()),
    ]);
    options.set_from_metadata(&metadata).unwrap();
    assert_eq!(options.pdfa, Some(PdfA::A3b));
    assert!(options.pdfua);
}

#[test]
fn options_written_as_metadata_read_back_the_same() {
    let mut options = PdfOptions::default();
    options.set("pdfa", "3b").unwrap();
    options.set("pages", "2-5").unwrap();
    options.set("single-page-sheets", "true").unwrap();
    let metadata: std::collections::HashMap<String, String> =
        options.metadata().into_iter().collect();
    assert_eq!(metadata["docx2pdf-pdfa"], "3b");
    let mut read = PdfOptions::default();
    read.set_from_metadata(&metadata).unwrap();
    assert_eq!(read, options);
    assert!(PdfOptions::default().metadata().is_empty());
}

#[test]
fn the_export_settings_follow_the_options() {
    let plain: serde_json::Value =
        serde_json::from_str(&PdfOptions::default().filter_data()).unwrap();
    assert_eq!(
        plain,
        serde_json::json!({"Quality": {"type": "long", "value": "90"}})
    );
    let mut options = PdfOptions::default();
    options.set("pdfa", "2b").unwrap();
    options.set("pdfua", "true").unwrap();
    options.set("pages", "2").unwrap();
    let data: serde_json::Value = serde_json::from_str(&options.filter_data()).unwrap();
    assert_eq!(data["SelectPdfVersion"]["value"], "2");
    assert_eq!(data["PDFUACompliance"]["value"], "true");
    assert_eq!(
        data["UseTaggedPDF"]["value"], "true",
        "PDF/UA implies tagged"
    );
    assert_eq!(data["PageRange"]["value"], "2");
    assert_eq!(PdfOptions::default().describe().as_str(), "default");
}

#[test]
fn the_font_policy_is_an_option_like_the_others() {
    let mut options = PdfOptions::default();
    options.set("font-policy", "Fail-Missing-Glyphs").unwrap();
    assert_eq!(options.font_policy, FontPolicy::FailMissingGlyphs);
    assert_eq!(
        options.describe().as_str(),
        "font-policy=fail-missing-glyphs"
    );
    let metadata: std::collections::HashMap<String, String> =
        options.metadata().into_iter().collect();
    assert_eq!(metadata["docx2pdf-font-policy"], "fail-missing-glyphs");
    let mut read = PdfOptions::default();
    read.set_from_metadata(&metadata).unwrap();
    assert_eq!(read, options);
    let plain: serde_json::Value = serde_json::from_str(&options.filter_data()).unwrap();
    assert_eq!(plain.as_object().unwrap().len(), 1, "not an export setting");
    options.set("font-policy", "substitute").unwrap();
    assert_eq!(options.describe().as_str(), "default", "the default");
    let error = options.set("font-policy", "strict").unwrap_err();
    assert!(error.allowed.contains("fail-different-metrics"), "{error}");
}

#[test]
fn a_watermark_is_one_line_of_free_text_escaped_in_the_canonical_form() {
    let mut options = PdfOptions::default();
    options
        .set("watermark", " Entwurf; 100% vertraulich ")
        .unwrap();
    assert_eq!(
        options.watermark.as_deref(),
        Some("Entwurf; 100% vertraulich")
    );
    assert_eq!(
        options.describe().as_str(),
        "watermark=Entwurf%3B 100%25 vertraulich",
        "no text reads as another option"
    );
    let metadata: std::collections::HashMap<String, String> =
        options.metadata().into_iter().collect();
    assert_eq!(metadata["docx2pdf-watermark"], "Entwurf; 100% vertraulich");
    let mut read = PdfOptions::default();
    read.set_from_metadata(&metadata).unwrap();
    assert_eq!(read, options);
    let data: serde_json::Value = serde_json::from_str(&options.filter_data()).unwrap();
    assert_eq!(data["Watermark"]["value"], "Entwurf; 100% vertraulich");
    for bad in ["two\nlines", &"x".repeat(201)] {
        let error = options.set("watermark", bad).unwrap_err();
        assert!(error.allowed.contains("200 characters"), "{error}");
    }
    options.set("watermark", &"é".repeat(200)).unwrap();
    options.set("watermark", "").unwrap();
    assert_eq!(options.describe().as_str(), "default");
}

#[test]
fn comments_go_where_the_option_says() {
    let mut options = PdfOptions::default();
    let plain: serde_json::Value = serde_json::from_str(&options.filter_data()).unwrap();
    assert!(
        plain.get("ExportNotes").is_none(),
        "today's default: LibreOffice's"
    );
    options.set("comments", "None").unwrap();
    let data: serde_json::Value = serde_json::from_str(&options.filter_data()).unwrap();
    assert_eq!(data["ExportNotes"]["value"], "false");
    assert_eq!(options.describe().as_str(), "comments=none");
    options.set("comments", "annotations").unwrap();
    assert_eq!(options, PdfOptions::default(), "today's default");
    assert!(options.set("comments", "margin").is_err(), "not yet");
}

#[test]
fn changes_are_the_documents_own_view_unless_asked() {
    let mut options = PdfOptions::default();
    assert_eq!(options.changes, None);
    options.set("changes", "Hide").unwrap();
    assert_eq!(options.describe().as_str(), "changes=hide");
    let metadata: std::collections::HashMap<String, String> =
        options.metadata().into_iter().collect();
    assert_eq!(metadata["docx2pdf-changes"], "hide");
    options.set("changes", "document").unwrap();
    assert_eq!(options, PdfOptions::default());
    assert!(options.set("changes", "accept").is_err());
}

#[test]
fn properties_are_free_text_escaped_and_clearing_is_a_flag() {
    let mut options = PdfOptions::default();
    options.set("title", "Q3; 100%").unwrap();
    options.set("author", "Ann").unwrap();
    options.set("clear-metadata", "true").unwrap();
    assert_eq!(
        options.describe().as_str(),
        "title=Q3%3B 100%25;author=Ann;clear-metadata"
    );
    let metadata: std::collections::HashMap<String, String> =
        options.metadata().into_iter().collect();
    assert_eq!(metadata["docx2pdf-title"], "Q3; 100%");
    let mut read = PdfOptions::default();
    read.set_from_metadata(&metadata).unwrap();
    assert_eq!(read, options);
    assert!(options.set("keywords", &"k".repeat(201)).is_err());
    options.set("title", "").unwrap();
    assert_eq!(options.properties.title, None);
}

#[test]
fn a_password_is_named_never_given_and_the_name_is_no_path() {
    let mut options = PdfOptions::default();
    options.set("password-secret", "contracts-2026.v1").unwrap();
    assert_eq!(
        options.describe().as_str(),
        "password-secret=contracts-2026.v1"
    );
    for bad in [
        "../etc/passwd",
        "a/b",
        ".hidden",
        "with space",
        &"x".repeat(65),
    ] {
        let error = options.set("password-secret", bad).unwrap_err();
        assert!(error.allowed.contains("not a path"), "{bad}: {error}");
    }
}

#[test]
fn a_preview_is_a_width_in_pixels_within_bounds() {
    let mut options = PdfOptions::default();
    options.set("preview", " 240 ").unwrap();
    assert_eq!(options.preview, Some(240));
    assert_eq!(options.describe().as_str(), "preview=240");
    let metadata: std::collections::HashMap<String, String> =
        options.metadata().into_iter().collect();
    assert_eq!(metadata["docx2pdf-preview"], "240");
    for edge in ["16", "2048"] {
        options.set("preview", edge).unwrap();
    }
    for bad in [
        "15",
        "2049",
        "0",
        "+200",
        "200px",
        "1e3",
        "-16",
        "99999999999",
    ] {
        let error = options.set("preview", bad).unwrap_err();
        assert!(error.allowed.contains("16 to 2048"), "{bad}: {error}");
    }
    options.set("preview", "none").unwrap();
    assert_eq!(options, PdfOptions::default());
}
