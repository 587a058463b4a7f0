//! vfex's own options (after `--`), defined as a table: one entry per option
//! with its names, value, help and handler. `--help` is generated from it.

use std::time::Duration;
use vfex_dataplane::fwd::{ForwardMode, MAX_PKT_BURST, Topology};

/// What the options set.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Forwarding engine.
    pub forward_mode: ForwardMode,
    /// Port topology.
    pub topology: Topology,
    /// Run time; `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    /// Stats period; `None`: no periodic stats.
    pub stats_period: Option<Duration>,
    /// Forwarding cores (`None`: every worker lcore, as far as there are streams).
    pub nb_cores: Option<usize>,
    /// Rx queues per port.
    pub rxq: u16,
    /// Rx descriptors per queue.
    pub rxd: u16,
    /// Tx descriptors per queue.
    pub txd: u16,
    /// Mbufs in the pool (`None`: sized from ports and queues).
    pub total_num_mbufs: Option<u32>,
    /// Send one burst on every port before forwarding (for ring loops).
    pub tx_first: bool,
    /// Whether `--forward-mode` was given (else a run without ports is the
    /// embedded demo of the roles).
    pub forward_mode_given: bool,
    /// Configuration file (ports, role, vEths, rules, SR-IOV).
    pub config: Option<std::path::PathBuf>,
    /// Role, overriding the configuration file's.
    pub role: Option<String>,
    /// Encapsulation, overriding the configuration file's (demo: vntag or etag).
    pub encap: Option<String>,
    /// Interactive command shell.
    pub interactive: bool,
    /// Commands to run at start-up, one per line.
    pub cmdline_file: Option<std::path::PathBuf>,
    /// Stop once every rx port has been idle this long.
    pub stop_after_idle: Option<Duration>,
    /// Tx queues per port (`None`: one per forwarding core).
    pub txq: Option<u16>,
    /// Packets per rx burst and tx flush (1 to [`MAX_PKT_BURST`]).
    pub burst: usize,
    /// Root of the sysfs tree the SR-IOV control reads and writes (`/sys`).
    pub sysfs_root: std::path::PathBuf,
    /// Length of the `--tx-first` frames in bytes, without the 4-byte FCS.
    pub txpkts: u16,
    /// Generator mode: frames per second sent on port 0 (see `generator.rs`).
    pub gen_rate: Option<f64>,
    /// Generator mode: latencies of the first seconds are not recorded.
    pub gen_warmup: Duration,
    /// Print help and exit.
    pub help: bool,
    /// Print the version and exit.
    pub version: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            forward_mode: ForwardMode::Io,
            topology: Topology::Paired,
            duration: Some(Duration::from_secs(10)),
            stats_period: Some(Duration::from_secs(1)),
            nb_cores: None,
            rxq: 1,
            rxd: 1024,
            txd: 1024,
            total_num_mbufs: None,
            tx_first: false,
            forward_mode_given: false,
            config: None,
            role: None,
            encap: None,
            interactive: false,
            cmdline_file: None,
            stop_after_idle: None,
            txq: None,
            burst: MAX_PKT_BURST,
            sysfs_root: "/sys".into(),
            txpkts: 60,
            gen_rate: None,
            gen_warmup: Duration::from_secs(1),
            help: false,
            version: false,
        }
    }
}

/// One option: names, value placeholder (None: a flag), help, handler.
pub struct OptDef {
    /// Long name without dashes.
    pub long: &'static str,
    /// Short name, if any.
    pub short: Option<char>,
    /// Value placeholder; `None` for a flag.
    pub value: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
    /// Applies the value (a flag gets `None`).
    pub apply: fn(&mut Options, Option<&str>) -> Result<(), String>,
}

fn secs(v: &str, allow_zero: bool) -> Result<Option<Duration>, String> {
    let f: f64 = v
        .parse()
        .map_err(|_| format!("{v:?} is not a number of seconds"))?;
    if !f.is_finite() || !(0.0..=31_536_000.0).contains(&f) {
        return Err(format!("{v:?} is out of range (0 to 31536000 seconds)"));
    }
    if f == 0.0 {
        return if allow_zero {
            Ok(None)
        } else {
            Err("must be greater than 0".into())
        };
    }
    Ok(Some(Duration::from_secs_f64(f)))
}

