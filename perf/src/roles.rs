//! The role scenarios: a vfex configuration file (`vfex -- --config F`)
//! and the pcap files its ports replay (`net_pcap`, `infinite_rx=1`), and
//! the Open vSwitch peer's ports and flows on the same frames.
//!
//! * **port extender** (VN-Tag): `veths` downlink ports `vm0..`, each one
//!   vEth (VIF `k + 1`, its VM's MAC) with MAC anti-spoof for that MAC, a
//!   16-rule ACL that the traffic passes at rule 15 (the last but one), a
//!   policer whose rate passes everything, and counters; plus the uplink.
//!   Upstream: each VM port replays frames from its VM's MAC (tagged
//!   towards the uplink). Downstream: the uplink replays VN-Tagged frames
//!   (`d=1`, `dst` = the VIF) to every vEth (tag stripped, delivered).
//!   OVS: per VM port `in_port,dl_src` -> `push_vlan` (S-tag, VID = the
//!   VIF) -> uplink, the same 14 non-matching rules before it as drop
//!   flows; uplink `dl_vlan` -> `pop_vlan` -> the VM port (S-tagged frames
//!   in place of the VN-Tag; no policer).
//! * **VEPA station** (basic, untagged): `veths` VM ports, each one vEth
//!   with its MAC and MAC anti-spoof; VM frames go up, uplink frames to
//!   the VM MACs come down. OVS: `NORMAL` on the same files.
//! * **controlling bridge** (VN-Tag): one extender link `ext` with `veths`
//!   vEths (VIF 1..) and a VIF list of all of them (a flood is one copy),
//!   and an ordinary port `core`. The link replays `macs` frames, frame
//!   `i` from MAC `i` on vEth `i mod veths` to MAC `i + 1` (on the next
//!   vEth): once every source has been seen each frame is a learned
//!   unicast hairpinned back down the link, re-tagged. `core` replays
//!   frames from [`CORE_MACS`] outside MACs to vEth MACs (down the link).
//!   OVS's `NORMAL` cannot hairpin (it never sends a frame back out of the
//!   port it came in on), so its link frames, untagged, carry the same
//!   source MACs to the outside MACs instead: the same learned-unicast
//!   lookups over `macs + CORE_MACS` MACs, between two ports.

use crate::args::Input;
use crate::pcap::{self, Tag};
use crate::sys::{self, Proc};
use crate::tools::{self, Env, Measurement, Setup};
use anyhow::{Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The outside MACs behind the controlling bridge's ordinary port.
pub const CORE_MACS: u32 = 256;
/// VM ports at most: with the uplink, DPDK's `RTE_MAX_ETHPORTS` (32 in
/// Debian's build).
pub const MAX_VM_PORTS: u32 = 31;
/// Flows (UDP source ports) in each VM port's file.
const VM_FLOWS: u16 = 64;
/// Frames per vEth in the uplink's file.
const DOWN_FLOWS: u16 = 16;
/// The UDP destination port of every generated frame (see [`pcap::frame`]).
const UDP_DST: u16 = 5001;

/// Which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// Port extender (VN-Tag).
    Extender,
    /// VEPA station, basic (untagged).
    Station,
    /// Controlling bridge (VN-Tag) with one extender link.
    Bridge,
}

impl RoleKind {
    /// The scenario (and vfex role) name.
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Extender => "port-extender",
            RoleKind::Station => "vepa-station",
            RoleKind::Bridge => "controlling-bridge",
        }
    }

    /// From a scenario name.
    pub fn from_name(s: &str) -> Option<RoleKind> {
        [RoleKind::Extender, RoleKind::Station, RoleKind::Bridge]
            .into_iter()
            .find(|r| r.name() == s)
    }

    /// vEths when `--veths` is not given.
    pub fn default_veths(self) -> u32 {
        match self {
            RoleKind::Extender | RoleKind::Station => 4,
            RoleKind::Bridge => 1024,
        }
    }
}

/// One role job: the role, its vEths, and (bridge) the learned MACs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleJob {
    /// The role.
    pub kind: RoleKind,
    /// vEths.
    pub veths: u32,
    /// Bridge: source MACs on the extender link.
    pub macs: u32,
}

