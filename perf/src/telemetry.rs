//! A client of DPDK's telemetry socket (`dpdk_telemetry.v2` in the tool's
//! runtime directory; the protocol `dpdk-telemetry.py` speaks): one
//! SOCK_SEQPACKET connection, a command per message, a JSON object per
//! answer. Used by the soak to read vfex's `/vfex/...` counters and
//! `/ethdev/stats` while it forwards, without a Python process per sample.

use anyhow::{Context, Result, bail};
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, setsockopt, sockopt,
};
use nix::sys::time::TimeVal;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The socket of the DPDK process with file prefix `prefix`.
pub fn socket_path(prefix: &str) -> PathBuf {
    crate::sys::runtime_dir(prefix).join("dpdk_telemetry.v2")
}

/// One connection.
pub struct Telemetry {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Telemetry {
    /// Connects to `path` and reads the greeting.
    pub fn connect(path: &Path) -> Result<Telemetry> {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .context("telemetry socket")?;
        let tv = TimeVal::new(2, 0);
        setsockopt(&fd, sockopt::ReceiveTimeout, &tv).context("telemetry socket timeout")?;
        let addr = UnixAddr::new(path).context("telemetry socket path")?;
        socket::connect(fd.as_raw_fd(), &addr)
            .with_context(|| format!("connecting to {}", path.display()))?;
        let mut t = Telemetry {
            fd,
            buf: vec![0; 1 << 16],
        };
        let hello = t.recv()?;
        if hello.get("version").is_none() {
            bail!("{}: not a DPDK telemetry socket: {hello}", path.display());
        }
        Ok(t)
    }

    /// Connects to the socket of `prefix`, retrying until `timeout`.
    pub fn connect_prefix(prefix: &str, timeout: std::time::Duration) -> Result<Telemetry> {
        let path = socket_path(prefix);
        let end = std::time::Instant::now() + timeout;
        loop {
            match Telemetry::connect(&path) {
                Ok(t) => return Ok(t),
                Err(e) if std::time::Instant::now() >= end => return Err(e),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }

    fn recv(&mut self) -> Result<serde_json::Value> {
        let n = socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())
            .context("reading the telemetry socket")?;
        if n == 0 {
            bail!("the telemetry socket closed");
        }
        serde_json::from_slice(&self.buf[..n]).context("telemetry answer is not JSON")
    }

    /// Runs `cmd` (e.g. `/ethdev/stats,0`) and returns its value (the
    /// answer is `{"/ethdev/stats": value}`).
    pub fn query(&mut self, cmd: &str) -> Result<serde_json::Value> {
        socket::send(self.fd.as_raw_fd(), cmd.as_bytes(), MsgFlags::empty())
            .with_context(|| format!("sending {cmd}"))?;
        let v = self.recv()?;
        let key = cmd.split(',').next().unwrap_or(cmd);
        match v.get(key) {
            Some(x) if !x.is_null() => Ok(x.clone()),
            _ => bail!("{cmd}: {v}"),
        }
    }
}
