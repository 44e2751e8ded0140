use std::io::{Cursor, Write};

use super::*;

const MAX: u64 = 100_000_000;

/// A BLIP record of `record_type` and `instance` holding `picture`.
fn blip(record_type: u16, instance: u16, picture: &[u8]) -> Vec<u8> {
    let uids = 1 + (instance & 1) as usize;
    let mut record = Vec::new();
    record.extend((instance << 4).to_le_bytes());
    record.extend(record_type.to_le_bytes());
    record.extend(((16 * uids + 1 + picture.len()) as u32).to_le_bytes());
    record.extend(vec![0xAB; 16 * uids]);
    record.push(0xFF);
    record.extend(picture);
    record
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(width.to_be_bytes());
    png.extend(height.to_be_bytes());
    png.extend([1, 0, 0, 0, 0, 0, 0, 0, 0]);
    png
}

/// A JPEG whose frame header comes after `padding` bytes of APP1 segments
/// and a fill byte.
fn jpeg(width: u16, height: u16, padding: usize) -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8];
    for _ in 0..padding / 60_000 {
        jpeg.extend([0xFF, 0xE1]);
        jpeg.extend(60_002u16.to_be_bytes());
        jpeg.extend(vec![0; 60_000]);
    }
    jpeg.extend([0xFF, 0xFF, 0xC0, 0, 17, 8]);
    jpeg.extend(height.to_be_bytes());
    jpeg.extend(width.to_be_bytes());
    jpeg.extend([3; 9]);
    jpeg
}

fn compound(streams: &[(&str, Vec<u8>)]) -> cfb::CompoundFile<Cursor<Vec<u8>>> {
    let mut cfb = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for (name, bytes) in streams {
        cfb.create_stream(name).unwrap().write_all(bytes).unwrap();
    }
    cfb
}