impl RoleJob {
    /// Checks the sizes this generator supports.
    pub fn check(&self) -> Result<()> {
        match self.kind {
            RoleKind::Extender | RoleKind::Station if !(1..=MAX_VM_PORTS).contains(&self.veths) => {
                bail!(
                    "{}: --veths {} (one net_pcap port each, plus the uplink, within DPDK's RTE_MAX_ETHPORTS of 32): 1 to {MAX_VM_PORTS}",
                    self.kind.name(),
                    self.veths
                )
            }
            RoleKind::Bridge if !(2..=4095).contains(&self.veths) => {
                bail!(
                    "controlling-bridge: --veths {}: 2 to 4095 (VIFs on one link)",
                    self.veths
                )
            }
            RoleKind::Bridge if self.macs < self.veths || self.macs > 1 << 20 => {
                bail!(
                    "controlling-bridge: --macs {}: at least --veths ({}), at most 1048576",
                    self.macs,
                    self.veths
                )
            }
            _ => Ok(()),
        }
    }

    /// What vfex does, for the report.
    pub fn vfex_label(&self) -> String {
        match self.kind {
            RoleKind::Extender => format!(
                "vfex port-extender vntag, {} vEths (anti-spoof, 16-rule ACL, policer)",
                self.veths
            ),
            RoleKind::Station => format!("vfex vepa-station basic, {} VMs", self.veths),
            RoleKind::Bridge => format!(
                "vfex controlling-bridge vntag, {} MACs over {} vEths (hairpin)",
                self.macs, self.veths
            ),
        }
    }

    /// What OVS does, for the report.
    pub fn ovs_label(&self) -> String {
        match self.kind {
            RoleKind::Extender => format!(
                "ovs push_vlan/pop_vlan, {} VM ports (in_port+dl_src, 14 drop rules)",
                self.veths
            ),
            RoleKind::Station => format!("ovs NORMAL, {} VM ports", self.veths),
            RoleKind::Bridge => format!("ovs NORMAL, {} MACs, link<->core", self.macs + CORE_MACS),
        }
    }

    /// The ports (name, downlink?) in configuration order; OVS uses the
    /// same order (OpenFlow port `i + 1`).
    pub fn ports(&self) -> Vec<(String, bool)> {
        match self.kind {
            RoleKind::Extender | RoleKind::Station => {
                let mut v = vec![("uplink".to_owned(), false)];
                v.extend((0..self.veths).map(|k| (format!("vm{k}"), true)));
                v
            }
            RoleKind::Bridge => vec![("ext".to_owned(), true), ("core".to_owned(), false)],
        }
    }
}

/// A VM's (vEth's, learned host's) MAC: `02:00:NN:NN:NN:NN`, `n + 1`.
pub fn vm_mac(n: u32) -> [u8; 6] {
    let b = (n + 1).to_be_bytes();
    [0x02, 0, b[0], b[1], b[2], b[3]]
}

/// An outside host's MAC: `06:00:NN:NN:NN:NN`, `n + 1`.
pub fn out_mac(n: u32) -> [u8; 6] {
    let b = (n + 1).to_be_bytes();
    [0x06, 0, b[0], b[1], b[2], b[3]]
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A VN-Tag word: `d`, `dst` (VIF), `src` (VIF); `p`, `l`, `r`, `ver` 0.
pub fn vntag_word(d: bool, dst: u16, src: u16) -> u32 {
    u32::from(d) << 31 | u32::from(dst & 0x3fff) << 16 | u32::from(src & 0xfff)
}

/// The tag a generated frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameTag {
    /// None.
    None,
    /// VN-Tag with this word.
    VnTag(u32),
    /// 802.1ad S-tag with this VID.
    STag(u16),
}

