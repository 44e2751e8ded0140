//! The user profile every LibreOffice process starts with.
//!
//! Profiles are never shared (processes sharing one lose documents), so each
//! process starts from an empty one. An empty profile makes LibreOffice think
//! it was just upgraded, and after an upgrade it runs its graphics
//! self-tests: about 70% of a process's start-up (perf showed
//! GraphicsRenderTests::run). The seed records a last-run version no release
//! will reach, so that check is false whatever LibreOffice is installed.
//! It also switches macros off, on top of LibreOfficeKit never running them,
//! and has Writer, Calc and Impress drop a document's VBA code instead of
//! importing it as runnable Basic (each application's default, each with
//! its own setting; tested with a .docm, an .xlsm and a .pptm).

use std::path::{Path, PathBuf};

const REGISTRY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/Product"><prop oor:name="ooSetupLastVersion" oor:op="fuse"><value>99.9</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Filter/Import/VBA"><prop oor:name="Load" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Filter/Import/VBA"><prop oor:name="Executable" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Filter/Import/VBA"><prop oor:name="Load" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Filter/Import/VBA"><prop oor:name="Executable" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Impress/Filter/Import/VBA"><prop oor:name="Load" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"#;

/// The `user` directory of the profile of the process whose scratch is
/// `scratch` (its HOME is `scratch/home`, where LibreOfficeKit puts it).
pub fn user_dir(scratch: &Path) -> PathBuf {
    scratch.join("home/.config/libreoffice/4/user")
}

/// Why the process whose scratch is `scratch` must not convert another
/// document. LibreOffice unpacks a document's embedded fonts into the
/// profile and keeps them loaded after the document is closed, even once
/// their files are gone: the next document would be set in them, and
/// their bytes would stay in the scratch.
pub fn unfit(scratch: &Path) -> Option<&'static str> {
    let fonts = user_dir(scratch).join("temp/embeddedfonts/fromdocs");
    let loaded = std::fs::read_dir(fonts).is_ok_and(|mut entries| entries.next().is_some());
    loaded.then_some("it loaded a document's embedded fonts")
}

/// Seeds the profile whose `user` directory is `user_dir`, unless it exists.
pub fn seed(user_dir: &Path) -> std::io::Result<()> {
    let registry = user_dir.join("registrymodifications.xcu");
    if registry.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(user_dir)?;
    std::fs::write(registry, REGISTRY)
}
