//! End-to-end tests of the `vfex` binary: help and usage errors, a run on
//! pcap virtual devices with its output files checked, the embedded default,
//! Ctrl-C handling, and clean-up (no runtime directory, no hugepage files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../dataplane/tests/common/pcap.rs"]
mod pcap;
use pcap::{read_pcap, tshark_fields, write_pcap};

const VFEX: &str = env!("CARGO_BIN_EXE_vfex");

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vfex-e2e-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn prefix(tag: &str) -> String {
    format!("vfex-e2e-{tag}-{}", std::process::id())
}

/// EAL options every test run uses: two lcores, no hugepages, no PCI.
fn eal(tag: &str) -> Vec<String> {
    [
        "-l",
        "0,1",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--file-prefix",
        &prefix(tag),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(args: &[String]) -> Output {
    Command::new(VFEX)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vfex")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_cleaned_up(tag: &str) {
    let dir = Path::new("/var/run/dpdk").join(prefix(tag));
    assert!(
        !dir.exists(),
        "runtime directory {} left behind",
        dir.display()
    );
}

fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    f
}

#[test]
fn help_explains_both_halves() {
    for args in [vec!["--help"], vec!["--", "--help"], vec!["-h"]] {
        let o = Command::new(VFEX).args(&args).output().unwrap();
        assert!(o.status.success());
        let (out, _) = text(&o);
        assert!(
            out.contains("Usage: vfex [EAL options] -- [vfex options]"),
            "{out}"
        );
        assert!(out.contains("EAL options"));
        assert!(out.contains("--forward-mode"));
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_token() {
    for (args, token) in [
        (vec!["--", "--forward-mode", "bogus"], "bogus"),
        (vec!["--", "--frobnicate"], "--frobnicate"),
        (vec!["--", "--duration"], "--duration needs a value"),
        (vec!["--", "--nb-cores", "0"], "out of range"),
    ] {
        let o = Command::new(VFEX).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let (_, err) = text(&o);
        assert!(err.contains(token), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn bad_eal_options_exit_2() {
    let mut a = eal("badeal");
    a.push("--no-such-eal-option".into());
    let o = run(&a);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("EAL could not start"));
    assert_cleaned_up("badeal");
}

#[test]
fn one_lcore_is_a_usage_error() {
    let mut a = eal("onecore");
    a[1] = "0".into();
    a.extend(["--".into(), "--duration".into(), "1".into()]);
    let o = run(&a);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no worker lcore"), "{}", text(&o).1);
    assert_cleaned_up("onecore");
}

#[test]
fn pcap_ports_forward_every_frame_to_the_paired_port() {
    let dir = tempdir("pcap");
    let f0: Vec<Vec<u8>> = (0..200).map(|i| frame(i, 60 + i as usize % 500)).collect();
    let f1: Vec<Vec<u8>> = (1000..1050).map(|i| frame(i, 128)).collect();
    write_pcap(&dir.join("in0.pcap"), &f0);
    write_pcap(&dir.join("in1.pcap"), &f1);
    let mut a = eal("pcap");
    for i in 0..2 {
        a.push("--vdev".into());
        a.push(format!(
            "net_pcap{i},rx_pcap={},tx_pcap={}",
            dir.join(format!("in{i}.pcap")).display(),
            dir.join(format!("out{i}.pcap")).display()
        ));
    }
    a.extend(["--", "--duration", "1.5", "--stats-period", "0.5"].map(String::from));
    let o = run(&a);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(read_pcap(&dir.join("out1.pcap")), f0, "port 0 -> port 1");
    assert_eq!(read_pcap(&dir.join("out0.pcap")), f1, "port 1 -> port 0");
    assert!(out.contains("Forward statistics"));
    assert!(out.contains("RX-packets: 200"), "{out}");
    assert!(!err.contains("mbufs still in use"), "{err}");
    assert_cleaned_up("pcap");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn macswap_mode_swaps_addresses_on_the_wire() {
    let dir = tempdir("macswap");
    let f0: Vec<Vec<u8>> = (0..20).map(|i| frame(i, 64)).collect();
    write_pcap(&dir.join("in0.pcap"), &f0);
    let mut a = eal("macswap");
    a.push("--vdev".into());
    a.push(format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        dir.join("in0.pcap").display(),
        dir.join("out0.pcap").display()
    ));
    a.extend(
        [
            "--",
            "--forward-mode",
            "macswap",
            "--duration",
            "1",
            "--stats-period",
            "0",
        ]
        .map(String::from),
    );
    let o = run(&a);
    assert!(o.status.success(), "{:?}", text(&o));
    let got = read_pcap(&dir.join("out0.pcap"));
    let want: Vec<Vec<u8>> = f0
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let (d, s) = f[..12].split_at_mut(6);
            d.swap_with_slice(s);
            f
        })
        .collect();
    assert_eq!(got, want, "single port loops back to itself");
    assert_cleaned_up("macswap");
    std::fs::remove_dir_all(dir).ok();
}

/// `--gen-rate` (vfex-perf's generator) over a net_memif wire inside one
/// process (port 0 is the server end, port 1 the client end): every frame
/// sent in the measured window comes back, with a latency histogram.
#[test]
fn generator_counts_and_times_every_frame() {
    let dir = tempdir("gen");
    let sock = dir.join("wire.sock");
    let mut args = eal("gen");
    args[1] = "0".into();
    for (i, role) in ["server", "client"].iter().enumerate() {
        args.push("--vdev".into());
        args.push(format!(
            "net_memif{i},role={role},id=0,socket={},socket-abstract=no",
            sock.display()
        ));
    }
    args.extend(
        [
            "--",
            "--gen-rate",
            "20000",
            "--duration",
            "1.5",
            "--gen-warmup",
            "0.5",
            "--txpkts",
            "124",
        ]
        .map(String::from),
    );
    let o = run(&args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("gen: "))
        .unwrap_or_else(|| panic!("no summary: {out}\n{err}"));
    let field = |k: &str| -> u64 {
        let mut w = line.split_whitespace();
        w.find(|t| *t == k)
            .and_then(|_| w.next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {line}"))
    };
    let measured = field("measured-attempted");
    assert!(measured >= 15_000, "{line}");
    assert_eq!(field("measured-received"), measured, "{line}");
    assert_eq!(field("lost"), 0, "{line}");
    let hist: u64 = out
        .lines()
        .filter_map(|l| l.strip_prefix("gen-hist "))
        .filter_map(|r| r.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    assert_eq!(hist, measured, "one latency per measured frame");
    // A generator needs two ports.
    let mut one = eal("gen1");
    one[1] = "0".into();
    one.extend(
        [
            "--vdev",
            "net_null0",
            "--",
            "--gen-rate",
            "1000",
            "--duration",
            "1",
        ]
        .map(String::from),
    );
    let o = run(&one);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("needs two ports"), "{:?}", text(&o));
    std::fs::remove_dir_all(&dir).ok();
    assert_cleaned_up("gen");
    assert_cleaned_up("gen1");
}

#[test]
fn embedded_default_forwards_prints_stats_and_cleans_up() {
    let mut a: Vec<String> = ["--file-prefix", &prefix("default")]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(["--", "--duration", "2.2"].map(String::from));
    let o = run(&a);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("embedded default"), "{out}");
    let periods: Vec<&str> = out.lines().filter(|l| l.contains("] total")).collect();
    assert!(periods.len() >= 2, "per-second stats: {out}");
    for p in &periods {
        let pps: f64 = p
            .split_whitespace()
            .skip_while(|w| *w != "rx-pps")
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(pps > 100_000.0, "forwarding: {p}");
    }
    assert!(out.contains("Forward statistics"));
    assert_cleaned_up("default");
    let leftovers: Vec<_> = std::fs::read_dir("/dev/hugepages")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().contains(&prefix("default")))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "hugepage files left: {leftovers:?}");
}

#[test]
fn sigint_stops_within_a_second_with_a_summary() {
    for sig in ["-INT", "-TERM"] {
        let tag = format!("sig{}", &sig[1..]);
        let mut a = eal(&tag);
        a.extend(["--", "--duration", "0"].map(String::from));
        let mut child = Command::new(VFEX)
            .args(&a)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let t0 = Instant::now();
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        let mut status = None;
        while t0.elapsed() < Duration::from_secs(5) {
            if let Some(s) = child.try_wait().unwrap() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let took = t0.elapsed();
        let status = status.unwrap_or_else(|| {
            child.kill().ok();
            panic!("vfex did not stop on SIG{}", &sig[1..]);
        });
        let o = child.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert!(status.success(), "{status:?} {out} {err}");
        assert!(took < Duration::from_secs(1), "stopped in {took:?}");
        assert!(out.contains("signal received"), "{out}");
        assert!(out.contains("Forward statistics"), "{out}");
        assert_cleaned_up(&tag);
    }
}

/// Runs vfex with one pcap port in `mode` over `frames`; returns the frames
/// it wrote.
fn pcap_run(tag: &str, mode: &str, frames: &[Vec<u8>]) -> (PathBuf, Vec<Vec<u8>>) {
    let dir = tempdir(tag);
    write_pcap(&dir.join("in.pcap"), frames);
    let mut a = eal(tag);
    a.push("--vdev".into());
    a.push(format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        dir.join("in.pcap").display(),
        dir.join("out.pcap").display()
    ));
    a.extend(
        [
            "--",
            "--forward-mode",
            mode,
            "--duration",
            "1",
            "--stats-period",
            "0",
        ]
        .map(String::from),
    );
    let o = run(&a);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_cleaned_up(tag);
    let out = read_pcap(&dir.join("out.pcap"));
    (dir, out)
}

fn tshark_rows(pcap: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_fields(pcap, fields)
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn tag_encap_modes_put_what_wireshark_expects_on_the_wire() {
    let frames: Vec<Vec<u8>> = (0..30)
        .map(|i| {
            let mut f = frame(i, 64);
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f
        })
        .collect();
    for (mode, fields, want) in [
        (
            "vntag-encap",
            vec![
                "vntag.dir",
                "vntag.ptr",
                "vntag.dst",
                "vntag.src",
                "vntag.etype",
            ],
            vec!["0", "0", "0", "1", "0x0800"],
        ),
        (
            "etag-encap",
            vec![
                "etag.ecid_base",
                "etag.group",
                "etag.iecid_base",
                "etag.pcp",
            ],
            vec!["0x0001", "0", "0x0000", "0"],
        ),
        (
            "stag-encap",
            vec!["ieee8021ad.id", "ieee8021ad.priority"],
            vec!["1", "0"],
        ),
    ] {
        let (dir, out) = pcap_run(mode, mode, &frames);
        assert_eq!(out.len(), frames.len(), "{mode}");
        let rows = tshark_rows(&dir.join("out.pcap"), &fields);
        assert_eq!(rows.len(), frames.len(), "{mode}");
        for r in rows {
            assert_eq!(r, want, "{mode}");
        }
        // Strip what was pushed: the original frames come back.
        let (dir2, back) = pcap_run(
            &format!("{mode}-back"),
            &mode.replace("encap", "decap"),
            &out,
        );
        assert_eq!(back, frames, "{mode} then decap");
        std::fs::remove_dir_all(dir).ok();
        std::fs::remove_dir_all(dir2).ok();
    }
}
