//! Fault and bad-input cases of the `vfex` binary, run on pcap virtual
//! devices with `--stop-after-idle`: each bad frame is dropped under its
//! own named counter, the good frames around it still arrive, the run exits
//! 0 with every mbuf back, and the summary balances exactly (received =
//! sent + drops by reason). Then bad command lines, a second instance with
//! the same file prefix, a stop by SIGINT / SIGTERM and a restart after it,
//! and a restart after SIGKILL.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;
use common::pcap::{TempDir, read_pcap, write_pcap};
use common::{
    VM1, VM2, appeared, cmdline, eal_args, eth, extender_ports, free_hugepage_mb, hugepage_files,
    run, signal_and_wait, spawn, strings, telemetry_socket, text, write_extender_inputs,
};

const PEER: [u8; 6] = [2, 0, 0, 0, 9, 9];

fn prefix(tag: &str) -> String {
    common::file_prefix("faults", tag)
}

fn eal(tag: &str) -> Vec<String> {
    eal_args(&prefix(tag))
}

fn runtime_dir(tag: &str) -> std::path::PathBuf {
    common::runtime_dir(&prefix(tag))
}

/// Runs the role configured in `cfg` with `eal` until every rx port has
/// been idle 300 ms; (output, stdout, stderr).
fn run_config(eal: Vec<String>, cfg: &str) -> (Output, String, String) {
    let o = run(&cmdline(
        eal,
        &["--config", cfg, "--stop-after-idle", "300"],
    ));
    let (out, err) = text(&o);
    (o, out, err)
}

/// `frame` with `tag` inserted after its MAC addresses.
fn with_tag(frame: &[u8], tag: &[u8]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(tag);
    f.extend_from_slice(&frame[12..]);
    f
}

/// `frame` without the 6-byte tag after its MAC addresses.
fn strip_tag(frame: &[u8]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&frame[18..]);
    f
}

/// A downstream VN-Tag frame: `tci` after 0x8926, then 0x88b5.
fn vntag(dst: [u8; 6], tci: u32) -> Vec<u8> {
    let mut p = tci.to_be_bytes().to_vec();
    p.extend_from_slice(&[0x88, 0xb5, 0xde, 0xad]);
    eth(dst, PEER, 0x8926, &p)
}

/// A downstream E-Tag frame: the 6-byte E-TCI after 0x893F, then 0x88b5.
fn etag(dst: [u8; 6], grp_ecid: u16, ingress: u16, ext: [u8; 2]) -> Vec<u8> {
    let mut p = (ingress & 0x0fff).to_be_bytes().to_vec();
    p.extend_from_slice(&(grp_ecid & 0x3fff).to_be_bytes());
    p.extend_from_slice(&ext);
    p.extend_from_slice(&[0x88, 0xb5, 0xbe, 0xef]);
    eth(dst, PEER, 0x893f, &p)
}

/// What one run did, from its summary.
#[derive(Debug)]
struct Summary {
    rx: u64,
    tx: u64,
    drops: BTreeMap<String, u64>,
    out: String,
}

