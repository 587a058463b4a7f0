//! End-to-end tests of the `vfex` binary: help and usage errors, a run on
//! pcap virtual devices with its output files checked, the embedded default,
//! Ctrl-C handling, and clean-up (no runtime directory, no hugepage files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::pcap::{read_pcap, tshark_fields, write_pcap};
use common::{
    VFEX, VM1, VM2, appeared, cmdline, eal_args, eth, exit_within, extender_ports,
    free_hugepage_mb, hugepage_files, run, signal_and_wait, spawn, strings, telemetry_socket, text,
    write_extender_inputs,
};

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vfex-e2e-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn prefix(tag: &str) -> String {
    common::file_prefix("e2e", tag)
}

/// EAL options every test run uses: two lcores, no hugepages, no PCI.
fn eal(tag: &str) -> Vec<String> {
    eal_args(&prefix(tag))
}

fn assert_cleaned_up(tag: &str) {
    let dir = common::runtime_dir(&prefix(tag));
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

/// The command line of a run on pcap ports with the vfex options `vfex`:
/// port `i` reads and writes the files in `dir` named by `files[i]`
/// (rx, tx).
fn pcap_args(tag: &str, dir: &Path, files: &[(String, String)], vfex: &[&str]) -> Vec<String> {
    let mut a = eal(tag);
    for (i, (rx, tx)) in files.iter().enumerate() {
        a.push("--vdev".into());
        a.push(format!(
            "net_pcap{i},rx_pcap={},tx_pcap={}",
            dir.join(rx).display(),
            dir.join(tx).display()
        ));
    }
    cmdline(a, vfex)
}

/// Runs vfex on pcap ports (see `pcap_args`) with `vfex` for one second,
/// without periodic stats; checks that it succeeded and cleaned up.
fn run_pcaps(tag: &str, dir: &Path, files: &[(String, String)], vfex: &[&str]) {
    let mut args = vfex.to_vec();
    args.extend(["--duration", "1", "--stats-period", "0"]);
    let o = run(&pcap_args(tag, dir, files, &args));
    assert!(o.status.success(), "{:?}", text(&o));
    assert_cleaned_up(tag);
}

/// The files of `n` pcap ports: (`inI.pcap`, `outI.pcap`).
fn numbered_pcaps(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("in{i}.pcap"), format!("out{i}.pcap")))
        .collect()
}

/// The command line of a run on the configuration file `cfg` with the
/// further vfex options `extra`.
fn config_args(tag: &str, cfg: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = cmdline(eal(tag), &["--config", &cfg.display().to_string()]);
    a.extend(strings(extra));
    a
}

/// Runs vfex on the configuration file `cfg` with the further vfex
/// options `extra`, then `--cmdline-file` with `script` (written to `cmds`
/// beside `cfg`); (output, stdout, stderr).
fn run_script(tag: &str, cfg: &Path, script: &str, extra: &[&str]) -> (Output, String, String) {
    let cmds = cfg.with_file_name("cmds");
    std::fs::write(&cmds, script).unwrap();
    let mut args = extra.to_vec();
    let cmds = cmds.display().to_string();
    args.extend(["--cmdline-file", &cmds]);
    run_config(tag, cfg, &args)
}

/// A port extender (`extender_config` with `extra`) whose ports read
/// nothing: (its directory, its configuration file).
fn idle_extender(tag: &str, extra: &str) -> (PathBuf, PathBuf) {
    let dir = tempdir(tag);
    write_extender_inputs(&dir, &[], &[], &[]);
    let cfg = extender_config(&dir, tag, extra);
    (dir, cfg)
}

