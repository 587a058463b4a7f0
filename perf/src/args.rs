//! The command line: one table entry per option (name, value, help, handler),
//! help generated from the table, as in vfex's own options.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// Where the packets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Two `net_null` ports: endless frames without real headers.
    Null,
    /// Two `net_ring` ports in a loop, started with one burst (`--tx-first`).
    Ring,
    /// Two `net_pcap` ports replaying generated files (`infinite_rx=1`),
    /// transmit dropped by the PMD.
    Pcap,
    /// Two `net_memif` ports to a second process (a vfex io loop partner).
    Memif,
}

impl Input {
    /// Every input, in report order.
    pub const ALL: [Input; 4] = [Input::Null, Input::Ring, Input::Pcap, Input::Memif];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Input::Null => "null",
            Input::Ring => "ring",
            Input::Pcap => "pcap",
            Input::Memif => "memif",
        }
    }

    /// Name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Input::Null => "net_null pair",
            Input::Ring => "net_ring loop",
            Input::Pcap => "net_pcap replay",
            Input::Memif => "net_memif loop",
        }
    }

    fn parse(s: &str) -> Result<Input> {
        Input::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .with_context(|| format!("unknown input {s:?}: expected null, ring, pcap or memif"))
    }
}

/// Peers that run beside vfex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// `dpdk-testpmd`.
    Testpmd,
    /// Open vSwitch with the DPDK datapath.
    Ovs,
    /// `perf/peers/ctagfwd.c`: the plain C DPDK tag forwarder (memmove of
    /// the MACs) that the tag targets are set against, built at run time.
    CFwd,
}

/// Everything the command line sets.
#[derive(Debug, Clone)]
pub struct Args {
    /// Scenarios to run (first word of the command line, comma-separated).
    pub scenarios: Vec<String>,
    /// vfex forward modes for the `fwd` scenario.
    pub modes: Vec<String>,
    /// Tags for the `encap`/`decap` scenarios.
    pub tags: Vec<String>,
    /// Inputs; empty: each scenario's default.
    pub inputs: Vec<Input>,
    /// Frame sizes in bytes, FCS included.
    pub frame_sizes: Vec<u16>,
    /// Worker (forwarding core) counts.
    pub workers: Vec<usize>,
    /// Burst size for the peers (vfex's is fixed at 32).
    pub burst: u16,
    /// net_memif rings of 2^N slots on both ends (`rsize`); `None`:
    /// DPDK's default (2^10).
    pub memif_rsize: Option<u8>,
    /// A/B rounds.
    pub rounds: usize,
    /// Measured seconds per run.
    pub duration: f64,
    /// Seconds discarded at the start of each run.
    pub warmup: f64,
    /// huge, nohuge or auto.
    pub memory: String,
    /// Peers to run.
    pub peers: Vec<PeerKind>,
    /// vfex binary.
    pub vfex: String,
    /// testpmd binary.
    pub testpmd: String,
    /// ovs-vswitchd with DPDK.
    pub ovs_vswitchd: String,
    /// Results directory root (a `<timestamp>/` directory is made in it).
    pub out: PathBuf,
    /// Also write the JSON here.
    pub json: Option<PathBuf>,
    /// Count CPU cycles with `perf stat`.
    pub perf_stat: bool,
    /// Offered loads for the latency scenario, in % of the zero-loss rate.
    pub loads: Vec<f64>,
    /// vEths for the role scenarios (`None`: the role's default).
    pub veths: Option<u32>,
    /// Learned MACs for the controlling bridge.
    pub macs: u32,
    /// Zero-loss search: acceptable loss ratio.
    pub loss: f64,
    /// Zero-loss search: stop when the step is below this share of the rate.
    pub resolution: f64,
    /// Soak: minutes at the soak load.
    pub minutes: f64,
    /// Soak: offered load in % of the zero-loss rate.
    pub soak_load: f64,
    /// Soak: seconds between rule changes.
    pub reload_period: f64,
    /// Soak: seconds between memory samples.
    pub sample_period: f64,
    /// Soak: offered rate in frames/s instead of the search's (checks and
    /// debugging; not the documented soak).
    pub soak_rate: Option<f64>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            scenarios: vec!["io".into()],
            modes: vec!["io".into()],
            tags: vec!["vntag".into(), "etag".into(), "stag".into()],
            inputs: Vec::new(),
            frame_sizes: vec![64],
            workers: vec![1],
            burst: 32,
            memif_rsize: None,
            rounds: 3,
            duration: 5.0,
            warmup: 1.0,
            memory: "auto".into(),
            peers: vec![PeerKind::Testpmd, PeerKind::Ovs, PeerKind::CFwd],
            vfex: "target/release/vfex".into(),
            testpmd: "dpdk-testpmd".into(),
            ovs_vswitchd: "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk".into(),
            out: PathBuf::from("results"),
            json: None,
            perf_stat: true,
            loads: vec![10.0, 50.0, 90.0],
            veths: None,
            macs: 65536,
            loss: 0.0,
            resolution: 0.01,
            minutes: 10.0,
            soak_load: 90.0,
            reload_period: 1.0,
            sample_period: 5.0,
            soak_rate: None,
        }
    }
}