/// A `size`-byte frame (FCS included) `src` -> `dst`, flow `flow`, behind
/// `tag` (IPv4/UDP from [`pcap::frame`], 198.18.x.y -> 198.19.0.1:5001).
pub fn frame(size: u16, src: [u8; 6], dst: [u8; 6], tag: FrameTag, flow: u16) -> Vec<u8> {
    let mut f = match tag {
        FrameTag::None => pcap::frame(size, Tag::None, flow),
        FrameTag::STag(v) => pcap::frame(size, Tag::STag(v), flow),
        FrameTag::VnTag(w) => {
            let mut f = pcap::frame(size, Tag::VnTag(0), flow);
            f[14..18].copy_from_slice(&w.to_be_bytes());
            f
        }
    };
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f
}

/// The frames of one port.
#[derive(Debug, Clone)]
pub struct PortFrames {
    /// Port name.
    pub name: String,
    /// Frames for vfex.
    pub vfex: Vec<Vec<u8>>,
    /// Frames for OVS (the same when no tag differs).
    pub ovs: Vec<Vec<u8>>,
}

/// The frames every port replays, in [`RoleJob::ports`] order.
pub fn frames(job: &RoleJob, size: u16) -> Vec<PortFrames> {
    let n = job.veths;
    let mut out = Vec::new();
    match job.kind {
        RoleKind::Extender | RoleKind::Station => {
            let tagged = job.kind == RoleKind::Extender;
            let (mut v, mut o) = (Vec::new(), Vec::new());
            for f in 0..DOWN_FLOWS {
                for k in 0..n {
                    let vif = (k + 1) as u16;
                    let flow = f * n as u16 + k as u16;
                    let (tv, to) = if tagged {
                        (
                            FrameTag::VnTag(vntag_word(true, vif, 0)),
                            FrameTag::STag(vif),
                        )
                    } else {
                        (FrameTag::None, FrameTag::None)
                    };
                    v.push(frame(size, out_mac(0), vm_mac(k), tv, flow));
                    o.push(frame(size, out_mac(0), vm_mac(k), to, flow));
                }
            }
            out.push(PortFrames {
                name: "uplink".into(),
                vfex: v,
                ovs: o,
            });
            for k in 0..n {
                let v: Vec<Vec<u8>> = (0..VM_FLOWS)
                    .map(|f| frame(size, vm_mac(k), out_mac(0), FrameTag::None, f))
                    .collect();
                out.push(PortFrames {
                    name: format!("vm{k}"),
                    ovs: v.clone(),
                    vfex: v,
                });
            }
        }
        RoleKind::Bridge => {
            let k = job.macs;
            let (mut v, mut o) = (Vec::new(), Vec::new());
            for i in 0..k {
                let vif = (i % n + 1) as u16;
                let tag = FrameTag::VnTag(vntag_word(false, 0, vif));
                let flow = (i % 4096) as u16;
                v.push(frame(size, vm_mac(i), vm_mac((i + 1) % k), tag, flow));
                o.push(frame(
                    size,
                    vm_mac(i),
                    out_mac(i % CORE_MACS),
                    FrameTag::None,
                    flow,
                ));
            }
            out.push(PortFrames {
                name: "ext".into(),
                vfex: v,
                ovs: o,
            });
            let step = (k / CORE_MACS).max(1);
            let c: Vec<Vec<u8>> = (0..CORE_MACS)
                .map(|j| {
                    frame(
                        size,
                        out_mac(j),
                        vm_mac((j * step) % k),
                        FrameTag::None,
                        j as u16,
                    )
                })
                .collect();
            out.push(PortFrames {
                name: "core".into(),
                ovs: c.clone(),
                vfex: c,
            });
        }
    }
    out
}

/// The 16-rule ACL of the port extender's vEths: 14 rules the traffic does
/// not match, the permit that it does (rule 15), a final deny.
pub fn acl16() -> Vec<String> {
    acl_rules(UDP_DST)
}