fn summary(out: &str) -> Summary {
    let num = |l: &str, key: &str| -> u64 {
        l.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let total = out
        .lines()
        .find(|l| l.trim_start().starts_with("total ") && l.contains("RX-packets:"))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    let drops = out
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("dropped "))
        .map(|l| {
            let mut w = l.split_whitespace();
            (
                w.next().unwrap().to_string(),
                w.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    Summary {
        rx: num(total, "RX-packets:"),
        tx: num(total, "TX-packets:"),
        drops,
        out: out.to_string(),
    }
}

/// An extender (encap `encap`, tag ids `ids` for web1/web2) on pcap ports
/// uplink, vm1, vm2. web1 is an access vEth on VLAN 10 that allows only
/// VM1's MAC; web2 has no rules. VIF list / multicast E-CID `list` holds
/// both.
fn extender(dir: &Path, tag: &str, encap: &str, key: &str, ids: [u16; 2], list: u16) -> String {
    let cfg = format!(
        r#"role = "port-extender"
encap = "{encap}"

{}
[veths.web1]
port = "vm1"
{key} = {}
mac = "02:00:00:00:01:01"
vlan = {{ mode = "access", vlan = 10 }}
anti_spoof = {{ allowed_macs = ["02:00:00:00:01:01"] }}

[veths.web2]
port = "vm2"
{key} = {}
mac = "02:00:00:00:01:02"

[vif_lists.all]
id = {list}
members = ["web1", "web2"]
"#,
        extender_ports(dir, tag, false),
        ids[0],
        ids[1],
    );
    let path = dir.join("vfex.toml");
    std::fs::write(&path, cfg).unwrap();
    path.display().to_string()
}

/// The good traffic every case carries besides its bad frames.
const GOOD_UP: usize = 3;
const GOOD_DOWN: usize = 2;

/// Runs an extender with `bad_up` frames from vm1 (upstream), `bad_vm2`
/// from vm2 and `bad_down` frames on the uplink, interleaved with good
/// frames. Checks that the bad frames are exactly the drops `want`, that
/// the good frames arrive, that received = sent + drops, and a clean exit.
fn case(
    tag: &str,
    encap: &str,
    bad_up: &[Vec<u8>],
    bad_vm2: &[Vec<u8>],
    bad_down: &[Vec<u8>],
    want: &[(&str, u64)],
) -> Summary {
    let dir = TempDir::new(&format!("faults-{tag}"));
    let (key, ids, list, down) = match encap {
        "vntag" => (
            "vif",
            [101, 102],
            4000,
            // d=1 p=0 dst=102
            vntag(VM2, 0x8066_0000),
        ),
        _ => ("ecid", [0x101, 0x102], 0x1001, etag(VM2, 0x102, 0, [0, 0])),
    };
    let cfg = extender(dir.path(), tag, encap, key, ids, list);
    let interleave = |good: Vec<u8>, n: usize, bad: &[Vec<u8>]| -> Vec<Vec<u8>> {
        let mut v = vec![good.clone()];
        for b in bad {
            v.push(b.clone());
            v.push(good.clone());
        }
        while v.len() < n + bad.len() {
            v.push(good.clone());
        }
        v
    };
    let up_good = eth(VM2, VM1, 0x88b5, b"good upstream");
    let n_up = GOOD_UP.max(bad_up.len() + 1);
    let n_down = GOOD_DOWN.max(bad_down.len() + 1);
    write_extender_inputs(
        dir.path(),
        &interleave(up_good, n_up, bad_up),
        bad_vm2,
        &interleave(down, n_down, bad_down),
    );
    let (o, out, err) = run_config(eal(tag), &cfg);
    assert!(o.status.success(), "{tag}: {o:?}\n{out}\n{err}");
    assert!(!err.contains("mbufs still in use"), "{tag}: {err}");
    assert!(!runtime_dir(tag).exists(), "{tag}: runtime dir left");
    let s = summary(&out);
    let want: BTreeMap<String, u64> = want.iter().map(|(r, n)| (r.to_string(), *n)).collect();
    assert_eq!(s.drops, want, "{tag}: drops\n{out}");
    let bad = (bad_up.len() + bad_vm2.len() + bad_down.len()) as u64;
    assert_eq!(s.rx, (n_up + n_down) as u64 + bad, "{tag}: received\n{out}");
    let dropped: u64 = s.drops.values().sum();
    assert_eq!(
        s.rx,
        s.tx + dropped,
        "{tag}: received = sent + drops\n{out}"
    );
    // The good frames all arrived.
    let up_out = read_pcap(&dir.join("up-out.pcap"));
    assert_eq!(up_out.len(), n_up, "{tag}: upstream good frames");
    let vm2_out = read_pcap(&dir.join("vm2-out.pcap"));
    assert_eq!(vm2_out.len(), n_down, "{tag}: downstream good frames");
    assert!(vm2_out.iter().all(|f| f[12..14] == [0x88, 0xb5]), "{tag}");
    s
}

#[test]
fn truncated_tags_are_counted() {
    // 0x8926 with 2 of its 4 TCI bytes; 0x893F with 4 of its 6.
    let mut vn = vntag(VM2, 0x8066_0000);
    vn.truncate(16);
    case(
        "trunc-vn",
        "vntag",
        &[],
        &[],
        &[vn],
        &[("truncated_tag", 1)],
    );
    let mut et = etag(VM2, 0x102, 0, [0, 0]);
    et.truncate(18);
    case("trunc-et", "etag", &[], &[], &[et], &[("truncated_tag", 1)]);
}

#[test]
fn vntag_version_other_than_0_is_dropped() {
    let bad: Vec<Vec<u8>> = (1..=3)
        .map(|v| vntag(VM2, 0x8066_0000 | (v << 12)))
        .collect();
    case("version", "vntag", &[], &[], &bad, &[("bad_version", 3)]);
}

#[test]
fn unknown_vif_ecid_and_lists_are_dropped() {
    case(
        "unk-vn",
        "vntag",
        &[],
        &[],
        // dst 999; list 4001 (p=1)
        &[vntag(VM2, 0x83e7_0000), vntag(VM2, 0xcfa1_0000)],
        &[("unknown_vif", 1), ("unknown_vif_list", 1)],
    );
    case(
        "unk-et",
        "etag",
        &[],
        &[],
        &[
            etag(VM2, 0x150, 0, [0, 0]),
            etag(VM2, 0x1005, 0, [0, 0]),
            etag(VM2, 0x102, 0, [0, 1]),
        ],
        &[("unknown_vif", 1), ("unknown_vif_list", 1), ("ext_ecid", 1)],
    );
}

#[test]
fn tags_from_a_vm_are_injection_attempts() {
    for tpid in [0x8926u16, 0x893f, 0x88a8, 0x9100, 0x9200] {
        for encap in ["vntag", "etag"] {
            let f = eth(VM2, VM1, tpid, &[0, 0x0a, 0, 0, 0x88, 0xb5, 0, 0]);
            // From web1 (access VLAN, anti-spoof) and from web2 (no rules).
            case(
                &format!("inj-{tpid:04x}-{encap}"),
                encap,
                std::slice::from_ref(&f),
                &[eth(VM1, VM2, tpid, &[0, 0x0a, 0, 0, 0x88, 0xb5])],
                &[],
                &[("tag_injection", 2)],
            );
        }
    }
}

#[test]
fn ctag_on_an_access_veth_is_dropped() {
    // web1 is access VLAN 10: a C-tag (its own VLAN or another) from the VM
    // is refused.
    let t10 = eth(VM2, VM1, 0x8100, &[0, 10, 0x88, 0xb5]);
    let t20 = eth(VM2, VM1, 0x8100, &[0, 20, 0x88, 0xb5]);
    case(
        "access",
        "vntag",
        &[t10, t20],
        &[],
        &[],
        &[("vlan_not_allowed", 2)],
    );
}

#[test]
fn spoofed_and_multicast_source_macs_are_dropped() {
    let spoof = eth(VM2, [2, 0, 0, 0, 6, 6], 0x88b5, b"spoof");
    let mcast = eth(VM2, [1, 0, 0x5e, 0, 0, 1], 0x88b5, b"mcast");
    case(
        "spoof",
        "vntag",
        &[spoof, mcast.clone()],
        &[eth(VM1, [3, 0, 0, 0, 0, 2], 0x88b5, b"mcast")],
        &[],
        // A group source is refused before anti-spoof looks (web1), and
        // without anti-spoof (web2).
        &[("mac_spoof", 1), ("multicast_src", 2)],
    );
}

#[test]
fn runt_and_jumbo_frames() {
    // 10 bytes: not even an Ethernet header.
    let runt = vec![0xffu8; 10];
    let s = case(
        "runt",
        "vntag",
        std::slice::from_ref(&runt),
        &[],
        std::slice::from_ref(&runt),
        &[("runt", 2)],
    );
    assert!(s.out.contains("web1"), "{}", s.out);

    // Jumbo frames, up and down, beside a short one that must be padded.
    let dir = TempDir::new("faults-jumbo");
    let cfg = extender(dir.path(), "jumbo", "vntag", "vif", [101, 102], 4000);
    let mut up = eth(VM2, VM1, 0x88b5, &[]);
    up.resize(9000, 0x5a);
    let mut down = vntag(VM2, 0x8066_0000);
    down.resize(9006, 0xa5);
    let mut short = vntag(VM2, 0x8066_0000);
    short.truncate(30);
    write_extender_inputs(dir.path(), &[up.clone()], &[], &[down.clone(), short]);
    let (o, out, err) = run_config(eal("jumbo"), &cfg);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(!err.contains("mbufs still in use"), "{err}");
    let s = summary(&out);
    assert_eq!((s.rx, s.tx), (3, 3), "{out}");
    assert!(s.drops.is_empty(), "{out}");
    // Upstream: tagged (VIF 101, d=0), every byte kept.
    let want_up = with_tag(&up, &[0x89, 0x26, 0, 0, 0, 101]);
    assert_eq!(read_pcap(&dir.join("up-out.pcap")), [want_up]);
    // Downstream: stripped; the short one padded to 60 with zeros.
    let want_down = strip_tag(&down);
    let mut want_short = down[..12].to_vec();
    want_short.extend_from_slice(&down[18..30]);
    want_short.resize(60, 0);
    assert_eq!(
        read_pcap(&dir.join("vm2-out.pcap")),
        [want_down, want_short]
    );
    assert!(!runtime_dir("jumbo").exists());
}

/// Bad command lines: exit 2, one line naming the bad token, nothing run
/// (no runtime directory).
#[test]
fn bad_cli_inputs_exit_2_and_name_the_token() {
    let dir = TempDir::new("faults-cli");
    let cfg = extender(dir.path(), "cli", "vntag", "vif", [101, 102], 4000);
    for f in ["up-in.pcap", "vm1-in.pcap", "vm2-in.pcap"] {
        write_pcap(&dir.join(f), &[]);
    }
    let missing = dir.join("missing.toml").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--config", &missing], "missing.toml"),
        (&["--config"], "--config needs a value"),
        (&["--stop-after-idle", "abc"], "\"abc\""),
        (&["--stop-after-idle", "-5"], "-5"),
        (&["--duration", "-1"], "\"-1\""),
        (&["--duration", "1e9"], "1e9"),
        (&["--stats-period", "x"], "\"x\""),
        (&["--txq", "0"], "--txq 0"),
        (&["--rxq", "65"], "--rxq 65"),
        (&["--rxd", "7"], "--rxd 7"),
        (&["--total-num-mbufs", "12"], "--total-num-mbufs 12"),
        (&["--forward-mode", "rxonly"], "rxonly"),
        (&["--config", &cfg, "--role", "hub"], "--role hub"),
        (&["--config", &cfg, "--encap", "vxlan"], "--encap vxlan"),
        (
            &["--config", &cfg, "--cmdline-file", &missing],
            "missing.toml",
        ),
        (&["--tx-first=yes"], "--tx-first takes no value"),
        (&["-x"], "\"-x\""),
        (&["stray"], "\"stray\""),
        (&["--config", &cfg, "--nb-cores", "2"], "--nb-cores 2"),
    ];
    for (i, (args, token)) in cases.iter().enumerate() {
        let tag = format!("cli{i}");
        let o = run(&cmdline(eal(&tag), args));
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}:\n{out}\n{err}");
        let msg: Vec<&str> = err.lines().filter(|l| l.starts_with("vfex:")).collect();
        assert_eq!(msg.len(), 1, "{args:?}: one vfex line:\n{err}");
        assert!(msg[0].contains(token), "{args:?}: {token:?} in {err}");
        assert!(!out.contains("Forward statistics"), "{args:?}: ran:\n{out}");
        assert!(!runtime_dir(&tag).exists(), "{args:?}: runtime dir left");
    }
}

/// A bad configuration file given with `--role` or `--encap`: the errors
/// must point at the lines of the file, as they do without the option.
///
/// (`load_config` once re-serialized the file to apply the overrides, and
/// the positions were those of the rewritten text: `12:8` came out as
/// `9:8`.)
#[test]
fn bad_config_with_role_override_reports_the_file_positions() {
    let dir = TempDir::new("faults-override");
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "# a comment\n# another\n\nrole = \"port-extender\"\nencap = \"vntag\"\n\n[ports.up]\nkind = \"uplink\"\ndevargs = \"net_null0\"\n\n[veths.a]\nport = \"nope\"\nvif = 99999\n",
    )
    .unwrap();
    let file = cfg.display().to_string();
    for extra in [
        &[][..],
        &["--role", "port-extender"][..],
        &["--encap", "vntag"][..],
    ] {
        let tag = format!("override{}", extra.len());
        let mut a = cmdline(eal(&tag), &["--config", &file]);
        a.extend(strings(extra));
        let o = run(&a);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}\n{out}\n{err}");
        assert!(err.contains(&format!("{file}:12:8: ")), "{extra:?}: {err}");
        assert!(err.contains(&format!("{file}:13:7: ")), "{extra:?}: {err}");
        assert!(!runtime_dir(&tag).exists());
    }
}

