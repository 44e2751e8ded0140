use super::*;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn each_container_names_its_fonts() {
    let docx = requested(&fixture("one_page.docx"), "docx").fonts;
    assert!(docx.contains(&"Courier".to_string()), "{docx:?}");
    assert!(!docx.iter().any(|f| f.starts_with('+')), "{docx:?}");
    let xlsx = requested(&fixture("one_sheet.xlsx"), "xlsx").fonts;
    assert!(!xlsx.is_empty(), "{xlsx:?}");
    let odp = requested(&fixture("one_slide.odp"), "odp").fonts;
    assert!(!odp.is_empty(), "{odp:?}");
    assert!(requested(&fixture("one_page.txt"), "txt").fonts.is_empty());
}

/// A DOCX of one run in `text`, asking for Calibri and, in its East
/// Asian slot, for Malgun Gothic (a `w:lang` names a language there too).
fn docx_with_east_asian_font(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("a.docx");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file(
        "word/document.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let run = format!(
        r#"<w:document><w:body><w:p><w:r><w:rPr><w:rFonts w:ascii="Calibri" w:eastAsia="Malgun Gothic"/><w:lang w:eastAsia="ko-KR"/></w:rPr><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"#
    );
    std::io::Write::write_all(&mut zip, run.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

#[test]
fn east_asian_fonts_count_only_with_east_asian_text() {
    let dir = tempfile::tempdir().unwrap();
    let english = requested(&docx_with_east_asian_font(dir.path(), "Hello"), "docx");
    assert_eq!(english.fonts, ["Calibri"]);
    let korean = requested(&docx_with_east_asian_font(dir.path(), "안녕"), "docx");
    assert_eq!(korean.fonts, ["Calibri", "Malgun Gothic"]);
    assert_eq!(korean.characters.get(&'안'), Some(&1));
}

/// Word 2010's copy of the styles is not what LibreOffice reads: a font
/// named only there is not asked for.
#[test]
fn fonts_named_only_in_styles_with_effects_are_not_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.docx");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (part, font) in [
        ("word/styles.xml", "Calibri"),
        ("word/stylesWithEffects.xml", "Unread Face"),
    ] {
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file(part, options).unwrap();
        let styles = format!(r#"<w:styles><w:rFonts w:ascii="{font}"/></w:styles>"#);
        std::io::Write::write_all(&mut zip, styles.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    assert_eq!(requested(&path, "docx").fonts, ["Calibri"]);
}

#[test]
fn text_outside_tags_is_counted_by_character() {
    let mut counted = BTreeMap::new();
    count_text(r#"<w:t a="ü">é😀</w:t><x>ééa</x>"#, &mut counted);
    assert_eq!(counted, BTreeMap::from([('é', 3), ('😀', 1)]));
    let mut none = BTreeMap::new();
    count_text("<w:t>plain</w:t>", &mut none);
    assert!(none.is_empty());
}

#[test]
fn an_rtf_font_table_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.rtf");
    let rtf =
        r"{\rtf1{\fonttbl{\f0\froman\fcharset0 Times New Roman;}{\f1\fswiss Aptos;}}\f1 Hello\par}";
    std::fs::write(&path, rtf).unwrap();
    assert_eq!(requested(&path, "rtf").fonts, ["Aptos", "Times New Roman"]);
}

/// Read before as text: a byte that is not UTF-8 anywhere in the file
/// hid every font; a name after a nested group lost its first word
/// ("New Roman"); a table of entries without groups of their own gave
/// none.
#[test]
fn an_rtf_font_table_is_read_as_rtf_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.rtf");
    let cases: [(&[u8], &[&str]); 3] = [
        (
            b"{\\rtf1{\\fonttbl{\\f0 Aptos;}}\\f0 Caf\xe9\\par}",
            &["Aptos"],
        ),
        (
            b"{\\rtf1{\\fonttbl{\\f0\\froman{\\*\\panose 02020603050405020304}Times New Roman;}}x}",
            &["Times New Roman"],
        ),
        (
            b"{\\rtf1{\\fonttbl\\f0\\fswiss Helvetica;\\f1\\froman Times;}x}",
            &["Helvetica", "Times"],
        ),
    ];
    for (rtf, fonts) in cases {
        std::fs::write(&path, rtf).unwrap();
        assert_eq!(
            requested(&path, "rtf").fonts,
            fonts,
            "{}",
            String::from_utf8_lossy(rtf)
        );
    }
}
