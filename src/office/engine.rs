//! What makes our PDFs, as one name: LibreOffice's version, ours, and the
//! fonts (the stand-in table and the font files installed). The content
//! cache keys on it, so that PDFs made by one engine are never handed out
//! by another.

use anyhow::Context;

use super::fidelity::substitutes;

/// `lo25.2.3.2-docx2pdf0.1.0-fonts1a2b3c4d`, and `-own<digest>` when the
/// deployment brought fonts of its own (`own`, their digest).
pub fn identity(own: Option<&str>) -> anyhow::Result<String> {
    let program =
        libreofficekit::Office::find_install_path().context("LibreOffice is not installed")?;
    let registry = program.join("../share/registry/main.xcd");
    let text = std::fs::read_to_string(&registry)
        .with_context(|| format!("reading LibreOffice's version from {}", registry.display()))?;
    let version = about_box_version(&text)
        .with_context(|| format!("{} names no version", registry.display()))?;
    let fonts = crc32c::crc32c_append(
        crc32c::crc32c(substitutes::CONFIG.as_bytes()),
        installed_fonts().as_bytes(),
    );
    let own = own
        .map(|digest| format!("-own{digest}"))
        .unwrap_or_default();
    Ok(format!(
        "lo{version}-docx2pdf{}-fonts{fonts:08x}{own}",
        env!("CARGO_PKG_VERSION"),
    ))
}

/// Where Debian's packages and a deployment put font files.
const FONT_DIRS: [&str; 2] = ["/usr/share/fonts", "/usr/local/share/fonts"];

/// Every font file installed, by path and size, one per line, sorted: a
/// font added, removed or upgraded changes it.
fn installed_fonts() -> String {
    let mut files = Vec::new();
    let mut dirs: Vec<std::path::PathBuf> = FONT_DIRS.iter().map(Into::into).collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => dirs.push(entry.path()),
                Ok(meta) => files.push(format!("{}\t{}\n", entry.path().display(), meta.len())),
                Err(_) => {}
            }
        }
    }
    files.sort();
    files.concat()
}

/// The full version (`25.2.3.2`) LibreOffice's configuration gives its About box.
fn about_box_version(registry: &str) -> Option<&str> {
    let prop = registry.find(r#"oor:name="ooSetupVersionAboutBox">"#)?;
    let rest = &registry[prop..];
    let start = rest.find("<value>")? + "<value>".len();
    let end = start + rest[start..].find("</value>")?;
    let version = rest[start..end].trim();
    let plausible = !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.');
    plausible.then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_the_property_not_its_schema() {
        let registry = r#"<prop oor:name="ooSetupVersionAboutBox" oor:type="xs:string"><info>the complete version</info></prop>
            <prop oor:name="ooSetupVersion"><value>25.2</value></prop>
            <prop oor:name="ooSetupVersionAboutBox">
              <value>25.2.3.2</value>
            </prop>"#;
        assert_eq!(about_box_version(registry), Some("25.2.3.2"));
        assert_eq!(about_box_version("<oor:items/>"), None);
    }

    #[test]
    fn this_machines_engine_has_a_name() {
        let identity = identity(None).expect("LibreOffice installed (./dev/setup)");
        assert!(identity.starts_with("lo25.2."), "{identity}");
        assert!(identity.contains("-docx2pdf"), "{identity}");
        let own = super::identity(Some("0badf00d")).unwrap();
        assert_eq!(own, format!("{identity}-own0badf00d"), "another engine");
    }
}