/// Waits until the instance whose runtime directory is `dir` is up: its
/// telemetry socket, created at the end of EAL's start-up (the config file
/// appears before EAL locks it).
fn wait_dir(dir: &Path) {
    assert!(
        appeared(&telemetry_socket(dir), Duration::from_secs(10)),
        "{} never appeared",
        dir.display()
    );
}

/// A second instance with a running instance's file prefix is refused
/// with a clear error, and leaves the first one (and its runtime
/// directory) alone.
#[test]
fn second_instance_with_the_same_prefix_is_refused() {
    let tag = "sameprefix";
    // io forwarding between two null ports (the run without ports that
    // prints "Forward statistics").
    let a = cmdline(
        eal(tag),
        &[
            "--forward-mode",
            "io",
            "--duration",
            "4",
            "--stats-period",
            "0",
        ],
    );
    let first = spawn(&a, Stdio::null());
    wait_dir(&runtime_dir(tag));
    let b = cmdline(eal(tag), &["--forward-mode", "io", "--duration", "1"]);
    let o = run(&b);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "--file-prefix {}: in use by process {}",
            prefix(tag),
            first.id()
        )),
        "{err}"
    );
    assert!(err.contains("choose another --file-prefix"), "{err}");
    assert!(
        runtime_dir(tag).join("config").exists(),
        "first one's files kept"
    );
    let o1 = first.wait_with_output().unwrap();
    assert!(o1.status.success(), "{:?}", text(&o1));
    assert!(text(&o1).0.contains("Forward statistics"));
    assert!(!runtime_dir(tag).exists());
}

