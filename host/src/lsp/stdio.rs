//! The process's stdin and stdout as streams the async runtime polls
//! directly.
//!
//! tokio's `stdin()` and `stdout()` run every read and write on a
//! blocking-pool thread, so each message costs two thread hand-offs each
//! way; on an idle machine those wake-ups are most of a request's latency.
//! Pipes and Unix sockets (what editors start language servers with) are
//! switched to non-blocking mode and registered with the reactor instead;
//! anything else (a terminal, a file) gets tokio's.

use tokio::io::{AsyncRead, AsyncWrite};

/// The server's input.
pub type Input = Box<dyn AsyncRead + Unpin + Send>;
/// The server's output.
pub type Output = Box<dyn AsyncWrite + Unpin + Send>;

/// Standard input. Must be called inside the runtime.
pub fn stdin() -> Input {
    #[cfg(unix)]
    if let Some(input) = unix::stdin() {
        return input;
    }
    Box::new(tokio::io::stdin())
}

/// Standard output. Must be called inside the runtime.
pub fn stdout() -> Output {
    #[cfg(unix)]
    if let Some(output) = unix::stdout() {
        return output;
    }
    Box::new(tokio::io::stdout())
}

#[cfg(unix)]
mod unix {
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::os::unix::fs::FileTypeExt;

    use tokio::net::UnixStream;
    use tokio::net::unix::pipe;

    use super::{Input, Output};

    enum Kind {
        Pipe,
        Socket,
    }

    /// A duplicate of `fd` and what it is, when the reactor can poll it.
    fn polled(fd: BorrowedFd<'_>) -> Option<(OwnedFd, Kind)> {
        let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
        let file_type = file.metadata().ok()?.file_type();
        let kind = if file_type.is_fifo() {
            Kind::Pipe
        } else if file_type.is_socket() {
            Kind::Socket
        } else {
            return None;
        };
        Some((OwnedFd::from(file), kind))
    }

    fn socket(fd: OwnedFd) -> Option<UnixStream> {
        let socket = std::os::unix::net::UnixStream::from(fd);
        socket.set_nonblocking(true).ok()?;
        UnixStream::from_std(socket).ok()
    }

    pub fn stdin() -> Option<Input> {
        match polled(std::io::stdin().as_fd())? {
            (fd, Kind::Pipe) => Some(Box::new(pipe::Receiver::from_owned_fd(fd).ok()?)),
            (fd, Kind::Socket) => Some(Box::new(socket(fd)?)),
        }
    }

    pub fn stdout() -> Option<Output> {
        match polled(std::io::stdout().as_fd())? {
            (fd, Kind::Pipe) => Some(Box::new(pipe::Sender::from_owned_fd(fd).ok()?)),
            (fd, Kind::Socket) => Some(Box::new(socket(fd)?)),
        }
    }
}
