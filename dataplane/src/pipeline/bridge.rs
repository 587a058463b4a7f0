//! Controlling bridge (switch side, `PROTOCOLS.md`).
//!
//! Per frame:
//! 1. Classify to a vEth: on an extender link, the burst decap kernel
//!    strips the tag (padded to 60) and the vEth is (port, VIF `src`) /
//!    (port, E-CID) (`unknown_vif`; a downstream VN-Tag `d=1` is
//!    `wrong_direction`, a VIF-list or multicast tag `malformed`); on a
//!    multichannel VEPA link, (port, S-VID); on a basic VEPA link or an
//!    ordinary port, the port's vEth.
//! 2. Ingress rules of that vEth (admin, VLAN, anti-spoof, ACL, policer,
//!    PCP; a vEth with an ACL classifier has its cache misses in the burst
//!    decided in one call first), mirror, then learn (source MAC, VLAN) -> vEth in the shared
//!    [`LearnTable`] (`mac_limit` when the vEth is at its limit).
//! 3. Look the destination up: a learned unicast MAC goes to its vEth, but
//!    never back to the vEth it came from (`same_veth`) unless that vEth is
//!    on a VEPA link (reflective relay). Anything else is flooded over the
//!    VLAN's [`FloodGroup`](crate::tables::FloodGroup)s: one copy per link
//!    with a programmed list (VN-Tag `p=1 dst=<list>`, and `l=1
//!    src=<source VIF>` when the source is on that link; E-Tag multicast
//!    E-CID with Ingress_E-CID = the source's E-CID), else one copy per
//!    member vEth other than the source (the source too on a VEPA link).
//! 4. Egress per destination vEth: admin state and VLAN mode (tag, untag
//!    or re-tag the C-tag), egress ACL, mirror, then the vEth's downstream tag
//!    (`d=1 p=0 dst=<VIF>`, E-CID, S-tag) or none (ordinary / basic VEPA,
//!    padded to 60).
//!
//! Replicas are copies made by the [`Sink`]; the original goes to the last
//! destination.

use std::sync::Arc;

use super::{
    BURST, Common, Pipeline, Pkts, RoleCounters, Sink, count_drop, ctag_vid, extender::drop_all,
    ingress, mirror, pad60, replicate, set_ctag,
};
use crate::drop::DropReason;
use crate::kernels::{
    Disposition, ETag, Kernels, PacketBuf, STag, TagBytes, TagHeader, TagKind, VnTag,
};
use crate::tables::{
    AclCache, AclProbe, EgressTag, ExtKind, LearnTable, Learned, NO_VETH, PortKind, RcuReader,
    Role, Tables, mac_u64,
};
use crate::wire::{ETagRepr, VnTagRepr};

/// The controlling-bridge pipeline of one worker.
#[derive(Debug)]
pub struct Bridge {
    common: Common,
    learn: Arc<LearnTable>,
    src: [u16; BURST],
    next: [Disposition; BURST],
    vmeta: [TagHeader<VnTag>; BURST],
    emeta: [TagHeader<ETag>; BURST],
    smeta: [TagHeader<STag>; BURST],
}

impl Bridge {
    /// A pipeline reading `tables` (role [`Role::Bridge`]) and learning
    /// into `learn` (shared by every worker).
    pub fn new(
        tables: RcuReader<Tables>,
        learn: Arc<LearnTable>,
        kernels: Kernels,
        hz: u64,
        now: u64,
    ) -> Bridge {
        Bridge {
            common: Common::new(tables, kernels, hz, now),
            learn,
            src: [NO_VETH; BURST],
            next: [Disposition::Ok; BURST],
            vmeta: [TagHeader::default(); BURST],
            emeta: [TagHeader::default(); BURST],
            smeta: [TagHeader::default(); BURST],
        }
    }

    /// The learned MAC table.
    pub fn learn_table(&self) -> &Arc<LearnTable> {
        &self.learn
    }
}

