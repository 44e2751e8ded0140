//! The fonts a pool's LibreOffice processes have, as fontconfig (which
//! they ask) lists and matches them: the system's and the deployment's.
//! Each question asked once per pool, of the tools as the pool runs them
//! (confined, with the deployment's configuration).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::normal;
use super::scripts::Coverage;

/// A fontconfig tool (`fc-list`, `fc-match`) as the pool runs it; the
/// caller adds the arguments.
pub type Tool = Box<dyn Fn(&str) -> std::process::Command + Send + Sync>;

pub struct Installed {
    tool: Tool,
    families: OnceLock<HashMap<String, String>>,
    coverage: OnceLock<Coverage>,
    matches: Mutex<HashMap<String, Option<String>>>,
}

impl Installed {
    pub fn new(tool: Tool) -> Installed {
        Installed {
            tool,
            families: OnceLock::new(),
            coverage: OnceLock::new(),
            matches: Mutex::default(),
        }
    }

    /// Installed font families, by their normalised name.
    pub fn families(&self) -> &HashMap<String, String> {
        self.families.get_or_init(|| {
            let listing = self.ask("fc-list", &[":", "family"]);
            (listing.lines())
                .flat_map(|line| line.split(','))
                .map(|family| (normal(family), family.trim().to_string()))
                .collect()
        })
    }

    /// Every character some installed font has.
    pub fn coverage(&self) -> &Coverage {
        (self.coverage)
            .get_or_init(|| Coverage::parse(&self.ask("fc-list", &["--format", "%{charset}\n"])))
    }

    /// What fontconfig puts first in place of `font`.
    pub fn matching(&self, font: &str) -> Option<String> {
        if let Some(found) = self.matches.lock().expect("font matches").get(font) {
            return found.clone();
        }
        let family = self.ask("fc-match", &["-f", "%{family[0]}", font]);
        let family = Some(family.trim().to_string()).filter(|f| !f.is_empty());
        let mut matches = self.matches.lock().expect("font matches");
        matches.insert(font.into(), family.clone());
        family
    }

    /// What `tool` prints with `args`; nothing if it cannot run, which
    /// leaves the report without what it would have said.
    fn ask(&self, tool: &str, args: &[&str]) -> String {
        let out = (self.tool)(tool).args(args).output();
        match out {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
            Ok(out) => {
                let said = String::from_utf8_lossy(&out.stderr);
                tracing::warn!(tool, status = %out.status, stderr = %said.trim(), "a font tool failed: the fidelity report may be incomplete");
                String::new()
            }
            Err(error) => {
                tracing::warn!(tool, %error, "a font tool could not run: the fidelity report may be incomplete");
                String::new()
            }
        }
    }
}
