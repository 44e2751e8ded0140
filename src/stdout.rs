//! Lines for a person or a pipe on standard output. A reader that went away
//! (`docx2pdf submit ... | head -1`) ends the program quietly, as ripgrep
//! does, where `println!` would panic.

use std::io::Write;

/// Writes `line` and a newline to stdout; exits with status 0 if nobody
/// reads stdout any more.
pub fn line(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        // Another failure (a full disk under a redirect) is worth a word.
        Err(error) => eprintln!("docx2pdf: cannot write to stdout: {error}"),
        Ok(()) => {}
    }
}
