//! Ethernet ports: attach, configure, start/stop, queues, stats.

use super::{Burst, Eal, Error, Mempool, Result, check, eal::cstring};
use dpdk_sys as sys;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// A DPDK ethdev port id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortId(pub u16);

/// A queue index on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId(pub u16);

impl std::fmt::Display for PortId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How to configure a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    /// Number of rx queues (RSS spreads flows over them when > 1).
    pub rx_queues: u16,
    /// Number of tx queues.
    pub tx_queues: u16,
    /// Rx descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Tx descriptors per queue (adjusted to the device's limits).
    pub tx_desc: u16,
    /// Promiscuous mode.
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            promiscuous: true,
        }
    }
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// Link up.
    pub up: bool,
    /// Speed in Mb/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Basic ethdev counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the device for lack of rx descriptors.
    pub imissed: u64,
    /// Erroneous packets received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Rx mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// One extended statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xstat {
    /// Name as the driver reports it.
    pub name: String,
    /// Value.
    pub value: u64,
}

/// An ethdev port, owned: dropping it stops and closes the port, and
/// removes the device if this handle attached it at run time.
///
/// `'a` is the lifetime of the EAL and of the mempool its rx queues use.
#[derive(Debug)]
pub struct Port<'a> {
    id: PortId,
    name: String,
    driver: String,
    max_rx_queues: u16,
    max_tx_queues: u16,
    nb_rx: u16,
    nb_tx: u16,
    started: bool,
    configured: bool,
    /// Set when `attach` probed the device, so drop removes it again.
    hotplugged: bool,
    rx_taken: AtomicU64,
    tx_taken: AtomicU64,
    _life: PhantomData<&'a Eal>,
}