fn refused(streams: &[(&str, Vec<u8>)]) -> String {
    match check(&mut compound(streams), MAX) {
        Err(ConvertError::Bomb(why)) => why,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_picture_of_too_many_pixels_is_refused_in_any_stream() {
    let mut data = b"some text before".to_vec();
    data.extend(blip(0xF01E, 0x6E0, &png(20_000, 20_000)));
    let why = refused(&[("Data", data)]);
    assert!(why.contains("20000 x 20000 pixels"), "{why}");
    let ok = blip(0xF01E, 0x6E1, &png(4_000, 3_000));
    check(&mut compound(&[("Pictures", ok)]), MAX).unwrap();
}

#[test]
fn each_bitmap_format_is_measured_from_its_own_header() {
    let mut bmp = b"BM".to_vec();
    bmp.extend([0; 12]);
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(20_000i32.to_le_bytes());
    bmp.extend((-20_000i32).to_le_bytes());
    let mut tiff = b"II*\0\x08\0\0\0\x02\0".to_vec();
    tiff.extend([0, 1, 4, 0, 1, 0, 0, 0, 0x20, 0x4E, 0, 0]);
    tiff.extend([1, 1, 3, 0, 1, 0, 0, 0, 0x20, 0x4E, 0, 0]);
    let mut gif = b"GIF89a\x20\x4E\x20\x4E".to_vec();
    gif.extend([0; 16]);
    let cases = [
        ("JPEG", blip(0xF01D, 0x46A, &jpeg(20_000, 20_000, 180_000))),
        ("BMP", blip(0xF01F, 0x7A8, &bmp)),
        ("DIB", blip(0xF01F, 0x7A9, &bmp[14..])),
        ("TIFF", blip(0xF029, 0x6E4, &tiff)),
        // Read as what it is, whatever the record says.
        ("a GIF in a PNG record", blip(0xF01E, 0x6E0, &gif)),
    ];
    for (what, record) in cases {
        let why = refused(&[("Pictures", record)]);
        assert!(why.contains("20000 x 20000 pixels"), "{what}: {why}");
    }
}

#[test]
fn a_header_across_a_chunk_boundary_is_found() {
    for before in (64 << 10) - 8..(64 << 10) {
        let mut data = vec![0u8; before];
        data.extend(blip(0xF01E, 0x6E0, &png(20_000, 20_000)));
        refused(&[("Data", data)]);
    }
}

#[test]
fn chance_matches_are_not_pictures() {
    let mut data = blip(0xF01D, 0x46A, b"not a JPEG at all");
    data.extend(blip(0xF01E, 0x6E0, b"\x89PNG"));
    data.extend(blip(0xF01D, 0x46B, &[0xFF, 0xD8, 0xFF, 0xD9]));
    // A record type with the wrong instance is no BLIP.
    data.extend(blip(0xF01E, 0x46A, &png(20_000, 20_000)));
    check(&mut compound(&[("WordDocument", data)]), MAX).unwrap();
}

/// BIFF records: type, length, payload.
fn biff(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut record = kind.to_le_bytes().to_vec();
    record.extend((payload.len() as u16).to_le_bytes());
    record.extend(payload);
    record
}

#[test]
fn a_workbooks_drawing_group_is_read_joined_across_its_records() {
    let picture = blip(0xF01E, 0x6E0, &png(20_000, 20_000));
    // The cut falls inside the BLIP's record header.
    let (first, rest) = picture.split_at(2);
    let mut workbook = biff(0x0809, &[0; 16]);
    workbook.extend(biff(0x00EB, first));
    workbook.extend(biff(0x003C, rest));
    workbook.extend(biff(0x000A, &[]));
    // The control: the workbook stream alone shows no whole picture.
    let mut budget = 0;
    assert!(check_stream(&mut Cursor::new(&workbook), MAX, &mut budget).is_ok());
    let why = refused(&[("Workbook", workbook)]);
    assert!(why.contains("20000 x 20000 pixels"), "{why}");
}

#[test]
fn a_continue_record_outside_the_drawing_group_is_not_joined() {
    let picture = blip(0xF01E, 0x6E0, &png(20_000, 20_000));
    let (first, rest) = picture.split_at(8 + 16 + 1 + 12);
    let mut workbook = biff(0x00FC, first);
    workbook.extend(biff(0x003C, rest));
    check(&mut compound(&[("Workbook", workbook)]), MAX).unwrap();
}

#[test]
fn a_jpeg_is_walked_as_libjpeg_walks_it() {
    // Stray bytes and a stuffed zero between segments, which libjpeg
    // skips and a strict reader stops at.
    let mut jpeg = jpeg(20_000, 20_000, 60_000);
    let frame = jpeg.len() - 19;
    jpeg.splice(frame..frame, [0x12, 0x34, 0xFF, 0x00, 0x56]);
    let why = refused(&[("Pictures", blip(0xF01D, 0x6E2, &jpeg))]);
    assert!(why.contains("20000 x 20000 pixels"), "{why}");
}

#[test]
fn a_top_down_bitmap_is_as_tall_as_it_says() {
    let mut bmp = b"BM".to_vec();
    bmp.extend([0; 12]);
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(4_000i32.to_le_bytes());
    bmp.extend((-3_000i32).to_le_bytes());
    bmp.extend([0; 64]);
    check(
        &mut compound(&[("Pictures", blip(0xF01F, 0x7A8, &bmp))]),
        MAX,
    )
    .unwrap();
}

#[test]
fn a_stream_of_nothing_but_record_headers_is_refused() {
    let headers = [0x00, 0x6E, 0x1E, 0xF0, 0, 0, 0, 0].repeat(MAX_RECORDS + 1);
    let why = refused(&[("Data", headers)]);
    assert!(why.contains("picture records"), "{why}");
}

#[test]
fn a_pcx_is_measured_though_imagesize_does_not_know_it() {
    let mut pcx = vec![0x0A, 5, 1, 8];
    for corner in [0u16, 0, 19_999, 19_999] {
        pcx.extend(corner.to_le_bytes());
    }
    pcx.extend([0; 116]);
    let why = refused(&[("Pictures", blip(0xF01E, 0x6E0, &pcx))]);
    assert!(why.contains("20000 x 20000 pixels"), "{why}");
}
