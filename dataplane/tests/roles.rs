//! The three roles on TestBufs (no DPDK): exact frames on every port, one
//! test per rule and per drop reason, table swaps through RCU.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;
use std::sync::Arc;

use vfex_dataplane::drop::DropReason;
use vfex_dataplane::kernels::{Kernels, PacketBuf, TestBuf};
use vfex_dataplane::pipeline::{Bridge, Extender, Pipeline, RoleCounters, Station, VecSink};
use vfex_dataplane::tables::*;

const HZ: u64 = 1_000_000;

fn ctag(pcp: u8, vid: u16) -> [u8; 4] {
    let tci = u16::from(pcp) << 13 | vid;
    let t = tci.to_be_bytes();
    [0x81, 0x00, t[0], t[1]]
}

fn etag(pcp: u8, iecid: u16, grp: u8, ecid: u16) -> [u8; 8] {
    let w1 = (u16::from(pcp) << 13 | iecid).to_be_bytes();
    let w2 = (u16::from(grp) << 12 | ecid).to_be_bytes();
    [0x89, 0x3f, w1[0], w1[1], w2[0], w2[1], 0, 0]
}

fn stag(svid: u16) -> [u8; 4] {
    let t = svid.to_be_bytes();
    [0x88, 0xa8, t[0], t[1]]
}

/// Pads to 60 bytes.
fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

struct Out {
    sink: VecSink<TestBuf>,
    c: RoleCounters,
}

impl Out {
    fn frames(&self, port: usize) -> Vec<Vec<u8>> {
        self.sink.out[port]
            .iter()
            .map(|b| b.frame().to_vec())
            .collect()
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.c.drop(r).get()
    }
    fn total_out(&self) -> usize {
        self.sink.out.iter().map(Vec::len).sum()
    }
}

fn run<P: Pipeline<TestBuf>>(p: &mut P, port: u16, frames: &[Vec<u8>], nports: usize) -> Out {
    run_at(p, port, frames, nports, 0)
}

fn run_at<P: Pipeline<TestBuf>>(
    p: &mut P,
    port: u16,
    frames: &[Vec<u8>],
    nports: usize,
    now: u64,
) -> Out {
    let mut sink = VecSink::new(nports);
    let c = RoleCounters::new(nports, 16);
    let mut pkts: Vec<TestBuf> = frames.iter().map(|f| TestBuf::new(f, 128, 64)).collect();
    p.quiescent(now);
    p.process(port, &mut pkts, &mut sink, now, &c);
    assert!(pkts.is_empty(), "a pipeline consumes the whole burst");
    Out { sink, c }
}

fn run_bufs<P: Pipeline<TestBuf>>(
    p: &mut P,
    port: u16,
    mut pkts: Vec<TestBuf>,
    nports: usize,
) -> Out {
    let mut sink = VecSink::new(nports);
    let c = RoleCounters::new(nports, 16);
    p.quiescent(0);
    p.process(port, &mut pkts, &mut sink, 0, &c);
    Out { sink, c }
}

// ---------------------------------------------------------------- extender

/// VN-Tag extender: port 0 uplink, VF ports 1..=3 with VIFs 10, 11, 12,
/// port 4 mirror destination; list 100 = all three, list 101 = VIF 10 only.
fn vn_extender(edit: impl FnOnce(&mut Vec<VethConfig>)) -> Extender {
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 5);
    b.port(0, PortKind::Uplink).port(4, PortKind::Unused);
    let mut v = vec![
        VethConfig::new("a", 1, 10),
        VethConfig::new("b", 2, 11),
        VethConfig::new("c", 3, 12),
    ];
    edit(&mut v);
    for c in v {
        b.veth(c);
    }
    b.list(0, 100, &[0, 1, 2]).list(0, 101, &[0]);
    let rcu = Rcu::new(b.build().unwrap());
    Extender::new(rcu.reader(), Kernels::scalar(), HZ, 0)
}

#[test]
fn extender_upstream_pushes_the_vif_tag() {
    let mut e = vn_extender(|_| {});
    let f = eth(mac(9), mac(1), 0x0800, 64);
    let o = run(&mut e, 1, std::slice::from_ref(&f), 5);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&f, &vntag(false, false, 0, false, 10))]
    );
    assert_eq!(o.total_out(), 1, "nothing local, not even broadcast");
    let bc = eth([0xff; 6], mac(1), 0x0806, 60);
    let o = run(&mut e, 2, std::slice::from_ref(&bc), 5);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&bc, &vntag(false, false, 0, false, 11))]
    );
    assert_eq!(o.total_out(), 1);
    assert_eq!(
        RoleCounters::sum_veth(std::slice::from_ref(&o.c), 1),
        [1, 60, 0, 0]
    );
}

#[test]
fn extender_tag_injection_and_runts_are_dropped() {
    let mut e = vn_extender(|_| {});
    let ok = eth(mac(9), mac(1), 0x0800, 64);
    let frames: Vec<Vec<u8>> = [0x8926u16, 0x893f, 0x88a8, 0x9100, 0x9200]
        .iter()
        .map(|t| eth(mac(9), mac(1), *t, 64))
        .chain([ok[..13].to_vec(), ok.clone()])
        .collect();
    let o = run(&mut e, 1, &frames, 5);
    assert_eq!(o.drops(DropReason::TagInjection), 5);
    assert_eq!(o.drops(DropReason::Runt), 1);
    assert_eq!(o.frames(0).len(), 1);
    assert_eq!(o.c.veth(0).drops[DropReason::TagInjection.index()].get(), 5);
}

#[test]
fn extender_admin_down_both_ways() {
    let mut e = vn_extender(|v| v[0].rules.admin_up = false);
    let o = run(&mut e, 1, &[eth(mac(9), mac(1), 0x0800, 64)], 5);
    assert_eq!((o.drops(DropReason::AdminDown), o.total_out()), (1, 0));
    let down = insert_at12(
        &eth(mac(1), mac(9), 0x0800, 64),
        &vntag(true, false, 10, false, 0),
    );
    let o = run(&mut e, 0, &[down], 5);
    assert_eq!((o.drops(DropReason::AdminDown), o.total_out()), (1, 0));
}

#[test]
fn extender_vlan_modes() {
    let mut e = vn_extender(|v| {
        v[0].rules.vlan = VlanMode::Access(5);
        v[1].rules.vlan = VlanMode::Trunk {
            allowed: VlanSet::of([20]),
            native: None,
        };
    });
    let plain = eth(mac(9), mac(1), 0x0800, 64);
    let t20 = insert_at12(&plain, &ctag(0, 20));
    let t30 = insert_at12(&plain, &ctag(0, 30));
    let o = run(&mut e, 1, &[plain.clone(), t20.clone()], 5);
    assert_eq!(
        (o.frames(0).len(), o.drops(DropReason::VlanNotAllowed)),
        (1, 1)
    );
    let o = run(&mut e, 2, &[plain.clone(), t20.clone(), t30], 5);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&t20, &vntag(false, false, 0, false, 11))]
    );
    assert_eq!(o.drops(DropReason::VlanNotAllowed), 2);
    // Downstream: a C-tag the access vEth does not carry.
    let down = insert_at12(&t20, &vntag(true, false, 10, false, 0));
    let o = run(&mut e, 0, &[down], 5);
    assert_eq!(o.drops(DropReason::VlanNotAllowed), 1);
}