/// SIGINT and SIGTERM stop a running role (an extender on pcap ports,
/// `--duration 0`) within a second, with its final summary, exit status 0
/// and nothing left behind; a restart with the same file prefix and the
/// same configuration then needs no clean-up and forwards every frame.
#[test]
fn sigint_and_sigterm_stop_a_role_and_a_restart_needs_no_cleanup() {
    for sig in ["INT", "TERM"] {
        let tag = format!("sig{sig}");
        let dir = TempDir::new(&format!("faults-{tag}"));
        let cfg = extender(dir.path(), &tag, "vntag", "vif", [101, 102], 4000);
        let up = eth(VM2, VM1, 0x88b5, b"before and after the signal");
        let down = vntag(VM2, 0x8066_0000);
        write_extender_inputs(
            dir.path(),
            std::slice::from_ref(&up),
            &[],
            std::slice::from_ref(&down),
        );
        let args = |extra: &[&str]| {
            let mut a = cmdline(eal(&tag), &["--config", &cfg, "--stats-period", "0"]);
            a.extend(strings(extra));
            a
        };
        let mut child = spawn(&args(&["--duration", "0"]), Stdio::null());
        wait_dir(&runtime_dir(&tag));
        std::thread::sleep(Duration::from_millis(300));
        let (killed, status, took) = signal_and_wait(&format!("-{sig}"), &mut child);
        assert!(killed.success());
        let Some(status) = status else {
            child.kill().ok();
            child.wait().ok();
            panic!("SIG{sig}: vfex did not stop within 5 s");
        };
        let o = child.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert!(status.success(), "SIG{sig}: {status:?}\n{out}\n{err}");
        assert!(
            took < Duration::from_secs(1),
            "SIG{sig}: stopped in {took:?}"
        );
        assert!(out.contains("signal received"), "SIG{sig}: {out}");
        assert!(!err.contains("mbufs still in use"), "SIG{sig}: {err}");
        let s = summary(&out);
        let dropped: u64 = s.drops.values().sum();
        assert_eq!(s.rx, s.tx + dropped, "SIG{sig}: balanced summary\n{out}");
        assert!(!runtime_dir(&tag).exists(), "SIG{sig}: runtime dir left");

        // The restart: same prefix, same file, nothing cleaned by hand.
        let o = run(&args(&["--stop-after-idle", "300"]));
        let (out, err) = text(&o);
        assert!(o.status.success(), "SIG{sig}: restart\n{out}\n{err}");
        let s = summary(&out);
        assert_eq!((s.rx, s.tx), (2, 2), "SIG{sig}: restart\n{out}");
        assert!(s.drops.is_empty(), "SIG{sig}: restart\n{out}");
        let want_up = with_tag(&up, &[0x89, 0x26, 0, 0, 0, 101]);
        assert_eq!(read_pcap(&dir.join("up-out.pcap")), [want_up]);
        assert_eq!(read_pcap(&dir.join("vm2-out.pcap")).len(), 1);
        assert!(!runtime_dir(&tag).exists(), "SIG{sig}: runtime dir left");
    }
}