/// Where one copy goes.
#[derive(Debug, Clone, Copy)]
enum Dest {
    Veth(u16),
    /// One copy with the list of flood group `n`.
    List(u16),
}

/// Pushes `tag` on one packet with the encap kernel.
#[inline(always)]
fn push_one<K: TagKind, B: PacketBuf>(
    k: Kernels,
    b: &mut B,
    table: &[TagBytes<K>],
    idx: u16,
) -> Disposition {
    let mut next = [Disposition::Ok];
    k.encap(std::slice::from_mut(b), &[idx], table, &mut next);
    next[0]
}

/// Egress to vEth `dv` of a frame in `vlan`.
#[inline]
fn to_veth<B: PacketBuf, S: Sink<B>>(
    t: &Tables,
    k: Kernels,
    sink: &mut S,
    c: &RoleCounters,
    mut b: B,
    dv: u16,
    vlan: u16,
) {
    let veth = &t.veths()[usize::from(dv)];
    let tag = match veth.cfg.rules.egress(vlan) {
        Ok(tag) => tag,
        Err(r) => return count_drop(c, Some(dv), r),
    };
    let cur = ctag_vid(b.data());
    if let Err(r) =
        set_ctag(&mut b, cur, tag).and_then(|()| veth.cfg.rules.egress_acl(b.data(), vlan))
    {
        return count_drop(c, Some(dv), r);
    }
    mirror(&b, veth, sink, c);
    let d = match t.port_kind(veth.cfg.port) {
        PortKind::ExtenderLink(ExtKind::VnTag) => push_one(k, &mut b, &t.vntag_down, dv),
        PortKind::ExtenderLink(ExtKind::ETag) => push_one(k, &mut b, &t.etag_down, dv),
        PortKind::VepaLink { multichannel: true } => push_one(k, &mut b, &t.stag, dv),
        _ => match pad60(&mut b) {
            Ok(()) => Disposition::Ok,
            Err(r) => Disposition::Drop(r),
        },
    };
    match d {
        Disposition::Ok => {
            c.veth(dv).tx(b.pkt_len());
            sink.send(veth.cfg.port, b);
        }
        Disposition::Drop(r) => count_drop(c, Some(dv), r),
    }
}

/// One copy to flood group `gi`'s link with its list tag.
#[allow(clippy::too_many_arguments)]
#[inline]
fn to_list<B: PacketBuf, S: Sink<B>>(
    t: &Tables,
    k: Kernels,
    sink: &mut S,
    c: &RoleCounters,
    mut b: B,
    gi: u16,
    vlan: u16,
    src: u16,
) {
    let g = &t.flood(vlan)[usize::from(gi)];
    let Some(list) = g.list else { return };
    let tag = if list.untagged {
        EgressTag::Untagged
    } else {
        EgressTag::Tagged(vlan)
    };
    let cur = ctag_vid(b.data());
    if let Err(r) = set_ctag(&mut b, cur, tag) {
        return count_drop(c, None, r);
    }
    let sv = &t.veths()[usize::from(src)];
    let on_link = sv.cfg.port == g.port;
    let src_id = if on_link { sv.cfg.id } else { 0 };
    let d = match g.ext {
        Some(ExtKind::VnTag) => {
            let tag = TagBytes::vntag(&VnTagRepr {
                direction: true,
                pointer: true,
                dst: list.id,
                looped: on_link,
                src: src_id,
                ..VnTagRepr::default()
            });
            push_one::<VnTag, _>(k, &mut b, &[tag], 0)
        }
        Some(ExtKind::ETag) => {
            let tag = TagBytes::etag(&ETagRepr {
                grp: (list.id >> 12) as u8,
                ecid_base: list.id & 0x0fff,
                ingress_ecid_base: src_id & 0x0fff,
                ..ETagRepr::default()
            });
            push_one::<ETag, _>(k, &mut b, &[tag], 0)
        }
        None => Disposition::Drop(DropReason::Malformed),
    };
    match d {
        Disposition::Ok => sink.send(g.port, b),
        Disposition::Drop(r) => count_drop(c, None, r),
    }
}

