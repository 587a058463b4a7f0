//! The main job: EAL up, ports configured, workers forwarding, stats every
//! period, a final summary, everything closed and cleaned up.

use crate::options::Options;
use anyhow::{Context, anyhow};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vfex_control::eal::{
    EalPlan, HugepageInfo, remove_hugepage_files, remove_runtime_dir, runtime_dir,
};
use vfex_dataplane::dpdk::{
    self, Burst, DEFAULT_DATA_ROOM, Eal, Mempool, Port, PortConfig, QueueId,
};
use vfex_dataplane::fwd::{self, MAX_PKT_BURST, WorkerCounters};

/// How a run failed.
pub enum RunError {
    /// Bad command line or EAL arguments (exit 2).
    Usage(anyhow::Error),
    /// Anything else (exit 1).
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for RunError {
    fn from(e: anyhow::Error) -> Self {
        RunError::Runtime(e)
    }
}

/// Devices of the embedded default.
const DEFAULT_PORTS: [&str; 2] = ["net_null0", "net_null1"];

pub fn run(user_eal: &[String], opts: &Options) -> Result<(), RunError> {
    // A configuration file is read (and every error reported) before EAL
    // starts.
    let config = match &opts.config {
        Some(p) => Some(crate::role::load_config(p, opts)?),
        None => None,
    };
    let mut plan = EalPlan::new(user_eal, HugepageInfo::probe());
    if config.as_ref().is_some_and(crate::role::needs_pci) {
        // The configuration's PCI devices are attached after start-up.
        plan.args.retain(|a| a != "--no-pci");
        plan.devices_given = true;
    }
    if let Some(w) = &plan.warning {
        eprintln!("{w}");
    }
    // Ctrl-C / SIGTERM set `stop`; a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("installing signal handlers")?;
    }
    // SIGHUP: reload the configuration file (hitless).
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("installing the SIGHUP handler")?;
    // A second primary with this prefix would fail in EAL with a lock
    // message; say who holds the prefix instead, and leave its runtime
    // directory alone.
    if let Some(pid) = vfex_control::eal::prefix_owner(&plan.file_prefix) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        return Err(RunError::Usage(anyhow!(
            "--file-prefix {}: in use by process {pid} ({}), a running vfex or DPDK primary process: stop it or choose another --file-prefix",
            plan.file_prefix,
            comm.trim()
        )));
    }
    let eal = Eal::init(&plan.args).map_err(|e| {
        RunError::Usage(
            anyhow!(e).context("EAL could not start with these options (see EAL's message above)"),
        )
    })?;
    if plan.multi_process
        && let Err(e) = eal.enable_capture()
    {
        eprintln!("vfex: warning: dpdk-dumpcap cannot attach: {e}");
    }
    let result = match config {
        Some(cfg) => crate::role::run(&eal, &plan, opts, &stop, &hup, cfg),
        // No ports, no file, no diagnostic mode: the embedded demo.
        None if eal.port_ids().is_empty() && !plan.devices_given && !opts.forward_mode_given => {
            crate::demo::run(&eal, opts, &stop, plan.hugepages)
        }
        None => forward(&eal, &plan, opts, &stop),
    };
    crate::telemetry::unregister();
    drop(eal); // rte_eal_cleanup
    if let Err(e) = remove_runtime_dir(&runtime_dir(&plan.file_prefix)) {
        eprintln!("vfex: warning: could not remove the runtime directory: {e}");
    }
    if plan.multi_process
        && let Err(e) = remove_hugepage_files(&plan.file_prefix)
    {
        eprintln!("vfex: warning: could not remove the hugepage files: {e}");
    }
    result
}

