//! The `docx2pdf` binary: parses the command line and wires the modules.

use std::process::ExitCode;

use clap::Parser;

use docx2pdf::config::{Cli, Command};
use docx2pdf::{convert, office, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        // Before any runtime exists: the child is single-threaded by design.
        Command::OfficeChild => office::child_main(),
        command => command,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("docx2pdf: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Convert(args) => {
                telemetry::init_logging(
                    args.log_format.unwrap_or(telemetry::LogFormat::Text),
                    "warn",
                );
                convert::run(args).await
            }
            Command::OfficeChild => unreachable!("handled above"),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("docx2pdf: {error:#}");
            ExitCode::FAILURE
        }
    }
}
