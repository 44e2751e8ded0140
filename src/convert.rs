//! `docx2pdf convert`: local files through the pool, in parallel, with a
//! progress bar on a terminal and one line per failure.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::ConvertArgs;
use crate::fonts;
use crate::office::{Conversion, Pool, PoolConfig};
use crate::workspace::Workspace;

/// Below this many files a progress bar is more noise than help.
const PROGRESS_MIN_FILES: usize = 4;

/// A bar on a terminal from a few files; nothing otherwise.
fn progress_bar(files: usize) -> ProgressBar {
    if files < PROGRESS_MIN_FILES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(files as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .expect("static template"),
    );
    bar
}

/// One document's fidelity report, as `--report json` prints it.
fn report_line(input: &Path, output: &Path, conversion: &Conversion) -> String {
    let fidelity = &conversion.fidelity;
    serde_json::json!({
        "input": input,
        "output": output,
        "pages": fidelity.pages,
        "fonts": fidelity.fonts,
        "missing_glyphs": fidelity.missing_glyphs,
        "layout_risk": fidelity.layout_risk,
        "csv": fidelity.csv,
        "preview": conversion.preview.as_ref().map(|preview| &preview.path),
    })
    .to_string()
}

/// The pool `args` ask for, with the fonts of `--fonts` loaded.
async fn start_pool(args: &ConvertArgs) -> anyhow::Result<Pool> {
    let mut config = PoolConfig::from_args(&args.pool)?;
    let workspace = Arc::new(Workspace::create()?);
    if let Some(dir) = &args.pool.fonts {
        let source = fonts::Source::parse(dir);
        anyhow::ensure!(
            matches!(source, fonts::Source::Dir(_)),
            "convert reads --fonts from a directory: copy them first (gcloud storage cp -r {dir} DIR)"
        );
        config.own_fonts = fonts::gather(&source, None, workspace.fonts(), &config.program).await?;
    }
    Pool::start(config, workspace)
}

pub async fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    args.validate()?;
    let options = args.pdf.options();
    let pool = start_pool(&args).await?;
    let parallel = pool.slots().len();
    let started = Instant::now();
    let progress = progress_bar(args.files.len());

    // Twice the pool size keeps every process busy while the next inputs are checked.
    let mut results = futures::stream::iter(&args.files)
        .map(|input| {
            let (pool, options) = (&pool, &options);
            let output = args.output_for(input);
            async move {
                let result = match std::fs::metadata(input) {
                    Ok(_) => pool
                        .convert(input, input, &output, options)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err("no such file".into())
                    }
                    Err(e) => Err(format!("cannot read it: {e}")),
                };
                (input, output, result)
            }
        })
        .buffer_unordered(parallel * 2);
    let mut failed = 0usize;
    while let Some((input, output, result)) = results.next().await {
        progress.inc(1);
        match result {
            Ok(conversion) => {
                let fidelity = &conversion.fidelity;
                for warning in fidelity.warnings(options.font_policy) {
                    progress.suspend(|| eprintln!("{}: warning: {warning}", input.display()));
                }
                if args.report.is_some() {
                    let line = report_line(input, &output, &conversion);
                    progress.suspend(|| crate::stdout::line(line));
                }
            }
            Err(error) => {
                failed += 1;
                progress.suspend(|| eprintln!("{}: {error}", input.display()));
            }
        }
    }
    drop(results);
    progress.finish_and_clear();
    pool.shutdown().await;
    let converted = args.files.len() - failed;
    eprintln!(
        "{converted} converted, {failed} failed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
