//! Helpers shared by the end-to-end tests of the `vfex` binary
//! (tests/cli.rs and tests/faults.rs): the EAL arguments and file prefixes
//! of a run, running and stopping vfex, clean-up checks, the Ethernet
//! frames and the pcap port-extender configuration both files build.
//!
//! Each test file compiles this module into its own crate and uses only
//! part of it; what one of them leaves unused would warn as dead code.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../dataplane/tests/common/pcap.rs"]
pub mod pcap;
use pcap::write_pcap;

pub const VFEX: &str = env!("CARGO_BIN_EXE_vfex");

pub const VM1: [u8; 6] = [2, 0, 0, 0, 1, 1];
pub const VM2: [u8; 6] = [2, 0, 0, 0, 1, 2];

/// The EAL file prefix of one run: `vfex-SUITE-TAG-PID`. Tests run in
/// parallel, so every run has a tag of its own.
pub fn file_prefix(suite: &str, tag: &str) -> String {
    format!("vfex-{suite}-{tag}-{}", std::process::id())
}

/// Owned copies of `args`.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// EAL options every test run uses: two lcores, no hugepages, no PCI, the
/// file prefix `prefix`.
pub fn eal_args(prefix: &str) -> Vec<String> {
    strings(&[
        "-l",
        "0,1",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--file-prefix",
        prefix,
    ])
}

/// A whole command line: `eal`, `--`, then the vfex options `vfex`.
pub fn cmdline(eal: Vec<String>, vfex: &[&str]) -> Vec<String> {
    let mut a = eal;
    a.push("--".into());
    a.extend(strings(vfex));
    a
}

/// Runs vfex with `args` (stdin empty) to the end.
pub fn run(args: &[String]) -> Output {
    Command::new(VFEX)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vfex")
}

/// Starts vfex with `args` and `stdin`; its stdout and stderr are piped.
pub fn spawn(args: &[String], stdin: Stdio) -> Child {
    Command::new(VFEX)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// (stdout, stderr) of a run, as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The EAL runtime directory of the instance with file prefix `prefix`.
pub fn runtime_dir(prefix: &str) -> PathBuf {
    Path::new("/var/run/dpdk").join(prefix)
}

/// The telemetry socket in runtime directory `dir`, created at the end of
/// EAL's start-up (the config file appears before EAL locks it).
pub fn telemetry_socket(dir: &Path) -> PathBuf {
    dir.join("dpdk_telemetry.v2")
}

/// Waits (polling every 50 ms) until `path` exists; false if it did not
/// within `limit`.
pub fn appeared(path: &Path, limit: Duration) -> bool {
    let t0 = Instant::now();
    while !path.exists() {
        if t0.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Sends `child` a signal with kill(1): `sig` is its option (`-INT`).
pub fn signal(sig: &str, child: &Child) -> ExitStatus {
    Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
}

/// Signals `child` (`sig` as kill(1) takes it: `-INT`) and waits up to
/// 5 s, polling every 10 ms, for it to exit: (kill's status, the child's
/// if it exited, the time since the signal).
pub fn signal_and_wait(sig: &str, child: &mut Child) -> (ExitStatus, Option<ExitStatus>, Duration) {
    let t0 = Instant::now();
    let killed = signal(sig, child);
    let status = exit_within(child, t0, Duration::from_secs(5), Duration::from_millis(10));
    (killed, status, t0.elapsed())
}

/// Polls `child` every `poll` until it exits; None if it is still running
/// `limit` after `t0`.
pub fn exit_within(
    child: &mut Child,
    t0: Instant,
    limit: Duration,
    poll: Duration,
) -> Option<ExitStatus> {
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if t0.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(poll);
    }
}

/// Free hugepage memory in MB (2 MB pages), 0 without hugepages.
pub fn free_hugepage_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("HugePages_Free:")
                .map(|v| v.trim().parse::<u64>().unwrap_or(0))
        })
        .unwrap_or(0)
        * 2
}

/// The files in /dev/hugepages whose names `pick` selects.
pub fn hugepage_files(pick: impl Fn(&str) -> bool) -> Vec<OsString> {
    std::fs::read_dir("/dev/hugepages")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| pick(&n.to_string_lossy()))
                .collect()
        })
        .unwrap_or_default()
}

/// An Ethernet frame: MACs, EtherType, payload; padded to 60 bytes.
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f.resize(f.len().max(60), 0);
    f
}

/// A `[ports.NAME]` table: a pcap port of kind `kind`, device
/// `net_pcapDEV`, with the further devargs `devargs`.
pub fn pcap_port_toml(name: &str, kind: &str, dev: &str, devargs: &str) -> String {
    format!("[ports.{name}]\nkind = \"{kind}\"\ndevargs = \"net_pcap{dev},{devargs}\"\n")
}

/// The devargs of a pcap port that reads `NAME-in.pcap` and writes
/// `NAME-out.pcap` in `dir`.
pub fn pcap_files(dir: &Path, name: &str) -> String {
    let p = |n: String| dir.join(n).display().to_string();
    format!(
        "rx_pcap={},tx_pcap={}",
        p(format!("{name}-in.pcap")),
        p(format!("{name}-out.pcap"))
    )
}

/// The `[ports.*]` of a port extender on pcap ports uplink, vm1, vm2
/// (devices `net_pcapTAG0..2`), reading `up-in.pcap`, `vm1-in.pcap` and
/// `vm2-in.pcap` in `dir`. They write `*-out.pcap` there, or with `replay`
/// to /dev/null while the uplink replays its file without end
/// (`infinite_rx`).
pub fn extender_ports(dir: &Path, tag: &str, replay: bool) -> String {
    [
        ("uplink", "uplink", "up"),
        ("vm1", "downlink", "vm1"),
        ("vm2", "downlink", "vm2"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, kind, file))| {
        let rx = dir.join(format!("{file}-in.pcap")).display().to_string();
        let devargs = match (replay, i) {
            (false, _) => pcap_files(dir, file),
            (true, 0) => format!("rx_pcap={rx},tx_pcap=/dev/null,infinite_rx=1"),
            (true, _) => format!("rx_pcap={rx},tx_pcap=/dev/null"),
        };
        pcap_port_toml(name, kind, &format!("{tag}{i}"), &devargs)
    })
    .collect::<Vec<_>>()
    .join("\n")
}

/// Writes what the extender's ports read: `vm1`, `vm2` and `up` (the
/// uplink) into `vm1-in.pcap`, `vm2-in.pcap` and `up-in.pcap` in `dir`.
pub fn write_extender_inputs(dir: &Path, vm1: &[Vec<u8>], vm2: &[Vec<u8>], up: &[Vec<u8>]) {
    write_pcap(&dir.join("vm1-in.pcap"), vm1);
    write_pcap(&dir.join("vm2-in.pcap"), vm2);
    write_pcap(&dir.join("up-in.pcap"), up);
}