impl<'a> Port<'a> {
    /// Attaches a device by devargs, probing it when needed (`rte_dev_probe`):
    /// a PCI address (`0000:03:00.1`, with optional `,key=val` args) or a
    /// virtual device (`net_ring0`, `net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap`).
    /// A device probed at start-up (`-a`/`--vdev`) is found and taken as is.
    pub fn attach(eal: &'a Eal, devargs: &str) -> Result<Port<'a>> {
        let c = cstring(devargs)?;
        // SAFETY: valid NUL-terminated devargs for the duration of the call.
        let ret = unsafe { sys::rte_dev_probe(c.as_ptr()) };
        let hotplugged = ret == 0;
        if ret < 0 && ret != -libc_eexist() {
            check(ret, || format!("rte_dev_probe({devargs})"))?;
        }
        let id = find_port(devargs)?;
        let mut p = Port::open(eal, id)?;
        p.hotplugged = hotplugged;
        Ok(p)
    }

    /// Takes a port that EAL probed at start-up, by id.
    pub fn open(_eal: &'a Eal, id: PortId) -> Result<Port<'a>> {
        // SAFETY: plain query of the ethdev table.
        if unsafe { sys::rte_eth_dev_is_valid_port(id.0) } == 0 {
            return Err(Error::NoSuchPort(format!("port {}", id.0)));
        }
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: valid port, `info` is a valid out-pointer.
        let ret = unsafe { sys::rte_eth_dev_info_get(id.0, &mut info) };
        check(ret, || format!("rte_eth_dev_info_get(port {id})"))?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name is a static NUL-terminated string of the PMD.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let mut buf = [0 as std::ffi::c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: buffer of RTE_ETH_NAME_MAX_LEN bytes as the API requires.
        let ret = unsafe { sys::rte_eth_dev_get_name_by_port(id.0, buf.as_mut_ptr()) };
        check(ret, || format!("rte_eth_dev_get_name_by_port({id})"))?;
        // SAFETY: DPDK NUL-terminated the name within the buffer.
        let name = unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        Ok(Port {
            id,
            name,
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            nb_rx: 0,
            nb_tx: 0,
            started: false,
            configured: false,
            hotplugged: false,
            rx_taken: AtomicU64::new(0),
            tx_taken: AtomicU64::new(0),
            _life: PhantomData,
        })
    }

    /// The port id.
    pub fn id(&self) -> PortId {
        self.id
    }

    /// The device name (e.g. `net_ring0`, `0000:03:00.1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PMD's driver name (e.g. `net_null`).
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// Configured rx queues.
    pub fn rx_queues(&self) -> u16 {
        self.nb_rx
    }

    /// Configured tx queues.
    pub fn tx_queues(&self) -> u16 {
        self.nb_tx
    }

    /// Whether the port is started.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Configures queues (stopping the port first if it runs). Rx queues take
    /// their mbufs from `pool`, which must outlive the port.
    pub fn configure(&mut self, pool: &'a Mempool<'_>, cfg: &PortConfig) -> Result<()> {
        if cfg.rx_queues == 0 || cfg.tx_queues == 0 {
            return Err(Error::InvalidArgument(format!(
                "port {} ({}): at least one rx and one tx queue are needed",
                self.id, self.name
            )));
        }
        if cfg.rx_queues > self.max_rx_queues || cfg.tx_queues > self.max_tx_queues {
            return Err(Error::InvalidArgument(format!(
                "port {} ({}): {} rx / {} tx queues asked, device supports {} / {}",
                self.id,
                self.name,
                cfg.rx_queues,
                cfg.tx_queues,
                self.max_rx_queues,
                self.max_tx_queues
            )));
        }
        if cfg.rx_queues > 64 || cfg.tx_queues > 64 {
            return Err(Error::InvalidArgument(
                "at most 64 queues per direction".into(),
            ));
        }
        self.stop()?;
        let id = self.id;
        let mut conf = sys::rte_eth_conf::default();
        if cfg.rx_queues > 1 {
            let mut info = sys::rte_eth_dev_info::default();
            // SAFETY: valid port and out-pointer.
            let ret = unsafe { sys::rte_eth_dev_info_get(id.0, &mut info) };
            check(ret, || format!("rte_eth_dev_info_get(port {id})"))?;
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = RSS_IP_TCP_UDP & info.flow_type_rss_offloads;
        }
        // SAFETY: valid port; `conf` is a valid, fully initialised config.
        let ret = unsafe { sys::rte_eth_dev_configure(id.0, cfg.rx_queues, cfg.tx_queues, &conf) };
        check(ret, || {
            format!(
                "rte_eth_dev_configure(port {id}, {} rx, {} tx)",
                cfg.rx_queues, cfg.tx_queues
            )
        })?;
        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid port; out-pointers to two u16s.
        let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id.0, &mut nrx, &mut ntx) };
        check(ret, || {
            format!("rte_eth_dev_adjust_nb_rx_tx_desc(port {id})")
        })?;
        // SAFETY: valid port.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id.0) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..cfg.rx_queues {
            let mp = pool.as_ptr();
            // SAFETY: configured port, q < nb_rx; null rx_conf means defaults;
            // the pool outlives the port ('a).
            let ret =
                unsafe { sys::rte_eth_rx_queue_setup(id.0, q, nrx, socket, std::ptr::null(), mp) };
            check(ret, || {
                format!("rte_eth_rx_queue_setup(port {id}, queue {q})")
            })?;
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: configured port, q < nb_tx; null tx_conf means defaults.
            let ret =
                unsafe { sys::rte_eth_tx_queue_setup(id.0, q, ntx, socket, std::ptr::null()) };
            check(ret, || {
                format!("rte_eth_tx_queue_setup(port {id}, queue {q})")
            })?;
        }
        self.nb_rx = cfg.rx_queues;
        self.nb_tx = cfg.tx_queues;
        self.configured = true;
        self.set_promiscuous(cfg.promiscuous)?;
        Ok(())
    }

    /// Starts the port.
    pub fn start(&mut self) -> Result<()> {
        if !self.configured {
            return Err(Error::InvalidArgument(format!(
                "port {} ({}) must be configured before it starts",
                self.id, self.name
            )));
        }
        if !self.started {
            let id = self.id;
            // SAFETY: configured port.
            check(unsafe { sys::rte_eth_dev_start(id.0) }, || {
                format!("rte_eth_dev_start(port {id})")
            })?;
            self.started = true;
        }
        Ok(())
    }

    /// Stops the port. Needs `&mut self`: no queue handle can be in use.
    pub fn stop(&mut self) -> Result<()> {
        if self.started {
            let id = self.id;
            // SAFETY: started port; no queue handle is alive (they borrow self).
            check(unsafe { sys::rte_eth_dev_stop(id.0) }, || {
                format!("rte_eth_dev_stop(port {id})")
            })?;
            self.started = false;
        }
        Ok(())
    }

