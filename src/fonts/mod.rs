//! The deployment's own fonts (`FONTS`): typefaces a company owns, may not
//! put in a public image, and wants its PDFs set in. At start, before the
//! pool, the font files under a Cloud Storage prefix (`gs://bucket/fonts/`)
//! or in a local directory are copied into the workspace, each checked
//! first ([`check`]), and fontconfig is pointed at them, for LibreOffice
//! and for the fidelity report ([`crate::office::configure_fonts`]). A bad
//! file is skipped with a warning naming it: start never fails because of
//! one font. Font files are parsed by code with a long history of bugs:
//! only confined processes parse them, and the prefix should be one that
//! uploaders cannot write (docs/fidelity.md).

mod check;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::office::{OwnFonts, configure_fonts};
use crate::storage::{Digests, Objects, Store};
use check::Skipped;

/// Where the fonts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Bucket { bucket: String, prefix: String },
    Dir(PathBuf),
}

impl Source {
    /// `gs://bucket/prefix/` or a local directory.
    pub fn parse(text: &str) -> Source {
        match text.strip_prefix("gs://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                Source::Bucket {
                    bucket: bucket.into(),
                    prefix: prefix.into(),
                }
            }
            None => Source::Dir(PathBuf::from(text)),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Bucket { bucket, prefix } => write!(f, "gs://{bucket}/{prefix}"),
            Source::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// A file a source offers: its name there (an object name, or a path),
/// and its size.
struct Offered {
    name: String,
    size: u64,
}

/// The fonts of `source` copied into `into` (a directory of the
/// workspace) and configured for the pool; None if it has none we could
/// load. `store` reads a bucket; `program` is our binary, whose
/// `font-tool` builds their cache.
pub async fn gather(
    source: &Source,
    store: Option<&Store>,
    into: &Path,
    program: &Path,
) -> anyhow::Result<Option<OwnFonts>> {
    let offered = offered(source, store)
        .await
        .with_context(|| format!("FONTS={source}: cannot list its files"))?;
    let files = into.join("files");
    std::fs::create_dir_all(&files)?;
    let mut loaded = Loaded::default();
    for file in offered {
        if check::font_extension(&file.name).is_none() {
            tracing::info!(font = %file.name, "FONTS: skipped, {}", Skipped::NotNamedAsFont);
            continue;
        }
        let next = loaded.count;
        if let Err(skipped) = check::within_bounds(file.size, next, loaded.bytes) {
            tracing::warn!(font = %file.name, "FONTS: skipped, {skipped}");
            continue;
        }
        let extension = check::font_extension(&file.name).unwrap_or("ttf");
        // Our own name: a name from the bucket never reaches the disk.
        let copy = files.join(format!("font-{next:03}.{extension}"));
        match fetch(source, store, &file, &copy).await {
            Ok(contents) => loaded.add(&file, &contents),
            Err(error) => {
                let _ = std::fs::remove_file(&copy);
                tracing::warn!(font = %file.name, "FONTS: skipped, {error:#}");
            }
        }
    }
    if loaded.count == 0 {
        tracing::warn!(
            "FONTS={source} has no font that could be loaded: documents get the stand-ins"
        );
        return Ok(None);
    }
    let fontconfig = configure_fonts(program, into)?;
    tracing::info!(
        fonts = loaded.count,
        bytes = loaded.bytes,
        "FONTS={source}: loaded"
    );
    Ok(Some(OwnFonts {
        fontconfig,
        count: loaded.count,
        digest: format!("{:08x}", loaded.digest),
    }))
}

/// What was loaded so far.
#[derive(Default)]
struct Loaded {
    count: usize,
    bytes: u64,
    /// CRC-32C of each file's name and contents, in order.
    digest: u32,
}

impl Loaded {
    fn add(&mut self, file: &Offered, contents: &[u8]) {
        self.digest = crc32c::crc32c_append(self.digest, file.name.as_bytes());
        self.digest = crc32c::crc32c_append(self.digest, contents);
        self.count += 1;
        self.bytes += contents.len() as u64;
    }
}

/// The files `source` offers, by name.
async fn offered(source: &Source, store: Option<&Store>) -> anyhow::Result<Vec<Offered>> {
    let mut offered = match source {
        Source::Bucket { bucket, prefix } => {
            let store = store.context("reading fonts from Cloud Storage needs the worker")?;
            // Enough to reach the bound past other files beside them.
            let listed = store.list(bucket, prefix, 4 * check::MOST_FONTS).await?;
            let offered = listed.into_iter().map(|object| Offered {
                size: u64::try_from(object.size).unwrap_or(0),
                name: object.name,
            });
            offered.collect()
        }
        Source::Dir(dir) => files_under(dir)?,
    };
    offered.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(offered)
}

/// The regular files in `dir` and its subdirectories, a few levels deep.
fn files_under(dir: &Path) -> std::io::Result<Vec<Offered>> {
    const DEEPEST: usize = 4;
    let mut files = Vec::new();
    let mut dirs = vec![(dir.to_path_buf(), 0)];
    std::fs::read_dir(dir)?;
    while let Some((dir, depth)) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() && depth < DEEPEST => dirs.push((path, depth + 1)),
                Ok(meta) if meta.is_file() => files.push(Offered {
                    name: path.to_string_lossy().into_owned(),
                    size: meta.len(),
                }),
                _ => {}
            }
        }
    }
    Ok(files)
}

/// Copies `file` of `source` to `copy`, and checks that it starts as a
/// font; its contents, read once, for the set's digest.
async fn fetch(
    source: &Source,
    store: Option<&Store>,
    file: &Offered,
    copy: &Path,
) -> anyhow::Result<Vec<u8>> {
    match (source, store) {
        (Source::Bucket { bucket, .. }, Some(store)) => {
            let limit = check::LARGEST_FONT;
            store
                .download(bucket, &file.name, None, copy, limit, Digests::default())
                .await?;
        }
        _ => {
            tokio::fs::copy(&file.name, copy).await?;
        }
    }
    let contents = tokio::fs::read(copy).await?;
    anyhow::ensure!(check::starts_as_font(&contents), Skipped::NotAFont);
    Ok(contents)
}
