//! `rte_acl` over vfex's compiled ACLs (`dpdk::Acl`) decides exactly as
//! vfex's own first-match scan, with every classify method this CPU has:
//! random rule lists (MACs with masks, EtherType, VLAN ranges, IPv4 and
//! IPv6 prefixes, protocols, port ranges) against random frames; and as
//! a vEth's classifier, on the path the extender runs (probe, resolve the
//! burst's misses in one call, look up).

mod common;
#[path = "../benches/common/roles_setup.rs"]
mod setup;

use common::*;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use vfex_dataplane::dpdk::{Acl, AclAlg, AclTuple, Error};
use vfex_dataplane::tables::rules::{acl_key, classify};
use vfex_dataplane::tables::{AclCache, AclRule, Action, Classifier, CompiledRule, VethRules};

/// The methods to compare on this CPU.
fn algs() -> Vec<AclAlg> {
    let mut v = vec![AclAlg::Default, AclAlg::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.1") {
            v.push(AclAlg::Sse);
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            v.push(AclAlg::Avx2);
        }
    }
    v
}

/// A frame: `kind` 0 = IPv4, 1 = IPv6, 2 = ARP; protocol, ports, a
/// later fragment (IPv4), addresses ending in `a`, `b`, MACs ending in
/// `m`, `n`.
#[allow(clippy::too_many_arguments)]
fn frame(
    kind: u8,
    proto: u8,
    sport: u16,
    dport: u16,
    frag: bool,
    a: u8,
    b: u8,
    m: u8,
    n: u8,
) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, m, 2, 0, 0, 0, 0, n];
    match kind {
        0 => {
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 46, 0, 0]);
            f.extend_from_slice(&[if frag { 0x20 } else { 0 }, if frag { 1 } else { 0 }]);
            f.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, a, 10, 0, 0, b]);
        }
        1 => {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, proto, 64]);
            f.extend_from_slice(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a.into()).octets());
            f.extend_from_slice(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, b.into()).octets());
        }
        _ => f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]),
    }
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.resize(f.len().max(60), 0);
    f
}

fn arb_rule() -> impl Strategy<Value = AclRule> {
    let small = 0u8..4;
    (
        any::<bool>(),
        any::<u16>(),
        (small.clone(), small.clone(), 0u16..4, 0u16..3),
        (small.clone(), 0u8..=32, 0u8..=128, any::<bool>()),
        (0u16..6, 0u16..3, 0u16..6, 0u16..3),
        (0usize..4, 0u8..4),
    )
        .prop_map(
            |(deny, which, (m, n, v, vw), (a, plen, plen6, v6), (sp, sw, dp, dw), (pi, mmask))| {
                let on = |bit: u16| which & (1 << bit) != 0;
                let ip = |x: u8| {
                    if v6 {
                        (
                            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, x.into())),
                            plen6,
                        )
                    } else {
                        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, x)), plen)
                    }
                };
                AclRule {
                    action: if deny { Action::Deny } else { Action::Permit },
                    src_mac: on(0).then_some((
                        [2, 0, 0, 0, 0, n],
                        [0xff, 0xff, 0xff, 0xff, 0xff, 0xfc | mmask],
                    )),
                    dst_mac: on(1).then_some(([2, 0, 0, 0, 0, m], [0xff; 6])),
                    ethertype: on(2).then_some([0x0800, 0x86dd, 0x0806][usize::from(m % 3)]),
                    vlan: on(3).then_some((v, v + vw)),
                    src_ip: on(4).then_some(ip(a)),
                    dst_ip: on(5).then_some(ip(n)),
                    protocol: on(6).then_some([17, 6, 1, 132][pi]),
                    src_port: on(7).then_some((sp, sp + sw)),
                    dst_port: on(8).then_some((dp, dp + dw)),
                }
            },
        )
}

fn arb_frame() -> impl Strategy<Value = (Vec<u8>, u16)> {
    (
        0u8..3,
        0usize..4,
        (0u16..8, 0u16..8),
        any::<bool>(),
        (0u8..4, 0u8..4, 0u8..4, 0u8..4),
        0u16..5,
    )
        .prop_map(|(kind, pi, (sp, dp), frag, (a, b, m, n), vlan)| {
            let proto = [17, 6, 1, 132][pi];
            (frame(kind, proto, sp, dp, frag, a, b, m, n), vlan)
        })
}

/// vfex's own decision: the first matching compiled rule, else `default`.
fn scan(
    rules: &[CompiledRule],
    rule_list: &[AclRule],
    default: Action,
    f: &[u8],
    vlan: u16,
) -> bool {
    let k = acl_key(f, &classify(f).unwrap(), vlan);
    match rules.iter().position(|r| r.matches(&k)) {
        Some(i) => rule_list[i].action == Action::Deny,
        None => default == Action::Deny,
    }
}