    /// Turns promiscuous mode on or off (drivers that lack it are tolerated).
    pub fn set_promiscuous(&self, on: bool) -> Result<()> {
        let id = self.id;
        // SAFETY: valid port.
        let ret = unsafe {
            if on {
                sys::rte_eth_promiscuous_enable(id.0)
            } else {
                sys::rte_eth_promiscuous_disable(id.0)
            }
        };
        if ret == -95 {
            return Ok(()); // ENOTSUP: virtual devices without the notion
        }
        check(ret, || {
            format!("promiscuous {} (port {id})", if on { "on" } else { "off" })
        })
        .map(|_| ())
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> bool {
        // SAFETY: valid port.
        unsafe { sys::rte_eth_promiscuous_get(self.id.0) == 1 }
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6]> {
        let mut a = sys::rte_ether_addr::default();
        let id = self.id;
        // SAFETY: valid port and out-pointer.
        check(unsafe { sys::rte_eth_macaddr_get(id.0, &mut a) }, || {
            format!("rte_eth_macaddr_get(port {id})")
        })?;
        Ok(a.addr_bytes)
    }

    /// Link status, without waiting.
    pub fn link(&self) -> Result<LinkStatus> {
        let mut l = sys::rte_eth_link::default();
        let id = self.id;
        // SAFETY: valid port and out-pointer.
        let ret = unsafe { sys::rte_eth_link_get_nowait(id.0, &mut l) };
        check(ret, || format!("rte_eth_link_get_nowait(port {id})"))?;
        Ok(LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        })
    }

    /// Basic counters.
    pub fn stats(&self) -> Result<PortStats> {
        port_stats(self.id)
    }

    /// Resets basic and extended counters.
    pub fn reset_stats(&self) -> Result<()> {
        let id = self.id;
        // SAFETY: valid port.
        check(unsafe { sys::rte_eth_stats_reset(id.0) }, || {
            format!("rte_eth_stats_reset(port {id})")
        })?;
        // SAFETY: valid port. Some drivers lack xstats reset: ignore ENOTSUP.
        let r = unsafe { sys::rte_eth_xstats_reset(id.0) };
        if r < 0 && r != -95 {
            check(r, || format!("rte_eth_xstats_reset(port {id})"))?;
        }
        Ok(())
    }

    /// Extended counters with their names.
    pub fn xstats(&self) -> Result<Vec<Xstat>> {
        let id = self.id;
        // SAFETY: valid port; null/0 asks for the count.
        let ret = unsafe { sys::rte_eth_xstats_get_names(id.0, std::ptr::null_mut(), 0) };
        let n = check(ret, || format!("rte_eth_xstats_get_names(port {id})"))? as usize;
        let mut names = vec![sys::rte_eth_xstat_name::default(); n];
        let mut vals = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays have n elements as passed.
        let ret = unsafe { sys::rte_eth_xstats_get_names(id.0, names.as_mut_ptr(), n as u32) };
        let got = check(ret, || format!("rte_eth_xstats_get_names(port {id})"))? as usize;
        // SAFETY: as above.
        let ret = unsafe { sys::rte_eth_xstats_get(id.0, vals.as_mut_ptr(), n as u32) };
        let got2 = check(ret, || format!("rte_eth_xstats_get(port {id})"))? as usize;
        let m = got.min(got2).min(n);
        Ok(vals[..m]
            .iter()
            .map(|v| {
                let idx = v.id as usize;
                let name = names
                    .get(idx)
                    .map(|nm| {
                        // SAFETY: DPDK NUL-terminates names within their 64 bytes.
                        unsafe { CStr::from_ptr(nm.name.as_ptr()) }
                            .to_string_lossy()
                            .into_owned()
                    })
                    .unwrap_or_default();
                Xstat {
                    name,
                    value: v.value,
                }
            })
            .collect())
    }

