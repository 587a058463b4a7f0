//! Running a role from a configuration file: the control thread (pinned to
//! the main lcore's core), the ports in the configuration's order, one
//! worker per forwarding lcore, per-port and per-vEth statistics, the
//! command shell, SIGHUP reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use vfex_control::compile::Compiled;
use vfex_control::control::{
    self as ctl, Command, ControlHandle, ControlOptions, Hardware, Response,
};
use vfex_control::eal::EalPlan;
use vfex_control::model::Config;
use vfex_control::publish::DataplanePublisher;
use vfex_dataplane::dpdk::{self, DEFAULT_DATA_ROOM, Eal, LcoreId, Mempool, Port, PortConfig};
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::fwd::MAX_PKT_BURST;
use vfex_dataplane::kernels::Kernels;
use vfex_dataplane::pipeline::{Bridge, Extender, RoleCounters, Station};
use vfex_dataplane::tables::{LearnTable, Rcu, Role, Tables};
use vfex_dataplane::worker;

use crate::options::Options;
use crate::run::RunError;
use crate::shell::{self, PortSel, PortShow, ShellCmd};

/// How long an idle learned MAC stays. (The table's size is the
/// configuration's `mac_table_size`.)
const MAC_AGE_S: u32 = 300;
/// Counter blocks per worker: vEths beyond share one overflow block.
const VETH_BLOCKS: usize = 4096;

/// Loads the configuration file named by `--config`, with `--role` and
/// `--encap` applied. Every error is reported (exit 2).
pub fn load_config(path: &Path, opts: &Options) -> Result<Config, RunError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RunError::Usage(anyhow!("--config {}: {e}", path.display())))?;
    // Overrides go through the same validation as the file, and errors keep
    // the file's positions (the text is not rewritten).
    let mut set: Vec<(&str, &str)> = Vec::new();
    if let Some(r) = &opts.role {
        set.push(("role", r));
    }
    if let Some(e) = &opts.encap {
        set.push(("encap", e));
    }
    vfex_control::config::parse_overriding(&path.display().to_string(), &text, &set)
        .map_err(|e| RunError::Usage(anyhow!("{e}")))
}

/// The kernel interfaces of the control thread: sysfs under `sysfs_root`
/// (`--sysfs-root`, `/sys` unless testing or in a container) and a route
/// netlink socket in this network namespace.
pub(crate) fn hardware(sysfs_root: &Path) -> Result<Hardware, vfex_control::netlink::NlError> {
    Ok(Hardware {
        sysfs: Box::new(vfex_control::sriov::RealSysfs::new(sysfs_root)),
        netlink: Box::new(vfex_control::netlink::RtNetlink::open()?),
        vf_wait: vfex_control::sriov::VF_WAIT,
    })
}

/// Whether the configuration names PCI devices (then EAL must scan PCI).
pub fn needs_pci(cfg: &Config) -> bool {
    cfg.ports
        .values()
        .any(|p| !matches!(p.device, vfex_control::model::PortDevice::Devargs(_)))
}

/// What the monitor and the shell read.
pub(crate) struct Ctx<'a, 'p> {
    pub(crate) ports: &'a [Port<'p>],
    pub(crate) counters: &'a [RoleCounters],
    pub(crate) control: &'a ControlHandle,
    pub(crate) rcu: &'a Arc<Rcu<Tables>>,
    pub(crate) learn: &'a Arc<LearnTable>,
    pub(crate) nworkers: usize,
    pub(crate) config_path: Option<PathBuf>,
    /// When the run started (`show fwd stats` averages over it).
    pub(crate) started: Instant,
}

impl Ctx<'_, '_> {
    fn compiled(&self) -> Option<Arc<Compiled>> {
        match self.control.call(Command::ShowTables) {
            Response::Tables(c) => Some(c),
            _ => None,
        }
    }

    fn port_totals(&self) -> Vec<(u64, u64)> {
        (0..self.ports.len())
            .map(|p| {
                self.counters.iter().fold((0, 0), |(r, t), c| {
                    let pc = c.port(p);
                    (r + pc.rx.get(), t + pc.tx.get())
                })
            })
            .collect()
    }

    fn veth_totals(&self, v: u16) -> (u64, u64, u64, u64, u64) {
        self.counters.iter().fold((0, 0, 0, 0, 0), |a, c| {
            let b = c.veth(v);
            (
                a.0 + b.rx_pkts.get(),
                a.1 + b.rx_bytes.get(),
                a.2 + b.tx_pkts.get(),
                a.3 + b.tx_bytes.get(),
                a.4 + b.drops.iter().map(|d| d.get()).sum::<u64>(),
            )
        })
    }

    fn drops(&self, r: DropReason) -> u64 {
        self.counters.iter().map(|c| c.drop(r).get()).sum()
    }

    fn tx_full(&self, p: usize) -> u64 {
        self.counters.iter().map(|c| c.port(p).tx_full.get()).sum()
    }
}

