//! The user profile every LibreOffice process starts with.
//!
//! Profiles are never shared (processes sharing one lose documents), so each
//! process starts from an empty one. An empty profile makes LibreOffice think
//! it was just upgraded, and after an upgrade it runs its graphics
//! self-tests: about 70% of a process's start-up (perf showed
//! GraphicsRenderTests::run). The seed records a last-run version no release
//! will reach, so that check is false whatever LibreOffice is installed.
//! It also switches macros off, on top of LibreOfficeKit never running them.

use std::path::Path;

const REGISTRY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/Product"><prop oor:name="ooSetupLastVersion" oor:op="fuse"><value>99.9</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"#;

/// Seeds the profile whose `user` directory is `user_dir`, unless it exists.
pub fn seed(user_dir: &Path) -> std::io::Result<()> {
    let registry = user_dir.join("registrymodifications.xcu");
    if registry.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(user_dir)?;
    std::fs::write(registry, REGISTRY)
}