#[test]
fn extender_anti_spoof_acl_policer() {
    let mut e = vn_extender(|v| {
        v[0].rules.allowed_macs = Some(vec![mac(1)]);
        v[1].rules.acl = vec![
            CompiledRule::compile(&AclRule {
                action: Action::Deny,
                ethertype: Some(0x0806),
                ..AclRule::default()
            })
            .unwrap(),
        ];
        v[2].rules.policer = Some(PolicerParams {
            cir: 1000,
            cbs: 128,
            ebs: 0,
        });
    });
    let good = eth(mac(9), mac(1), 0x0800, 64);
    let spoof = eth(mac(9), mac(7), 0x0800, 64);
    let o = run(&mut e, 1, &[good.clone(), spoof], 5);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::MacSpoof)), (1, 1));
    let arp = eth(mac(9), mac(1), 0x0806, 64);
    let o = run(&mut e, 2, &[good.clone(), arp], 5);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::AclDeny)), (1, 1));
    // 128-byte bucket: two 64-byte frames pass, the third is red.
    let o = run(&mut e, 3, &[good.clone(), good.clone(), good.clone()], 5);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::Policed)), (2, 1));
    // 64 ms later (1000 B/s): 64 bytes are back.
    let o = run_at(&mut e, 3, &[good.clone(), good.clone()], 5, 64_000);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::Policed)), (1, 1));
}

#[test]
fn extender_pcp_marking_and_mirror() {
    let mut e = vn_extender(|v| {
        v[0].rules.pcp = Some(5);
        v[0].rules.mirror = Some(4);
    });
    let f = insert_at12(&eth(mac(9), mac(1), 0x0800, 64), &ctag(0, 7));
    let marked = insert_at12(&eth(mac(9), mac(1), 0x0800, 64), &ctag(5, 7));
    let o = run(&mut e, 1, &[f], 5);
    assert_eq!(
        o.frames(4),
        vec![marked.clone()],
        "mirror: as the VM sent it, marked"
    );
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&marked, &vntag(false, false, 0, false, 10))]
    );
    // Egress mirror: as delivered.
    let down = eth(mac(1), mac(9), 0x0800, 64);
    let o = run(
        &mut e,
        0,
        &[insert_at12(&down, &vntag(true, false, 10, false, 0))],
        5,
    );
    assert_eq!(o.frames(1), vec![down.clone()]);
    assert_eq!(o.frames(4), vec![down]);
}

#[test]
fn extender_downstream_unicast_strips_and_pads() {
    let mut e = vn_extender(|_| {});
    let inner = eth(mac(2), mac(9), 0x0800, 54);
    let o = run(
        &mut e,
        0,
        &[insert_at12(&inner, &vntag(true, false, 11, false, 0))],
        5,
    );
    assert_eq!(o.frames(2), vec![pad(inner)]);
    assert_eq!(o.total_out(), 1);
    assert_eq!(o.c.veth(1).tx_pkts.get(), 1);
}

#[test]
fn extender_downstream_drops_by_reason() {
    let mut e = vn_extender(|_| {});
    let inner = eth(mac(2), mac(9), 0x0800, 64);
    let up = insert_at12(&inner, &vntag(false, false, 11, false, 0));
    let unknown = insert_at12(&inner, &vntag(true, false, 99, false, 0));
    let nolist = insert_at12(&inner, &vntag(true, true, 7, false, 0));
    let mut badver = insert_at12(&inner, &vntag(true, false, 11, false, 0));
    badver[16] |= 0x10;
    let truncated = insert_at12(&inner, &vntag(true, false, 11, false, 0))[..16].to_vec();
    let untagged = inner.clone();
    let stacked = insert_at12(
        &insert_at12(&inner, &vntag(true, false, 11, false, 0)),
        &vntag(true, false, 11, false, 0),
    );
    let o = run(
        &mut e,
        0,
        &[up, unknown, nolist, badver, truncated, untagged, stacked],
        5,
    );
    assert_eq!(o.total_out(), 0, "nothing goes back upstream or anywhere");
    for r in [
        DropReason::WrongDirection,
        DropReason::UnknownVif,
        DropReason::UnknownVifList,
        DropReason::BadVersion,
        DropReason::TruncatedTag,
        DropReason::BadTpid,
        DropReason::StackedTag,
    ] {
        assert_eq!(o.drops(r), 1, "{r}");
    }
}

#[test]
fn extender_vif_list_prunes_the_looped_source() {
    let mut e = vn_extender(|_| {});
    let inner = eth([0xff; 6], mac(1), 0x0806, 60);
    let o = run(
        &mut e,
        0,
        &[insert_at12(&inner, &vntag(true, true, 100, true, 10))],
        5,
    );
    assert_eq!(o.frames(1), Vec::<Vec<u8>>::new(), "source VIF 10 pruned");
    assert_eq!(o.frames(2), vec![inner.clone()]);
    assert_eq!(o.frames(3), vec![inner.clone()]);
    // Without l=1 everybody gets it.
    let o = run(
        &mut e,
        0,
        &[insert_at12(&inner, &vntag(true, true, 100, false, 10))],
        5,
    );
    assert_eq!(o.total_out(), 3);
    // A list whose only member is the source: reflection.
    let o = run(
        &mut e,
        0,
        &[insert_at12(&inner, &vntag(true, true, 101, true, 10))],
        5,
    );
    assert_eq!((o.total_out(), o.drops(DropReason::Reflection)), (0, 1));
    // Replication fails when no copy can be made: counted, original delivered.
    let mut sink = VecSink::new(5);
    sink.copies_left = Some(1);
    let c = RoleCounters::new(5, 4);
    let mut pkts = vec![TestBuf::new(
        &insert_at12(&inner, &vntag(true, true, 100, false, 0)),
        128,
        64,
    )];
    e.process(0, &mut pkts, &mut sink, 0, &c);
    assert_eq!(sink.out.iter().map(Vec::len).sum::<usize>(), 2);
    assert_eq!(c.drop(DropReason::NoMbuf).get(), 1);
}

fn e_extender() -> Extender {
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::ETag), 4);
    b.port(0, PortKind::Uplink);
    let mut a = VethConfig::new("a", 1, 0x10);
    a.rules.pcp = Some(3);
    b.veth(a);
    b.veth(VethConfig::new("b", 2, 0x11));
    b.veth(VethConfig::new("c", 3, 0x12));
    b.list(0, 0x1005, &[0, 1, 2]);
    Extender::new(
        Rcu::new(b.build().unwrap()).reader(),
        Kernels::scalar(),
        HZ,
        0,
    )
}

#[test]
fn etag_extender_pcp_from_ctag_or_default() {
    let mut e = e_extender();
    let plain = eth(mac(9), mac(1), 0x0800, 64);
    let tagged = insert_at12(&plain, &ctag(6, 7));
    // vEth a: default PCP 3, but marking rewrites the C-tag to 3 as well.
    let o = run(&mut e, 1, &[plain.clone(), tagged.clone()], 4);
    assert_eq!(
        o.frames(0),
        vec![
            insert_at12(&plain, &etag(3, 0, 0, 0x10)),
            insert_at12(&insert_at12(&plain, &ctag(3, 7)), &etag(3, 0, 0, 0x10)),
        ]
    );
    // vEth b: no marking, E-PCP from the C-tag.
    let o = run(&mut e, 2, &[plain.clone(), tagged.clone()], 4);
    assert_eq!(
        o.frames(0),
        vec![
            insert_at12(&plain, &etag(0, 0, 0, 0x11)),
            insert_at12(&tagged, &etag(6, 0, 0, 0x11)),
        ]
    );
}

