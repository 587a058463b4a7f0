//! Long ACLs get DPDK's `rte_acl` as their batch classifier when the table
//! set is built while EAL runs (one per distinct ACL), short ones and sets
//! built without EAL do not; the classifier decides as the scan; a set that
//! outlives EAL is dropped without touching EAL's freed memory.

use std::sync::Arc;

use vfex_control::compile::{Compiled, VfMap, compile};
use vfex_control::publish::{Classifiers, to_tables, to_tables_reusing};
use vfex_dataplane::dpdk::Eal;
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::tables::rules::classify;
use vfex_dataplane::tables::{AclCache, CLASSIFIER_MIN_RULES, Tables};

/// A VN-Tag port extender: vEths `a` and `b` share a profile whose ACL
/// denies UDP to ports 1..=29 and permits the rest (30 rules); `c` has a
/// 2-rule ACL.
fn config() -> String {
    let mut acl = String::new();
    for p in 1..=29 {
        acl.push_str(&format!(
            "  {{ action = \"deny\", proto = \"udp\", dst_port = {p} }},\n"
        ));
    }
    acl.push_str("  { action = \"permit\" },\n");
    format!(
        r#"
role = "port-extender"
encap = "vntag"

[ports.up]
kind = "uplink"
devargs = "net_null0"

[ports.vm1]
kind = "downlink"
devargs = "net_null1"

[ports.vm2]
kind = "downlink"
devargs = "net_null2"

[ports.vm3]
kind = "downlink"
devargs = "net_null3"

[profiles.long]
acl = [
{acl}]

[veths.a]
port = "vm1"
vif = 1
profile = "long"

[veths.b]
port = "vm2"
vif = 2
profile = "long"

[veths.c]
port = "vm3"
vif = 3
acl = [{{ action = "deny", proto = "udp", dst_port = 1 }}, {{ action = "permit" }}]
"#
    )
}

fn compiled() -> Compiled {
    let cfg = vfex_control::config::parse("classifier.toml", &config()).expect("config");
    compile(&cfg, &VfMap::new()).expect("compile")
}

fn tables() -> Tables {
    to_tables(&compiled(), None).expect("tables")
}

/// The classifier's address (to tell shared ones apart), if any.
fn classifier(t: &Tables, veth: &str) -> Option<*const u8> {
    let v = t.veths().iter().find(|v| v.cfg.name == veth).expect("vEth");
    v.cfg
        .rules
        .classifier
        .get()
        .map(|c| std::ptr::from_ref(c).cast::<u8>())
}

fn udp(dport: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.resize(60, 0);
    f
}

#[test]
fn long_acls_get_one_shared_classifier_while_eal_runs() {
    const { assert!(CLASSIFIER_MIN_RULES <= 30 && CLASSIFIER_MIN_RULES > 2) };
    // No EAL yet: every miss is scanned.
    let before = tables();
    assert!(
        ["a", "b", "c"]
            .iter()
            .all(|v| classifier(&before, v).is_none())
    );

    let eal = Eal::init(&[
        "-l",
        "0",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "--file-prefix",
        "vfex-classifier",
    ])
    .expect("EAL");
    std::fs::remove_dir("/var/run/dpdk/vfex-classifier").ok();
    let t = tables();
    let (a, b) = (classifier(&t, "a"), classifier(&t, "b"));
    assert!(a.is_some(), "a 30-rule ACL has a classifier");
    assert_eq!(a, b, "one classifier for one ACL");
    assert_eq!(classifier(&t, "c"), None, "a 2-rule ACL is scanned");

    // Through the path the extender runs: a burst of 32 new flows (ports
    // 0..32: 1..=29 denied) is decided by the classifier, then looked up.
    let veth = t.veths().iter().position(|v| v.cfg.name == "a").unwrap() as u16;
    let rules = &t.veths()[usize::from(veth)].cfg.rules;
    let frames: Vec<Vec<u8>> = (0..32).map(udp).collect();
    let mut cache = AclCache::new();
    let mut probes: Vec<_> = frames
        .iter()
        .map(|f| rules.acl_probe(f, veth, &cache))
        .collect();
    rules.acl_resolve(&mut probes, &mut cache);
    for (p, (f, probe)) in frames.iter().zip(&probes).enumerate() {
        let l2 = classify(f).unwrap();
        let got = rules.ingress_cached(f, &l2, veth, &mut cache, probe.as_ref());
        let denied = (1..=29).contains(&p);
        assert_eq!(got.is_err(), denied, "port {p}: {got:?}");
        if denied {
            assert_eq!(got, Err(DropReason::AclDeny));
        }
    }

    // A publisher keeps the classifiers of the set it published last: the
    // next set builds only the ACLs that changed.
    let c = compiled();
    let mut kept = Classifiers::new();
    let t1 = to_tables_reusing(&c, None, &mut kept).expect("tables");
    let t2 = to_tables_reusing(&c, None, &mut kept).expect("tables");
    assert!(classifier(&t1, "a").is_some());
    assert_eq!(classifier(&t1, "a"), classifier(&t2, "a"), "reused");
    assert_eq!(kept.len(), 1, "one long ACL in the set");
    assert_ne!(
        classifier(&tables(), "a"),
        classifier(&t1, "a"),
        "built anew"
    );
    // A set without long ACLs keeps none.
    let mut short = c.clone();
    for v in &mut short.veths {
        v.rules.acl.truncate(2);
    }
    to_tables_reusing(&short, None, &mut kept).expect("tables");
    assert!(kept.is_empty());
    drop((t1, t2));

    // A set published later and dropped after EAL's clean-up: its
    // classifier is not freed into EAL's released memory.
    let late = Arc::new(tables());
    drop(t);
    drop(before);
    drop(eal);
    drop(late);
}
