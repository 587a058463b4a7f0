//! The soak (issue 8, item 4): vfex as a VN-Tag port extender from a
//! configuration file, its VM ports and uplink on net_memif, driven by
//! `vfex --gen-rate` at `--soak-load` % (90) of the zero-loss rate for
//! `--minutes` (10), its rules changed every `--reload-period` (1 s) by
//! rewriting the file and sending SIGHUP (vfex reloads hitlessly).
//!
//! * **Pipeline**: `--veths` (4) VM ports `vm0..` (memif id 0 for `vm0`,
//!   the generator's port 0; ids 2.. for the others, configured but idle),
//!   the uplink (memif id 1, the generator's port 1); a vEth per VM port
//!   (VIF `k + 1`, MAC anti-spoof for its MAC), a profile with a 16-rule
//!   ACL (14 rules the traffic does not match, the permit that it does, a
//!   final deny) and an srTCM policer, and the per-vEth counters. The
//!   generator's frames (one flow: `02:00:00:00:00:01` -> `..:02`,
//!   198.18.0.1 -> 198.19.0.1 UDP 1024, TSC-stamped) come from `vm0`'s MAC:
//!   vfex tags them and sends them up.
//! * **Zero-loss rate**: the RFC 2544 binary search of [`latency::run`]
//!   on this pipeline with the `open` rules (`--duration`, `--warmup`,
//!   `--loss`, `--resolution` as for `rfc2544`).
//! * **Rule changes**: the rule sets in turn ([`CYCLE`]) are `open`
//!   (nothing dropped), `police` (the policer at [`POLICE_SHARE`] of the
//!   offered bit rate: about half the frames `policed`), `open`, `deny` (an
//!   ACL rule above the permit denies the generator's flow: every frame
//!   `acl_deny`). Each reload is confirmed by the table version in
//!   `/vfex/tables` (telemetry), and the counters are read at the start and
//!   the end of each period, so that each period's drops can be checked
//!   against the rule set then in force.
//! * **Memory**: every `--sample-period` (5 s), vfex's VmRSS
//!   (`/proc/PID/status`) and the mbufs in use in its pool (vfex's
//!   telemetry `/vfex/mempools`; DPDK 22.11's `/mempool/info` has no
//!   counts), plus the load average and the CPU time the hypervisor stole.
//!   While idle before and after the traffic, `dpdk-proc-info
//!   --show-mempool` reads the pool too, as a secondary process (vfex runs
//!   on hugepages with shared memory, not `--in-memory`, here), and the
//!   two readings must agree; not during the run, where a secondary
//!   process would take about 0.13 s of CPU 0 from the generator every
//!   sample.
//!
//! The verdict ([`verdict`]) is PASS when every check holds; see
//! [`Check`] and the report's list.

use crate::latency::{self, Dut, SOCKET};
use crate::roles::{mac_text, vm_mac};
use crate::sys::{self, Proc};
use crate::telemetry::Telemetry;
use crate::tools::{self, Env};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The UDP destination port of the generator's frames (`vfex --gen-rate`).
pub const GEN_UDP_DST: u16 = 1024;
/// The share of the offered bit rate that the `police` rule set lets pass.
pub const POLICE_SHARE: f64 = 0.5;
/// The policer's burst in the `police` rule set, in frames.
pub const POLICE_BURST_FRAMES: u64 = 64;
/// RSS growth after the warm-up that fails the soak.
pub const RSS_GROWTH_LIMIT_KIB: u64 = 1024;
/// Drop reasons that the rule sets cause.
pub const RULE_REASONS: [&str; 2] = ["acl_deny", "policed"];
/// Wait after a reload is confirmed before the period's first reading
/// (a worker finishes the burst it holds with the previous tables).
const SETTLE: Duration = Duration::from_millis(20);

/// One of the rule sets the soak alternates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSet {
    /// The ACL permits the flow, the policer passes everything.
    Open,
    /// The policer at [`POLICE_SHARE`] of the offered bit rate.
    Police,
    /// An ACL rule above the permit denies the flow.
    Deny,
}

impl RuleSet {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            RuleSet::Open => "open",
            RuleSet::Police => "police",
            RuleSet::Deny => "deny",
        }
    }

    /// The drop reason it causes, if any.
    pub fn causes(self) -> Option<&'static str> {
        match self {
            RuleSet::Open => None,
            RuleSet::Police => Some("policed"),
            RuleSet::Deny => Some("acl_deny"),
        }
    }
}

/// The rule sets in turn, one per reload period.
pub const CYCLE: [RuleSet; 4] = [RuleSet::Open, RuleSet::Police, RuleSet::Open, RuleSet::Deny];

/// The rule set of configuration `k` (0: the file vfex starts with; `k`:
/// after the `k`-th reload).
pub fn rule_set(k: usize) -> RuleSet {
    CYCLE[k % CYCLE.len()]
}

/// The `police` set's policer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Police {
    /// Committed rate, bits per second (vfex's `rate_bps`).
    pub rate_bps: u64,
    /// Committed burst, bytes.
    pub burst_bytes: u64,
    /// Bytes of each frame as the policer counts them (no FCS).
    pub frame_bytes: u64,
}

impl Police {
    /// [`POLICE_SHARE`] of `pps` frames of `frame` bytes (FCS included).
    pub fn for_rate(pps: f64, frame: u16) -> Police {
        let bytes = u64::from(frame - crate::pcap::FCS_LEN);
        Police {
            rate_bps: ((pps * bytes as f64 * 8.0 * POLICE_SHARE) as u64).max(1_000_000),
            burst_bytes: (POLICE_BURST_FRAMES * bytes).max(64),
            frame_bytes: bytes,
        }
    }

    /// Frames it passes in `secs` seconds, starting with a full bucket.
    pub fn passes(&self, secs: f64) -> f64 {
        (self.rate_bps as f64 / 8.0 * secs + self.burst_bytes as f64) / self.frame_bytes as f64
    }
}

/// The ACL of rule set `set` (TOML inline tables).
pub fn acl(set: RuleSet) -> Vec<String> {
    let mut v = crate::roles::acl_rules(GEN_UDP_DST);
    if set == RuleSet::Deny {
        // Above the permit (the last but one rule).
        let at = v.len() - 2;
        v.insert(
            at,
            format!(
                "{{ action = \"deny\", src_ip = \"198.18.0.0/15\", proto = \"udp\", dst_port = {GEN_UDP_DST} }}"
            ),
        );
    }
    v
}

/// The memif devargs of port `name` (`uplink`, `vm0`, ...): the uplink is
/// memif id 1, `vm0` id 0, `vmK` id `K + 1`.
pub fn memif_devargs(name: &str) -> String {
    let id = match name {
        "uplink" => 1,
        _ => match name.strip_prefix("vm").and_then(|k| k.parse::<u32>().ok()) {
            Some(0) | None => 0,
            Some(k) => k + 1,
        },
    };
    format!("net_memif{id},role=server,id={id},socket={SOCKET},socket-abstract=no")
}

/// vfex's configuration with rule set `set` ([`SOCKET`] for the memif
/// socket's path).
pub fn config(veths: u32, set: RuleSet, police: &Police) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by vfex-perf soak: rule set {}\nrole = \"port-extender\"\nencap = \"vntag\"\n",
        set.name()
    );
    let mut ports = vec!["uplink".to_owned()];
    ports.extend((0..veths).map(|k| format!("vm{k}")));
    for p in &ports {
        let kind = if p == "uplink" { "uplink" } else { "downlink" };
        let _ = writeln!(
            s,
            "[ports.{p}]\nkind = \"{kind}\"\ndevargs = \"{}\"\n",
            memif_devargs(p)
        );
    }
    let (rate, burst) = match set {
        RuleSet::Police => (police.rate_bps, police.burst_bytes),
        _ => (1_000_000_000_000, 16_777_216),
    };
    let _ = writeln!(
        s,
        "[profiles.vm]\npolicer = {{ rate_bps = {rate}, burst_bytes = {burst} }}\nacl = [\n  {},\n]\n",
        acl(set).join(",\n  ")
    );
    for k in 0..veths {
        let m = mac_text(vm_mac(k));
        let _ = writeln!(
            s,
            "[veths.vm{k}]\nport = \"vm{k}\"\nvif = {}\nmac = \"{m}\"\nprofile = \"vm\"\nanti_spoof = {{ allowed_macs = [\"{m}\"] }}\n",
            k + 1
        );
    }
    s
}

/// One reading of vfex's counters through telemetry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Seconds since the soak's traffic started.
    pub t: f64,
    /// Table version (`/vfex/tables`).
    pub version: u64,
    /// Frames received on vm0 (`/ethdev/stats,1` ipackets).
    pub vm_rx: u64,
    /// Frames sent on the uplink (`/ethdev/stats,0` opackets).
    pub up_tx: u64,
    /// Drops by reason, all vEths and ports (`/vfex/drops`).
    pub drops: BTreeMap<String, u64>,
    /// The worker's stalls so far: poll-loop gaps of at least 1 ms
    /// (`/vfex/workers`, all workers).
    pub stalls: u64,
    /// The longest stall so far, in microseconds.
    pub longest_stall_us: u64,
}

impl Counters {
    fn drop(&self, r: &str) -> u64 {
        self.drops.get(r).copied().unwrap_or(0)
    }
}

/// One reload period: the rule set in force and the counters at its start
/// (after the reload was confirmed) and its end (before the next one).
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// Index of the configuration (0: the first file).
    pub k: usize,
    /// Its rule set.
    pub set: RuleSet,
    /// At the start.
    pub start: Counters,
    /// At the end.
    pub end: Counters,
}

impl Period {
    /// Seconds between the readings.
    pub fn secs(&self) -> f64 {
        self.end.t - self.start.t
    }

    /// Growth of drop reason `r`.
    pub fn delta(&self, r: &str) -> u64 {
        self.end.drop(r).saturating_sub(self.start.drop(r))
    }

    /// Frames received from the VM.
    pub fn rx(&self) -> u64 {
        self.end.vm_rx.saturating_sub(self.start.vm_rx)
    }

    /// Frames sent up.
    pub fn tx(&self) -> u64 {
        self.end.up_tx.saturating_sub(self.start.up_tx)
    }