    /// Takes rx queue `q`: the holder is its only user until it drops the handle.
    pub fn rx_queue(&self, q: QueueId) -> Result<RxQueue<'_>> {
        self.take(&self.rx_taken, q, self.nb_rx, "rx")?;
        Ok(RxQueue {
            port: self.id.0,
            queue: q.0,
            ops: fp_ops(self.id),
            taken: &self.rx_taken,
        })
    }

    /// Takes tx queue `q`: the holder is its only user until it drops the handle.
    pub fn tx_queue(&self, q: QueueId) -> Result<TxQueue<'_>> {
        self.take(&self.tx_taken, q, self.nb_tx, "tx")?;
        Ok(TxQueue {
            port: self.id.0,
            queue: q.0,
            ops: fp_ops(self.id),
            taken: &self.tx_taken,
        })
    }

    fn take(&self, bits: &AtomicU64, q: QueueId, nb: u16, dir: &'static str) -> Result<()> {
        if q.0 >= nb {
            return Err(Error::InvalidArgument(format!(
                "port {} has {nb} {dir} queues; queue {} does not exist",
                self.id, q.0
            )));
        }
        let bit = 1u64 << q.0;
        if bits.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            return Err(Error::QueueTaken {
                port: self.id.0,
                dir,
                queue: q.0,
            });
        }
        Ok(())
    }
}

impl Drop for Port<'_> {
    fn drop(&mut self) {
        let id = self.id.0;
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: valid port and out-pointer; no queue handle is alive (they
        // borrow the port), so stopping and closing cannot race a worker.
        unsafe {
            sys::rte_eth_dev_info_get(id, &mut info);
            if self.started {
                sys::rte_eth_dev_stop(id);
            }
            sys::rte_eth_dev_close(id);
            if self.hotplugged && !info.device.is_null() {
                sys::rte_dev_remove(info.device);
            }
        }
    }
}

/// This port's slot in DPDK's fast-path ops table (a static array).
fn fp_ops(id: PortId) -> *const sys::rte_eth_fp_ops {
    // SAFETY: only the address of an element is taken (no reference to the
    // mutable static is created); port ids are < RTE_MAX_ETHPORTS.
    unsafe {
        (&raw const sys::rte_eth_fp_ops)
            .cast::<sys::rte_eth_fp_ops>()
            .add(usize::from(id.0))
    }
}

/// Basic counters of any port by id (for readers that do not own the port).
pub(crate) fn port_stats(id: PortId) -> Result<PortStats> {
    let mut s = sys::rte_eth_stats::default();
    // SAFETY: out-pointer to a valid struct; DPDK validates the port id.
    check(unsafe { sys::rte_eth_stats_get(id.0, &mut s) }, || {
        format!("rte_eth_stats_get(port {id})")
    })?;
    Ok(PortStats {
        ipackets: s.ipackets,
        opackets: s.opackets,
        ibytes: s.ibytes,
        obytes: s.obytes,
        imissed: s.imissed,
        ierrors: s.ierrors,
        oerrors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
    })
}

fn find_port(devargs: &str) -> Result<PortId> {
    let c = cstring(devargs)?;
    let mut it = sys::rte_dev_iterator::default();
    // SAFETY: `it` is a valid iterator struct; `c` outlives the iteration.
    let ret = unsafe { sys::rte_eth_iterator_init(&mut it, c.as_ptr()) };
    if ret < 0 {
        // Not a class-aware devargs string: fall back to the device name.
        let name = devargs.split(',').next().unwrap_or(devargs);
        let n = cstring(name)?;
        let mut id = 0u16;
        // SAFETY: valid NUL-terminated name and out-pointer.
        let r = unsafe { sys::rte_eth_dev_get_port_by_name(n.as_ptr(), &mut id) };
        return if r == 0 {
            Ok(PortId(id))
        } else {
            Err(Error::NoSuchPort(devargs.to_owned()))
        };
    }
    // SAFETY: initialised iterator.
    let id = unsafe { sys::rte_eth_iterator_next(&mut it) };
    // SAFETY: initialised iterator; cleanup is required when stopping early.
    unsafe { sys::rte_eth_iterator_cleanup(&mut it) };
    if u32::from(id) >= sys::RTE_MAX_ETHPORTS {
        return Err(Error::NoSuchPort(devargs.to_owned()));
    }
    Ok(PortId(id))
}

/// RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP (function-like macros
/// in C, so bindgen does not see them): IPv4/IPv6 (with fragments, other and
/// extension headers), TCP and UDP over both.
const RSS_IP_TCP_UDP: u64 = (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 15)
    | (1 << 16)
    | (1 << 17);

const fn libc_eexist() -> i32 {
    17
}

/// Rx queue of a started port, held by one worker.
#[derive(Debug)]
pub struct RxQueue<'p> {
    port: u16,
    queue: u16,
    ops: *const sys::rte_eth_fp_ops,
    taken: &'p AtomicU64,
}

