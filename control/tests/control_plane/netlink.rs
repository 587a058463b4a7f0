//! VF settings through netlink: golden bytes against iproute2, the
//! journal/rollback/verify logic against the recording fake, and the real
//! kernel in a private network namespace.

use vfex_control::model::*;
use vfex_control::netlink::{self, NlError, VfError, VfNetlink, VfSetting, VfState};
use vfex_control::testkit::{EINVAL, EOPNOTSUPP, FakeNetlink};

/// The RTM_NEWLINK request bytes iproute2 sent, per `ip link set dev va vf 0 ARGS`.
fn captured() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("../../testdata/ip_link_vf_strace.txt");
    let mut out = Vec::new();
    let mut args: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if let Some(a) = l.strip_prefix("### ") {
            args = Some(a.to_string());
        } else if l.starts_with("sendmsg(") && l.contains("RTM_NEWLINK") {
            let _size = lines.next();
            let mut bytes = Vec::new();
            while let Some(h) = lines.peek().filter(|h| h.starts_with(" | ")) {
                // " | 00000  50 00 ...  ascii |"
                let hex = &h[10..h.len().min(10 + 49)];
                bytes.extend(
                    hex.split_whitespace()
                        .map(|b| u8::from_str_radix(b, 16).unwrap()),
                );
                lines.next();
            }
            out.push((args.take().expect("a ### line before each capture"), bytes));
        }
    }
    out
}

#[test]
fn request_bytes_match_iproute2() {
    let cases: Vec<(&str, VfSetting)> = vec![
        (
            "mac 02:00:00:00:00:01",
            VfSetting::Mac("02:00:00:00:00:01".parse().unwrap()),
        ),
        (
            "vlan 100",
            VfSetting::Vlan {
                vlan: 100,
                qos: 0,
                proto: VlanProto::Dot1Q,
            },
        ),
        (
            "vlan 100 qos 3 proto 802.1ad",
            VfSetting::Vlan {
                vlan: 100,
                qos: 3,
                proto: VlanProto::Dot1Ad,
            },
        ),
        ("spoofchk on", VfSetting::SpoofCheck(true)),
        ("trust on", VfSetting::Trust(true)),
        (
            "min_tx_rate 100 max_tx_rate 1000",
            VfSetting::Rate {
                min: 100,
                max: 1000,
            },
        ),
        ("state disable", VfSetting::LinkState(VfLinkState::Disable)),
    ];
    let golden = captured();
    assert_eq!(golden.len(), cases.len(), "one capture per case");
    for (args, setting) in cases {
        let (_, want) = golden
            .iter()
            .find(|(a, _)| a == args)
            .unwrap_or_else(|| panic!("no capture for {args}"));
        let seq = u32::from_ne_bytes(want[8..12].try_into().unwrap());
        let ifindex = u32::from_ne_bytes(want[20..24].try_into().unwrap());
        let got = netlink::encode_set(seq, ifindex, 0, &setting);
        assert_eq!(got, *want, "ip link set dev va vf 0 {args}");
        assert_eq!(
            setting.to_string().split_whitespace().next(),
            args.split_whitespace().next()
        );
    }
}

const PF_IF: u32 = 7;

fn pf() -> PciAddr {
    "0000:3b:00.0".parse().unwrap()
}

/// Two VFs with all six settings each.
fn wanted() -> Vec<VfConfig> {
    (0..2u16)
        .map(|i| VfConfig {
            index: i,
            mac: Some(Mac([2, 0, 0, 0, 0, i as u8 + 1])),
            vlan: Some(100 + i),
            qos: Some(i as u8),
            vlan_proto: Some(if i == 0 {
                VlanProto::Dot1Q
            } else {
                VlanProto::Dot1Ad
            }),
            spoof_check: Some(false),
            trust: Some(true),
            min_rate: Some(10),
            max_rate: Some(1000),
            link_state: Some(VfLinkState::Enable),
        })
        .collect()
}

fn fake() -> FakeNetlink {
    let f = FakeNetlink::new();
    f.set_vf_count(PF_IF, 4);
    f
}