/// Scenarios, with one line of help each.
pub const SCENARIOS: &[(&str, &str)] = &[
    (
        "io",
        "vfex io vs testpmd io (and vs OVS in_port->output on pcap/null)",
    ),
    ("macswap", "vfex macswap vs testpmd macswap"),
    (
        "fwd",
        "each vfex --modes LIST vs testpmd io, with the cycles each adds over vfex io",
    ),
    (
        "tags",
        "push on port 0, strip on port 1 (--tags) on the ring loop: cycles added over vfex io",
    ),
    (
        "encap",
        "push a tag (--tags) on every port vs testpmd io and OVS push_vlan",
    ),
    (
        "decap",
        "strip a tag on every port (tagged pcap input) vs OVS pop_vlan",
    ),
    (
        "port-extender",
        "vfex port extender (VN-Tag; --config written by the harness), --veths VM ports with anti-spoof, 16-rule ACL, policer, vs OVS push/pop_vlan",
    ),
    (
        "vepa-station",
        "vfex basic VEPA station, --veths VMs, vs OVS NORMAL",
    ),
    (
        "controlling-bridge",
        "vfex controlling bridge (VN-Tag), --macs MACs over --veths vEths on one extender link, hairpin, vs OVS NORMAL",
    ),
    (
        "rfc2544",
        "zero-loss throughput (binary search over offered rate) through a memif loop",
    ),
    (
        "latency",
        "latency percentiles at --loads % of the zero-loss rate through a memif loop",
    ),
    (
        "soak",
        "port extender at --soak-load % of its zero-loss rate for --minutes, rules changed every --reload-period s (SIGHUP): loss, counters, RSS, mbufs; PASS/FAIL (runs alone)",
    ),
    (
        "table",
        "the README table: io, fwd/encap/decap and the roles with their peers",
    ),
];

/// One option: long name, value placeholder (None: a flag), help, handler.
struct Opt {
    long: &'static str,
    value: Option<&'static str>,
    help: &'static str,
    apply: fn(&mut Args, &str) -> Result<()>,
}

fn list<T>(v: &str, f: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| f(s.trim()))
        .collect()
}

