//! Tags the roles put on a link, as tshark decodes them: E-Tag extender
//! upstream (E-PCP from the C-tag), E-Tag bridge unicast and flood-list
//! copies (multicast E-CID, Ingress_E-CID), S-tags of a multichannel
//! station and of a bridge's multichannel VEPA link. (The VN-Tag link is
//! checked end to end in `roles_dpdk.rs`.)
//!
//! tshark (4.0, Debian 12) is required: if it is missing the test fails and
//! says to run `scripts/setup.sh`.

#[path = "common/pcap.rs"]
mod pcap;
use pcap::{TempDir, tshark_fields, write_pcap};
#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::{link_bridge_tables, mac};
use std::sync::Arc;

use vfex_dataplane::kernels::{Kernels, TestBuf};
use vfex_dataplane::pipeline::{Bridge, Extender, Pipeline, RoleCounters, Station, VecSink};
use vfex_dataplane::tables::*;

fn eth(dst: [u8; 6], src: [u8; 6], ctag: Option<(u8, u16)>) -> Vec<u8> {
    let mut f = [dst, src].concat();
    if let Some((pcp, vid)) = ctag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&(u16::from(pcp) << 13 | vid).to_be_bytes());
    }
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(64, 0x11);
    f
}

/// Runs one frame through `p` from `port`; returns what left on `out`.
fn one<P: Pipeline<TestBuf>>(
    p: &mut P,
    ports: usize,
    port: u16,
    f: Vec<u8>,
    out: usize,
) -> Vec<Vec<u8>> {
    let mut sink = VecSink::new(ports);
    let c = RoleCounters::new(ports, 8);
    let mut pkts = vec![TestBuf::new(&f, 128, 64)];
    p.quiescent(0);
    p.process(port, &mut pkts, &mut sink, 0, &c);
    assert_eq!(c.drops_nonzero(), vec![]);
    sink.out[out].iter().map(|b| b.frame().to_vec()).collect()
}

#[test]
fn link_tags_decode_as_intended() {
    let k = Kernels::detect().unwrap();
    let mut frames = Vec::new();

    // E-Tag extender: VF 1 = E-CID 0x11, default PCP 2.
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::ETag), 2);
    b.port(0, PortKind::Uplink);
    let mut v = VethConfig::new("vm", 1, 0x11);
    v.rules.pcp = None;
    b.veth(v);
    let mut e = Extender::new(Rcu::new(b.build().unwrap()).reader(), k, 1, 0);
    frames.extend(one(&mut e, 2, 1, eth(mac(9), mac(1), Some((6, 100))), 0));
    frames.extend(one(&mut e, 2, 1, eth(mac(9), mac(1), None), 0));

    // E-Tag bridge: link 0 with E-CIDs 0x10, 0x11, flood list 0x1005
    // (VLAN 1); a multichannel VEPA link 1 with S-VID 7.
    let tables = link_bridge_tables(
        ExtKind::ETag,
        &[("e10", 0x10), ("e11", 0x11)],
        PortKind::VepaLink { multichannel: true },
        ("s7", 7),
        Some(0x1005),
    );
    let mut br = Bridge::new(tables.reader(), Arc::new(LearnTable::new(64, 4)), k, 1, 0);
    let up10 = |f: Vec<u8>| {
        let mut o = f[..12].to_vec();
        o.extend_from_slice(&[0x89, 0x3f, 0, 0, 0x00, 0x10, 0, 0]);
        o.extend_from_slice(&f[12..]);
        o
    };
    // Broadcast from E-CID 0x10: one list copy down the link, one S-tagged
    // copy to the VEPA link.
    frames.extend(one(&mut br, 2, 0, up10(eth([0xff; 6], mac(1), None)), 0));
    frames.extend(one(&mut br, 2, 0, up10(eth([0xff; 6], mac(1), None)), 1));
    // From the VEPA channel to MAC 1 (learned on E-CID 0x10): unicast down.
    let mut s7 = eth(mac(1), mac(7), None);
    s7.splice(12..12, [0x88, 0xa8, 0x00, 0x07]);
    frames.extend(one(&mut br, 2, 1, s7, 0));

    // Multichannel station: VM on S-VID 3.
    let mut b = TablesBuilder::new(Role::Station { multichannel: true }, 2);
    b.port(0, PortKind::Uplink);
    b.veth(VethConfig::new("vm", 1, 3));
    let mut st = Station::new(Rcu::new(b.build().unwrap()).reader(), k, 1, 0);
    frames.extend(one(&mut st, 2, 1, eth(mac(9), mac(1), None), 0));

    let dir = TempDir::new("roles-tshark");
    let path = dir.join("link.pcap");
    write_pcap(&path, &frames);
    let out = tshark_fields(
        &path,
        &[
            "eth.type",
            "etag.pcp",
            "etag.iecid_base",
            "etag.group",
            "etag.ecid_base",
            "ieee8021ad.id",
            "vlan.priority",
            "vlan.id",
        ],
    );
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        vec![
            // Upstream, E-PCP copied from the C-tag's PCP 6.
            "0x893f,6,0x0000,0,0x0011,,6,100",
            // Upstream untagged: the vEth's default PCP (0).
            "0x893f,0,0x0000,0,0x0011,,,",
            // Flood list copy: GRP 1, E-CID base 5, Ingress_E-CID 0x10.
            "0x893f,0,0x0010,1,0x0005,,,",
            // To the VEPA channel: S-tag 7.
            "0x88a8,,,,,7,,",
            // Unicast down to E-CID 0x10.
            "0x893f,0,0x0000,0,0x0010,,,",
            // Station upstream: S-tag 3.
            "0x88a8,,,,,3,,",
        ],
        "tshark:\n{out}"
    );
}
