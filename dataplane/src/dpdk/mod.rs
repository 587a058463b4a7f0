//! The safe DPDK layer: the only module of the workspace that uses `dpdk-sys`.
//!
//! What it promises:
//! - [`Eal`] is initialised at most once per process; a second [`Eal::init`]
//!   is an [`Error::AlreadyInitialized`], never a crash. Everything that needs
//!   EAL borrows the [`Eal`] token, so the borrow checker keeps pools and ports
//!   from outliving `rte_eal_cleanup`.
//! - An [`Mbuf`] has exactly one owner: it is `Send`, not `Clone`, and frees
//!   itself on drop. A [`Burst`] is a fixed-capacity array of mbufs that frees
//!   what it still holds.
//! - A port queue ([`RxQueue`], [`TxQueue`]) is handed out once; a worker that
//!   holds it is its only user, so the fast path needs no locks.
//! - Set-up calls turn negative errno / null into typed [`Error`]s; fast-path
//!   calls return counts.
//!
//! Every `unsafe` block says why it is sound in a `// SAFETY:` comment.

mod acl;
mod burst;
mod eal;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod ring;
pub mod telemetry;

pub use acl::{Acl, AclAlg, AclTuple};
pub use burst::Burst;
pub use eal::Eal;
pub use lcore::{LcoreId, Scope, ScopedJoinHandle, Tsc, lcore_id, rdtsc, tsc_hz};
pub use mbuf::{Mbuf, MbufError, SharedMbuf};
pub use mempool::{DEFAULT_DATA_ROOM, Mempool, PoolMonitor, PoolUsage};
pub use port::{LinkStatus, Port, PortConfig, PortId, PortStats, QueueId, RxQueue, TxQueue, Xstat};
pub use ring::VirtualWire;

use std::ffi::CStr;

/// Errors of the set-up API (the fast path counts instead of failing).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// `rte_eal_init` already ran in this process (it can run only once).
    #[error("EAL is already initialised in this process (rte_eal_init can run only once)")]
    AlreadyInitialized,
    /// EAL is not running in this process (not initialised yet, or
    /// cleaned up), and the call needs it.
    #[error("EAL is not running in this process")]
    NotRunning,
    /// `rte_eal_cleanup` ran; EAL cannot be initialised again in this process.
    #[error("EAL was cleaned up; it cannot be initialised again in this process")]
    CleanedUp,
    /// A DPDK call failed.
    #[error("{op}: {msg} (errno {errno})")]
    Dpdk {
        /// The call and its subject, e.g. `rte_eth_dev_configure(port 0)`.
        op: String,
        /// Positive errno value.
        errno: i32,
        /// `rte_strerror(errno)`.
        msg: String,
    },
    /// An argument was out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No port matched the given devargs or name.
    #[error("no DPDK port matches {0:?}")]
    NoSuchPort(String),
    /// The queue is already held by another owner.
    #[error("port {port} {dir} queue {queue} is already taken")]
    QueueTaken {
        /// Port id.
        port: u16,
        /// "rx" or "tx".
        dir: &'static str,
        /// Queue id.
        queue: u16,
    },
    /// The lcore is not a usable worker lcore.
    #[error("lcore {0} is not an enabled worker lcore (check -l/--lcores)")]
    BadLcore(u32),
    /// A closure launched on a worker lcore panicked.
    #[error("worker on lcore {0} panicked")]
    WorkerPanicked(u32),
}

/// Result of the set-up API.
pub type Result<T> = std::result::Result<T, Error>;

/// Text for a positive errno value, from `rte_strerror` (covers DPDK's own codes).
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string for any value; we copy it out immediately.
    unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// The current `rte_errno` of this thread.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads the calling thread's per-lcore errno through the shim.
    unsafe { dpdk_sys::vfex_errno() }
}

/// Turns a DPDK return value (negative errno on failure) into a `Result`.
pub(crate) fn check(ret: i32, op: impl FnOnce() -> String) -> Result<i32> {
    if ret >= 0 {
        Ok(ret)
    } else {
        let errno = -ret;
        Err(Error::Dpdk {
            op: op(),
            errno,
            msg: strerror(errno),
        })
    }
}

/// Error from `rte_errno` after a call that signalled failure with -1 or null.
pub(crate) fn errno_error(op: String) -> Error {
    let errno = rte_errno();
    Error::Dpdk {
        op,
        errno,
        msg: strerror(errno),
    }
}
