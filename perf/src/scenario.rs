//! Scenarios as data: each is a list of rows, a row is vfex doing one job and
//! the peer doing the equivalent job on the same input. The runner runs
//! every distinct job once per round, in turn (A B A B), so rows that share a
//! peer share its runs.

use crate::args::{Args, Input, PeerKind};
use crate::ovs::{self, OvsOp};
use crate::pcap::Tag;
use crate::roles::{self, RoleJob};
use crate::stats::{Spread, gbps, paired_ratio};
use crate::tools::{self, Env, Measurement, Setup};
use anyhow::Result;

/// A tool doing one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// vfex `--forward-mode MODE` plus extra options (a role's).
    Vfex {
        /// Forward mode.
        mode: String,
        /// Extra vfex options.
        extra: Vec<String>,
    },
    /// `dpdk-testpmd --forward-mode=MODE`.
    Testpmd(String),
    /// Open vSwitch with these rules.
    Ovs([OvsOp; 2]),
    /// vfex running a role from a generated configuration (`--config`).
    VfexRole(RoleJob),
    /// Open vSwitch doing the role's equivalent on the same frames.
    OvsRole(RoleJob),
    /// The plain C tag forwarder (`perf/peers/ctagfwd.c`) in this mode.
    CFwd(String),
}

impl Tool {
    /// Name in reports.
    pub fn label(&self) -> String {
        match self {
            Tool::Vfex { mode, extra } if extra.is_empty() => format!("vfex {mode}"),
            Tool::Vfex { extra, .. } => format!("vfex {}", extra.join(" ")),
            Tool::Testpmd(m) => format!("testpmd {m}"),
            Tool::Ovs(ops) => format!("ovs {}", ovs::label(*ops)),
            Tool::VfexRole(j) => j.vfex_label(),
            Tool::OvsRole(j) => j.ovs_label(),
            Tool::CFwd(m) => format!("plain C {m}"),
        }
    }
}

/// A tool and the frames it gets on each port (pcap input).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The tool.
    pub tool: Tool,
    /// Tag of the frames arriving on port 0 and 1.
    pub tags: [Tag; 2],
}

impl Job {
    fn key(&self) -> String {
        format!(
            "{} [{} {}]",
            self.tool.label(),
            self.tags[0].name(),
            self.tags[1].name()
        )
    }
}

/// One line of the report: vfex's job and its peer's.
#[derive(Debug, Clone)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// vfex's job.
    pub dut: Job,
    /// The peer's job.
    pub peer: Option<Job>,
    /// Inputs this row makes sense on.
    pub inputs: Vec<Input>,
    /// Why the row cannot run yet, if so.
    pub unavailable: Option<String>,
    /// The target it is measured against, in words.
    pub target: Option<String>,
}

/// Default inputs of a scenario (when `--inputs` is not given).
pub fn default_inputs(scenario: &str) -> Vec<Input> {
    match scenario {
        "io" | "macswap" | "fwd" => vec![Input::Null, Input::Ring],
        "tags" => vec![Input::Ring],
        "encap" => vec![Input::Null, Input::Pcap],
        _ => vec![Input::Pcap],
    }
}

fn tag_of(name: &str, v: u16) -> Tag {
    match name {
        "vntag" => Tag::VnTag(v),
        "etag" => Tag::ETag(v),
        "stag" => Tag::STag(v),
        _ => Tag::None,
    }
}

/// The frames a vfex forward mode expects on ports 0 and 1: tagged where it
/// strips (`X-decap` on both, `X` on odd ports).
pub fn mode_tags(mode: &str) -> [Tag; 2] {
    if let Some(t) = mode.strip_suffix("-decap") {
        [tag_of(t, 1), tag_of(t, 2)]
    } else if ["vntag", "etag", "stag"].contains(&mode) {
        [Tag::None, tag_of(mode, 2)]
    } else {
        [Tag::None, Tag::None]
    }
}