/// Runs the role of `cfg` until the duration, idleness, a signal or
/// `quit` ends it.
pub fn run(
    eal: &Eal,
    plan: &EalPlan,
    opts: &Options,
    stop: &AtomicBool,
    hup: &AtomicBool,
    cfg: Config,
) -> Result<(), RunError> {
    let workers_avail = eal.worker_lcores();
    if workers_avail.is_empty() {
        return Err(RunError::Usage(anyhow!(
            "no worker lcore: give EAL at least two lcores, e.g. -l 0,1 (the first is the main lcore)"
        )));
    }
    let want = opts.nb_cores.unwrap_or(workers_avail.len());
    if want > workers_avail.len() {
        return Err(RunError::Usage(anyhow!(
            "--nb-cores {want}: only {} worker lcores are enabled (EAL -l)",
            workers_avail.len()
        )));
    }
    let lcores: Vec<LcoreId> = workers_avail[..want].to_vec();
    let nworkers = lcores.len();

    // The control thread: applies SR-IOV, compiles, publishes generation 1.
    // Pinning is by CPU, which differs from the lcore id with --lcores
    // mappings (e.g. 0@1,1@0).
    let hk = eal.lcore_cpu(eal.main_lcore());
    let worker_cores: Vec<usize> = lcores.iter().map(|l| eal.lcore_cpu(*l)).collect();
    let learn_slots = cfg.mac_table_slots();
    let (mut control, mut rcu) = spawn_control(cfg, hk, &worker_cores, &opts.sysfs_root)
        .map_err(|e| RunError::Usage(anyhow!("{e}")))?;
    let compiled = match control.call(Command::ShowTables) {
        Response::Tables(c) => c,
        other => return Err(anyhow!("control thread: {other:?}").into()),
    };
    // Ports, in the configuration's order (the tables' port indexes).
    let nports = compiled.ports.len();
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
        (np * per_port + nw * (MAX_PKT_BURST as u32 * (np + 2) + 512) + 8192).max(16384)
    });
    let pool = Mempool::new(eal, "vfex_pkts", nb_mbufs, 256, DEFAULT_DATA_ROOM, None)
        .with_context(|| format!("creating a pool of {nb_mbufs} mbufs"))?;
    let mut ports: Vec<Port<'_>> = Vec::with_capacity(nports);
    for p in &compiled.ports {
        ports.push(
            Port::attach(eal, &p.devargs)
                .with_context(|| format!("port {} ({})", p.name, p.devargs))?,
        );
    }
    let pcfg = PortConfig {
        rx_queues: opts.rxq,
        tx_queues: txq,
        rx_desc: opts.rxd,
        tx_desc: opts.txd,
        promiscuous: true,
    };
    for (p, c) in ports.iter_mut().zip(&compiled.ports) {
        p.configure(&pool, &pcfg)
            .with_context(|| format!("configuring port {} ({})", c.name, p.name()))?;
        p.start()
            .with_context(|| format!("starting port {} ({})", c.name, p.name()))?;
    }
    println!(
        "{} ({}) on {} core(s) (lcores {}), {} ports, {} vEths, {} VIF lists, burst {}, memory: {}, kernels {}, tsc-hz {}",
        compiled.role.name(),
        compiled.encap.name(),
        nworkers,
        lcores
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(","),
        nports,
        compiled.veths.len(),
        compiled.vif_lists.len(),
        opts.burst,
        if plan.hugepages {
            "hugepages"
        } else {
            "no hugepages"
        },
        Kernels::detect().map(|k| k.isa().name()).unwrap_or("?"),
        dpdk::tsc_hz()
    );
    for (i, (p, c)) in ports.iter().zip(&compiled.ports).enumerate() {
        println!(
            "port {i}: {} ({}, {}) {:?}",
            c.name,
            p.name(),
            p.driver(),
            c.kind
        );
    }

    let counters: Arc<[RoleCounters]> = (0..nworkers)
        .map(|_| RoleCounters::new(nports, VETH_BLOCKS))
        .collect();
    // The role commands answer from this control thread's tables; a new
    // one (set role / set encap) registers them again (same names, new
    // closures).
    let register_telemetry = |c: &Compiled, rcu: &Arc<Rcu<Tables>>| {
        crate::telemetry::register_roles(
            eal,
            crate::telemetry::Info {
                mode: format!("{} ({})", c.role.name(), c.encap.name()),
                ports: c.ports.iter().map(|p| p.name.clone()).collect(),
                workers: lcores.iter().map(|l| l.0).collect(),
                hugepages: plan.hugepages,
                pools: vec![pool.monitor()],
            },
            vec![crate::telemetry::RoleView {
                name: c.role.name().into(),
                rcu: Arc::clone(rcu),
                counters: Arc::clone(&counters),
            }],
        )
    };
    register_telemetry(&compiled, &rcu)?;
    let learn = Arc::new(LearnTable::new(learn_slots, VETH_BLOCKS));
    let mut sh = Shell::new(opts)?;
    let start = Instant::now();
    let mut forwarding = true;
    let mut restarted = false;
    loop {
        let ctx = Ctx {
            ports: &ports,
            counters: &counters,
            control: &control,
            rcu: &rcu,
            learn: &learn,
            nworkers,
            config_path: opts.config.clone(),
            started: start,
        };
        let outcome = if forwarding {
            // The role and encapsulation may have changed while stopped
            // (`set role`, `set encap`): the workers run the role of the
            // tables now published.
            let role = rcu.load().role();
            if restarted && let Some(c) = ctx.compiled() {
                println!(
                    "forwarding started: {} ({}), tables generation {}",
                    c.role.name(),
                    c.encap.name(),
                    c.generation
                );
            }
            let hz = dpdk::tsc_hz();
            let kernels = Kernels::detect().map_err(|e| anyhow!("{e}"))?;
            let monitor = || monitor(&ctx, opts, stop, hup, start, &mut sh);
            let r = match role {
                Role::Extender(_) => worker::launch_burst(
                    eal,
                    &ports,
                    &lcores,
                    &pool,
                    opts.burst,
                    |_| Extender::new(rcu.reader(), kernels, hz, dpdk::rdtsc()),
                    &counters,
                    stop_flag(),
                    monitor,
                ),
                Role::Station { .. } => worker::launch_burst(
                    eal,
                    &ports,
                    &lcores,
                    &pool,
                    opts.burst,
                    |_| Station::new(rcu.reader(), kernels, hz, dpdk::rdtsc()),
                    &counters,
                    stop_flag(),
                    monitor,
                ),
                Role::Bridge => worker::launch_burst(
                    eal,
                    &ports,
                    &lcores,
                    &pool,
                    opts.burst,
                    |_| Bridge::new(rcu.reader(), Arc::clone(&learn), kernels, hz, dpdk::rdtsc()),
                    &counters,
                    stop_flag(),
                    monitor,
                ),
            };
            stop_flag().store(false, Ordering::Relaxed);
            r?
        } else {
            sh.stopped(&ctx)
        };
        drop(ctx);
        match outcome {
            Outcome::Quit => break,
            Outcome::Replace { what, text } => {
                // A role or encapsulation change (only while stopped): the
                // published tables cannot change role under the workers'
                // pipelines, so a new control thread takes the new
                // configuration; the old one stays if it is refused.
                let new = vfex_control::config::parse("(running configuration)", &text)
                    .map_err(|e| e.to_string())
                    .and_then(|cfg| {
                        spawn_control(cfg, hk, &worker_cores, &opts.sysfs_root)
                            .map_err(|e| e.to_string())
                    });
                match new {
                    Ok((c, r)) if r.load().ports() != rcu.load().ports() => {
                        c.shutdown();
                        println!("error: {what}: the ports would change; nothing changed");
                    }
                    Ok((c, r)) => {
                        std::mem::replace(&mut control, c).shutdown();
                        rcu = r;
                        if let Response::Tables(t) = control.call(Command::ShowTables)
                            && let Err(e) = register_telemetry(&t, &rcu)
                        {
                            eprintln!("vfex: warning: telemetry: {e}");
                        }
                        let t = rcu.load();
                        println!(
                            "{what}: done, {:?} with {} vEths; start forwards with it",
                            t.role(),
                            t.veths().len()
                        );
                    }
                    Err(e) => {
                        println!("error: {what}: {}; nothing changed", one_error_one_line(&e))
                    }
                }
            }
            Outcome::Stop => {
                println!("forwarding stopped (start / quit)");
                forwarding = false;
            }
            Outcome::Start => {
                forwarding = true;
                restarted = true;
            }
        }
    }
    let ctx = Ctx {
        ports: &ports,
        counters: &counters,
        control: &control,
        rcu: &rcu,
        learn: &learn,
        nworkers,
        config_path: opts.config.clone(),
        started: start,
    };
    summary(&ctx, start.elapsed());
    drop(ctx);
    control.shutdown();
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

