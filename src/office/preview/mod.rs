//! The preview (`preview=WIDTH`): a PNG of the PDF's first page, drawn by
//! poppler's `pdftoppm` from the PDF just made.
//!
//! Drawn from the PDF rather than by LibreOffice from the document still
//! loaded: LibreOffice 25.2's Writer and Calc PNG export ignores the width
//! asked for, and took 50-70 ms a page at its own 96 dpi where the preview
//! drawn from the PDF takes 15 ms at 256 pixels wide and 31 ms at 1024
//! (docs/performance.md, Previews). It also keeps
//! the slot free: the next document converts while this one is drawn.
//!
//! The PDF came from a LibreOffice process that may have been compromised,
//! and poppler parses it with C. So, as fontconfig's tools, pdftoppm runs
//! under the hidden `render-preview` subcommand of our binary ([`tool`]),
//! confined, with a wall deadline; and what it leaves is checked as the
//! PDF is (a regular file of ours, under the size cap, a PNG of the width
//! asked for).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::ConvertError;
use crate::config::PREVIEW_SUBCOMMAND;

mod tool;
pub use tool::{installed, main};

/// The tallest preview, in widths: of a page taller than this (a
/// receipt's roll), the preview shows the top. Drawing it whole would cost
/// memory in proportion: LibreOffice makes pages up to 1 by 119 inches, and
/// poppler gave up on one 200 times taller than wide at 2048 pixels, a
/// 2.5 GB bitmap; at 4, 2048 wide took 0.22 s, pdftoppm 78 MB of it.
const TALLEST: u32 = 4;

/// A preview drawn and checked.
#[derive(Clone, Debug)]
pub struct Preview {
    /// Beside the PDF: its name with `.png` for `.pdf`.
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// Where the preview of the PDF at `pdf` goes.
pub fn path_beside(pdf: &Path) -> PathBuf {
    pdf.with_extension("png")
}

/// What a preview is drawn with, and its bounds.
pub(super) struct Draw<'a> {
    /// Our own executable, which draws as `render-preview`.
    pub program: &'a Path,
    pub deadline: Duration,
    /// The largest PNG, as the largest PDF (`MAX_OUTPUT_BYTES`).
    pub max_bytes: u64,
}

impl Draw<'_> {
    /// A PNG of page 1 of the PDF at `pdf`, `width` pixels wide, beside it;
    /// on failure the PDF is removed: a document asking for a preview gets
    /// both or neither.
    pub(super) async fn render(&self, pdf: &Path, width: u32) -> Result<Preview, ConvertError> {
        let drawn = self.draw(pdf, width).await;
        if drawn.is_err() {
            let _ = tokio::fs::remove_file(pdf).await;
        }
        drawn
    }

    async fn draw(&self, pdf: &Path, width: u32) -> Result<Preview, ConvertError> {
        // An empty directory of its own: the tool can write nothing else,
        // the PDF least of all.
        let parent = pdf.parent().unwrap_or(Path::new("."));
        let drawn = tempfile::tempdir_in(parent)?;
        let prefix = drawn.path().join("page");
        let mut command = tokio::process::Command::new(self.program);
        command
            .arg(PREVIEW_SUBCOMMAND)
            .arg(width.to_string())
            .arg(self.max_bytes.to_string())
            .arg(pdf)
            .arg(&prefix)
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let ran = tokio::time::timeout(self.deadline, command.output()).await;
        let output = ran.map_err(|_| {
            ConvertError::ResourceLimit(format!(
                "drawing its preview took longer than {:?}",
                self.deadline
            ))
        })??;
        if output.status.code() == Some(tool::NOT_INSTALLED) {
            return Err(ConvertError::Internal(
                "pdftoppm, which draws previews, is not installed: install poppler-utils (./dev/setup does; the image has it)".into(),
            ));
        }
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            let said: String = said.trim().chars().take(300).collect();
            return Err(ConvertError::Corrupt(format!(
                "its first page could not be drawn as a preview ({}: {said})",
                output.status
            )));
        }
        let path = path_beside(pdf);
        let (from, to, cap) = (prefix.with_extension("png"), path.clone(), self.max_bytes);
        tokio::task::spawn_blocking(move || take_png(&from, &to, width, cap))
            .await
            .map_err(|e| ConvertError::Internal(format!("checking the preview panicked: {e}")))?
    }
}

/// Copies the PNG the tool wrote at `from` into `to`, a file only we
/// write, if it is a regular file of at most `cap` bytes and a PNG `width`
/// pixels wide.
fn take_png(from: &Path, to: &Path, width: u32, cap: u64) -> Result<Preview, ConvertError> {
    let misbehaved = |what: String| ConvertError::Crashed(format!("the preview tool {what}"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(from)
        .map_err(|e| misbehaved(format!("left no PNG file ({e})")))?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(misbehaved("left something other than a file".into()));
    }
    // A hard link: another file's bytes, maybe another job's preview.
    if std::os::unix::fs::MetadataExt::nlink(&metadata) != 1 {
        return Err(misbehaved("left a hard link to another file".into()));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, cap + 1), &mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ConvertError::ResourceLimit(format!(
            "its preview is larger than {cap} bytes (MAX_OUTPUT_BYTES)"
        )));
    }
    let size = match imagesize::image_type(&bytes) {
        Ok(imagesize::ImageType::Png) => imagesize::blob_size(&bytes).ok(),
        _ => None,
    };
    let height = match size {
        Some(size) if size.width == width as usize => size.height as u32,
        _ => return Err(misbehaved(format!("wrote no PNG {width} pixels wide"))),
    };
    if height == 0 || height > width.saturating_mul(TALLEST) {
        return Err(misbehaved(format!(
            "wrote a PNG {height} pixels tall, outside 1 to {}",
            width.saturating_mul(TALLEST)
        )));
    }
    std::fs::write(to, &bytes)?;
    Ok(Preview {
        path: to.to_owned(),
        width,
        height,
        bytes: bytes.len() as u64,
    })
}
