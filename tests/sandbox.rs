//! The Landlock rules each LibreOffice process runs under, applied to a
//! shell: what it may make in its scratch, and whom it may signal. Here
//! rather than a unit test because it starts processes.

use docx2pdf::office::sandbox::{OUT_OF_REACH, files_ruleset, landlock_abi, scratch_access};
use landlock::{ABI, Access, AccessFs, BitFlags, RulesetCreated, Scope};
use std::os::unix::process::CommandExt;
use std::path::Path;

/// What a shell confined by `ruleset` prints running `script` with `arg`.
fn confined(ruleset: RulesetCreated, script: &str, arg: &str) -> String {
    let mut ruleset = Some(ruleset);
    let mut command = std::process::Command::new("/bin/sh");
    command.args(["-c", script, "sh", arg]);
    // SAFETY: restricting a ruleset made before fork is two system
    // calls, and the error path only in a test.
    unsafe {
        command.pre_exec(move || {
            let ruleset = ruleset.take().expect("one exec");
            ruleset
                .restrict_self()
                .map(drop)
                .map_err(std::io::Error::other)
        });
    }
    let out = command.output().unwrap();
    let words: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    words.join(" ")
}

/// A ruleset for a process writing in `dir` only, with `scratch` rights
/// there and `out_of_reach` scopes.
fn ruleset(dir: &Path, scratch: BitFlags<AccessFs>, out_of_reach: &[Scope]) -> RulesetCreated {
    files_ruleset(
        &[],
        &[dir.to_owned()],
        scratch,
        out_of_reach.iter().copied(),
    )
    .unwrap()
}

/// What a shell confined with `scratch` rights to `dir` manages to make
/// there.
fn made_in(dir: &Path, scratch: BitFlags<AccessFs>) -> String {
    let script = "cd \"$1\"; mkfifo fifo 2>/dev/null && echo fifo; \
        ln -s /etc/passwd link 2>/dev/null && echo link; \
        mkdir sub && echo x > sub/file && echo file";
    confined(ruleset(dir, scratch, &[]), script, &dir.to_string_lossy())
}

#[test]
fn the_scratch_takes_regular_files_and_directories_only() {
    if landlock_abi().is_none() {
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let control = tempfile::tempdir().unwrap();
    assert_eq!(
        made_in(control.path(), AccessFs::from_all(ABI::V5)),
        "fifo link file"
    );
    let scratch = tempfile::tempdir().unwrap();
    assert_eq!(made_in(scratch.path(), scratch_access(ABI::V5)), "file");
}

/// A process outside the sandbox (standing in for the worker) killed
/// from inside it: the control, unscoped, kills it; scoped, the kill
/// is refused.
#[test]
fn a_confined_process_cannot_signal_one_outside() {
    if landlock_abi().is_none_or(|abi| abi < 6) {
        eprintln!("skipped: this kernel has no Landlock scoping (ABI 6)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kill = "kill -9 \"$1\" 2>/dev/null && echo killed || echo refused";
    for (scopes, expected) in [(&[][..], "killed"), (&OUT_OF_REACH[..], "refused")] {
        let mut outside = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let rules = ruleset(dir.path(), scratch_access(ABI::V5), scopes);
        assert_eq!(confined(rules, kill, &outside.id().to_string()), expected);
        let _ = outside.kill();
        let _ = outside.wait();
    }
}

/// fontconfig's tools run confined: a configuration naming a font
/// directory beyond the deployment's (its own directory) lists that font
/// to the plain tool (the control) and not to the confined one.
#[test]
fn a_font_tool_reads_no_fonts_beyond_the_deployments() {
    if landlock_abi().is_none() {
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let (deployment, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let font = elsewhere.path().join("Elsewhere.ttf");
    std::fs::copy(
        "/usr/share/fonts/truetype/crosextra/Caladea-Regular.ttf",
        &font,
    )
    .unwrap();
    let config = deployment.path().join("fonts.conf");
    let text = format!(
        r#"<?xml version="1.0"?><fontconfig><cachedir>{}/cache</cachedir><dir>{}</dir><include ignore_missing="yes">/etc/fonts/fonts.conf</include></fontconfig>"#,
        deployment.path().display(),
        elsewhere.path().display()
    );
    std::fs::write(&config, text).unwrap();
    let files = |command: &mut std::process::Command| {
        let out = command.env("FONTCONFIG_FILE", &config).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let args = ["--format", "%{file}\n"];
    // Confined first: the plain tool caches the directory's listing where
    // the confined one may read it (Landlock does not refuse a stat).
    let program = env!("CARGO_BIN_EXE_docx2pdf");
    let tool = docx2pdf::office::FontTool::new(program.into(), Some(config.clone()));
    let confined = files(tool.command("fc-list").args(args));
    assert!(!confined.contains("Elsewhere.ttf"), "{confined}");
    assert!(
        confined.contains("Caladea-Regular.ttf"),
        "the system's fonts: {confined}"
    );
    let plain = files(std::process::Command::new("fc-list").args(args));
    assert!(plain.contains("Elsewhere.ttf"), "the control: {plain}");
}