/// Starts the control thread for `cfg` (SR-IOV applied, tables compiled
/// and published as generation 1 into a new RCU handle).
fn spawn_control(
    cfg: Config,
    hk: usize,
    worker_cores: &[usize],
    sysfs_root: &Path,
) -> Result<(ControlHandle, Arc<Rcu<Tables>>), String> {
    let (publisher, slot) = DataplanePublisher::new(Duration::from_secs(2));
    let sriov = !cfg.sriov.is_empty();
    let sysfs_root = sysfs_root.to_path_buf();
    let control = ctl::spawn(hk, worker_cores, ControlOptions::default(), move || {
        let hw = hardware(&sysfs_root).map_err(|e| {
            ctl::ControlError::Apply(format!(
                "netlink: {e}{}",
                if sriov {
                    ""
                } else {
                    " (needed for VF settings)"
                }
            ))
        })?;
        ctl::Control::new(cfg, Box::new(publisher), hw)
    })
    .map_err(|e| e.to_string())?;
    let rcu = slot
        .get()
        .cloned()
        .ok_or_else(|| "the control thread published no tables".to_string())?;
    Ok((control, rcu))
}

/// The flag that stops the workers of one `launch` (the run's own `stop`
/// stops everything; this one lets `stop` in the shell end forwarding
/// without ending the run).
fn stop_flag() -> &'static AtomicBool {
    static F: AtomicBool = AtomicBool::new(false);
    &F
}

/// How a forwarding period ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit.
    Quit,
    /// Forwarding stopped, the shell goes on.
    Stop,
    /// Forwarding (re)starts.
    Start,
    /// While stopped: run this configuration (a new role or encapsulation)
    /// from the next start; the shell goes on.
    Replace {
        /// The command, for messages.
        what: String,
        /// The whole configuration.
        text: String,
    },
}