/// SIGKILL leaves the runtime directory (and hugepage files, with
/// hugepages) behind; a restart with the same prefix needs no clean-up and
/// removes everything when it exits.
#[test]
fn restart_after_sigkill_needs_no_cleanup() {
    let free_mb = free_hugepage_mb();
    let mut modes = vec![("kill-nohuge", true)];
    if free_mb >= 1200 {
        modes.push(("kill-huge", false));
    } else {
        println!("hugepage variant skipped: {free_mb} MB of hugepages free");
    }
    for (tag, no_huge) in modes {
        let args = |secs: &str| {
            let a = if no_huge {
                eal(tag)
            } else {
                strings(&["-l", "0,1", "--no-pci", "--file-prefix", &prefix(tag)])
            };
            cmdline(
                a,
                &[
                    "--forward-mode",
                    "io",
                    "--duration",
                    secs,
                    "--stats-period",
                    "0",
                ],
            )
        };
        let mut victim = Command::new(common::VFEX)
            .args(args("30"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_dir(&runtime_dir(tag));
        std::thread::sleep(Duration::from_millis(500));
        victim.kill().unwrap(); // SIGKILL
        victim.wait().unwrap();
        assert!(
            runtime_dir(tag).exists(),
            "{tag}: SIGKILL leaves the directory"
        );
        let o = run(&args("1"));
        let (out, err) = text(&o);
        assert!(o.status.success(), "{tag}: restart\n{out}\n{err}");
        assert!(out.contains("Forward statistics"), "{tag}: {out}");
        assert!(!runtime_dir(tag).exists(), "{tag}: runtime dir left");
        let left = hugepage_files(|n| n.starts_with(&prefix(tag)));
        assert!(left.is_empty(), "{tag}: hugepage files left: {left:?}");
    }
}

/// `--lcores` mappings where lcore ids and CPUs differ: the control thread
/// is pinned to the main lcore's CPU, not to the CPU numbered like the
/// lcore (it used to fail with "cannot pin the control thread to core 0").
#[test]
fn lcore_mapping_runs_a_role() {
    let dir = TempDir::new("faults-lcores");
    let cfg = extender(dir.path(), "lcores", "vntag", "vif", [101, 102], 4000);
    write_extender_inputs(dir.path(), &[eth(VM2, VM1, 0x88b5, b"x")], &[], &[]);
    let a = strings(&[
        "--lcores",
        "0@1,1@0",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--file-prefix",
        &prefix("lcores"),
        "--",
        "--config",
        &cfg,
        "--stop-after-idle",
        "300",
    ]);
    let o = run(&a);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(summary(&out).tx, 1, "{out}");
    assert_eq!(read_pcap(&dir.join("up-out.pcap")).len(), 1);
    assert!(!runtime_dir("lcores").exists());
}

/// The controlling bridge's side: upstream VN-Tags it must refuse on an
/// extender-facing port, each under its own counter, while a good frame
/// in between still reaches the core port untagged.
#[test]
fn bridge_refuses_bad_upstream_tags() {
    let dir = TempDir::new("faults-bridge");
    let p = |n: &str| dir.join(n).display().to_string();
    let cfg = format!(
        r#"role = "controlling-bridge"
encap = "vntag"

[ports.ext1]
kind = "downlink"
devargs = "net_pcapbr0,rx_pcap={},tx_pcap={}"

[ports.core]
kind = "uplink"
devargs = "net_pcapbr1,rx_pcap={},tx_pcap={}"

[veths.a1]
port = "ext1"
vif = 1

[veths.a2]
port = "ext1"
vif = 2
"#,
        p("ext1-in.pcap"),
        p("ext1-out.pcap"),
        p("core-in.pcap"),
        p("core-out.pcap"),
    );
    std::fs::write(dir.join("cb.toml"), cfg).unwrap();
    // Upstream from VIF 1: d=0 p=0 dst=0 src=1.
    let up = |tci: u32| {
        let mut p = tci.to_be_bytes().to_vec();
        p.extend_from_slice(&[0x88, 0xb5, 1, 2]);
        eth([0xff; 6], VM1, 0x8926, &p)
    };
    let good = up(0x0000_0001);
    let mut short = up(1);
    short.truncate(15);
    let frames = vec![
        up(0x0000_03e7), // src VIF 999: unknown
        good.clone(),    //
        up(0x8000_0001), // d=1 arriving at the bridge
        up(0x0000_1001), // version 1
        short,           // 1 TCI byte
        eth(VM2, VM1, 0x88b5, b"untagged on an extender port"),
    ];
    write_pcap(&dir.join("ext1-in.pcap"), &frames);
    write_pcap(&dir.join("core-in.pcap"), &[]);
    let (o, out, err) = run_config(eal("bridge"), &p("cb.toml"));
    assert!(o.status.success(), "{out}\n{err}");
    assert!(!err.contains("mbufs still in use"), "{err}");
    let s = summary(&out);
    let want: BTreeMap<String, u64> = [
        ("unknown_vif", 1),
        ("wrong_direction", 1),
        ("bad_version", 1),
        ("truncated_tag", 1),
        ("bad_tpid", 1),
    ]
    .iter()
    .map(|(r, n)| (r.to_string(), *n))
    .collect();
    assert_eq!(s.drops, want, "{out}");
    assert_eq!(s.rx, frames.len() as u64, "{out}");
    // The good broadcast: untagged to the core port, and one copy back
    // down to VIF 2 (no VIF list: a unicast tag, d=1 dst=2).
    let mut untagged = strip_tag(&good);
    untagged.resize(60, 0); // padded again after the tag came off
    assert_eq!(read_pcap(&dir.join("core-out.pcap")), [untagged]);
    let down = read_pcap(&dir.join("ext1-out.pcap"));
    assert_eq!(down.len(), 1, "{out}");
    assert_eq!(down[0][12..16], [0x89, 0x26, 0x80, 0x02], "{:?}", down[0]);
    // (The copy was padded to 60 before its tag was pushed: 66 bytes.)
    assert_eq!(down[0][18..good.len()], good[18..]);
    assert!(down[0][good.len()..].iter().all(|b| *b == 0));
    assert!(!runtime_dir("bridge").exists());
}
