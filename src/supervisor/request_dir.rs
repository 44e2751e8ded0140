//! A request's directory inside a child's scratch, and the only ways the
//! supervisor's side touches what is in it.
//!
//! The child can write there, and a child running a document's exploit can
//! put anything there at any moment: a link to another file, a FIFO that
//! blocks whoever opens it, a file it keeps rewriting. So the directory is
//! held by a descriptor made when the directory was, and every file is
//! reached relative to it, never through a path the child could redirect:
//! files for the child are created new (never through a link), and what
//! the child leaves is opened without following a link or waiting on a
//! FIFO, and handed out only if it is a regular file of its own.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, openat, renameat};
use nix::sys::stat::{Mode, mkdirat};
use tokio::sync::oneshot;

/// The request directory's name in a scratch.
pub(super) const NAME: &str = "request";

/// A request's directory, new and empty for each request.
#[derive(Debug)]
pub struct RequestDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl RequestDir {
    /// Replaces the last request's directory in `scratch` (held as
    /// `scratch_fd`) with a new empty one: nothing of one request is left
    /// for the next.
    pub(super) fn renew(scratch: &Path, scratch_fd: &OwnedFd) -> std::io::Result<RequestDir> {
        let path = scratch.join(NAME);
        // Removes a link itself, never what it points to.
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        mkdirat(scratch_fd, NAME, Mode::S_IRWXU)?;
        let fd = openat(
            scratch_fd,
            NAME,
            OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(RequestDir { path, fd })
    }

    /// Where the child finds the directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new file `name` for the child to read, created by us: if anything
    /// is already there (a link the child planted), this fails.
    pub fn create(&self, name: &str) -> std::io::Result<File> {
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        Ok(File::from(openat(
            &self.fd,
            name,
            flags,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )?))
    }

    /// Moves our file at `from` into the directory as `name`, replacing
    /// whatever the child put there under that name (a link is replaced,
    /// not followed). `from` must be on the same file system, in a
    /// directory the child cannot write.
    pub fn adopt(&self, from: &Path, name: &str) -> std::io::Result<()> {
        Ok(renameat(AT_FDCWD, from, &self.fd, name)?)
    }

    /// The file `name` the child left, open for reading, if it is a regular
    /// file that no other name shares. Anything else (a link, a FIFO, a
    /// socket, a device, a hard link to another file) is `InvalidData`,
    /// saying what it is; opening it neither follows it nor blocks.
    pub fn open_written(&self, name: &str) -> std::io::Result<File> {
        let flags = OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        let file = match openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(Errno::ELOOP) => return Err(not_a_file(name, "a symbolic link")),
            Err(Errno::ENXIO) => return Err(not_a_file(name, "a socket")),
            Err(error) => return Err(error.into()),
        };
        let metadata = file.metadata()?;
        let kind = metadata.file_type();
        let odd = if kind.is_fifo() {
            Some("a FIFO")
        } else if kind.is_char_device() || kind.is_block_device() {
            Some("a device")
        } else if kind.is_socket() {
            Some("a socket")
        } else if !kind.is_file() {
            Some("not a file")
        } else if metadata.nlink() != 1 {
            Some("a hard link shared with another file")
        } else {
            None
        };
        match odd {
            Some(what) => Err(not_a_file(name, what)),
            None => Ok(file),
        }
    }
}

fn not_a_file(name: &str, what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{name} is {what}, not a regular file"),
    )
}

/// What the caller tells the slot when it hands the directory back.
#[derive(Debug)]
pub(super) enum Returned {
    /// The caller saw the child misbehave: its process is replaced.
    Condemned,
}

/// A request's directory, lent to the caller with the reply. The slot
/// takes no other request until this is dropped or condemned.
#[derive(Debug)]
pub struct LentDir {
    pub(super) dir: RequestDir,
    pub(super) returned: oneshot::Sender<Returned>,
}

impl LentDir {
    /// Hands the directory back and has the process that wrote it replaced:
    /// what it left shows it cannot be trusted with another request.
    pub fn condemn(self) {
        let _ = self.returned.send(Returned::Condemned);
    }
}

impl std::ops::Deref for LentDir {
    type Target = RequestDir;

    fn deref(&self) -> &RequestDir {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renewed(scratch: &tempfile::TempDir) -> RequestDir {
        let fd = nix::fcntl::open(scratch.path(), OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        RequestDir::renew(scratch.path(), &fd).unwrap()
    }

    /// A link the child planted where its input is to go: writing through
    /// the path would write the link's target (the control); `create`
    /// refuses, and the target is untouched.
    #[test]
    fn a_file_for_the_child_is_never_written_through_a_planted_link() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = renewed(&scratch);
        let victim = scratch.path().join("victim");
        std::fs::write(&victim, "the worker's").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input"), "through the link").unwrap();
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "through the link",
            "control"
        );
        std::fs::write(&victim, "the worker's").unwrap();
        assert!(dir.create("input").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the worker's");
    }

    #[test]
    fn what_the_child_left_is_opened_only_as_a_file_of_its_own() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = renewed(&scratch);
        std::fs::write(dir.path().join("made"), "%PDF-").unwrap();
        assert!(dir.open_written("made").is_ok());
        nix::unistd::mkfifo(&dir.path().join("fifo"), Mode::S_IRWXU).unwrap();
        let fifo = dir.open_written("fifo").unwrap_err();
        assert!(fifo.to_string().contains("a FIFO"), "{fifo}");
        std::os::unix::fs::symlink(dir.path().join("made"), dir.path().join("link")).unwrap();
        let link = dir.open_written("link").unwrap_err();
        assert!(link.to_string().contains("symbolic link"), "{link}");
    }
}