/// [`acl16`] with the permit for UDP destination port `udp_dst`.
pub fn acl_rules(udp_dst: u16) -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..4 {
        v.push(format!(
            "{{ action = \"deny\", src_ip = \"10.{i}.0.0/16\" }}"
        ));
    }
    for i in 0..4 {
        v.push(format!(
            "{{ action = \"deny\", proto = \"tcp\", dst_port = {} }}",
            8000 + i
        ));
    }
    for i in 0..4 {
        let lo = 6000 + 100 * i;
        v.push(format!(
            "{{ action = \"deny\", proto = \"udp\", dst_port = \"{lo}-{}\" }}",
            lo + 99
        ));
    }
    v.push("{ action = \"deny\", ethertype = 0x86dd }".into());
    v.push("{ action = \"deny\", dst_mac = \"06:ff:ff:ff:ff:ff\" }".into());
    v.push(format!(
        "{{ action = \"permit\", src_ip = \"198.18.0.0/15\", proto = \"udp\", dst_port = {udp_dst} }}"
    ));
    v.push("{ action = \"deny\" }".into());
    v
}

/// The vfex configuration of `job`; `devargs[i]` opens port `i`.
pub fn config(job: &RoleJob, devargs: &[String]) -> String {
    let mut s = String::new();
    let encap = match job.kind {
        RoleKind::Station => "none",
        _ => "vntag",
    };
    let _ = writeln!(
        s,
        "# Written by vfex-perf: {}\nrole = \"{}\"\nencap = \"{encap}\"\n",
        job.vfex_label(),
        job.kind.name()
    );
    for ((name, down), dev) in job.ports().iter().zip(devargs) {
        let kind = if *down { "downlink" } else { "uplink" };
        let _ = writeln!(
            s,
            "[ports.{name}]\nkind = \"{kind}\"\ndevargs = \"{dev}\"\n"
        );
    }
    match job.kind {
        RoleKind::Extender => {
            let _ = writeln!(
                s,
                "[profiles.vm]\npolicer = {{ rate_bps = 1_000_000_000_000, burst_bytes = 16_777_216 }}\nacl = [\n  {},\n]\n",
                acl16().join(",\n  ")
            );
            for k in 0..job.veths {
                let m = mac_text(vm_mac(k));
                let _ = writeln!(
                    s,
                    "[veths.vm{k}]\nport = \"vm{k}\"\nvif = {}\nmac = \"{m}\"\nprofile = \"vm\"\nanti_spoof = {{ allowed_macs = [\"{m}\"] }}\n",
                    k + 1
                );
            }
        }
        RoleKind::Station => {
            for k in 0..job.veths {
                let m = mac_text(vm_mac(k));
                let _ = writeln!(
                    s,
                    "[veths.vm{k}]\nport = \"vm{k}\"\nmac = \"{m}\"\nanti_spoof = {{ allowed_macs = [\"{m}\"] }}\n"
                );
            }
        }
        RoleKind::Bridge => {
            let mut members = Vec::new();
            for v in 1..=job.veths {
                let _ = writeln!(s, "[veths.v{v}]\nport = \"ext\"\nvif = {v}\n");
                members.push(format!("\"v{v}\""));
            }
            let _ = writeln!(
                s,
                "[vif_lists.all]\nid = 1\nmembers = [{}]",
                members.join(", ")
            );
        }
    }
    s
}

/// The files of one role job at one frame size: pcaps and the config.
#[derive(Debug, Clone)]
pub struct RoleFiles {
    /// vfex's configuration file.
    pub config: PathBuf,
    /// Per port (configuration order): vfex's pcap and OVS's pcap.
    pub pcaps: Vec<(PathBuf, PathBuf)>,
    /// Frames replayed per rx queue, all ports (net_pcap's infinite_rx
    /// holds them all in mbufs).
    pub frames: usize,
}

/// `net_pcapI,rx_pcap=F` x `rxq`, `infinite_rx=1`.
pub fn pcap_devargs(i: usize, f: &Path, rxq: usize) -> String {
    let rx = vec![format!("rx_pcap={}", f.display()); rxq.max(1)].join(",");
    format!("net_pcap{i},{rx},infinite_rx=1")
}