#[test]
fn etag_extender_multicast_prunes_ingress_ecid() {
    let mut e = e_extender();
    let inner = eth([0xff; 6], mac(2), 0x0806, 60);
    let o = run(
        &mut e,
        0,
        &[insert_at12(&inner, &etag(0, 0x11, 1, 0x005))],
        4,
    );
    assert_eq!(
        (o.frames(1).len(), o.frames(2).len(), o.frames(3).len()),
        (1, 0, 1)
    );
    let uni = insert_at12(&inner, &etag(0, 0, 0, 0x12));
    let mut ext = insert_at12(&inner, &etag(0, 0, 0, 0x12));
    ext[19] = 1;
    let unknown = insert_at12(&inner, &etag(0, 0, 0, 0x99));
    let nolist = insert_at12(&inner, &etag(0, 0, 2, 0x099));
    let o = run(&mut e, 0, &[uni, ext, unknown, nolist], 4);
    assert_eq!(o.frames(3), vec![inner]);
    assert_eq!(o.drops(DropReason::ExtEcid), 1);
    assert_eq!(o.drops(DropReason::UnknownVif), 1);
    assert_eq!(o.drops(DropReason::UnknownVifList), 1);
}

#[test]
fn frames_on_unused_ports_are_dropped() {
    let mut e = vn_extender(|_| {});
    let o = run(&mut e, 4, &[eth(mac(1), mac(2), 0x0800, 64)], 5);
    assert_eq!(o.drops(DropReason::WrongPort), 1);
}

#[test]
fn rcu_swap_takes_effect_at_the_quiescent_state() {
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
    b.port(0, PortKind::Uplink);
    b.veth(VethConfig::new("a", 1, 10));
    let rcu = Rcu::new(b.build().unwrap());
    let mut e = Extender::new(rcu.reader(), Kernels::scalar(), HZ, 0);
    let f = eth(mac(9), mac(1), 0x0800, 64);
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
    b.port(0, PortKind::Uplink);
    let mut a = VethConfig::new("a", 1, 10);
    a.rules.admin_up = false;
    b.veth(a);
    let old = rcu.publish(b.build().unwrap());
    // Same burst cycle: still the old tables until quiescent.
    let mut sink = VecSink::new(2);
    let c = RoleCounters::new(2, 2);
    let mut pkts = vec![TestBuf::new(&f, 128, 64)];
    e.process(1, &mut pkts, &mut sink, 0, &c);
    assert_eq!(sink.out[0].len(), 1);
    assert!(old.in_use());
    let o = run(&mut e, 1, &[f], 2);
    assert_eq!(o.drops(DropReason::AdminDown), 1);
    assert!(Rcu::synchronize(&old, std::time::Duration::from_secs(1)));
}

#[test]
fn acl_decisions_do_not_outlive_the_tables() {
    // A deny-IPv4 ACL on vEth "a", then tables that permit IPv4: the
    // worker's cached decision for the same frame must not survive the swap.
    let tables = |action| {
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
        b.port(0, PortKind::Uplink);
        let mut a = VethConfig::new("a", 1, 10);
        a.rules.acl = vec![
            CompiledRule::compile(&AclRule {
                action,
                ethertype: Some(0x0800),
                ..AclRule::default()
            })
            .unwrap(),
        ];
        b.veth(a);
        b.build().unwrap()
    };
    let rcu = Rcu::new(tables(Action::Deny));
    let mut e = Extender::new(rcu.reader(), Kernels::scalar(), HZ, 0);
    let f = eth(mac(9), mac(1), 0x0800, 64);
    for _ in 0..2 {
        let o = run(&mut e, 1, std::slice::from_ref(&f), 2);
        assert_eq!(o.drops(DropReason::AclDeny), 1);
    }
    let old = rcu.publish(tables(Action::Permit));
    let o = run(&mut e, 1, std::slice::from_ref(&f), 2);
    assert_eq!(o.drops(DropReason::AclDeny), 0);
    assert_eq!(o.sink.out[0].len(), 1);
    assert!(Rcu::synchronize(&old, std::time::Duration::from_secs(1)));
    let _ = rcu.publish(tables(Action::Deny));
    let o = run(&mut e, 1, &[f], 2);
    assert_eq!(o.drops(DropReason::AclDeny), 1);
}

// ----------------------------------------------------------------- station

/// Station: port 0 uplink, ports 1..=3 VMs with MACs 1, 2, 3. Multichannel:
/// VMs 1 and 2 on S-VID 2, VM 3 on S-VID 3.
/// A classifier that decides as the scan (default permit) and counts its
/// calls.
#[derive(Debug)]
struct CountingClassifier {
    /// (rule, deny?)
    rules: Vec<(CompiledRule, bool)>,
    calls: std::sync::atomic::AtomicUsize,
}

impl AclClassifier for CountingClassifier {
    fn deny(&self, keys: &[vfex_dataplane::tables::rules::AclKey], deny: &mut [bool]) {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (k, d) in keys.iter().zip(deny) {
            *d = self
                .rules
                .iter()
                .find(|(r, _)| r.matches(k))
                .is_some_and(|(_, deny)| *deny);
        }
    }
}

/// 40 rules: 39 permits of EtherTypes nobody sends, then a deny of ARP
/// (default permit), with a counting classifier.
fn long_acl() -> (VethRules, Arc<CountingClassifier>) {
    let rule = |action, et| {
        let r = AclRule {
            action,
            ethertype: Some(et),
            ..AclRule::default()
        };
        (CompiledRule::compile(&r).unwrap(), action == Action::Deny)
    };
    let mut rules: Vec<(CompiledRule, bool)> = (0..39u16)
        .map(|i| rule(Action::Permit, 0x9000 + i))
        .collect();
    rules.push(rule(Action::Deny, 0x0806));
    let acl = rules.iter().map(|(r, _)| *r).collect();
    let c = Arc::new(CountingClassifier {
        rules,
        calls: Default::default(),
    });
    let r = VethRules {
        acl,
        classifier: Classifier::new(c.clone()),
        ..VethRules::default()
    };
    (r, c)
}

/// 24 frames of 24 flows and 8 ARPs, interleaved.
fn mixed_burst() -> Vec<Vec<u8>> {
    (0..32u8)
        .map(|i| {
            if i % 4 == 3 {
                eth([0xff; 6], mac(1), 0x0806, 60)
            } else {
                eth(mac(100 + i), mac(1), 0x0800, 64)
            }
        })
        .collect()
}