    /// Drops by reasons that no rule set causes (e.g. `tx_full`).
    pub fn other_drops(&self) -> Vec<(String, u64)> {
        self.end
            .drops
            .keys()
            .filter(|r| !RULE_REASONS.contains(&r.as_str()))
            .map(|r| (r.clone(), self.delta(r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Whether the period's rule drops are those of its rule set: `open`
    /// drops nothing by rule; `police` drops some frames as `policed` and
    /// none as `acl_deny`, and forwards; `deny` drops as `acl_deny`, none
    /// as `policed`, and forwards nothing. Also: the version is the one
    /// this configuration was published with, and stayed so.
    pub fn check(&self, first_version: u64) -> Result<(), String> {
        let want = first_version + self.k as u64;
        if self.start.version != want || self.end.version != want {
            return Err(format!(
                "table version {}..{} (configuration {} is version {want})",
                self.start.version, self.end.version, self.k
            ));
        }
        let (acl, pol) = (self.delta("acl_deny"), self.delta("policed"));
        let bad = match self.set {
            RuleSet::Open => {
                (acl > 0 || pol > 0).then(|| format!("acl_deny +{acl}, policed +{pol}"))
            }
            RuleSet::Police => (acl > 0 || (self.rx() > 0 && (pol == 0 || self.tx() == 0)))
                .then(|| format!("acl_deny +{acl}, policed +{pol}, sent up {}", self.tx())),
            RuleSet::Deny => (pol > 0 || self.tx() > 0 || (self.rx() > 0 && acl == 0))
                .then(|| format!("acl_deny +{acl}, policed +{pol}, sent up {}", self.tx())),
        };
        match bad {
            Some(b) => Err(format!("{} period: {b}", self.set.name())),
            None => Ok(()),
        }
    }
}

/// One memory (and machine) sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemSample {
    /// Seconds since the soak's traffic started (negative: before).
    pub t: f64,
    /// Phase: `idle-before`, `run`, `idle-after`.
    pub phase: &'static str,
    /// vfex's VmRSS in KiB.
    pub rss_kib: u64,
    /// Mbufs in use in vfex's pool (its telemetry, `/vfex/mempools`).
    pub mbufs_in_use: Option<u64>,
    /// The same read by `dpdk-proc-info` as a secondary process: an
    /// independent reading, taken only while idle (a secondary process
    /// costs about 0.13 s of CPU 0, which the generator shares during the
    /// run).
    pub mbufs_proc_info: Option<u64>,
    /// 1-minute load average.
    pub load1: f64,
    /// Share of CPU time stolen by the hypervisor since the last sample.
    pub steal: f64,
    /// vfex's worker thread since the last sample: shares of the time on
    /// its CPU and runnable but waiting for it (schedstat).
    pub worker: Option<(f64, f64)>,
    /// The generator's thread, the same.
    pub generator: Option<(f64, f64)>,
}

/// The generator's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenTotals {
    /// Frames handed to its tx queue.
    pub sent: u64,
    /// Frames its tx queue refused (vfex's rx ring full).
    pub tx_failed: u64,
    /// Stamped frames received back.
    pub received: u64,
    /// Other frames received.
    pub foreign: u64,
    /// Seconds it sent for (plus its 0.2 s drain).
    pub seconds: f64,
}

/// Parses the generator's summary line.
pub fn parse_gen_totals(out: &str) -> Option<GenTotals> {
    let line = out.lines().find(|l| l.starts_with("gen: "))?;
    let w: Vec<&str> = line.split_whitespace().collect();
    let num = |k: &str| -> Option<f64> {
        w.windows(2)
            .find(|p| p[0] == k)
            .and_then(|p| p[1].parse().ok())
    };
    Some(GenTotals {
        sent: num("sent")? as u64,
        tx_failed: num("tx-failed")? as u64,
        received: num("received")? as u64,
        foreign: num("foreign")? as u64,
        seconds: num("seconds")?,
    })
}

/// A port's counters at the end: vfex's own (summary) and its PMD's
/// (`/ethdev/stats`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortTotals {
    /// Name in the configuration.
    pub name: String,
    /// vfex: received.
    pub rx: u64,
    /// vfex: transmitted.
    pub tx: u64,
    /// vfex: refused by the tx queue.
    pub tx_full: u64,
    /// PMD: ipackets, opackets, rx_nombuf, imissed + ierrors + oerrors.
    pub pmd: Option<(u64, u64, u64, u64)>,
}

/// Parses a role's summary port lines (`port I NAME RX-packets: ...`).
pub fn parse_ports(out: &str) -> Vec<(u64, u64, u64)> {
    let after = |l: &str, k: &str| -> u64 {
        let mut w = l.split_whitespace();
        w.find(|t| *t == k)
            .and_then(|_| w.next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    out.lines()
        .filter(|l| l.trim_start().starts_with("port ") && l.contains("RX-packets:"))
        .map(|l| {
            (
                after(l, "RX-packets:"),
                after(l, "TX-packets:"),
                after(l, "TX-dropped(tx_full):"),
            )
        })
        .collect()
}

/// Drops by reason from a role's summary: its `dropped REASON N` lines,
/// and `tx_full` as the sum of the ports' `TX-dropped(tx_full)` (a role
/// counts it per port).
pub fn summary_drops(out: &str) -> Vec<(String, u64)> {
    let (_, _, drops, _) = crate::tools::parse_vfex_summary(out);
    let full: u64 = parse_ports(out).iter().map(|p| p.2).sum();
    let mut v: Vec<(String, u64)> = drops.into_iter().filter(|d| d.0 != "tx_full").collect();
    v.push(("tx_full".into(), full));
    v
}

/// Everything the verdict is made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Soak seconds (reload loop).
    pub seconds: f64,
    /// Offered frames per second.
    pub offered_pps: f64,
    /// The generator's totals.
    pub generator: GenTotals,
    /// Per port, configuration order (0: uplink, 1: vm0, ...).
    pub ports: Vec<PortTotals>,
    /// vfex's drops by reason at the end (summary; `tx_full` included).
    pub drops: Vec<(String, u64)>,
    /// Reloads sent (SIGHUP).
    pub reloads_sent: usize,
    /// Reloads confirmed (the table version moved to the next one).
    pub reloads_applied: usize,
    /// Reload failures (vfex's message, or a version that did not move).
    pub reload_errors: Vec<String>,
    /// Milliseconds from each SIGHUP to its table version in telemetry.
    pub reload_ms: Vec<f64>,
    /// Table version of the first file.
    pub first_version: u64,
    /// The periods.
    pub periods: Vec<Period>,
    /// Memory samples.
    pub mem: Vec<MemSample>,
    /// Seconds after the start before RSS must be flat.
    pub warmup_s: f64,
    /// vfex's warning at exit about mbufs still in use, if it printed one.
    pub exit_leak: Option<String>,
    /// The police set's policer.
    pub police: Option<Police>,
}

/// One line of the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// The figures behind it.
    pub detail: String,
}

impl Figures {
    fn drop(&self, r: &str) -> u64 {
        self.drops
            .iter()
            .filter(|(n, _)| n == r)
            .map(|(_, c)| *c)
            .sum()
    }

    /// Drops by the rules (`acl_deny` + `policed`).
    pub fn rule_drops(&self) -> u64 {
        RULE_REASONS.iter().map(|r| self.drop(r)).sum()
    }

    /// Drops by any other reason, with their names.
    pub fn other_drops(&self) -> Vec<(String, u64)> {
        let mut v: BTreeMap<String, u64> = BTreeMap::new();
        for (r, n) in &self.drops {
            if !RULE_REASONS.contains(&r.as_str()) && *n > 0 {
                *v.entry(r.clone()).or_default() += n;
            }
        }
        v.into_iter().collect()
    }

    /// Frames the generator tried to send and did not get back, less the
    /// rule drops: the loss the rules do not explain.
    pub fn unexplained_loss(&self) -> i128 {
        i128::from(self.generator.sent + self.generator.tx_failed)
            - i128::from(self.generator.received)
            - i128::from(self.rule_drops())
    }

    /// Policed frames expected in the `police` periods (full bucket at
    /// the reload, then the committed rate) and counted.
    pub fn police_expected(&self) -> Option<(f64, u64)> {
        let p = self.police?;
        let mut exp = 0.0;
        let mut got = 0;
        for x in self.periods.iter().filter(|x| x.set == RuleSet::Police) {
            exp += (x.rx() as f64 - p.passes(x.secs())).max(0.0);
            got += x.delta("policed");
        }
        Some((exp, got))
    }

    fn run_samples(&self) -> impl Iterator<Item = &MemSample> {
        self.mem.iter().filter(|m| m.phase == "run")
    }

    /// RSS at the end of the warm-up and its largest growth after it, KiB.
    pub fn rss_growth(&self) -> Option<(u64, i64)> {
        let base = self
            .run_samples()
            .filter(|m| m.t <= self.warmup_s)
            .last()
            .or_else(|| self.run_samples().next())?
            .rss_kib;
        let max = self
            .run_samples()
            .filter(|m| m.t > self.warmup_s)
            .map(|m| m.rss_kib)
            .max()
            .unwrap_or(base);
        Some((base, max as i64 - base as i64))
    }

    /// Mbufs in use when idle before and after the traffic (the last
    /// sample of each idle phase).
    pub fn idle_mbufs(&self) -> (Option<u64>, Option<u64>) {
        let last = |p: &str| {
            self.mem
                .iter()
                .rev()
                .filter(|m| m.phase == p)
                .find_map(|m| m.mbufs_in_use)
        };
        (last("idle-before"), last("idle-after"))
    }

