//! VEPA station (802.1Qbg, `PROTOCOLS.md`): basic or multichannel.
//!
//! VM -> uplink: header checks and the tag-injection guard, the vEth's
//! ingress rules, mirror; multichannel: the burst encap kernel pushes the
//! channel's S-tag. Always to the uplink, never delivered locally.
//!
//! Uplink -> VMs: multichannel: the S-tag is checked and stripped (decap
//! kernel, padded to 60) and selects the channel; basic: channel 0, and a
//! frame with an S-tag or extender tag is dropped (`bad_tpid`).
//! Unicast goes to the VM owning the destination MAC on that channel
//! (`no_mac`); broadcast/multicast to every vEth of the channel except the
//! one owning the source MAC, the reflection filter (`reflection` when the
//! sender was the only member). Each copy passes the vEth's egress check
//! (admin state, VLAN mode, egress ACL). A VM is found by (channel, MAC): two VMs with
//! one MAC in different VLANs of one channel are not told apart.

use super::{
    BURST, Common, Pipeline, Pkts, RoleCounters, Sink, count_drop, extender::drop_all,
    ingress_burst, mirror, replicate, to_vm,
};
use crate::drop::DropReason;
use crate::kernels::{Disposition, Kernels, PacketBuf, STag, TagHeader};
use crate::tables::{PortKind, RcuReader, Role, Tables, mac_u64};
use crate::wire::EtherType;

/// The VEPA station pipeline of one worker.
#[derive(Debug)]
pub struct Station {
    common: Common,
    veth: [u16; BURST],
    verdict: [Disposition; BURST],
    next: [Disposition; BURST],
    smeta: [TagHeader<STag>; BURST],
}

impl Station {
    /// A pipeline reading `tables` (role [`Role::Station`]).
    pub fn new(tables: RcuReader<Tables>, kernels: Kernels, hz: u64, now: u64) -> Station {
        Station {
            common: Common::new(tables, kernels, hz, now),
            veth: [0; BURST],
            verdict: [Disposition::Ok; BURST],
            next: [Disposition::Ok; BURST],
            smeta: [TagHeader::default(); BURST],
        }
    }
}

/// Delivers one frame from the uplink on channel `svid`.
#[inline(always)]
fn deliver<B: PacketBuf, S: Sink<B>>(t: &Tables, svid: u16, b: B, sink: &mut S, c: &RoleCounters) {
    let d = b.data();
    if d.len() < 14 {
        return count_drop(c, None, DropReason::Runt);
    }
    if d[0] & 1 == 0 {
        match t.station_mac(svid, mac_u64(&d[0..6])) {
            Some(v) => to_vm(t, sink, c, b, v),
            None => count_drop(c, None, DropReason::NoMac),
        }
        return;
    }
    let owner = t.station_mac(svid, mac_u64(&d[6..12]));
    let members = t.channel(svid);
    let dests = members.iter().copied().filter(|m| Some(*m) != owner);
    if replicate(b, dests, sink, c, |s, b, v| to_vm(t, s, c, b, v)) == 0 {
        let r = if owner.is_some() {
            DropReason::Reflection
        } else {
            DropReason::NoDestination
        };
        count_drop(c, owner, r);
    }
}

impl<B: PacketBuf> Pipeline<B> for Station {
    const NAME: &'static str = "station";

    fn process<P: Pkts<B>, S: Sink<B>>(
        &mut self,
        rx_port: u16,
        pkts: &mut P,
        sink: &mut S,
        now: u64,
        c: &RoleCounters,
    ) {
        let t = self.common.tables.get();
        let Role::Station { multichannel } = t.role() else {
            return drop_all(pkts, c, DropReason::WrongPort);
        };
        match t.port_kind(rx_port) {
            PortKind::Vm => {
                let Some(v) = t.port_veth(rx_port) else {
                    return drop_all(pkts, c, DropReason::UnknownVif);
                };
                let veth = &t.veths()[usize::from(v)];
                ingress_burst(
                    pkts.slice(),
                    (v, veth),
                    t.sticky(),
                    self.common.meters.get_mut(usize::from(v)),
                    &mut self.common.acl,
                    now,
                    c,
                    &mut self.verdict,
                    |b| mirror(b, veth, sink, c),
                );
                let verdict = &self.verdict;
                pkts.retain_mut(|i, _| match verdict[i] {
                    Disposition::Ok => true,
                    Disposition::Drop(r) => {
                        count_drop(c, Some(v), r);
                        false
                    }
                });
                let up = t.uplink();
                if multichannel {
                    let n = pkts.slice().len();
                    self.veth[..n].fill(v);
                    self.common.kernels.encap(
                        pkts.slice(),
                        &self.veth[..n],
                        &t.stag,
                        &mut self.next[..n],
                    );
                    let next = &self.next;
                    pkts.drain_each(|i, b| match next[i] {
                        Disposition::Ok => sink.send(up, b),
                        Disposition::Drop(r) => count_drop(c, Some(v), r),
                    });
                } else {
                    pkts.drain_each(|_, b| sink.send(up, b));
                }
            }
            PortKind::Uplink => {
                if multichannel {
                    let n = pkts.slice().len();
                    self.common.kernels.decap::<STag, _>(
                        pkts.slice(),
                        &mut self.smeta[..n],
                        &mut self.next[..n],
                        true,
                    );
                    let (next, meta) = (&self.next, &self.smeta);
                    pkts.drain_each(|i, b| match next[i] {
                        Disposition::Ok => deliver(t, meta[i].svid(), b, sink, c),
                        Disposition::Drop(r) => count_drop(c, None, r),
                    });
                } else {
                    pkts.drain_each(|_, b| {
                        // A basic station's uplink carries no S-tag or
                        // extender tag: never hand one to a VM.
                        let d = b.data();
                        if d.len() >= 14 {
                            let outer = EtherType(u16::from_be_bytes([d[12], d[13]]));
                            if outer.is_stag() || outer.is_extender_tag() {
                                return count_drop(c, None, DropReason::BadTpid);
                            }
                        }
                        deliver(t, 0, b, sink, c)
                    });
                }
            }
            _ => drop_all(pkts, c, DropReason::WrongPort),
        }
    }

    fn quiescent(&mut self, now: u64) {
        self.common.quiescent(now);
    }
}