/// Runs on the main lcore while the workers forward: periodic stats,
/// duration, idleness, signals, SIGHUP reload, MAC aging, the shell.
fn monitor(
    ctx: &Ctx<'_, '_>,
    opts: &Options,
    stop: &AtomicBool,
    hup: &AtomicBool,
    start: Instant,
    sh: &mut Shell,
) -> Outcome {
    let end = |o: Outcome| {
        stop_flag().store(true, Ordering::Relaxed);
        o
    };
    if let Some(o) = sh.run_startup_file(ctx) {
        return end(o);
    }
    if opts.interactive {
        println!("forwarding started; type help for the commands, stop or quit");
        return end(sh.interactive(ctx));
    }
    let deadline = opts.duration.map(|d| start + d);
    let mut next = opts.stats_period.map(|p| Instant::now() + p);
    let mut last = (Instant::now(), ctx.port_totals(), veth_rx(ctx));
    let mut idle_since = Instant::now();
    let mut last_rx: u64 = 0;
    let mut last_age = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            println!("\nvfex: signal received, stopping");
            return end(Outcome::Quit);
        }
        if hup.swap(false, Ordering::Relaxed) {
            match &ctx.config_path {
                Some(p) => match ctx.control.call(Command::LoadConfig { path: p.clone() }) {
                    Response::Err(e) => println!(
                        "vfex: SIGHUP: {} not loaded (nothing changed):\n{e}",
                        p.display()
                    ),
                    r => println!("vfex: SIGHUP: {}: {}", p.display(), response_text(&r)),
                },
                None => println!("vfex: SIGHUP: no configuration file to reload"),
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return end(Outcome::Quit);
        }
        let rx: u64 = ctx.port_totals().iter().map(|t| t.0).sum();
        if rx != last_rx {
            last_rx = rx;
            idle_since = now;
        } else if opts.stop_after_idle.is_some_and(|d| now - idle_since >= d) {
            println!(
                "vfex: every rx port idle for {:?}, stopping",
                opts.stop_after_idle.unwrap_or_default()
            );
            return end(Outcome::Quit);
        }
        if now - last_age >= Duration::from_secs(1) {
            let now_s = (dpdk::rdtsc() / dpdk::tsc_hz().max(1)) as u32;
            let nveths = ctx.rcu.load().veths().len() as u16;
            ctx.learn.age(now_s, MAC_AGE_S, |v| v >= nveths);
            last_age = now;
        }
        if let Some(n) = next
            && now >= n
        {
            let cur = (now, ctx.port_totals(), veth_rx(ctx));
            print_period(ctx, now - start, &last, &cur);
            last = cur;
            next = opts.stats_period.map(|p| n + p);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn veth_rx(ctx: &Ctx<'_, '_>) -> Vec<(u64, u64)> {
    (0..ctx.rcu.load().veths().len() as u16)
        .map(|v| {
            let t = ctx.veth_totals(v);
            (t.0, t.2)
        })
        .collect()
}

type Sample = (Instant, Vec<(u64, u64)>, Vec<(u64, u64)>);

fn print_period(ctx: &Ctx<'_, '_>, t: Duration, last: &Sample, cur: &Sample) {
    let secs = (cur.0 - last.0).as_secs_f64().max(1e-9);
    let mut out = String::new();
    let (mut trx, mut ttx) = (0.0, 0.0);
    for (i, p) in ctx.ports.iter().enumerate() {
        let rx = (cur.1[i].0 - last.1[i].0) as f64 / secs;
        let tx = (cur.1[i].1 - last.1[i].1) as f64 / secs;
        trx += rx;
        ttx += tx;
        out += &format!(
            "[{:>7.1} s] port {:<2} {:<12} rx-pps {:>11.0}  tx-pps {:>11.0}  rx {:>12}  tx {:>12}  tx_full {}\n",
            t.as_secs_f64(),
            i,
            p.name(),
            rx,
            tx,
            cur.1[i].0,
            cur.1[i].1,
            ctx.tx_full(i)
        );
    }
    let tables = ctx.rcu.load();
    for (v, veth) in tables.veths().iter().enumerate() {
        let (Some(a), Some(b)) = (cur.2.get(v), last.2.get(v)) else {
            continue;
        };
        let (rx, tx) = ((a.0 - b.0) as f64 / secs, (a.1 - b.1) as f64 / secs);
        let d = ctx.veth_totals(v as u16).4;
        out += &format!(
            "[{:>7.1} s] veth {:<12} from-vm-pps {:>11.0}  to-vm-pps {:>11.0}  from-vm {:>12}  to-vm {:>12}  drops {d}\n",
            t.as_secs_f64(),
            veth.cfg.name,
            rx,
            tx,
            a.0,
            a.1
        );
    }
    out += &format!(
        "[{:>7.1} s] total   {:<12} rx-pps {:>11.0}  tx-pps {:>11.0}  per-core-pps {:.0} ({} cores) = {:.2} Mpps/core\n",
        t.as_secs_f64(),
        "",
        trx,
        ttx,
        trx / ctx.nworkers as f64,
        ctx.nworkers,
        trx / ctx.nworkers as f64 / 1e6
    );
    print!("{out}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

fn summary(ctx: &Ctx<'_, '_>, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!("\n  ---------------------- Forward statistics ({secs:.2} s) ----------------------");
    let t = ctx.port_totals();
    let (mut rx, mut tx) = (0, 0);
    for (i, p) in ctx.ports.iter().enumerate() {
        rx += t[i].0;
        tx += t[i].1;
        println!(
            "  port {i} {:<12} RX-packets: {:<14} TX-packets: {:<14} TX-dropped(tx_full): {}",
            p.name(),
            t[i].0,
            t[i].1,
            ctx.tx_full(i)
        );
    }
    println!("  total               RX-packets: {rx:<14} TX-packets: {tx:<14}");
    let tables = ctx.rcu.load();
    for (v, veth) in tables.veths().iter().enumerate() {
        let (r, rb, x, xb, d) = ctx.veth_totals(v as u16);
        println!(
            "  veth {:<12} from-vm {r} ({rb} B)  to-vm {x} ({xb} B)  drops {d}",
            veth.cfg.name
        );
    }
    for r in DropReason::ALL {
        let n = ctx.drops(r);
        if n > 0 {
            println!("  dropped {:<16} {n}", r.name());
        }
    }
    println!(
        "  average: {:.3} Mpps received, {:.3} Mpps per forwarding core ({} cores)",
        rx as f64 / secs / 1e6,
        rx as f64 / secs / 1e6 / ctx.nworkers as f64,
        ctx.nworkers
    );
    for (w, c) in ctx.counters.iter().enumerate() {
        let n = c.stalls.get();
        if n > 0 {
            println!(
                "  worker {w}: {n} stalls (poll loop not running for >= {} us), longest {} us",
                vfex_dataplane::worker::STALL_US,
                c.longest_stall_us.get()
            );
        }
    }
    println!("  -------------------------------------------------------------------------");
}

fn response_text(r: &Response) -> String {
    match r {
        Response::Ok(s) | Response::Text(s) | Response::Err(s) => s.clone(),
        Response::Tables(c) => format!("generation {}", c.generation),
    }
}

/// The command shell: `--cmdline-file` lines, then `-i` input.
pub(crate) struct Shell {
    startup: Vec<String>,
    editor: Option<rustyline::Editor<Completer, rustyline::history::DefaultHistory>>,
}

/// Tab completion from the command table.
struct Completer;

impl rustyline::completion::Completer for Completer {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(shell::complete(&line[..pos]))
    }
}
impl rustyline::hint::Hinter for Completer {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Completer {}
impl rustyline::validate::Validator for Completer {}
impl rustyline::Helper for Completer {}

impl Shell {
    pub(crate) fn new(opts: &Options) -> Result<Shell, RunError> {
        let startup = match &opts.cmdline_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| RunError::Usage(anyhow!("--cmdline-file {}: {e}", p.display())))?
                .lines()
                .map(String::from)
                .collect(),
            None => Vec::new(),
        };
        let editor = if opts.interactive {
            let mut e = rustyline::Editor::new().map_err(|e| anyhow!("terminal: {e}"))?;
            e.set_helper(Some(Completer));
            Some(e)
        } else {
            None
        };
        Ok(Shell { startup, editor })
    }

    /// Runs the `--cmdline-file` lines not run yet; `Some` when one ends
    /// the period (the lines after it run in the next one: `stop`, `set
    /// role ...`, `start` work from a file too).
    pub(crate) fn run_startup_file(&mut self, ctx: &Ctx<'_, '_>) -> Option<Outcome> {
        self.run_startup_lines(ctx, true)
    }

    fn run_startup_lines(&mut self, ctx: &Ctx<'_, '_>, forwarding: bool) -> Option<Outcome> {
        while !self.startup.is_empty() {
            let line = self.startup.remove(0);
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            println!("vfex> {line}");
            if let Some(o) = self.exec(ctx, &line, forwarding) {
                return Some(o);
            }
        }
        None
    }

    /// Reads lines on a thread of its own (the editor moves there) and
    /// hands them over a channel, so that the caller's loop goes on (the
    /// demo's generator); the channel closes at end of input.
    pub(crate) fn spawn_reader(&mut self) -> Option<std::sync::mpsc::Receiver<String>> {
        let mut ed = self.editor.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("vfex-shell".into())
            .spawn(move || {
                while let Ok(line) = ed.readline("vfex> ") {
                    let _ = ed.add_history_entry(line.as_str());
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(rx)
    }

    /// Reads commands until one ends forwarding.
    fn interactive(&mut self, ctx: &Ctx<'_, '_>) -> Outcome {
        loop {
            let Some(ed) = self.editor.as_mut() else {
                return Outcome::Quit;
            };
            match ed.readline("vfex> ") {
                Ok(line) => {
                    let _ = ed.add_history_entry(line.as_str());
                    if let Some(o) = self.exec(ctx, &line, true) {
                        return o;
                    }
                }
                // Ctrl-C, Ctrl-D, closed input: quit.
                Err(_) => return Outcome::Quit,
            }
        }
    }

    /// The shell while forwarding is stopped: the rest of the
    /// `--cmdline-file`, then `-i` input; without `-i`, the end of the file
    /// quits.
    fn stopped(&mut self, ctx: &Ctx<'_, '_>) -> Outcome {
        if let Some(o) = self.run_startup_lines(ctx, false) {
            return o;
        }
        if self.editor.is_none() {
            return Outcome::Quit;
        }
        loop {
            let line = match self.editor.as_mut().map(|e| e.readline("vfex (stopped)> ")) {
                Some(Ok(l)) => l,
                _ => return Outcome::Quit,
            };
            if let Some(e) = self.editor.as_mut() {
                let _ = e.add_history_entry(line.as_str());
            }
            if let Some(o) = self.exec(ctx, &line, false) {
                return o;
            }
        }
    }

    /// Runs one line; `Some` when it ends the current period.
    pub(crate) fn exec(
        &mut self,
        ctx: &Ctx<'_, '_>,
        line: &str,
        forwarding: bool,
    ) -> Option<Outcome> {
        let cmd = match shell::parse_line(line) {
            Ok(Some(c)) => c,
            Ok(None) => return None,
            Err(e) => {
                println!("error: {e}");
                return None;
            }
        };
        match cmd {
            ShellCmd::Help(t) => print!("{}", shell::help(t.as_deref())),
            ShellCmd::Start if forwarding => println!("already forwarding"),
            ShellCmd::Start => return Some(Outcome::Start),
            ShellCmd::Stop if !forwarding => println!("already stopped"),
            ShellCmd::Stop => return Some(Outcome::Stop),
            ShellCmd::Quit => return Some(Outcome::Quit),
            ShellCmd::ShowPort { what, port } => show_port(ctx, what, port),
            ShellCmd::ClearPortStats(PortSel::One(n)) if usize::from(n) >= ctx.ports.len() => {
                println!(
                    "error: clear port stats: no port {n} (ports 0..{})",
                    ctx.ports.len().saturating_sub(1)
                )
            }
            ShellCmd::ClearPortStats(sel) => {
                for (i, p) in ctx.ports.iter().enumerate() {
                    if sel == PortSel::All || sel == PortSel::One(i as u16) {
                        match p.reset_stats() {
                            Ok(()) => println!("port {i}: statistics cleared"),
                            Err(e) => println!("port {i}: {e}"),
                        }
                    }
                }
            }
            ShellCmd::ShowFwdStats => summary(ctx, ctx.started.elapsed()),
            ShellCmd::ShowVeth { name, stats } => show_veth(ctx, name.as_deref(), stats),
            ShellCmd::ShowMacTable => {
                let tables = ctx.rcu.load();
                let e = ctx.learn.entries();
                println!(
                    "{} learned MACs (bridge; {} slots, {} times a MAC was not learned: its buckets were full); configured VM MACs:",
                    e.len(),
                    ctx.learn.capacity(),
                    ctx.learn.full()
                );
                for (mac, vlan, v, seen) in e {
                    let n = tables.veth(v).map(|x| x.cfg.name.as_str()).unwrap_or("?");
                    println!("  {mac}  vlan {vlan:<4}  veth {n}  seen {seen}");
                }
                for v in tables.veths() {
                    for m in &v.cfg.macs {
                        println!("  {}  veth {}", smoltcp_mac(m), v.cfg.name);
                    }
                }
            }
            ShellCmd::ShowVifList => match ctx.compiled() {
                Some(c) => {
                    for l in &c.vif_lists {
                        let m: Vec<&str> = l
                            .members
                            .iter()
                            .map(|i| c.veths[*i].name.as_str())
                            .collect();
                        println!("  {} id {} members {}", l.name, l.id, m.join(", "));
                    }
                    if c.vif_lists.is_empty() {
                        println!("no VIF lists");
                    }
                }
                None => println!("error: the control thread did not answer"),
            },
            ShellCmd::ShowConfig => print_response(ctx.control.call(Command::ShowConfig)),
            ShellCmd::ShowStatus => print_response(ctx.control.call(Command::Status)),
            ShellCmd::SaveConfig(f) => {
                print_response(ctx.control.call(Command::SaveConfig { path: f.into() }))
            }
            ShellCmd::LoadConfig(f) => {
                print_response(ctx.control.call(Command::LoadConfig { path: f.into() }))
            }
            ShellCmd::SetRole(_) | ShellCmd::SetEncap(_) if forwarding => {
                println!(
                    "error: stop forwarding first (the role and encapsulation change only when stopped)"
                )
            }
            ShellCmd::SetRole(r) => {
                return edited(ctx, |doc| {
                    doc.insert("role".into(), toml::Value::String(r.clone()));
                    Ok(())
                })
                .map(|text| Outcome::Replace {
                    what: format!("set role {r}"),
                    text,
                });
            }
            ShellCmd::SetEncap(e) => {
                return edited(ctx, |doc| {
                    doc.insert("encap".into(), toml::Value::String(e.clone()));
                    // Each vEth keeps its tag id under the new encapsulation's
                    // key (vif, ecid, svid; none has no id); the whole result is
                    // validated (an id out of the new range is refused).
                    let key = match e.as_str() {
                        "vntag" => Some("vif"),
                        "etag" => Some("ecid"),
                        "stag" => Some("svid"),
                        _ => None,
                    };
                    for (_, v) in table_at(doc, "veths")?.iter_mut() {
                        let toml::Value::Table(v) = v else { continue };
                        let id = ["vif", "ecid", "svid"].iter().find_map(|k| v.remove(*k));
                        if let (Some(k), Some(id)) = (key, id) {
                            v.insert(k.into(), id);
                        }
                    }
                    Ok(())
                })
                .map(|text| Outcome::Replace {
                    what: format!("set encap {e}"),
                    text,
                });
            }
            ShellCmd::VethAdd { name, fields } => edit(ctx, |doc| {
                let t = table_at(doc, "veths")?;
                if t.contains_key(&name) {
                    return Err(format!("vEth {name} exists (veth set changes it)"));
                }
                t.insert(name.clone(), toml::Value::Table(fields_table(&fields)?));
                Ok(())
            }),
            ShellCmd::VethSet { name, fields } => edit(ctx, |doc| {
                let t = table_at(doc, "veths")?;
                let Some(toml::Value::Table(v)) = t.get_mut(&name) else {
                    return Err(format!("no vEth {name}"));
                };
                v.extend(fields_table(&fields)?);
                // profile="" removes the profile (as in the control API).
                if v.get("profile").and_then(|p| p.as_str()) == Some("") {
                    v.remove("profile");
                }
                Ok(())
            }),
            // The control thread also drops it from the VIF lists.
            ShellCmd::VethDel(name) => print_response(ctx.control.call(Command::VethDel { name })),
            ShellCmd::ProfileAdd { name, fields } => edit(ctx, |doc| {
                let t = table_at(doc, "profiles")?;
                if t.contains_key(&name) {
                    return Err(format!("profile {name} exists (profile set changes it)"));
                }
                t.insert(name.clone(), toml::Value::Table(fields_table(&fields)?));
                Ok(())
            }),
            ShellCmd::ProfileSet { name, fields } => edit(ctx, |doc| {
                let t = table_at(doc, "profiles")?;
                let Some(toml::Value::Table(v)) = t.get_mut(&name) else {
                    return Err(format!("no profile {name}"));
                };
                v.extend(fields_table(&fields)?);
                Ok(())
            }),
            ShellCmd::ProfileDel(name) => {
                print_response(ctx.control.call(Command::ProfileDel { name }))
            }
            ShellCmd::VfCreate { pf, num_vfs } => match pf.parse() {
                Ok(pf) => print_response(ctx.control.call(Command::VfCreate { pf, num_vfs })),
                Err(e) => println!("error: vf create: {pf:?}: {e}"),
            },
            ShellCmd::VfDestroy(pf) => match pf.parse() {
                Ok(pf) => print_response(ctx.control.call(Command::VfDestroy { pf })),
                Err(e) => println!("error: vf destroy: {pf:?}: {e}"),
            },
            ShellCmd::VfSet { pf, vf, fields } => edit(ctx, |doc| {
                let Some(toml::Value::Array(pfs)) = doc.get_mut("sriov") else {
                    return Err(format!(
                        "no SR-IOV PF {pf} in the configuration (vf create first)"
                    ));
                };
                let Some(toml::Value::Table(p)) = pfs
                    .iter_mut()
                    .find(|p| p.get("pf").and_then(|v| v.as_str()) == Some(pf.as_str()))
                else {
                    return Err(format!(
                        "no SR-IOV PF {pf} in the configuration (vf create first)"
                    ));
                };
                let vfs = p
                    .entry("vf")
                    .or_insert_with(|| toml::Value::Array(Vec::new()));
                let toml::Value::Array(vfs) = vfs else {
                    return Err("sriov.vf is not an array".into());
                };
                let idx = vfs.iter().position(|v| {
                    v.get("index").and_then(|i| i.as_integer()) == Some(i64::from(vf))
                });
                let mut t = fields_table(&fields)?;
                t.insert("index".into(), toml::Value::Integer(i64::from(vf)));
                match idx {
                    Some(i) => {
                        if let toml::Value::Table(old) = &mut vfs[i] {
                            old.extend(t);
                        }
                    }
                    None => vfs.push(toml::Value::Table(t)),
                }
                Ok(())
            }),
        }
        None
    }
}

fn smoltcp_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A report of one error on one line ("1 error in ...:" and the message);
/// several errors keep a line each.
fn one_error_one_line(s: &str) -> String {
    let s = s.trim_end();
    if s.starts_with("1 error") && s.lines().count() == 2 {
        s.replacen('\n', " ", 1)
    } else {
        s.to_string()
    }
}

fn print_response(r: Response) {
    match r {
        Response::Ok(s) | Response::Text(s) => println!("{}", s.trim_end()),
        Response::Err(s) => println!("error: {}", one_error_one_line(&s)),
        Response::Tables(c) => println!("generation {}", c.generation),
    }
}

/// `key=value` settings as a TOML table (values in TOML syntax; a bare
/// word is taken as a string).
fn fields_table(fields: &[(String, String)]) -> Result<toml::Table, String> {
    let mut t = toml::Table::new();
    for (k, v) in fields {
        let parsed: Result<toml::Table, _> = format!("x = {v}").parse();
        let value = match parsed {
            Ok(mut p) => p.remove("x").unwrap_or(toml::Value::String(v.clone())),
            Err(_) => toml::Value::String(v.clone()),
        };
        // Dotted keys (policer.rate_bps=...) go into nested tables.
        let mut cur = &mut t;
        let parts: Vec<&str> = k.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            let e = cur
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = match e {
                toml::Value::Table(t) => t,
                _ => return Err(format!("{k}: {p} is not a table")),
            };
        }
        cur.insert(parts[parts.len() - 1].to_string(), value);
    }
    Ok(t)
}

fn table_at<'d>(doc: &'d mut toml::Table, key: &str) -> Result<&'d mut toml::Table, String> {
    match doc
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        toml::Value::Table(t) => Ok(t),
        _ => Err(format!("{key} is not a table")),
    }
}

/// Applies `f` to the running configuration and loads the result hitlessly
/// through the control thread: validated as a whole; on any error nothing
/// changes.
fn edit(ctx: &Ctx<'_, '_>, f: impl FnOnce(&mut toml::Table) -> Result<(), String>) {
    if let Some(text) = edited(ctx, f) {
        print_response(ctx.control.call(Command::LoadConfigText {
            name: "(running configuration + this command)".into(),
            text,
        }));
    }
}

/// The running configuration with `f` applied, as TOML text; `None` (the
/// error printed) when `f` refuses.
fn edited(
    ctx: &Ctx<'_, '_>,
    f: impl FnOnce(&mut toml::Table) -> Result<(), String>,
) -> Option<String> {
    let text = match ctx.control.call(Command::ShowConfig) {
        Response::Text(t) | Response::Ok(t) => t,
        other => {
            print_response(other);
            return None;
        }
    };
    let mut doc: toml::Table = match text.parse() {
        Ok(d) => d,
        Err(e) => {
            println!("error: the running configuration does not parse: {e}");
            return None;
        }
    };
    if let Err(e) = f(&mut doc) {
        println!("error: {e}");
        return None;
    }
    Some(doc.to_string())
}

fn show_port(ctx: &Ctx<'_, '_>, what: PortShow, sel: PortSel) {
    for (i, p) in ctx.ports.iter().enumerate() {
        if sel != PortSel::All && sel != PortSel::One(i as u16) {
            continue;
        }
        match what {
            PortShow::Info => {
                let mac = p.mac().map(|m| smoltcp_mac(&m)).unwrap_or_default();
                println!(
                    "port {i}: {} driver {} mac {mac} rxq {} txq {} link {:?}",
                    p.name(),
                    p.driver(),
                    p.rx_queues(),
                    p.tx_queues(),
                    p.link().ok()
                );
            }
            PortShow::Stats => match p.stats() {
                Ok(s) => println!(
                    "port {i}: {} rx {} tx {} rx-missed {} rx-errors {} tx-errors {} rx-nombuf {}",
                    p.name(),
                    s.ipackets,
                    s.opackets,
                    s.imissed,
                    s.ierrors,
                    s.oerrors,
                    s.rx_nombuf
                ),
                Err(e) => println!("port {i}: {e}"),
            },
            PortShow::Xstats => match p.xstats() {
                Ok(x) => {
                    println!("port {i}: {}", p.name());
                    for s in x {
                        println!("  {:<40} {}", s.name, s.value);
                    }
                }
                Err(e) => println!("port {i}: {e}"),
            },
        }
    }
    if let PortSel::One(n) = sel
        && usize::from(n) >= ctx.ports.len()
    {
        println!(
            "error: no port {n} (ports 0..{})",
            ctx.ports.len().saturating_sub(1)
        );
    }
}

fn show_veth(ctx: &Ctx<'_, '_>, name: Option<&str>, stats: bool) {
    let tables = ctx.rcu.load();
    let compiled = ctx.compiled();
    let mut found = false;
    for (i, v) in tables.veths().iter().enumerate() {
        if name.is_some_and(|n| n != v.cfg.name) {
            continue;
        }
        found = true;
        if stats {
            let (r, rb, x, xb, d) = ctx.veth_totals(i as u16);
            println!(
                "veth {}: from-vm {r} pkts {rb} B, to-vm {x} pkts {xb} B, drops {d}",
                v.cfg.name
            );
            for reason in DropReason::ALL {
                let n: u64 = ctx
                    .counters
                    .iter()
                    .map(|c| c.veth(i as u16).drops[reason.index()].get())
                    .sum();
                if n > 0 {
                    println!("  dropped {:<16} {n}", reason.name());
                }
            }
        } else {
            let c = compiled
                .as_ref()
                .and_then(|c| c.veths.iter().find(|x| x.name == v.cfg.name));
            println!(
                "veth {} port {} id {} profile {} rules {:?}",
                v.cfg.name,
                v.cfg.port,
                v.cfg.id,
                c.and_then(|c| c.profile.clone())
                    .unwrap_or_else(|| "-".into()),
                c.map(|c| &c.rules)
            );
            let r = &v.cfg.rules;
            if !r.acl.is_empty() {
                let how = if r.classifier.get().is_some() {
                    "decided by rte_acl, one call per burst"
                } else {
                    "scanned"
                };
                println!("  acl: {} rules, cache misses {how}", r.acl.len());
            }
        }
    }
    if !found {
        println!("error: no vEth {}", name.unwrap_or("(none configured)"));
    }
}