fn strings(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn secs(v: &str) -> Result<f64> {
    let f: f64 = v
        .parse()
        .with_context(|| format!("{v:?} is not a number of seconds"))?;
    if !f.is_finite() || f < 0.0 {
        bail!("{v:?} is out of range");
    }
    Ok(f)
}

const OPTS: &[Opt] = &[
    Opt {
        long: "modes",
        value: Some("LIST"),
        help: "vfex forward modes for fwd [io]",
        apply: |a, v| {
            a.modes = strings(v);
            Ok(())
        },
    },
    Opt {
        long: "tags",
        value: Some("LIST"),
        help: "tags for encap/decap: vntag,etag,stag [all three]",
        apply: |a, v| {
            a.tags = strings(v);
            for t in &a.tags {
                if !["vntag", "etag", "stag"].contains(&t.as_str()) {
                    bail!("unknown tag {t:?}: expected vntag, etag or stag");
                }
            }
            Ok(())
        },
    },
    Opt {
        long: "inputs",
        value: Some("LIST"),
        help: "null, ring, pcap, memif [each scenario's own]",
        apply: |a, v| {
            a.inputs = list(v, Input::parse)?;
            Ok(())
        },
    },
    Opt {
        long: "frame-sizes",
        value: Some("LIST"),
        help: "frame sizes in bytes with FCS, 64 to 1518 [64]",
        apply: |a, v| {
            a.frame_sizes = list(v, |s| {
                let n: u16 = s.parse().with_context(|| format!("frame size {s:?}"))?;
                if !(64..=1518).contains(&n) {
                    bail!("frame size {n} is out of range (64 to 1518)");
                }
                Ok(n)
            })?;
            Ok(())
        },
    },
    Opt {
        long: "workers",
        value: Some("LIST"),
        help: "forwarding cores per run, e.g. 1,2,4,8 [1]",
        apply: |a, v| {
            a.workers = list(v, |s| {
                let n: usize = s.parse().with_context(|| format!("workers {s:?}"))?;
                if !(1..=64).contains(&n) {
                    bail!("workers {n} is out of range (1 to 64)");
                }
                Ok(n)
            })?;
            Ok(())
        },
    },
    Opt {
        long: "burst",
        value: Some("N"),
        help: "rx/tx burst of the peers (vfex's is 32) [32]",
        apply: |a, v| {
            a.burst = v.parse().context("--burst")?;
            if !(1..=512).contains(&a.burst) {
                bail!("--burst {v} is out of range (1 to 512)");
            }
            Ok(())
        },
    },
    Opt {
        long: "memif-rsize",
        value: Some("N"),
        help: "net_memif rings of 2^N slots on both ends, 1 to 14 (rsize) [DPDK's 10]",
        apply: |a, v| {
            let n: u8 = v.parse().context("--memif-rsize")?;
            if !(1..=14).contains(&n) {
                bail!("--memif-rsize {v} is out of range (1 to 14)");
            }
            a.memif_rsize = Some(n);
            Ok(())
        },
    },
    Opt {
        long: "rounds",
        value: Some("N"),
        help: "A/B rounds [3]",
        apply: |a, v| {
            a.rounds = v.parse().context("--rounds")?;
            if a.rounds == 0 {
                bail!("--rounds must be at least 1");
            }
            Ok(())
        },
    },
    Opt {
        long: "duration",
        value: Some("SECONDS"),
        help: "measured time of each run, after the warm-up [5]",
        apply: |a, v| {
            a.duration = secs(v)?;
            if a.duration < 1.0 {
                bail!("--duration must be at least 1 second");
            }
            Ok(())
        },
    },
    Opt {
        long: "warmup",
        value: Some("SECONDS"),
        help: "time discarded at the start of each run [1]",
        apply: |a, v| {
            a.warmup = secs(v)?;
            Ok(())
        },
    },
    Opt {
        long: "memory",
        value: Some("MODE"),
        help: "huge (hugepages, --in-memory), nohuge (--no-huge -m 1024) or auto [auto]",
        apply: |a, v| {
            if !["huge", "nohuge", "auto"].contains(&v) {
                bail!("unknown --memory {v:?}: expected huge, nohuge or auto");
            }
            a.memory = v.into();
            Ok(())
        },
    },
    Opt {
        long: "peers",
        value: Some("LIST"),
        help: "testpmd, ovs, cfwd (the plain C tag forwarder, tags scenario), or none [testpmd,ovs,cfwd]",
        apply: |a, v| {
            a.peers = list(v, |s| match s {
                "testpmd" => Ok(Some(PeerKind::Testpmd)),
                "ovs" => Ok(Some(PeerKind::Ovs)),
                "cfwd" => Ok(Some(PeerKind::CFwd)),
                "none" => Ok(None),
                _ => bail!("unknown peer {s:?}: expected testpmd, ovs, cfwd or none"),
            })?
            .into_iter()
            .flatten()
            .collect();
            Ok(())
        },
    },
    Opt {
        long: "vfex",
        value: Some("PATH"),
        help: "vfex binary [target/release/vfex]",
        apply: |a, v| {
            a.vfex = v.into();
            Ok(())
        },
    },
    Opt {
        long: "testpmd",
        value: Some("PATH"),
        help: "testpmd binary [dpdk-testpmd]",
        apply: |a, v| {
            a.testpmd = v.into();
            Ok(())
        },
    },
    Opt {
        long: "ovs-vswitchd",
        value: Some("PATH"),
        help: "ovs-vswitchd built with DPDK [/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk]",
        apply: |a, v| {
            a.ovs_vswitchd = v.into();
            Ok(())
        },
    },
    Opt {
        long: "out",
        value: Some("DIR"),
        help: "results go to DIR/<UTC timestamp>/ [results]",
        apply: |a, v| {
            a.out = v.into();
            Ok(())
        },
    },
    Opt {
        long: "json",
        value: Some("FILE"),
        help: "also write the JSON results here",
        apply: |a, v| {
            a.json = Some(v.into());
            Ok(())
        },
    },
    Opt {
        long: "no-perf-stat",
        value: None,
        help: "do not count CPU cycles with perf stat (TSC cycles only)",
        apply: |a, _| {
            a.perf_stat = false;
            Ok(())
        },
    },
    Opt {
        long: "loads",
        value: Some("LIST"),
        help: "latency: offered loads in % of the zero-loss rate [10,50,90]",
        apply: |a, v| {
            a.loads = list(v, |s| {
                let f: f64 = s.parse().with_context(|| format!("load {s:?}"))?;
                if !(0.0..=100.0).contains(&f) || f == 0.0 {
                    bail!("load {f} is out of range (0 to 100 %)");
                }
                Ok(f)
            })?;
            Ok(())
        },
    },
    Opt {
        long: "veths",
        value: Some("N"),
        help: "roles: vEths [port-extender, vepa-station 4 (one net_pcap port each, at most 31); controlling-bridge 1024]",
        apply: |a, v| {
            a.veths = Some(v.parse().context("--veths")?);
            Ok(())
        },
    },
    Opt {
        long: "macs",
        value: Some("N"),
        help: "controlling bridge: learned MACs [65536]",
        apply: |a, v| {
            a.macs = v.parse().context("--macs")?;
            Ok(())
        },
    },
    Opt {
        long: "loss",
        value: Some("RATIO"),
        help: "rfc2544: acceptable loss ratio [0]",
        apply: |a, v| {
            a.loss = v.parse().context("--loss")?;
            Ok(())
        },
    },
    Opt {
        long: "resolution",
        value: Some("RATIO"),
        help: "rfc2544: stop when the step is below this share of the rate [0.01]",
        apply: |a, v| {
            a.resolution = v.parse().context("--resolution")?;
            Ok(())
        },
    },
    Opt {
        long: "minutes",
        value: Some("M"),
        help: "soak: minutes at the soak load [10]",
        apply: |a, v| {
            a.minutes = v.parse().context("--minutes")?;
            if !a.minutes.is_finite() || a.minutes < 0.1 {
                bail!("--minutes must be at least 0.1");
            }
            Ok(())
        },
    },
    Opt {
        long: "soak-load",
        value: Some("PERCENT"),
        help: "soak: offered load in % of the zero-loss rate [90]",
        apply: |a, v| {
            a.soak_load = v.parse().context("--soak-load")?;
            if !(a.soak_load > 0.0 && a.soak_load <= 100.0) {
                bail!("--soak-load {v} is out of range (0 to 100 %)");
            }
            Ok(())
        },
    },
    Opt {
        long: "reload-period",
        value: Some("SECONDS"),
        help: "soak: seconds between rule changes (rewrite + SIGHUP) [1]",
        apply: |a, v| {
            a.reload_period = secs(v)?;
            if a.reload_period < 0.2 {
                bail!("--reload-period must be at least 0.2 s");
            }
            Ok(())
        },
    },
    Opt {
        long: "sample-period",
        value: Some("SECONDS"),
        help: "soak: seconds between RSS / mbufs samples [5]",
        apply: |a, v| {
            a.sample_period = secs(v)?;
            if a.sample_period < 0.5 {
                bail!("--sample-period must be at least 0.5 s");
            }
            Ok(())
        },
    },
    Opt {
        long: "soak-rate",
        value: Some("PPS"),
        help: "soak: offer PPS frames/s and skip the zero-loss search (not the documented soak)",
        apply: |a, v| {
            let r: f64 = v.parse().context("--soak-rate")?;
            if !(r.is_finite() && r >= 1000.0) {
                bail!("--soak-rate {v}: at least 1000 frames/s");
            }
            a.soak_rate = Some(r);
            Ok(())
        },
    },
];

/// The help text, generated from the tables.
pub fn help() -> String {
    let mut h = String::from(
        "vfex-perf: vfex side by side with dpdk-testpmd and Open vSwitch (DPDK datapath)\n\n\
Usage: vfex-perf SCENARIO[,SCENARIO...] [options]\n\n\
Every run: the same virtual devices, memory settings and cores for vfex and its peer,\n\
alternating A B A B for --rounds rounds; the report gives medians (min..max), the ratio\n\
to the peer per round then its median, Mpps, Gbps (frame + 20 B preamble and gap per\n\
frame), TSC and CPU (perf stat) cycles per packet, drops by reason, and whether the\n\
counters show that traffic was forwarded. Results go to --out/<timestamp>/ as JSON,\n\
a markdown table and SVG plots.\n\nScenarios:\n",
    );
    for (n, d) in SCENARIOS {
        h.push_str(&format!("  {n:<20}{d}\n"));
    }
    h.push_str("\nOptions:\n");
    for o in OPTS {
        let left = match o.value {
            Some(v) => format!("--{} {v}", o.long),
            None => format!("--{}", o.long),
        };
        h.push_str(&format!("  {left:<26}{}\n", o.help));
    }
    h.push_str("  -h, --help                this help\n");
    h
}

/// Parses the arguments (without the program name). `Ok(None)`: help asked.
pub fn parse(argv: &[String]) -> Result<Option<Args>> {
    if argv.is_empty() || argv.iter().any(|x| x == "-h" || x == "--help") {
        return Ok(None);
    }
    let mut a = Args {
        scenarios: strings(&argv[0]),
        ..Args::default()
    };
    for s in &a.scenarios {
        if !SCENARIOS.iter().any(|(n, _)| n == s) {
            bail!("unknown scenario {s:?} (see --help)");
        }
    }
    let mut it = argv[1..].iter();
    while let Some(k) = it.next() {
        let (name, inline) = match k.strip_prefix("--") {
            Some(r) => match r.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (r, None),
            },
            None => bail!("unexpected argument {k:?} (see --help)"),
        };
        let Some(o) = OPTS.iter().find(|o| o.long == name) else {
            bail!("unknown option {k:?} (see --help)");
        };
        let v = match (o.value, inline) {
            (None, None) => String::new(),
            (None, Some(_)) => bail!("--{name} takes no value"),
            (Some(_), Some(v)) => v,
            (Some(m), None) => it
                .next()
                .cloned()
                .with_context(|| format!("--{name} needs a value ({m})"))?,
        };
        (o.apply)(&mut a, &v).with_context(|| format!("--{name} {v}"))?;
    }
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Option<Args>> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_help() {
        assert!(p(&[]).unwrap().is_none());
        assert!(p(&["io", "--help"]).unwrap().is_none());
        let a = p(&["io"]).unwrap().unwrap();
        assert_eq!(a.scenarios, ["io"]);
        assert_eq!((a.rounds, a.duration, a.warmup, a.burst), (3, 5.0, 1.0, 32));
        let h = help();
        for o in OPTS {
            assert!(h.contains(&format!("--{}", o.long)), "{}", o.long);
        }
        for (s, _) in SCENARIOS {
            assert!(h.contains(s));
        }
    }

    #[test]
    fn lists_and_ranges() {
        let a = p(&[
            "encap,decap",
            "--inputs",
            "null,pcap,memif",
            "--frame-sizes",
            "64,512,1518",
            "--workers=1,2,4,8",
            "--peers",
            "none",
            "--tags",
            "stag",
            "--duration",
            "1",
            "--warmup",
            "0.5",
            "--loads",
            "10,90",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.scenarios, ["encap", "decap"]);
        assert_eq!(a.inputs, [Input::Null, Input::Pcap, Input::Memif]);
        assert_eq!(a.frame_sizes, [64, 512, 1518]);
        assert_eq!(a.workers, [1, 2, 4, 8]);
        assert!(a.peers.is_empty());
        assert_eq!(a.tags, ["stag"]);
        assert_eq!((a.duration, a.warmup), (1.0, 0.5));
        assert_eq!(a.loads, [10.0, 90.0]);
        let e = |v: &[&str]| format!("{:#}", p(v).unwrap_err());
        assert!(e(&["io", "--frame-sizes", "63"]).contains("out of range"));
        assert!(e(&["io", "--frame-sizes", "1519"]).contains("out of range"));
        assert!(e(&["io", "--workers", "0"]).contains("out of range"));
        assert!(e(&["io", "--inputs", "tap"]).contains("unknown input"));
        assert!(e(&["io", "--peers", "vpp"]).contains("unknown peer"));
        assert!(e(&["nosuch"]).contains("unknown scenario"));
        assert!(e(&["io", "--rounds"]).contains("needs a value"));
        assert!(e(&["io", "--rounds", "0"]).contains("at least 1"));
        assert!(e(&["io", "--duration", "0.5"]).contains("at least 1"));
        assert!(e(&["io", "--no-perf-stat=1"]).contains("takes no value"));
        assert!(e(&["io", "--memory", "lots"]).contains("expected huge"));
        assert!(e(&["io", "stray"]).contains("unexpected argument"));
    }
}
