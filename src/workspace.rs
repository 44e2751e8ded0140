//! The temp space, in one place. Each process of ours works in one directory,
//! `$TMPDIR/docx2pdf-<pid>-<random>`: `slots/` holds the supervised
//! processes' scratch (profiles, temp files, request directories) and
//! `jobs/` a directory per job (the download and the PDF), and `fonts/` the
//! deployment's own fonts (`FONTS`), if it brought any. Everything goes
//! when the workspace is dropped; what a process killed with -9 left behind
//! goes when the next one starts.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Work directories are named `docx2pdf-<pid>-<random>`.
const PREFIX: &str = "docx2pdf-";

pub struct Workspace {
    jobs: PathBuf,
    fonts: PathBuf,
    slots: PathBuf,
    /// Removed, with everything in it, when the workspace is dropped.
    _root: tempfile::TempDir,
}

impl Workspace {
    /// A new work directory in the system's temp directory (`TMPDIR`).
    pub fn create() -> anyhow::Result<Workspace> {
        Workspace::create_in(&std::env::temp_dir())
    }

    /// A new work directory in `tmp`, after removing those of dead processes there.
    pub fn create_in(tmp: &Path) -> anyhow::Result<Workspace> {
        remove_stale(tmp);
        let root = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir_in(tmp)
            .with_context(|| {
                format!(
                    "creating a work directory in {} (is TMPDIR writable?)",
                    tmp.display()
                )
            })?;
        let jobs = root.path().join("jobs");
        let slots = root.path().join("slots");
        std::fs::create_dir(&jobs)?;
        std::fs::create_dir(&slots)?;
        Ok(Workspace {
            fonts: root.path().join("fonts"),
            jobs,
            slots,
            _root: root,
        })
    }

    /// A new directory for one job's files, removed when dropped.
    pub fn job_dir(&self) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&self.jobs)
    }

    /// Where jobs' files are, each in a directory of its own: none is
    /// within reach of a supervised process. A sibling of `slots()`, so on
    /// its file system: a file made here moves into a slot by a rename.
    pub fn jobs(&self) -> &Path {
        &self.jobs
    }

    /// Where the deployment's fonts go: apart from the slots, which read
    /// it and write nothing there.
    pub fn fonts(&self) -> &Path {
        &self.fonts
    }

    /// Where supervised processes get their scratch directories.
    pub fn slots(&self) -> &Path {
        &self.slots
    }

    #[cfg(test)]
    fn path(&self) -> &Path {
        self._root.path()
    }
}

/// A process killed with -9 cannot remove its work directory: the next one
/// to start removes those whose process is gone. A reused pid only keeps a
/// stale directory a while longer.
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(dir = %entry.path().display(), "removed the work directory of a process that died")
                }
                Err(error) => {
                    tracing::warn!(dir = %entry.path().display(), %error, "could not remove a stale work directory")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_directories_live_inside_the_workspace_and_go_with_it() {
        let tmp = tempfile::tempdir().unwrap();
        let workspace = Workspace::create_in(tmp.path()).unwrap();
        let job = workspace.job_dir().unwrap();
        assert!(job.path().starts_with(workspace.path()));
        assert!(workspace.slots().starts_with(workspace.path()));
        let root = workspace.path().to_owned();
        drop(job);
        drop(workspace);
        assert!(!root.exists());
    }

    #[test]
    fn a_dead_process_work_directory_is_removed_and_a_live_one_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // No process has pid 0 in /proc; this one is alive.
        let dead = tmp.path().join(format!("{PREFIX}0-abc"));
        let alive = tmp
            .path()
            .join(format!("{PREFIX}{}-abc", std::process::id()));
        let other = tmp.path().join("docx2pdf-notes");
        for dir in [&dead, &alive, &other] {
            std::fs::create_dir(dir).unwrap();
        }
        let _workspace = Workspace::create_in(tmp.path()).unwrap();
        assert!(!dead.exists());
        assert!(alive.exists());
        assert!(other.exists());
    }
}