fn num<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    v: &str,
    lo: T,
    hi: T,
) -> Result<T, String> {
    let n: T = v
        .parse()
        .map_err(|_| format!("{v:?} is not a whole number"))?;
    if n < lo || n > hi {
        return Err(format!("{v} is out of range ({lo} to {hi})"));
    }
    Ok(n)
}

fn val(v: Option<&str>) -> &str {
    v.unwrap_or_default()
}

/// Every option vfex takes after `--`.
pub const OPTIONS: &[OptDef] = &[
    OptDef {
        long: "forward-mode",
        short: None,
        value: Some("MODE"),
        help: "forwarding engine [io]:\n\
            io (unchanged), macswap (swap MACs),\n\
            vntag|etag|stag (push the tag on even ports, strip it on odd ones),\n\
            vntag-encap|etag-encap|stag-encap (push on every port),\n\
            vntag-decap|etag-decap|stag-decap (strip on every port, pad to 60 bytes);\n\
            port index i pushes VIF / E-CID / S-VID i+1",
        apply: |o, v| {
            o.forward_mode = val(v).parse()?;
            o.forward_mode_given = true;
            Ok(())
        },
    },
    OptDef {
        long: "config",
        short: None,
        value: Some("FILE"),
        help: "run the role of this configuration file (ports, vEths, rules, SR-IOV; docs/CONFIG.md)",
        apply: |o, v| {
            o.config = Some(val(v).into());
            Ok(())
        },
    },
    OptDef {
        long: "role",
        short: None,
        value: Some("ROLE"),
        help: "port-extender, vepa-station or controlling-bridge (overrides the file's)",
        apply: |o, v| {
            let r = val(v);
            if !["port-extender", "vepa-station", "controlling-bridge"].contains(&r) {
                return Err("expected port-extender, vepa-station or controlling-bridge".into());
            }
            o.role = Some(r.into());
            Ok(())
        },
    },
    OptDef {
        long: "encap",
        short: None,
        value: Some("ENCAP"),
        help: "vntag, etag, stag or none (overrides the file's; the embedded demo: vntag or etag) [vntag]",
        apply: |o, v| {
            let e = val(v);
            if !["vntag", "etag", "stag", "none"].contains(&e) {
                return Err("expected vntag, etag, stag or none".into());
            }
            o.encap = Some(e.into());
            Ok(())
        },
    },
    OptDef {
        long: "interactive",
        short: Some('i'),
        value: None,
        help: "command shell (help lists the commands); runs until quit",
        apply: |o, _| {
            o.interactive = true;
            Ok(())
        },
    },
    OptDef {
        long: "cmdline-file",
        short: None,
        value: Some("FILE"),
        help: "run the shell commands in FILE at start-up, then go on",
        apply: |o, v| {
            o.cmdline_file = Some(val(v).into());
            Ok(())
        },
    },
    OptDef {
        long: "stop-after-idle",
        short: None,
        value: Some("MS"),
        help: "stop once every rx port has been idle this many milliseconds (runs driven by pcap files)",
        apply: |o, v| {
            let ms: u64 = num(val(v), 1u64, 86_400_000)?;
            o.stop_after_idle = Some(Duration::from_millis(ms));
            Ok(())
        },
    },
    OptDef {
        long: "txq",
        short: None,
        value: Some("N"),
        help: "tx queues per port (at least one per forwarding core) [one per forwarding core]",
        apply: |o, v| {
            o.txq = Some(num(val(v), 1u16, 64)?);
            Ok(())
        },
    },
    OptDef {
        long: "burst",
        short: None,
        value: Some("N"),
        help: "packets per rx burst and per tx flush, 1 to 32 (the compiled maximum, MAX_PKT_BURST) [32]",
        apply: |o, v| {
            let v = val(v);
            match v.parse::<usize>() {
                Ok(n) if (1..=MAX_PKT_BURST).contains(&n) => {
                    o.burst = n;
                    Ok(())
                }
                _ => Err(format!(
                    "{v:?} is not a burst size: expected 1 to {MAX_PKT_BURST} ({MAX_PKT_BURST} is the compiled maximum, MAX_PKT_BURST)"
                )),
            }
        },
    },
    OptDef {
        long: "sysfs-root",
        short: None,
        value: Some("DIR"),
        help: "sysfs tree for SR-IOV (vf commands, [[sriov]]); another root is for tests and containers [/sys]",
        apply: |o, v| {
            let d = val(v);
            if !std::path::Path::new(d).is_dir() {
                return Err("expected an existing directory".into());
            }
            o.sysfs_root = d.into();
            Ok(())
        },
    },
    OptDef {
        long: "port-topology",
        short: None,
        value: Some("TOPO"),
        help: "paired (0<->1, 2<->3), chained (0->1->...->0) or loop (back out of the same port) [paired]",
        apply: |o, v| {
            o.topology = val(v).parse()?;
            Ok(())
        },
    },
    OptDef {
        long: "duration",
        short: None,
        value: Some("SECONDS"),
        help: "stop after this long; 0 runs until Ctrl-C (SIGINT) or SIGTERM [10]",
        apply: |o, v| {
            o.duration = secs(val(v), true)?;
            Ok(())
        },
    },
    OptDef {
        long: "stats-period",
        short: None,
        value: Some("SECONDS"),
        help: "print per-port stats this often; 0 prints only the final summary [1]",
        apply: |o, v| {
            o.stats_period = secs(val(v), true)?;
            Ok(())
        },
    },
    OptDef {
        long: "nb-cores",
        short: None,
        value: Some("N"),
        help: "forwarding cores to use (worker lcores from EAL's -l) [all]",
        apply: |o, v| {
            o.nb_cores = Some(num(val(v), 1usize, 127)?);
            Ok(())
        },
    },
    OptDef {
        long: "rxq",
        short: None,
        value: Some("N"),
        help: "rx queues per port, spread over the forwarding cores (RSS) [1]",
        apply: |o, v| {
            o.rxq = num(val(v), 1u16, 64)?;
            Ok(())
        },
    },
    OptDef {
        long: "rxd",
        short: None,
        value: Some("N"),
        help: "rx descriptors per queue [1024]",
        apply: |o, v| {
            o.rxd = num(val(v), 32u16, 16384)?;
            Ok(())
        },
    },
    OptDef {
        long: "txd",
        short: None,
        value: Some("N"),
        help: "tx descriptors per queue [1024]",
        apply: |o, v| {
            o.txd = num(val(v), 32u16, 16384)?;
            Ok(())
        },
    },
    OptDef {
        long: "total-num-mbufs",
        short: None,
        value: Some("N"),
        help: "mbufs in the packet pool [sized from ports, queues and descriptors]",
        apply: |o, v| {
            o.total_num_mbufs = Some(num(val(v), 1024u32, 16_777_216)?);
            Ok(())
        },
    },
    OptDef {
        long: "tx-first",
        short: None,
        value: None,
        help: "send one burst (--burst frames) on every port before forwarding (starts traffic on ring loops)",
        apply: |o, _| {
            o.tx_first = true;
            Ok(())
        },
    },
    OptDef {
        long: "txpkts",
        short: None,
        value: Some("BYTES"),
        help: "length of the --tx-first frames without FCS (Ethernet + IPv4 + UDP, 60 to 1514) [60]",
        apply: |o, v| {
            o.txpkts = num(val(v), 60u16, 1514)?;
            Ok(())
        },
    },
    OptDef {
        long: "gen-rate",
        short: None,
        value: Some("PPS"),
        help: "generator mode (for vfex-perf): send --txpkts frames stamped with the TSC on port 0\n\
            at PPS frames/s (after a stall, it catches up at no more than 1.05 x PPS), receive them\n\
            on port 1, print loss and a latency histogram",
        apply: |o, v| {
            let r: f64 = val(v)
                .parse()
                .map_err(|_| format!("{:?} is not a rate", val(v)))?;
            if !r.is_finite() || !(1.0..=1e10).contains(&r) {
                return Err("out of range (1 to 1e10 frames/s)".into());
            }
            o.gen_rate = Some(r);
            Ok(())
        },
    },
    OptDef {
        long: "gen-warmup",
        short: None,
        value: Some("SECONDS"),
        help: "generator mode: do not count the first SECONDS [1]",
        apply: |o, v| {
            o.gen_warmup = secs(val(v), true)?.unwrap_or_default();
            Ok(())
        },
    },
    OptDef {
        long: "help",
        short: Some('h'),
        value: None,
        help: "print this help and exit",
        apply: |o, _| {
            o.help = true;
            Ok(())
        },
    },
    OptDef {
        long: "version",
        short: Some('V'),
        value: None,
        help: "print the version and exit",
        apply: |o, _| {
            o.version = true;
            Ok(())
        },
    },
];