#[test]
fn applies_one_setting_per_request_then_verifies() {
    let f = fake();
    let mut nl = f.clone();
    let changes = netlink::apply_vf_settings(&mut nl, &pf(), PF_IF, &wanted()).unwrap();
    assert_eq!(changes.len(), 12);
    assert_eq!(f.requests().len(), 12, "one request per setting");
    assert_eq!(f.gets(), 2, "read before, read back after");
    let st = f.state(PF_IF);
    assert_eq!(st[1].mac, Mac([2, 0, 0, 0, 0, 2]));
    assert_eq!(
        (st[1].vlan, st[1].qos, st[1].proto),
        (101, 1, VlanProto::Dot1Ad)
    );
    assert!(!st[1].spoof_check && st[1].trust);
    assert_eq!((st[1].min_rate, st[1].max_rate), (10, 1000));
    assert_eq!(st[1].link_state, VfLinkState::Enable);
    assert_eq!(
        st[2],
        VfState {
            index: 2,
            spoof_check: true,
            ..VfState::default()
        },
        "other VFs untouched"
    );
    // Applying again changes nothing.
    let again = netlink::apply_vf_settings(&mut nl, &pf(), PF_IF, &wanted()).unwrap();
    assert!(again.is_empty());
    assert_eq!(f.requests().len(), 12);
}

/// A failure at every k-th setting: the error names the VF, the setting and
/// the kernel's answer, and the rollback restores everything, newest first.
#[test]
fn failure_at_any_setting_rolls_back_everything() {
    for k in 1..=12u32 {
        let f = fake();
        let before = f.state(PF_IF);
        f.fail_set_at(k, EOPNOTSUPP);
        let mut nl = f.clone();
        let e = netlink::apply_vf_settings(&mut nl, &pf(), PF_IF, &wanted()).unwrap_err();
        let VfError::Kernel {
            vf,
            ref setting,
            ref source,
            ref rollback,
            ..
        } = e
        else {
            panic!("k={k}: {e}")
        };
        assert_eq!(vf, if k <= 6 { 0 } else { 1 }, "k={k}");
        assert_eq!(source.errno, EOPNOTSUPP);
        assert!(rollback.is_empty(), "k={k}: {rollback:?}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("PF 0000:3b:00.0 VF {vf}: setting `{setting}` failed: the kernel said: Operation not supported (EOPNOTSUPP); every earlier change was rolled back")),
            "{msg}"
        );
        assert_eq!(f.state(PF_IF), before, "k={k}: everything restored");
        // Rollback requests are the journal reversed.
        let reqs = f.requests();
        let (done, undo) = reqs.split_at(k as usize);
        assert_eq!(
            undo.len(),
            k as usize,
            "k={k}: the failed setting is restored too"
        );
        for (i, (_, vfi, s)) in undo.iter().enumerate() {
            let (_, vfo, orig) = &done[done.len() - 1 - i];
            assert_eq!(vfi, vfo);
            assert_eq!(
                std::mem::discriminant(s),
                std::mem::discriminant(orig),
                "k={k}: newest first"
            );
        }
    }
}