#[test]
fn a_long_acls_classifier_decides_the_burst_on_the_extender() {
    let (rules, c) = long_acl();
    let mut e = vn_extender(|v| v[0].rules = rules);
    let burst = mixed_burst();
    let want: Vec<Vec<u8>> = burst
        .iter()
        .filter(|f| f[12..14] != [0x08, 0x06])
        .map(|f| insert_at12(f, &vntag(false, false, 0, false, 10)))
        .collect();
    for round in 0..2 {
        let o = run(&mut e, 1, &burst, 5);
        assert_eq!(o.frames(0), want, "round {round}");
        assert_eq!(o.drops(DropReason::AclDeny), 8);
        // One call for the first burst's 25 new flows; then all hits.
        assert_eq!(c.calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}

#[test]
fn a_long_acls_classifier_decides_the_burst_on_the_station() {
    let (rules, c) = long_acl();
    let mut b = TablesBuilder::new(
        Role::Station {
            multichannel: false,
        },
        2,
    );
    b.port(0, PortKind::Uplink);
    let mut v = VethConfig::new("vm1", 1, 0);
    v.macs = vec![mac(1)];
    v.rules = rules;
    b.veth(v);
    let mut s = Station::new(
        Rcu::new(b.build().unwrap()).reader(),
        Kernels::scalar(),
        HZ,
        0,
    );
    let burst = mixed_burst();
    let want: Vec<Vec<u8>> = burst
        .iter()
        .filter(|f| f[12..14] != [0x08, 0x06])
        .cloned()
        .collect();
    for round in 0..2 {
        let o = run(&mut s, 1, &burst, 2);
        assert_eq!(o.frames(0), want, "round {round}");
        assert_eq!(o.drops(DropReason::AclDeny), 8);
        assert_eq!(c.calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}

fn station(multichannel: bool) -> Station {
    station_with(multichannel, |_| {})
}

/// Station: port 0 uplink, VM ports 1..=3 (MACs 1..=3; multichannel: S-VIDs
/// 2, 2, 3); `edit` changes the vEths first.
fn station_with(multichannel: bool, edit: impl FnOnce(&mut Vec<VethConfig>)) -> Station {
    let mut b = TablesBuilder::new(Role::Station { multichannel }, 4);
    b.port(0, PortKind::Uplink);
    let mut veths: Vec<VethConfig> = [(1u16, 2u16), (2, 2), (3, 3)]
        .iter()
        .map(|&(p, svid)| {
            let mut v = VethConfig::new(&format!("vm{p}"), p, if multichannel { svid } else { 0 });
            v.macs = vec![mac(p as u8)];
            v
        })
        .collect();
    edit(&mut veths);
    for v in veths {
        b.veth(v);
    }
    Station::new(
        Rcu::new(b.build().unwrap()).reader(),
        Kernels::scalar(),
        HZ,
        0,
    )
}

#[test]
fn station_sends_everything_up_unmodified() {
    let mut s = station(false);
    let bc = eth([0xff; 6], mac(1), 0x0806, 60);
    let uni = eth(mac(2), mac(1), 0x0800, 64);
    let o = run(&mut s, 1, &[bc.clone(), uni.clone()], 4);
    assert_eq!(o.frames(0), vec![bc, uni]);
    assert_eq!(o.total_out(), 2, "no local delivery");
    let o = run(&mut s, 1, &[eth(mac(2), mac(1), 0x88a8, 64)], 4);
    assert_eq!(o.drops(DropReason::TagInjection), 1);
}

#[test]
fn station_reflection_filter_and_unicast() {
    let mut s = station(false);
    let bc = eth([0xff; 6], mac(1), 0x0806, 60);
    let o = run(&mut s, 0, std::slice::from_ref(&bc), 4);
    assert_eq!(
        o.frames(1).len(),
        0,
        "the sender never gets its own broadcast"
    );
    assert_eq!((o.frames(2), o.frames(3)), (vec![bc.clone()], vec![bc]));
    let uni = eth(mac(3), mac(1), 0x0800, 64);
    let none = eth(mac(9), mac(1), 0x0800, 64);
    let o = run(&mut s, 0, &[uni.clone(), none], 4);
    assert_eq!(o.frames(3), vec![uni.clone()]);
    assert_eq!((o.total_out(), o.drops(DropReason::NoMac)), (1, 1));
    // Tags have no business on a basic station's uplink.
    let o = run(
        &mut s,
        0,
        &[
            insert_at12(&uni, &stag(3)),
            insert_at12(&uni, &vntag(true, false, 1, false, 0)),
        ],
        4,
    );
    assert_eq!((o.total_out(), o.drops(DropReason::BadTpid)), (0, 2));
}

#[test]
fn multichannel_station_tags_per_channel() {
    let mut s = station(true);
    let f = eth([0xff; 6], mac(1), 0x0806, 60);
    let o = run(&mut s, 1, std::slice::from_ref(&f), 4);
    assert_eq!(o.frames(0), vec![insert_at12(&f, &stag(2))]);
    // Down: channel 2 broadcast from VM 1 reaches VM 2 only; channel 3 VM 3.
    let o = run(&mut s, 0, &[insert_at12(&f, &stag(2))], 4);
    assert_eq!(
        (o.frames(1).len(), o.frames(2), o.frames(3).len()),
        (0, vec![f.clone()], 0)
    );
    let from9 = eth([0xff; 6], mac(9), 0x0806, 60);
    let o = run(&mut s, 0, &[insert_at12(&from9, &stag(3))], 4);
    assert_eq!(o.frames(3), vec![from9.clone()]);
    // VM 3's MAC on channel 2 is unknown.
    let o = run(
        &mut s,
        0,
        &[insert_at12(&eth(mac(3), mac(9), 0x0800, 64), &stag(2))],
        4,
    );
    assert_eq!(o.drops(DropReason::NoMac), 1);
    // Untagged on a multichannel uplink.
    let o = run(&mut s, 0, &[from9], 4);
    assert_eq!(o.drops(DropReason::BadTpid), 1);
}

// ------------------------------------------------------------------ bridge

/// Bridge: port 0 VN-Tag extender link with VIFs 10, 11 (access VLAN 5),
/// port 1 ordinary (access VLAN 5), port 2 ordinary trunk {5, 6} native 6,
/// port 3 basic VEPA link (access 5). With `list`: floods of VLAN 5 to
/// port 0 use VIF list 300.
fn bridge(list: bool, edit: impl FnOnce(&mut Vec<VethConfig>)) -> (Bridge, Arc<LearnTable>) {
    let mut b = TablesBuilder::new(Role::Bridge, 4);
    b.port(0, PortKind::ExtenderLink(ExtKind::VnTag))
        .port(1, PortKind::Ordinary)
        .port(2, PortKind::Ordinary)
        .port(
            3,
            PortKind::VepaLink {
                multichannel: false,
            },
        );
    let mut v = vec![
        VethConfig::new("v10", 0, 10),
        VethConfig::new("v11", 0, 11),
        VethConfig::new("eth1", 1, 0),
        VethConfig::new("trunk", 2, 0),
        VethConfig::new("vepa", 3, 0),
    ];
    for x in [0, 1, 2, 4] {
        v[x].rules.vlan = VlanMode::Access(5);
    }
    v[3].rules.vlan = VlanMode::Trunk {
        allowed: VlanSet::of([5, 6]),
        native: Some(6),
    };
    edit(&mut v);
    for c in v {
        b.veth(c);
    }
    if list {
        b.flood_list(
            0,
            5,
            FloodList {
                id: 300,
                untagged: true,
            },
        );
    }
    let learn = Arc::new(LearnTable::new(1024, 8));
    let br = Bridge::new(
        Rcu::new(b.build().unwrap()).reader(),
        learn.clone(),
        Kernels::scalar(),
        HZ,
        0,
    );
    (br, learn)
}

/// A burst from two vEths on one extender link, both with a long ACL: each
/// vEth's misses are decided in one classifier call; the frames out are
/// those of a bridge whose vEths have no classifier.
#[test]
fn a_long_acls_classifier_decides_per_veth_on_the_bridge() {
    let burst: Vec<Vec<u8>> = (0..32u8)
        .map(|i| {
            let vif = 10 + u16::from(i % 2);
            let src = mac(10 + i % 2);
            let f = if i % 8 >= 6 {
                eth([0xff; 6], src, 0x0806, 60)
            } else {
                eth(mac(100 + i), src, 0x0800, 64)
            };
            insert_at12(&f, &vntag(false, false, 0, false, vif))
        })
        .collect();
    let (plain_rules, _) = long_acl();
    let plain_rules = VethRules {
        classifier: Classifier::default(),
        ..plain_rules
    };
    let (mut plain, _) = bridge(false, |v| {
        for x in [0, 1] {
            v[x].rules = VethRules {
                vlan: VlanMode::Access(5),
                ..plain_rules.clone()
            };
        }
    });
    let (r10, c10) = long_acl();
    let (r11, c11) = long_acl();
    let (mut br, _) = bridge(false, |v| {
        for (x, r) in [(0, r10), (1, r11)] {
            v[x].rules = VethRules {
                vlan: VlanMode::Access(5),
                ..r
            };
        }
    });
    for round in 0..2 {
        let want = run(&mut plain, 0, &burst, 4);
        let got = run(&mut br, 0, &burst, 4);
        for p in 0..4 {
            assert_eq!(got.frames(p), want.frames(p), "round {round} port {p}");
        }
        assert_eq!(got.drops(DropReason::AclDeny), 8, "round {round}");
        assert_eq!(want.drops(DropReason::AclDeny), 8, "round {round}");
        // One call per vEth for the first burst; then all hits.
        let calls =
            |c: &Arc<CountingClassifier>| c.calls.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!((calls(&c10), calls(&c11)), (1, 1), "round {round}");
    }
}

fn up10(f: &[u8]) -> Vec<u8> {
    insert_at12(f, &vntag(false, false, 0, false, 10))
}

#[test]
fn bridge_learns_and_hairpins_between_vifs_on_one_link() {
    let (mut br, learn) = bridge(false, |_| {});
    // VIF 11 speaks first so the bridge knows where MAC 11 is.
    let hello = eth(mac(1), mac(11), 0x0800, 64);
    let o = run(
        &mut br,
        0,
        &[insert_at12(&hello, &vntag(false, false, 0, false, 11))],
        4,
    );
    assert_eq!(learn.lookup(mac_u64(&mac(11)), 5), Some(1));
    // Unknown unicast flood (VLAN 5): VIF 10 copy on port 0, eth1, trunk
    // (tagged 5), VEPA; never back to VIF 11.
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&hello, &vntag(true, false, 10, false, 0))]
    );
    assert_eq!(o.frames(1), vec![hello.clone()]);
    assert_eq!(o.frames(2), vec![insert_at12(&hello, &ctag(0, 5))]);
    assert_eq!(o.frames(3), vec![hello.clone()]);
    // VIF 10 -> MAC 11: hairpin back down the same link to VIF 11.
    let f = eth(mac(11), mac(10), 0x0800, 64);
    let o = run(&mut br, 0, &[up10(&f)], 4);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&f, &vntag(true, false, 11, false, 0))]
    );
    assert_eq!(o.total_out(), 1);
    // VIF 11 -> its own MAC: same vEth.
    let o = run(
        &mut br,
        0,
        &[insert_at12(
            &eth(mac(11), mac(11), 0x0800, 64),
            &vntag(false, false, 0, false, 11),
        )],
        4,
    );
    assert_eq!(o.drops(DropReason::SameVeth), 1);
}

