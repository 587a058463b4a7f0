//! Open vSwitch with the DPDK datapath as a peer: its own ovsdb-server and
//! ovs-vswitchd with run/db/log directories under a scratch directory, in
//! their own network namespace (the netdev bridge's tap stays out of the
//! host), the same virtual devices as vfex, OpenFlow rules for the job, the
//! rate from the interface counters, cycles per packet from the PMD's own
//! statistics, and a check through `ovs-ofctl dump-flows` that the rules
//! matched packets.

use crate::args::Input;
use crate::pcap;
use crate::roles;
use crate::sys::{self, Proc};
use crate::tools::{Env, Measurement, Setup, verify};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What OVS does with the packets received on a port before sending them out
/// of the other port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OvsOp {
    /// `output` unchanged.
    Output,
    /// `push_vlan:0x88a8` with VID `port + 1`, then output.
    Push,
    /// `pop_vlan`, then output.
    Pop,
    /// `NORMAL` (MAC learning bridge).
    Normal,
}

impl OvsOp {
    fn name(self) -> &'static str {
        match self {
            OvsOp::Output => "output",
            OvsOp::Push => "push_vlan",
            OvsOp::Pop => "pop_vlan",
            OvsOp::Normal => "NORMAL",
        }
    }
}

/// Label of an OVS job, e.g. `push_vlan/pop_vlan`.
pub fn label(ops: [OvsOp; 2]) -> String {
    if ops[0] == ops[1] {
        ops[0].name().into()
    } else {
        format!("{}/{}", ops[0].name(), ops[1].name())
    }
}

/// Flows for `ops` between OpenFlow ports 1 and 2.
pub fn flows(ops: [OvsOp; 2]) -> Vec<String> {
    (0..2)
        .map(|i| {
            let (inp, out) = (i + 1, 2 - i);
            match ops[i] {
                OvsOp::Output => format!("in_port={inp},actions=output:{out}"),
                OvsOp::Push => format!(
                    "in_port={inp},actions=push_vlan:0x88a8,set_field:{}->vlan_vid,output:{out}",
                    4096 + inp
                ),
                OvsOp::Pop => {
                    format!("in_port={inp},vlan_tci=0x1000/0x1000,actions=pop_vlan,output:{out}")
                }
                OvsOp::Normal => format!("in_port={inp},actions=NORMAL"),
            }
        })
        .collect()
}

/// Hex CPU mask of cores `from..from+n`.
pub fn cpu_mask(from: usize, n: usize) -> String {
    let m: u128 = (from..from + n).fold(0, |m, c| m | (1u128 << c));
    format!("0x{m:x}")
}

/// Whether the OVS peer can run, or why not.
pub fn available(env: &Env) -> Result<(), String> {
    if !sys::available(&env.args.ovs_vswitchd) {
        return Err(format!(
            "Open vSwitch with DPDK is not installed ({} missing): apt-get install openvswitch-switch-dpdk, or scripts/setup.sh",
            env.args.ovs_vswitchd
        ));
    }
    for t in [
        "ovsdb-tool",
        "ovsdb-server",
        "ovs-vsctl",
        "ovs-ofctl",
        "ovs-appctl",
        "ip",
    ] {
        if !sys::available(t) {
            return Err(format!(
                "{t} is not installed (package openvswitch-switch / iproute2)"
            ));
        }
    }
    if !env.huge {
        return Err("OVS needs hugepages (it adds --in-memory, which --no-huge cannot use): run with --memory huge".into());
    }
    Ok(())
}

struct Ovs {
    dir: PathBuf,
    ns: String,
    prefix: String,
    db: Option<Proc>,
    vswitchd: Option<Proc>,
}