/// Runs vfex on the configuration file `cfg` with the further vfex
/// options `extra`; (output, stdout, stderr).
fn run_config(tag: &str, cfg: &Path, extra: &[&str]) -> (Output, String, String) {
    let o = run(&config_args(tag, cfg, extra));
    let (out, err) = text(&o);
    (o, out, err)
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
    let f0: Vec<Vec<u8>> = (0..200).map(|i| frame(i, 60 + i as usize % 500)).collect();
    let f1: Vec<Vec<u8>> = (1000..1050).map(|i| frame(i, 128)).collect();
    // (pcap_pair checks the exit status, the mbufs and the clean-up.)
    let (dir, out, o0, o1) = pcap_pair(
        "pcap",
        &f0,
        &f1,
        &["--duration", "1.5", "--stats-period", "0.5"],
    );
    assert_eq!(o1, f0, "port 0 -> port 1");
    assert_eq!(o0, f1, "port 1 -> port 0");
    assert!(out.contains("Forward statistics"));
    assert!(out.contains("RX-packets: 200"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn macswap_mode_swaps_addresses_on_the_wire() {
    let f0: Vec<Vec<u8>> = (0..20).map(|i| frame(i, 64)).collect();
    // (pcap_run checks the exit status and the clean-up.)
    let (dir, got) = pcap_run("macswap", "macswap", &f0);
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
fn embedded_io_mode_forwards_prints_stats_and_cleans_up() {
    let a = cmdline(
        strings(&["--file-prefix", &prefix("default")]),
        &["--duration", "2.2", "--forward-mode", "io"],
    );
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
    let leftovers = hugepage_files(|n| n.contains(&prefix("default")));
    assert!(leftovers.is_empty(), "hugepage files left: {leftovers:?}");
}

#[test]
fn sigint_stops_within_a_second_with_a_summary() {
    for sig in ["-INT", "-TERM"] {
        let tag = format!("sig{}", &sig[1..]);
        let a = cmdline(eal(&tag), &["--duration", "0"]);
        let mut child = spawn(&a, Stdio::null());
        std::thread::sleep(Duration::from_millis(1500));
        let (_, status, took) = signal_and_wait(sig, &mut child);
        let status = status.unwrap_or_else(|| {
            child.kill().ok();
            panic!("vfex did not stop on SIG{}", &sig[1..]);
        });
        let o = child.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert!(status.success(), "{status:?} {out} {err}");
        assert!(took < Duration::from_secs(1), "stopped in {took:?}");
        assert!(out.contains("signal received"), "{out}");
        assert!(out.contains("Demo summary"), "{out}");
        assert_cleaned_up(&tag);
    }
}

/// Runs vfex with one pcap port in `mode` over `frames`; returns the frames
/// it wrote.
fn pcap_run(tag: &str, mode: &str, frames: &[Vec<u8>]) -> (PathBuf, Vec<Vec<u8>>) {
    let dir = tempdir(tag);
    write_pcap(&dir.join("in.pcap"), frames);
    run_pcaps(
        tag,
        &dir,
        &[("in.pcap".into(), "out.pcap".into())],
        &["--forward-mode", mode],
    );
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

/// Starts vfex on the embedded default with `eal_args` for `secs`, waits
/// until its telemetry socket exists, runs `probe`, then waits for vfex.
fn with_running_vfex<T>(
    tag: &str,
    eal_args: Vec<String>,
    vfex_args: &[&str],
    probe: impl FnOnce() -> T,
) -> (T, Output) {
    let child = spawn(&cmdline(eal_args, vfex_args), Stdio::null());
    let sock = telemetry_socket(&common::runtime_dir(&prefix(tag)));
    appeared(&sock, Duration::from_secs(10));
    // Let forwarding start.
    std::thread::sleep(Duration::from_millis(700));
    let r = probe();
    let o = child.wait_with_output().unwrap();
    (r, o)
}

/// The value after `"key": ` in dpdk-telemetry.py's JSON line.
fn json_u64(line: &str, key: &str) -> u64 {
    let at = line
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    line[at + key.len() + 4..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn telemetry_answers_vfex_commands() {
    let tag = "telemetry";
    let (out, o) = with_running_vfex(
        tag,
        eal(tag),
        &["--duration", "3", "--forward-mode", "io"],
        || {
            telemetry(
                &prefix(tag),
                "/vfex/info\n/vfex/stats\n/vfex/port_stats,1\n/vfex/port_stats,7\n/vfex/drops\n/vfex/mempools\n",
            )
        },
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let line = |cmd: &str, n: usize| {
        out.lines()
            .filter(|l| l.starts_with(&format!("{{\"{cmd}\"")))
            .nth(n)
            .unwrap_or_else(|| panic!("{cmd} #{n} in {out}"))
            .to_string()
    };
    let info = line("/vfex/info", 0);
    assert!(info.contains(r#""forward_mode": "io""#), "{info}");
    assert!(
        info.contains(r#""ports": ["net_null0", "net_null1"]"#),
        "{info}"
    );
    assert!(info.contains(r#""workers": [1]"#), "{info}");
    assert!(info.contains(r#""hugepages": 0"#), "{info}");
    let stats = line("/vfex/stats", 0);
    assert!(json_u64(&stats, "rx") > 0, "{stats}");
    assert_eq!(json_u64(&stats, "drops"), 0, "{stats}");
    let p1 = line("/vfex/port_stats", 0);
    assert_eq!(json_u64(&p1, "port"), 1);
    assert!(json_u64(&p1, "rx") > 0, "{p1}");
    assert!(line("/vfex/port_stats", 1).contains("give a port index 0..1"));
    let drops = line("/vfex/drops", 0);
    assert_eq!(json_u64(&drops, "tag_injection"), 0, "{drops}");
    assert_eq!(json_u64(&drops, "tx_full"), 0, "{drops}");
    // The pool: its size, and in_use + available = size (read while
    // forwarding: the mbufs the rings and bursts hold are in use).
    let pools = line("/vfex/mempools", 0);
    assert!(
        pools.contains(r#"{"/vfex/mempools": {"vfex_pkts/size": "#),
        "{pools}"
    );
    let (size, used, free) = (
        json_u64(&pools, "vfex_pkts/size"),
        json_u64(&pools, "vfex_pkts/in_use"),
        json_u64(&pools, "vfex_pkts/available"),
    );
    assert!(size > 0 && used + free == size, "{pools}");
    assert_cleaned_up(tag);
}

#[test]
fn dumpcap_captures_a_running_port_when_hugepages_are_free() {
    let free_mb = free_hugepage_mb();
    if free_mb < 600 {
        println!("skipped: capture needs hugepages ({free_mb} MB free; run scripts/setup.sh)");
        return;
    }
    let tag = "dumpcap";
    let dir = tempdir(tag);
    let file = dir.join("cap.pcapng");
    let a = strings(&["-l", "0,1", "--file-prefix", &prefix(tag)]);
    let (cap, o) = with_running_vfex(tag, a, &["--duration", "4"], || {
        Command::new("dpdk-dumpcap")
            .args([
                &format!("--file-prefix={}", prefix(tag)),
                "-i",
                "0",
                "-c",
                "16",
                "-q",
                "-w",
            ])
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .expect("dpdk-dumpcap (package dpdk)")
    });
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(cap.status.success(), "dumpcap: {:?}", text(&cap));
    let n = tshark_fields(&file, &["frame.len"]).lines().count();
    assert!(n >= 16, "captured {n} frames");
    assert_cleaned_up(tag);
    let leftovers = hugepage_files(|n| n.starts_with(&prefix(tag)));
    assert!(leftovers.is_empty(), "hugepage files left: {leftovers:?}");
    std::fs::remove_dir_all(dir).ok();
}

/// A 60-byte unicast VN-Tag frame from the bridge to `dst` on VIF `vif`
/// (d=1 p=0, dst=`vif`, src=0).
fn downstream_vntag(dst: [u8; 6], vif: u8) -> Vec<u8> {
    let mut f = eth(
        dst,
        [2, 0, 0, 0, 9, 9],
        0x8926,
        &[0x80, vif, 0, 0, 0x88, 0xb5, 1],
    );
    f.truncate(60);
    f
}

/// A VN-Tag port extender on pcap ports: uplink, vm1, vm2.
fn extender_config(dir: &Path, tag: &str, extra: &str) -> PathBuf {
    extender_file(dir, tag, false, extra)
}

/// The extender's configuration file (see `common::extender_ports` for
/// `replay`), with `extra` at its end.
fn extender_file(dir: &Path, tag: &str, replay: bool, extra: &str) -> PathBuf {
    let cfg = format!(
        r#"role = "port-extender"
encap = "vntag"

{}
[veths.web1]
port = "vm1"
vif = 101
mac = "02:00:00:00:01:01"

[veths.web2]
port = "vm2"
vif = 102
mac = "02:00:00:00:01:02"
{extra}"#,
        extender_ports(dir, tag, replay),
    );
    let path = dir.join("vfex.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

#[test]
fn config_port_extender_tags_vm_frames_and_drops_injected_tags() {
    let tag = "cfgext";
    let dir = tempdir(tag);
    let vm1 = [
        eth([0xff; 6], VM1, 0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]),
        eth(VM2, VM1, 0x88b5, b"hairpin"),
        // A VM may not choose its VIF.
        eth(VM2, VM1, 0x8926, &[0, 0, 0, 5, 8, 0]),
    ];
    // Downstream: a unicast VN-Tag d=1 dst=102 for vm2, and one with d=0.
    let down = downstream_vntag(VM2, 102);
    let mut wrong = down.clone();
    wrong[14] = 0x00;
    write_extender_inputs(&dir, &vm1, &[], &[down, wrong]);
    let cfg = extender_config(&dir, tag, "");
    let (o, out, err) = run_config(tag, &cfg, &["--stop-after-idle", "300"]);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("port-extender (vntag)"), "{out}");
    assert!(out.contains("dropped tag_injection    1"), "{out}");
    assert!(out.contains("dropped wrong_direction  1"), "{out}");
    // The uplink carries the two VM frames with VN-Tag src=101, d=0.
    let rows = tshark_rows(
        &dir.join("up-out.pcap"),
        &["vntag.dir", "vntag.src", "eth.src"],
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        assert_eq!(r[..2], ["0".to_string(), "101".to_string()], "{rows:?}");
    }
    // vm2 got the downstream frame, stripped.
    let got = read_pcap(&dir.join("vm2-out.pcap"));
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0][12..14], &[0x88, 0xb5]);
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_config_files_exit_2_with_every_error_and_its_position() {
    let tag = "cfgbad";
    let dir = tempdir(tag);
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "role = \"port-extender\"\nencap = \"vntag\"\n[ports.up]\nkind = \"uplink\"\ndevargs = \"net_null0\"\n[veths.a]\nport = \"nope\"\nvif = 99999\n",
    )
    .unwrap();
    let (o, out, err) = run_config(tag, &cfg, &[]);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    let file = cfg.display().to_string();
    assert!(err.contains(&format!("{file}:7:")), "{err}");
    assert!(err.contains(&format!("{file}:8:")), "{err}");
    assert!(!out.contains("forwarding"), "nothing ran: {out}");
    std::fs::remove_dir_all(dir).ok();
}

/// A long ACL (30 rules) gets DPDK's rte_acl for its cache misses in the
/// running product; a short one (4 rules) is scanned; `show veth` says
/// which; the ACL decides as configured either way.
#[test]
fn show_veth_says_how_acl_misses_are_decided() {
    let tag = "aclcls";
    // web2 (the last vEth of the file) takes profile `long`.
    let profile = |name: &str, denies: u16| {
        let mut p = format!("\n[profiles.{name}]\nacl = [\n");
        for port in 1..=denies {
            p.push_str(&format!(
                "  {{ action = \"deny\", proto = \"udp\", dst_port = {port} }},\n"
            ));
        }
        p + "  { action = \"permit\" },\n]\n"
    };
    let long = format!(
        "profile = \"long\"\n{}{}",
        profile("long", 29),
        profile("short", 3)
    );
    let (dir, cfg) = idle_extender(tag, &long);
    let (o, out, err) = run_script(
        tag,
        &cfg,
        "show veth\nveth set web1 profile=\"short\"\nshow veth web1\nquit\n",
        &[],
    );
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("veth web2 port 2 id 102 profile long")
            && out.contains("  acl: 30 rules, cache misses decided by rte_acl, one call per burst"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("  acl: 4 rules, cache misses scanned"),
        "{out}\n{err}"
    );
    assert!(!err.contains("no rte_acl classifier"), "{err}");
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn cmdline_file_commands_change_rules_hitlessly_and_report_bad_input() {
    let tag = "cmdfile";
    let (dir, cfg) = idle_extender(tag, "");
    let (o, out, err) = run_script(
        tag,
        &cfg,
        "show veth\nveth set web1 admin=\"down\"\nshow veth web1\nveth set web1 vif=99999\nshwo port\nshow port info all\nshow config\nprofile add web pcp=3\nveth set web2 profile=\"web\"\nshow status\nquit\n",
        &[],
    );
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("veth web1 port 1 id 101"), "{out}");
    assert!(out.contains("published generation 2"), "{out}");
    assert!(out.contains("admin_up: false"), "{out}");
    // A bad value is refused with its reason; nothing changes.
    assert!(out.contains("error:") && out.contains("99999"), "{out}");
    assert!(out.contains("unknown \"shwo\""), "{out}");
    assert!(
        out.contains("published generation 3") && out.contains("published generation 4"),
        "{out}"
    );
    assert!(out.contains("Forward statistics"), "{out}");
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

/// The `NAME sent S received R of E addressed to it  own broadcasts
/// received B` lines of the demo summary: (name, S, R, E, B).
fn demo_ends(out: &str) -> Vec<(String, u64, u64, u64, u64)> {
    out.lines()
        .filter(|l| l.contains(" sent ") && l.contains("own broadcasts"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = |k: &str| -> u64 {
                let i = w.iter().position(|x| *x == k).unwrap();
                w[i + 1].parse().unwrap()
            };
            (
                w[0].to_string(),
                n("sent"),
                n("received"),
                n("of"),
                w[w.len() - 1].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn embedded_demo_hairpins_vm_traffic_through_the_bridge() {
    for (encap, lcores) in [("vntag", "0,1"), ("etag", "0@0,1@1,2@1")] {
        let tag = format!("demo{encap}");
        let eal = strings(&[
            "--lcores",
            lcores,
            "--no-huge",
            "-m",
            "512",
            "--file-prefix",
            &prefix(&tag),
        ]);
        let o = run(&cmdline(eal, &["--duration", "2", "--encap", encap]));
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        assert!(out.contains("running the embedded demo"), "{out}");
        assert!(
            out.contains("extender veths") && out.contains("bridge veths"),
            "per-vEth stats: {out}"
        );
        let ends = demo_ends(&out);
        assert_eq!(ends.len(), 5, "{out}");
        // Frames the wires refused (tx_full: with two lcores on one CPU a
        // worker waits for its turn) are counted; every other frame
        // addressed to an end arrives (the demo drains before it stops).
        // A few extra are unknown-unicast floods before the bridge learned
        // the destination.
        let tx_full: u64 = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("dropped tx_full"))
            .map_or(0, |n| n.trim().parse().unwrap());
        let mut missing = 0;
        for (name, sent, received, expected, own) in &ends {
            assert!(*sent > 1000, "{name} sent {sent}: {out}");
            assert!(
                *received <= expected + 64 + expected / 20,
                "{name}: {received} of {expected}: {out}"
            );
            missing += expected.saturating_sub(*received);
            assert_eq!(*own, 0, "{name} got its own broadcast back: {out}");
        }
        // A frame refused on the extender-bridge wire may be a broadcast or
        // a flood, which reaches up to the 4 other ends: each counted drop
        // accounts for at most that many missing deliveries.
        let fan_out = ends.len() as u64 - 1;
        assert!(
            missing <= tx_full * fan_out,
            "{missing} deliveries missing, {tx_full} frames counted (x{fan_out}): {out}"
        );
        assert_eq!(
            out.matches("dropped ").count(),
            usize::from(tx_full > 0),
            "{out}"
        );
        let learned = out.lines().find(|l| l.contains("learned MACs")).unwrap();
        assert_eq!(learned.matches('@').count(), 5, "{learned}");
        assert!(!err.contains("mbufs still in use"), "{err}");
        assert_cleaned_up(&tag);
    }
}

/// Runs dpdk-telemetry.py with `cmds` against `prefix`; its stdout.
fn telemetry(prefix: &str, cmds: &str) -> String {
    let mut c = Command::new("dpdk-telemetry.py")
        .args(["-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpdk-telemetry.py (package dpdk, installed by scripts/setup.sh)");
    use std::io::Write as _;
    c.stdin.take().unwrap().write_all(cmds.as_bytes()).unwrap();
    String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned()
}

#[test]
fn telemetry_reports_veths_tables_and_drops_of_the_demo() {
    let tag = "teldemo";
    let (out, o) = with_running_vfex(tag, eal(tag), &["--duration", "3"], || {
        telemetry(
            &prefix(tag),
            "/vfex/veths\n/vfex/veth,bridge/vm2\n/vfex/veth,vm9\n/vfex/tables\n/vfex/drops\n/vfex/info\n/vfex/mempools\n/vfex/workers\n",
        )
    });
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        out.contains(r#"{"/vfex/veths": {"extender": ["vm1", "vm2", "vm3", "vm4"], "bridge": ["vm1", "vm2", "vm3", "vm4", "port:p1core"]}}"#),
        "{out}"
    );
    let v = out
        .lines()
        .find(|l| l.starts_with(r#"{"/vfex/veth": {"instance""#))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        v.contains(r#""instance": "bridge", "name": "vm2", "port": 0, "id": 2"#),
        "{v}"
    );
    assert!(
        json_u64(v, "rx_packets") > 0 && json_u64(v, "tx_packets") > 0,
        "{v}"
    );
    assert!(
        out.contains(r#"{"/vfex/veth": {"error": "no vEth vm9"}}"#),
        "{out}"
    );
    assert!(
        out.contains("role Extender(VnTag), 5 ports, 4 vEths")
            && out.contains("role Bridge, 2 ports, 5 vEths"),
        "{out}"
    );
    let d = out
        .lines()
        .find(|l| l.starts_with(r#"{"/vfex/drops""#))
        .unwrap();
    assert_eq!(json_u64(d, "unknown_vif"), 0, "{d}");
    assert!(
        out.contains("demo: port extender + controlling bridge (vntag)"),
        "{out}"
    );
    let pools = out
        .lines()
        .find(|l| l.starts_with(r#"{"/vfex/mempools": {"vfex_pkts/size": 32768"#))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        json_u64(pools, "vfex_pkts/in_use") + json_u64(pools, "vfex_pkts/available"),
        32768,
        "{pools}"
    );
    // Per instance and worker: its poll loops ran (the demo's two
    // instances share one worker, counted under the extender's block);
    // stalls are counted (how many depends on the machine: only that the
    // keys are there).
    let w = out
        .lines()
        .find(|l| l.starts_with(r#"{"/vfex/workers": "#))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(json_u64(w, "extender/0/loops") > 0, "{w}");
    assert_eq!(json_u64(w, "bridge/0/loops"), 0, "{w}");
    let _ = json_u64(w, "extender/0/stalls");
    let _ = json_u64(w, "extender/0/longest_stall_us");
    assert_cleaned_up(tag);
}

#[test]
fn interactive_demo_takes_commands_from_stdin_until_quit() {
    let tag = "demoshell";
    let mut c = spawn(&cmdline(eal(tag), &["-i"]), Stdio::piped());
    {
        use std::io::Write as _;
        let mut i = c.stdin.take().unwrap();
        i.write_all(b"show veth vm1 stats\nveth set vm2 admin=\"down\"\nveth set vm2 vif=70000\nshow port info 9\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        i.write_all(b"show veth vm2 stats\nquit\n").unwrap();
    }
    let o = c.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("veth vm1: from-vm"), "{out}");
    assert!(out.contains("published generation 2"), "{out}");
    assert!(out.contains("error:") && out.contains("70000"), "{out}");
    assert!(out.contains("error: no port 9"), "{out}");
    // vm2 is down: its frames are dropped and counted.
    assert!(out.contains("dropped admin_down"), "{out}");
    assert!(out.contains("Demo summary"), "{out}");
    assert_cleaned_up(tag);
}

/// Runs vfex over two pcap ports (`in0`/`in1` -> `out0`/`out1`) with
/// `vfex_args`; returns the directory, stdout and what each port sent.
fn pcap_pair(
    tag: &str,
    f0: &[Vec<u8>],
    f1: &[Vec<u8>],
    vfex_args: &[&str],
) -> (PathBuf, String, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dir = tempdir(tag);
    write_pcap(&dir.join("in0.pcap"), f0);
    write_pcap(&dir.join("in1.pcap"), f1);
    let o = run(&pcap_args(tag, &dir, &numbered_pcaps(2), vfex_args));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{vfex_args:?}: {out}\n{err}");
    assert!(!err.contains("mbufs still in use"), "{err}");
    assert_cleaned_up(tag);
    let (o0, o1) = (
        read_pcap(&dir.join("out0.pcap")),
        read_pcap(&dir.join("out1.pcap")),
    );
    (dir, out, o0, o1)
}

/// `--burst N`: the engines and the role workers receive at most N per rx
/// burst and flush at N; every frame is forwarded exactly, in order, with
/// a burst of 1 and one that does not divide the traffic (7). Bad values
/// exit 2 naming the token and the range.
#[test]
fn burst_sizes_forward_every_frame_exactly_and_bad_values_exit_2() {
    let f0: Vec<Vec<u8>> = (0..137).map(|i| frame(i, 60 + i as usize % 300)).collect();
    let f1: Vec<Vec<u8>> = (5000..5043).map(|i| frame(i, 90)).collect();
    for (burst, mode) in [("1", "io"), ("7", "io"), ("7", "macswap")] {
        let tag = format!("burst{burst}{mode}");
        let (dir, out, o0, o1) = pcap_pair(
            &tag,
            &f0,
            &f1,
            &[
                "--burst",
                burst,
                "--forward-mode",
                mode,
                "--duration",
                "1.5",
                "--stats-period",
                "0",
            ],
        );
        assert!(out.contains(&format!("burst {burst},")), "{out}");
        let swap = |v: &[Vec<u8>]| -> Vec<Vec<u8>> {
            v.iter()
                .map(|f| {
                    let mut f = f.clone();
                    if mode == "macswap" {
                        let (d, s) = f[..12].split_at_mut(6);
                        d.swap_with_slice(s);
                    }
                    f
                })
                .collect()
        };
        assert_eq!(o1, swap(&f0), "--burst {burst} {mode}: port 0 -> port 1");
        assert_eq!(o0, swap(&f1), "--burst {burst} {mode}: port 1 -> port 0");
        assert!(out.contains("RX-packets: 180"), "{out}");
        std::fs::remove_dir_all(dir).ok();
    }
    // A role worker (the port extender) with --burst 3: every VM frame
    // reaches the uplink tagged, in order.
    let tag = "burstrole";
    let dir = tempdir(tag);
    let vm: Vec<Vec<u8>> = (0..50u8).map(|i| eth(VM2, VM1, 0x88b5, &[i; 20])).collect();
    write_extender_inputs(&dir, &vm, &[], &[]);
    let cfg = extender_config(&dir, tag, "");
    let (o, out, err) = run_config(tag, &cfg, &["--burst", "3", "--stop-after-idle", "300"]);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("burst 3,"), "{out}");
    let up = read_pcap(&dir.join("up-out.pcap"));
    assert_eq!(up.len(), vm.len(), "{out}");
    for (i, f) in up.iter().enumerate() {
        assert_eq!(&f[12..14], &[0x89, 0x26], "VN-Tag on frame {i}");
        assert_eq!(f[20..40], [i as u8; 20], "frame {i} in order");
    }
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
    for bad in ["0", "33", "x"] {
        let o = Command::new(VFEX)
            .args(["--", "--burst", bad])
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "--burst {bad}: {err}");
        assert!(
            err.contains(&format!("--burst {bad}: \"{bad}\" is not a burst size"))
                && err.contains("expected 1 to 32 (32 is the compiled maximum"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Runs vfex with `args` and `-i`, writing each chunk of `script` to its
/// stdin after the pause before it; returns (status, stdout, stderr).
fn shell_run(
    args: &[String],
    script: &[(u64, &str)],
) -> (std::process::ExitStatus, String, String) {
    let mut a = args.to_vec();
    a.push("-i".into());
    let mut c = spawn(&a, Stdio::piped());
    {
        use std::io::Write as _;
        let mut i = c.stdin.take().unwrap();
        for (pause_ms, chunk) in script {
            std::thread::sleep(Duration::from_millis(*pause_ms));
            i.write_all(chunk.as_bytes()).unwrap();
        }
    }
    let t0 = Instant::now();
    let Some(status) = exit_within(
        &mut c,
        t0,
        Duration::from_secs(30),
        Duration::from_millis(20),
    ) else {
        c.kill().ok();
        panic!("vfex did not quit");
    };
    let o = c.wait_with_output().unwrap();
    let (out, err) = text(&o);
    (status, out, err)
}

/// Numbers after `key` in the lines of `out` that contain `marker`, in
/// order (e.g. the `to-vm` count of every `veth web1:` line).
fn numbers_after(out: &str, marker: &str, key: &str) -> Vec<u64> {
    out.lines()
        .filter(|l| l.contains(marker))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|x| *x == key)?;
            w.next()?.trim_end_matches(',').parse().ok()
        })
        .collect()
}

/// An extender whose uplink replays (pcap `infinite_rx`) one VN-Tag frame
/// for vm1 (dst VIF 101) without end, so traffic flows while the shell
/// works; what the ports send goes to /dev/null.
fn replaying_extender(dir: &Path, tag: &str) -> PathBuf {
    let down = downstream_vntag(VM1, 101);
    write_extender_inputs(dir, &[eth(VM2, VM1, 0x88b5, b"x")], &[], &[down]);
    extender_file(
        dir,
        tag,
        true,
        "\n[vif_lists.grp]\nid = 5000\nmembers = [\"web1\", \"web2\"]\n",
    )
}

/// Every show command, profile and vEth edits, save/load (round trip,
/// hitless), clear port stats, and set role / set encap (refused while
/// forwarding, accepted when stopped, effective after start), through
/// `-i` with traffic flowing.
#[test]
fn shell_commands_execute_with_traffic_flowing() {
    let tag = "shellall";
    let dir = tempdir(tag);
    let cfg = replaying_extender(&dir, tag);
    let saved = dir.join("saved.toml");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "role = \"port-extender\"\nencap = \"vntag\"\nbogus = 1\n",
    )
    .unwrap();
    let a = config_args(tag, &cfg, &[]);
    let script = format!(
        "help\nhelp vf\nshow port info all\nshow port stats 0\nshow port xstats 1\n\
show veth\nshow veth web1\nshow veth stats\nshow veth web1 stats\nshow mac-table\nshow vif-list\n\
show fwd stats\nshow status\nset role controlling-bridge\nset encap etag\n\
profile add web pcp=3\nprofile set web pcp=5\nveth set web2 profile=\"web\"\nprofile del web\n\
veth del web2\nveth add web2b port=\"vm2\" vif=105 profile=\"web\"\nshow veth web2b\nprofile del web\n\
veth set web2b profile=\"\"\nprofile del web\nshow status\n\
save config {saved}\nshow config\n",
        saved = saved.display()
    );
    let script2 = format!(
        "show veth web1 stats\nload config {saved}\nshow config\nload config {bad}\nshow status\n",
        saved = saved.display(),
        bad = bad.display()
    );
    let (status, out, err) = shell_run(
        &a,
        &[
            (1000, &script),
            (300, &script2),
            (
                700,
                "show veth web1 stats\nstop\nshow veth web1 stats\nclear port stats all\nshow port stats all\nclear port stats 1\nset encap stag\nset encap etag\nshow status\nstart\n",
            ),
            (
                800,
                "show fwd stats\nshow veth web1 stats\nstop\nset role controlling-bridge\nstart\n",
            ),
            (800, "show status\nshow fwd stats\nquit\n"),
        ],
    );
    assert!(status.success(), "{out}\n{err}");
    // help: every command; help vf: the vf commands only.
    for w in [
        "show port info|stats|xstats all|N",
        "clear port stats all|N",
        "vf create PF N",
        "save config FILE",
        "set role port-extender|vepa-station|controlling-bridge",
    ] {
        assert!(out.contains(w), "help: {w}: {out}");
    }
    assert_eq!(out.matches("vf set PF INDEX key=value").count(), 2, "{out}");
    assert_eq!(
        out.matches("show port info|stats|xstats").count(),
        1,
        "{out}"
    );
    // show port info/stats/xstats.
    for i in 0..3 {
        assert!(
            out.contains(&format!("port {i}: net_pcap{tag}{i} driver net_pcap mac ")),
            "{out}"
        );
    }
    let rx0 = numbers_after(&out, &format!("port 0: net_pcap{tag}0 rx"), "rx");
    assert!(rx0.first().is_some_and(|n| *n > 0), "{out}");
    assert!(out.contains(&format!("port 1: net_pcap{tag}1\n")), "{out}");
    assert!(out.contains("  rx_good_packets "), "xstats: {out}");
    // show veth, mac-table, vif-list, fwd stats, status.
    assert!(out.contains("veth web1 port 1 id 101 profile -"), "{out}");
    assert!(out.contains("veth web2 port 2 id 102 profile -"), "{out}");
    let to_vm = numbers_after(&out, "veth web1: from-vm", "to-vm");
    assert_eq!(to_vm.len(), 6, "{out}");
    assert!(to_vm[0] > 0, "{out}");
    assert!(
        out.contains("veth web2: from-vm 0 pkts 0 B, to-vm 0 pkts"),
        "{out}"
    );
    assert!(out.contains("  02:00:00:00:01:01  veth web1"), "{out}");
    assert!(
        out.contains("0 learned MACs (bridge; 131072 slots, 0 times a MAC was not learned"),
        "show mac-table: {out}"
    );
    assert!(out.contains("  grp id 5000 members web1, web2"), "{out}");
    assert!(out.contains("Forward statistics"), "{out}");
    assert!(
        out.contains("role port-extender encap vntag\ngeneration 1\nports 3, vEths 2, VIF lists 1"),
        "{out}"
    );
    // set role / set encap refused while forwarding, with the reason.
    assert_eq!(
        out.matches(
            "error: stop forwarding first (the role and encapsulation change only when stopped)"
        )
        .count(),
        2,
        "{out}"
    );
    // Profiles and vEths, each change a new generation; refusals change nothing.
    assert!(out.contains("published generation 2"), "profile add: {out}");
    assert!(out.contains("published generation 3"), "profile set: {out}");
    assert!(out.contains("published generation 4"), "veth set: {out}");
    assert!(
        out.contains("error: profile `web` is inherited by vEth `web2`"),
        "{out}"
    );
    assert!(out.contains("published generation 5"), "veth del: {out}");
    assert!(out.contains("published generation 6"), "veth add: {out}");
    assert!(
        out.contains("veth web2b port 2 id 105 profile web"),
        "{out}"
    );
    assert!(
        out.contains("error: profile `web` is inherited by vEth `web2b`"),
        "{out}"
    );
    assert!(
        out.contains("published generation 7"),
        "veth set profile=\"\": {out}"
    );
    assert!(out.contains("published generation 8"), "profile del: {out}");
    assert!(
        out.contains("generation 8\nports 3, vEths 2, VIF lists 1"),
        "{out}"
    );
    // save config then load config: the file is the running configuration
    // and loads (a new generation, the same content), hitless.
    assert!(
        out.contains(&format!("saved to {}", saved.display())),
        "{out}"
    );
    let file = std::fs::read_to_string(&saved).unwrap();
    let body = file.split_once('\n').unwrap().1;
    assert!(file.starts_with("# vfex configuration"), "{file}");
    assert!(
        out.contains(body.trim_end()),
        "show config = saved file:\n{body}\n{out}"
    );
    assert!(
        body.contains("[veths.web2b]") && body.contains("vif = 105"),
        "{body}"
    );
    assert!(!body.contains("[profiles.web]"), "{body}");
    assert!(out.contains("published generation 9"), "load config: {out}");
    assert_eq!(
        out.matches(body.trim_end()).count(),
        2,
        "show config after load config is the saved file: {out}"
    );
    assert!(
        out.contains(&format!("{}:3:", bad.display())),
        "bad file named with its line: {out}"
    );
    assert!(
        out.contains("generation 9\nports 3, vEths 2, VIF lists 1"),
        "bad file changed nothing: {out}"
    );
    // Hitless: vm1 kept receiving across the edits and the load.
    assert!(
        to_vm[1] < to_vm[2] && to_vm[2] < to_vm[3],
        "to-vm {to_vm:?}"
    );
    // clear port stats: every counter reads 0 after (while stopped).
    assert!(out.contains("forwarding stopped (start / quit)"), "{out}");
    for i in 0..3 {
        assert!(
            out.contains(&format!("port {i}: statistics cleared")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "port {i}: net_pcap{tag}{i} rx 0 tx 0 rx-missed 0 rx-errors 0 tx-errors 0 rx-nombuf 0"
            )),
            "{out}"
        );
    }
    // set encap while stopped: accepted, the vEths keep their ids as E-CIDs,
    // effective after start: the VN-Tag frames from the uplink are now
    // dropped (bad_tpid) and vm1 gets no more.
    assert!(
        out.contains("error: set encap stag: 2 errors in the configuration:\n")
            && out.contains(
                "encap \"stag\" does not fit role \"port-extender\": expected \"vntag\" or \"etag\"\n"
            )
            && out.contains("VIF lists need encap \"vntag\" or \"etag\", not \"stag\"; nothing changed"),
        "{out}"
    );
    assert!(
        out.contains("set encap etag: done, Extender(ETag) with 2 vEths"),
        "{out}"
    );
    assert!(out.contains("role port-extender encap etag"), "{out}");
    assert!(
        out.contains("forwarding started: port-extender (etag)"),
        "{out}"
    );
    let bad_tpid = numbers_after(&out, "dropped bad_tpid", "bad_tpid");
    assert!(bad_tpid.first().is_some_and(|n| *n > 0), "{out}");
    assert_eq!(
        to_vm[5], to_vm[4],
        "no frames for vm1 under etag: {to_vm:?}"
    );
    // set role: a controlling bridge after start (the uplink is an ordinary
    // bridge port: VN-Tagged frames there are tag injections).
    assert!(
        out.contains("set role controlling-bridge: done, Bridge"),
        "{out}"
    );
    assert!(
        out.contains("forwarding started: controlling-bridge (etag)"),
        "{out}"
    );
    assert!(out.contains("role controlling-bridge encap etag"), "{out}");
    let inj = numbers_after(&out, "dropped tag_injection", "tag_injection");
    assert!(inj.last().is_some_and(|n| *n > 0), "{out}");
    assert!(!err.contains("mbufs still in use"), "{err}");
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

/// The lines a `--cmdline-file` run printed for each command: (command,
/// its output lines), from the `vfex> COMMAND` echoes.
fn command_blocks(out: &str) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = Vec::new();
    for l in out.lines() {
        if let Some(c) = l.strip_prefix("vfex> ") {
            v.push((c.to_string(), Vec::new()));
        } else if let Some(last) = v.last_mut() {
            last.1.push(l.to_string());
        }
    }
    v
}

/// A table of bad shell lines: each gets one line naming the bad word and
/// what was expected; nothing is applied (the generation stays 1 and the
/// configuration is unchanged); the shell goes on to the next line.
#[test]
fn bad_shell_inputs_get_one_line_each_and_change_nothing() {
    let tag = "shellbad";
    let (dir, cfg) = idle_extender(tag, "");
    let cases: &[(&str, &str)] = &[
        (
            "shwo port",
            "error: unknown \"shwo\": expected clear, help, load,",
        ),
        (
            "show prot stats all",
            "error: show: unknown \"prot\": expected config, fwd, mac-table, port,",
        ),
        (
            "show port stats x",
            "error: show port: \"x\" is not a port: expected all or a port number",
        ),
        (
            "show port statz 0",
            "error: show port: \"statz\": expected info, stats or xstats",
        ),
        ("show port info 7", "error: no port 7 (ports 0..2)"),
        (
            "clear port stats 9",
            "error: clear port stats: no port 9 (ports 0..2)",
        ),
        (
            "clear port",
            "error: clear port: incomplete: expected stats",
        ),
        ("show veth nosuch", "error: no vEth nosuch"),
        (
            "show veth web1 statz",
            "error: show veth: unexpected \"statz\": expected stats",
        ),
        (
            "start now",
            "error: start: unexpected \"now\": this command takes no argument",
        ),
        (
            "veth add 9vm port=\"vm1\"",
            "error: veth add: \"9vm\" is not a vEth name",
        ),
        (
            "veth add web1 port=\"vm1\" vif=101",
            "error: vEth web1 exists (veth set changes it)",
        ),
        (
            "veth add web3 port=\"vm1\" vif=103",
            "port `vm1` already carries vEth `web1`",
        ),
        ("veth set web1", "error: veth set: missing key=value"),
        (
            "veth set web1 vif",
            "error: veth set: \"vif\" is not a setting: expected key=value",
        ),
        (
            "veth set web1 vif=99999",
            "VIF (12-bit VN-Tag source field; 0 means none) 99999 is out of range: expected 1..=4095",
        ),
        (
            "veth set web1 colour=\"red\"",
            "unknown key `colour` in [veths.web1]; expected one of: port,",
        ),
        ("veth set nosuch admin=\"down\"", "error: no vEth nosuch"),
        ("veth del nosuch", "error: no vEth `nosuch`"),
        (
            "profile add web pcp=9",
            "PCP 9 is out of range: expected 0..=7",
        ),
        ("profile set nosuch pcp=3", "error: no profile nosuch"),
        ("profile del nosuch", "error: no profile `nosuch`"),
        (
            "vf create 0000:03:00.0 many",
            "error: vf create: \"many\" is not a VF count: expected 0 to 65535",
        ),
        (
            "vf create nopci 2",
            "error: vf create: \"nopci\": `nopci` is not a PCI address (expected DDDD:BB:DD.F",
        ),
        ("vf create 0000:03:00.0", "error: vf create: expected PF N"),
        (
            "vf destroy 0000:03:00.0",
            "error: PF 0000:03:00.0 is not configured for SR-IOV",
        ),
        (
            "vf set 0000:03:00.0 x trust=on",
            "error: vf set: \"x\" is not a VF index",
        ),
        (
            "vf set 0000:03:00.0 0 trust=on",
            "error: no SR-IOV PF 0000:03:00.0 in the configuration (vf create first)",
        ),
        (
            "set role switch",
            "error: set role: \"switch\": expected port-extender, vepa-station or controlling-bridge",
        ),
        (
            "set encap vxlan",
            "error: set encap: \"vxlan\": expected vntag, etag, stag or none",
        ),
        ("set role vepa-station", "error: stop forwarding first"),
        (
            "load config /nonexistent/x.toml",
            "/nonexistent/x.toml:0:0: cannot read the file: No such file",
        ),
        (
            "save config /nonexistent/dir/x.toml",
            "error: cannot write /nonexistent/dir/x.toml.tmp: No such file",
        ),
        ("load config", "error: load config: missing FILE"),
        ("veth add \"vm1", "error: unterminated \" in the line"),
        (
            "help frobnicate",
            "no command starts with \"frobnicate\" (try help)",
        ),
    ];
    let mut text_in: String = cases.iter().map(|(l, _)| format!("{l}\n")).collect();
    text_in.push_str("show status\nshow config\nquit\n");
    let (o, out, err) = run_script(tag, &cfg, &text_in, &[]);
    assert!(o.status.success(), "{out}\n{err}");
    let blocks = command_blocks(&out);
    assert_eq!(blocks.len(), cases.len() + 3, "every line ran: {out}");
    for ((line, want), (ran, printed)) in cases.iter().zip(&blocks) {
        assert_eq!(ran, line);
        assert_eq!(printed.len(), 1, "{line}: one line, got {printed:?}");
        let p = &printed[0];
        assert!(p.contains(want), "{line}: {p:?} lacks {want:?}");
        if !line.starts_with("help") {
            assert!(p.starts_with("error: "), "{line}: {p}");
        }
    }
    // Nothing was applied: generation 1, the file's vEths, no SR-IOV.
    let status = &blocks[cases.len()].1.join("\n");
    assert!(
        status.contains("generation 1\nports 3, vEths 2, VIF lists 0\nSR-IOV PFs 0, VFs 0"),
        "{status}"
    );
    let config = blocks[cases.len() + 1].1.join("\n");
    let file = std::fs::read_to_string(&cfg).unwrap();
    let parse = |t: &str| t.parse::<toml::Table>().unwrap();
    assert_eq!(
        parse(&config),
        parse(&file),
        "running configuration unchanged"
    );
    assert!(!dir.join("x.toml").exists());
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

/// A kernel emulated from the test process for `vfex --sysfs-root`: a
/// sysfs tree with SR-IOV PFs, and a thread that does what the kernel does
/// when `sriov_numvfs` is written (creates or removes the `virtfnN` links
/// and the VF device directories; a "dead" kernel never creates them).
struct SysfsKernel {
    root: PathBuf,
    /// VFs created so far (every PF, every time).
    created: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SysfsKernel {
    /// PFs as (address, sriov_totalvfs, netdev ifindex).
    fn new(root: &Path, pfs: &[(&str, u16, u32)], dead: bool) -> SysfsKernel {
        for (pf, total, ifindex) in pfs {
            let d = root.join("bus/pci/devices").join(pf);
            std::fs::create_dir_all(d.join("net/vfexfake0")).unwrap();
            std::fs::write(d.join("sriov_totalvfs"), format!("{total}\n")).unwrap();
            std::fs::write(d.join("sriov_numvfs"), "0\n").unwrap();
            std::fs::write(d.join("sriov_drivers_autoprobe"), "1\n").unwrap();
            std::fs::write(d.join("net/vfexfake0/ifindex"), format!("{ifindex}\n")).unwrap();
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let created = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, s, c) = (
            root.to_path_buf(),
            std::sync::Arc::clone(&stop),
            std::sync::Arc::clone(&created),
        );
        let names: Vec<String> = pfs.iter().map(|p| p.0.to_string()).collect();
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                for pf in &names {
                    let n = Self::sync(&r, pf, dead);
                    c.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        SysfsKernel {
            root: root.to_path_buf(),
            created,
            stop,
            thread: Some(thread),
        }
    }

    /// How many VFs it created so far.
    fn created(&self) -> usize {
        self.created.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// VF `i` of `pf` lives on the next bus.
    fn vf_addr(pf: &str, i: u16) -> String {
        let bus = u8::from_str_radix(&pf[5..7], 16).unwrap() + 1;
        format!("{}:{bus:02x}:{:02x}.{}", &pf[..4], i / 8, i % 8)
    }

    /// Makes the tree match `sriov_numvfs` (as written: vfex writes without
    /// truncating, like echo into sysfs); returns how many VFs it created.
    fn sync(root: &Path, pf: &str, dead: bool) -> usize {
        let d = root.join("bus/pci/devices").join(pf);
        let Ok(t) = std::fs::read_to_string(d.join("sriov_numvfs")) else {
            return 0;
        };
        let Ok(n) = t.trim().parse::<u16>() else {
            return 0;
        };
        let have = (0..)
            .take_while(|i| d.join(format!("virtfn{i}")).exists())
            .count() as u16;
        if n == have || (dead && n > 0) {
            return 0;
        }
        for i in 0..have {
            std::fs::remove_file(d.join(format!("virtfn{i}"))).ok();
            std::fs::remove_dir_all(root.join("bus/pci/devices").join(Self::vf_addr(pf, i))).ok();
        }
        for i in 0..n {
            let vf = Self::vf_addr(pf, i);
            let vd = root.join("bus/pci/devices").join(&vf);
            std::fs::create_dir_all(&vd).unwrap();
            std::os::unix::fs::symlink(format!("../{pf}"), vd.join("physfn")).unwrap();
            std::os::unix::fs::symlink(format!("../{vf}"), d.join(format!("virtfn{i}"))).unwrap();
        }
        std::fs::write(d.join("sriov_numvfs"), format!("{n}\n")).unwrap();
        usize::from(n)
    }

    /// (sriov_numvfs, virtfn links) of `pf`, after a last sync.
    fn state(&mut self, pf: &str) -> (String, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let d = self.root.join("bus/pci/devices").join(pf);
        let links = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("virtfn"))
            .count();
        let n = std::fs::read_to_string(d.join("sriov_numvfs")).unwrap();
        (n.trim().to_string(), links)
    }
}

impl Drop for SysfsKernel {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

/// An ifindex no interface has (netlink answers "no such device").
const NO_IFINDEX: u32 = 0x7fff_fff0;

/// A `--sysfs-root` test's directory (the extender's empty inputs), its
/// configuration (with `extra`), the root of the emulated kernel's tree and
/// that kernel (PFs `pfs`, `dead` or not): (directory, configuration file,
/// root, kernel).
fn sysfs_setup(
    tag: &str,
    extra: &str,
    pfs: &[(&str, u16, u32)],
    dead: bool,
) -> (PathBuf, PathBuf, PathBuf, SysfsKernel) {
    let (dir, cfg) = idle_extender(tag, extra);
    let root = dir.join("sys");
    let kernel = SysfsKernel::new(&root, pfs, dead);
    (dir, cfg, root, kernel)
}

/// Runs the configuration `cfg` with `--sysfs-root root` and `script` as
/// its `--cmdline-file`; (output, stdout, stderr).
fn run_sysfs_script(tag: &str, cfg: &Path, root: &Path, script: &str) -> (Output, String, String) {
    run_script(
        tag,
        cfg,
        script,
        &["--sysfs-root", &root.display().to_string()],
    )
}

/// `vf create|destroy|set` through the shell, against a kernel emulated
/// from the test (`--sysfs-root`): VFs appear and go, and every refusal
/// is one line that changes nothing.
#[test]
fn vf_commands_drive_sriov_through_the_sysfs_root() {
    let tag = "vfcmds";
    let pf = "0000:3b:00.0";
    let (dir, cfg, root, mut kernel) = sysfs_setup(tag, "", &[(pf, 4, NO_IFINDEX)], false);
    let (o, out, err) = run_sysfs_script(
        tag,
        &cfg,
        &root,
        &format!(
            "vf create {pf} 2\nshow status\nshow config\n\
vf create {pf} 9\nvf create 0000:99:00.0 1\nvf set {pf} 1 trust=true\nshow status\n\
vf destroy {pf}\nshow status\nquit\n"
        ),
    );
    assert!(o.status.success(), "{out}\n{err}");
    let b = command_blocks(&out);
    let block = |i: usize| b[i].1.join("\n");
    assert!(block(0).starts_with("published generation 2"), "{out}");
    assert!(
        block(1).contains("generation 2\n") && block(1).contains("SR-IOV PFs 1, VFs 2"),
        "{out}"
    );
    assert!(
        block(2).contains(&format!("[[sriov]]\npf = \"{pf}\"\nnum_vfs = 2")),
        "{out}"
    );
    assert_eq!(
        b[3].1,
        [format!(
            "error: {pf}: cannot enable 9 VFs: the PF supports at most 4 (sriov_totalvfs)"
        )],
        "{out}"
    );
    assert_eq!(
        b[4].1,
        [
            "error: 0000:99:00.0: not an SR-IOV physical function (no sriov_totalvfs); check the PCI address"
        ],
        "{out}"
    );
    // vf set: netlink is real, and no interface has the PF's ifindex.
    assert_eq!(b[5].1.len(), 1, "{out}");
    assert!(
        b[5].1[0].starts_with(&format!(
            "error: PF {pf}: reading the VF settings (RTM_GETLINK): No such device (ENODEV)"
        )),
        "{out}"
    );
    assert!(
        block(6).contains("generation 2\n") && block(6).contains("SR-IOV PFs 1, VFs 2"),
        "nothing changed: {out}"
    );
    assert!(block(7).starts_with("published generation 3"), "{out}");
    assert!(block(8).contains("SR-IOV PFs 1, VFs 0"), "{out}");
    assert_eq!(kernel.state(pf), ("0".to_string(), 0), "VFs destroyed");
    assert_eq!(kernel.created(), 2);
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

/// A kernel that never creates the VFs: `vf create` times out with one
/// line, and the VF count written is undone.
#[test]
fn vf_create_times_out_when_the_kernel_never_creates_the_vfs() {
    let tag = "vfdead";
    let pf = "0000:5e:00.0";
    let (dir, cfg, root, mut kernel) = sysfs_setup(tag, "", &[(pf, 8, NO_IFINDEX)], true);
    let (o, out, err) = run_sysfs_script(
        tag,
        &cfg,
        &root,
        &format!("vf create {pf} 3\nshow status\nquit\n"),
    );
    assert!(o.status.success(), "{out}\n{err}");
    let b = command_blocks(&out);
    assert_eq!(
        b[0].1,
        [format!(
            "error: {pf}: virtfn0 did not appear within 10s after enabling 3 VFs"
        )],
        "{out}"
    );
    let status = b[1].1.join("\n");
    assert!(
        status.contains("generation 1\n") && status.contains("SR-IOV PFs 0, VFs 0"),
        "{out}"
    );
    assert_eq!(kernel.state(pf), ("0".to_string(), 0), "count undone");
    assert_eq!(kernel.created(), 0);
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

/// `--config` with `[[sriov]]` that the kernel refuses part of: exit 2 with
/// the reason, and the PF that was already changed is rolled back.
#[test]
fn config_sriov_failure_exits_2_and_rolls_back() {
    let tag = "vfcfg";
    let (good, small) = ("0000:3b:00.0", "0000:3b:00.1");
    let (dir, cfg, root, mut kernel) = sysfs_setup(
        tag,
        &format!(
            "\n[[sriov]]\npf = \"{good}\"\nnum_vfs = 2\n\n[[sriov]]\npf = \"{small}\"\nnum_vfs = 2\n"
        ),
        &[(good, 4, NO_IFINDEX), (small, 1, NO_IFINDEX)],
        false,
    );
    let (o, out, err) = run_config(
        tag,
        &cfg,
        &[
            "--sysfs-root",
            &root.display().to_string(),
            "--duration",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "applying the initial configuration: {small}: cannot enable 2 VFs: the PF supports at most 1 (sriov_totalvfs)"
        )),
        "{err}"
    );
    assert!(!out.contains("forwarding"), "nothing ran: {out}");
    // The first PF got its VFs, then the failure undid them.
    assert_eq!(kernel.state(good), ("0".to_string(), 0), "rolled back");
    assert_eq!(
        kernel.created(),
        2,
        "the first PF's VFs were created before the failure"
    );
    assert_eq!(kernel.state(small), ("0".to_string(), 0), "untouched");
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}

/// EAL arguments with two worker lcores on the machine's two CPUs.
fn eal3(tag: &str) -> Vec<String> {
    let mut a = eal(tag);
    a[0] = "--lcores".into();
    a[1] = "0@0,1@1,2@1".into();
    a.extend(["--vdev", "net_null0", "--vdev", "net_null1", "--"].map(String::from));
    a
}

/// --nb-cores, --rxq, --txq, --duration, --stats-period and
/// --total-num-mbufs change what runs (diagnostic mode on net_null).
#[test]
fn core_queue_time_and_pool_options_shape_the_run() {
    let go = |tag: &str, args: &[&str]| -> (Option<i32>, String, String, Duration) {
        let mut a = eal3(tag);
        a.extend(args.iter().map(|s| s.to_string()));
        let t0 = Instant::now();
        let o = run(&a);
        let took = t0.elapsed();
        let (out, err) = text(&o);
        assert_cleaned_up(tag);
        (o.status.code(), out, err, took)
    };
    let (rc, out, err, _) = go("optdef", &["--duration", "0.5", "--stats-period", "0"]);
    assert_eq!(rc, Some(0), "{out}\n{err}");
    assert!(
        out.contains("io forwarding on 2 core(s) (lcores 1,2), 2 stream(s)"),
        "{out}"
    );
    assert!(out.contains("rxq 1 txq 2"), "{out}");
    assert!(
        !out.contains("] total"),
        "--stats-period 0: summary only: {out}"
    );
    let (rc, out, err, _) = go("optcores", &["--nb-cores", "1", "--duration", "0.5"]);
    assert_eq!(rc, Some(0), "{out}\n{err}");
    assert!(
        out.contains("io forwarding on 1 core(s) (lcores 1), 2 stream(s)"),
        "{out}"
    );
    assert!(out.contains("rxq 1 txq 1"), "{out}");
    let (rc, out, err, _) = go("optq", &["--rxq", "2", "--txq", "3", "--duration", "0.5"]);
    assert_eq!(rc, Some(0), "{out}\n{err}");
    assert!(
        out.contains("on 2 core(s) (lcores 1,2), 4 stream(s)"),
        "{out}"
    );
    assert_eq!(out.matches("rxq 2 txq 3").count(), 2, "{out}");
    assert!(out.contains("RX-packets:"), "{out}");
    // --duration and --stats-period: periods every 0.25 s, stop after 1 s.
    let (rc, out, err, took) = go("opttime", &["--duration", "1", "--stats-period", "0.25"]);
    assert_eq!(rc, Some(0), "{out}\n{err}");
    let periods = out.lines().filter(|l| l.contains("] total")).count();
    assert!((3..=4).contains(&periods), "{periods} periods: {out}");
    assert!(out.contains("Forward statistics (1.0"), "{out}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    // Refusals: exit 2 (usage) or 1 (runtime), one line naming the option.
    for (tag, args, code, want) in [
        (
            "optbadcores",
            vec!["--nb-cores", "3"],
            2,
            "--nb-cores 3: only 2 worker lcores are enabled",
        ),
        (
            "optbadtxq",
            vec!["--txq", "1"],
            2,
            "--txq 1: each of the 2 forwarding cores needs its own tx queue",
        ),
        (
            "optbadpool",
            vec!["--total-num-mbufs", "16777216"],
            1,
            "creating a pool of 16777216 mbufs (try fewer with --total-num-mbufs",
        ),
    ] {
        let (rc, out, err, _) = go(tag, &args);
        assert_eq!(rc, Some(code), "{args:?}: {out}\n{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// --port-topology loop and chained (loop with --rxd/--txd 64: accepted and used, though
/// no virtual device shows its ring sizes), --tx-first with --txpkts and
/// --burst, on pcap ports; --version.
#[test]
fn topology_and_tx_first_options_change_the_traffic() {
    let f0: Vec<Vec<u8>> = (0..40).map(|i| frame(i, 64)).collect();
    let f1: Vec<Vec<u8>> = (100..130).map(|i| frame(i, 200)).collect();
    let (dir, _, o0, o1) = pcap_pair(
        "optloop",
        &f0,
        &f1,
        &[
            "--port-topology",
            "loop",
            "--rxd",
            "64",
            "--txd",
            "64",
            "--duration",
            "1",
            "--stats-period",
            "0",
        ],
    );
    assert_eq!(o0, f0, "loop: port 0 back out of port 0");
    assert_eq!(o1, f1, "loop: port 1 back out of port 1");
    std::fs::remove_dir_all(dir).ok();
    // chained over three ports: 0 -> 1 -> 2 -> 0.
    let tag = "optchain";
    let dir = tempdir(tag);
    let ins: Vec<Vec<Vec<u8>>> = (0..3u32)
        .map(|p| (0..10).map(|i| frame(p * 100 + i, 64)).collect())
        .collect();
    let files = numbered_pcaps(3);
    for ((rx, _), f) in files.iter().zip(&ins) {
        write_pcap(&dir.join(rx), f);
    }
    // (run_pcaps checks the exit status and the clean-up.)
    run_pcaps(tag, &dir, &files, &["--port-topology", "chained"]);
    for (i, sent) in ins.iter().enumerate() {
        assert_eq!(
            &read_pcap(&dir.join(format!("out{}.pcap", (i + 1) % 3))),
            sent,
            "chained: port {i} -> port {}",
            (i + 1) % 3
        );
    }
    std::fs::remove_dir_all(dir).ok();
    let (dir, out, o0, o1) = pcap_pair(
        "opttxfirst",
        &[],
        &[],
        &[
            "--tx-first",
            "--txpkts",
            "128",
            "--burst",
            "4",
            "--duration",
            "1",
            "--stats-period",
            "0",
        ],
    );
    assert!(
        out.contains("tx-first: port 0 sent 4 frames")
            && out.contains("tx-first: port 1 sent 4 frames"),
        "{out}"
    );
    for (p, o) in [(0, &o0), (1, &o1)] {
        assert_eq!(o.len(), 4, "port {p}: one burst of --burst frames");
        for f in o {
            assert_eq!(f.len(), 128, "--txpkts");
            assert_eq!(&f[12..14], &[0x08, 0x00]);
        }
    }
    std::fs::remove_dir_all(dir).ok();
    let o = Command::new(VFEX).arg("--version").output().unwrap();
    assert!(o.status.success());
    assert_eq!(text(&o).0, format!("vfex {}\n", env!("CARGO_PKG_VERSION")));
}

/// --role and --encap override the file's, through the same validation.
#[test]
fn role_and_encap_options_override_the_configuration_file() {
    let tag = "optrole";
    let (dir, cfg) = idle_extender(tag, "");
    let (o, out, err) = run_config(
        tag,
        &cfg,
        &["--role", "controlling-bridge", "--stop-after-idle", "200"],
    );
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("controlling-bridge (vntag) on 1 core(s)"),
        "{out}"
    );
    assert!(out.contains("every rx port idle"), "{out}");
    assert_cleaned_up(tag);
    // E-Tag keys vEths by ecid: the file's vif keys are refused, with
    // their position, before EAL starts.
    let (o, out, err) = run_config(tag, &cfg, &["--encap", "etag"]);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("vEth `web1`: `vif` does not apply to encap \"etag\"; expected `ecid`"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The embedded demo's role workers take --burst too: with bursts of 5
/// every end still receives what is addressed to it.
#[test]
fn embedded_demo_runs_with_a_small_burst() {
    let tag = "demoburst";
    let o = run(&cmdline(eal(tag), &["--duration", "1.5", "--burst", "5"]));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let ends = demo_ends(&out);
    assert_eq!(ends.len(), 5, "{out}");
    for (name, sent, received, expected, own) in &ends {
        assert!(*sent > 100 && *received > 0, "{name}: {out}");
        assert!(*received <= expected + 64 + expected / 20, "{name}: {out}");
        assert_eq!(*own, 0, "{name}: {out}");
    }
    assert!(!err.contains("mbufs still in use"), "{err}");
    assert_cleaned_up(tag);
}

/// A --cmdline-file may stop forwarding, change the role and start again:
/// the lines after `stop` run while stopped, the role runs after `start`,
/// and the run ends by itself (--stop-after-idle).
#[test]
fn cmdline_file_stops_changes_the_role_and_starts_again() {
    let tag = "cmdrole";
    let (dir, cfg) = idle_extender(tag, "");
    let (o, out, err) = run_script(
        tag,
        &cfg,
        "set role controlling-bridge\nstop\nstop\nset role controlling-bridge\nshow status\nstart\nstart\nshow status\n",
        &["--stop-after-idle", "300"],
    );
    assert!(o.status.success(), "{out}\n{err}");
    let b = command_blocks(&out);
    assert_eq!(b.len(), 8, "every line ran: {out}");
    assert!(
        b[0].1[0].starts_with("error: stop forwarding first"),
        "{out}"
    );
    assert_eq!(b[1].1, ["forwarding stopped (start / quit)"], "{out}");
    assert_eq!(b[2].1, ["already stopped"], "{out}");
    assert!(
        b[3].1[0].starts_with("set role controlling-bridge: done, Bridge"),
        "{out}"
    );
    assert!(
        b[4].1
            .join("\n")
            .contains("role controlling-bridge encap vntag\ngeneration 1\n"),
        "the configuration and tables the next start runs: {out}"
    );
    assert_eq!(
        b[5].1,
        ["forwarding started: controlling-bridge (vntag), tables generation 1"],
        "{out}"
    );
    assert_eq!(b[6].1, ["already forwarding"], "{out}");
    assert!(
        b[7].1
            .join("\n")
            .contains("role controlling-bridge encap vntag"),
        "{out}"
    );
    assert!(out.contains("every rx port idle"), "{out}");
    assert_cleaned_up(tag);
    std::fs::remove_dir_all(dir).ok();
}