#[test]
fn bridge_flood_with_vif_list_sets_looped_and_src() {
    let (mut br, _) = bridge(true, |_| {});
    let bc = eth([0xff; 6], mac(10), 0x0806, 60);
    let o = run(&mut br, 0, &[up10(&bc)], 4);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&bc, &vntag(true, true, 300, true, 10))],
        "one copy with the list, the source pruned by l=1 src=10"
    );
    // From an ordinary port: one list copy without l.
    let bc1 = eth([0xff; 6], mac(1), 0x0806, 60);
    let o = run(&mut br, 1, std::slice::from_ref(&bc1), 4);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&bc1, &vntag(true, true, 300, false, 0))]
    );
    assert_eq!(o.frames(1).len(), 0, "not back to its own port");
    assert_eq!(o.frames(2), vec![insert_at12(&bc1, &ctag(0, 5))]);
}

#[test]
fn bridge_ordinary_port_vlan_retag_and_unicast() {
    let (mut br, _) = bridge(false, |_| {});
    // Learn MAC 1 on eth1 (VLAN 5), then the trunk sends to it tagged 5.
    run(&mut br, 1, &[eth([0xff; 6], mac(1), 0x0806, 60)], 4);
    let f = eth(mac(1), mac(3), 0x0800, 64);
    let o = run(&mut br, 2, &[insert_at12(&f, &ctag(0, 5))], 4);
    assert_eq!(o.frames(1), vec![f.clone()], "untagged on the access port");
    // Native VLAN 6 untagged: only the trunk is in VLAN 6 -> nothing.
    let o = run(&mut br, 2, std::slice::from_ref(&f), 4);
    assert_eq!(o.drops(DropReason::NoDestination), 1);
    // VLAN 7 is not allowed on the trunk.
    let o = run(&mut br, 2, &[insert_at12(&f, &ctag(0, 7))], 4);
    assert_eq!(o.drops(DropReason::VlanNotAllowed), 1);
    // To the extender VIF: untagged inside the VN-Tag, padded frames stay
    // as they are under the tag.
    run(&mut br, 0, &[up10(&eth([0xff; 6], mac(10), 0x0806, 60))], 4);
    let o = run(&mut br, 1, &[eth(mac(10), mac(1), 0x0800, 60)], 4);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(
            &eth(mac(10), mac(1), 0x0800, 60),
            &vntag(true, false, 10, false, 0)
        )]
    );
}

#[test]
fn bridge_reflective_relay_on_vepa_links() {
    let (mut br, _) = bridge(false, |_| {});
    // Two VMs behind the VEPA link: A (MAC 21) then B (MAC 22).
    run(&mut br, 3, &[eth([0xff; 6], mac(22), 0x0806, 60)], 4);
    let bc = eth([0xff; 6], mac(21), 0x0806, 60);
    let o = run(&mut br, 3, std::slice::from_ref(&bc), 4);
    assert_eq!(
        o.frames(3),
        vec![bc],
        "broadcast reflected back down the VEPA link"
    );
    let f = eth(mac(22), mac(21), 0x0800, 64);
    let o = run(&mut br, 3, std::slice::from_ref(&f), 4);
    assert_eq!(o.frames(3), vec![f], "unicast relayed back out of its port");
}