/// The default action of `deny`, the rules compiled, and their classifier.
fn built(rules: &[AclRule], deny: bool) -> (Action, Vec<CompiledRule>, Acl) {
    let default = if deny { Action::Deny } else { Action::Permit };
    let compiled: Vec<CompiledRule> = rules
        .iter()
        .map(|r| CompiledRule::compile(r).unwrap())
        .collect();
    eal();
    let acl = Acl::build(&compiled, default).expect("build");
    (default, compiled, acl)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn rte_acl_decides_as_the_scan(
        rules in proptest::collection::vec(arb_rule(), 1..=16),
        frames in proptest::collection::vec(arb_frame(), 1..=40),
        default_deny in any::<bool>(),
    ) {
        let (default, compiled, mut acl) = built(&rules, default_deny);
        let tuples: Vec<AclTuple> = frames
            .iter()
            .map(|(f, vlan)| AclTuple::of(&acl_key(f, &classify(f).unwrap(), *vlan)))
            .collect();
        for alg in algs() {
            acl.set_alg(alg).expect("a method this CPU has");
            let mut out = vec![0u32; tuples.len()];
            acl.classify(&tuples, &mut out);
            for (i, (f, vlan)) in frames.iter().enumerate() {
                let want = scan(&compiled, &rules, default, f, *vlan);
                prop_assert_eq!(acl.denies(out[i]), want, "{:?}: frame {} {:02x?} vlan {}", alg, i, f, vlan);
                // The first match, not just the same action.
                let k = acl_key(f, &classify(f).unwrap(), *vlan);
                let first = compiled.iter().position(|r| r.matches(&k)).map_or(0, |p| p as u32 + 1);
                prop_assert_eq!(out[i], first, "{:?}: frame {}", alg, i);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn a_veths_classifier_decides_its_misses_as_the_scan(
        rules in proptest::collection::vec(arb_rule(), 24..=80),
        frames in proptest::collection::vec(arb_frame(), 1..=32),
        default_deny in any::<bool>(),
    ) {
        let (default, compiled, acl) = built(&rules, default_deny);
        let plain = VethRules {
            acl: compiled,
            acl_default: default,
            ..VethRules::default()
        };
        let with = VethRules {
            classifier: Classifier::new(Arc::new(acl)),
            ..plain.clone()
        };
        // Each frame with the VLAN it carries (a C-tag) when not 0.
        let frames: Vec<Vec<u8>> = frames
            .iter()
            .map(|(f, vlan)| {
                if *vlan == 0 {
                    f.clone()
                } else {
                    let tag = [0x81, 0x00, 0x00, *vlan as u8];
                    [&f[..12], &tag[..], &f[12..]].concat()
                }
            })
            .collect();
        let mut cache = AclCache::new();
        for round in 0..2 {
            let mut probes: Vec<_> = frames.iter().map(|f| with.acl_probe(f, 7, &cache)).collect();
            with.acl_resolve(&mut probes, &mut cache);
            for (i, f) in frames.iter().enumerate() {
                let l2 = classify(f).unwrap();
                let got = with.ingress_cached(f, &l2, 7, &mut cache, probes[i].as_ref());
                prop_assert_eq!(got, plain.ingress(f, &l2), "round {} frame {}", round, i);
            }
        }
    }
}

#[test]
fn the_benchmark_rules_deny_their_prefixes_and_permit_the_rest() {
    // The 16-rule ACL of the role benchmarks: 15 denies of UDP to
    // 192.168.i.0/24 ports i*100..=i*100+50, then a permit of IPv4.
    let rules = setup::bench_acl(16);
    let compiled: Vec<CompiledRule> = rules
        .iter()
        .map(|r| CompiledRule::compile(r).unwrap())
        .collect();
    let acl = {
        eal();
        Acl::build(&compiled, Action::Deny)
    }
    .expect("build");
    let udp = |dst: [u8; 4], dport: u16| {
        let mut f = frame(0, 17, 1000, dport, false, 1, 2, 1, 2);
        f[30..34].copy_from_slice(&dst);
        f
    };
    let cases = [
        (udp([192, 168, 3, 9], 320), 4, true),
        (udp([192, 168, 3, 9], 351), 16, false),
        (udp([192, 168, 14, 1], 1400), 15, true),
        (udp([10, 0, 0, 2], 2000), 16, false),
        (frame(2, 0, 0, 0, false, 0, 0, 1, 2), 0, true),
    ];
    let tuples: Vec<AclTuple> = cases
        .iter()
        .map(|(f, ..)| AclTuple::of(&acl_key(f, &classify(f).unwrap(), 1)))
        .collect();
    let mut out = vec![0; cases.len()];
    acl.classify(&tuples, &mut out);
    for (i, (_, first, deny)) in cases.iter().enumerate() {
        assert_eq!(out[i], *first, "case {i}");
        assert_eq!(acl.denies(out[i]), *deny, "case {i}");
    }
}

#[test]
fn an_empty_acl_is_refused() {
    let e = {
        eal();
        Acl::build(&[], Action::Permit)
    }
    .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}