fn vfex(mode: &str) -> Job {
    Job {
        tool: Tool::Vfex {
            mode: mode.into(),
            extra: Vec::new(),
        },
        tags: mode_tags(mode),
    }
}

fn testpmd(mode: &str, tags: [Tag; 2]) -> Job {
    Job {
        tool: Tool::Testpmd(mode.into()),
        tags,
    }
}

fn cfwd(mode: &str) -> Job {
    Job {
        tool: Tool::CFwd(mode.into()),
        tags: [Tag::None; 2],
    }
}

fn ovs_job(ops: [OvsOp; 2], tags: [Tag; 2]) -> Job {
    Job {
        tool: Tool::Ovs(ops),
        tags,
    }
}

/// Whether the role rows can run with this vfex, or why not: the harness
/// writes a configuration file for `vfex -- --config FILE`.
pub fn role_support(vfex: &str) -> Result<(), String> {
    let help = std::process::Command::new(vfex)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    role_support_from_help(&help)
}

fn role_support_from_help(help: &str) -> Result<(), String> {
    if help.contains("--config") {
        Ok(())
    } else {
        Err("this vfex has no --config (the roles are not merged yet)".into())
    }
}

/// The rows of `scenario`.
pub fn rows(a: &Args, scenario: &str, role_ok: &Result<(), String>) -> Vec<Row> {
    let row = |dut: Job, peer: Option<Job>, inputs: Vec<Input>, target: Option<&str>| Row {
        scenario: scenario.into(),
        dut,
        peer,
        inputs,
        unavailable: None,
        target: target.map(str::to_owned),
    };
    let all = Input::ALL.to_vec();
    let ovs_in = vec![Input::Null, Input::Pcap, Input::Memif];
    let none = [Tag::None, Tag::None];
    let mut v = Vec::new();
    match scenario {
        "io" => {
            v.push(row(
                vfex("io"),
                Some(testpmd("io", none)),
                all,
                Some("vfex >= 0.95x testpmd io"),
            ));
            v.push(row(
                vfex("io"),
                Some(ovs_job([OvsOp::Output; 2], none)),
                ovs_in,
                None,
            ));
        }
        "macswap" => v.push(row(
            vfex("macswap"),
            Some(testpmd("macswap", none)),
            all,
            None,
        )),
        "fwd" => {
            for m in &a.modes {
                let t = mode_tags(m);
                v.push(row(vfex(m), Some(testpmd("io", t)), all.clone(), None));
            }
        }
        "tags" => {
            v.push(row(
                vfex("io"),
                Some(testpmd("io", none)),
                all.clone(),
                None,
            ));
            for t in &a.tags {
                let target = if t == "etag" {
                    "adds <= 8 cycles/pkt over vfex io (net_ring loop)"
                } else {
                    "adds <= 6 cycles/pkt over vfex io (net_ring loop)"
                };
                v.push(row(
                    vfex(t),
                    Some(testpmd("io", mode_tags(t))),
                    all.clone(),
                    Some(target),
                ));
                // OVS pushes an S-tag on port 0 and pops it on port 1 of a
                // memif loop (it has no way to start a ring loop).
                v.push(row(
                    vfex(t),
                    Some(ovs_job(
                        [OvsOp::Push, OvsOp::Pop],
                        [Tag::None, Tag::STag(1)],
                    )),
                    vec![Input::Memif],
                    None,
                ));
                // The plain C forwarder of the issue (memmove of the MACs)
                // on the same ring loop: the added cycles compared.
                v.push(row(
                    vfex(t),
                    Some(cfwd(t)),
                    vec![Input::Ring],
                    Some("adds <= 0.5x the cycles the plain C forwarder adds over its io"),
                ));
            }
            v.push(row(vfex("io"), Some(cfwd("io")), vec![Input::Ring], None));
        }
        "encap" => {
            for t in &a.tags {
                let m = format!("{t}-encap");
                v.push(row(
                    vfex(&m),
                    Some(testpmd("io", none)),
                    all.clone(),
                    Some("VN-Tag encap >= 0.85x testpmd io on net_null, hugepages"),
                ));
                v.push(row(
                    vfex(&m),
                    Some(ovs_job([OvsOp::Push; 2], none)),
                    ovs_in.clone(),
                    None,
                ));
            }
        }
        "decap" => {
            for t in &a.tags {
                let m = format!("{t}-decap");
                let tags = mode_tags(&m);
                v.push(row(
                    vfex(&m),
                    Some(testpmd("io", tags)),
                    vec![Input::Pcap],
                    None,
                ));
                v.push(row(
                    vfex(&m),
                    Some(ovs_job([OvsOp::Pop; 2], [Tag::STag(1), Tag::STag(2)])),
                    vec![Input::Pcap],
                    None,
                ));
            }
        }
        "port-extender" | "vepa-station" | "controlling-bridge" => {
            let kind = roles::RoleKind::from_name(scenario).unwrap_or(roles::RoleKind::Extender);
            let job = RoleJob {
                kind,
                veths: a.veths.unwrap_or(kind.default_veths()),
                macs: a.macs,
            };
            let target = match kind {
                roles::RoleKind::Extender => {
                    ">= 3x OVS push/pop_vlan per core (issue: 64 vEths; here --veths VM ports, at most 31)"
                }
                roles::RoleKind::Station => "-",
                roles::RoleKind::Bridge => ">= 2x OVS NORMAL per core (64K MACs over 1K vEths)",
            };
            let mut r = row(
                Job {
                    tool: Tool::VfexRole(job.clone()),
                    tags: none,
                },
                Some(Job {
                    tool: Tool::OvsRole(job.clone()),
                    tags: none,
                }),
                vec![Input::Pcap],
                Some(target),
            );
            if let Err(why) = role_ok.clone().and(job.check().map_err(|e| e.to_string())) {
                r.unavailable = Some(format!("not available: {why}"));
            }
            v.push(r);
        }
        _ => {}
    }
    v
}

