//! Running one tool (vfex, dpdk-testpmd, or Open vSwitch through
//! [`crate::ovs`]) on one input and reading what it measured from its own
//! counters.

use crate::args::{Args, Input};
use crate::pcap::{self, Tag};
use crate::sys::{self, Proc};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// vfex's stats period in seconds.
pub const VFEX_PERIOD: f64 = 0.5;
/// testpmd's stats period (whole seconds only).
const TESTPMD_PERIOD: f64 = 1.0;

/// What every run shares: the arguments, memory settings, a scratch
/// directory (pcap files, memif sockets, perf CSV).
pub struct Env {
    /// The command line.
    pub args: Args,
    /// EAL memory arguments.
    pub mem: Vec<String>,
    /// Whether they use hugepages.
    pub huge: bool,
    /// Whether `perf stat` counts cycles.
    pub perf: bool,
    /// Scratch directory.
    pub tmp: PathBuf,
    seq: AtomicU32,
    /// The plain C forwarder, built on first use.
    cfwd: std::sync::OnceLock<Result<PathBuf, String>>,
}

impl Env {
    /// A fresh environment with its scratch directory.
    pub fn new(args: Args, mem: Vec<String>, huge: bool, perf: bool) -> Result<Env> {
        let tmp = std::env::temp_dir().join(format!("vfex-perf-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        sys::track_dir(&tmp, true);
        Ok(Env {
            args,
            mem,
            huge,
            perf,
            tmp,
            seq: AtomicU32::new(0),
            cfwd: std::sync::OnceLock::new(),
        })
    }

    /// A unique name for a file prefix, socket or CSV.
    pub fn unique(&self, what: &str) -> String {
        format!(
            "vfexperf{}-{what}{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The pcap file of `size`-byte frames behind `tag` (made once).
    pub fn pcap(&self, size: u16, tag: Tag) -> Result<PathBuf> {
        let p = self.tmp.join(format!("{size}-{}.pcap", tag.name()));
        if !p.exists() {
            pcap::generate(&p, size, tag, 256)?;
        }
        Ok(p)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.tmp).ok();
        sys::track_dir(&self.tmp, false);
    }
}

/// The conditions of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// Input kind.
    pub input: Input,
    /// Frame size in bytes, FCS included.
    pub frame: u16,
    /// Forwarding cores.
    pub workers: usize,
    /// The tag of the frames arriving on port 0 and port 1 (pcap input).
    pub port_tags: [Tag; 2],
}

impl Setup {
    /// Rx queues per port so that every worker has a stream (2 ports). On a
    /// net_ring loop each worker transmits on its own queue, whose packets
    /// come back on the rx queue of the same number: one per worker (and
    /// net_pcap has as many tx queues as rx files).
    pub fn rxq(&self) -> usize {
        match self.input {
            // net_pcap without a tx file has as many (dropping) tx queues as
            // rx files, and every worker needs a tx queue.
            Input::Ring | Input::Pcap => self.workers,
            _ => self.workers.div_ceil(2),
        }
    }

    /// EAL lcore arguments for the tool under test: main lcore 0, workers
    /// 1..=N (`-l 0-N`); where the machine has fewer than N + 1 CPUs, the
    /// lcores are mapped onto the CPUs in turn (`--lcores 0@0,1@1,2@0,...`)
    /// so that the run still works (its figures then mean nothing).
    pub fn eal_lcores(&self, cpus: usize) -> Vec<String> {
        let n = self.workers;
        if n < cpus.max(1) {
            vec![
                "-l".into(),
                if n == 1 {
                    "0,1".into()
                } else {
                    format!("0-{n}")
                },
            ]
        } else {
            let m: Vec<String> = (0..=n)
                .map(|l| format!("{l}@{}", l % cpus.max(1)))
                .collect();
            vec!["--lcores".into(), m.join(",")]
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Packets per second received, all ports, median of the steady periods.
    pub pps: f64,
    /// The steady periods' rates.
    pub periods: Vec<f64>,
    /// Packets received over the whole run (the tool's counters).
    pub rx: u64,
    /// Packets transmitted over the whole run.
    pub tx: u64,
    /// Drops by reason over the whole run.
    pub drops: Vec<(String, u64)>,
    /// TSC frequency (vfex prints it).
    pub tsc_hz: Option<f64>,
    /// CPU cycles per second that `perf stat` counted (busy intervals).
    pub cpu_cycles_per_s: Option<f64>,
    /// Cycles per packet as the tool itself counts them (OVS pmd-stats).
    pub own_cycles_per_packet: Option<f64>,
    /// `Ok` when the counters show the traffic was forwarded, else why not.
    pub forwarded: Result<(), String>,
    /// Warnings worth reporting.
    pub notes: Vec<String>,
}

impl Default for Measurement {
    fn default() -> Self {
        Measurement {
            pps: 0.0,
            periods: Vec::new(),
            rx: 0,
            tx: 0,
            drops: Vec::new(),
            tsc_hz: None,
            cpu_cycles_per_s: None,
            own_cycles_per_packet: None,
            forwarded: Err("not run".into()),
            notes: Vec::new(),
        }
    }
}

/// Checks from counters that traffic was forwarded: something received,
/// about as much sent (or dropped by a counted reason), few drops.
pub fn verify(rx: u64, tx: u64, drops: &[(String, u64)]) -> Result<(), String> {
    let dropped: u64 = drops.iter().map(|d| d.1).sum();
    if rx == 0 {
        return Err("received nothing".into());
    }
    if tx == 0 {
        return Err(format!("received {rx} packets but transmitted none"));
    }
    // In-flight frames (a few bursts per queue) may be neither.
    let slack = 8192;
    if ((tx + dropped + slack) as f64) < 0.99 * rx as f64 {
        return Err(format!(
            "received {rx}, transmitted {tx}, dropped {dropped}: packets unaccounted for"
        ));
    }
    if dropped as f64 > 0.01 * rx as f64 {
        let why: Vec<String> = drops
            .iter()
            .filter(|d| d.1 > 0)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        return Err(format!(
            "dropped {:.1} % of {rx} received ({})",
            100.0 * dropped as f64 / rx as f64,
            why.join(", ")
        ));
    }
    Ok(())
}

/// Steady-state rates: leading zero periods and `warmup` seconds skipped,
/// then `duration` seconds' worth of periods of `period` seconds.
pub fn steady(periods: &[f64], period: f64, warmup: f64, duration: f64) -> Vec<f64> {
    let skip = (warmup / period).ceil() as usize;
    let take = ((duration / period).round() as usize).max(1);
    periods
        .iter()
        .copied()
        .skip_while(|x| *x == 0.0)
        .skip(skip)
        .take(take)
        .collect()
}

/// Devices of `setup.input` for a DPDK tool; `memif_role` server or client
/// with `socket`.
pub fn devices(env: &Env, setup: &Setup, memif: Option<(&str, &Path)>) -> Result<Vec<String>> {
    let size = setup.frame - pcap::FCS_LEN;
    let mut v = Vec::new();
    for i in 0..2 {
        let d = match setup.input {
            Input::Null => format!("net_null{i},size={size}"),
            Input::Ring => format!("net_ring{i}"),
            Input::Pcap => {
                let f = env.pcap(setup.frame, setup.port_tags[i])?;
                // One rx_pcap per rx queue.
                let rx = vec![format!("rx_pcap={}", f.display()); setup.rxq()].join(",");
                format!("net_pcap{i},{rx},infinite_rx=1")
            }
            Input::Memif => {
                let (role, sock) = memif.context("memif input without a socket")?;
                format!(
                    "net_memif{i},role={role},id={i},socket={},socket-abstract=no{}",
                    sock.display(),
                    memif_rsize(env.args.memif_rsize)
                )
            }
        };
        v.push("--vdev".into());
        v.push(d);
    }
    Ok(v)
}

/// The `rsize` devargs of `--memif-rsize` (empty: DPDK's default).
pub fn memif_rsize(n: Option<u8>) -> String {
    n.map(|n| format!(",rsize={n}")).unwrap_or_default()
}

/// Values after `key` on whitespace-split text (`RX-packets: 12` -> 12).
fn after(line: &str, key: &str) -> Option<u64> {
    let mut w = line.split_whitespace();
    w.find(|t| *t == key)
        .and_then(|_| w.next())
        .and_then(|n| n.parse().ok())
}

/// vfex's period lines: `[ t s] total ... rx-pps N`.
pub fn parse_vfex_periods(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains("] total"))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|t| *t == "rx-pps")
                .and_then(|_| w.next())
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// vfex's summary: (rx, tx, drops by reason including tx_full), tsc-hz.
pub fn parse_vfex_summary(out: &str) -> (u64, u64, Vec<(String, u64)>, Option<f64>) {
    let (mut rx, mut tx, mut drops) = (0, 0, Vec::new());
    // A role's summary has tx_full per port only.
    let mut port_full = 0;
    for l in out.lines() {
        let t = l.trim_start();
        if t.starts_with("port ") && l.contains("RX-packets:") {
            port_full += after(l, "TX-dropped(tx_full):").unwrap_or(0);
        } else if t.starts_with("total") && l.contains("RX-packets:") {
            rx = after(l, "RX-packets:").unwrap_or(0);
            tx = after(l, "TX-packets:").unwrap_or(0);
            drops.push((
                "tx_full".to_owned(),
                after(l, "TX-dropped(tx_full):").unwrap_or(port_full),
            ));
        } else if let Some(r) = t.strip_prefix("dropped ") {
            let mut w = r.split_whitespace();
            if let (Some(name), Some(n)) = (w.next(), w.next().and_then(|n| n.parse().ok())) {
                drops.push((name.to_owned(), n));
            }
        }
    }
    let hz = out
        .split_whitespace()
        .skip_while(|w| *w != "tsc-hz")
        .nth(1)
        .and_then(|h| h.parse().ok());
    (rx, tx, drops, hz)
}

/// testpmd's periods: per port `Rx-pps: N`, summed per period.
pub fn parse_testpmd_periods(out: &str, nports: usize) -> Vec<f64> {
    let v: Vec<f64> = sys::strip_ansi(out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Rx-pps:"))
        .filter_map(|r| r.split_whitespace().next().and_then(|n| n.parse().ok()))
        .collect();
    v.chunks(nports)
        .filter(|c| c.len() == nports)
        .map(|c| c.iter().sum())
        .collect()
}

/// testpmd's accumulated forward statistics: (rx, tx, rx-dropped, tx-dropped).
pub fn parse_testpmd_summary(out: &str) -> (u64, u64, u64, u64) {
    let text = sys::strip_ansi(out);
    let acc = text
        .rfind("Accumulated forward statistics")
        .map(|i| &text[i..])
        .unwrap_or("");
    let (mut rx, mut tx, mut rxd, mut txd) = (0, 0, 0, 0);
    for l in acc.lines() {
        if let Some(n) = after(l, "RX-packets:") {
            rx = n;
            rxd = after(l, "RX-dropped:").unwrap_or(0);
        }
        if let Some(n) = after(l, "TX-packets:") {
            tx = n;
            txd = after(l, "TX-dropped:").unwrap_or(0);
        }
    }
    (rx, tx, rxd, txd)
}

/// The memif loop partner: a vfex io instance (client) that sends the first
/// burst once connected and sends every frame back out of the port it came
/// in on (`--port-topology loop`), so that, as on a net_ring loop, frames
/// alternate between the tool's two ports. `rxq` rx queues per port (the
/// server's tx queues: OVS transmits on queue 1).
pub fn memif_partner(env: &Env, setup: &Setup, sock: &Path, rxq: usize) -> Result<(Proc, String)> {
    let prefix = env.unique("partner");
    let p = setup.workers + 1;
    let lc: Vec<String> = if sys::cpus() > p {
        vec!["-l".into(), format!("0,{p}")]
    } else {
        vec!["-l".into(), "0,1".into(), "--main-lcore".into(), "1".into()]
    };
    let mut cmd = std::process::Command::new(&env.args.vfex);
    cmd.args(&lc)
        .args(["--no-pci", "--file-prefix", &prefix])
        .args(&env.mem)
        .args(devices(env, setup, Some(("client", sock)))?)
        .args([
            "--",
            "--forward-mode",
            "io",
            "--duration",
            "0",
            "--stats-period",
            "0",
            "--tx-first",
            "--port-topology",
            "loop",
        ])
        .args(["--rxq", &rxq.to_string()])
        .args(["--txpkts", &(setup.frame - pcap::FCS_LEN).to_string()]);
    Ok((Proc::spawn(cmd, "the memif partner (vfex)")?, prefix))
}

fn wait_socket(sock: &Path) {
    for _ in 0..100 {
        if sock.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs vfex with `mode` and `extra` options on `setup`.
pub fn run_vfex(env: &Env, setup: &Setup, mode: &str, extra: &[String]) -> Result<Measurement> {
    run_fwd(env, setup, &env.args.vfex, "vfex", mode, extra)
}

/// The plain C tag forwarder's source (`perf/peers/ctagfwd.c`), carried in
/// the binary so that the harness builds it wherever it runs.
const CFWD_SRC: &str = include_str!("../peers/ctagfwd.c");

/// Builds the plain C forwarder once (`cc -O3 -march=native`, flags from
/// `pkg-config libdpdk`) into the scratch directory; its path, or why not.
pub fn cfwd_binary(env: &Env) -> Result<PathBuf, String> {
    env.cfwd
        .get_or_init(|| {
            let src = env.tmp.join("ctagfwd.c");
            let bin = env.tmp.join("ctagfwd");
            std::fs::write(&src, CFWD_SRC).map_err(|e| format!("{}: {e}", src.display()))?;
            let flags = Command::new("pkg-config")
                .args(["--cflags", "--libs", "libdpdk"])
                .output()
                .map_err(|e| format!("pkg-config: {e} (scripts/setup.sh installs it)"))?;
            if !flags.status.success() {
                return Err(
                    "pkg-config finds no libdpdk (scripts/setup.sh installs libdpdk-dev)".into(),
                );
            }
            let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
            let out = Command::new("cc")
                .args(["-O3", "-march=native", "-o"])
                .arg(&bin)
                .arg(&src)
                .args(flags.split_whitespace())
                .output()
                .map_err(|e| format!("cc: {e} (scripts/setup.sh installs build-essential)"))?;
            if !out.status.success() {
                return Err(format!(
                    "building ctagfwd.c failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            Ok(bin)
        })
        .clone()
}

/// Runs the plain C tag forwarder in `mode` on `setup` (one worker; the
/// ring loop and the other single-worker inputs).
pub fn run_cfwd(env: &Env, setup: &Setup, mode: &str) -> Result<Measurement> {
    if setup.workers != 1 {
        bail!("the plain C forwarder runs one worker only");
    }
    let bin = cfwd_binary(env).map_err(|e| anyhow::anyhow!(e))?;
    run_fwd(env, setup, &bin.to_string_lossy(), "ctagfwd", mode, &[])
}

/// Runs `bin` (vfex, or a tool with vfex's forwarding command line and
/// output) with `--forward-mode mode` on `setup` for the warm-up and the
/// duration.
fn run_fwd(
    env: &Env,
    setup: &Setup,
    bin: &str,
    name: &str,
    mode: &str,
    extra: &[String],
) -> Result<Measurement> {
    let a = &env.args;
    let prefix = env.unique(name);
    let csv = env.tmp.join(format!("{prefix}.csv"));
    let sock = env.tmp.join(format!("{prefix}.sock"));
    let memif = setup.input == Input::Memif;
    let slack = if memif { 3.0 } else { VFEX_PERIOD + 0.1 };
    let mut cmd = sys::command(
        bin,
        env.perf
            .then_some((csv.as_path(), (VFEX_PERIOD * 1000.0) as u64)),
    );
    cmd.args(setup.eal_lcores(sys::cpus()))
        .args(["--no-pci", "--file-prefix", &prefix])
        .args(&env.mem)
        .args(devices(
            env,
            setup,
            memif.then_some(("server", sock.as_path())),
        )?)
        .args(["--", "--forward-mode", mode])
        .args([
            "--nb-cores",
            &setup.workers.to_string(),
            "--rxq",
            &setup.rxq().to_string(),
        ])
        .args(["--stats-period", &VFEX_PERIOD.to_string()])
        .args([
            "--duration",
            &format!("{:.1}", a.warmup + a.duration + slack),
        ])
        .args(extra);
    if setup.input == Input::Ring {
        cmd.args([
            "--tx-first",
            "--txpkts",
            &(setup.frame - pcap::FCS_LEN).to_string(),
        ]);
    }
    let dut = Proc::spawn(cmd, name)?;
    let partner = if memif {
        wait_socket(&sock);
        Some(memif_partner(env, setup, &sock, setup.rxq())?)
    } else {
        None
    };
    let limit = Duration::from_secs_f64(a.warmup + a.duration + slack + 60.0);
    let (ok, out, err) = dut.finish(limit);
    if let Some((p, pre)) = partner {
        p.interrupt();
        sys::remove_runtime_dir(&pre);
    }
    sys::remove_runtime_dir(&prefix);
    std::fs::remove_file(&sock).ok();
    let cps = if env.perf {
        sys::cycles_per_sec(&csv)
    } else {
        None
    };
    std::fs::remove_file(&csv).ok();
    if !ok {
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!("{name} --forward-mode {mode} failed: {}", tail.join(" | "));
    }
    let periods = steady(&parse_vfex_periods(&out), VFEX_PERIOD, a.warmup, a.duration);
    let (rx, tx, drops, hz) = parse_vfex_summary(&out);
    if hz.is_none() {
        // perf stat may exit 0 when the tool did not start.
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "{name} --forward-mode {mode} did not run: {}",
            tail.join(" | ")
        );
    }
    let mut m = Measurement {
        pps: crate::stats::median(&periods),
        periods,
        rx,
        tx,
        forwarded: verify(rx, tx, &drops),
        drops,
        tsc_hz: hz,
        cpu_cycles_per_s: cps,
        ..Measurement::default()
    };
    if m.periods.is_empty() {
        m.forwarded = Err("no steady period (run too short?)".into());
    }
    Ok(m)
}

/// Runs `dpdk-testpmd --forward-mode=mode` on `setup` until it has printed
/// the warm-up and measured periods, then stops it with SIGINT.
pub fn run_testpmd(env: &Env, setup: &Setup, mode: &str) -> Result<Measurement> {
    let a = &env.args;
    let prefix = env.unique("testpmd");
    let csv = env.tmp.join(format!("{prefix}.csv"));
    let sock = env.tmp.join(format!("{prefix}.sock"));
    let memif = setup.input == Input::Memif;
    let mut cmd = sys::command(&a.testpmd, env.perf.then_some((csv.as_path(), 1000)));
    let q = setup.rxq().to_string();
    cmd.args(setup.eal_lcores(sys::cpus()))
        .args(["--no-pci", "--file-prefix", &prefix])
        .args(&env.mem)
        .args(devices(
            env,
            setup,
            memif.then_some(("server", sock.as_path())),
        )?)
        .args([
            "--",
            &format!("--forward-mode={mode}"),
            &format!("--nb-cores={}", setup.workers),
        ])
        .args([
            format!("--rxq={q}"),
            format!("--txq={q}"),
            format!("--burst={}", a.burst),
        ])
        .args(["--stats-period", "1"]);
    if setup.input == Input::Ring {
        cmd.args([
            "--tx-first".to_owned(),
            format!("--txpkts={}", setup.frame - pcap::FCS_LEN),
        ]);
    }
    let mut dut = Proc::spawn(cmd, &a.testpmd)
        .with_context(|| "dpdk-testpmd (package dpdk; scripts/setup.sh installs it)")?;
    let partner = if memif {
        wait_socket(&sock);
        Some(memif_partner(env, setup, &sock, setup.rxq())?)
    } else {
        None
    };
    let want = (a.warmup / TESTPMD_PERIOD).ceil() as usize
        + ((a.duration / TESTPMD_PERIOD).round() as usize).max(1);
    dut.wait_for(
        Duration::from_secs_f64(a.warmup + a.duration + 60.0),
        |out| {
            parse_testpmd_periods(out, 2)
                .into_iter()
                .skip_while(|x| *x == 0.0)
                .count()
                > want
        },
    );
    let (_, out, err) = dut.interrupt();
    if let Some((p, pre)) = partner {
        p.interrupt();
        sys::remove_runtime_dir(&pre);
    }
    sys::remove_runtime_dir(&prefix);
    std::fs::remove_file(&sock).ok();
    let cps = if env.perf {
        sys::cycles_per_sec(&csv)
    } else {
        None
    };
    std::fs::remove_file(&csv).ok();
    let all = parse_testpmd_periods(&out, 2);
    if all.is_empty() {
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "testpmd --forward-mode={mode} printed no stats: {}",
            tail.join(" | ")
        );
    }
    let periods = steady(&all, TESTPMD_PERIOD, a.warmup, a.duration);
    let (rx, tx, rxd, txd) = parse_testpmd_summary(&out);
    let drops = vec![
        ("rx_dropped".to_owned(), rxd),
        ("tx_dropped".to_owned(), txd),
    ];
    let mut m = Measurement {
        pps: crate::stats::median(&periods),
        periods,
        rx,
        tx,
        forwarded: verify(rx, tx, &drops),
        drops,
        cpu_cycles_per_s: cps,
        ..Measurement::default()
    };
    if m.periods.is_empty() {
        m.forwarded = Err("no steady period (run too short?)".into());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_testpmd() {
        let out = "\x1b[2J\x1b[1;1H  ######## NIC statistics for port 0 ###\n  Rx-pps:     100          Rx-bps: 0\n  Rx-pps:     50  Rx-bps: 0\n  Rx-pps: 7\n  Rx-pps: 3\n\
  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++\n  RX-packets: 1000       RX-dropped: 2             RX-total: 1002\n  TX-packets: 990        TX-dropped: 10            TX-total: 1000\n";
        assert_eq!(parse_testpmd_periods(out, 2), vec![150.0, 10.0]);
        assert_eq!(parse_testpmd_summary(out), (1000, 990, 2, 10));
    }

    #[test]
    fn parses_vfex() {
        let out = "stag forwarding on 1 core(s) (lcores 1), 2 stream(s), topology Paired, memory: hugepages, tsc-hz 2250000000\n\
[    1.0 s] port 0 x rx-pps 5 tx-pps 5\n[    1.0 s] total                rx-pps    32121512  tx-pps 1\n\
  total               RX-packets: 900            TX-packets: 880            TX-dropped(tx_full): 10\n  dropped bad_tag          10\n";
        assert_eq!(parse_vfex_periods(out), vec![32121512.0]);
        let (rx, tx, drops, hz) = parse_vfex_summary(out);
        assert_eq!((rx, tx, hz), (900, 880, Some(2.25e9)));
        assert_eq!(
            drops,
            vec![("tx_full".to_owned(), 10), ("bad_tag".to_owned(), 10)]
        );
    }

    #[test]
    fn parses_a_roles_summary() {
        let out = "port-extender (vntag) on 1 core(s) (lcores 1), 3 ports, 2 vEths, 0 VIF lists, memory: hugepages, kernels avx2, tsc-hz 2250000000\n\
[    0.5 s] total                rx-pps      476032  tx-pps      475969  per-core-pps 476032 (1 cores) = 0.48 Mpps/core\n\
  port 0 net_pcap0    RX-packets: 100            TX-packets: 200            TX-dropped(tx_full): 3\n\
  port 1 net_pcap1    RX-packets: 100            TX-packets: 0              TX-dropped(tx_full): 4\n\
  total               RX-packets: 200            TX-packets: 200\n\
  veth vm0          from-vm 100 (6000 B)  to-vm 0 (0 B)  drops 2\n\
  dropped mac_spoof        2\n";
        assert_eq!(parse_vfex_periods(out), vec![476032.0]);
        let (rx, tx, drops, hz) = parse_vfex_summary(out);
        assert_eq!((rx, tx, hz), (200, 200, Some(2.25e9)));
        assert_eq!(
            drops,
            vec![("tx_full".to_owned(), 7), ("mac_spoof".to_owned(), 2)]
        );
    }

    #[test]
    fn steady_skips_warmup() {
        let p = [0.0, 0.0, 5.0, 10.0, 11.0, 12.0, 13.0, 3.0];
        assert_eq!(steady(&p, 0.5, 0.5, 1.0), vec![10.0, 11.0]);
        assert_eq!(steady(&p, 1.0, 0.0, 3.0), vec![5.0, 10.0, 11.0]);
    }

    #[test]
    fn lcores_fit_the_machine() {
        let s = |w| Setup {
            input: Input::Null,
            frame: 64,
            workers: w,
            port_tags: [Tag::None; 2],
        };
        assert_eq!(s(1).eal_lcores(16), ["-l", "0,1"]);
        assert_eq!(s(8).eal_lcores(16), ["-l", "0-8"]);
        assert_eq!(s(2).eal_lcores(2), ["--lcores", "0@0,1@1,2@0"]);
        assert_eq!(s(2).rxq(), 1);
        assert_eq!(s(8).rxq(), 4);
        let ring = Setup {
            input: Input::Ring,
            ..s(4)
        };
        assert_eq!(ring.rxq(), 4);
    }

    #[test]
    fn verification() {
        assert!(verify(0, 0, &[]).unwrap_err().contains("received nothing"));
        assert!(verify(1_000_000, 0, &[]).unwrap_err().contains("none"));
        assert!(verify(1_000_000, 999_000, &[]).is_ok());
        assert!(
            verify(1_000_000, 500_000, &[])
                .unwrap_err()
                .contains("unaccounted")
        );
        let d = vec![("bad_tag".to_owned(), 500_000)];
        assert!(
            verify(1_000_000, 500_000, &d)
                .unwrap_err()
                .contains("bad_tag 500000")
        );
    }
}
