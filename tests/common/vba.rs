//! VBA projects (`vbaProject.bin`) written from source text, so that a test
//! can hold a macro-enabled document whose macros it chose.
//!
//! Follows [MS-OVBA] 2.3: a compound file with a `PROJECT` stream and a
//! `VBA` storage holding `_VBA_PROJECT`, the `dir` stream and one stream per
//! module. There is no performance cache (`_VBA_PROJECT` says version
//! 0xFFFF), so Office and LibreOffice both compile from the source text.

use std::io::Write;

pub enum Kind {
    /// A standard module (`Module=` in the PROJECT stream).
    Standard,
    /// The document's own module, Word's `ThisDocument`.
    Document,
}

pub struct Module<'a> {
    pub kind: Kind,
    pub name: &'a str,
    pub source: &'a str,
}

const CODE_PAGE: u16 = 1252;

/// The bytes of a `vbaProject.bin` holding `modules`.
pub fn project(modules: &[Module]) -> Vec<u8> {
    let mut file =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, std::io::Cursor::new(Vec::new()))
            .unwrap();
    file.create_storage("/VBA").unwrap();
    let mut write = |path: &str, bytes: &[u8]| {
        file.create_stream(path).unwrap().write_all(bytes).unwrap();
    };
    // Reserved1 0x61CC, Version 0xFFFF (no cache), Reserved2, Reserved3.
    write(
        "/VBA/_VBA_PROJECT",
        &[0xCC, 0x61, 0xFF, 0xFF, 0x00, 0x00, 0x00],
    );
    write("/VBA/dir", &compress(&dir_stream(modules)));
    for module in modules {
        let source = format!(
            "Attribute VB_Name = \"{}\"\r\n{}",
            module.name,
            module.source.replace('\n', "\r\n")
        );
        write(
            &format!("/VBA/{}", module.name),
            &compress(source.as_bytes()),
        );
    }
    write("/PROJECT", project_stream(modules).as_bytes());
    file.flush().unwrap();
    file.into_inner().into_inner()
}

/// The `dir` stream before compression ([MS-OVBA] 2.3.4.2).
fn dir_stream(modules: &[Module]) -> Vec<u8> {
    let mut dir = Vec::new();
    let utf16 =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    record(&mut dir, 0x0001, &1u32.to_le_bytes()); // SYSKIND: Win32
    record(&mut dir, 0x0002, &0x0409u32.to_le_bytes()); // LCID
    record(&mut dir, 0x0014, &0x0409u32.to_le_bytes()); // LCIDINVOKE
    record(&mut dir, 0x0003, &CODE_PAGE.to_le_bytes());
    record(&mut dir, 0x0004, b"Project");
    record(&mut dir, 0x0005, b""); // DOCSTRING, then its Unicode form
    record(&mut dir, 0x0040, b"");
    record(&mut dir, 0x0006, b""); // HELPFILEPATH
    record(&mut dir, 0x003D, b"");
    record(&mut dir, 0x0007, &0u32.to_le_bytes()); // HELPCONTEXT
    record(&mut dir, 0x0008, &0u32.to_le_bytes()); // LIBFLAGS
    // VERSION: its size field says 4, yet major (4 bytes) and minor (2) follow.
    dir.extend_from_slice(&0x0009u16.to_le_bytes());
    dir.extend_from_slice(&4u32.to_le_bytes());
    dir.extend_from_slice(&1u32.to_le_bytes());
    dir.extend_from_slice(&0u16.to_le_bytes());
    record(&mut dir, 0x000C, b""); // CONSTANTS
    record(&mut dir, 0x003C, b"");
    record(&mut dir, 0x000F, &(modules.len() as u16).to_le_bytes());
    record(&mut dir, 0x0013, &0xFFFFu16.to_le_bytes()); // PROJECTCOOKIE
    for module in modules {
        let name = module.name;
        record(&mut dir, 0x0019, name.as_bytes());
        record(&mut dir, 0x0047, &utf16(name));
        record(&mut dir, 0x001A, name.as_bytes()); // STREAMNAME
        record(&mut dir, 0x0032, &utf16(name));
        record(&mut dir, 0x001C, b""); // DOCSTRING
        record(&mut dir, 0x0048, b"");
        record(&mut dir, 0x0031, &0u32.to_le_bytes()); // OFFSET: the source starts the stream
        record(&mut dir, 0x001E, &0u32.to_le_bytes()); // HELPCONTEXT
        record(&mut dir, 0x002C, &0xFFFFu16.to_le_bytes()); // COOKIE
        let kind = match module.kind {
            Kind::Standard => 0x0021,
            Kind::Document => 0x0022,
        };
        record(&mut dir, kind, b"");
        record(&mut dir, 0x002B, b""); // end of module
    }
    record(&mut dir, 0x0010, b""); // end of dir
    dir
}

fn record(dir: &mut Vec<u8>, id: u16, data: &[u8]) {
    dir.extend_from_slice(&id.to_le_bytes());
    dir.extend_from_slice(&(data.len() as u32).to_le_bytes());
    dir.extend_from_slice(data);
}

fn project_stream(modules: &[Module]) -> String {
    let mut text = String::from("ID=\"{00000000-0000-0000-0000-000000000000}\"\r\n");
    for module in modules {
        let name = module.name;
        match module.kind {
            Kind::Standard => text += &format!("Module={name}\r\n"),
            Kind::Document => text += &format!("Document={name}/&H00000000\r\n"),
        }
    }
    text += "Name=\"Project\"\r\nHelpContextID=\"0\"\r\nVersionCompatible32=\"393222000\"\r\n";
    text += "\r\n[Host Extender Info]\r\n&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000\r\n";
    text
}

/// [MS-OVBA] 2.4.1 compression with literal tokens only: a valid
/// container, larger than its input, which is all a test needs. One
/// compressed chunk holds at most 4095 bytes, so 3,640 bytes of input.
fn compress(data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for group in data.chunks(8) {
        body.push(0x00); // flag byte: the next eight tokens are literals
        body.extend_from_slice(group);
    }
    assert!(
        body.len() <= 4095,
        "{} bytes: too long for one chunk",
        data.len()
    );
    // Chunk header: size - 3 in 12 bits, signature 0b011, compressed flag.
    let header = 0x8000 | 0x3000 | (body.len() as u16 + 2 - 3);
    let mut out = vec![0x01]; // signature of the container
    out.extend_from_slice(&header.to_le_bytes());
    out.extend_from_slice(&body);
    out
}