// SAFETY: `ops` points into DPDK's static fast-path table, valid for the
// process; the handle is the queue's only user wherever it moves.
unsafe impl Send for RxQueue<'_> {}

impl RxQueue<'_> {
    /// Port id.
    pub fn port(&self) -> PortId {
        PortId(self.port)
    }

    /// Queue id.
    pub fn queue(&self) -> QueueId {
        QueueId(self.queue)
    }

    /// Receives into the free slots of `burst`; returns how many arrived.
    ///
    /// This is `rte_eth_rx_burst` written out in Rust (as DPDK 22.11 inlines
    /// it: the fast-path ops table, then rx callbacks if any), saving the
    /// call into the C shim on every burst.
    #[inline(always)]
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        self.rx_burst_max(burst, N)
    }

    /// As [`RxQueue::rx_burst`], but asks the PMD for at most `max - len`
    /// packets, so that `burst` holds at most `max` (`--burst`; a `max`
    /// above `N` counts as `N`).
    #[inline(always)]
    pub fn rx_burst_max<const N: usize>(&mut self, burst: &mut Burst<N>, max: usize) -> usize {
        let (p, len) = burst.raw_parts();
        let room = max.min(N).saturating_sub(len) as u16;
        let q = usize::from(self.queue);
        // SAFETY: `ops` points into the static rte_eth_fp_ops array at this
        // port's slot; the port is started and cannot stop while this handle
        // borrows it, so the burst function and queue data are the ones DPDK
        // installed at start. This handle is the queue's only user; slots
        // len..N are free and the PMD writes at most `room` (<= N - len)
        // owned mbufs there.
        unsafe {
            let ops = &*self.ops;
            let qd = *ops.rxq.data.add(q);
            let Some(f) = ops.rx_pkt_burst else { return 0 };
            let mut n = f(qd, p.add(len), room);
            let cb = std::ptr::read_volatile(ops.rxq.clbk.add(q));
            if !cb.is_null() {
                n = sys::rte_eth_call_rx_callbacks(self.port, self.queue, p.add(len), n, room, cb);
            }
            burst.grow(usize::from(n));
            usize::from(n)
        }
    }
}

impl Drop for RxQueue<'_> {
    fn drop(&mut self) {
        self.taken
            .fetch_and(!(1u64 << self.queue), Ordering::AcqRel);
    }
}

/// Tx queue of a started port, held by one worker.
#[derive(Debug)]
pub struct TxQueue<'p> {
    port: u16,
    queue: u16,
    ops: *const sys::rte_eth_fp_ops,
    taken: &'p AtomicU64,
}

// SAFETY: as for RxQueue.
unsafe impl Send for TxQueue<'_> {}

impl TxQueue<'_> {
    /// Port id.
    pub fn port(&self) -> PortId {
        PortId(self.port)
    }

    /// Queue id.
    pub fn queue(&self) -> QueueId {
        QueueId(self.queue)
    }

    /// Hands the mbufs of `burst` to the PMD, front first; returns how many
    /// it took. The unsent tail stays in `burst`, moved to its front.
    ///
    /// This is `rte_eth_tx_burst` written out in Rust (tx callbacks first,
    /// then the PMD's burst function), as [`RxQueue::rx_burst`] is.
    #[inline(always)]
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        let (p, len) = burst.raw_parts();
        if len == 0 {
            return 0;
        }
        let q = usize::from(self.queue);
        let mut nb = len as u16;
        // SAFETY: as in `RxQueue::rx_burst`: a started port's fast-path ops
        // slot, this handle is the queue's only user; slots 0..len are owned
        // mbufs and the PMD takes ownership of the first `n` it returns.
        let n = unsafe {
            let ops = &*self.ops;
            let qd = *ops.txq.data.add(q);
            let cb = std::ptr::read_volatile(ops.txq.clbk.add(q));
            if !cb.is_null() {
                nb = sys::rte_eth_call_tx_callbacks(self.port, self.queue, p, nb, cb);
            }
            match ops.tx_pkt_burst {
                Some(f) => usize::from(f(qd, p, nb)),
                None => 0,
            }
        };
        burst.consume_front(n);
        n
    }
}

impl Drop for TxQueue<'_> {
    fn drop(&mut self) {
        self.taken
            .fetch_and(!(1u64 << self.queue), Ordering::AcqRel);
    }
}
