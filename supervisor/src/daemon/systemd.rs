//! The two bits of systemd's service protocol jaild speaks: socket activation (sd_listen_fds)
//! and notifications (sd_notify: READY=1, WATCHDOG=1, STOPPING=1).
//!
//! Both are hand-written: each is a few lines over a documented, stable protocol (environment
//! variables and fd 3; one datagram to $NOTIFY_SOCKET), and the crates for them either link
//! libsystemd or bring more than they save. Without systemd (no LISTEN_PID, no NOTIFY_SOCKET)
//! both do nothing.

use std::os::fd::OwnedFd;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};
use std::time::Duration;

/// The first fd systemd passes (SD_LISTEN_FDS_START).
const LISTEN_FDS_START: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("LISTEN_FDS={value} is not a number of file descriptors")]
    BadCount { value: String },
    #[error("systemd passed {count} sockets; jaild listens on exactly one (ListenStream= once in jaild.socket)")]
    Count { count: usize },
    #[error("the socket systemd passed (fd 3) is not a listening Unix stream socket")]
    NotUnixStream(#[source] nix::Error),
    #[error("failed to prepare the socket systemd passed (fd 3)")]
    Setup(#[source] std::io::Error),
}

/// The listening socket systemd passed, if this process was socket-activated. Must be called
/// before any thread exists (it clears the LISTEN_* variables so no child inherits them).
pub fn listener_from_systemd() -> Result<Option<UnixListener>, ActivationError> {
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let (true, Some(count)) = (ours, count) else { return Ok(None) };
    let n: usize = count.parse().map_err(|_| ActivationError::BadCount { value: count.clone() })?;
    if n != 1 {
        return Err(ActivationError::Count { count: n });
    }
    #[allow(unsafe_code)]
    // SAFETY: LISTEN_PID names this process, so by the sd_listen_fds(3) protocol fd 3 is an
    // open socket systemd handed to it, and nothing else in the process has taken ownership
    // of it (this runs once, first thing, and the variables are cleared above).
    let fd: OwnedFd = unsafe { super::sys::take_inherited_fd(LISTEN_FDS_START) };
    let accepting = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::AcceptConn)
        .map_err(ActivationError::NotUnixStream)?;
    let kind = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::SockType)
        .map_err(ActivationError::NotUnixStream)?;
    // Fails unless the socket is AF_UNIX.
    let _: nix::sys::socket::UnixAddr =
        nix::sys::socket::getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(ActivationError::NotUnixStream)?;
    if !accepting || kind != nix::sys::socket::SockType::Stream {
        return Err(ActivationError::NotUnixStream(nix::Error::ENOTSOCK));
    }
    // systemd passes it without FD_CLOEXEC; no jail may inherit it.
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
        .map_err(|e| ActivationError::Setup(e.into()))?;
    let listener = UnixListener::from(fd);
    listener.set_nonblocking(true).map_err(ActivationError::Setup)?;
    Ok(Some(listener))
}

/// Where to send notifications ($NOTIFY_SOCKET), if systemd asked for them.
#[derive(Debug, Clone)]
pub struct Notifier {
    addr: Option<SocketAddr>,
}

impl Notifier {
    /// Reads $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace) and clears it so
    /// jails never see it.
    pub fn from_env() -> Notifier {
        let path = std::env::var_os("NOTIFY_SOCKET");
        std::env::remove_var("NOTIFY_SOCKET");
        let addr = path.and_then(|p| {
            let bytes = p.as_encoded_bytes();
            match bytes.strip_prefix(b"@") {
                Some(name) => <SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name).ok(),
                None => SocketAddr::from_pathname(&p).ok(),
            }
        });
        Notifier { addr }
    }

    /// Sends one notification ("READY=1", ...); failures are logged, never fatal.
    pub fn notify(&self, state: &str) {
        let Some(addr) = &self.addr else { return };
        let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(state.as_bytes(), addr));
        if let Err(e) = sent {
            tracing::warn!(state, error = %e, "sd_notify failed");
        }
    }
}

/// How often to send WATCHDOG=1: half of $WATCHDOG_USEC, when the watchdog is on for this
/// process.
pub fn watchdog_interval() -> Option<Duration> {
    let for_us = std::env::var("WATCHDOG_PID").ok().is_none_or(|p| p.parse::<u32>().ok() == Some(std::process::id()));
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    std::env::remove_var("WATCHDOG_USEC");
    std::env::remove_var("WATCHDOG_PID");
    (for_us && usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn notify_sends_one_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier { addr: Some(SocketAddr::from_pathname(&path).unwrap()) };
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        // No socket: nothing happens.
        Notifier { addr: None }.notify("READY=1");
    }
}