/// Parses vfex options (the part after `--`). Errors name the bad token and
/// what was expected.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (name, inline) = if let Some(rest) = a.strip_prefix("--") {
            match rest.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (rest.to_owned(), None),
            }
        } else if let Some(c) = a.strip_prefix('-').filter(|c| c.chars().count() == 1) {
            let ch = c.chars().next().unwrap_or_default();
            match OPTIONS.iter().find(|d| d.short == Some(ch)) {
                Some(d) => (d.long.to_owned(), None),
                None => return Err(format!("unknown option {a:?} (see vfex --help)")),
            }
        } else {
            return Err(format!(
                "unexpected argument {a:?}: vfex options start with -- (see vfex --help)"
            ));
        };
        let Some(def) = OPTIONS.iter().find(|d| d.long == name) else {
            return Err(format!("unknown option \"--{name}\" (see vfex --help)"));
        };
        let value = match (def.value, inline) {
            (None, None) => None,
            (None, Some(_)) => return Err(format!("option --{name} takes no value")),
            (Some(_), Some(v)) => Some(v),
            (Some(meta), None) => {
                i += 1;
                match args.get(i) {
                    Some(v) => Some(v.clone()),
                    None => return Err(format!("option --{name} needs a value ({meta})")),
                }
            }
        };
        (def.apply)(&mut o, value.as_deref())
            .map_err(|e| format!("--{name} {}: {e}", value.as_deref().unwrap_or("")))?;
        i += 1;
    }
    Ok(o)
}