#[test]
fn bridge_mac_limit_and_classification_drops() {
    let (mut br, learn) = bridge(false, |v| v[2].rules.mac_limit = Some(1));
    let a = eth([0xff; 6], mac(1), 0x0806, 60);
    let b = eth([0xff; 6], mac(2), 0x0806, 60);
    let o = run(&mut br, 1, &[a.clone(), b, a], 4);
    assert_eq!(o.drops(DropReason::MacLimit), 1);
    assert_eq!(learn.count(2), 1);
    assert_eq!(o.frames(3).len(), 2);
    let inner = eth([0xff; 6], mac(5), 0x0806, 60);
    let o = run(
        &mut br,
        0,
        &[
            insert_at12(&inner, &vntag(false, false, 0, false, 99)),
            insert_at12(&inner, &vntag(true, false, 0, false, 10)),
            insert_at12(&inner, &vntag(false, true, 5, false, 10)),
            inner.clone(),
        ],
        4,
    );
    assert_eq!(o.total_out(), 0);
    for r in [
        DropReason::UnknownVif,
        DropReason::WrongDirection,
        DropReason::Malformed,
        DropReason::BadTpid,
    ] {
        assert_eq!(o.drops(r), 1, "{r}");
    }
    // Ageing removes the entry and frees the limit.
    let n = learn.entries().len();
    assert_eq!(learn.age(1000, 300, |_| false), n);
    assert_eq!(learn.count(2), 0);
}

#[test]
fn etag_bridge_link_list_uses_ingress_ecid() {
    let tables = link_bridge_tables(
        ExtKind::ETag,
        &[("e10", 0x10), ("e11", 0x11)],
        PortKind::Ordinary,
        ("eth1", 0),
        Some(0x1005),
    );
    let mut br = Bridge::new(
        tables.reader(),
        Arc::new(LearnTable::new(64, 4)),
        Kernels::scalar(),
        HZ,
        0,
    );
    let bc = eth([0xff; 6], mac(1), 0x0806, 60);
    let o = run(&mut br, 0, &[insert_at12(&bc, &etag(0, 0, 0, 0x10))], 2);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&bc, &etag(0, 0x10, 1, 0x005))]
    );
    assert_eq!(o.frames(1), vec![bc]);
}

#[test]
fn buffer_limits_are_drops_not_corruption() {
    let mut e = vn_extender(|_| {});
    let f = eth(mac(9), mac(1), 0x0800, 64);
    let mut vlan_cut = insert_at12(&f, &ctag(0, 5));
    vlan_cut.truncate(16);
    let pkts = vec![
        // Headers split over segments: 10 bytes in the first.
        TestBuf::chained(&f, 128, 64, 10),
        // No headroom for the 6-byte tag.
        TestBuf::new(&f, 2, 64),
        // A C-tag cut short.
        TestBuf::new(&vlan_cut, 128, 64),
        // A chained frame whose first segment holds everything needed.
        TestBuf::chained(&f, 128, 64, 60),
    ];
    let o = run_bufs(&mut e, 1, pkts, 5);
    assert_eq!(o.drops(DropReason::ChainedHeader), 1);
    assert_eq!(o.drops(DropReason::NoHeadroom), 1);
    assert_eq!(o.drops(DropReason::Truncated), 1);
    assert_eq!(
        o.frames(0),
        vec![insert_at12(&f, &vntag(false, false, 0, false, 10))]
    );
    // Downstream: stripped to 54 bytes, no tailroom to pad to 60.
    let short = insert_at12(
        &eth(mac(1), mac(9), 0x0800, 54),
        &vntag(true, false, 10, false, 0),
    );
    let o = run_bufs(&mut e, 0, vec![TestBuf::new(&short, 128, 0)], 5);
    assert_eq!((o.drops(DropReason::NoTailroom), o.total_out()), (1, 0));
}

#[test]
fn large_frames_are_replicated_by_reference() {
    let mut e = vn_extender(|_| {});
    let inner = eth([0xff; 6], mac(9), 0x0800, 1000);
    let tagged = insert_at12(&inner, &vntag(true, true, 100, false, 0));
    let mut sink = VecSink::new(5);
    sink.share_above = Some(256);
    let c = RoleCounters::new(5, 4);
    let mut pkts = vec![TestBuf::new(&tagged, 128, 64)];
    e.process(0, &mut pkts, &mut sink, 0, &c);
    for p in 1..=3 {
        assert_eq!(sink.out[p].len(), 1);
        assert_eq!(sink.out[p][0].frame(), &inner[..]);
    }
    // No replica can be made for the last two members.
    let mut sink = VecSink::new(5);
    sink.share_above = Some(256);
    sink.copies_left = Some(1);
    let mut pkts = vec![TestBuf::new(&tagged, 128, 64)];
    e.process(0, &mut pkts, &mut sink, 0, &c);
    assert_eq!(sink.out.iter().map(Vec::len).sum::<usize>(), 1);
    assert_eq!(c.drop(DropReason::NoMbuf).get(), 2);
}

// ------------------------------------------------------ robustness (proptest)

/// A frame from a small universe of MACs, tags and EtherTypes, with random
/// tag fields and length, or plain random bytes.
fn arb_frame() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, usize, usize, Option<usize>)>
{
    use proptest::prelude::*;
    let tpids = prop::sample::select(vec![
        0x8926u16, 0x893f, 0x88a8, 0x9100, 0x8100, 0x0800, 0x86dd, 0x0806, 0x1234,
    ]);
    (
        prop::sample::select(vec![1u8, 2, 3, 10, 11, 21, 0xff]),
        prop::sample::select(vec![1u8, 2, 3, 10, 11, 21, 0xff]),
        tpids.clone(),
        tpids,
        any::<[u8; 8]>(),
        0usize..120,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..40),
        (0usize..160, 0usize..80, prop::option::of(0usize..80)),
    )
        .prop_map(|(d, s, t1, t2, tci, len, raw, bytes, (head, tail, seg))| {
            let f = if raw {
                bytes
            } else {
                let mut f = if d == 0xff {
                    vec![0xff; 6]
                } else {
                    mac(d).to_vec()
                };
                f.extend_from_slice(&mac(s));
                f.extend_from_slice(&t1.to_be_bytes());
                f.extend_from_slice(&tci[..6]);
                f.extend_from_slice(&t2.to_be_bytes());
                f.extend_from_slice(&tci[6..]);
                f.resize(len.max(14), 0x5a);
                f.truncate(len);
                f
            };
            (f, head, tail, seg)
        })
}

