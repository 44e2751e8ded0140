//! What can be checked of the image and its deployment without a Docker
//! engine: the Dockerfile installs what ./dev/setup installs, pinned, and
//! every package exists in bookworm; it starts real subcommands and flags;
//! cloudbuild.yaml parses, uses only defined substitutions, and passes
//! gcloud only flags gcloud has. `./dev/check-image` goes further (a
//! bookworm chroot), outside CI.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

mod common;
use common::emulators::free_port;

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The Dockerfile with continuation lines joined.
fn dockerfile() -> Vec<String> {
    read("Dockerfile")
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The runtime stage's lines: everything after its FROM.
fn runtime_stage() -> Vec<String> {
    let lines = dockerfile();
    let from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    assert!(
        lines[from].starts_with("FROM debian:bookworm-slim"),
        "{}",
        lines[from]
    );
    lines[from..].to_vec()
}

/// `name=version` (or just `name`) for each package the runtime installs.
fn runtime_packages(stage: &[String]) -> Vec<(String, Option<String>)> {
    let install = stage
        .iter()
        .find(|l| l.contains("apt-get install"))
        .expect("the runtime stage installs packages");
    let after = install.split("--no-install-recommends").nth(1).unwrap();
    after
        .split("&&")
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| match p.split_once('=') {
            Some((name, version)) => (name.to_string(), Some(version.to_string())),
            None => (p.to_string(), None),
        })
        .collect()
}

/// The words of one of `./dev/setup`'s bash arrays, comments left out.
fn setup_array(name: &str) -> BTreeSet<String> {
    let setup = read("dev/setup");
    let list = setup
        .split(&format!("\n{name}=("))
        .nth(1)
        .unwrap_or_else(|| panic!("dev/setup has no {name}"))
        .split("\n)")
        .next()
        .unwrap();
    list.lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(str::split_whitespace)
        .map(String::from)
        .collect()
}

/// The value of a plain `NAME=value` line of `./dev/setup`.
fn setup_variable(name: &str) -> String {
    read("dev/setup")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("dev/setup sets no {name}"))
        .to_string()
}

/// A JSON-array instruction (`CMD ["a", "b"]`) of the runtime stage.
fn exec_form(stage: &[String], instruction: &str) -> Vec<String> {
    let line = stage
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("no {instruction}"));
    let json = &line[line.find('[').expect("exec form, not shell form")..];
    serde_json::from_str(json).unwrap()
}

fn docx2pdf(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn os_codename() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_image_installs_what_dev_setup_installs_pinned_and_from_bookworm() {
    let packages = runtime_packages(&runtime_stage());
    let image: BTreeSet<String> = packages.iter().map(|(name, _)| name.clone()).collect();
    let libreoffice = setup_array("libreoffice_packages");
    let mut expected = setup_array("apt_packages");
    expected.extend(libreoffice.iter().cloned());
    // Tests only: openssl makes keys. (poppler-utils draws previews.)
    assert!(expected.remove("openssl"));
    expected.insert("tini".into());
    expected.insert("ca-certificates".into());
    assert_eq!(image, expected, "the Dockerfile and ./dev/setup disagree");
    let engine = setup_variable("LIBREOFFICE_VERSION");
    for (name, version) in &packages {
        if libreoffice.contains(name) {
            assert_eq!(
                version.as_ref(),
                Some(&engine),
                "{name} is not at ./dev/setup's version"
            );
        } else if name != "ca-certificates" {
            assert!(version.is_some(), "{name} is not pinned");
        }
    }
    // The same source and the same pin: LibreOffice's libraries from backports, nothing else.
    let setup = read("dev/setup");
    let image = read("Dockerfile");
    for line in [
        "deb http://deb.debian.org/debian bookworm-backports main",
        r"Package: src:libreoffice\nPin: release n=bookworm-backports\nPin-Priority: 990\n",
    ] {
        assert!(setup.contains(line), "dev/setup lacks {line}");
        assert!(image.contains(line), "the Dockerfile lacks {line}");
    }
    if os_codename() != "bookworm" {
        eprintln!(
            "skipped: this machine is not Debian bookworm, so apt-cache cannot tell what bookworm has"
        );
        return;
    }
    for (name, version) in &packages {
        let spec = match version {
            Some(version) => format!("{name}={version}"),
            None => name.clone(),
        };
        let shown = Command::new("apt-cache")
            .args(["show", &spec])
            .output()
            .unwrap();
        assert!(
            shown.status.success() && !shown.stdout.is_empty(),
            "Debian (bookworm or its backports) has no {spec}: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
    }
}

#[test]
fn the_image_starts_real_subcommands_as_a_user_with_tini() {
    let stage = runtime_stage();
    let entrypoint = exec_form(&stage, "ENTRYPOINT");
    assert_eq!(entrypoint[0], "/usr/bin/tini", "tini is PID 1");
    let binary = entrypoint.last().unwrap();
    assert!(
        stage
            .iter()
            .any(|l| l.starts_with("COPY --from=build") && l.ends_with(binary.as_str())),
        "{binary} is not where the binary is copied"
    );
    let cmd = exec_form(&stage, "CMD");
    let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    args.push("--help");
    let (ok, help) = docx2pdf(&args);
    assert!(ok, "docx2pdf {args:?}: {help}");
    // What the image sets in ENV, the command reads.
    for line in stage.iter().filter(|l| l.starts_with("ENV ")) {
        for pair in line["ENV ".len()..].split_whitespace() {
            let key = pair.split('=').next().unwrap();
            if key != "TMPDIR" {
                assert!(help.contains(&format!("[env: {key}=")), "{key} is not read");
            }
        }
    }
    let health = exec_form(&stage, "HEALTHCHECK");
    assert_eq!(&health[0], binary);
    let mut args: Vec<&str> = health[1..].iter().map(String::as_str).collect();
    args.push("--help");
    let (ok, help) = docx2pdf(&args);
    assert!(ok, "docx2pdf {args:?}: {help}");
    let user = stage
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER ").map(String::from))
        .expect("a USER");
    assert!(user != "0" && user != "root", "runs as root");
    // The health check against a port nobody listens on fails, clearly.
    let port = free_port().to_string();
    let (ok, said) = docx2pdf(&["health", "--port", &port]);
    assert!(!ok && said.contains("/healthz"), "{said}");
}

fn yaml_strings(yaml: &Yaml, out: &mut Vec<String>) {
    match yaml {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Array(items) => items.iter().for_each(|i| yaml_strings(i, out)),
        Yaml::Hash(map) => map.values().for_each(|v| yaml_strings(v, out)),
        _ => {}
    }
}

/// `$NAME` and `${NAME}` in `text`; `$$` is Cloud Build's escaped `$`.
fn substitutions_used(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if let Some(escaped) = rest.strip_prefix('$') {
            rest = escaped;
            continue;
        }
        let braced = rest.starts_with('{');
        let name: String = rest[usize::from(braced)..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            used.insert(name);
        }
    }
    used
}

/// The `--flags` given to each gcloud command in `script`.
fn gcloud_flags(script: &str) -> Vec<(String, Vec<String>)> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let command = ["gcloud beta run worker-pools deploy", "gcloud run deploy"]
                .into_iter()
                .find(|c| l.starts_with(c))?;
            let flags = l
                .split_whitespace()
                .filter(|w| w.starts_with("--"))
                .map(|w| w.split('=').next().unwrap().to_string())
                .collect();
            Some((command.to_string(), flags))
        })
        .collect()
}

