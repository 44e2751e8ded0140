//! The house's import graph runs one way: each module of `src/` imports
//! only modules on layers below its own (docs/design.md, "The house"), so
//! no import runs up and no circle spans two modules. Read from the
//! `crate::` paths of the source, outside comments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, the highest first; a module imports only from layers after
/// its own. `main.rs` and `lib.rs` sit above them all.
const LAYERS: &[&[&str]] = &[
    // The front doors: push requests and probes, and the other commands.
    &["http", "convert", "submit", "request"],
    &["push"],
    // The deployment's fonts, read before the pool starts.
    &["worker", "fonts"],
    &["job", "office", "telemetry", "gcloud"],
    &["storage", "supervisor"],
    &["config"],
    // The leaves: shared words and plain values.
    &["options", "outcome", "workspace", "stdout"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The code of `text` without its comments (line comments and doc
/// comments are all this crate writes).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::`, including those
/// of a group (`crate::{a, b::c}`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let group = match rest.strip_prefix('{') {
            Some(group) => &group[..group.find('}').unwrap_or(group.len())],
            None => rest,
        };
        for item in group.split(',') {
            let module: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !module.is_empty() {
                named.push(module);
            }
            if !rest.starts_with('{') {
                break;
            }
        }
    }
    named
}

/// Every module's imports of other modules: (from, to) -> the files.
fn imports() -> BTreeMap<(String, String), Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let module = relative.iter().next().unwrap().to_string_lossy();
        let module = module.trim_end_matches(".rs").to_owned();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for to in crate_paths(&code(&text)) {
            if to != module {
                let shown = relative.display().to_string();
                found.entry((module.clone(), to)).or_default().push(shown);
            }
        }
    }
    found
}

#[test]
fn every_import_runs_down_the_layers() {
    let mut wrong = Vec::new();
    for ((from, to), files) in imports() {
        match (layer_of(&from), layer_of(&to)) {
            (Some(a), Some(b)) if b > a => {}
            (None, _) => wrong.push(format!("{from} is on no layer: add it to LAYERS")),
            (_, None) => wrong.push(format!("{to} is on no layer: add it to LAYERS")),
            _ => wrong.push(format!("{from} -> {to} runs up or sideways ({files:?})")),
        }
    }
    wrong.dedup();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The control: the reading sees an import, grouped or not, and not one
/// in a comment.
#[test]
fn the_reading_finds_imports_and_skips_comments() {
    let text = "use crate::storage::ObjectRef;\n\
        use crate::{config::X, outcome};\n\
        /// [`crate::worker::Worker`]\n\
        let x = crate::job::parse(); // crate::http\n";
    assert_eq!(
        crate_paths(&code(text)),
        ["storage", "config", "outcome", "job"]
    );
    assert!(layer_of("worker") < layer_of("storage"));
}

/// Inside `office`, the input checks (`inspect/`) and the fidelity report
/// (`fidelity/`) stand apart from the pool: they take nothing from it but
/// its error type (and the report, the lenient zip reader of `inspect`).
#[test]
fn office_parts_take_nothing_from_the_pool() {
    let office = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/office");
    for (part, allowed) in [
        ("inspect", &["error", "inspect"][..]),
        ("fidelity", &["error", "inspect", "fidelity"][..]),
    ] {
        let mut files = Vec::new();
        sources(&office.join(part), &mut files);
        for file in files {
            let code = code(&std::fs::read_to_string(&file).unwrap());
            for (at, _) in code.match_indices("crate::office::") {
                let rest = &code[at + "crate::office::".len()..];
                let named: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    allowed.contains(&named.as_str()),
                    "{}: crate::office::{named}",
                    file.display()
                );
            }
            let reaches_up = code.lines().any(|line| line.starts_with("use super::"))
                && file.file_name().is_some_and(|name| name == "mod.rs");
            assert!(!reaches_up, "{}: use super:: is the pool", file.display());
        }
    }
}