/// Writes the pcaps and the config of `job` (frames of `size` bytes, `rxq`
/// rx queues per port) under `dir`.
pub fn write(dir: &Path, job: &RoleJob, size: u16, rxq: usize) -> Result<RoleFiles> {
    job.check()?;
    let base = format!("{}-{}-{}-{size}", job.kind.name(), job.veths, job.macs);
    let mut pcaps = Vec::new();
    let mut count = 0;
    for p in frames(job, size) {
        let fv = dir.join(format!("{base}-{}.pcap", p.name));
        pcap::write_pcap(&fv, &p.vfex)?;
        let fo = if p.ovs == p.vfex {
            fv.clone()
        } else {
            let fo = dir.join(format!("{base}-{}-ovs.pcap", p.name));
            pcap::write_pcap(&fo, &p.ovs)?;
            fo
        };
        count += p.vfex.len();
        pcaps.push((fv, fo));
    }
    let devs: Vec<String> = pcaps
        .iter()
        .enumerate()
        .map(|(i, (f, _))| pcap_devargs(i, f, rxq))
        .collect();
    let config = dir.join(format!("{base}-rxq{rxq}.toml"));
    std::fs::write(&config, self::config(job, &devs))?;
    Ok(RoleFiles {
        config,
        pcaps,
        frames: count,
    })
}

/// The OVS flows of `job` (OpenFlow port `i + 1` is port `i` of
/// [`RoleJob::ports`]).
pub fn ovs_flows(job: &RoleJob) -> Vec<String> {
    match job.kind {
        RoleKind::Extender => {
            let mut v = Vec::new();
            for k in 0..job.veths {
                let port = k + 2;
                let vif = k + 1;
                let m = mac_text(vm_mac(k));
                let pre = format!("in_port={port},dl_src={m}");
                // The ACL's 14 non-matching rules, as drop flows above the
                // permit (rule 15); the final deny is the table miss.
                let drops = [
                    "ip,nw_src=10.0.0.0/16",
                    "ip,nw_src=10.1.0.0/16",
                    "ip,nw_src=10.2.0.0/16",
                    "ip,nw_src=10.3.0.0/16",
                    "tcp,tp_dst=8000",
                    "tcp,tp_dst=8001",
                    "tcp,tp_dst=8002",
                    "tcp,tp_dst=8003",
                    "udp,tp_dst=6000/0xffc0",
                    "udp,tp_dst=6100/0xfffc",
                    "udp,tp_dst=6200/0xfff8",
                    "udp,tp_dst=6300/0xfff0",
                    "dl_type=0x86dd",
                    "dl_dst=06:ff:ff:ff:ff:ff",
                ];
                for (r, d) in drops.iter().enumerate() {
                    v.push(format!("priority={},{pre},{d},actions=drop", 1000 - r));
                }
                v.push(format!(
                    "priority=900,{pre},udp,nw_src=198.18.0.0/15,tp_dst={UDP_DST},actions=push_vlan:0x88a8,set_field:{}->vlan_vid,output:1",
                    4096 + vif
                ));
                v.push(format!(
                    "priority=900,in_port=1,dl_vlan={vif},actions=pop_vlan,output:{port}"
                ));
            }
            v
        }
        RoleKind::Station | RoleKind::Bridge => vec!["actions=NORMAL".into()],
    }
}

/// mbufs for vfex: its default pool (ports' descriptors, bursts) plus the
/// frames that net_pcap's infinite_rx holds, once per rx queue.
pub fn mbufs(job: &RoleJob, files: &RoleFiles, setup: &Setup) -> u32 {
    let np = job.ports().len();
    let (q, w) = (setup.rxq().max(1), setup.workers.max(1));
    let descs = np * (q * 1024 + w * 1024);
    (files.frames * q + descs + w * 32 * (np + 2) + w * 512 + 16384) as u32
}

