//! The `render-preview` subcommand: confines itself, has pdftoppm draw
//! page 1 as raw pixels (PPM) on a pipe, and writes them as a PNG.
//!
//! pdftoppm writes PNG itself, with libpng's default compression: at 1024
//! pixels wide that took 87 ms a page, where its PPM took 15 and the whole
//! of this subcommand 31 (docs/performance.md, Previews); its PNG is
//! smaller (12 KB against 58). pdftoppm runs as this process's child,
//! so under the same sandbox: no network (seccomp), Landlock to reading the
//! system's files and that one PDF and writing one empty directory, CPU,
//! memory and file-size limits.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;

use super::TALLEST;
use crate::office::sandbox;

/// What drawing one page may use, pdftoppm and this process each: the
/// largest preview, 2048 by 8192 pixels, took 0.22 s, pdftoppm 78 MB of it.
const CPU_SECONDS: u64 = 30;
const MEMORY_BYTES: u64 = 1 << 30;

/// The exit status that says pdftoppm is not installed: the machine's
/// fault, not the document's.
pub const NOT_INSTALLED: i32 = 3;

/// pdftoppm could not be found.
#[derive(Debug, thiserror::Error)]
#[error("pdftoppm is not installed (poppler-utils)")]
struct NotInstalled;

/// Entry point of the `render-preview` subcommand: `WIDTH MAX_BYTES PDF
/// PREFIX`, drawing page 1 of `PDF` into `PREFIX.png`. Never returns.
pub fn main(args: Vec<OsString>) -> ! {
    match run(args) {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("render preview: {error:#}");
            match error.is::<NotInstalled>() {
                true => std::process::exit(NOT_INSTALLED),
                false => std::process::exit(1),
            }
        }
    }
}

/// Whether pdftoppm is on `PATH`, for the pool to warn at start.
pub fn installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join("pdftoppm").is_file())
}

fn run(args: Vec<OsString>) -> anyhow::Result<()> {
    let [width, max_bytes, pdf, prefix] = <[OsString; 4]>::try_from(args)
        .map_err(|_| anyhow::anyhow!("usage: render-preview WIDTH MAX_BYTES PDF PREFIX"))?;
    let width: u32 = width.to_str().context("WIDTH")?.parse()?;
    let max_bytes: u64 = max_bytes.to_str().context("MAX_BYTES")?.parse()?;
    let (pdf, prefix) = (PathBuf::from(pdf), PathBuf::from(prefix));
    let out_dir = prefix.parent().context("PREFIX has no directory")?;
    rlimit::setrlimit(rlimit::Resource::CPU, CPU_SECONDS, CPU_SECONDS)?;
    rlimit::setrlimit(rlimit::Resource::AS, MEMORY_BYTES, MEMORY_BYTES)?;
    rlimit::setrlimit(rlimit::Resource::FSIZE, max_bytes, max_bytes)?;
    sandbox::deny_network()?;
    sandbox::confine_files(std::slice::from_ref(&pdf), &[out_dir.to_owned()])?;
    let pixels = draw(&pdf, width)?;
    let file = std::fs::File::create(prefix.with_extension("png"))?;
    encode(&pixels, std::io::BufWriter::new(file))
}

/// Page 1 of `pdf`, `width` pixels wide, at most [`TALLEST`] widths tall
/// (only the top is drawn, and only it is allocated).
fn draw(pdf: &std::path::Path, width: u32) -> anyhow::Result<Pixels> {
    let tallest = width.saturating_mul(TALLEST);
    let (w, h) = (width.to_string(), tallest.to_string());
    let mut child = Command::new("pdftoppm")
        .args(["-f", "1", "-l", "1", "-singlefile"])
        .args(["-scale-to-x", &w, "-scale-to-y", "-1"])
        .args(["-x", "0", "-y", "0", "-W", &w, "-H", &h])
        .arg(pdf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => anyhow::Error::new(NotInstalled),
            _ => anyhow::Error::new(error).context("running pdftoppm"),
        })?;
    let largest = 64 + 3 * u64::from(width) * u64::from(tallest);
    let mut ppm = Vec::new();
    let stdout = child.stdout.take().context("pdftoppm's output")?;
    stdout.take(largest + 1).read_to_end(&mut ppm)?;
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "pdftoppm failed ({status})");
    let pixels = Pixels::from_ppm(ppm)?;
    anyhow::ensure!(
        pixels.width == width && (1..=tallest).contains(&pixels.height),
        "pdftoppm drew {}x{} pixels, not {width} wide and at most {tallest} tall",
        pixels.width,
        pixels.height
    );
    Ok(pixels)
}

/// An RGB image, 3 bytes a pixel, row by row.
struct Pixels {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Pixels {
    /// A binary PPM (`P6`, 8 bits a channel), as pdftoppm writes it; its
    /// pixels stay where they were read, without a copy.
    fn from_ppm(mut ppm: Vec<u8>) -> anyhow::Result<Pixels> {
        let mut fields = ppm.splitn(5, u8::is_ascii_whitespace);
        let mut field = || -> anyhow::Result<&str> {
            let bytes = fields.next().context("a short PPM header")?;
            Ok(std::str::from_utf8(bytes)?)
        };
        anyhow::ensure!(field()? == "P6", "not a binary PPM");
        let (width, height): (u32, u32) = (field()?.parse()?, field()?.parse()?);
        anyhow::ensure!(field()? == "255", "not 8 bits a channel");
        let pixels = fields.next().context("no pixels")?.len();
        let size = 3 * width as usize * height as usize;
        anyhow::ensure!(
            pixels == size,
            "{pixels} bytes of pixels for {width}x{height}"
        );
        ppm.drain(..ppm.len() - size);
        Ok(Pixels {
            width,
            height,
            rgb: ppm,
        })
    }
}

/// `pixels` as a PNG: the `png` crate's balanced setting took 3 ms more
/// than its fast one on a page 1024 pixels wide, for half the bytes.
fn encode(pixels: &Pixels, out: impl std::io::Write) -> anyhow::Result<()> {
    let mut encoder = png::Encoder::new(out, pixels.width, pixels.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels.rgb)?;
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ppm_is_read_only_when_its_pixels_are_all_there() {
        let ppm = |header: &str, pixels: usize| {
            let mut bytes = header.as_bytes().to_vec();
            bytes.extend(std::iter::repeat_n(7, pixels));
            bytes
        };
        let read = Pixels::from_ppm(ppm("P6\n2 3\n255\n", 18)).unwrap();
        assert_eq!((read.width, read.height, read.rgb.len()), (2, 3, 18));
        for (header, pixels) in [
            ("P6\n2 3\n255\n", 17),
            ("P6\n2 3\n255\n", 19),
            ("P5\n2 3\n255\n", 6),
            ("P6\n2 3\n65535\n", 36),
            ("P6\n2\n", 0),
            ("P6\n-2 3\n255\n", 18),
        ] {
            assert!(
                Pixels::from_ppm(ppm(header, pixels)).is_err(),
                "{header:?} {pixels}"
            );
        }
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_pixels() {
        let rgb: Vec<u8> = (0..3 * 5 * 4).map(|i| (i * 7) as u8).collect();
        let pixels = Pixels {
            width: 5,
            height: 4,
            rgb: rgb.clone(),
        };
        let mut png = Vec::new();
        encode(&pixels, &mut png).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut decoded = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut decoded).unwrap();
        assert_eq!((frame.width, frame.height), (5, 4));
        assert_eq!(decoded, rgb);
    }
}