fn forward(eal: &Eal, plan: &EalPlan, opts: &Options, stop: &AtomicBool) -> Result<(), RunError> {
    let ids = eal.port_ids();
    let embedded = ids.is_empty();
    if embedded && plan.devices_given {
        return Err(RunError::Usage(anyhow!(
            "no usable port among the devices given (check -a/--vdev and that the devices are bound to a DPDK driver)"
        )));
    }
    let nports = if embedded {
        DEFAULT_PORTS.len()
    } else {
        ids.len()
    };
    let workers_avail = eal.worker_lcores();
    let generating = opts.gen_rate.is_some();
    if workers_avail.is_empty() && !generating {
        return Err(RunError::Usage(anyhow!(
            "no worker lcore: give EAL at least two lcores, e.g. -l 0,1 (the first is the main lcore)"
        )));
    }
    let streams = nports * usize::from(opts.rxq);
    let want = if generating {
        1
    } else {
        opts.nb_cores.unwrap_or(workers_avail.len())
    };
    if want > workers_avail.len() && !generating {
        return Err(RunError::Usage(anyhow!(
            "--nb-cores {want}: only {} worker lcores are enabled (EAL -l)",
            workers_avail.len()
        )));
    }
    let nworkers = want.min(streams);
    let lcores = &workers_avail[..nworkers.min(workers_avail.len())];
    let txq = opts.txq.unwrap_or(nworkers as u16);
    if usize::from(txq) < nworkers {
        return Err(RunError::Usage(anyhow!(
            "--txq {txq}: each of the {nworkers} forwarding cores needs its own tx queue"
        )));
    }
    let nb_mbufs = opts.total_num_mbufs.unwrap_or_else(|| {
        let (np, nw) = (nports as u32, nworkers as u32);
        let per_port =
            u32::from(opts.rxq) * u32::from(opts.rxd) + u32::from(txq) * u32::from(opts.txd);
        (np * per_port + nw * (MAX_PKT_BURST as u32 * (np + 1) + 256) + 4096).max(8192)
    });
    let pool = Mempool::new(eal, "vfex_pkts", nb_mbufs, 256, DEFAULT_DATA_ROOM, None).with_context(|| {
        format!("creating a pool of {nb_mbufs} mbufs (try fewer with --total-num-mbufs or more memory with -m)")
    })?;
    let mut ports: Vec<Port<'_>> = Vec::with_capacity(nports);
    if embedded {
        println!(
            "vfex: no ports given: running the embedded default, {} forwarding between {}",
            opts.forward_mode,
            DEFAULT_PORTS.join(" and ")
        );
        for d in DEFAULT_PORTS {
            ports.push(Port::attach(eal, d).with_context(|| format!("attaching {d}"))?);
        }
    } else {
        for id in ids {
            ports.push(Port::open(eal, id)?);
        }
    }
    let cfg = PortConfig {
        rx_queues: opts.rxq,
        tx_queues: txq,
        rx_desc: opts.rxd,
        tx_desc: opts.txd,
        promiscuous: true,
    };
    for p in ports.iter_mut() {
        p.configure(&pool, &cfg)
            .with_context(|| format!("configuring port {} ({})", p.id(), p.name()))?;
        p.start()
            .with_context(|| format!("starting port {} ({})", p.id(), p.name()))?;
    }
    for p in &ports {
        let mac = p.mac().unwrap_or_default();
        println!(
            "port {}: {} ({}) mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} rxq {} txq {}",
            p.id(),
            p.name(),
            p.driver(),
            mac[0],
            mac[1],
            mac[2],
            mac[3],
            mac[4],
            mac[5],
            p.rx_queues(),
            p.tx_queues()
        );
    }
    if !generating {
        println!(
            "{} forwarding on {} core(s) (lcores {}), {} stream(s), topology {:?}, burst {}, memory: {}, tsc-hz {}",
            opts.forward_mode,
            nworkers,
            lcores
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(","),
            streams,
            opts.topology,
            opts.burst,
            if plan.hugepages {
                "hugepages"
            } else {
                "no hugepages"
            },
            dpdk::tsc_hz()
        );
    }
    if let Some(rate) = opts.gen_rate {
        let r = crate::generator::run(
            &pool,
            &ports,
            opts,
            rate,
            &tx_first_frame(usize::from(opts.txpkts)),
            stop,
        );
        for p in ports.iter_mut() {
            p.stop().ok();
        }
        return r;
    }
    if opts.tx_first {
        tx_first(&pool, &ports, opts.txpkts, opts.burst)?;
    }
    let counters: Arc<Vec<WorkerCounters>> = Arc::new(
        (0..nworkers)
            .map(|_| WorkerCounters::new(ports.len()))
            .collect(),
    );
    crate::telemetry::register(
        eal,
        crate::telemetry::Info {
            mode: opts.forward_mode.to_string(),
            ports: ports.iter().map(|p| p.name().to_string()).collect(),
            workers: lcores.iter().map(|l| l.0).collect(),
            hugepages: plan.hugepages,
            pools: vec![pool.monitor()],
        },
        Arc::clone(&counters),
    )?;
    let start = Instant::now();
    let monitor = Monitor {
        ports: &ports,
        counters: &counters,
        nworkers,
    };
    fwd::forward_burst(
        eal,
        &ports,
        lcores,
        (opts.forward_mode, opts.topology, opts.burst),
        &counters,
        stop,
        || monitor.run(opts, stop, start),
    )?;
    let elapsed = start.elapsed();
    monitor.summary(elapsed);
    for p in ports.iter_mut() {
        p.stop().ok();
    }
    drop(ports);
    let in_use = pool.in_use();
    if in_use != 0 {
        eprintln!("vfex: warning: {in_use} mbufs still in use after the ports closed");
    }
    Ok(())
}