/// The help text, generated from [`OPTIONS`].
pub fn help() -> String {
    const HEADER: &[&str] = &[
        "vfex: software VM-FEX dataplane (VN-Tag, E-Tag, 802.1Qbg) on DPDK",
        "",
        "Usage: vfex [EAL options] -- [vfex options]",
        "",
        "As with dpdk-testpmd, the options before `--` go to DPDK's EAL and the ones after it to vfex.",
        "With no ports, no --config and no --forward-mode, vfex runs its embedded demo: a VN-Tag port",
        "extender with 4 VM ports wired to a controlling bridge, on in-process virtual wires, with a",
        "traffic generator, for 10 seconds (per-vEth stats every second). --config FILE runs a role;",
        "--forward-mode with no ports runs that engine between net_null0 and net_null1.",
        "",
        "EAL options (the common ones; all of DPDK's are accepted):",
        "  -l CORELIST               lcores to use, e.g. 0,1 (the first is the main lcore; the others forward)",
        "  -a, --allow PCI[,ARGS]    use this PCI device (repeatable), e.g. -a 0000:03:00.1",
        "  --vdev NAME[,ARGS]        add a virtual device, e.g. --vdev net_ring0,",
        "                            --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap",
        "  --no-huge, -m MB          run without hugepages with MB of memory",
        "  --in-memory               hugepages without files in hugetlbfs (no dpdk-dumpcap then)",
        "  --file-prefix NAME        name of this instance's runtime files [vfex]",
        "  --no-pci                  do not probe PCI devices",
        "Unless you give your own, vfex uses hugepages when 512 MB are free (dpdk-dumpcap can attach;",
        "files removed at exit), otherwise --no-huge -m 1024 with a warning; --file-prefix vfex;",
        "--no-pci when no device is named. Telemetry: dpdk-telemetry.py -f PREFIX, commands /vfex/...",
        "",
        "vfex options:",
    ];
    let mut h = HEADER.join("\n");
    h.push('\n');
    for d in OPTIONS {
        let mut left = String::from("  ");
        if let Some(c) = d.short {
            left.push_str(&format!("-{c}, "));
        }
        left.push_str("--");
        left.push_str(d.long);
        if let Some(v) = d.value {
            left.push(' ');
            left.push_str(v);
        }
        let help = d.help.replace('\n', &format!("\n{:28}", ""));
        h.push_str(&format!("{left:<28}{help}\n"));
    }
    h.push_str(
        "\nExit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n\
Ctrl-C (SIGINT) or SIGTERM stops forwarding and prints the final summary.\n",
    );
    h
}

