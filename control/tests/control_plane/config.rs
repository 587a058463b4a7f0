use vfex_control::config::{self, ConfigErrors};
use vfex_control::model::*;

use crate::examples_dir;

fn example(name: &str) -> Config {
    let path = examples_dir().join(name);
    match config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

#[test]
fn every_example_loads() {
    let mut n = 0;
    for e in std::fs::read_dir(examples_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            config::load(&p).unwrap_or_else(|e| panic!("{}:\n{e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 4, "expected an example per role, found {n}");
}

#[test]
fn saved_config_reads_back_equal() {
    for name in [
        "port-extender.toml",
        "port-extender-etag.toml",
        "vepa-station.toml",
        "controlling-bridge.toml",
    ] {
        let c = example(name);
        let text = c.to_toml();
        let back =
            config::parse("saved", &text).unwrap_or_else(|e| panic!("{name} saved:\n{text}\n{e}"));
        assert_eq!(back, c, "{name}");
    }
}

#[test]
fn profiles_are_inherited_and_overridden() {
    use vfex_control::compile::*;
    let c = example("port-extender.toml");
    let mut vfs = VfMap::new();
    for i in 0..4u16 {
        let pf: PciAddr = "0000:3b:00.0".parse().unwrap();
        vfs.insert((pf, i), format!("0000:3c:00.{i}").parse().unwrap());
    }
    let t = compile(&c, &vfs).unwrap();
    let web1 = t.veth("web1").unwrap();
    let web2 = t.veth("web2").unwrap();
    assert_eq!(web1.rules.pcp, Some(2), "from the profile");
    assert_eq!(web2.rules.pcp, Some(5), "the vEth's override wins");
    assert_eq!(web2.rules.mirror, t.port_index("mon"));
    assert_eq!(web1.rules.vlan, Some(VlanMode::Access { vlan: 10 }));
    assert_eq!(web1.rules.acl.len(), 4);
    assert_eq!(web1.tag, TagId::Vif(101));
    assert_eq!(web1.upstream_tag, [0x89, 0x26, 0, 0, 0, 101]);
    let db1 = t.veth("db1").unwrap();
    assert_eq!(
        db1.rules.anti_spoof.as_ref().unwrap().allowed_macs,
        ["02:00:00:00:02:01".parse::<Mac>().unwrap()]
    );
    assert!(db1.rules.admin_up, "default admin state is up");
    let vm1 = &t.ports[t.port_index("vm1").unwrap()];
    assert_eq!(
        vm1.devargs, "0000:3c:00.0",
        "a VF port opens the VF's PCI address"
    );
    let vm3 = &t.ports[t.port_index("vm3").unwrap()];
    assert_eq!(vm3.devargs, "0000:3b:00.0,representor=vf[2]");
    assert_eq!(
        t.eal_device_args(),
        [
            "-a",
            "0000:3b:00.0,representor=vf[2]",
            "-a",
            "0000:3b:00.1",
            "-a",
            "0000:3c:00.0",
            "-a",
            "0000:3c:00.1",
            "--vdev",
            "net_tap0,iface=vfexmon"
        ]
    );
    let list = &t.vif_lists[0];
    assert_eq!(list.members.len(), 2);
    // Without the VFs, a VF port cannot be compiled.
    let e = compile(&c, &VfMap::new()).unwrap_err();
    assert!(
        e.to_string()
            .contains("VF 0 of PF 0000:3b:00.0 does not exist"),
        "{e}"
    );
}

/// A small valid configuration; each bad case below edits one thing.
const BASE: &str = r#"role = "port-extender"
encap = "vntag"

[ports.up]
kind = "uplink"
pci = "0000:3b:00.1"

[ports.vm1]
kind = "downlink"
devargs = "net_tap1"

[ports.vm2]
kind = "downlink"
devargs = "net_tap2"

[profiles.p]
pcp = 1

[veths.a]
port = "vm1"
vif = 1
profile = "p"
"#;

fn errors(text: &str) -> ConfigErrors {
    match config::parse("t.toml", text) {
        Ok(c) => panic!("accepted a bad configuration:\n{text}\n{c:?}"),
        Err(e) => e,
    }
}

#[test]
fn base_is_valid() {
    config::parse("t.toml", BASE).unwrap();
}

/// (what, text appended to BASE or replacing a line, expected line, column, message part)
#[test]
fn bad_configs_report_position_and_expectation() {
    let base_lines = BASE.lines().count();
    let l = |n: usize| base_lines + n;
    let cases: Vec<(&str, String, usize, usize, &str)> = vec![
        ("syntax", "[veths.b\n".into(), l(1), 9, "TOML syntax"),
        ("bad name", "[veths.\"a b\"]\nport = \"vm2\"\nvif = 2\n".into(), l(1), 8, "the name \"a b\" is not usable: expected 1..=64 letters, digits"),
        ("unknown key", "[veths.b]\nport = \"vm2\"\nvif = 2\ncolor = 1\n".into(), l(4), 1, "unknown key `color` in [veths.b]; expected one of: port, vif"),
        ("unknown profile", "[veths.b]\nport = \"vm2\"\nvif = 2\nprofile = \"q\"\n".into(), l(4), 11, "unknown profile `q`; expected one of: p"),
        ("unknown port", "[veths.b]\nport = \"vm9\"\nvif = 2\n".into(), l(2), 8, "unknown port `vm9`"),
        ("uplink port", "[veths.b]\nport = \"up\"\nvif = 2\n".into(), l(2), 8, "is an uplink"),
        ("VIF range", "[veths.b]\nport = \"vm2\"\nvif = 16384\n".into(), l(3), 7, "VIF (12-bit VN-Tag source field; 0 means none) 16384 is out of range: expected 1..=4095"),
        ("VIF zero", "[veths.b]\nport = \"vm2\"\nvif = 0\n".into(), l(3), 7, "expected 1..=4095"),
        ("VIF type", "[veths.b]\nport = \"vm2\"\nvif = \"x\"\n".into(), l(3), 7, "expected an integer in 1..=4095, found the string \"x\""),
        ("missing VIF", "[veths.b]\nport = \"vm2\"\n".into(), l(1), 8, "vEth `b` is missing `vif`"),
        ("wrong id key", "[veths.b]\nport = \"vm2\"\necid = 5\n".into(), l(3), 8, "`ecid` does not apply to encap \"vntag\"; expected `vif`"),
        ("bad MAC", "[veths.b]\nport = \"vm2\"\nvif = 2\nmac = \"02:00:00:00:00\"\n".into(), l(4), 7, "is not a MAC address (expected six hex bytes"),
        ("multicast vEth MAC", "[veths.b]\nport = \"vm2\"\nvif = 2\nmac = \"03:00:00:00:00:01\"\n".into(), l(4), 7, "is not a unicast address"),
        ("VLAN range", "[veths.b]\nport = \"vm2\"\nvif = 2\nvlan = { mode = \"access\", vlan = 4095 }\n".into(), l(4), 34, "VLAN 4095 is out of range: expected 1..=4094"),
        ("VLAN mode", "[veths.b]\nport = \"vm2\"\nvif = 2\nvlan = { mode = \"hybrid\" }\n".into(), l(4), 17, "expected one of \"access\", \"trunk\""),
        ("overlapping trunk", "[veths.b]\nport = \"vm2\"\nvif = 2\nvlan = { mode = \"trunk\", allowed = [\"10-20\", 15] }\n".into(), l(4), 46, "allowed VLANs 15 overlap 10-20"),
        ("empty range", "[veths.b]\nport = \"vm2\"\nvif = 2\nvlan = { mode = \"trunk\", allowed = [\"20-10\"] }\n".into(), l(4), 37, "is empty"),
        ("native not allowed", "[veths.b]\nport = \"vm2\"\nvif = 2\nvlan = { mode = \"trunk\", allowed = [10], native = 11 }\n".into(), l(4), 51, "native VLAN 11 is not in the allowed list"),
        ("PCP range", "[profiles.q]\npcp = 8\n".into(), l(2), 7, "PCP 8 is out of range: expected 0..=7"),
        ("mirror unknown", "[profiles.q]\nmirror = \"nowhere\"\n".into(), l(2), 10, "unknown mirror port `nowhere`"),
        ("mirror own port", "[veths.b]\nport = \"vm2\"\nvif = 2\nmirror = \"vm2\"\n".into(), l(4), 10, "cannot mirror a vEth to its own port"),
        ("ACL action", "[profiles.q]\nacl = [{ action = \"allow\" }]\n".into(), l(2), 19, "`action`: expected one of \"permit\", \"deny\""),
        ("ACL ports without proto", "[profiles.q]\nacl = [{ action = \"deny\", dst_port = 80 }]\n".into(), l(2), 8, "L4 ports need proto"),
        ("ACL port range", "[profiles.q]\nacl = [{ action = \"deny\", proto = \"udp\", dst_port = \"100-70000\" }]\n".into(), l(2), 53, "L4 port: \"100-70000\" is not a number"),
        ("ACL host bits", "[profiles.q]\nacl = [{ action = \"deny\", dst_ip = \"10.1.2.3/8\" }]\n".into(), l(2), 36, "has host bits set (did you mean 10.0.0.0/8?)"),
        ("ACL v4/v6 mix", "[profiles.q]\nacl = [{ action = \"deny\", src_ip = \"10.0.0.0/8\", dst_ip = \"::1\" }]\n".into(), l(2), 8, "mix IPv4 and IPv6"),
        ("ACL ethertype vs prefix", "[profiles.q]\nacl = [{ action = \"deny\", ethertype = 0x86dd, dst_ip = \"10.0.0.0/8\" }]\n".into(), l(2), 8, "contradicts the IPv4 prefix"),
        ("ACL ethertype range", "[profiles.q]\nacl = [{ action = \"deny\", ethertype = 0x05dc }]\n".into(), l(2), 39, "EtherType 1500 is out of range"),
        ("ACL proto name", "[profiles.q]\nacl = [{ action = \"deny\", proto = \"tcpp\" }]\n".into(), l(2), 35, "`proto`: expected one of \"icmp\", \"tcp\""),
        ("policer", "[profiles.q]\npolicer = { rate_bps = 0, burst_bytes = 1000 }\n".into(), l(2), 24, "policer rate_bps 0 is out of range"),
        ("policer missing burst", "[profiles.q]\npolicer = { rate_bps = 10 }\n".into(), l(2), 11, "is missing `burst_bytes`"),
        ("anti-spoof empty", "[profiles.q]\nanti_spoof = { allowed_macs = [] }\n".into(), l(2), 14, "allows no MAC at all"),
        ("MAC limit", "[profiles.q]\nmac_limit = 0\n".into(), l(2), 13, "mac_limit 0 is out of range"),
        ("admin", "[profiles.q]\nadmin = \"sleepy\"\n".into(), l(2), 9, "expected one of \"up\", \"down\""),
        ("VIF list id range", "[vif_lists.x]\nid = 16384\nmembers = [\"a\"]\n".into(), l(2), 6, "VIF-list id (14-bit) 16384 is out of range: expected 1..=16383"),
        ("VIF list member", "[vif_lists.x]\nid = 5\nmembers = [\"a\", \"ghost\"]\n".into(), l(3), 17, "member `ghost` is not a vEth"),
        ("VIF list twice", "[vif_lists.x]\nid = 5\nmembers = [\"a\", \"a\"]\n".into(), l(3), 17, "member `a` is listed twice"),
        ("duplicate list id", "[vif_lists.x]\nid = 5\nmembers = [\"a\"]\n[vif_lists.y]\nid = 5\nmembers = [\"a\"]\n".into(), l(5), 6, "duplicate VIF-list id 5: already used by list `x` (line"),
        ("port without device", "[ports.vm3]\nkind = \"downlink\"\n".into(), l(1), 8, "[ports.vm3] needs one of `pci`, `devargs`, `vf` or `representor`"),
        ("port two devices", "[ports.vm3]\nkind = \"downlink\"\npci = \"0000:01:00.0\"\ndevargs = \"x\"\n".into(), l(4), 11, "names its device twice"),
        ("bad PCI", "[ports.vm3]\nkind = \"downlink\"\npci = \"0000:01:20.0\"\n".into(), l(3), 7, "is not a PCI address"),
        ("same device twice", "[ports.vm3]\nkind = \"downlink\"\ndevargs = \"net_tap1\"\n".into(), l(1), 8, "uses device net_tap1, already used by port `vm1`"),
        ("VF port without sriov", "[ports.vm3]\nkind = \"downlink\"\nvf = { pf = \"0000:3b:00.0\", index = 0 }\n".into(), l(3), 6, "PF 0000:3b:00.0 is not in any [[sriov]] section"),
        ("VF port beyond num_vfs", "[ports.vm3]\nkind = \"downlink\"\nvf = { pf = \"0000:3b:00.0\", index = 4 }\n[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 4\n".into(), l(3), 6, "VF 4 does not exist: PF 0000:3b:00.0 has num_vfs = 4 (expected 0..=3)"),
        ("sriov VF index", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 2\n".into(), l(5), 9, "VF index 2 is out of range: expected 0..=1"),
        ("sriov twice", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov]]\npf = \"3b:00.0\"\nnum_vfs = 2\n".into(), l(5), 6, "PF 0000:3b:00.0 has two [[sriov]] sections"),
        ("sriov VF twice", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 1\n[[sriov.vf]]\nindex = 1\n".into(), l(6), 1, "VF 1 of 0000:3b:00.0 is configured twice"),
        ("VF VLAN range", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 1\nvlan = 4095\n".into(), l(6), 8, "VF VLAN 4095 is out of range: expected 0..=4094"),
        ("VF qos without vlan", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 1\nqos = 3\n".into(), l(4), 1, "`qos` and `vlan_proto` need `vlan`"),
        ("VF rates", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 1\nmin_rate = 500\nmax_rate = 100\n".into(), l(4), 1, "min_rate 500 exceeds max_rate 100"),
        ("VF link state", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 1\nlink_state = \"up\"\n".into(), l(6), 14, "expected one of \"auto\", \"enable\", \"disable\""),
        ("VF proto", "[[sriov]]\npf = \"0000:3b:00.0\"\nnum_vfs = 2\n[[sriov.vf]]\nindex = 1\nvlan = 5\nvlan_proto = \"qinq\"\n".into(), l(7), 14, "expected one of \"802.1Q\", \"802.1ad\""),
    ];
    for (what, extra, line, col, msg) in cases {
        let text = format!("{BASE}{extra}");
        let errs = errors(&text);
        let hit = errs.0.iter().find(|e| e.msg.contains(msg));
        let Some(e) = hit else {
            panic!("{what}: no error containing {msg:?}; got:\n{errs}")
        };
        assert_eq!((e.line, e.col), (line, col), "{what}: position of {e}");
        assert_eq!(e.file, "t.toml");
        assert!(
            e.to_string().starts_with(&format!("t.toml:{line}:{col}: ")),
            "{what}: {e}"
        );
    }
}

#[test]
fn mac_table_size_is_checked_and_kept() {
    let text = std::fs::read_to_string(examples_dir().join("controlling-bridge.toml")).unwrap();
    let line = "mac_table_size = 131072";
    assert!(text.contains(line), "the example shows the key");
    let at = text.lines().position(|l| l.starts_with(line)).unwrap() + 1;
    let c = config::parse("b.toml", &text.replace(line, "mac_table_size = 262144")).unwrap();
    assert_eq!(c.mac_table_slots(), 262_144);
    assert_eq!(config::parse("saved", &c.to_toml()).unwrap(), c);
    // Not set: the default.
    let c = config::parse("b.toml", &text.replace(line, "")).unwrap();
    assert_eq!(
        (c.mac_table_size, c.mac_table_slots()),
        (None, DEFAULT_MAC_TABLE_SIZE as usize)
    );
    for (v, msg) in [
        (
            "512",
            "mac_table_size 512 is out of range: expected 1024..=16777216",
        ),
        ("16777217", "mac_table_size 16777217 is out of range"),
        (
            "\"big\"",
            "mac_table_size: expected an integer in 1024..=16777216, found the string \"big\"",
        ),
    ] {
        let e = errors(&text.replace(line, &format!("mac_table_size = {v}")));
        assert!(
            e.0.iter()
                .any(|x| x.line == at && x.col == 18 && x.msg.contains(msg)),
            "{v}: {e}"
        );
    }
    // Other roles keep it (a `set role` while stopped keeps the table the
    // process started with).
    let c = config::parse(
        "t.toml",
        &BASE.replacen(
            "encap = \"vntag\"\n",
            "encap = \"vntag\"\nmac_table_size = 4096\n",
            1,
        ),
    )
    .unwrap();
    assert_eq!(c.mac_table_slots(), 4096);
}

#[test]
fn role_and_encap_checks() {
    let e = errors(&BASE.replace("encap = \"vntag\"", "encap = \"stag\""));
    assert!(e.0.iter().any(|e| e.line == 2 && e.msg.contains("encap \"stag\" does not fit role \"port-extender\": expected \"vntag\" or \"etag\"")), "{e}");
    let e = errors(&BASE.replace("role = \"port-extender\"", "role = \"hub\""));
    assert!(
        e.0.iter().any(|e| (e.line, e.col) == (1, 8)
            && e.msg.contains(
                "expected one of \"port-extender\", \"vepa-station\", \"controlling-bridge\""
            )),
        "{e}"
    );
    let e = errors(&format!(
        "{BASE}[ports.up2]\nkind = \"uplink\"\ndevargs = \"u2\"\n"
    ));
    assert!(
        e.0.iter().any(|e| e
            .msg
            .contains("role \"port-extender\" needs exactly one uplink port; found 2: up, up2")),
        "{e}"
    );
    let e = errors("encap = \"vntag\"\n");
    assert!(
        e.0.iter()
            .any(|e| e.msg.contains("the top level is missing `role`")),
        "{e}"
    );
}

#[test]
fn duplicate_vif_on_a_port_is_refused_but_allowed_across_ports() {
    let cb = r#"role = "controlling-bridge"
encap = "vntag"
[ports.e1]
kind = "downlink"
devargs = "e1"
[ports.e2]
kind = "downlink"
devargs = "e2"
[veths.a]
port = "e1"
vif = 7
[veths.b]
port = "e2"
vif = 7
[veths.c]
port = "e1"
vif = 7
"#;
    let e = errors(cb);
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!((e.0[0].line, e.0[0].col), (17, 7));
    assert!(
        e.0[0]
            .msg
            .contains("duplicate VIF 7 on port `e1`: already used by vEth `a` (line 11)"),
        "{e}"
    );
}

#[test]
fn etag_ranges() {
    let base = BASE
        .replace("encap = \"vntag\"", "encap = \"etag\"")
        .replace("vif = 1", "ecid = 1");
    config::parse("t.toml", &base).unwrap();
    let e = errors(&format!("{base}[veths.b]\nport = \"vm2\"\necid = 0x1001\n"));
    assert!(
        e.0.iter()
            .any(|e| e.msg.contains("E-CID 0x1001 is a multicast channel")),
        "{e}"
    );
    let e = errors(&format!("{base}[veths.b]\nport = \"vm2\"\necid = 0x4000\n"));
    assert!(
        e.0.iter().any(|e| e
            .msg
            .contains("E-CID 16384 is out of range: expected 1..=4095")),
        "{e}"
    );
    let e = errors(&format!(
        "{base}[vif_lists.x]\nid = 0x0fff\nmembers = [\"a\"]\n"
    ));
    assert!(
        e.0.iter().any(|e| e
            .msg
            .contains("multicast E-CID (GRP 1..3) 4095 is out of range: expected 4096..=16383")),
        "{e}"
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = format!(
        "{BASE}[veths.b]\nport = \"vm2\"\nvif = 99999\nprofile = \"nope\"\nmac = \"zz\"\npcp = 12\n[vif_lists.x]\nid = 0\nmembers = [\"ghost\"]\n"
    );
    let e = errors(&text);
    for part in [
        "VIF",
        "unknown profile",
        "not a MAC",
        "PCP 12",
        "VIF-list id",
        "ghost",
    ] {
        assert!(
            e.0.iter().any(|x| x.msg.contains(part)),
            "missing {part:?} in:\n{e}"
        );
    }
    assert!(e.0.len() >= 6, "{e}");
    // In file order.
    let pos: Vec<(usize, usize)> = e.0.iter().map(|x| (x.line, x.col)).collect();
    let mut sorted = pos.clone();
    sorted.sort();
    assert_eq!(pos, sorted);
    assert!(
        e.to_string()
            .starts_with(&format!("{} errors in the configuration:\n", e.0.len()))
    );
}

#[test]
fn unreadable_file_is_one_clear_error() {
    let e = config::load(std::path::Path::new("/nonexistent/vfex.toml")).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert!(e.0[0].msg.starts_with("cannot read the file:"), "{e}");
}

/// The TOML blocks of the docs: the full example in docs/CONFIG.md is
/// examples/port-extender.toml, and the README's example loads.
#[test]
fn documented_examples_are_true() {
    let root = examples_dir().join("..");
    let blocks = |file: &str| -> Vec<String> {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        text.split("```toml\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap().to_string())
            .collect()
    };
    let doc = blocks("docs/CONFIG.md");
    let full =
        config::parse("docs/CONFIG.md", doc.last().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(full, example("port-extender.toml"));
    let readme = blocks("README.md");
    let cfg_blocks: Vec<&String> = readme.iter().filter(|b| b.contains("role = ")).collect();
    assert!(!cfg_blocks.is_empty(), "README shows a configuration");
    for b in cfg_blocks {
        config::parse("README.md", b).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn vf_settings_merge_veth_rules_under_explicit_ones() {
    let c = example("port-extender.toml");
    let s = vfex_control::compile::vf_settings(&c);
    let pf: PciAddr = "0000:3b:00.0".parse().unwrap();
    let vfs = &s[&pf];
    assert_eq!(vfs.iter().map(|v| v.index).collect::<Vec<_>>(), [0, 1, 2]);
    // VF 1 carries web2: its [[sriov.vf]] max_rate (2000) wins over the policer (1000).
    let v1 = &vfs[1];
    assert_eq!(v1.mac, Some("02:00:00:00:01:02".parse().unwrap()));
    assert_eq!((v1.vlan, v1.qos), (Some(10), Some(3)));
    assert_eq!(v1.spoof_check, Some(true));
    assert_eq!(
        v1.link_state,
        Some(VfLinkState::Auto),
        "admin up in the profile"
    );
    assert_eq!((v1.min_rate, v1.max_rate), (Some(100), Some(2000)));
    // VF 2 is db1's representor: only what the vEth asks (a trunk is not a VF VLAN).
    let v2 = &vfs[2];
    assert_eq!(v2.mac, Some("02:00:00:00:02:01".parse().unwrap()));
    assert_eq!(v2.vlan, None);
    assert_eq!(v2.spoof_check, Some(true));
    assert_eq!(v2.max_rate, None);
}

/// Damaged files never panic the parser: each example with thousands of
/// single-character changes either loads or gives positioned errors.
#[test]
fn damaged_files_never_panic() {
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let alphabet: Vec<char> = "\"'=[]{},.#\n 0123456789-_abcxyzé:/\\".chars().collect();
    for name in [
        "port-extender.toml",
        "port-extender-etag.toml",
        "vepa-station.toml",
        "controlling-bridge.toml",
    ] {
        let text = std::fs::read_to_string(examples_dir().join(name)).unwrap();
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..250 {
            let mut c = chars.clone();
            for _ in 0..1 + next() % 3 {
                let at = next() % c.len();
                match next() % 3 {
                    0 => c[at] = alphabet[next() % alphabet.len()],
                    1 => {
                        c.remove(at);
                    }
                    _ => c.insert(at, alphabet[next() % alphabet.len()]),
                }
            }
            let damaged: String = c.into_iter().collect();
            if let Err(e) = config::parse(name, &damaged) {
                assert!(!e.0.is_empty());
                for x in &e.0 {
                    assert!(x.line >= 1 && x.col >= 1, "{x}");
                }
            }
        }
    }
}