fn robust<P: Pipeline<TestBuf>>(
    p: &mut P,
    ports: usize,
    port: u16,
    frames: &[(Vec<u8>, usize, usize, Option<usize>)],
) {
    let mut pkts: Vec<TestBuf> = frames
        .iter()
        .map(|(f, h, t, seg)| match seg {
            Some(s) => TestBuf::chained(f, *h, *t, *s),
            None => TestBuf::new(f, *h, *t),
        })
        .collect();
    let n = pkts.len() as u64;
    let mut sink = VecSink::new(ports);
    let c = RoleCounters::new(ports, 8);
    p.quiescent(0);
    p.process(port, &mut pkts, &mut sink, 0, &c);
    assert!(pkts.is_empty());
    let out = sink.out.iter().map(Vec::len).sum::<usize>() as u64;
    let drops: u64 = DropReason::ALL.iter().map(|r| c.drop(*r).get()).sum();
    assert!(
        out + drops >= n,
        "{n} in, {out} out, {drops} dropped: a frame vanished"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any input on any port of any role: no panic, every frame is sent or
    /// counted.
    #[test]
    fn roles_survive_arbitrary_frames(frames in proptest::collection::vec(arb_frame(), 1..32), port in 0u16..5) {
        let mut e = vn_extender(|v| {
            v[1].rules.acl = vec![CompiledRule::compile(&AclRule { action: Action::Deny, protocol: Some(6), ..AclRule::default() }).unwrap()];
            v[2].rules.vlan = VlanMode::Trunk { allowed: VlanSet::of([1, 2]), native: Some(3) };
        });
        robust(&mut e, 5, port, &frames);
        robust(&mut e_extender(), 4, port % 4, &frames);
        robust(&mut station(true), 4, port % 4, &frames);
        robust(&mut station(false), 4, port % 4, &frames);
        robust(&mut bridge(true, |_| {}).0, 4, port % 4, &frames);
        robust(&mut bridge(false, |v| v[0].rules.pcp = Some(7)).0, 4, port % 4, &frames);
    }
}

/// An upstream frame from a small universe, so that flows repeat within
/// and across bursts: MACs, an optional C-tag, IPv4 (with or without
/// options, fragments) or another EtherType, addresses, protocol, ports,
/// the IPv4 fields no rule reads (TOS, id, TTL, checksum) random, cut
/// short or chained at random.
fn arb_upstream() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, Option<usize>)> {
    use proptest::prelude::*;
    let sel = |v: Vec<u8>| prop::sample::select(v);
    (
        // Two common values for most fields: frames that differ in one
        // field only are frequent, so a field missing from the cached key
        // shows.
        (sel(vec![9, 9, 8, 0xff]), sel(vec![1, 1, 2, 0x81])),
        prop_oneof![6 => Just(None), 1 => prop::sample::select(vec![0u16, 1, 5, 20]).prop_map(Some)],
        prop::sample::select(vec![0x0800u16, 0x0800, 0x0800, 0x0800, 0x86dd, 0x0806]),
        (sel(vec![0x45, 0x45, 0x45, 0x46, 0x55]), sel(vec![0, 0x21, 0, 0x40])),
        (sel(vec![17, 6]), sel(vec![0, 2]), sel(vec![0, 1])),
        (sel(vec![1, 3]), sel(vec![1, 3])),
        any::<[u8; 6]>(),
        prop_oneof![4 => Just(None), 1 => (0usize..64).prop_map(Some)],
        prop_oneof![6 => Just(None), 1 => (0usize..64).prop_map(Some)],
    )
        .prop_map(
            |((d, s), vid, et, (ver, frag), (proto, sip, dip), (sp, dp), noise, cut, seg)| {
                let dst = if d == 0xff {
                    [0x06, 0xff, 0xff, 0xff, 0xff, 0xff]
                } else {
                    mac(d)
                };
                let src = if s == 0x81 {
                    [0x03, 0, 0, 0, 0, 1]
                } else {
                    mac(s)
                };
                let mut f = dst.to_vec();
                f.extend_from_slice(&src);
                if let Some(v) = vid {
                    f.extend_from_slice(&ctag(noise[0] >> 5, v));
                }
                f.extend_from_slice(&et.to_be_bytes());
                let ports = [53u16, 5001, 6000, 8000, 1024];
                let ips = [
                    [10, 0, 0, 1],
                    [10, 1, 2, 3],
                    [198, 18, 0, 5],
                    [198, 19, 0, 1],
                ];
                let mut ip = vec![ver, noise[1], 0, 46, noise[2], noise[3], frag, 0, noise[4]];
                ip.extend_from_slice(&[proto, noise[5], noise[0]]);
                ip.extend_from_slice(&ips[usize::from(sip)]);
                ip.extend_from_slice(&ips[usize::from(dip) + 1]);
                ip.resize(usize::from(ver & 0xf) * 4, 0);
                ip.extend_from_slice(&ports[usize::from(sp)].to_be_bytes());
                ip.extend_from_slice(&ports[usize::from(dp)].to_be_bytes());
                f.extend_from_slice(&ip);
                f.resize(64, 0);
                if let Some(n) = cut {
                    f.truncate(n);
                }
                (f, seg)
            },
        )
}

/// Changes one field of an upstream frame (when it has it): 0..=5
/// nothing; 6 the IPv4 TOS, id, TTL and checksum (no rule reads them); 7
/// whether it is a fragment; 8 TCP <-> UDP; 9 the source port; 10 the
/// destination port; 11 the source MAC.
fn tweak(f: &mut [u8], t: u8, x: u8) {
    let l3 = if f.len() >= 18 && f[12..14] == [0x81, 0x00] {
        18
    } else {
        14
    };
    let ihl = f.get(l3).map_or(20, |b| usize::from(b & 0xf) * 4);
    let mut set = |o: usize, v: u8| {
        if let Some(b) = f.get_mut(o) {
            *b = v;
        }
    };
    match t {
        6 => {
            for o in [1, 4, 5, 8, 10, 11] {
                set(l3 + o, x.wrapping_add(o as u8));
            }
        }
        7 => set(l3 + 6, if x & 1 == 0 { 0x21 } else { 0 }),
        8 => set(l3 + 9, if x & 1 == 0 { 6 } else { 17 }),
        9 => set(l3 + ihl + 1, x),
        10 => set(l3 + ihl + 3, if x & 1 == 0 { 0x89 } else { x }),
        11 => set(11, x),
        _ => {}
    }
}