#[test]
fn a_setting_the_kernel_ignores_is_caught_by_reading_back() {
    let f = fake();
    f.ignore_setting("trust");
    let mut nl = f.clone();
    let before = f.state(PF_IF);
    let e = netlink::apply_vf_settings(&mut nl, &pf(), PF_IF, &wanted()).unwrap_err();
    assert!(matches!(e, VfError::NotApplied { vf: 0, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "PF 0000:3b:00.0 VF 0: `trust on` was accepted but reads back as `trust off`; every earlier change was rolled back"
    );
    assert_eq!(f.state(PF_IF), before);
}

#[test]
fn missing_vf_and_unreadable_pf_are_clear_errors() {
    let f = FakeNetlink::new();
    f.set_vf_count(PF_IF, 1);
    let mut nl = f.clone();
    let e = netlink::apply_vf_settings(&mut nl, &pf(), PF_IF, &wanted()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PF 0000:3b:00.0 VF 1: no such VF (the PF reports 1 VFs)"
    );
    assert_eq!(
        f.state(PF_IF)[0],
        VfState {
            index: 0,
            spoof_check: true,
            ..VfState::default()
        },
        "VF 0 rolled back"
    );
    let e = netlink::apply_vf_settings(&mut nl, &pf(), 99, &wanted()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PF 0000:3b:00.0: reading the VF settings (RTM_GETLINK): No such device (ENODEV)"
    );
}

#[test]
fn reconcile_corrects_drift() {
    let f = fake();
    let mut nl = f.clone();
    netlink::apply_vf_settings(&mut nl, &pf(), PF_IF, &wanted()).unwrap();
    assert!(
        netlink::reconcile(&mut nl, &pf(), PF_IF, &wanted())
            .unwrap()
            .is_empty()
    );
    f.drift(PF_IF, 1, &VfSetting::Mac(Mac([2, 9, 9, 9, 9, 9])));
    f.drift(PF_IF, 0, &VfSetting::Rate { min: 0, max: 5 });
    let fixed = netlink::reconcile(&mut nl, &pf(), PF_IF, &wanted()).unwrap();
    assert_eq!(fixed.len(), 2);
    assert_eq!(fixed[0].old, VfSetting::Rate { min: 0, max: 5 });
    assert_eq!(fixed[1].new, VfSetting::Mac(Mac([2, 0, 0, 0, 0, 2])));
    assert_eq!(f.state(PF_IF)[1].mac, Mac([2, 0, 0, 0, 0, 2]));
}

#[test]
fn kernel_errors_read_well() {
    assert_eq!(
        NlError::errno(EOPNOTSUPP).to_string(),
        "Operation not supported (EOPNOTSUPP)"
    );
    assert_eq!(
        NlError::errno(EINVAL).to_string(),
        "Invalid argument (EINVAL)"
    );
    assert_eq!(
        NlError::errno(7).to_string(),
        "Argument list too long (errno 7)"
    );
}

/// Runs inside `unshare -n` (a private network namespace that disappears
/// with the process): a veth has no VFs, and asking it for a VF setting
/// must be a clear EOPNOTSUPP error, not a crash.
#[test]
fn real_kernel_child() {
    if std::env::var_os("VFEX_NETNS_CHILD").is_none() {
        return; // run by real_kernel_veth_in_private_namespace
    }
    let ok = std::process::Command::new("ip")
        .args([
            "link", "add", "vfexa", "type", "veth", "peer", "name", "vfexb",
        ])
        .status()
        .unwrap();
    assert!(ok.success(), "ip link add veth");
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "vfexa"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ifindex: u32 = text.split(':').next().unwrap().trim().parse().unwrap();
    let mut nl = netlink::RtNetlink::open().unwrap();
    assert_eq!(nl.get_vfs(ifindex).unwrap(), vec![], "a veth has no VFs");
    let e = nl
        .set_vf(ifindex, 0, &VfSetting::Mac(Mac([2, 0, 0, 0, 0, 1])))
        .unwrap_err();
    assert_eq!(e.errno, EOPNOTSUPP, "{e}");
    let e = netlink::apply_vf_settings(&mut nl, &pf(), ifindex, &wanted()[..1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PF 0000:3b:00.0 VF 0: no such VF (the PF reports 0 VFs)"
    );
    let e = nl.get_vfs(999_999).unwrap_err();
    assert_eq!(e.to_string(), "No such device (ENODEV)");
    println!("VFEX_NETNS_CHILD_OK");
}

#[test]
fn real_kernel_veth_in_private_namespace() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .arg("-n")
        .arg(&exe)
        .args([
            "netlink::real_kernel_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VFEX_NETNS_CHILD", "1")
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("unshare failed") {
        eprintln!("skipped: cannot create a network namespace here: {stderr}");
        return;
    }
    assert!(
        out.status.success() && stdout.contains("VFEX_NETNS_CHILD_OK"),
        "child failed:\n{stdout}\n{stderr}"
    );
}