/// What one row measured on one setup.
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The row.
    pub row: Row,
    /// The conditions.
    pub setup: Setup,
    /// vfex's runs, one per round (`Err`: the run failed).
    pub dut: Vec<Result<Measurement, String>>,
    /// The peer's runs (`None`: no peer or the peer is unavailable).
    pub peer: Option<Vec<Result<Measurement, String>>>,
    /// Why the peer did not run, if it did not.
    pub peer_missing: Option<String>,
    /// vfex io's runs on the same setup (for the added cost), if run.
    pub io: Option<Vec<Result<Measurement, String>>>,
    /// The peer's io runs on the same setup (plain C forwarder rows: its
    /// own added cost), if run.
    pub peer_io: Option<Vec<Result<Measurement, String>>>,
}

fn pps(v: &[Result<Measurement, String>]) -> Vec<f64> {
    v.iter()
        .map(|m| m.as_ref().map(|m| m.pps).unwrap_or(0.0))
        .collect()
}

fn ok_pps(v: &[Result<Measurement, String>]) -> Vec<f64> {
    v.iter()
        .filter_map(|m| m.as_ref().ok())
        .map(|m| m.pps)
        .filter(|p| *p > 0.0)
        .collect()
}

impl RowResult {
    /// Median (min..max) packets per second of vfex.
    pub fn dut_pps(&self) -> Option<Spread> {
        Spread::of(&ok_pps(&self.dut))
    }

    /// Same for the peer.
    pub fn peer_pps(&self) -> Option<Spread> {
        self.peer.as_ref().and_then(|p| Spread::of(&ok_pps(p)))
    }

    /// Median of the per-round ratios vfex / peer.
    pub fn ratio(&self) -> Option<f64> {
        self.peer
            .as_ref()
            .and_then(|p| paired_ratio(&pps(&self.dut), &pps(p)))
    }

