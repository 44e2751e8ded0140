//! fontconfig's tools, run confined, and the configuration that shows
//! LibreOffice a deployment's own fonts.
//!
//! fc-list, fc-match and fc-cache parse every font file they see, the
//! deployment's among them, with code that has a long history of bugs. So
//! the worker never runs them itself: it runs the hidden `font-tool`
//! subcommand of its own binary, which denies itself the network (seccomp)
//! and every file but the system's and the fonts' (Landlock), caps its CPU
//! time and memory, and then becomes the tool. The worker itself only
//! copies font files, checks their first bytes and hashes them.
//!
//! A deployment's fonts live in one directory, `<dir>/files`, beside a
//! `fonts.conf` that names them and their cache (`<dir>/cache`) ahead of
//! the system's configuration: every LibreOffice process and every tool
//! gets it as `FONTCONFIG_FILE`, and reads `<dir>`. A family the
//! deployment brings is then found before any stand-in for it
//! (`fonts/30-docx2pdf-substitutes.conf` puts a stand-in after the font).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::sandbox;
use crate::config::FONT_TOOL_SUBCOMMAND;

/// The tools the subcommand becomes; nothing else.
const TOOLS: [&str; 3] = ["fc-list", "fc-match", "fc-cache"];

/// CPU seconds and bytes of memory a tool may use: listing or caching a few
/// hundred fonts takes well under a second and a few MiB each.
const CPU_SECONDS: u64 = 60;
const MEMORY_BYTES: u64 = 1 << 30;

/// How the pool's fonts are asked about: our binary (run as `font-tool`),
/// and the deployment's `fonts.conf`, if it brought fonts.
#[derive(Clone, Debug)]
pub struct FontTool {
    program: PathBuf,
    config: Option<PathBuf>,
}

impl FontTool {
    pub fn new(program: PathBuf, config: Option<PathBuf>) -> FontTool {
        FontTool { program, config }
    }

    /// `tool` (one of [`TOOLS`]), confined; its arguments are added by the
    /// caller.
    pub fn command(&self, tool: &str) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.arg(FONT_TOOL_SUBCOMMAND).arg(tool).env_clear();
        for key in ["PATH", "LANG", "LC_ALL"] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        if let Some(config) = &self.config {
            command.env("FONTCONFIG_FILE", config);
        }
        command
    }
}

/// Writes `<dir>/fonts.conf` for the fonts in `<dir>/files` and has a
/// confined fc-cache build their cache; the file's path.
pub fn configure(program: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let (files, cache) = (dir.join("files"), dir.join("cache"));
    std::fs::create_dir_all(&cache)?;
    let config = dir.join("fonts.conf");
    let text = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <cachedir>{}</cachedir>
  <dir>{}</dir>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
</fontconfig>
"#,
        xml_text(&cache),
        xml_text(&files)
    );
    std::fs::write(&config, text)?;
    let tool = FontTool::new(program.to_owned(), Some(config.clone()));
    let built = tool.command("fc-cache").arg(&files).output();
    let built = built.context("running fc-cache for the deployment's fonts")?;
    if !built.status.success() {
        let said = String::from_utf8_lossy(&built.stderr);
        tracing::warn!(status = %built.status, stderr = %said.trim(), "fc-cache failed on the deployment's fonts: LibreOffice will read them at each start");
    }
    Ok(config)
}

/// A path as XML text.
fn xml_text(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Entry point of the `font-tool` subcommand: confines this process and
/// becomes `args[0]`. Never returns.
pub fn main(args: Vec<OsString>) -> ! {
    let error = match confine_and_exec(args) {
        Ok(never) => match never {},
        Err(error) => error,
    };
    eprintln!("font tool: {error:#}");
    std::process::exit(1)
}

fn confine_and_exec(args: Vec<OsString>) -> anyhow::Result<std::convert::Infallible> {
    let (tool, rest) = args.split_first().context("no tool named")?;
    let tool = (tool.to_str())
        .filter(|tool| TOOLS.contains(tool))
        .with_context(|| format!("{tool:?} is not one of {TOOLS:?}"))?;
    let dir = std::env::var_os("FONTCONFIG_FILE")
        .map(PathBuf::from)
        .and_then(|config| config.parent().map(Path::to_path_buf));
    let readable: Vec<PathBuf> = dir.iter().cloned().collect();
    // Only fc-cache writes, and only the deployment's cache.
    let writable: Vec<PathBuf> = match tool {
        "fc-cache" => dir.iter().map(|dir| dir.join("cache")).collect(),
        _ => vec![],
    };
    rlimit::setrlimit(rlimit::Resource::CPU, CPU_SECONDS, CPU_SECONDS)?;
    rlimit::setrlimit(rlimit::Resource::AS, MEMORY_BYTES, MEMORY_BYTES)?;
    sandbox::deny_network()?;
    sandbox::confine_files(&readable, &writable)?;
    Err(std::process::Command::new(tool).args(rest).exec())
        .with_context(|| format!("running {tool}"))
}