/// Splits argv (without the program name) at the first `--` into EAL and
/// vfex arguments.
pub fn split_args(argv: &[String]) -> (Vec<String>, Vec<String>) {
    match argv.iter().position(|a| a == "--") {
        Some(i) => (argv[..i].to_vec(), argv[i + 1..].to_vec()),
        None => (argv.to_vec(), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Options, String> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.duration, Some(Duration::from_secs(10)));
    }

    #[test]
    fn forward_mode() {
        assert_eq!(
            p(&["--forward-mode", "macswap"]).unwrap().forward_mode,
            ForwardMode::MacSwap
        );
        assert_eq!(
            p(&["--forward-mode=io"]).unwrap().forward_mode,
            ForwardMode::Io
        );
        let e = p(&["--forward-mode", "rxonly"]).unwrap_err();
        assert!(
            e.contains("rxonly") && e.contains("expected one of io, macswap"),
            "{e}"
        );
        assert!(
            p(&["--forward-mode"])
                .unwrap_err()
                .contains("needs a value (MODE)")
        );
    }

    #[test]
    fn port_topology() {
        assert_eq!(
            p(&["--port-topology", "loop"]).unwrap().topology,
            Topology::Loop
        );
        assert_eq!(
            p(&["--port-topology", "chained"]).unwrap().topology,
            Topology::Chained
        );
        assert!(
            p(&["--port-topology", "ring"])
                .unwrap_err()
                .contains("paired, chained or loop")
        );
    }

    #[test]
    fn duration() {
        assert_eq!(
            p(&["--duration", "2.5"]).unwrap().duration,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(p(&["--duration", "0"]).unwrap().duration, None);
        assert!(
            p(&["--duration", "-1"])
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            p(&["--duration", "ten"])
                .unwrap_err()
                .contains("\"ten\" is not a number")
        );
        assert!(p(&["--duration", "NaN"]).is_err());
    }

    #[test]
    fn stats_period() {
        assert_eq!(p(&["--stats-period", "0"]).unwrap().stats_period, None);
        assert_eq!(
            p(&["--stats-period", "2"]).unwrap().stats_period,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn nb_cores_rxq_rxd_txd_mbufs() {
        let o = p(&[
            "--nb-cores",
            "2",
            "--rxq",
            "4",
            "--rxd",
            "512",
            "--txd",
            "256",
            "--total-num-mbufs",
            "4096",
        ])
        .unwrap();
        assert_eq!(
            (o.nb_cores, o.rxq, o.rxd, o.txd, o.total_num_mbufs),
            (Some(2), 4, 512, 256, Some(4096))
        );
        assert!(
            p(&["--nb-cores", "0"])
                .unwrap_err()
                .contains("out of range (1 to 127)")
        );
        assert!(p(&["--rxq", "65"]).is_err());
        assert!(p(&["--rxd", "8"]).is_err());
        assert!(
            p(&["--txd", "x"])
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(p(&["--total-num-mbufs", "10"]).is_err());
    }

    #[test]
    fn flags() {
        assert_eq!(p(&["--txpkts", "1514"]).unwrap().txpkts, 1514);
        assert_eq!(p(&["--gen-rate", "1e6"]).unwrap().gen_rate, Some(1e6));
        assert!(
            p(&["--gen-rate", "0"])
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(
            p(&["--gen-warmup", "0.5"]).unwrap().gen_warmup,
            Duration::from_millis(500)
        );
        assert!(p(&["--txpkts", "59"]).unwrap_err().contains("out of range"));
        let o = p(&["--tx-first", "-h", "--version"]).unwrap();
        assert!(o.tx_first && o.help && o.version);
        assert!(p(&["-V"]).unwrap().version);
        assert!(
            p(&["--tx-first=yes"])
                .unwrap_err()
                .contains("takes no value")
        );
    }

    #[test]
    fn burst() {
        assert_eq!(p(&[]).unwrap().burst, MAX_PKT_BURST);
        assert_eq!(p(&["--burst", "1"]).unwrap().burst, 1);
        assert_eq!(p(&["--burst=7"]).unwrap().burst, 7);
        assert_eq!(p(&["--burst", "32"]).unwrap().burst, 32);
        for bad in ["0", "33", "x", "-1", ""] {
            let e = p(&["--burst", bad]).unwrap_err();
            assert!(
                e.starts_with(&format!("--burst {bad}: {bad:?} is not a burst size"))
                    && e.contains("expected 1 to 32 (32 is the compiled maximum, MAX_PKT_BURST)"),
                "{bad}: {e}"
            );
        }
        assert!(help().contains("1 to 32 (the compiled maximum, MAX_PKT_BURST)"));
    }

    #[test]
    fn sysfs_root() {
        assert_eq!(p(&[]).unwrap().sysfs_root, std::path::PathBuf::from("/sys"));
        let d = std::env::temp_dir();
        assert_eq!(
            p(&["--sysfs-root", &d.display().to_string()])
                .unwrap()
                .sysfs_root,
            d
        );
        let e = p(&["--sysfs-root", "/no/such/dir"]).unwrap_err();
        assert!(
            e.contains("/no/such/dir") && e.contains("expected an existing directory"),
            "{e}"
        );
        assert!(help().contains("for tests and containers [/sys]"));
    }

    #[test]
    fn config_role_encap() {
        let o = p(&[
            "--config",
            "a.toml",
            "--role",
            "vepa-station",
            "--encap",
            "stag",
        ])
        .unwrap();
        assert_eq!(o.config, Some("a.toml".into()));
        assert_eq!(o.role.as_deref(), Some("vepa-station"));
        assert_eq!(o.encap.as_deref(), Some("stag"));
        for r in ["port-extender", "controlling-bridge"] {
            assert_eq!(p(&["--role", r]).unwrap().role.as_deref(), Some(r));
        }
        let e = p(&["--role", "switch"]).unwrap_err();
        assert!(
            e.contains("--role switch") && e.contains("expected port-extender"),
            "{e}"
        );
        let e = p(&["--encap", "vxlan"]).unwrap_err();
        assert!(
            e.contains("--encap vxlan") && e.contains("expected vntag, etag, stag or none"),
            "{e}"
        );
        assert!(
            p(&["--config"])
                .unwrap_err()
                .contains("needs a value (FILE)")
        );
    }

    #[test]
    fn shell_options() {
        assert!(p(&["-i"]).unwrap().interactive);
        assert!(p(&["--interactive"]).unwrap().interactive);
        assert_eq!(
            p(&["--cmdline-file", "cmds"]).unwrap().cmdline_file,
            Some("cmds".into())
        );
        assert!(p(&["-i=x"]).is_err());
    }

    #[test]
    fn stop_after_idle_and_txq() {
        assert_eq!(
            p(&["--stop-after-idle", "300"]).unwrap().stop_after_idle,
            Some(Duration::from_millis(300))
        );
        assert!(
            p(&["--stop-after-idle", "0"])
                .unwrap_err()
                .contains("out of range (1 to 86400000)")
        );
        assert_eq!(p(&["--txq", "2"]).unwrap().txq, Some(2));
        assert_eq!(p(&[]).unwrap().txq, None);
        assert!(
            p(&["--txq", "65"])
                .unwrap_err()
                .contains("--txq 65: 65 is out of range (1 to 64)")
        );
    }

    #[test]
    fn every_option_has_a_parse_test() {
        // The options this module's tests exercise; a new entry in OPTIONS
        // needs a test here (and an execution test in tests/cli.rs when it
        // changes behaviour).
        let tested = [
            "forward-mode",
            "config",
            "role",
            "encap",
            "interactive",
            "cmdline-file",
            "stop-after-idle",
            "txq",
            "burst",
            "sysfs-root",
            "port-topology",
            "duration",
            "stats-period",
            "nb-cores",
            "rxq",
            "rxd",
            "txd",
            "total-num-mbufs",
            "tx-first",
            "txpkts",
            "gen-rate",
            "gen-warmup",
            "help",
            "version",
        ];
        for d in OPTIONS {
            assert!(tested.contains(&d.long), "--{} has no parse test", d.long);
        }
    }

    #[test]
    fn bad_tokens_are_named() {
        assert!(
            p(&["--frobnicate"])
                .unwrap_err()
                .contains("\"--frobnicate\"")
        );
        assert!(p(&["-z"]).unwrap_err().contains("\"-z\""));
        assert!(p(&["stray"]).unwrap_err().contains("\"stray\""));
    }

    #[test]
    fn help_lists_every_option() {
        let h = help();
        for d in OPTIONS {
            assert!(h.contains(&format!("--{}", d.long)), "{}", d.long);
        }
        assert!(h.contains("Usage: vfex [EAL options] -- [vfex options]"));
    }

    #[test]
    fn readme_lists_every_option() {
        let readme = include_str!("../README.md");
        for d in OPTIONS {
            assert!(
                readme.contains(&format!("`--{}", d.long)),
                "README.md's option table lacks --{}",
                d.long
            );
        }
    }

    #[test]
    fn splits_at_double_dash() {
        let v: Vec<String> = ["-l", "0,1", "--", "--duration", "1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (e, o) = split_args(&v);
        assert_eq!(e, ["-l", "0,1"]);
        assert_eq!(o, ["--duration", "1"]);
        assert_eq!(split_args(&v[..2]).1.len(), 0);
    }
}
