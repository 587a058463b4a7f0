//! Port extender, host side (`PROTOCOLS.md`): VN-Tag or E-Tag, chosen per
//! instance by the tables' [`Role`].
//!
//! Upstream (a VF port -> the uplink): header checks and the tag-injection
//! guard, the vEth's ingress rules, mirror, then the burst encap kernel
//! pushes the vEth's precomputed tag (E-Tag: E-PCP/DEI then copied from
//! the frame's C-tag when it has one). Everything goes to the uplink.
//!
//! Downstream (the uplink -> VFs): the burst decap kernel checks and strips
//! the tag and pads to 60 bytes; then VN-Tag `d` must be 1
//! (`wrong_direction`); unicast goes to the VIF / E-CID's vEth
//! (`unknown_vif`); a VIF list (`p=1`) or multicast E-channel (GRP != 0) is
//! replicated to its members, skipping VIF `src` when `l=1` / the vEth of
//! Ingress_E-CID when it is not 0 (`unknown_vif_list`, or `reflection` when
//! the only member was pruned). Each copy passes the vEth's egress check
//! (admin state, VLAN mode: a C-tag the vEth does not carry is
//! `vlan_not_allowed`; egress ACL). Nothing goes back upstream.

use super::{
    BURST, Common, Pipeline, Pkts, RoleCounters, Sink, count_drop, ingress_burst, mirror,
    replicate, to_vm,
};
use crate::drop::DropReason;
use crate::kernels::{Disposition, ETag, Kernels, PacketBuf, TagBytes, TagHeader, TagKind, VnTag};
use crate::tables::rules::AclCache;
use crate::tables::{ExtKind, PortKind, RcuReader, Role, Tables};

/// The port-extender pipeline of one worker.
#[derive(Debug)]
pub struct Extender {
    common: Common,
    verdict: [Disposition; BURST],
    next: [Disposition; BURST],
    vmeta: [TagHeader<VnTag>; BURST],
    emeta: [TagHeader<ETag>; BURST],
}

impl Extender {
    /// A pipeline reading `tables` (whose role must be an extender: other
    /// roles drop everything as `wrong_port`), with a TSC of `hz`.
    pub fn new(tables: RcuReader<Tables>, kernels: Kernels, hz: u64, now: u64) -> Extender {
        Extender {
            common: Common::new(tables, kernels, hz, now),
            verdict: [Disposition::Ok; BURST],
            next: [Disposition::Ok; BURST],
            vmeta: [TagHeader::default(); BURST],
            emeta: [TagHeader::default(); BURST],
        }
    }
}

/// Drops the whole burst under `r`.
pub(crate) fn drop_all<B, P: Pkts<B>>(pkts: &mut P, c: &RoleCounters, r: DropReason) {
    pkts.drain_each(|_, b| {
        c.drop(r).add(1);
        drop(b);
    });
}

impl<B: PacketBuf> Pipeline<B> for Extender {
    const NAME: &'static str = "extender";

    fn process<P: Pkts<B>, S: Sink<B>>(
        &mut self,
        rx_port: u16,
        pkts: &mut P,
        sink: &mut S,
        now: u64,
        c: &RoleCounters,
    ) {
        let t = self.common.tables.get();
        let ext = match t.role() {
            Role::Extender(k) => k,
            _ => return drop_all(pkts, c, DropReason::WrongPort),
        };
        let k = self.common.kernels;
        match t.port_kind(rx_port) {
            PortKind::Vm => {
                let up = Up {
                    t,
                    meters: &mut self.common.meters,
                    acl: &mut self.common.acl,
                    verdict: &mut self.verdict,
                    next: &mut self.next,
                    k,
                };
                match ext {
                    ExtKind::VnTag => up.run(&t.vntag_up, false, rx_port, pkts, sink, now, c),
                    ExtKind::ETag => up.run(&t.etag_up, true, rx_port, pkts, sink, now, c),
                }
            }
            PortKind::Uplink => match ext {
                ExtKind::VnTag => {
                    let n = pkts.slice().len();
                    k.decap::<VnTag, _>(
                        pkts.slice(),
                        &mut self.vmeta[..n],
                        &mut self.next[..n],
                        true,
                    );
                    let (next, meta) = (&self.next, &self.vmeta);
                    pkts.drain_each(|i, b| {
                        if let Disposition::Drop(r) = next[i] {
                            return count_drop(c, None, r);
                        }
                        let m = meta[i].decode();
                        if !m.direction {
                            return count_drop(c, None, DropReason::WrongDirection);
                        }
                        if m.pointer {
                            let prune = m.looped.then_some(m.src);
                            down_list(t, rx_port, m.dst, prune, b, sink, c);
                        } else {
                            match t.by_id(rx_port, m.dst) {
                                Some(v) => to_vm(t, sink, c, b, v),
                                None => count_drop(c, None, DropReason::UnknownVif),
                            }
                        }
                    });
                }
                ExtKind::ETag => {
                    let n = pkts.slice().len();
                    k.decap::<ETag, _>(
                        pkts.slice(),
                        &mut self.emeta[..n],
                        &mut self.next[..n],
                        true,
                    );
                    let (next, meta) = (&self.next, &self.emeta);
                    pkts.drain_each(|i, b| {
                        if let Disposition::Drop(r) = next[i] {
                            return count_drop(c, None, r);
                        }
                        let m = meta[i].decode();
                        if m.grp != 0 {
                            let prune = (m.ingress_ecid_base != 0).then_some(m.ingress_ecid_base);
                            down_list(t, rx_port, m.ecid, prune, b, sink, c);
                        } else {
                            match t.by_id(rx_port, m.ecid) {
                                Some(v) => to_vm(t, sink, c, b, v),
                                None => count_drop(c, None, DropReason::UnknownVif),
                            }
                        }
                    });
                }
            },
            _ => drop_all(pkts, c, DropReason::WrongPort),
        }
    }

