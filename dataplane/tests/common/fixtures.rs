//! Frames and tables shared by the role tests, on TestBufs and on DPDK: MAC
//! addresses, Ethernet frames with numbered payloads, VN-Tags, and the
//! tables of a VN-Tag extender and of a two-port bridge. No DPDK here (the
//! TestBuf tests include this file on its own with `#[path]`).
#![allow(dead_code)]

use std::sync::Arc;
use vfex_dataplane::tables::*;

/// A locally administered unicast MAC ending in `n`.
pub fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// dst, src, EtherType, then a payload up to `len` bytes in all: 0, 1, 2, ...
pub fn eth(dst: [u8; 6], src: [u8; 6], et: u16, len: usize) -> Vec<u8> {
    eth_step(dst, src, et, len, 1)
}

/// Like [`eth`], with payload bytes 0, `step`, 2 * `step`, ... (mod 256).
pub fn eth_step(dst: [u8; 6], src: [u8; 6], et: u16, len: usize, step: u8) -> Vec<u8> {
    let mut f = [dst, src].concat();
    f.extend_from_slice(&et.to_be_bytes());
    let mut i = 0u8;
    while f.len() < len {
        f.push(i);
        i = i.wrapping_add(step);
    }
    f
}

/// `f` with `tag` inserted after the MACs.
pub fn insert_at12(f: &[u8], tag: &[u8]) -> Vec<u8> {
    [&f[..12], tag, &f[12..]].concat()
}

/// A VN-Tag (TPID 0x8926): direction, pointer, dst VIF, looped, src VIF.
pub fn vntag(d: bool, p: bool, dst: u16, l: bool, src: u16) -> [u8; 6] {
    let tci = u32::from(d) << 31
        | u32::from(p) << 30
        | u32::from(dst) << 16
        | u32::from(l) << 15
        | u32::from(src);
    let t = tci.to_be_bytes();
    [0x89, 0x26, t[0], t[1], t[2], t[3]]
}

/// VN-Tag extender tables: uplink 0, VMs `vm1`, `vm2`, ... on ports
/// 1..=`vms` with VIFs 10, 11, ... (vEths 0, 1, ...), edited by `edit`;
/// VIF list 300 holds every VM in port order.
pub fn extender_tables(vms: u16, edit: impl FnOnce(&mut [VethConfig])) -> Arc<Rcu<Tables>> {
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), usize::from(vms) + 1);
    b.port(0, PortKind::Uplink);
    let mut v: Vec<VethConfig> = (1..=vms)
        .map(|p| VethConfig::new(&format!("vm{p}"), p, 9 + p))
        .collect();
    edit(&mut v);
    let ids: Vec<u16> = v.into_iter().map(|c| b.veth(c)).collect();
    b.list(0, 300, &ids);
    Rcu::new(b.build().unwrap())
}

/// Tables of a two-port bridge: port 0 an extender link of `kind` with a
/// vEth per `(name, VIF)` of `vifs`, port 1 of kind `port1` with the vEth
/// `(name, id)` of `veth1`; with `list`, floods of VLAN 1 to port 0 use
/// that list (untagged).
pub fn link_bridge_tables(
    kind: ExtKind,
    vifs: &[(&str, u16)],
    port1: PortKind,
    veth1: (&str, u16),
    list: Option<u16>,
) -> Arc<Rcu<Tables>> {
    let mut b = TablesBuilder::new(Role::Bridge, 2);
    b.port(0, PortKind::ExtenderLink(kind)).port(1, port1);
    for &(name, vif) in vifs {
        b.veth(VethConfig::new(name, 0, vif));
    }
    b.veth(VethConfig::new(veth1.0, 1, veth1.1));
    if let Some(id) = list {
        b.flood_list(0, 1, FloodList { id, untagged: true });
    }
    Rcu::new(b.build().unwrap())
}