#[test]
fn cloudbuild_parses_and_uses_only_defined_substitutions_and_real_flags() {
    let text = read("cloudbuild.yaml");
    let docs = YamlLoader::load_from_str(&text).expect("cloudbuild.yaml is YAML");
    let build = &docs[0];
    let defined: BTreeSet<String> = build["substitutions"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for name in &defined {
        assert!(
            name.starts_with('_'),
            "user substitution {name} lacks its _"
        );
    }
    for name in ["_SERVICE_NAME", "_REGION", "_ENV_VARIABLES"] {
        assert!(defined.contains(name), "{name} is missing");
    }
    let ids: Vec<&str> = build["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in ["build", "push", "deploy"] {
        assert!(ids.contains(&id), "no {id} step in {ids:?}");
    }
    let mut strings = Vec::new();
    yaml_strings(&build["steps"], &mut strings);
    yaml_strings(&build["images"], &mut strings);
    let used: BTreeSet<String> = strings.iter().flat_map(|s| substitutions_used(s)).collect();
    // Cloud Build's own; TAG_NAME is given on the command line when no tag
    // triggered the build.
    let builtin = ["PROJECT_ID", "TAG_NAME"];
    for name in &used {
        assert!(
            defined.contains(name) || builtin.contains(&name.as_str()),
            "${name} is used but not defined"
        );
    }
    // Cloud Build refuses a build whose substitutions go unused.
    for name in &defined {
        assert!(used.contains(name), "{name} is defined but never used");
    }
    assert!(used.contains("TAG_NAME"));

    // The default environment names settings the worker has.
    let (_, help) = docx2pdf(&["worker", "--help"]);
    let env = build["substitutions"]["_ENV_VARIABLES"].as_str().unwrap();
    for pair in env.split(',') {
        let key = pair.split('=').next().unwrap();
        assert!(
            help.contains(&format!("[env: {key}")),
            "{key} is no setting"
        );
    }

    let script = strings
        .iter()
        .find(|s| s.contains("gcloud run deploy"))
        .unwrap();
    let commands = gcloud_flags(script);
    assert_eq!(commands.len(), 2, "a worker-pool and a service deploy");
    if Command::new("gcloud").arg("--version").output().is_err() {
        eprintln!("skipped the flag check: gcloud is not installed");
        return;
    }
    for (command, flags) in commands {
        let words: Vec<&str> = command.split_whitespace().skip(1).collect();
        let out = Command::new("gcloud")
            .args(&words)
            .arg("--help")
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout).replace("\u{1b}[1m", "");
        let help = help.replace("\u{1b}[m", "");
        assert!(out.status.success(), "{command} --help failed");
        for flag in flags {
            let negatable = flag
                .strip_prefix("--no-")
                .map(|f| format!("--[no-]{f}"))
                .unwrap_or_default();
            assert!(
                help.contains(&format!("{flag}="))
                    || help.contains(&format!("{flag}\n"))
                    || help.contains(&format!("{flag} "))
                    || (!negatable.is_empty() && help.contains(&negatable)),
                "{command} has no {flag}"
            );
        }
    }
}

#[test]
fn setup_and_the_image_install_the_font_substitutes() {
    let conf = "fonts/30-docx2pdf-substitutes.conf";
    let target = "/etc/fonts/conf.d/30-docx2pdf-substitutes.conf";
    let setup = read("dev/setup");
    assert!(
        setup.contains(&format!("substitutes={target}")),
        "dev/setup does not install {conf}"
    );
    let copy = format!("COPY {conf} {target}");
    assert!(
        runtime_stage().iter().any(|l| l.trim() == copy),
        "the image's runtime stage does not copy {conf} to {target}"
    );
}
