//! What a child holds in files, as the kernel counts it.
//!
//! On Cloud Run the file system is memory, so a child's files are bounded
//! like its memory: the blocks of every file in its scratch directory (its
//! profile, temp files and request directory), plus the files it deleted
//! but keeps open and its memory files (`memfd`), which no directory shows
//! but which hold memory all the same. Links are not followed: a file is
//! counted where it is, once.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a child holds in files, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Held {
    pub(super) total: u64,
    /// Of which below the top-level entry set aside (the request directory,
    /// emptied before the next request anyway).
    pub(super) aside: u64,
}

impl Held {
    /// What is held outside the entry set aside.
    pub(super) fn outside(self) -> u64 {
        self.total - self.aside
    }
}

/// What the child `pid` whose scratch is `dir` holds in files, counting
/// apart what is below `dir`'s top-level entry `aside`, in one walk.
pub(super) fn held(dir: &Path, aside: Option<&OsStr>, pid: Option<u32>) -> Held {
    let mut held = tree_bytes(dir, aside);
    held.total += pid.map_or(0, unlinked_open_bytes);
    held
}

/// Blocks of the regular files below `dir`, in bytes. Directories are told
/// by the entry's type, which reading the directory gives: only files are
/// asked for their size.
fn tree_bytes(dir: &Path, aside: Option<&OsStr>) -> Held {
    let mut held = Held::default();
    let mut dirs: Vec<(PathBuf, bool)> = vec![(dir.to_owned(), false)];
    let mut top = true;
    while let Some((dir, set_aside)) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let set_aside = set_aside || (top && aside.is_some_and(|a| entry.file_name() == a));
            // The entry's own type: a link is never followed.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push((entry.path(), set_aside));
            } else if kind.is_file()
                && let Ok(metadata) = entry.metadata()
            {
                let bytes = metadata.blocks() * 512;
                held.total += bytes;
                if set_aside {
                    held.aside += bytes;
                }
            }
        }
        top = false;
    }
    held
}

/// Bytes `pid` has written with write calls over its life, children it
/// reaped included (`wchar` of /proc/PID/io); None where it cannot be read.
pub(super) fn written(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|bytes| bytes.trim().parse().ok())
}

/// Blocks of the regular files `pid` holds open that no longer have a name
/// (deleted files, memory files), in bytes.
fn unlinked_open_bytes(pid: u32) -> u64 {
    let fds = Path::new("/proc").join(pid.to_string()).join("fd");
    let Ok(entries) = std::fs::read_dir(&fds) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                target
                    .as_os_str()
                    .as_encoded_bytes()
                    .ends_with(b" (deleted)")
            })
        })
        // Through the descriptor's link to the open file itself.
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.blocks() * 512)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn files_below_are_counted_and_those_set_aside_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/file"), vec![1u8; 1 << 20]).unwrap();
        std::fs::create_dir(dir.path().join("request")).unwrap();
        std::fs::write(dir.path().join("request/input"), vec![1u8; 1 << 20]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let all = held(dir.path(), None, None).total;
        assert!((2 << 20..(2 << 20) + (64 << 10)).contains(&all), "{all}");
        let split = held(dir.path(), Some(OsStr::new("request")), None);
        assert_eq!(split.total, all);
        let outside = split.outside();
        assert!(
            (1 << 20..(1 << 20) + (64 << 10)).contains(&outside),
            "{outside}"
        );
    }

    #[test]
    fn what_a_process_writes_is_counted() {
        let before = written(std::process::id()).expect("/proc/self/io");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("out"), vec![1u8; 1 << 20]).unwrap();
        let after = written(std::process::id()).unwrap();
        assert!(after - before >= 1 << 20, "{before} -> {after}");
    }

    #[test]
    fn a_deleted_file_held_open_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&vec![1u8; 4 << 20]).unwrap();
        std::fs::remove_file(&path).unwrap();
        let held_now = held(dir.path(), None, Some(std::process::id())).total;
        assert!(held_now >= 4 << 20, "{held_now}");
        drop(file);
    }
}