    /// The TSC rate vfex printed.
    pub fn tsc_hz(&self) -> Option<f64> {
        self.dut
            .iter()
            .chain(self.io.iter().flatten())
            .filter_map(|m| m.as_ref().ok())
            .find_map(|m| m.tsc_hz)
    }

    /// TSC cycles per packet per core: TSC Hz x workers / pps.
    pub fn tsc_cycles(
        v: &[Result<Measurement, String>],
        workers: usize,
        hz: Option<f64>,
    ) -> Option<f64> {
        let hz = hz?;
        let p = Spread::of(&ok_pps(v))?.median;
        (p > 0.0).then(|| hz * workers as f64 / p)
    }

    /// CPU cycles per packet counted by perf (per round, then the median).
    pub fn cpu_cycles(v: &[Result<Measurement, String>]) -> Option<f64> {
        let c: Vec<f64> = v
            .iter()
            .filter_map(|m| m.as_ref().ok())
            .filter_map(|m| {
                m.cpu_cycles_per_s
                    .filter(|_| m.pps > 0.0)
                    .map(|c| c / m.pps)
            })
            .collect();
        Spread::of(&c).map(|s| s.median)
    }

    /// Cycles per packet as OVS's PMD counts them.
    pub fn own_cycles(v: &[Result<Measurement, String>]) -> Option<f64> {
        let c: Vec<f64> = v
            .iter()
            .filter_map(|m| m.as_ref().ok())
            .filter_map(|m| m.own_cycles_per_packet)
            .collect();
        Spread::of(&c).map(|s| s.median)
    }

    /// Cycles per packet of each run: the CPU cycles `perf stat` counted
    /// when it ran (they leave out the time the worker was not scheduled,
    /// which TSC figures include on a shared machine), else TSC Hz x
    /// workers / pps. `None` for a failed or empty run.
    fn run_cycles(&self, v: &[Result<Measurement, String>]) -> Vec<Option<f64>> {
        let hz = self.tsc_hz();
        let w = self.setup.workers as f64;
        v.iter()
            .map(|m| {
                let m = m.as_ref().ok().filter(|m| m.pps > 0.0)?;
                m.cpu_cycles_per_s
                    .map(|c| c / m.pps)
                    .or_else(|| hz.map(|h| h * w / m.pps))
            })
            .collect()
    }

    /// Per round: `a`'s cycles per packet minus `b`'s; the median.
    fn added(
        &self,
        a: &[Result<Measurement, String>],
        b: &[Result<Measurement, String>],
    ) -> Option<f64> {
        let d: Vec<f64> = self
            .run_cycles(a)
            .into_iter()
            .zip(self.run_cycles(b))
            .filter_map(|(x, y)| Some(x? - y?))
            .collect();
        Spread::of(&d).map(|s| s.median)
    }

    /// Cycles per packet vfex adds over vfex io (per round, then the median;
    /// CPU cycles where `perf stat` counted them, else TSC).
    pub fn added_over_io(&self) -> Option<f64> {
        self.added(&self.dut, self.io.as_ref()?)
    }

    /// Cycles per packet the peer adds over its own io (plain C forwarder
    /// rows; per round, then the median).
    pub fn peer_added_over_io(&self) -> Option<f64> {
        self.added(self.peer.as_ref()?, self.peer_io.as_ref()?)
    }

    /// Per round: vfex's added cycles / the peer's added cycles, then the
    /// median (plain C forwarder rows).
    pub fn added_ratio(&self) -> Option<f64> {
        let c = [
            self.run_cycles(&self.dut),
            self.run_cycles(self.io.as_ref()?),
            self.run_cycles(self.peer.as_ref()?),
            self.run_cycles(self.peer_io.as_ref()?),
        ];
        let rounds = c.iter().map(Vec::len).min().unwrap_or(0);
        let r: Vec<f64> = (0..rounds)
            .filter_map(|k| {
                let (dut, io, p, pio) = (c[0][k]?, c[1][k]?, c[2][k]?, c[3][k]?);
                let peer_added = p - pio;
                (peer_added > 0.0).then(|| (dut - io) / peer_added)
            })
            .collect();
        Spread::of(&r).map(|s| s.median)
    }

