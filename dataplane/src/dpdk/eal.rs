//! EAL: initialised once per process from an argument list.

use super::{Error, Result, errno_error};
use std::ffi::{CString, c_char, c_int};
use std::sync::atomic::{AtomicU8, Ordering};

const UNINIT: u8 = 0;
const INITIALIZING: u8 = 1;
const UP: u8 = 2;
const CLEANED: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(UNINIT);

/// Held (read) by whatever frees EAL memory outside an [`Eal`] borrow
/// ([`super::Acl`]: its contexts live in tables that any thread may drop
/// last), and (write) by `rte_eal_cleanup`: a free never runs during or
/// after the clean-up.
static ALIVE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A guard under which EAL stays up, or `None` if it is not up (never
/// initialised, or cleaned up).
pub(crate) fn while_up() -> Option<std::sync::RwLockReadGuard<'static, ()>> {
    let g = ALIVE.read().unwrap_or_else(|e| e.into_inner());
    (STATE.load(Ordering::Acquire) == UP).then_some(g)
}

/// Proof that EAL is up. Pools and ports borrow it, so they cannot outlive
/// `rte_eal_cleanup`, which runs when the token is dropped.
#[derive(Debug)]
pub struct Eal {
    /// How many arguments EAL consumed (as `rte_eal_init` returns).
    consumed: usize,
    /// Whether `rte_pdump_init` succeeded (undone before clean-up).
    pdump: std::sync::atomic::AtomicBool,
}