/// Rules for one vEth from a small universe: anti-spoof, VLAN mode, admin
/// state and an ACL of rules on MACs, EtherType, VLAN, prefixes, protocol
/// and ports.
fn arb_veth_rules() -> impl proptest::strategy::Strategy<Value = VethRules> {
    use proptest::prelude::*;
    let ip = |a: [u8; 4], p: u8| Some((std::net::IpAddr::from(a), p));
    let pool = vec![
        AclRule {
            action: Action::Deny,
            src_ip: ip([10, 0, 0, 0], 16),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Deny,
            protocol: Some(6),
            dst_port: Some((8000, 8000)),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Permit,
            protocol: Some(17),
            dst_port: Some((5001, 5001)),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Deny,
            dst_mac: Some((mac(8), [0xff; 6])),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Deny,
            ethertype: Some(0x0806),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Deny,
            vlan: Some((20, 20)),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Permit,
            dst_ip: ip([198, 19, 0, 0], 16),
            src_port: Some((1000, 6000)),
            ..AclRule::default()
        },
        AclRule {
            action: Action::Deny,
            protocol: Some(17),
            ..AclRule::default()
        },
    ];
    (
        prop::sample::subsequence(pool, 0..6).prop_shuffle(),
        any::<bool>(),
        prop_oneof![2 => Just(true), 1 => Just(false)].prop_map(|b| b),
        0u8..3,
        prop_oneof![5 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(acl, deny_default, spoof, vlan, up)| VethRules {
            admin_up: up,
            allowed_macs: spoof.then(|| vec![mac(1)]),
            vlan: match vlan {
                0 => VlanMode::Any,
                1 => VlanMode::Access(5),
                _ => VlanMode::Trunk {
                    allowed: VlanSet::of([1, 20]),
                    native: Some(5),
                },
            },
            acl: acl
                .iter()
                .map(|r| CompiledRule::compile(r).unwrap())
                .collect(),
            acl_default: if deny_default {
                Action::Deny
            } else {
                Action::Permit
            },
            ..VethRules::default()
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Upstream on the extender and the station, with the whole verdict of
    /// common frames cached: three rounds of the same burst (the first
    /// fills the caches, the others hit them) send exactly the frames that
    /// the rules accept one by one, uncached, and drop the others under
    /// the rules' reason.
    #[test]
    fn upstream_verdicts_equal_the_rules_on_each_frame(
        rules in arb_veth_rules(),
        bases in proptest::collection::vec(arb_upstream(), 1..5),
        picks in proptest::collection::vec((0usize..5, 0u8..12, proptest::prelude::any::<u8>()), 1..32),
    ) {
        // Each frame of the burst is a base frame or a base frame with one
        // field changed: one that no rule reads (the cached verdict must
        // hold), or one that a rule may read (it must not).
        let frames: Vec<(Vec<u8>, Option<usize>)> = picks
            .iter()
            .map(|&(i, t, x)| {
                let (mut f, seg) = bases[i % bases.len()].clone();
                tweak(&mut f, t, x);
                (f, seg)
            })
            .collect();
        let bufs = || -> Vec<TestBuf> {
            frames.iter().map(|(f, seg)| match seg {
                Some(s) => TestBuf::chained(f, 128, 64, *s),
                None => TestBuf::new(f, 128, 64),
            }).collect()
        };
        let need = if rules.acl.is_empty() { 18 } else { 82 };
        let expected: Vec<Result<u16, DropReason>> = bufs().iter().map(|b| {
            let d = b.data();
            if !b.is_contiguous() && d.len() < b.pkt_len().min(need) {
                return Err(DropReason::ChainedHeader);
            }
            rules::classify(d).and_then(|l2| rules.ingress(d, &l2))
        }).collect();
        let accepted = expected.iter().filter(|r| r.is_ok()).count();
        let mut e = vn_extender(|v| v[0].rules = rules.clone());
        let mut s = station_with(false, |v| v[0].rules = rules.clone());
        for round in 0..3 {
            for (name, o, up) in [
                ("extender", run_bufs(&mut e, 1, bufs(), 5), 0),
                ("station", run_bufs(&mut s, 1, bufs(), 4), 0),
            ] {
                proptest::prop_assert_eq!(o.sink.out[up].len(), accepted, "{} round {}", name, round);
                for r in DropReason::ALL {
                    let want = expected.iter().filter(|x| **x == Err(r)).count() as u64;
                    proptest::prop_assert_eq!(o.drops(r), want, "{} round {}: {}", name, round, r.name());
                }
            }
        }
    }
}

#[test]
fn egress_acl_on_frames_towards_the_vm() {
    let deny_arp = || {
        vec![
            CompiledRule::compile(&AclRule {
                action: Action::Deny,
                ethertype: Some(0x0806),
                ..AclRule::default()
            })
            .unwrap(),
        ]
    };
    let mut e = vn_extender(|v| v[1].rules.egress_acl = deny_arp());
    let arp = eth([0xff; 6], mac(9), 0x0806, 60);
    let ip = eth(mac(2), mac(9), 0x0800, 60);
    let o = run(
        &mut e,
        0,
        &[
            insert_at12(&arp, &vntag(true, true, 100, false, 0)),
            insert_at12(&ip, &vntag(true, false, 11, false, 0)),
        ],
        5,
    );
    assert_eq!(
        (o.frames(1).len(), o.frames(2), o.frames(3).len()),
        (1, vec![ip], 1)
    );
    assert_eq!(o.drops(DropReason::AclDeny), 1);
    assert_eq!(o.c.veth(1).drops[DropReason::AclDeny.index()].get(), 1);
    // Bridge: eth1 (port 1) takes no ARP; the flood still reaches the rest.
    let (mut br, _) = bridge(false, |v| v[2].rules.egress_acl = deny_arp());
    let o = run(&mut br, 3, std::slice::from_ref(&arp), 4);
    assert_eq!((o.frames(1).len(), o.frames(2).len()), (0, 1));
    assert_eq!(o.drops(DropReason::AclDeny), 1);
    // Station: VM 2 takes no ARP.
    let mut b = TablesBuilder::new(
        Role::Station {
            multichannel: false,
        },
        3,
    );
    b.port(0, PortKind::Uplink);
    let mut v = VethConfig::new("vm1", 1, 0);
    v.macs = vec![mac(1)];
    b.veth(v);
    let mut v = VethConfig::new("vm2", 2, 0);
    v.rules.egress_acl = deny_arp();
    b.veth(v);
    let mut s = Station::new(
        Rcu::new(b.build().unwrap()).reader(),
        Kernels::scalar(),
        HZ,
        0,
    );
    let o = run(&mut s, 0, &[eth([0xff; 6], mac(9), 0x0806, 60)], 3);
    assert_eq!(
        (
            o.frames(1).len(),
            o.frames(2).len(),
            o.drops(DropReason::AclDeny)
        ),
        (1, 0, 1)
    );
}

#[test]
fn learned_once_anti_spoof_survives_a_publication() {
    let build = |sticky: Option<Arc<StickyMacs>>| {
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
        b.port(0, PortKind::Uplink);
        let mut v = VethConfig::new("a", 1, 10);
        v.rules.learn_once = true;
        b.veth(v);
        if let Some(s) = sticky {
            b.sticky_macs(s);
        }
        b.build().unwrap()
    };
    let rcu = Rcu::new(build(None));
    let mut e = Extender::new(rcu.reader(), Kernels::scalar(), HZ, 0);
    let from = |m: u8| eth(mac(9), mac(m), 0x0800, 64);
    let o = run(&mut e, 1, &[from(1), from(2), from(1)], 2);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::MacSpoof)), (2, 1));
    assert_eq!(
        rcu.load().sticky().get(0),
        Some(vfex_dataplane::wire::EthernetAddress(mac(1)))
    );
    // Carried into the next set: still MAC 1 only.
    let sticky = rcu.load().sticky().clone();
    rcu.publish(build(Some(sticky.clone())));
    let o = run(&mut e, 1, &[from(2)], 2);
    assert_eq!(o.drops(DropReason::MacSpoof), 1);
    // Cleared by the control plane: the next MAC claims it.
    sticky.clear(0);
    let o = run(&mut e, 1, &[from(2), from(1)], 2);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::MacSpoof)), (1, 1));
    // With a list too: listed MACs pass and do not claim; one other MAC
    // is learned.
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
    b.port(0, PortKind::Uplink);
    let mut v = VethConfig::new("a", 1, 10);
    v.rules.learn_once = true;
    v.rules.allowed_macs = Some(vec![mac(5)]);
    b.veth(v);
    rcu.publish(b.build().unwrap());
    let o = run(&mut e, 1, &[from(5), from(6), from(5), from(7)], 2);
    assert_eq!((o.frames(0).len(), o.drops(DropReason::MacSpoof)), (3, 1));
    // A set built without the old claims starts afresh.
    rcu.publish(build(None));
    let o = run(&mut e, 1, &[from(3)], 2);
    assert_eq!(o.frames(0).len(), 1);
}