impl<B: PacketBuf> Pipeline<B> for Bridge {
    const NAME: &'static str = "bridge";

    fn process<P: Pkts<B>, S: Sink<B>>(
        &mut self,
        rx_port: u16,
        pkts: &mut P,
        sink: &mut S,
        now: u64,
        c: &RoleCounters,
    ) {
        let t = self.common.tables.get();
        if t.role() != Role::Bridge {
            return drop_all(pkts, c, DropReason::WrongPort);
        }
        let k = self.common.kernels;
        let n = pkts.slice().len();
        let (src, next) = (&mut self.src, &mut self.next);
        // 1. Classify to the source vEth.
        match t.port_kind(rx_port) {
            PortKind::ExtenderLink(ExtKind::VnTag) => {
                k.decap::<VnTag, _>(pkts.slice(), &mut self.vmeta[..n], &mut next[..n], true);
                for i in 0..n {
                    let m = self.vmeta[i].decode();
                    src[i] = NO_VETH;
                    if next[i].is_ok() {
                        next[i] = if m.direction {
                            Disposition::Drop(DropReason::WrongDirection)
                        } else if m.pointer {
                            Disposition::Drop(DropReason::Malformed)
                        } else {
                            match t.by_id(rx_port, m.src) {
                                Some(v) => {
                                    src[i] = v;
                                    Disposition::Ok
                                }
                                None => Disposition::Drop(DropReason::UnknownVif),
                            }
                        };
                    }
                }
            }
            PortKind::ExtenderLink(ExtKind::ETag) => {
                k.decap::<ETag, _>(pkts.slice(), &mut self.emeta[..n], &mut next[..n], true);
                for i in 0..n {
                    let m = self.emeta[i].decode();
                    src[i] = NO_VETH;
                    if next[i].is_ok() {
                        next[i] = if m.grp != 0 {
                            Disposition::Drop(DropReason::Malformed)
                        } else {
                            match t.by_id(rx_port, m.ecid) {
                                Some(v) => {
                                    src[i] = v;
                                    Disposition::Ok
                                }
                                None => Disposition::Drop(DropReason::UnknownVif),
                            }
                        };
                    }
                }
            }
            PortKind::VepaLink { multichannel: true } => {
                k.decap::<STag, _>(pkts.slice(), &mut self.smeta[..n], &mut next[..n], true);
                for i in 0..n {
                    src[i] = NO_VETH;
                    if next[i].is_ok() {
                        match t.by_id(rx_port, self.smeta[i].svid()) {
                            Some(v) => src[i] = v,
                            None => next[i] = Disposition::Drop(DropReason::UnknownVif),
                        }
                    }
                }
            }
            PortKind::VepaLink {
                multichannel: false,
            }
            | PortKind::Ordinary => {
                let Some(v) = t.port_veth(rx_port) else {
                    return drop_all(pkts, c, DropReason::UnknownVif);
                };
                src[..n].fill(v);
                next[..n].fill(Disposition::Ok);
            }
            _ => return drop_all(pkts, c, DropReason::WrongPort),
        }
        // 1b. Long ACLs (vEths with a classifier): each such vEth's cache
        // misses in this burst are decided in one call.
        let probes = t.has_classifiers().then(|| {
            let mut probes = [None; BURST];
            resolve_per_veth(
                t,
                pkts.slice(),
                &self.src,
                &self.next,
                &mut probes,
                &mut self.common.acl,
            );
            probes
        });
        // 2-4. Per frame: rules, learn, look up, forward.
        let now_s = (now / self.common.hz.max(1)) as u32;
        let meters = &mut self.common.meters;
        let learn = &*self.learn;
        let (src, next) = (&self.src, &self.next);
        let acl = &mut self.common.acl;
        pkts.drain_each(|i, mut b| {
            if let Disposition::Drop(r) = next[i] {
                return count_drop(c, None, r);
            }
            let v = src[i];
            let veth = &t.veths()[usize::from(v)];
            let vlan = match ingress(
                &mut b,
                (v, veth),
                t.sticky(),
                meters.get_mut(usize::from(v)),
                (acl, probes.as_ref().and_then(|p| p[i].as_ref())),
                None,
                now,
            ) {
                Ok((vlan, _)) => vlan,
                Err(r) => return count_drop(c, Some(v), r),
            };
            c.veth(v).rx(b.pkt_len());
            mirror(&b, veth, sink, c);
            let d = b.data();
            let smac = mac_u64(&d[6..12]);
            if d[6] & 1 == 0 {
                let limit = veth.cfg.rules.mac_limit.unwrap_or(u32::MAX);
                if learn.learn(smac, vlan, v, now_s, limit) == Learned::Limit {
                    return count_drop(c, Some(v), DropReason::MacLimit);
                }
            }
            let relay = veth.reflective_relay;
            if d[0] & 1 == 0
                && let Some(dv) = learn
                    .lookup(mac_u64(&d[0..6]), vlan)
                    .filter(|dv| usize::from(*dv) < t.veths().len())
            {
                if dv == v && !relay {
                    return count_drop(c, Some(v), DropReason::SameVeth);
                }
                return to_veth(t, k, sink, c, b, dv, vlan);
            }
            let groups = t.flood(vlan);
            // Per group: one list copy if some member is not the source,
            // or one copy per member other than the source.
            let dests = groups.iter().enumerate().flat_map(|(gi, g)| {
                let (list, each): (bool, &[u16]) = match g.list {
                    Some(_) => (g.members.iter().any(|m| *m != v || relay), &[]),
                    None => (false, &g.members),
                };
                list.then_some(Dest::List(gi as u16)).into_iter().chain(
                    each.iter()
                        .filter(move |m| **m != v || relay)
                        .map(|m| Dest::Veth(*m)),
                )
            });
            let sent = replicate(b, dests, sink, c, |s, b, dest| match dest {
                Dest::Veth(dv) => to_veth(t, k, s, c, b, dv, vlan),
                Dest::List(gi) => to_list(t, k, s, c, b, gi, vlan, v),
            });
            if sent == 0 {
                count_drop(c, Some(v), DropReason::NoDestination);
            }
        });
    }