    /// `Ok` when every run of vfex and of the peer forwarded.
    pub fn verified(&self) -> Result<(), String> {
        let check = |who: &str, v: &[Result<Measurement, String>]| -> Result<(), String> {
            for (r, m) in v.iter().enumerate() {
                match m {
                    Err(e) => return Err(format!("{who} round {}: {e}", r + 1)),
                    Ok(m) => m
                        .forwarded
                        .clone()
                        .map_err(|e| format!("{who} round {}: {e}", r + 1))?,
                }
            }
            Ok(())
        };
        check(&self.row.dut.tool.label(), &self.dut)?;
        if let Some(p) = &self.peer {
            check(
                &self
                    .row
                    .peer
                    .as_ref()
                    .map(|j| j.tool.label())
                    .unwrap_or_default(),
                p,
            )?;
        }
        Ok(())
    }

    /// Drops by reason summed over vfex's rounds.
    pub fn drops(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for m in self.dut.iter().filter_map(|m| m.as_ref().ok()) {
            for (r, n) in &m.drops {
                match out.iter_mut().find(|(x, _)| x == r) {
                    Some(e) => e.1 += n,
                    None => out.push((r.clone(), *n)),
                }
            }
        }
        out
    }

    /// The whole result as JSON.
    pub fn json(&self) -> serde_json::Value {
        let runs = |v: &[Result<Measurement, String>]| -> serde_json::Value {
            v.iter()
                .map(|m| match m {
                    Ok(m) => serde_json::json!({
                        "pps": m.pps, "periods": m.periods, "rx": m.rx, "tx": m.tx,
                        "drops": m.drops.iter().map(|(r, n)| serde_json::json!({"reason": r, "packets": n})).collect::<Vec<_>>(),
                        "tsc_hz": m.tsc_hz, "cpu_cycles_per_s": m.cpu_cycles_per_s,
                        "own_cycles_per_packet": m.own_cycles_per_packet,
                        "forwarded": m.forwarded.is_ok(), "why_not": m.forwarded.clone().err(), "notes": m.notes,
                    }),
                    Err(e) => serde_json::json!({"error": e}),
                })
                .collect()
        };
        let w = self.setup.workers;
        let frame = self.setup.frame;
        let dut = self.dut_pps();
        let peer = self.peer_pps();
        serde_json::json!({
            "scenario": self.row.scenario,
            "vfex": self.row.dut.tool.label(),
            "peer": self.row.peer.as_ref().map(|j| j.tool.label()),
            "input": self.setup.input.name(),
            "frame_size": frame,
            "frame_tags": self.row.dut.tags.map(|t| t.name()),
            "workers": w,
            "target": self.row.target,
            "unavailable": self.row.unavailable,
            "peer_missing": self.peer_missing,
            "vfex_mpps": dut.map(|s| s.json(1e-6)),
            "vfex_mpps_per_core": dut.map(|s| s.json(1e-6 / w as f64)),
            "vfex_gbps": dut.map(|s| gbps(s.median, frame)),
            "gbps_note": "frame size (FCS included) + 20 B preamble/SFD/inter-frame gap per frame",
            "vfex_tsc_cycles_per_packet": Self::tsc_cycles(&self.dut, w, self.tsc_hz()),
            "vfex_cpu_cycles_per_packet": Self::cpu_cycles(&self.dut),
            "added_cycles_over_vfex_io": self.added_over_io(),
            "peer_added_cycles_over_its_io": self.peer_added_over_io(),
            "added_cycles_ratio_vfex_to_peer": self.added_ratio(),
            "peer_mpps": peer.map(|s| s.json(1e-6)),
            "peer_gbps": peer.map(|s| gbps(s.median, frame)),
            "peer_tsc_cycles_per_packet": self.peer.as_ref().and_then(|p| Self::tsc_cycles(p, w, self.tsc_hz())),
            "peer_cpu_cycles_per_packet": self.peer.as_ref().and_then(|p| Self::cpu_cycles(p)),
            "peer_own_cycles_per_packet": self.peer.as_ref().and_then(|p| Self::own_cycles(p)),
            "ratio_vfex_to_peer": self.ratio(),
            "drops": self.drops().iter().map(|(r, n)| serde_json::json!({"reason": r, "packets": n})).collect::<Vec<_>>(),
            "forwarded": self.verified().is_ok(),
            "why_not": self.verified().err(),
            "vfex_runs": runs(&self.dut),
            "peer_runs": self.peer.as_ref().map(|p| runs(p)),
        })
    }
}