    /// Idle samples where vfex's telemetry and dpdk-proc-info disagree on
    /// the mbufs in use: (t, telemetry, proc-info).
    pub fn mbuf_readings_disagree(&self) -> Vec<(f64, Option<u64>, u64)> {
        self.mem
            .iter()
            .filter_map(|m| match m.mbufs_proc_info {
                Some(p) if m.mbufs_in_use != Some(p) => Some((m.t, m.mbufs_in_use, p)),
                _ => None,
            })
            .collect()
    }
}

/// The checks; the soak passes when all hold.
pub fn verdict(f: &Figures) -> Vec<Check> {
    let mut v = Vec::new();
    let mut check = |name, ok, detail: String| v.push(Check { name, ok, detail });
    let g = &f.generator;
    let vm = f.ports.get(1).cloned().unwrap_or_default();
    let up = f.ports.first().cloned().unwrap_or_default();
    let achieved = (g.sent + g.tx_failed) as f64 / (g.seconds - 0.2).max(1e-9);
    check(
        "the generator kept the offered rate (within 1 %)",
        f.offered_pps > 0.0 && (achieved / f.offered_pps - 1.0).abs() <= 0.01,
        format!(
            "offered {:.0} pps, attempted {:.0} pps over {:.1} s",
            f.offered_pps, achieved, g.seconds
        ),
    );
    check(
        "vfex took every frame the generator sent (no tx refused by its rx ring)",
        g.tx_failed == 0,
        format!("refused {} of {}", g.tx_failed, g.sent + g.tx_failed),
    );
    check(
        "sent by the generator = received by vfex on vm0",
        g.sent == vm.rx && vm.rx > 0,
        format!("{} = {}", g.sent, vm.rx),
    );
    let rx: u64 = f.ports.iter().map(|p| p.rx).sum();
    let tx: u64 = f.ports.iter().map(|p| p.tx).sum();
    let dropped: u64 = f.drops.iter().map(|d| d.1).sum();
    check(
        "vfex rx = tx + drops by reason (all ports, exactly)",
        rx == tx + dropped,
        format!("{rx} = {tx} + {dropped}"),
    );
    check(
        "received by the generator = sent by vfex on the uplink",
        g.received == up.tx && g.foreign == 0,
        format!("{} = {} (foreign frames {})", g.received, up.tx, g.foreign),
    );
    let pmd_ok = f.ports.iter().all(|p| {
        p.pmd
            .is_some_and(|(i, o, nombuf, err)| i == p.rx && o == p.tx && nombuf == 0 && err == 0)
    });
    check(
        "vfex's port counters = the PMDs' (ethdev), no rx_nombuf or errors",
        pmd_ok,
        f.ports
            .iter()
            .map(|p| match p.pmd {
                Some((i, o, n, e)) => format!(
                    "{}: rx {}/{i} tx {}/{o} nombuf {n} errors {e}",
                    p.name, p.rx, p.tx
                ),
                None => format!("{}: no ethdev stats", p.name),
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
    let other = f.other_drops();
    check(
        "no drops but the rules' (acl_deny, policed)",
        other.is_empty(),
        if other.is_empty() {
            format!(
                "acl_deny {}, policed {}",
                f.drop("acl_deny"),
                f.drop("policed")
            )
        } else {
            other
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    let lost = f.unexplained_loss();
    check(
        "no loss beyond the drops the rules cause",
        lost == 0,
        format!(
            "attempted {} - received back {} - rule drops {} = {lost}",
            g.sent + g.tx_failed,
            g.received,
            f.rule_drops()
        ),
    );
    check(
        "every rule change was applied (table version moved, no error)",
        f.reloads_sent > 0 && f.reloads_applied == f.reloads_sent && f.reload_errors.is_empty(),
        format!(
            "{} of {} reloads applied{}",
            f.reloads_applied,
            f.reloads_sent,
            if f.reload_errors.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} errors, first: {}",
                    f.reload_errors.len(),
                    f.reload_errors[0]
                )
            }
        ),
    );
    let bad: Vec<String> = f
        .periods
        .iter()
        .filter_map(|p| {
            p.check(f.first_version)
                .err()
                .map(|e| format!("t={:.1}s {e}", p.start.t))
        })
        .collect();
    check(
        "each period's drops are those of the rule set in force",
        !f.periods.is_empty() && bad.is_empty(),
        if bad.is_empty() {
            format!("{} periods", f.periods.len())
        } else {
            format!(
                "{} of {} periods wrong, first: {}",
                bad.len(),
                f.periods.len(),
                bad[0]
            )
        },
    );
    if let Some((exp, got)) = f.police_expected() {
        // The policer starts each police period with a full bucket and
        // refills at its rate; a frame that finds too few tokens is red.
        // Arrivals that bunch up (a generator catching up after a stall)
        // make more red frames than this fluid estimate; fewer would mean
        // the policer passed more than its rate.
        let ok = got as f64 >= 0.98 * exp && got > 0;
        check(
            "the policer drops what its rate implies (at least 98 % of the estimate)",
            ok,
            format!("policed {got}, estimate {exp:.0}"),
        );
    }
    match f.rss_growth() {
        Some((base, growth)) => check(
            "RSS stable: growth after the warm-up < 1 MiB",
            growth < RSS_GROWTH_LIMIT_KIB as i64,
            format!(
                "VmRSS {base} KiB at {:.0} s, largest growth after it {growth} KiB",
                f.warmup_s
            ),
        ),
        None => check(
            "RSS stable: growth after the warm-up < 1 MiB",
            false,
            "no samples".into(),
        ),
    }
    let (before, after) = f.idle_mbufs();
    let disagree = f.mbuf_readings_disagree();
    let cross = f.mem.iter().filter(|m| m.mbufs_proc_info.is_some()).count();
    check(
        "mbufs in use back to the idle baseline after the traffic",
        before.is_some() && before == after && f.exit_leak.is_none() && disagree.is_empty(),
        format!(
            "idle before {}, idle after {}{}{}",
            before.map_or("-".into(), |n| n.to_string()),
            after.map_or("-".into(), |n| n.to_string()),
            if disagree.is_empty() {
                format!(" (dpdk-proc-info agrees in {cross} idle samples)")
            } else {
                format!(
                    "; dpdk-proc-info disagrees: {}",
                    disagree
                        .iter()
                        .map(|(t, a, b)| format!(
                            "at {t:.1} s telemetry {} vs {b}",
                            a.map_or("-".into(), |n| n.to_string())
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            f.exit_leak
                .as_deref()
                .map(|l| format!("; at exit: {l}"))
                .unwrap_or_default()
        ),
    );
    v
}

/// What the figures say about loss that the rules do not explain: frames
/// left in the memif ring when the generator exited, frames the ring
/// refused, and how much of the time the worker and the generator waited
/// for their CPUs.
pub fn explain(f: &Figures, latency: Option<[f64; 5]>) -> Vec<String> {
    let mut v = Vec::new();
    let vm_rx = f.ports.get(1).map_or(0, |p| p.rx);
    let unread = f.generator.sent.saturating_sub(vm_rx);
    if unread > 0 {
        v.push(format!(
            "{unread} frames the generator sent never reached vfex: they were in the vm0 memif ring (1024 slots) when the generator exited, 0.2 s after its last frame (its fixed drain); vfex's worker had not read them by then"
        ));
    }
    if f.generator.tx_failed > 0 || unread > 0 || !f.other_drops().is_empty() {
        let run: Vec<&MemSample> = f.mem.iter().filter(|m| m.phase == "run").collect();
        let med = |g: &dyn Fn(&MemSample) -> Option<f64>| -> String {
            let x: Vec<f64> = run.iter().filter_map(|m| g(m)).collect();
            if x.is_empty() {
                "-".into()
            } else {
                format!(
                    "{:.0} % (median; {:.0}..{:.0} %)",
                    crate::stats::median(&x) * 100.0,
                    x.iter().copied().fold(f64::INFINITY, f64::min) * 100.0,
                    x.iter().copied().fold(0.0, f64::max) * 100.0
                )
            }
        };
        let load: Vec<f64> = run.iter().map(|m| m.load1).collect();
        if let Some(last) = f.periods.last() {
            let (n, us) = (last.end.stalls, last.end.longest_stall_us);
            v.push(format!(
                "the worker's poll loop stopped {n} times for 1 ms or more during the run (longest {:.1} ms){}",
                us as f64 / 1e3,
                if n > 0 {
                    format!(
                        "; at {:.2} Mpps a ring of 2^14 slots (--memif-rsize 14) holds {:.1} ms of frames: a longer stall overflows it",
                        f.offered_pps / 1e6,
                        16384.0 / f.offered_pps.max(1.0) * 1e3
                    )
                } else {
                    String::new()
                }
            ));
        }
        v.push(format!(
            "scheduling: the vfex worker (busy-polling, pinned to CPU 1) was runnable but off its CPU {} of the samples' time, the generator (CPU 0) {}; load average {:.1}..{:.1} on {} CPUs{}. A frame refused by the rx ring or left in it is a frame that arrived while the worker was not running.",
            med(&|m| m.worker.map(|w| w.1)),
            med(&|m| m.generator.map(|w| w.1)),
            load.iter().copied().fold(f64::INFINITY, f64::min),
            load.iter().copied().fold(0.0, f64::max),
            sys::cpus(),
            latency.map_or(String::new(), |p| format!(
                "; the largest one-way latency was {:.1} ms (a frame waited that long in a ring)",
                p[4] / 1e3
            ))
        ));
    }
    v
}

/// Mbufs in use from `dpdk-proc-info --show-mempool` output for `pool`:
/// size - common pool count - per-lcore caches.
pub fn parse_proc_info_mempool(out: &str, pool: &str) -> Option<u64> {
    let start = out.find(&format!("mempool <{pool}>"))?;
    let rest = &out[start..];
    let field = |k: &str| -> Option<u64> {
        rest.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
    };
    let size = field("size=")?;
    let common = field("common_pool_count=")?;
    let cache = field("total_cache_count=").unwrap_or(0);
    Some(size.saturating_sub(common + cache))
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `/proc/PID/task/TID/schedstat`: nanoseconds on the CPU and waiting on
/// a run queue.
pub fn schedstat(pid: u32, tid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
    let mut w = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((w.next()??, w.next()??))
}

/// The thread of `pid` named `comm` (e.g. DPDK's `rte-worker-1`).
pub fn thread_named(pid: u32, comm: &str) -> Option<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .find(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == comm))
        .and_then(|e| e.file_name().to_string_lossy().parse().ok())
}

/// The process whose command line holds every one of `words`.
pub fn find_process(words: &[&str]) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
        let c = std::fs::read(e.path().join("cmdline")).ok()?;
        let c = String::from_utf8_lossy(&c).replace('\0', " ");
        words.iter().all(|w| c.contains(w)).then_some(pid)
    })
}

/// Shares of the time between two schedstat readings (after, before,
/// wall ns) spent on the CPU and waiting for it.
pub fn sched_shares(before: (u64, u64), after: (u64, u64), wall_ns: u64) -> (f64, f64) {
    let w = wall_ns.max(1) as f64;
    (
        after.0.saturating_sub(before.0) as f64 / w,
        after.1.saturating_sub(before.1) as f64 / w,
    )
}

/// (total, steal) jiffies from /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    (v.iter().take(8).sum(), v.get(7).copied().unwrap_or(0))
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Mbufs in use in vfex's `pool`, from its telemetry (`/vfex/mempools`).
fn pool_in_use(tel: &mut Telemetry, pool: &str) -> Result<u64> {
    let v = tel.query("/vfex/mempools")?;
    v.get(format!("{pool}/in_use"))
        .and_then(|n| n.as_u64())
        .with_context(|| format!("/vfex/mempools: no pool {pool}: {v}"))
}

/// Mbufs in use in `pool` of the DPDK process with `prefix`, read by
/// `dpdk-proc-info` as a secondary process on lcore 0.
fn mbufs_in_use(prefix: &str, pool: &str) -> Result<u64> {
    let o = std::process::Command::new("dpdk-proc-info")
        // It picks its own core mask (lcore 0).
        .args(["--no-pci", "--file-prefix", prefix])
        .args(["--", "--show-mempool"])
        .stdin(std::process::Stdio::null())
        .output()
        .context("running dpdk-proc-info")?;
    let out = String::from_utf8_lossy(&o.stdout);
    parse_proc_info_mempool(&out, pool).with_context(|| {
        format!(
            "dpdk-proc-info --show-mempool: no pool {pool}: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        )
    })
}

/// The table version in `/vfex/tables` (`{"port_extender": "..., version N"}`).
pub fn parse_version(tables: &serde_json::Value) -> Option<u64> {
    tables
        .as_object()?
        .values()
        .next()?
        .as_str()?
        .rsplit("version ")
        .next()?
        .trim()
        .parse()
        .ok()
}

fn table_version(tel: &mut Telemetry) -> Result<u64> {
    let t = tel.query("/vfex/tables")?;
    parse_version(&t).with_context(|| format!("/vfex/tables: no version: {t}"))
}

/// Reads the counters the periods need.
fn read(tel: &mut Telemetry, t0: Instant) -> Result<Counters> {
    let vm = tel.query("/ethdev/stats,1")?;
    let drops = tel.query("/vfex/drops")?;
    let up = tel.query("/ethdev/stats,0")?;
    let version = table_version(tel)?;
    let workers = tel.query("/vfex/workers")?;
    let field = |suffix: &'static str| {
        workers
            .as_object()
            .into_iter()
            .flatten()
            .filter(move |(k, _)| k.ends_with(suffix))
            .filter_map(|(_, v)| v.as_u64())
    };
    Ok(Counters {
        stalls: field("/stalls").sum(),
        longest_stall_us: field("/longest_stall_us").max().unwrap_or(0),
        t: t0.elapsed().as_secs_f64(),
        version,
        vm_rx: vm["ipackets"].as_u64().unwrap_or(0),
        up_tx: up["opackets"].as_u64().unwrap_or(0),
        drops: drops
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Writes `text` to `path` through a temporary file and a rename, so that
/// vfex never reads half a file.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// What the soak did, for the report.
#[derive(Debug, Clone)]
pub struct Soak {
    /// The zero-loss search.
    pub search: latency::Search,
    /// Offered load in % of the zero-loss rate.
    pub load: f64,
    /// Frame size with FCS.
    pub frame: u16,
    /// vEths.
    pub veths: u32,
    /// Reload period, s.
    pub reload_period: f64,
    /// Sample period, s.
    pub sample_period: f64,
    /// The figures.
    pub figures: Figures,
    /// The checks.
    pub checks: Vec<Check>,
    /// Latency over the soak: p50, p90, p99, p99.9, max (us).
    pub latency: Option<[f64; 5]>,
    /// Notes (what could not be measured, where loss came from).
    pub notes: Vec<String>,
}

impl Soak {
    /// Whether every check holds.
    pub fn pass(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }
}

/// Runs the search and the soak.
pub fn run(env: &Env, progress: &mut dyn FnMut(&str)) -> Result<Soak> {
    let a = &env.args;
    if !env.huge {
        bail!(
            "soak: needs hugepages (scripts/setup.sh): vfex runs with shared memory so that dpdk-proc-info can read its pool's mbufs in use"
        );
    }
    if !sys::available("dpdk-proc-info") {
        bail!("soak: dpdk-proc-info (package dpdk) is needed to read vfex's mbufs in use");
    }
    let frame = a.frame_sizes[0];
    let veths = a.veths.unwrap_or(4);
    if !(1..=crate::roles::MAX_VM_PORTS).contains(&veths) {
        bail!("soak: --veths {veths}: 1 to {}", crate::roles::MAX_VM_PORTS);
    }
    let workers = 1;
    // 1. The zero-loss rate of the pipeline with the open rules.
    // The memif rings' size (--memif-rsize) on vfex's side of each port.
    let rsized = |c: String| {
        c.replace(
            "socket-abstract=no",
            &format!("socket-abstract=no{}", tools::memif_rsize(a.memif_rsize)),
        )
    };
    let open = rsized(config(veths, RuleSet::Open, &Police::for_rate(1e6, frame)));
    let dut = Dut::VfexConfig {
        label: format!("vfex port-extender vntag, {veths} vEths"),
        config: open,
    };
    let mut notes = Vec::new();
    let search = match a.soak_rate {
        Some(r) => {
            notes.push(format!(
                "--soak-rate {r:.0}: no zero-loss search; the soak offered {:.3} Mpps (not the documented soak)",
                r / 1e6
            ));
            latency::Search {
                rate: r * 100.0 / a.soak_load,
                trials: Vec::new(),
            }
        }
        None => {
            progress(&format!(
                "soak: zero-loss search through the port extender ({frame} B, {} s trials)",
                a.warmup + a.duration
            ));
            latency::run(env, &dut, workers, frame, false, &mut |l: &str| {
                progress(&format!("  {l}"))
            })?
            .search
        }
    };
    let zero = search.rate;
    if zero <= 0.0 {
        bail!(
            "soak: no rate passed the zero-loss search: {:?}",
            search.trials
        );
    }
    let rate = zero * a.soak_load / 100.0;
    let police = Police::for_rate(rate, frame);
    progress(&format!(
        "soak: zero-loss {:.3} Mpps; soak at {}% = {:.3} Mpps for {} min, rules changed every {} s",
        zero / 1e6,
        a.soak_load,
        rate / 1e6,
        a.minutes,
        a.reload_period
    ));

    // 2. vfex with the first file, shared memory (for dpdk-proc-info).
    let prefix = env.unique("soak");
    let sock = env.tmp.join(format!("{prefix}.sock"));
    let file = env.tmp.join(format!("{prefix}.toml"));
    let sock_s = sock.display().to_string();
    let text = |k: usize| rsized(config(veths, rule_set(k), &police)).replace(SOCKET, &sock_s);
    write_atomic(&file, &text(0))?;
    let mut cmd = std::process::Command::new(&a.vfex);
    cmd.args(["-l", "0,1", "--no-pci", "--file-prefix", &prefix])
        .arg("--")
        .arg("--config")
        .arg(&file)
        .args(["--nb-cores", "1", "--duration", "0", "--stats-period", "0"]);
    let mut vfex = Proc::spawn(cmd, "vfex (soak)")?;
    let result = soak_with(
        env, &mut vfex, &prefix, &sock, &file, &text, rate, police, progress,
    );
    let (_, out, err) = vfex.interrupt();
    sys::remove_runtime_dir(&prefix);
    sys::remove_hugepage_files(&prefix);
    std::fs::remove_file(&sock).ok();
    let (mut fig, latency, mut run_notes) = result?;
    notes.append(&mut run_notes);
    // vfex's own totals, from its summary.
    let ports = parse_ports(&out);
    if ports.len() != veths as usize + 1 {
        bail!(
            "soak: vfex's summary has {} ports, expected {}: {}",
            ports.len(),
            veths + 1,
            err.lines().last().unwrap_or_default()
        );
    }
    for (p, (rx, tx, full)) in fig.ports.iter_mut().zip(ports) {
        (p.rx, p.tx, p.tx_full) = (rx, tx, full);
    }
    fig.drops = summary_drops(&out);
    fig.reload_errors.extend(
        out.lines()
            .filter(|l| l.starts_with("vfex: SIGHUP") && !l.contains("published generation"))
            .map(str::to_owned),
    );
    fig.exit_leak = err
        .lines()
        .find(|l| l.contains("mbufs still in use"))
        .map(str::to_owned);
    notes.extend(explain(&fig, latency));
    let checks = verdict(&fig);
    Ok(Soak {
        search,
        load: a.soak_load,
        frame,
        veths,
        reload_period: a.reload_period,
        sample_period: a.sample_period,
        figures: fig,
        checks,
        latency,
        notes,
    })
}

type Run = (Figures, Option<[f64; 5]>, Vec<String>);

#[allow(clippy::too_many_arguments)]
fn soak_with(
    env: &Env,
    vfex: &mut Proc,
    prefix: &str,
    sock: &Path,
    file: &Path,
    text: &dyn Fn(usize) -> String,
    rate: f64,
    police: Police,
    progress: &mut dyn FnMut(&str),
) -> Result<Run> {
    let a = &env.args;
    let frame = a.frame_sizes[0];
    let started = vfex.wait_for(Duration::from_secs(30), latency::role_started);
    if !started {
        bail!(
            "vfex did not start: {}",
            vfex.stderr().lines().last().unwrap_or_default()
        );
    }
    for _ in 0..300 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut tel = Telemetry::connect_prefix(prefix, Duration::from_secs(10))?;
    let pid = vfex.pid();
    let first_version = read(&mut tel, Instant::now())?.version;
    let mut notes = Vec::new();
    let secs = a.minutes * 60.0;
    let warmup_s = (secs * 0.1).min(60.0);
    let mem: Arc<Mutex<Vec<MemSample>>> = Arc::new(Mutex::new(Vec::new()));
    let phase: Arc<Mutex<(&'static str, Option<Instant>)>> =
        Arc::new(Mutex::new(("idle-before", None)));
    let stop = AtomicBool::new(false);
    let sample_once = {
        let mem = Arc::clone(&mem);
        let phase = Arc::clone(&phase);
        let prefix = prefix.to_owned();
        let last = Mutex::new(cpu_jiffies());
        let worker_tid = thread_named(pid, "rte-worker-1");
        let gen_words = [
            "--gen-rate".to_owned(),
            format!("vfexperf{}-gen", std::process::id()),
        ];
        // (generator pid, last readings of the worker and the generator, when).
        type Last = (Option<u32>, Option<(u64, u64)>, Option<(u64, u64)>, Instant);
        let sched: Mutex<Last> = Mutex::new((None, None, None, Instant::now()));
        // The sampler's own telemetry connection (DPDK serves each client
        // on its own thread).
        let tel_mem = Mutex::new(Telemetry::connect_prefix(&prefix, Duration::from_secs(10))?);
        move || -> Result<()> {
            let (ph, t0) = *phase.lock().map_err(|_| anyhow::anyhow!("lock"))?;
            let (worker, generator) = {
                let mut l = sched.lock().map_err(|_| anyhow::anyhow!("lock"))?;
                if l.0.is_none() {
                    l.0 = find_process(&[&gen_words[0], &gen_words[1]]);
                }
                let wall = l.3.elapsed().as_nanos() as u64;
                let w = worker_tid.and_then(|t| schedstat(pid, t));
                let g = l.0.and_then(|p| schedstat(p, p));
                let ws = w.zip(l.1).map(|(a, b)| sched_shares(b, a, wall));
                let gs = g.zip(l.2).map(|(a, b)| sched_shares(b, a, wall));
                // A generator that was started again has a new pid.
                let gpid = if g.is_some() { l.0 } else { None };
                *l = (gpid, w, g, Instant::now());
                (ws, gs)
            };
            let mbufs = tel_mem
                .lock()
                .ok()
                .and_then(|mut t| pool_in_use(&mut t, "vfex_pkts").ok());
            let mbufs_proc_info = if ph == "run" {
                None
            } else {
                mbufs_in_use(&prefix, "vfex_pkts").ok()
            };
            let rss = rss_kib(pid).context("vfex's /proc/PID/status")?;
            let now = cpu_jiffies();
            let steal = {
                let mut l = last.lock().map_err(|_| anyhow::anyhow!("lock"))?;
                let d = (now.0.saturating_sub(l.0), now.1.saturating_sub(l.1));
                *l = now;
                if d.0 > 0 {
                    d.1 as f64 / d.0 as f64
                } else {
                    0.0
                }
            };
            let t = match t0 {
                Some(t0) => Instant::now().saturating_duration_since(t0).as_secs_f64(),
                None => 0.0,
            };
            if let Ok(mut m) = mem.lock() {
                m.push(MemSample {
                    t,
                    phase: ph,
                    rss_kib: rss,
                    mbufs_in_use: mbufs,
                    mbufs_proc_info,
                    load1: load1(),
                    steal,
                    worker,
                    generator,
                });
            }
            Ok(())
        }
    };
    // Idle baseline.
    for _ in 0..3 {
        sample_once()?;
        std::thread::sleep(Duration::from_millis(500));
    }
    if mem
        .lock()
        .map(|m| m.iter().all(|s| s.mbufs_in_use.is_none()))
        .unwrap_or(true)
    {
        notes.push(format!(
            "mbufs in use not readable: {}",
            mbufs_in_use(prefix, "vfex_pkts")
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default()
        ));
    }
    let out = std::thread::scope(|s| -> Result<Run> {
        let r = (|| -> Result<Run> {
            // The generator: warm-up 1 s (latency histogram), then the soak
            // and 3 s more, so that it outlasts the reload loop.
            let gen_handle = s.spawn(|| {
                latency::run_generator(env, frame, sock, rate, 1.0, secs + 3.0, 1, Some(&stop))
            });
            // From here the harness's threads and what they start
            // (dpdk-proc-info) stay on CPU 0, beside the generator, so that
            // vfex's worker has CPU 1 to itself. (vfex and the generator were
            // started before: they keep the affinity their EAL gave them.)
            let mut cpu0 = nix::sched::CpuSet::new();
            if cpu0.set(0).is_err()
                || nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpu0).is_err()
            {
                notes.push("the harness could not keep itself on CPU 0".to_owned());
            }
            // Traffic starts when vfex counts the first frame.
            let t_wait = Instant::now();
            let mut start = loop {
                let c = read(&mut tel, Instant::now())?;
                if c.vm_rx > 0 {
                    break c;
                }
                if t_wait.elapsed() > Duration::from_secs(30) || gen_handle.is_finished() {
                    bail!("no traffic reached vfex within 30 s");
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let t0 = Instant::now();
            start.t = 0.0;
            if let Ok(mut p) = phase.lock() {
                *p = ("run", Some(t0));
            }
            let sampler = s.spawn(|| {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if Instant::now() >= next {
                        sample_once().ok();
                        next += Duration::from_secs_f64(a.sample_period);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            let mut periods = Vec::new();
            let (mut sent, mut applied, mut errors) = (0usize, 0usize, Vec::new());
            let mut reload_ms = Vec::new();
            let mut k = 0usize;
            let mut version = first_version;
            let mut last_progress = Instant::now();
            let period = Duration::from_secs_f64(a.reload_period);
            loop {
                let due = t0 + period * (k as u32 + 1);
                while Instant::now() < due {
                    if vfex.exited() {
                        stop.store(true, Ordering::Relaxed);
                        bail!(
                            "vfex exited during the soak: {}",
                            vfex.stderr().lines().last().unwrap_or_default()
                        );
                    }
                    std::thread::sleep(
                        due.saturating_duration_since(Instant::now())
                            .min(Duration::from_millis(50)),
                    );
                }
                let mut end = read(&mut tel, t0)?;
                end.t = t0.elapsed().as_secs_f64();
                periods.push(Period {
                    k,
                    set: rule_set(k),
                    start: start.clone(),
                    end: end.clone(),
                });
                if last_progress.elapsed() >= Duration::from_secs(10) {
                    last_progress = Instant::now();
                    let m = mem.lock().ok().and_then(|m| m.last().cloned());
                    let other: u64 = end
                        .drops
                        .iter()
                        .filter(|(r, _)| !RULE_REASONS.contains(&r.as_str()))
                        .map(|(_, n)| n)
                        .sum();
                    progress(&format!(
                        "[{:>6.1} s] reloads {applied}/{sent}, vm0 rx {}, up tx {}, acl_deny {}, policed {}, other drops {other}, RSS {} KiB, mbufs in use {}, load {:.2}",
                        end.t,
                        end.vm_rx,
                        end.up_tx,
                        end.drop("acl_deny"),
                        end.drop("policed"),
                        m.as_ref().map_or(0, |m| m.rss_kib),
                        m.as_ref()
                            .and_then(|m| m.mbufs_in_use)
                            .map_or("-".into(), |n| n.to_string()),
                        m.as_ref().map_or(0.0, |m| m.load1),
                    ));
                }
                if t0.elapsed().as_secs_f64() + a.reload_period > secs + 1e-6 {
                    break;
                }
                // The next rule set: rewrite the file, SIGHUP, wait for the
                // next table version.
                k += 1;
                write_atomic(file, &text(k))?;
                let seen = vfex.stdout().len();
                // kill(2) itself, not a kill(1) process on CPU 0 each time.
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGHUP,
                )
                .context("kill -HUP vfex")?;
                sent += 1;
                let want = version + 1;
                let t_hup = Instant::now();
                // vfex prints `vfex: SIGHUP: FILE: published generation N: ...`
                // once the control thread has published the tables and every
                // worker has passed a quiescent state (none uses the old ones).
                let mut said = None;
                while t_hup.elapsed() < Duration::from_secs(5) {
                    let out = vfex.stdout();
                    if let Some(l) = out
                        .get(seen..)
                        .unwrap_or_default()
                        .lines()
                        .find(|l| l.starts_with("vfex: SIGHUP"))
                    {
                        said = Some(l.to_owned());
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                let ms = t_hup.elapsed().as_secs_f64() * 1e3;
                let now_v = table_version(&mut tel)?;
                match said {
                Some(l) if l.contains("published generation") && now_v == want => {
                    applied += 1;
                    reload_ms.push(ms);
                }
                Some(l) => errors.push(format!(
                    "reload {k} ({}): table version {now_v} (expected {want}): {l}",
                    rule_set(k).name()
                )),
                None => errors.push(format!(
                    "reload {k} ({}): vfex said nothing within 5 s; table version {now_v} (expected {want})",
                    rule_set(k).name()
                )),
            }
                version = now_v;
                std::thread::sleep(SETTLE);
                start = read(&mut tel, t0)?;
            }
            // Until the generator exits (0.2 s after it stops sending), the
            // PMDs' counters: the highest reading of each port (memif's
            // counters restart when the generator disconnects).
            let nports = a.veths.unwrap_or(4) as usize + 1;
            let mut pmd: Vec<Option<serde_json::Value>> = vec![None; nports];
            let mut best = vec![0u64; nports];
            while !gen_handle.is_finished() {
                for (i, slot) in pmd.iter_mut().enumerate() {
                    if let Ok(st) = tel.query(&format!("/ethdev/stats,{i}")) {
                        let sum = st["ipackets"].as_u64().unwrap_or(0)
                            + st["opackets"].as_u64().unwrap_or(0);
                        if sum >= best[i] {
                            best[i] = sum;
                            *slot = Some(st);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let gen_out = gen_handle
                .join()
                .map_err(|_| anyhow::anyhow!("the generator thread panicked"))??;
            stop.store(true, Ordering::Relaxed);
            sampler.join().ok();
            if let Ok(mut p) = phase.lock() {
                p.0 = "idle-after";
            }
            std::thread::sleep(Duration::from_secs(1));
            for _ in 0..3 {
                sample_once()?;
                std::thread::sleep(Duration::from_millis(500));
            }
            let names: Vec<String> = std::iter::once("uplink".to_owned())
                .chain((0..nports - 1).map(|k| format!("vm{k}")))
                .collect();
            let ports: Vec<PortTotals> = names
                .iter()
                .zip(&pmd)
                .map(|(n, st)| {
                    let g = |k: &str| st.as_ref().and_then(|s| s[k].as_u64()).unwrap_or(0);
                    PortTotals {
                        name: n.clone(),
                        pmd: st.as_ref().map(|_| {
                            (
                                g("ipackets"),
                                g("opackets"),
                                g("rx_nombuf"),
                                g("imissed") + g("ierrors") + g("oerrors"),
                            )
                        }),
                        ..PortTotals::default()
                    }
                })
                .collect();
            let generator =
                parse_gen_totals(&gen_out).context("the generator printed no summary")?;
            let lat = latency::parse_gen(&gen_out, rate)
                .ok()
                .and_then(|t| t.percentiles_us());
            let fig = Figures {
                seconds: secs,
                offered_pps: rate,
                generator,
                ports,
                drops: Vec::new(),
                reloads_sent: sent,
                reloads_applied: applied,
                reload_errors: errors,
                reload_ms,
                first_version,
                periods,
                mem: mem.lock().map(|m| m.clone()).unwrap_or_default(),
                warmup_s,
                exit_leak: None,
                police: Some(police),
            };
            Ok((fig, lat, Vec::new()))
        })();
        stop.store(true, Ordering::Relaxed);
        r
    });
    out.map(|(f, l, mut n)| {
        notes.append(&mut n);
        (f, l, notes)
    })
}

fn fmt_share(v: Option<(f64, f64)>) -> String {
    v.map_or("-".into(), |(r, w)| {
        format!("{:.0} / {:.0}", r * 100.0, w * 100.0)
    })
}

fn fmt_opt(v: Option<u64>) -> String {
    v.map_or("-".into(), |n| n.to_string())
}

/// Per rule set: periods, frames from the VM, sent up, acl_deny, policed,
/// other drops.
pub fn by_rule_set(periods: &[Period]) -> Vec<(RuleSet, usize, u64, u64, u64, u64, u64)> {
    [RuleSet::Open, RuleSet::Police, RuleSet::Deny]
        .into_iter()
        .map(|set| {
            let p: Vec<&Period> = periods.iter().filter(|p| p.set == set).collect();
            (
                set,
                p.len(),
                p.iter().map(|x| x.rx()).sum(),
                p.iter().map(|x| x.tx()).sum(),
                p.iter().map(|x| x.delta("acl_deny")).sum(),
                p.iter().map(|x| x.delta("policed")).sum(),
                p.iter()
                    .map(|x| x.other_drops().iter().map(|d| d.1).sum::<u64>())
                    .sum(),
            )
        })
        .collect()
}

/// One window of the run for the report: (start s, end s, frames from
/// vm0, frames offered, mean share of the time the worker and the
/// generator waited for their CPUs, mean load average, the worker's
/// stalls in its periods).
pub type Window = (f64, f64, u64, f64, Option<f64>, Option<f64>, f64, u64);

/// The periods and samples in windows of `every` seconds: where frames
/// went missing against when the worker and the generator were kept off
/// their CPUs.
pub fn windows(f: &Figures, every: f64) -> Vec<Window> {
    let mut out = Vec::new();
    let mut w = 0.0;
    while w < f.seconds - 1e-9 {
        let e = w + every;
        let ps: Vec<&Period> = f
            .periods
            .iter()
            .filter(|p| p.start.t >= w && p.start.t < e)
            .collect();
        let ms: Vec<&MemSample> = f
            .mem
            .iter()
            .filter(|m| m.phase == "run" && m.t > w && m.t <= e)
            .collect();
        let mean = |g: &dyn Fn(&MemSample) -> Option<f64>| -> Option<f64> {
            let x: Vec<f64> = ms.iter().filter_map(|m| g(m)).collect();
            (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
        };
        out.push((
            w,
            e.min(f.seconds),
            ps.iter().map(|p| p.rx()).sum(),
            ps.iter().map(|p| p.secs()).sum::<f64>() * f.offered_pps,
            mean(&|m| m.worker.map(|x| x.1)),
            mean(&|m| m.generator.map(|x| x.1)),
            mean(&|m| Some(m.load1)).unwrap_or(0.0),
            ps.iter()
                .map(|p| p.end.stalls.saturating_sub(p.start.stalls))
                .sum(),
        ));
        w = e;
    }
    out
}

/// The memory samples the report lists: the idle ones, and during the
/// run about one per `every` seconds (and the last).
pub fn condensed(mem: &[MemSample], every: f64) -> Vec<&MemSample> {
    let run: Vec<&MemSample> = mem.iter().filter(|m| m.phase == "run").collect();
    let mut out: Vec<&MemSample> = mem.iter().filter(|m| m.phase == "idle-before").collect();
    let mut next = 0.0;
    for (i, m) in run.iter().enumerate() {
        if m.t >= next || i + 1 == run.len() {
            out.push(m);
            next = (m.t / every).floor() * every + every;
        }
    }
    out.extend(mem.iter().filter(|m| m.phase == "idle-after"));
    out
}

impl Soak {
    /// The markdown report.
    pub fn markdown(&self) -> String {
        let f = &self.figures;
        let g = &f.generator;
        let mut m = String::new();
        let _ = writeln!(
            m,
            "## Soak: {}\n",
            if self.pass() { "PASS" } else { "FAIL" }
        );
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(m, "Failed: {}.\n", failed.join("; "));
        }
        let acl_rules = acl(RuleSet::Open).len();
        let _ = writeln!(
            m,
            "vfex port extender (VN-Tag) from a configuration file: uplink + {} VM ports on net_memif (vm0 carries the traffic, the others are configured and idle), a vEth per VM port with MAC anti-spoof, a {acl_rules}-rule ACL, an srTCM policer and counters; one worker (lcore 1 on CPU 1), main lcore on CPU 0. Generator: `vfex --gen-rate` (one flow of {} B frames from vm0's MAC, TSC-stamped) on CPU 0, receiving what vfex sends up.\n",
            self.veths, self.frame
        );
        let _ = writeln!(
            m,
            "Zero-loss rate (RFC 2544 binary search, confirmed by a second trial, open rules): **{:.3} Mpps** ({} trials: {}).\n",
            self.search.rate / 1e6,
            self.search.trials.len(),
            self.search
                .trials
                .iter()
                .map(|(r, l)| format!("{:.3} Mpps loss {:.4} %", r / 1e6, l * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let pol = f.police.map_or(String::new(), |p| {
            format!(
                "{:.1} Mbit/s, burst {} B",
                p.rate_bps as f64 / 1e6,
                p.burst_bytes
            )
        });
        let _ = writeln!(
            m,
            "Soak: {}% of it = **{:.3} Mpps** offered for {:.1} min; the rules changed every {} s by rewriting the file and SIGHUP, in turn: open (nothing dropped), police (policer at {:.0} % of the offered bit rate: {pol}), open, deny (an ACL rule above the permit denies the flow: {} rules). Samples every {} s.\n",
            self.load,
            f.offered_pps / 1e6,
            f.seconds / 60.0,
            self.reload_period,
            POLICE_SHARE * 100.0,
            acl(RuleSet::Deny).len(),
            self.sample_period
        );
        m.push_str("| check | result | figures |\n|---|---|---|\n");
        for c in &self.checks {
            let _ = writeln!(
                m,
                "| {} | {} | {} |",
                c.name,
                if c.ok { "ok" } else { "**FAIL**" },
                c.detail.replace('|', "/")
            );
        }
        m.push_str("\n### Totals\n\n| counter | frames |\n|---|---|\n");
        let _ = writeln!(m, "| generator: attempted | {} |", g.sent + g.tx_failed);
        let _ = writeln!(m, "| generator: sent | {} |", g.sent);
        let _ = writeln!(
            m,
            "| generator: refused by vfex's rx ring | {} |",
            g.tx_failed
        );
        let _ = writeln!(m, "| generator: received back | {} |", g.received);
        for p in &f.ports {
            let pmd = p.pmd.map_or("-".into(), |x| format!("{} / {}", x.0, x.1));
            let _ = writeln!(
                m,
                "| vfex {}: rx / tx / tx_full (PMD rx / tx) | {} / {} / {} ({pmd}) |",
                p.name, p.rx, p.tx, p.tx_full
            );
        }
        for (r, n) in f.drops.iter().filter(|d| d.1 > 0) {
            let _ = writeln!(m, "| vfex dropped: {r} | {n} |");
        }
        let _ = writeln!(
            m,
            "| loss not explained by the rules | {} |",
            f.unexplained_loss()
        );
        let mut ms = f.reload_ms.clone();
        ms.sort_by(f64::total_cmp);
        let _ = writeln!(
            m,
            "| reloads applied / sent | {} / {} (SIGHUP to new table version: median {:.1} ms, max {:.1} ms) |",
            f.reloads_applied,
            f.reloads_sent,
            ms.get(ms.len() / 2).copied().unwrap_or(0.0),
            ms.last().copied().unwrap_or(0.0)
        );
        if let Some(p) = self.latency {
            let _ = writeln!(
                m,
                "| latency through vfex and two memif hops (us): p50 / p90 / p99 / p99.9 / max | {:.1} / {:.1} / {:.1} / {:.1} / {:.1} |",
                p[0], p[1], p[2], p[3], p[4]
            );
        }
        m.push_str("\n### By rule set (periods between confirmed reloads)\n\n| rule set | periods | frames from vm0 | sent up | acl_deny | policed | other drops |\n|---|---|---|---|---|---|---|\n");
        for (set, n, rx, tx, acl, pol, other) in by_rule_set(&f.periods) {
            let _ = writeln!(
                m,
                "| {} | {n} | {rx} | {tx} | {acl} | {pol} | {other} |",
                set.name()
            );
        }
        if let Some((exp, got)) = f.police_expected() {
            let _ = writeln!(
                m,
                "\nPoliced in the police periods: {got}, fluid estimate {exp:.0} (full bucket at each reload, then the committed rate)."
            );
        }
        let every = if f.seconds >= 300.0 { 60.0 } else { 10.0 };
        let _ = writeln!(
            m,
            "\n### Per {every:.0} s: frames received against offered, and the scheduler\n\nFrames from vm0 in the periods that start in the window against the offered rate over the same periods (a generator that was kept off its CPU catches up later, so a window can exceed 100 %); the worker's and the generator's mean share of the time waiting for their CPUs (the guest's scheduler); the worker's stalls: its poll loop did not run for 1 ms or more (whoever took the CPU: the guest's kernel or the hypervisor).\n\n| window s | frames from vm0 | offered | received / offered % | vfex worker waiting % | generator waiting % | load avg | worker stalls |\n|---|---|---|---|---|---|---|---|"
        );
        for (a, b, rx, off, ww, gw, ld, st) in windows(f, every) {
            let pct = |x: Option<f64>| x.map_or("-".into(), |v| format!("{:.0}", v * 100.0));
            let _ = writeln!(
                m,
                "| {a:.0}-{b:.0} | {rx} | {off:.0} | {:.2} | {} | {} | {ld:.2} | {st} |",
                if off > 0.0 {
                    rx as f64 / off * 100.0
                } else {
                    0.0
                },
                pct(ww),
                pct(gw)
            );
        }
        m.push_str("\n### Memory and machine over time\n\nWorker and generator: the share of the time since the previous sample that the thread ran on its CPU / waited for it while runnable (`/proc/PID/task/TID/schedstat`); a busy-polling thread that waits is a thread the scheduler took its CPU from.\n\n| t s | phase | VmRSS KiB | mbufs in use | load avg 1 min | stolen CPU % | vfex worker on CPU / waiting % | generator on CPU / waiting % |\n|---|---|---|---|---|---|---|---|\n");
        for s in condensed(&f.mem, every) {
            let _ = writeln!(
                m,
                "| {:.0} | {} | {} | {} | {:.2} | {:.1} | {} | {} |",
                s.t,
                s.phase,
                s.rss_kib,
                fmt_opt(s.mbufs_in_use),
                s.load1,
                s.steal * 100.0,
                fmt_share(s.worker),
                fmt_share(s.generator)
            );
        }
        let run: Vec<&MemSample> = f.mem.iter().filter(|s| s.phase == "run").collect();
        if let (Some(lo), Some(hi)) = (
            run.iter().map(|s| s.rss_kib).min(),
            run.iter().map(|s| s.rss_kib).max(),
        ) {
            let mb: Vec<u64> = run.iter().filter_map(|s| s.mbufs_in_use).collect();
            let _ = writeln!(
                m,
                "\nDuring the run ({} samples): VmRSS {lo}..{hi} KiB; mbufs in use {}..{}; load average {:.2}..{:.2}.",
                run.len(),
                fmt_opt(mb.iter().min().copied()),
                fmt_opt(mb.iter().max().copied()),
                run.iter().map(|s| s.load1).fold(f64::INFINITY, f64::min),
                run.iter().map(|s| s.load1).fold(0.0, f64::max),
            );
        }
        let noisy: Vec<&Period> = f
            .periods
            .iter()
            .filter(|p| !p.other_drops().is_empty())
            .collect();
        if !noisy.is_empty() {
            let _ = writeln!(
                m,
                "\n### Periods with drops not caused by the rules ({})\n\n| t s | rule set | frames from vm0 | drops | nearest sample: load avg / worker on CPU, waiting % / generator on CPU, waiting % |\n|---|---|---|---|---|",
                noisy.len()
            );
            for p in noisy.iter().take(30) {
                let near = f
                    .mem
                    .iter()
                    .filter(|s| s.phase == "run")
                    .min_by(|a, b| (a.t - p.start.t).abs().total_cmp(&(b.t - p.start.t).abs()))
                    .map_or("-".into(), |s| {
                        format!(
                            "{:.2} / {} / {}",
                            s.load1,
                            fmt_share(s.worker),
                            fmt_share(s.generator)
                        )
                    });
                let _ = writeln!(
                    m,
                    "| {:.1} | {} | {} | {} | {near} |",
                    p.start.t,
                    p.set.name(),
                    p.rx(),
                    p.other_drops()
                        .iter()
                        .map(|(r, n)| format!("{r} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        if !self.notes.is_empty() {
            m.push_str("\nNotes:\n\n");
            for n in &self.notes {
                let _ = writeln!(m, "- {n}");
            }
        }
        m
    }

    /// The JSON report.
    pub fn json(&self) -> serde_json::Value {
        let f = &self.figures;
        serde_json::json!({
            "verdict": if self.pass() { "PASS" } else { "FAIL" },
            "checks": self.checks.iter().map(|c| serde_json::json!({"check": c.name, "ok": c.ok, "figures": c.detail})).collect::<Vec<_>>(),
            "frame_size": self.frame,
            "veths": self.veths,
            "zero_loss_pps": self.search.rate,
            "search_trials": self.search.trials.iter().map(|(r, l)| serde_json::json!({"offered_pps": r, "loss_ratio": l})).collect::<Vec<_>>(),
            "load_percent": self.load,
            "offered_pps": f.offered_pps,
            "seconds": f.seconds,
            "reload_period_s": self.reload_period,
            "sample_period_s": self.sample_period,
            "police": f.police.map(|p| serde_json::json!({"rate_bps": p.rate_bps, "burst_bytes": p.burst_bytes, "frame_bytes": p.frame_bytes})),
            "police_expected_vs_counted": f.police_expected().map(|(e, g)| serde_json::json!({"estimate": e, "policed": g})),
            "generator": {"attempted": f.generator.sent + f.generator.tx_failed, "sent": f.generator.sent, "tx_failed": f.generator.tx_failed, "received": f.generator.received, "foreign": f.generator.foreign, "seconds": f.generator.seconds},
            "ports": f.ports.iter().map(|p| serde_json::json!({"name": p.name, "rx": p.rx, "tx": p.tx, "tx_full": p.tx_full, "pmd_ipackets": p.pmd.map(|x| x.0), "pmd_opackets": p.pmd.map(|x| x.1), "pmd_rx_nombuf": p.pmd.map(|x| x.2), "pmd_errors": p.pmd.map(|x| x.3)})).collect::<Vec<_>>(),
            "drops": f.drops.iter().map(|(r, n)| (r.clone(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
            "unexplained_loss": f.unexplained_loss().to_string(),
            "reloads_sent": f.reloads_sent,
            "reloads_applied": f.reloads_applied,
            "reload_errors": f.reload_errors,
            "reload_ms": f.reload_ms,
            "first_table_version": f.first_version,
            "latency_us": self.latency.map(|p| serde_json::json!({"p50": p[0], "p90": p[1], "p99": p[2], "p99_9": p[3], "max": p[4]})),
            "rss_warmup_s": f.warmup_s,
            "memory": f.mem.iter().map(|s| serde_json::json!({"t_s": s.t, "phase": s.phase, "vmrss_kib": s.rss_kib, "mbufs_in_use": s.mbufs_in_use, "load1": s.load1, "steal": s.steal, "worker_on_cpu": s.worker.map(|x| x.0), "worker_waiting": s.worker.map(|x| x.1), "generator_on_cpu": s.generator.map(|x| x.0), "generator_waiting": s.generator.map(|x| x.1)})).collect::<Vec<_>>(),
            "periods": f.periods.iter().map(|p| serde_json::json!({
                "k": p.k, "rule_set": p.set.name(), "t_start_s": p.start.t, "t_end_s": p.end.t,
                "table_version": p.end.version, "from_vm0": p.rx(), "sent_up": p.tx(),
                "acl_deny": p.delta("acl_deny"), "policed": p.delta("policed"),
                "other_drops": p.other_drops().into_iter().map(|(r, n)| (r, serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }

    /// (RSS MiB, mbufs in use) series over time for the plots.
    pub fn series(&self) -> (Vec<crate::report::Series>, Vec<crate::report::Series>) {
        let pts = |g: &dyn Fn(&MemSample) -> Option<f64>| -> Vec<(f64, f64)> {
            self.figures
                .mem
                .iter()
                .filter(|m| m.phase == "run")
                .filter_map(|m| g(m).map(|v| (m.t, v)))
                .collect()
        };
        (
            vec![(
                "vfex VmRSS (MiB)".into(),
                pts(&|m| Some(m.rss_kib as f64 / 1024.0)),
            )],
            vec![(
                "mbufs in use".into(),
                pts(&|m| m.mbufs_in_use.map(|v| v as f64)),
            )],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_sets_alternate() {
        let v: Vec<&str> = (0..9).map(|k| rule_set(k).name()).collect();
        assert_eq!(
            v,
            [
                "open", "police", "open", "deny", "open", "police", "open", "deny", "open"
            ]
        );
        // Every other configuration is open; each change matters.
        for k in 0..16 {
            assert_ne!(rule_set(k), rule_set(k + 1), "{k}");
        }
        assert_eq!(RuleSet::Open.causes(), None);
        assert_eq!(RuleSet::Police.causes(), Some("policed"));
        assert_eq!(RuleSet::Deny.causes(), Some("acl_deny"));
    }

    #[test]
    fn configurations_differ_only_in_the_rules() {
        let p = Police::for_rate(100_000.0, 64);
        // 50 % of 100 kpps x 60 B x 8 bits.
        assert_eq!(p.rate_bps, 24_000_000);
        assert_eq!((p.burst_bytes, p.frame_bytes), (64 * 60, 60));
        // One second from a full bucket: 50 000 frames + the burst's 64.
        assert!((p.passes(1.0) - 50_064.0).abs() < 1e-6);
        let open = config(4, RuleSet::Open, &p);
        let police = config(4, RuleSet::Police, &p);
        let deny = config(4, RuleSet::Deny, &p);
        let deny_rule =
            "{ action = \"deny\", src_ip = \"198.18.0.0/15\", proto = \"udp\", dst_port = 1024 }";
        let permit =
            "{ action = \"permit\", src_ip = \"198.18.0.0/15\", proto = \"udp\", dst_port = 1024 }";
        assert!(open.contains(permit) && !open.contains(deny_rule));
        assert!(open.contains("rate_bps = 1000000000000"));
        assert!(police.contains("rate_bps = 24000000, burst_bytes = 3840"));
        assert!(!police.contains(deny_rule));
        // The deny rule sits right above the permit.
        let d = deny.find(deny_rule).unwrap();
        let pm = deny.find(permit).unwrap();
        assert!(d < pm && deny[d..pm].lines().count() == 2, "{deny}");
        assert_eq!(
            (acl(RuleSet::Open).len(), acl(RuleSet::Deny).len()),
            (16, 17)
        );
        // Same ports and vEths: uplink memif id 1, vm0 id 0 (the
        // generator's ports 1 and 0), vm1.. ids 2..; the VM MACs, anti-spoof.
        for c in [&open, &police, &deny] {
            assert_eq!(c.matches("[ports.").count(), 5);
            assert_eq!(c.matches("[veths.").count(), 4);
            assert!(c.contains("devargs = \"net_memif1,role=server,id=1,socket=@SOCKET@,socket-abstract=no\"\n\n[ports.vm0]"));
            assert!(c.contains(
                "[ports.vm0]\nkind = \"downlink\"\ndevargs = \"net_memif0,role=server,id=0,"
            ));
            assert!(c.contains(
                "[ports.vm1]\nkind = \"downlink\"\ndevargs = \"net_memif2,role=server,id=2,"
            ));
            assert!(c.contains("mac = \"02:00:00:00:00:01\"\nprofile = \"vm\"\nanti_spoof = { allowed_macs = [\"02:00:00:00:00:01\"] }"));
        }
        let strip = |c: &str| -> Vec<String> {
            c.lines()
                .filter(|l| {
                    !l.contains("policer") && !l.contains("deny") && !l.contains("rule set")
                })
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(strip(&open), strip(&police));
        assert_eq!(strip(&open), strip(&deny));
    }

    fn counters(t: f64, version: u64, vm_rx: u64, up_tx: u64, drops: &[(&str, u64)]) -> Counters {
        Counters {
            t,
            version,
            vm_rx,
            up_tx,
            drops: drops.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect(),
            stalls: 0,
            longest_stall_us: 0,
        }
    }

    fn period(k: usize, start: Counters, end: Counters) -> Period {
        Period {
            k,
            set: rule_set(k),
            start,
            end,
        }
    }

    #[test]
    fn periods_are_checked_against_their_rule_set() {
        let z = [("acl_deny", 0), ("policed", 0), ("tx_full", 0)];
        // open: forwards everything.
        let p = period(
            0,
            counters(0.0, 1, 0, 0, &z),
            counters(1.0, 1, 100, 100, &z),
        );
        assert_eq!(p.check(1), Ok(()));
        assert!(p.other_drops().is_empty());
        // open with a policed frame: wrong.
        let p = period(
            0,
            counters(0.0, 1, 0, 0, &z),
            counters(1.0, 1, 100, 99, &[("policed", 1)]),
        );
        assert!(p.check(1).unwrap_err().contains("open period"));
        // police: some policed, some forwarded, no acl_deny.
        let s = counters(1.0, 2, 100, 100, &z);
        let p = period(1, s.clone(), counters(2.0, 2, 200, 150, &[("policed", 50)]));
        assert_eq!(p.check(1), Ok(()));
        assert_eq!((p.rx(), p.tx(), p.delta("policed")), (100, 50, 50));
        let p = period(1, s.clone(), counters(2.0, 2, 200, 200, &z));
        assert!(p.check(1).is_err(), "a police period that policed nothing");
        // deny: nothing sent up.
        let s = counters(3.0, 4, 300, 250, &[("policed", 50)]);
        let p = period(
            3,
            s.clone(),
            counters(4.0, 4, 400, 250, &[("policed", 50), ("acl_deny", 100)]),
        );
        assert_eq!(p.check(1), Ok(()));
        let p = period(
            3,
            s.clone(),
            counters(4.0, 4, 400, 251, &[("policed", 50), ("acl_deny", 99)]),
        );
        assert!(p.check(1).is_err(), "a frame forwarded under deny");
        // The table version must be the configuration's.
        let p = period(3, counters(3.0, 3, 0, 0, &z), counters(4.0, 4, 0, 0, &z));
        assert!(p.check(1).unwrap_err().contains("table version"));
        // Other drops are listed.
        let p = period(
            0,
            counters(0.0, 1, 0, 0, &z),
            counters(1.0, 1, 100, 90, &[("tx_full", 10)]),
        );
        assert_eq!(p.other_drops(), [("tx_full".to_owned(), 10)]);
    }

    fn mem(t: f64, phase: &'static str, rss: u64, mbufs: u64) -> MemSample {
        MemSample {
            t,
            phase,
            rss_kib: rss,
            mbufs_in_use: Some(mbufs),
            ..MemSample::default()
        }
    }

    /// A soak that passes: 1000 frames attempted, 250 denied, 250
    /// policed, 500 back.
    fn passing() -> Figures {
        let z = [("acl_deny", 0), ("policed", 0)];
        let periods = vec![
            period(
                0,
                counters(0.0, 1, 0, 0, &z),
                counters(1.0, 1, 250, 250, &z),
            ),
            period(
                1,
                counters(1.0, 2, 250, 250, &z),
                counters(2.0, 2, 500, 375, &[("policed", 125)]),
            ),
            period(
                2,
                counters(2.0, 3, 500, 375, &[("policed", 125)]),
                counters(3.0, 3, 750, 625, &[("policed", 125)]),
            ),
            period(
                3,
                counters(3.0, 4, 750, 625, &[("policed", 125)]),
                counters(4.0, 4, 1000, 625, &[("policed", 125), ("acl_deny", 250)]),
            ),
        ];
        Figures {
            seconds: 4.0,
            offered_pps: 250.0,
            generator: GenTotals {
                sent: 1000,
                tx_failed: 0,
                received: 500,
                foreign: 0,
                seconds: 4.2,
            },
            ports: vec![
                PortTotals {
                    name: "uplink".into(),
                    rx: 0,
                    tx: 500,
                    tx_full: 0,
                    pmd: Some((0, 500, 0, 0)),
                },
                PortTotals {
                    name: "vm0".into(),
                    rx: 1000,
                    tx: 0,
                    tx_full: 0,
                    pmd: Some((1000, 0, 0, 0)),
                },
            ],
            drops: vec![
                ("acl_deny".into(), 250),
                ("policed".into(), 250),
                ("tx_full".into(), 0),
            ],
            reloads_sent: 3,
            reloads_applied: 3,
            reload_errors: Vec::new(),
            reload_ms: vec![10.0, 12.0, 11.0],
            first_version: 1,
            periods,
            mem: vec![
                mem(0.0, "idle-before", 30_000, 0),
                mem(0.5, "run", 34_000, 40),
                mem(1.0, "run", 34_100, 35),
                mem(3.0, "run", 34_900, 50),
                mem(5.0, "idle-after", 30_500, 0),
            ],
            warmup_s: 1.0,
            exit_leak: None,
            police: Some(Police {
                rate_bps: 59_520,
                burst_bytes: 60,
                frame_bytes: 60,
            }),
        }
    }

    fn failed(f: &Figures) -> Vec<&'static str> {
        verdict(f)
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn a_clean_soak_passes() {
        let f = passing();
        assert_eq!(failed(&f), Vec::<&str>::new());
        assert_eq!(f.unexplained_loss(), 0);
        assert_eq!(f.rss_growth(), Some((34_100, 800)));
        assert_eq!(f.idle_mbufs(), (Some(0), Some(0)));
        // 250 frames in the police period, 125 passed (1 s at 124
        // frames/s + the burst's 1).
        let (exp, got) = f.police_expected().unwrap();
        assert!((exp - 125.0).abs() < 1e-9 && got == 125, "{exp} {got}");
    }

    #[test]
    fn each_failure_fails_its_check() {
        // Frames refused by vfex's rx ring: lost, not by a rule.
        let mut f = passing();
        f.generator.tx_failed = 10;
        let v = failed(&f);
        assert!(
            v.iter().any(|c| c.starts_with("vfex took every frame")),
            "{v:?}"
        );
        assert!(
            v.contains(&"no loss beyond the drops the rules cause"),
            "{v:?}"
        );
        // A tx_full drop: counted, but not a rule's.
        let mut f = passing();
        f.generator.received = 499;
        f.ports[0].tx = 499;
        f.ports[0].tx_full = 1;
        f.ports[0].pmd = Some((0, 499, 0, 0));
        f.drops[2].1 = 1;
        assert_eq!(
            failed(&f),
            [
                "no drops but the rules' (acl_deny, policed)",
                "no loss beyond the drops the rules cause"
            ]
        );
        // A frame vfex neither sent nor counted.
        let mut f = passing();
        f.ports[0].tx = 499;
        let v = failed(&f);
        assert!(
            v.contains(&"vfex rx = tx + drops by reason (all ports, exactly)"),
            "{v:?}"
        );
        // A reload that did not apply.
        let mut f = passing();
        f.reloads_applied = 2;
        f.reload_errors.push("reload 3 (deny): ...".into());
        assert_eq!(
            failed(&f),
            ["every rule change was applied (table version moved, no error)"]
        );
        // RSS growing by 1 MiB after the warm-up.
        let mut f = passing();
        f.mem[3].rss_kib = 34_100 + 1024;
        assert_eq!(failed(&f), ["RSS stable: growth after the warm-up < 1 MiB"]);
        // Mbufs not back to the baseline, or vfex's warning at exit.
        let mut f = passing();
        f.mem[4].mbufs_in_use = Some(3);
        assert_eq!(
            failed(&f),
            ["mbufs in use back to the idle baseline after the traffic"]
        );
        let mut f = passing();
        f.exit_leak = Some("vfex: warning: 3 mbufs still in use after the ports closed".into());
        assert_eq!(
            failed(&f),
            ["mbufs in use back to the idle baseline after the traffic"]
        );
        let mut f = passing();
        for m in &mut f.mem {
            m.mbufs_in_use = None;
        }
        assert_eq!(
            failed(&f),
            ["mbufs in use back to the idle baseline after the traffic"]
        );
        // A policer that passed more than its rate.
        let mut f = passing();
        f.periods[1].end.drops.insert("policed".into(), 100);
        let v = failed(&f);
        assert!(v.iter().any(|c| c.starts_with("the policer")), "{v:?}");
        // The generator fell behind its rate.
        let mut f = passing();
        f.generator.seconds = 4.4;
        assert_eq!(
            failed(&f),
            ["the generator kept the offered rate (within 1 %)"]
        );
        // The PMD saw something else than vfex counted.
        let mut f = passing();
        f.ports[1].pmd = Some((1001, 0, 0, 0));
        assert_eq!(
            failed(&f),
            ["vfex's port counters = the PMDs' (ethdev), no rx_nombuf or errors"]
        );
    }

    #[test]
    fn loss_is_explained() {
        let f = passing();
        assert!(explain(&f, None).is_empty());
        let mut f = passing();
        f.generator.sent = 1024 + 1000;
        f.mem[2].worker = Some((0.4, 0.6));
        let last = f.periods.len() - 1;
        f.periods[last].end.stalls = 3;
        f.periods[last].end.longest_stall_us = 23_600;
        let n = explain(&f, Some([1.0, 2.0, 3.0, 4.0, 600_000.0]));
        assert_eq!(n.len(), 3, "{n:?}");
        assert!(n[0].starts_with("1024 frames the generator sent never reached vfex"));
        assert!(
            n[1].starts_with(
                "the worker's poll loop stopped 3 times for 1 ms or more during the run (longest 23.6 ms)"
            ),
            "{}",
            n[1]
        );
        assert!(
            n[2].contains("off its CPU 60 % (median; 60..60 %)"),
            "{}",
            n[2]
        );
        assert!(
            n[2].contains("largest one-way latency was 600.0 ms"),
            "{}",
            n[2]
        );
    }

    #[test]
    fn parsers() {
        let g = parse_gen_totals("x\ngen: tsc-hz 2250000000 rate 1000 sent 990 tx-failed 10 received 500 foreign 0 measured-attempted 900 measured-sent 890 measured-received 450 lost 440 seconds 4.200\ngen-hist 1 2\n").unwrap();
        assert_eq!(
            g,
            GenTotals {
                sent: 990,
                tx_failed: 10,
                received: 500,
                foreign: 0,
                seconds: 4.2
            }
        );
        assert!(parse_gen_totals("nothing").is_none());
        let summary = "  port 0 net_memif1   RX-packets: 0              TX-packets: 662551         TX-dropped(tx_full): 480
  port 1 net_memif0   RX-packets: 663031         TX-packets: 0              TX-dropped(tx_full): 0
  total               RX-packets: 663031         TX-packets: 662551
  veth vm0          from-vm 663031 (39781860 B)  to-vm 0 (0 B)  drops 0
  dropped acl_deny         7
";
        assert_eq!(parse_ports(summary), [(0, 662551, 480), (663031, 0, 0)]);
        assert_eq!(
            summary_drops(summary),
            [("acl_deny".to_owned(), 7), ("tx_full".to_owned(), 480)]
        );
        let pi = "mempool <other>@0x1\n  size=100\n  common_pool_count=1\nmempool <vfex_pkts>@0x1004fdd80\n  flags=10\n  size=16384\n  internal cache infos:\n    cache_size=256\n    cache_count[0]=3\n    total_cache_count=40\n  common_pool_count=16300\n";
        assert_eq!(parse_proc_info_mempool(pi, "vfex_pkts"), Some(44));
        assert_eq!(parse_proc_info_mempool(pi, "nope"), None);
        let t = serde_json::json!({"port_extender": "role Extender(VnTag), 5 ports, 4 vEths, version 12"});
        assert_eq!(parse_version(&t), Some(12));
        assert_eq!(parse_version(&serde_json::json!({})), None);
        let (r, w) = sched_shares((100, 200), (600, 700), 1000);
        assert_eq!((r, w), (0.5, 0.5));
    }

    #[test]
    fn windows_add_up() {
        let mut f = passing();
        f.mem[1].worker = Some((0.5, 0.5));
        f.mem[2].worker = Some((0.7, 0.3));
        let w = windows(&f, 2.0);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].0, w[0].1, w[0].2, w[0].3), (0.0, 2.0, 500, 500.0));
        assert_eq!(w[0].4, Some(0.4));
        assert_eq!((w[1].2, w[1].3), (500, 500.0));
        assert_eq!(w[1].4, None);
        assert!(f.periods.len() == 4 && w.iter().map(|x| x.2).sum::<u64>() == 1000);
        let s = Soak {
            search: latency::Search {
                rate: 300.0,
                trials: vec![(300.0, 0.0)],
            },
            load: 90.0,
            frame: 64,
            veths: 4,
            reload_period: 1.0,
            sample_period: 5.0,
            figures: f.clone(),
            checks: verdict(&f),
            latency: None,
            notes: Vec::new(),
        };
        assert!(s.pass());
        let md = s.markdown();
        assert!(md.starts_with("## Soak: PASS"), "{md}");
        assert!(
            md.contains("| 0-4 | 1000 | 1000 | 100.00 | 40 | - |"),
            "{md}"
        );
        assert_eq!(s.json()["verdict"], "PASS");
        assert_eq!(s.json()["periods"][3]["acl_deny"], 250);
    }

    #[test]
    fn memory_table_is_condensed() {
        let mut v = vec![mem(0.0, "idle-before", 1, 0)];
        v.extend((0..=130).map(|t| mem(t as f64, "run", 2, 0)));
        v.push(mem(131.0, "idle-after", 1, 0));
        let c: Vec<f64> = condensed(&v, 60.0).iter().map(|m| m.t).collect();
        assert_eq!(c, [0.0, 0.0, 60.0, 120.0, 130.0, 131.0]);
    }
}