    fn quiescent(&mut self, now: u64) {
        self.common.quiescent(now);
    }
}

/// Probes the frames of vEths that have an ACL classifier and, per such
/// vEth, lets [`crate::tables::VethRules::acl_resolve`] decide its misses
/// in one call (a bridge burst mixes vEths; frames of other vEths get no
/// probe and are looked up as usual).
#[inline(never)]
fn resolve_per_veth<B: PacketBuf>(
    t: &Tables,
    frames: &[B],
    src: &[u16; BURST],
    next: &[Disposition; BURST],
    probes: &mut [Option<AclProbe>; BURST],
    acl: &mut AclCache,
) {
    let n = frames.len();
    let mut done = [false; BURST];
    let mut group = [None; BURST];
    let mut at = [0usize; BURST];
    for i in 0..n {
        if done[i] || !next[i].is_ok() {
            continue;
        }
        let v = src[i];
        let rules = &t.veths()[usize::from(v)].cfg.rules;
        if rules.classifier.get().is_none() {
            continue;
        }
        // This vEth's frames, from i on.
        let mut m = 0;
        for j in i..n {
            if !done[j] && next[j].is_ok() && src[j] == v {
                done[j] = true;
                group[m] = rules.acl_probe(frames[j].data(), v, acl);
                at[m] = j;
                m += 1;
            }
        }
        rules.acl_resolve(&mut group[..m], acl);
        for (p, &j) in group[..m].iter().zip(&at[..m]) {
            probes[j] = *p;
        }
    }
}