    fn quiescent(&mut self, now: u64) {
        self.common.quiescent(now);
    }
}

/// The upstream half, with its borrows split from the pipeline.
struct Up<'a> {
    t: &'a Tables,
    meters: &'a mut Vec<crate::tables::Meter>,
    acl: &'a mut AclCache,
    verdict: &'a mut [Disposition; BURST],
    next: &'a mut [Disposition; BURST],
    k: Kernels,
}

impl Up<'_> {
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn run<K: TagKind, B: PacketBuf, P: Pkts<B>, S: Sink<B>>(
        self,
        table: &[TagBytes<K>],
        etag_pcp: bool,
        rx_port: u16,
        pkts: &mut P,
        sink: &mut S,
        now: u64,
        c: &RoleCounters,
    ) {
        let t = self.t;
        let Some(v) = t.port_veth(rx_port) else {
            return drop_all(pkts, c, DropReason::UnknownVif);
        };
        let veth = &t.veths()[usize::from(v)];
        let verdict = &mut *self.verdict;
        let frames = pkts.slice();
        let n = frames.len();
        ingress_burst(
            frames,
            (v, veth),
            t.sticky(),
            self.meters.get_mut(usize::from(v)),
            self.acl,
            now,
            c,
            verdict,
            |b| mirror(b, veth, sink, c),
        );
        // Every frame of the burst gets this vEth's tag (a frame refused
        // above is tagged too, harmlessly: it is freed, counted under the
        // ingress reason).
        let frames = pkts.slice();
        match table.get(usize::from(v)) {
            Some(tag) => {
                self.k.encap_uniform(frames, tag, &mut self.next[..n]);
            }
            None => self.next[..n].fill(Disposition::Drop(DropReason::UnknownVif)),
        }
        if etag_pcp {
            for ((b, d), i) in frames.iter_mut().zip(self.next.iter()).zip(verdict.iter()) {
                if d.is_ok() && i.is_ok() {
                    copy_pcp_to_etag(b.data_mut());
                }
            }
        }
        let up = t.uplink();
        let next = &*self.next;
        let verdict = &*verdict;
        pkts.drain_each(|i, b| match (verdict[i], next[i]) {
            (Disposition::Ok, Disposition::Ok) => sink.send(up, b),
            (Disposition::Drop(r), _) | (_, Disposition::Drop(r)) => count_drop(c, Some(v), r),
        });
    }
}

/// E-Tag upstream: E-PCP and E-DEI from the inner C-tag (at 20 after an
/// 8-byte E-Tag), when there is one.
#[inline(always)]
fn copy_pcp_to_etag(d: &mut [u8]) {
    if d.len() >= 24 && d[20] == 0x81 && d[21] == 0x00 {
        d[14] = (d[14] & 0x0f) | (d[22] & 0xf0);
    }
}

/// Replicates to the members of list `id`, skipping the vEth whose id is
/// `prune`.
#[inline]
fn down_list<B: PacketBuf, S: Sink<B>>(
    t: &Tables,
    uplink: u16,
    id: u16,
    prune: Option<u16>,
    b: B,
    sink: &mut S,
    c: &RoleCounters,
) {
    let Some(members) = t.list(uplink, id) else {
        return count_drop(c, None, DropReason::UnknownVifList);
    };
    let veths = t.veths();
    let dests = members
        .iter()
        .copied()
        .filter(|m| Some(veths[usize::from(*m)].cfg.id) != prune);
    let n = replicate(b, dests, sink, c, |s, b, v| to_vm(t, s, c, b, v));
    if n == 0 {
        let r = if members.is_empty() {
            DropReason::NoDestination
        } else {
            DropReason::Reflection
        };
        count_drop(c, None, r);
    }
}