impl Ovs {
    fn ctl(&self, tool: &str, args: &[&str]) -> Result<String> {
        let run = self.dir.join("run");
        let mut c = Command::new("ip");
        ovs_env(&mut c, &self.dir);
        c.args(["netns", "exec", &self.ns, tool]);
        if tool == "ovs-vsctl" {
            c.arg(format!("--db=unix:{}", run.join("db.sock").display()));
        }
        let o = c
            .args(args)
            .output()
            .with_context(|| format!("running {tool}"))?;
        if !o.status.success() {
            bail!(
                "{tool} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    fn vsctl(&self, args: &[&str]) -> Result<String> {
        self.ctl("ovs-vsctl", args)
    }

    fn appctl(&self, args: &[&str]) -> Result<String> {
        let t = self.dir.join("run").join("ovs-vswitchd.ctl");
        let mut v = vec!["-t", t.to_str().unwrap_or_default()];
        v.extend_from_slice(args);
        self.ctl("ovs-appctl", &v)
    }

    /// (rx, tx) packets of OpenFlow ports 1 and 2, live from the datapath.
    fn port_packets(&self) -> Result<(u64, u64)> {
        Ok(parse_dump_ports(&self.ctl(
            "ovs-ofctl",
            &["-O", "OpenFlow13", "dump-ports", "br0"],
        )?))
    }
}

/// (rx, tx) packets summed over the numbered ports of `ovs-ofctl dump-ports`
/// (LOCAL excluded).
pub fn parse_dump_ports(s: &str) -> (u64, u64) {
    let (mut rx, mut tx, mut local) = (0, 0, false);
    for l in s.lines().map(str::trim) {
        if l.starts_with("port") {
            local = l.contains("LOCAL");
        }
        let val = |k: &str| {
            l.split([' ', ','])
                .find_map(|w| w.strip_prefix(k))
                .and_then(|n| n.parse::<u64>().ok())
        };
        if local {
            continue;
        }
        if l.contains("rx pkts=") {
            rx += val("pkts=").unwrap_or(0);
        } else if l.starts_with("tx pkts=") {
            tx += val("pkts=").unwrap_or(0);
        }
    }
    (rx, tx)
}

impl Drop for Ovs {
    fn drop(&mut self) {
        if self.vswitchd.is_some() {
            self.appctl(&["exit"]).ok();
        }
        if let Some(p) = self.vswitchd.take() {
            p.finish(Duration::from_secs(10));
        }
        if let Some(p) = self.db.take() {
            p.interrupt();
        }
        if let Some(keep) = std::env::var_os("VFEX_PERF_OVS_LOG") {
            std::fs::copy(self.dir.join("log").join("ovs-vswitchd.log"), keep).ok();
        }
        Command::new("ip")
            .args(["netns", "del", &self.ns])
            .output()
            .ok();
        sys::remove_runtime_dir(&self.prefix);
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Points OVS's tools and daemons at their own directories under `dir`.
fn ovs_env(c: &mut Command, dir: &Path) {
    c.env("OVS_RUNDIR", dir.join("run"))
        .env("OVS_DBDIR", dir.join("db"))
        .env("OVS_LOGDIR", dir.join("log"))
        .env("OVS_SYSCONFDIR", dir.join("etc"));
}

/// `n_packets` summed over the flows of `dump-flows`.
pub fn flow_packets(dump: &str) -> u64 {
    dump.split([',', ' '])
        .filter_map(|w| w.trim().strip_prefix("n_packets="))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

/// The datapath's flow count from `dpctl/show` (`  flows: N`), summed.
pub fn parse_dp_flows(s: &str) -> usize {
    s.lines()
        .filter_map(|l| l.trim().strip_prefix("flows:"))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .sum()
}

/// `avg processing cycles per packet` and `packets received` of
/// `dpif-netdev/pmd-stats-show`, summed over the PMD threads.
pub fn parse_pmd_stats(s: &str) -> (u64, Option<f64>) {
    let mut pkts = 0;
    let (mut cyc, mut n) = (0.0, 0);
    for l in s.lines().map(str::trim) {
        if let Some(v) = l.strip_prefix("packets received:") {
            pkts += v.trim().parse::<u64>().unwrap_or(0);
        }
        if let Some(v) = l.strip_prefix("avg cycles per packet:") {
            if let Some(x) = v
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<f64>().ok())
            {
                cyc += x;
                n += 1;
            }
        }
    }
    (pkts, (n > 0).then(|| cyc / f64::from(n)))
}

fn devargs(env: &Env, setup: &Setup, sock: &Path) -> Result<Vec<String>> {
    let size = setup.frame - pcap::FCS_LEN;
    (0..2)
        .map(|i| {
            Ok(match setup.input {
                Input::Null => format!("net_null{i},size={size}"),
                Input::Pcap => {
                    let f = env.pcap(setup.frame, setup.port_tags[i])?;
                    format!("net_pcap{i},rx_pcap={},infinite_rx=1", f.display())
                }
                Input::Memif => format!(
                    "net_memif{i},role=server,id={i},socket={},socket-abstract=no",
                    sock.display()
                ),
                i => bail!("OVS runs on null, pcap or memif input, not {}", i.name()),
            })
        })
        .collect()
}

fn wait_file(p: &Path, secs: u64) -> bool {
    for _ in 0..secs * 10 {
        if p.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Runs OVS with `ops` on `setup`: starts it, waits `warmup`, measures for
/// `duration`, stops it and removes everything it made.
pub fn run(env: &Env, setup: &Setup, ops: [OvsOp; 2]) -> Result<Measurement> {
    run_plan(
        env,
        setup,
        &|sock: &Path| Ok((devargs(env, setup, sock)?, flows(ops))),
        512,
        None,
        &[],
    )
}

/// Runs OVS as the peer of a role row: the role's ports (one net_pcap each,
/// replaying OVS's version of the role's frames) and flows
/// ([`roles::ovs_flows`]). pcap input only.
pub fn run_role(env: &Env, setup: &Setup, job: &roles::RoleJob) -> Result<Measurement> {
    if setup.input != Input::Pcap {
        bail!("the role rows run on pcap input only");
    }
    let files = roles::write(&env.tmp, job, setup.frame, setup.rxq())?;
    let devs: Vec<String> = files
        .pcaps
        .iter()
        .enumerate()
        .map(|(i, (_, f))| format!("net_pcap{i},rx_pcap={},infinite_rx=1", f.display()))
        .collect();
    let fl = roles::ovs_flows(job);
    // net_pcap's infinite_rx holds every frame of its file in an mbuf of
    // OVS's shared pool: room for the bridge's 64K-frame file.
    let mem = if files.frames > 16384 { 2048 } else { 512 };
    // NORMAL installs one datapath flow per (in_port, source, destination).
    let settle = (job.kind == roles::RoleKind::Bridge).then_some(files.frames);
    // NORMAL's MAC table holds 2048 entries unless told otherwise, and
    // past that it evicts one entry per new MAC (and revalidates flows):
    // room for every source MAC the files carry, as vfex's table has.
    let bridge_opts = match job.kind {
        roles::RoleKind::Station | roles::RoleKind::Bridge => vec![format!(
            "other_config:mac-table-size={}",
            mac_table_size(files.frames)
        )],
        _ => Vec::new(),
    };
    run_plan(
        env,
        setup,
        &|_: &Path| Ok((devs.clone(), fl.clone())),
        mem,
        settle,
        &bridge_opts,
    )
}

/// OVS's `mac-table-size` for files of `frames` frames (each from its own
/// source MAC at most): twice that, within OVS's 10..=1 000 000 and not
/// below its default of 2048.
fn mac_table_size(frames: usize) -> usize {
    (2 * frames).clamp(2048, 1_000_000)
}

/// Devices and flows of one OVS run, given the memif socket path.
type Plan<'a> = dyn Fn(&Path) -> Result<(Vec<String>, Vec<String>)> + 'a;

fn run_plan(
    env: &Env,
    setup: &Setup,
    plan: &Plan<'_>,
    socket_mem: u32,
    settle_flows: Option<usize>,
    bridge_opts: &[String],
) -> Result<Measurement> {
    let a = &env.args;
    let name = env.unique("ovs");
    let dir = env.tmp.join(&name);
    for d in ["run", "db", "log", "etc"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    let ns = name.clone();
    let o = Command::new("ip")
        .args(["netns", "add", &ns])
        .output()
        .context("ip netns add")?;
    if !o.status.success() {
        bail!(
            "ip netns add {ns}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    sys::track_netns(&ns, true);
    let mut ovs = Ovs {
        dir: dir.clone(),
        ns: ns.clone(),
        prefix: name.clone(),
        db: None,
        vswitchd: None,
    };
    let run = dir.join("run");
    let conf = dir.join("db").join("conf.db");
    let schema = [
        "/usr/share/openvswitch/vswitch.ovsschema",
        "/usr/local/share/openvswitch/vswitch.ovsschema",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .context("vswitch.ovsschema not found (package openvswitch-common)")?;
    ovs.ctl(
        "ovsdb-tool",
        &["create", conf.to_str().unwrap_or_default(), schema],
    )?;
    let mut c = Command::new("ip");
    ovs_env(&mut c, &dir);
    c.args(["netns", "exec", &ns, "ovsdb-server"])
        .arg(&conf)
        .arg(format!("--remote=punix:{}", run.join("db.sock").display()))
        .arg(format!(
            "--pidfile={}",
            run.join("ovsdb-server.pid").display()
        ))
        .arg(format!(
            "--unixctl={}",
            run.join("ovsdb-server.ctl").display()
        ))
        .arg(format!(
            "--log-file={}",
            dir.join("log").join("ovsdb-server.log").display()
        ));
    ovs.db = Some(Proc::spawn(c, "ovsdb-server")?);
    if !wait_file(&run.join("db.sock"), 10) {
        bail!("ovsdb-server did not start");
    }
    ovs.vsctl(&["--no-wait", "init"])?;
    let sock = dir.join("memif.sock");
    let (devs, flow_list) = plan(&sock)?;
    let mut extra = format!("--file-prefix={name} --no-pci");
    for d in &devs {
        extra.push_str(&format!(" --vdev {d}"));
    }
    let lcore_mask = cpu_mask(0, 1);
    // PMD threads on cores 1..=N, as far as the machine has them.
    let pmd_mask = cpu_mask(1, setup.workers.min(sys::cpus().saturating_sub(1)).max(1));
    ovs.vsctl(&[
        "--no-wait",
        "set",
        "Open_vSwitch",
        ".",
        "other_config:dpdk-init=true",
        &format!("other_config:dpdk-lcore-mask={lcore_mask}"),
        &format!("other_config:pmd-cpu-mask={pmd_mask}"),
        &format!("other_config:dpdk-socket-mem={socket_mem}"),
        &format!("other_config:dpdk-extra=\"{extra}\""),
    ])?;
    let csv = env.tmp.join(format!("{name}.csv"));
    let mut c = sys::command("ip", env.perf.then_some((csv.as_path(), 500)));
    ovs_env(&mut c, &dir);
    c.args(["netns", "exec", &ns, &a.ovs_vswitchd])
        .arg(format!("unix:{}", run.join("db.sock").display()))
        .arg(format!(
            "--pidfile={}",
            run.join("ovs-vswitchd.pid").display()
        ))
        .arg(format!(
            "--unixctl={}",
            run.join("ovs-vswitchd.ctl").display()
        ))
        .arg(format!(
            "--log-file={}",
            dir.join("log").join("ovs-vswitchd.log").display()
        ));
    ovs.vswitchd = Some(Proc::spawn(c, "ovs-vswitchd")?);
    let log = dir.join("log").join("ovs-vswitchd.log");
    let mut up = false;
    for _ in 0..300 {
        if ovs
            .vsctl(&["get", "Open_vSwitch", ".", "dpdk_initialized"])
            .is_ok_and(|s| s.trim() == "true")
        {
            up = true;
            break;
        }
        if ovs.vswitchd.as_mut().is_some_and(|p| p.exited()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !up {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = l
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!("ovs-vswitchd did not initialise DPDK: {}", tail.join(" | "));
    }
    let nq = setup.rxq().max(2).to_string();
    let mut add_br = vec![
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "protocols=OpenFlow10,OpenFlow13",
    ];
    add_br.extend(bridge_opts.iter().map(String::as_str));
    ovs.vsctl(&add_br)?;
    for (i, d) in devs.iter().enumerate() {
        let dev = d.split(',').next().unwrap_or_default();
        ovs.vsctl(&[
            "add-port",
            "br0",
            &format!("p{i}"),
            "--",
            "set",
            "Interface",
            &format!("p{i}"),
            "type=dpdk",
            &format!("options:dpdk-devargs={dev}"),
            &format!("options:n_rxq={nq}"),
            &format!("ofport_request={}", i + 1),
        ])?;
    }
    ovs.ctl("ovs-ofctl", &["-O", "OpenFlow13", "del-flows", "br0"])?;
    // One file, one ovs-ofctl (a role row has up to 16 flows per port).
    let flow_file = dir.join("flows.txt");
    std::fs::write(&flow_file, flow_list.join("\n") + "\n")?;
    ovs.ctl(
        "ovs-ofctl",
        &[
            "-O",
            "OpenFlow13",
            "add-flows",
            "br0",
            flow_file.to_str().unwrap_or_default(),
        ],
    )?;
    // On a memif loop, the partner connects now and sends the first burst.
    let partner = if setup.input == Input::Memif {
        Some(crate::tools::memif_partner(env, setup, &sock, 2)?)
    } else {
        None
    };
    std::thread::sleep(Duration::from_secs_f64(a.warmup.max(0.5)));
    // A learning bridge over many MACs first installs one datapath flow per
    // (source, destination) pair, each through an upcall: measure the
    // steady state, once (nearly) all of them are in (at most 60 s).
    let mut settle_note = None;
    if let Some(want) = settle_flows {
        let t = std::time::Instant::now();
        let (mut n, mut mark, mut mark_t) = (0, 0, std::time::Instant::now());
        let mut why = "60 s passed";
        while t.elapsed() < Duration::from_secs(60) && !sys::stopping() {
            n = parse_dp_flows(&ovs.appctl(&["dpctl/show"]).unwrap_or_default());
            if n as f64 >= 0.95 * want as f64 {
                why = "95 % in";
                break;
            }
            // No longer growing (its revalidators cap the flow count when
            // their dumps are slow): that is OVS's steady state here.
            if n as f64 > mark as f64 * 1.01 {
                (mark, mark_t) = (n, std::time::Instant::now());
            } else if mark_t.elapsed() >= Duration::from_secs(5) {
                why = "no growth for 5 s";
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        settle_note = Some(format!(
            "warm-up until the datapath flows settled ({why}): {n} flows for {want} frames, {:.1} s more",
            t.elapsed().as_secs_f64()
        ));
    }
    ovs.appctl(&["dpif-netdev/pmd-stats-clear"])?;
    // Counted over the measured window only: packets that came before the
    // flows were in place were dropped by the table miss.
    let (rx0, tx0) = ovs.port_packets()?;
    let t0 = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs_f64(a.duration));
    let (rx1, tx1) = ovs.port_packets()?;
    let dt = t0.elapsed().as_secs_f64();
    let stats = ovs.appctl(&["dpif-netdev/pmd-stats-show"])?;
    if std::env::var_os("VFEX_PERF_OVS_LOG").is_some() {
        eprintln!("{stats}");
        eprintln!(
            "{}",
            ovs.ctl("ovs-ofctl", &["-O", "OpenFlow13", "dump-ports", "br0"])
                .unwrap_or_default()
        );
    }
    let dump = ovs.ctl("ovs-ofctl", &["-O", "OpenFlow13", "dump-flows", "br0"])?;
    let (rx, tx) = (rx1 - rx0, tx1.saturating_sub(tx0));
    if let Some((p, pre)) = partner {
        p.interrupt();
        sys::remove_runtime_dir(&pre);
    }
    drop(ovs);
    let cps = if env.perf {
        sys::cycles_per_sec(&csv)
    } else {
        None
    };
    std::fs::remove_file(&csv).ok();
    let (_, cyc) = parse_pmd_stats(&stats);
    let matched = flow_packets(&dump);
    let pps = (rx1 - rx0) as f64 / dt;
    let mut m = Measurement {
        pps,
        periods: vec![pps],
        rx,
        tx,
        forwarded: verify(rx, tx, &[]),
        cpu_cycles_per_s: cps,
        own_cycles_per_packet: cyc,
        ..Measurement::default()
    };
    m.notes.extend(settle_note);
    if m.forwarded.is_ok() && (matched as f64) < 0.9 * rx as f64 {
        m.forwarded = Err(format!(
            "the flows matched {matched} of {rx} packets received"
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_text() {
        assert_eq!(
            flows([OvsOp::Push, OvsOp::Pop]),
            [
                "in_port=1,actions=push_vlan:0x88a8,set_field:4097->vlan_vid,output:2",
                "in_port=2,vlan_tci=0x1000/0x1000,actions=pop_vlan,output:1"
            ]
        );
        assert_eq!(label([OvsOp::Push, OvsOp::Pop]), "push_vlan/pop_vlan");
        assert_eq!(label([OvsOp::Normal; 2]), "NORMAL");
        // NORMAL's MAC table: room for every source, within OVS's range.
        assert_eq!(mac_table_size(4), 2048);
        assert_eq!(mac_table_size(65_792), 131_584);
        assert_eq!(mac_table_size(800_000), 1_000_000);
        assert_eq!(cpu_mask(1, 1), "0x2");
        assert_eq!(cpu_mask(1, 8), "0x1fe");
    }

    #[test]
    fn parses_counters() {
        let dump = " cookie=0x0, duration=3.1s, table=0, n_packets=100, n_bytes=6400, in_port=1 actions=output:2\n cookie=0x0, duration=3.1s, table=0, n_packets=50, n_bytes=3200, in_port=2 actions=output:1\n";
        assert_eq!(flow_packets(dump), 150);
        let s = "pmd thread numa_id 0 core_id 1:\n  packets received: 1000\n  avg cycles per packet: 123.50 (123500/1000)\n  avg processing cycles per packet: 100.00 (100000/1000)\nmain thread:\n  packets received: 0\n";
        assert_eq!(parse_pmd_stats(s), (1000, Some(123.5)));
        let ports = "OFPST_PORT reply (OF1.3) (xid=0x2): 3 ports\n  port LOCAL: rx pkts=0, bytes=0, drop=0, errs=0, frame=0, over=0, crc=0\n           tx pkts=0, bytes=0, drop=731749, errs=0, coll=0\n  port  1: rx pkts=61, bytes=368206080, drop=0, errs=0, frame=?, over=?, crc=?\n           tx pkts=53, bytes=341056640, drop=0, errs=0, coll=?\n  port  2: rx pkts=56, bytes=3, drop=0\n           tx pkts=54, bytes=3\n";
        assert_eq!(parse_dump_ports(ports), (117, 107));
        let dp = "netdev@ovs-netdev:\n  lookups: hit:0 missed:5 lost:0\n  flows: 65530\n  port 0: ovs-netdev (tap)\n";
        assert_eq!(parse_dp_flows(dp), 65530);
    }
}