impl Eal {
    /// Initialises EAL with `args` (EAL options only, without the program
    /// name, e.g. `["--no-huge", "-m", "512", "--vdev", "net_null0"]`).
    ///
    /// Runs at most once per process: a second call returns
    /// [`Error::AlreadyInitialized`], a call after clean-up [`Error::CleanedUp`].
    /// The thread that calls this becomes the main lcore.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        match STATE.compare_exchange(UNINIT, INITIALIZING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {}
            Err(CLEANED) => return Err(Error::CleanedUp),
            Err(_) => return Err(Error::AlreadyInitialized),
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("vfex").expect("static name"));
        for a in args {
            match CString::new(a.as_ref()) {
                Ok(c) => owned.push(c),
                Err(_) => {
                    STATE.store(UNINIT, Ordering::Release);
                    return Err(Error::InvalidArgument(format!(
                        "EAL argument {:?} contains a NUL byte",
                        a.as_ref()
                    )));
                }
            }
        }
        // EAL may keep pointers into argv (it parses in place and reorders),
        // so the strings live for the rest of the process.
        let owned: &'static [CString] = Vec::leak(owned);
        let argv: &'static mut [*mut c_char] =
            Vec::leak(owned.iter().map(|c| c.as_ptr().cast_mut()).collect());
        let argc = c_int::try_from(argv.len())
            .map_err(|_| Error::InvalidArgument("too many EAL arguments".into()))?;
        // SAFETY: argc/argv describe valid NUL-terminated strings that live
        // forever; the state machine above guarantees one call per process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            let err = errno_error(format!("rte_eal_init({})", join_args(args)));
            // EAL cannot be re-initialised after a failed init either
            // (rte_eal_init marks itself run before parsing).
            STATE.store(CLEANED, Ordering::Release);
            return Err(match err {
                Error::Dpdk { op, errno, msg } => Error::Dpdk {
                    op,
                    errno,
                    msg: format!("{msg}; see EAL's message above"),
                },
                e => e,
            });
        }
        STATE.store(UP, Ordering::Release);
        Ok(Eal {
            pdump: Default::default(),
            consumed: ret as usize,
        })
    }

    /// Whether EAL is up in this process.
    pub fn is_initialized() -> bool {
        STATE.load(Ordering::Acquire) == UP
    }

    /// How many of the arguments EAL consumed.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Creates a virtual device at run time (`rte_vdev_init`), e.g.
    /// `("net_ring_t1", "")` or `("net_pcap0", "rx_pcap=in.pcap,tx_pcap=out.pcap")`.
    pub fn vdev_init(&self, name: &str, args: &str) -> Result<()> {
        let n = cstring(name)?;
        let a = cstring(args)?;
        // SAFETY: both pointers are valid NUL-terminated strings for the call.
        let ret = unsafe { dpdk_sys::rte_vdev_init(n.as_ptr(), a.as_ptr()) };
        super::check(ret, || format!("rte_vdev_init({name}, {args:?})")).map(|_| ())
    }

    /// Removes a virtual device created with [`Eal::vdev_init`]. Its port
    /// must be closed first (dropping the [`super::Port`] does that).
    pub fn vdev_uninit(&self, name: &str) -> Result<()> {
        let n = cstring(name)?;
        // SAFETY: valid NUL-terminated string for the duration of the call.
        let ret = unsafe { dpdk_sys::rte_vdev_uninit(n.as_ptr()) };
        super::check(ret, || format!("rte_vdev_uninit({name})")).map(|_| ())
    }

    /// The main lcore (the thread that called [`Eal::init`]).
    pub fn main_lcore(&self) -> super::LcoreId {
        // SAFETY: plain query of EAL configuration, valid once EAL is up.
        super::LcoreId(unsafe { dpdk_sys::rte_get_main_lcore() })
    }

    /// The CPU an lcore runs on: the first of its cpuset (with `--lcores`
    /// mappings such as `0@1,1@0`, lcore ids and CPU ids differ).
    pub fn lcore_cpu(&self, lcore: super::LcoreId) -> usize {
        // SAFETY: plain query of EAL configuration; the shim checks the id
        // against RTE_MAX_LCORE before it reads the lcore's cpuset.
        let cpu = unsafe { dpdk_sys::vfex_lcore_first_cpu(lcore.0) };
        usize::try_from(cpu).unwrap_or(lcore.0 as usize)
    }

    /// Enabled worker lcores (every enabled lcore but the main one), ascending.
    pub fn worker_lcores(&self) -> Vec<super::LcoreId> {
        let mut v = Vec::new();
        let mut id: u32 = u32::MAX; // -1: start from the first lcore
        loop {
            // SAFETY: plain query of EAL configuration; skip_main=1, wrap=0.
            id = unsafe { dpdk_sys::rte_get_next_lcore(id, 1, 0) };
            if id >= dpdk_sys::RTE_MAX_LCORE {
                break;
            }
            v.push(super::LcoreId(id));
        }
        v
    }

    /// Number of enabled lcores, main included.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: plain query of EAL configuration.
        unsafe { dpdk_sys::rte_lcore_count() }
    }

    /// Number of ethdev ports available (probed and not owned).
    pub fn port_count(&self) -> u16 {
        // SAFETY: plain query of the ethdev table.
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }

    /// Ids of all available ports, ascending.
    pub fn port_ids(&self) -> Vec<super::PortId> {
        let mut v = Vec::new();
        // SAFETY: rte_eth_find_next walks the ethdev table; RTE_MAX_ETHPORTS ends it.
        let mut p = unsafe { dpdk_sys::rte_eth_find_next(0) };
        while u32::from(p) < dpdk_sys::RTE_MAX_ETHPORTS {
            v.push(super::PortId(p));
            // SAFETY: as above.
            p = unsafe { dpdk_sys::rte_eth_find_next(p + 1) };
        }
        v
    }

    /// DPDK's version string, e.g. "DPDK 22.11.11".
    pub fn version() -> String {
        // SAFETY: rte_version returns a pointer to a static string.
        unsafe { std::ffi::CStr::from_ptr(dpdk_sys::rte_version()) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Eal {
    /// Lets `dpdk-dumpcap` (and `dpdk-pdump`) capture any port of this
    /// process (`rte_pdump_init`). Needs multi-process: it fails when EAL
    /// runs `--in-memory`, `--no-shconf` or `--no-huge` (secondaries cannot
    /// attach), with an error that says so.
    pub fn enable_capture(&self) -> Result<()> {
        if self.pdump.load(Ordering::Acquire) {
            return Ok(());
        }
        // SAFETY: EAL is initialised (this token exists).
        let ret = unsafe { dpdk_sys::rte_pdump_init() };
        if ret < 0 {
            return Err(super::errno_error(
                "rte_pdump_init (capture needs hugepages without --in-memory/--no-shconf)".into(),
            ));
        }
        self.pdump.store(true, Ordering::Release);
        Ok(())
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        if *self.pdump.get_mut() {
            // SAFETY: pdump was initialised by this token and no port is
            // alive any more.
            unsafe { dpdk_sys::rte_pdump_uninit() };
        }
        // No free outside a borrow of this token runs from here on.
        let _alive = ALIVE.write().unwrap_or_else(|e| e.into_inner());
        // SAFETY: every pool, port and lcore scope borrows this token, so none
        // is alive any more; EAL was initialised by this token.
        unsafe { dpdk_sys::rte_eal_cleanup() };
        STATE.store(CLEANED, Ordering::Release);
    }
}

pub(crate) fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidArgument(format!("{s:?} contains a NUL byte")))
}

fn join_args<S: AsRef<str>>(args: &[S]) -> String {
    args.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}