/// Runs vfex with the generated configuration of `job` on `setup` (pcap
/// input only).
pub fn run_vfex(env: &Env, setup: &Setup, job: &RoleJob) -> Result<Measurement> {
    if setup.input != Input::Pcap {
        bail!(
            "the role rows run on pcap input only, not {}",
            setup.input.name()
        );
    }
    let a = &env.args;
    let files = write(&env.tmp, job, setup.frame, setup.rxq())?;
    let prefix = env.unique("vfex");
    let csv = env.tmp.join(format!("{prefix}.csv"));
    let slack = tools::VFEX_PERIOD + 0.1;
    let mut cmd = sys::command(
        &a.vfex,
        env.perf
            .then_some((csv.as_path(), (tools::VFEX_PERIOD * 1000.0) as u64)),
    );
    cmd.args(setup.eal_lcores(sys::cpus()))
        .args(["--no-pci", "--file-prefix", &prefix])
        .args(&env.mem)
        .arg("--")
        .arg("--config")
        .arg(&files.config)
        .args([
            "--nb-cores",
            &setup.workers.to_string(),
            "--rxq",
            &setup.rxq().to_string(),
            "--total-num-mbufs",
            &mbufs(job, &files, setup).to_string(),
        ])
        .args(["--stats-period", &tools::VFEX_PERIOD.to_string()])
        .args([
            "--duration",
            &format!("{:.1}", a.warmup + a.duration + slack),
        ]);
    let dut = Proc::spawn(cmd, "vfex")?;
    let limit = Duration::from_secs_f64(a.warmup + a.duration + slack + 60.0);
    let (ok, out, err) = dut.finish(limit);
    sys::remove_runtime_dir(&prefix);
    let cps = if env.perf {
        sys::cycles_per_sec(&csv)
    } else {
        None
    };
    std::fs::remove_file(&csv).ok();
    let tail = || {
        let v: Vec<&str> = err.lines().rev().take(6).collect();
        v.into_iter().rev().collect::<Vec<_>>().join(" | ")
    };
    if !ok {
        bail!("vfex --config ({}) failed: {}", job.kind.name(), tail());
    }
    let periods = tools::steady(
        &tools::parse_vfex_periods(&out),
        tools::VFEX_PERIOD,
        a.warmup,
        a.duration,
    );
    let (rx, tx, drops, hz) = tools::parse_vfex_summary(&out);
    if hz.is_none() {
        bail!(
            "vfex --config ({}) did not run: {}",
            job.kind.name(),
            tail()
        );
    }
    let mut m = Measurement {
        pps: crate::stats::median(&periods),
        periods,
        rx,
        tx,
        forwarded: tools::verify(rx, tx, &drops),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: RoleKind, veths: u32, macs: u32) -> RoleJob {
        RoleJob { kind, veths, macs }
    }

    #[test]
    fn frames_carry_the_tags_and_macs() {
        let f = frame(
            64,
            vm_mac(0),
            out_mac(1),
            FrameTag::VnTag(vntag_word(true, 5, 0)),
            3,
        );
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..12], &[6, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
        assert_eq!(&f[12..20], &[0x89, 0x26, 0x80, 5, 0, 0, 0x08, 0x00]);
        assert_eq!(vntag_word(false, 0, 7), 7);
        let b = frames(&job(RoleKind::Bridge, 4, 16), 64);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].vfex.len(), 16);
        // Frame 5: MAC 5 on VIF 2 to MAC 6 (VIF 3).
        let f = &b[0].vfex[5];
        assert_eq!(&f[0..6], &vm_mac(6));
        assert_eq!(&f[6..12], &vm_mac(5));
        assert_eq!(&f[14..18], &[0, 0, 0, 2]);
        assert_eq!(&b[0].ovs[5][12..14], &[0x08, 0x00]);
        let e = frames(&job(RoleKind::Extender, 3, 0), 128);
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].vfex.len(), 3 * usize::from(DOWN_FLOWS));
        assert_eq!(&e[0].ovs[1][12..16], &[0x88, 0xa8, 0, 2]);
        assert!(e.iter().all(|p| p.vfex.iter().all(|f| f.len() == 124)));
    }

    #[test]
    fn sizes_are_checked() {
        assert!(job(RoleKind::Extender, 32, 0).check().is_err());
        assert!(job(RoleKind::Extender, 31, 0).check().is_ok());
        assert!(job(RoleKind::Bridge, 1, 10).check().is_err());
        assert!(job(RoleKind::Bridge, 1024, 100).check().is_err());
        assert!(job(RoleKind::Bridge, 1024, 65536).check().is_ok());
    }

    #[test]
    fn acl_and_flows() {
        assert_eq!(acl16().len(), 16);
        let f = ovs_flows(&job(RoleKind::Extender, 2, 0));
        assert_eq!(f.len(), 2 * 16);
        assert!(f[14].contains("set_field:4097->vlan_vid,output:1"));
        assert!(f[15].contains("in_port=1,dl_vlan=1,actions=pop_vlan,output:2"));
    }

    /// vfex loads every generated configuration and forwards the generated
    /// frames (`vfex -- --config F --duration 1`, the debug build).
    #[test]
    fn vfex_runs_the_generated_configs() {
        let vfex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/vfex");
        if !vfex.exists() {
            eprintln!(
                "{} not built (cargo build -p vfex): skipped",
                vfex.display()
            );
            return;
        }
        let dir = std::env::temp_dir().join(format!("vfex-perf-roles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let setup = Setup {
            input: Input::Pcap,
            frame: 64,
            workers: 1,
            port_tags: [Tag::None; 2],
        };
        for j in [
            job(RoleKind::Extender, 4, 0),
            job(RoleKind::Station, 3, 0),
            job(RoleKind::Bridge, 1024, 65536),
        ] {
            let files = write(&dir, &j, 64, 1).unwrap();
            let prefix = format!("vfexperftest{}-{}", std::process::id(), j.kind.name());
            let out = std::process::Command::new(&vfex)
                .args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "1024"])
                .args(["--file-prefix", &prefix, "--", "--config"])
                .arg(&files.config)
                .args(["--duration", "1", "--stats-period", "0.5"])
                .args(["--total-num-mbufs", &mbufs(&j, &files, &setup).to_string()])
                .output()
                .unwrap();
            sys::remove_runtime_dir(&prefix);
            let text = String::from_utf8_lossy(&out.stdout);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}: {text}\n{err}", j.kind.name());
            assert!(text.contains(&format!("{} vEths", j.veths)), "{text}");
            eprintln!("{text}");
            let (rx, tx, drops, hz) = tools::parse_vfex_summary(&text);
            assert!(hz.is_some(), "{text}");
            assert!(!tools::parse_vfex_periods(&text).is_empty(), "{text}");
            // Forwarded, nothing dropped by a rule (the first pass of the
            // bridge's file floods: tx above rx).
            tools::verify(rx, tx, &drops)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", j.kind.name()));
        }
        // The rules are really there: a spoofed source MAC on vm0 and, on
        // vm1, UDP to port 5002 (the 16th rule, deny) are dropped as such.
        let j = job(RoleKind::Extender, 2, 0);
        let files = write(&dir, &j, 64, 1).unwrap();
        let spoofed: Vec<Vec<u8>> = (0..4)
            .map(|f| frame(64, vm_mac(1), out_mac(0), FrameTag::None, f))
            .collect();
        pcap::write_pcap(&files.pcaps[1].0, &spoofed).unwrap();
        let denied: Vec<Vec<u8>> = (0..4)
            .map(|f| {
                let mut x = frame(64, vm_mac(1), out_mac(0), FrameTag::None, f);
                // UDP destination port: 14 (Ethernet) + 20 (IPv4) + 2.
                x[36..38].copy_from_slice(&5002u16.to_be_bytes());
                x
            })
            .collect();
        pcap::write_pcap(&files.pcaps[2].0, &denied).unwrap();
        let prefix = format!("vfexperftest{}-rules", std::process::id());
        let out = std::process::Command::new(&vfex)
            .args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "1024"])
            .args(["--file-prefix", &prefix, "--", "--config"])
            .arg(&files.config)
            .args(["--duration", "1", "--stats-period", "0"])
            .args(["--total-num-mbufs", &mbufs(&j, &files, &setup).to_string()])
            .output()
            .unwrap();
        sys::remove_runtime_dir(&prefix);
        let text = String::from_utf8_lossy(&out.stdout);
        let (rx, _, drops, _) = tools::parse_vfex_summary(&text);
        let n = |r: &str| drops.iter().find(|d| d.0 == r).map_or(0, |d| d.1);
        assert!(n("mac_spoof") > 0 && n("acl_deny") > 0, "{text}");
        assert!(n("mac_spoof") + n("acl_deny") < rx, "{text}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
