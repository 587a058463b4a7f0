//! Set-ups shared by the role benches (`roles.rs`, criterion, and
//! `roles_perf.rs`, the perf-stat harness): frame builders and the issue's
//! per-vEth rule set. Included with `#[path]` by both, by `acl.rs` and by
//! `tests/acl_dpdk.rs` (the ACL).

#![allow(dead_code)] // each bench uses its own subset

use std::net::{IpAddr, Ipv4Addr};

use vfex_dataplane::tables::*;

pub const BURST: usize = 32;
pub const LEN: usize = 64;
pub const HEADROOM: usize = 128;
pub const TAILROOM: usize = 64;
/// 1 GHz: a TSC tick per ns.
pub const HZ: u64 = 1_000_000_000;

pub fn mac(n: u16) -> [u8; 6] {
    let b = n.to_be_bytes();
    [2, 0, 0, 1, b[0], b[1]]
}

/// IPv4/UDP 10.0.0.1 -> 10.1.0.2, 1000 -> 2000, padded to 64 bytes.
pub fn ipv4(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = [dst, src].concat();
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 1, 0, 2]);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&2000u16.to_be_bytes());
    f.resize(LEN, 0);
    f
}

pub fn insert_at12(f: &[u8], tag: &[u8]) -> Vec<u8> {
    let mut o = [&f[..12], tag, &f[12..]].concat();
    o.truncate(f.len().max(60));
    o
}

pub fn vntag(d: bool, dst: u16, src: u16) -> [u8; 6] {
    let t = (u32::from(d) << 31 | u32::from(dst) << 16 | u32::from(src)).to_be_bytes();
    [0x89, 0x26, t[0], t[1], t[2], t[3]]
}

/// The benchmarks' ACL of `n` rules: `n - 1` denies of UDP to
/// 192.168.i.0/24 ports i*100..=i*100+50 (traffic to 10.1.0.2 misses them
/// all), then a permit of IPv4; default deny.
pub fn bench_acl(n: usize) -> Vec<AclRule> {
    let mut acl: Vec<AclRule> = (0..n - 1)
        .map(|i| AclRule {
            action: Action::Deny,
            dst_ip: Some((IpAddr::V4(Ipv4Addr::new(192, 168, i as u8, 0)), 24)),
            protocol: Some(17),
            dst_port: Some((i as u16 * 100, i as u16 * 100 + 50)),
            ..AclRule::default()
        })
        .collect();
    acl.push(AclRule {
        action: Action::Permit,
        ethertype: Some(0x0800),
        ..AclRule::default()
    });
    acl
}

/// Anti-spoof for `m`, the 16-rule [`bench_acl`] (15 misses, a permit),
/// default deny, and a policer that never runs dry.
pub fn heavy_rules(m: [u8; 6]) -> VethRules {
    let acl = bench_acl(16);
    VethRules {
        allowed_macs: Some(vec![m]),
        acl: acl
            .iter()
            .map(|r| CompiledRule::compile(r).unwrap())
            .collect(),
        acl_default: Action::Deny,
        policer: Some(PolicerParams {
            cir: 1 << 40,
            cbs: 1 << 31,
            ebs: 0,
        }),
        ..VethRules::default()
    }
}
