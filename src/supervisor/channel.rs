//! The child's side of the protocol: newline-delimited JSON, one request
//! line in on stdin, one reply line out, after a `ready` line.

use std::io::{BufRead, Write};
use std::os::fd::{AsFd, AsRawFd};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::READY;

/// The child's end of the protocol.
pub struct ChildChannel {
    requests: std::io::StdinLock<'static>,
    replies: std::fs::File,
}

impl ChildChannel {
    /// Takes over stdin and stdout for the protocol. Whatever else the
    /// process prints to stdout (libraries do) goes to stderr instead, so it
    /// can never corrupt a reply.
    pub fn open() -> std::io::Result<ChildChannel> {
        let stdout = std::io::stdout();
        let protocol = stdout.as_fd().try_clone_to_owned()?;
        // SAFETY: both descriptors are open for the life of the process.
        if unsafe { libc::dup2(std::io::stderr().as_raw_fd(), stdout.as_raw_fd()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ChildChannel {
            requests: std::io::stdin().lock(),
            replies: std::fs::File::from(protocol),
        })
    }

    pub fn ready(&mut self) -> std::io::Result<()> {
        writeln!(self.replies, "{READY}")
    }

    /// The next request, or `None` when the supervisor closed the pipe.
    pub fn next_request<Req: DeserializeOwned>(&mut self) -> std::io::Result<Option<Req>> {
        let mut line = String::new();
        if self.requests.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn reply<Resp: Serialize>(&mut self, reply: &Resp) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(reply)?;
        line.push(b'\n');
        self.replies.write_all(&line)
    }
}