/// Runs every row of `rows` over the inputs, frame sizes and worker counts of
/// `a`, A B A B; `progress` gets one line per run.
pub fn run_all(env: &Env, rows: &[Row], progress: &mut dyn FnMut(&str)) -> Vec<RowResult> {
    let a = &env.args;
    let ovs_ok = if a.peers.contains(&PeerKind::Ovs) {
        ovs::available(env)
    } else {
        Err("not asked for (--peers)".into())
    };
    let testpmd_ok = if !a.peers.contains(&PeerKind::Testpmd) {
        Err("not asked for (--peers)".to_owned())
    } else if !crate::sys::available(&a.testpmd) {
        Err(format!(
            "{} is not installed (package dpdk; scripts/setup.sh installs it)",
            a.testpmd
        ))
    } else {
        Ok(())
    };
    if let Err(e) = &ovs_ok
        && a.peers.contains(&PeerKind::Ovs)
    {
        progress(&format!("peer Open vSwitch: {e}"));
    }
    if let Err(e) = &testpmd_ok
        && a.peers.contains(&PeerKind::Testpmd)
    {
        progress(&format!("peer testpmd: {e}"));
    }
    let cfwd_ok = if !a.peers.contains(&PeerKind::CFwd) {
        Err("not asked for (--peers)".to_owned())
    } else if rows
        .iter()
        .any(|r| matches!(r.peer.as_ref().map(|j| &j.tool), Some(Tool::CFwd(_))))
    {
        tools::cfwd_binary(env).map(|_| ())
    } else {
        Ok(())
    };
    if let Err(e) = &cfwd_ok
        && a.peers.contains(&PeerKind::CFwd)
    {
        progress(&format!("peer plain C forwarder: {e}"));
    }
    let peer_ok = |j: &Job| match j.tool {
        Tool::Ovs(_) | Tool::OvsRole(_) => ovs_ok.clone(),
        Tool::Testpmd(_) => testpmd_ok.clone(),
        Tool::CFwd(_) => cfwd_ok.clone(),
        Tool::Vfex { .. } | Tool::VfexRole(_) => Ok(()),
    };
    let mut results = Vec::new();
    let mut inputs: Vec<Input> = Vec::new();
    for r in rows {
        let want = if a.inputs.is_empty() {
            default_inputs(&r.scenario)
        } else {
            a.inputs.clone()
        };
        for i in want {
            if !inputs.contains(&i) {
                inputs.push(i);
            }
        }
    }
    let io_job = vfex("io");
    for &input in &inputs {
        for &frame in &a.frame_sizes {
            for &workers in &a.workers {
                let base = Setup {
                    input,
                    frame,
                    workers,
                    port_tags: [Tag::None; 2],
                };
                let here: Vec<&Row> = rows
                    .iter()
                    .filter(|r| {
                        let want = if a.inputs.is_empty() {
                            default_inputs(&r.scenario)
                        } else {
                            a.inputs.clone()
                        };
                        want.contains(&input) && r.inputs.contains(&input)
                    })
                    .collect();
                if here.is_empty() {
                    continue;
                }
                // Distinct jobs of this setup, in order: vfex's and the peers'.
                // Only pcap input carries the tags of a job's frames.
                let norm = |j: &Job| Job {
                    tool: j.tool.clone(),
                    tags: if input == Input::Pcap {
                        j.tags
                    } else {
                        [Tag::None; 2]
                    },
                };
                let mut jobs: Vec<Job> = Vec::new();
                for r in &here {
                    if r.unavailable.is_some() {
                        continue;
                    }
                    let d = norm(&r.dut);
                    if !jobs.contains(&d) {
                        jobs.push(d);
                    }
                    if let Some(p) = &r.peer
                        && peer_ok(p).is_ok()
                        && !jobs.contains(&norm(p))
                    {
                        jobs.push(norm(p));
                    }
                }
                let mut runs: Vec<Vec<Result<Measurement, String>>> = vec![Vec::new(); jobs.len()];
                for round in 0..a.rounds {
                    for (k, j) in jobs.iter().enumerate() {
                        let s = Setup {
                            port_tags: j.tags,
                            ..base.clone()
                        };
                        let once = || {
                            match &j.tool {
                                Tool::Vfex { mode, extra } => tools::run_vfex(env, &s, mode, extra),
                                Tool::Testpmd(mode) => tools::run_testpmd(env, &s, mode),
                                Tool::Ovs(ops) => ovs::run(env, &s, *ops),
                                Tool::VfexRole(job) => roles::run_vfex(env, &s, job),
                                Tool::OvsRole(job) => ovs::run_role(env, &s, job),
                                Tool::CFwd(mode) => tools::run_cfwd(env, &s, mode),
                            }
                            .map_err(|e| format!("{e:#}"))
                        };
                        let mut m = once();
                        // A memif loop lives on the first burst of its
                        // partner: when it never got going, try once more
                        // (and say so).
                        if input == Input::Memif
                            && m.as_ref()
                                .is_ok_and(|m| m.periods.iter().all(|p| *p == 0.0))
                            && !crate::sys::stopping()
                        {
                            progress(&format!(
                                "[memif] {}: no traffic; trying once more",
                                j.key()
                            ));
                            m = once();
                            if let Ok(m) = &mut m {
                                m.notes
                                    .push("second try: the first run's loop never started".into());
                            }
                        }
                        let what = match &m {
                            Ok(m) => format!(
                                "{:.2} Mpps{}",
                                m.pps / 1e6,
                                match &m.forwarded {
                                    Ok(()) => String::new(),
                                    Err(e) => format!(" NOT FORWARDED: {e}"),
                                }
                            ),
                            Err(e) => format!("FAILED: {e}"),
                        };
                        progress(&format!(
                            "[{} {}B {}w] round {}/{} {}: {}",
                            input.name(),
                            frame,
                            workers,
                            round + 1,
                            a.rounds,
                            j.key(),
                            what
                        ));
                        runs[k].push(m);
                    }
                }
                let find = |j: &Job| {
                    let j = norm(j);
                    jobs.iter().position(|x| *x == j).map(|k| runs[k].clone())
                };
                for r in here.into_iter().filter(|r| r.unavailable.is_none()) {
                    let peer_missing = match &r.peer {
                        Some(p) => peer_ok(p).err(),
                        None => None,
                    };
                    results.push(RowResult {
                        row: r.clone(),
                        setup: Setup {
                            port_tags: r.dut.tags,
                            ..base.clone()
                        },
                        dut: find(&r.dut).unwrap_or_default(),
                        peer: r.peer.as_ref().and_then(find),
                        peer_missing,
                        io: (norm(&r.dut) != norm(&io_job))
                            .then(|| find(&io_job))
                            .flatten(),
                        peer_io: match r.peer.as_ref().map(|j| &j.tool) {
                            Some(Tool::CFwd(m)) if m != "io" => find(&cfwd("io")),
                            _ => None,
                        },
                    });
                }
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_mode() {
        assert_eq!(mode_tags("vntag-decap"), [Tag::VnTag(1), Tag::VnTag(2)]);
        assert_eq!(mode_tags("stag"), [Tag::None, Tag::STag(2)]);
        assert_eq!(mode_tags("etag-encap"), [Tag::None, Tag::None]);
        assert_eq!(mode_tags("io"), [Tag::None, Tag::None]);
    }

    #[test]
    fn roles_are_marked_until_vfex_has_them() {
        let a = Args::default();
        let r = rows(
            &a,
            "port-extender",
            &Err("this vfex has no --config (x)".into()),
        );
        assert_eq!(r.len(), 1);
        assert!(r[0].unavailable.as_deref().unwrap().contains("no --config"));
        assert!(rows(&a, "port-extender", &Ok(()))[0].unavailable.is_none());
        assert_eq!(
            r[0].dut.tool.label(),
            "vfex port-extender vntag, 4 vEths (anti-spoof, 16-rule ACL, policer)"
        );
        assert!(
            r[0].peer
                .as_ref()
                .unwrap()
                .tool
                .label()
                .starts_with("ovs push_vlan/pop_vlan, 4 VM ports")
        );
        assert_eq!(r[0].inputs, vec![Input::Pcap]);
        let b = rows(&a, "controlling-bridge", &Ok(()));
        assert_eq!(
            b[0].dut.tool.label(),
            "vfex controlling-bridge vntag, 65536 MACs over 1024 vEths (hairpin)"
        );
        let too_many = Args {
            veths: Some(32),
            ..Args::default()
        };
        assert!(
            rows(&too_many, "vepa-station", &Ok(()))[0]
                .unavailable
                .as_deref()
                .unwrap()
                .contains("1 to 31")
        );
        assert!(role_support_from_help("... --config FILE ...").is_ok());
        assert!(role_support_from_help("--forward-mode").is_err());
    }

    #[test]
    fn ratios_and_added_cost_from_rounds() {
        let m = |pps: f64| {
            Ok(Measurement {
                pps,
                tsc_hz: Some(1e9),
                forwarded: Ok(()),
                ..Measurement::default()
            })
        };
        let r = RowResult {
            row: rows(&Args::default(), "io", &Ok(())).remove(0),
            setup: Setup {
                input: Input::Null,
                frame: 64,
                workers: 1,
                port_tags: [Tag::None; 2],
            },
            dut: vec![m(50e6), m(100e6), Err("x".into())],
            peer: Some(vec![m(100e6), m(100e6), m(100e6)]),
            peer_missing: None,
            io: Some(vec![m(100e6), m(200e6), m(1.0)]),
            peer_io: None,
        };
        assert_eq!(r.ratio(), Some(0.75));
        assert_eq!(r.dut_pps().unwrap().median, 75e6);
        // 1e9/50e6 - 1e9/100e6 = 10, 1e9/100e6 - 1e9/200e6 = 5.
        assert_eq!(r.added_over_io(), Some(7.5));
        assert_eq!(
            RowResult::tsc_cycles(&r.peer.clone().unwrap(), 1, r.tsc_hz()),
            Some(10.0)
        );
        assert!(r.verified().unwrap_err().contains("round 3: x"));
        assert_eq!(r.peer_added_over_io(), None, "no peer io runs");
        // The plain C forwarder's own io: 5 cycles; its tag runs 10, so it
        // adds 5 per round; vfex adds 10 then 5: ratios 2 and 1.
        let c = RowResult {
            peer_io: Some(vec![m(200e6), m(200e6), m(200e6)]),
            ..r
        };
        assert_eq!(c.peer_added_over_io(), Some(5.0));
        assert_eq!(c.added_ratio(), Some(1.5));
    }
}