/// One `--tx-first` frame of `len` bytes (without FCS): Ethernet, IPv4 and
/// UDP headers with correct lengths and IPv4 checksum, zero payload.
fn tx_first_frame(len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(60)];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (f.len() - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
    ip[16..20].copy_from_slice(&[198, 19, 0, 1]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&1024u16.to_be_bytes());
    udp[2..4].copy_from_slice(&1024u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

/// Sends one burst of `burst` (`--burst`) `len`-byte frames (`--txpkts`) on
/// queue 0 of every port.
fn tx_first(
    pool: &Mempool<'_>,
    ports: &[Port<'_>],
    len: u16,
    burst: usize,
) -> Result<(), RunError> {
    let frame = tx_first_frame(usize::from(len));
    // Links of some devices (net_memif) come up only once the peer process
    // has connected: wait for them a while, as testpmd does.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !ports.iter().all(|p| p.link().is_ok_and(|l| l.up)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Poll every rx queue once before sending: a net_memif client hands its
    // receive buffers to the server only when it polls, and the server drops
    // what it cannot send (the workers start only after this burst).
    for p in ports {
        for q in 0..p.rx_queues() {
            let mut b: Burst<MAX_PKT_BURST> = Burst::new();
            p.rx_queue(QueueId(q))?.rx_burst(&mut b);
        }
    }
    for p in ports {
        let mut b: Burst<MAX_PKT_BURST> = Burst::new();
        if !pool.alloc_bulk(&mut b, burst) {
            return Err(anyhow!("mempool empty before --tx-first").into());
        }
        for m in b.as_mut_slice() {
            m.set_data(&frame)
                .map_err(|e| anyhow!("building a --tx-first frame: {e}"))?;
        }
        let mut q = p.tx_queue(QueueId(0))?;
        let n = q.tx_burst(&mut b);
        println!("tx-first: port {} sent {n} frames", p.id());
    }
    Ok(())
}

struct Monitor<'a, 'p> {
    ports: &'a [Port<'p>],
    counters: &'a [WorkerCounters],
    nworkers: usize,
}

impl Monitor<'_, '_> {
    fn totals(&self) -> Vec<(u64, u64, u64)> {
        (0..self.ports.len())
            .map(|i| WorkerCounters::sum_port(self.counters, i))
            .collect()
    }

    /// Runs on the main lcore while the workers forward.
    fn run(&self, opts: &Options, stop: &AtomicBool, start: Instant) {
        let deadline = opts.duration.map(|d| start + d);
        let mut last = self.totals();
        let mut last_t = start;
        let mut next = opts.stats_period.map(|p| start + p);
        loop {
            if stop.load(Ordering::Relaxed) {
                println!("\nvfex: signal received, stopping");
                return;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return;
            }
            if let Some(n) = next
                && now >= n
            {
                let cur = self.totals();
                self.print_period(now - start, now - last_t, &last, &cur);
                last = cur;
                last_t = now;
                next = opts.stats_period.map(|p| n + p);
            }
            let mut wake = now + Duration::from_millis(50);
            if let Some(n) = next {
                wake = wake.min(n);
            }
            if let Some(d) = deadline {
                wake = wake.min(d);
            }
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
    }

    fn print_period(
        &self,
        t: Duration,
        dt: Duration,
        last: &[(u64, u64, u64)],
        cur: &[(u64, u64, u64)],
    ) {
        let secs = dt.as_secs_f64().max(1e-9);
        let mut out = String::new();
        let (mut trx, mut ttx) = (0.0, 0.0);
        for (i, p) in self.ports.iter().enumerate() {
            let rx_pps = (cur[i].0 - last[i].0) as f64 / secs;
            let tx_pps = (cur[i].1 - last[i].1) as f64 / secs;
            trx += rx_pps;
            ttx += tx_pps;
            out.push_str(&format!(
                "[{:>7.1} s] port {:<2} {:<12} rx-pps {:>11.0}  tx-pps {:>11.0}  rx {:>12}  tx {:>12}  tx_full {}\n",
                t.as_secs_f64(),
                p.id(),
                p.name(),
                rx_pps,
                tx_pps,
                cur[i].0,
                cur[i].1,
                cur[i].2
            ));
        }
        out.push_str(&format!(
            "[{:>7.1} s] total   {:<12} rx-pps {:>11.0}  tx-pps {:>11.0}  per-core-pps {:.0} ({} cores) = {:.2} Mpps/core\n",
            t.as_secs_f64(),
            "",
            trx,
            ttx,
            trx / self.nworkers as f64,
            self.nworkers,
            trx / self.nworkers as f64 / 1e6
        ));
        let mut so = std::io::stdout().lock();
        let _ = so.write_all(out.as_bytes());
        let _ = so.flush();
    }

    fn summary(&self, elapsed: Duration) {
        let t = self.totals();
        let secs = elapsed.as_secs_f64().max(1e-9);
        println!(
            "\n  ---------------------- Forward statistics ({:.2} s) ----------------------",
            secs
        );
        let (mut rx, mut tx, mut drops) = (0, 0, 0);
        for (i, p) in self.ports.iter().enumerate() {
            let (r, x, d) = t[i];
            rx += r;
            tx += x;
            drops += d;
            let es = p.stats().unwrap_or_default();
            println!(
                "  port {} {:<12} RX-packets: {:<14} TX-packets: {:<14} TX-dropped(tx_full): {:<10} RX-missed: {} RX-nombuf: {}",
                p.id(),
                p.name(),
                r,
                x,
                d,
                es.imissed,
                es.rx_nombuf
            );
        }
        println!(
            "  total               RX-packets: {:<14} TX-packets: {:<14} TX-dropped(tx_full): {:<10}",
            rx, tx, drops
        );
        for r in vfex_dataplane::drop::DropReason::ALL {
            let n = WorkerCounters::sum_drops(self.counters, r);
            if n > 0 {
                println!("  dropped {:<16} {n}", r.name());
            }
        }
        println!(
            "  average: {:.3} Mpps received, {:.3} Mpps per forwarding core ({} cores)",
            rx as f64 / secs / 1e6,
            rx as f64 / secs / 1e6 / self.nworkers as f64,
            self.nworkers
        );
        println!("  -------------------------------------------------------------------------");
    }
}

impl From<dpdk::Error> for RunError {
    fn from(e: dpdk::Error) -> Self {
        RunError::Runtime(e.into())
    }
}
