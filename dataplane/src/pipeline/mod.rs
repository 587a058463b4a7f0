//! The three forwarding roles of `PROTOCOLS.md` ("Forwarding rules per
//! role") with the per-vEth rules of `DESIGN.md`: [`Extender`] (port
//! extender, VN-Tag or E-Tag), [`Station`] (VEPA, basic or multichannel)
//! and [`Bridge`] (controlling bridge).
//!
//! A role is a [`Pipeline`]: it takes one received burst ([`Pkts`]) and
//! hands every packet either to a [`Sink`] (`send(port, pkt)`; `copy`, and
//! `share` + `replica` for large frames, to replicate and mirror) or drops
//! it, counting the reason in the
//! worker's [`RoleCounters`] (globally and per vEth). Pipelines are generic
//! over the buffer ([`PacketBuf`]): the worker runs them on mbufs
//! ([`crate::worker`]), tests and benches on [`crate::kernels::TestBuf`]s
//! with a [`VecSink`].
//!
//! Each worker owns its pipeline value: the [`RcuReader`] of the tables,
//! scratch arrays, and per-vEth policer state ([`Meter`]: each worker
//! polices the traffic it receives); nothing is shared but the tables
//! (read-only), the learned-once MACs and, for the bridge, the learned MAC
//! table (both lock-free, written only when a MAC is new). [`Pipeline::quiescent`] is called once per poll loop
//! and switches to newly published tables.
//!
//! The tag work is done by the burst [`Kernels`]; frames whose tag is
//! stripped are padded to 60 bytes (they leave on a wire port).
//!
//! # Cost
//! Each worker keeps an exact-match cache of ACL decisions
//! ([`AclCache`], keyed by vEth and the frame's ACL key, emptied when the
//! tables change), so a flow already seen pays a hash and one compare
//! instead of the rule scan. Upstream, the extender runs the ingress rules
//! over the burst in one pass, counts the vEth once per burst, refills the
//! policer once per burst and tags the whole burst with
//! [`Kernels::encap_uniform`]. Measured by `scripts/roleperf.sh`
//! (`benches/roles_perf.rs`, `process()` alone on `TestBuf`s, reset
//! subtracted; 2-vCPU EPYC VM at 2.25 GHz, shared: cycles are the minimum
//! of 7 runs at load ~3, instructions are exact), per packet, before ->
//! after (see `docs/PERFORMANCE.md`):
//!
//! | case | instructions | cycles |
//! |---|---|---|
//! | extender up, 64 vEths, anti-spoof + 16-rule ACL + policer, 32 flows | 1004 -> 391 | 219 -> 93 |
//! | same, 32 new flows every burst (cache misses) | 1004 -> 1053 | 217 -> 219 |
//! | extender down, 64 VIFs | 370 -> 361 | 108 -> 96 |
//! | bridge hairpin, 1K vEths, 64K learned MACs | 854 -> 731 | 311 -> 306 |
//!
//! Since then the ACL probe pass (for 64 vEths) took `up` to 495
//! instructions, and caching the whole ingress verdict of common frames
//! (`ingress_burst`, [`crate::tables::rules::fast_words`]) took it to 279.
//!
//! In the bridge no single step dominates: learning is ~80 of the ~730
//! instructions; the rest is spread over decap, ingress, the lookup, the
//! egress checks and the one-packet re-tag.

mod bridge;
mod counters;
mod extender;
mod pair;
mod station;

pub use bridge::Bridge;
pub use counters::{RoleCounters, VethCounters};
pub use extender::Extender;
pub use pair::Pair;
pub use station::Station;

use crate::dpdk::{Burst, Mbuf};
use crate::drop::DropReason;
use crate::kernels::{Disposition, Kernels, MIN_FRAME_LEN, PacketBuf, TestBuf};
use crate::tables::rules::{AclCache, AclProbe, FAST_L2, FastProbe, L2, classify, fast_words};
use crate::tables::{EgressTag, Meter, RcuReader, StickyMacs, Tables, Veth};

/// Packets per burst a pipeline accepts (the worker's `MAX_PKT_BURST`).
pub const BURST: usize = crate::fwd::MAX_PKT_BURST;

/// A received burst a pipeline consumes (at most [`BURST`] packets).
pub trait Pkts<B> {
    /// The packets, in order.
    fn slice(&mut self) -> &mut [B];
    /// Keeps the packets for which `keep` is true, in order; frees the
    /// others (the caller counted them).
    fn retain_mut(&mut self, keep: impl FnMut(usize, &mut B) -> bool);
    /// Hands every packet, in order, with its index, to `f`; empties the
    /// burst.
    fn drain_each(&mut self, f: impl FnMut(usize, B));
}

impl Pkts<Mbuf> for Burst<BURST> {
    #[inline(always)]
    fn slice(&mut self) -> &mut [Mbuf] {
        self.as_mut_slice()
    }
    #[inline(always)]
    fn retain_mut(&mut self, mut keep: impl FnMut(usize, &mut Mbuf) -> bool) {
        self.retain_indexed(|i, m| keep(i, m), |_, m| drop(m));
    }
    #[inline(always)]
    fn drain_each(&mut self, f: impl FnMut(usize, Mbuf)) {
        self.retain_indexed(|_, _| false, f);
    }
}

impl<B> Pkts<B> for Vec<B> {
    fn slice(&mut self) -> &mut [B] {
        assert!(self.len() <= BURST, "a burst holds at most {BURST} packets");
        self
    }
    fn retain_mut(&mut self, mut keep: impl FnMut(usize, &mut B) -> bool) {
        let mut i = 0;
        Vec::retain_mut(self, |b| {
            i += 1;
            keep(i - 1, b)
        });
    }
    fn drain_each(&mut self, mut f: impl FnMut(usize, B)) {
        for (i, b) in self.drain(..).enumerate() {
            f(i, b);
        }
    }
}

/// Where a pipeline puts packets.
pub trait Sink<B> {
    /// Queues `b` for transmission on port index `port`.
    fn send(&mut self, port: u16, b: B);
    /// A copy of `b` (replication, mirroring), or `None` when none can be
    /// made (counted `no_mbuf`).
    fn copy(&mut self, b: &B) -> Option<B>;
    /// A packet frozen for replication by reference.
    type Shared;
    /// Freezes `b` for replication by reference when that beats copying
    /// (large frames), else gives it back.
    fn share(&mut self, b: B) -> Result<Self::Shared, B>;
    /// A replica of a frozen packet (`None`: counted `no_mbuf`).
    fn replica(&mut self, s: &Self::Shared) -> Option<B>;
}

/// A [`Sink`] that collects packets per port (tests, benches).
#[derive(Debug, Default)]
pub struct VecSink<B> {
    /// Packets sent, per port index.
    pub out: Vec<Vec<B>>,
    /// Copies left to make before `copy` fails (`None`: unlimited).
    pub copies_left: Option<usize>,
    /// Frames longer than this are replicated through `share` (`None`:
    /// always copied).
    pub share_above: Option<usize>,
}

impl<B> VecSink<B> {
    /// A sink for `ports` ports.
    pub fn new(ports: usize) -> VecSink<B> {
        VecSink {
            out: (0..ports).map(|_| Vec::new()).collect(),
            copies_left: None,
            share_above: None,
        }
    }
}

impl Sink<TestBuf> for VecSink<TestBuf> {
    fn send(&mut self, port: u16, b: TestBuf) {
        self.out[usize::from(port)].push(b);
    }
    fn copy(&mut self, b: &TestBuf) -> Option<TestBuf> {
        if let Some(n) = &mut self.copies_left {
            *n = n.checked_sub(1)?;
        }
        Some(b.clone())
    }
    type Shared = TestBuf;
    fn share(&mut self, b: TestBuf) -> Result<TestBuf, TestBuf> {
        match self.share_above {
            Some(n) if b.pkt_len() > n => Ok(b),
            _ => Err(b),
        }
    }
    fn replica(&mut self, s: &TestBuf) -> Option<TestBuf> {
        self.copy(s)
    }
}

/// A forwarding role run by a worker.
pub trait Pipeline<B: PacketBuf>: Send {
    /// Name for logs and benches.
    const NAME: &'static str;
    /// Processes one burst received on port index `rx_port` at TSC `now`.
    fn process<P: Pkts<B>, S: Sink<B>>(
        &mut self,
        rx_port: u16,
        pkts: &mut P,
        sink: &mut S,
        now: u64,
        c: &RoleCounters,
    );
    /// Quiescent state (once per poll loop, between bursts): switches to
    /// newly published tables.
    fn quiescent(&mut self, now: u64);
}

/// What every role keeps per worker: the tables, the kernels, the TSC
/// rate and the policers.
#[derive(Debug)]
pub(crate) struct Common {
    pub tables: RcuReader<Tables>,
    pub kernels: Kernels,
    pub hz: u64,
    /// Per vEth, for vEths with a policer.
    pub meters: Vec<Meter>,
    /// ACL decisions of this worker (emptied when the tables change).
    pub acl: AclCache,
}

impl Common {
    pub fn new(tables: RcuReader<Tables>, kernels: Kernels, hz: u64, now: u64) -> Common {
        let mut c = Common {
            tables,
            kernels,
            hz,
            meters: Vec::new(),
            acl: AclCache::new(),
        };
        c.reset_meters(now);
        c
    }

    /// Re-initialises the policers from the tables (full buckets).
    fn reset_meters(&mut self, now: u64) {
        let t = self.tables.get();
        self.meters.clear();
        self.meters.extend(t.veths().iter().map(|v| {
            v.cfg
                .rules
                .policer
                .map_or_else(Meter::default, |p| Meter::new(&p, self.hz, now))
        }));
    }

    pub fn quiescent(&mut self, now: u64) {
        if self.tables.quiescent() {
            self.acl.invalidate();
            self.reset_meters(now);
        }
    }
}

/// Counts a drop globally and, when known, on the vEth.
#[inline(always)]
pub(crate) fn count_drop(c: &RoleCounters, veth: Option<u16>, r: DropReason) {
    c.drop(r).add(1);
    if let Some(v) = veth {
        c.veth(v).drops[r.index()].add(1);
    }
}

/// Bytes of the first segment the ingress rules read when the vEth has an
/// ACL: MACs and a C-tag, the longest IPv4 header plus the L4 ports.
const INGRESS_NEED_ACL: usize = 18 + 60 + 4;

/// Ingress rules on one frame from vEth `v`: header checks, admin, VLAN,
/// anti-spoof, ACL, learned-once anti-spoof, policer, then PCP marking.
/// Returns the frame's VLAN and its L2 facts. `refilled`: for a burst of
/// one vEth, whether its meter was already refilled at `now` (`None`:
/// refill on every frame).
#[inline(always)]
pub(crate) fn ingress<B: PacketBuf>(
    b: &mut B,
    (v, veth): (u16, &Veth),
    sticky: &StickyMacs,
    meter: Option<&mut Meter>,
    (acl, probe): (&mut AclCache, Option<&AclProbe>),
    refilled: Option<&mut bool>,
    now: u64,
) -> Result<(u16, L2), DropReason> {
    let (vlan, l2) = ingress_pre(b, (v, veth), (acl, probe), true)?;
    ingress_post(b, (v, veth), &l2, sticky, meter, refilled, now)?;
    Ok((vlan, l2))
}

/// The ingress rules that depend on the frame and the tables alone (header
/// checks, admin, VLAN, anti-spoof, ACL): the frame's VLAN and L2 facts.
/// `cache_acl`: the ACL decision goes through the worker's cache of ACL
/// decisions; otherwise it is `probe`'s or scanned.
#[inline(always)]
fn ingress_pre<B: PacketBuf>(
    b: &B,
    (v, veth): (u16, &Veth),
    (acl, probe): (&mut AclCache, Option<&AclProbe>),
    cache_acl: bool,
) -> Result<(u16, L2), DropReason> {
    let d = b.data();
    let r = &veth.cfg.rules;
    // The headers the rules read must be in the first segment.
    let need = if r.acl.is_empty() {
        18
    } else {
        INGRESS_NEED_ACL
    };
    if !b.is_contiguous() && d.len() < b.pkt_len().min(need) {
        return Err(DropReason::ChainedHeader);
    }
    let l2 = classify(d)?;
    let vlan = if cache_acl {
        r.ingress_cached(d, &l2, v, acl, probe)?
    } else {
        r.ingress_decided(d, &l2, probe)?
    };
    Ok((vlan, l2))
}

/// The ingress rules with per-worker or shared state, after
/// [`ingress_pre`]: learned-once anti-spoof, policer; then PCP marking.
#[inline(always)]
fn ingress_post<B: PacketBuf>(
    b: &mut B,
    (v, veth): (u16, &Veth),
    l2: &L2,
    sticky: &StickyMacs,
    meter: Option<&mut Meter>,
    refilled: Option<&mut bool>,
    now: u64,
) -> Result<(), DropReason> {
    let r = &veth.cfg.rules;
    if r.learn_once {
        let d = b.data();
        let src = [d[6], d[7], d[8], d[9], d[10], d[11]];
        let listed = r.allowed_macs.as_ref().is_some_and(|m| m.contains(&src));
        if !listed && !sticky.allow(v, crate::tables::mac_u64(&src)) {
            return Err(DropReason::MacSpoof);
        }
    }
    if r.policer.is_some()
        && let Some(m) = meter
    {
        // A burst of one vEth refills once (the same `now` for every frame).
        if !refilled.is_some_and(|done| std::mem::replace(done, true)) {
            m.refill(now);
        }
        if !m.take(b.pkt_len() as u32) {
            return Err(DropReason::Policed);
        }
    }
    if let Some(pcp) = r.pcp
        && l2.ctag_vid.is_some()
    {
        let d = b.data_mut();
        d[14] = (d[14] & 0x1f) | (pcp << 5);
    }
    Ok(())
}

/// Ingress rules ([`ingress`]) on a burst that came from vEth `v` alone
/// (upstream on the extender and the station): `verdict[i]` for frame
/// `i`; the vEth's rx counters once for the burst; `accepted` on every
/// accepted frame, in order (the caller mirrors it).
///
/// With an ingress ACL, the burst is probed first: a common frame
/// ([`fast_words`]: untagged IPv4 without options) by a few loads whose
/// set in the cache is prefetched, any other frame by its ACL key
/// ([`VethRules::acl_probe`]). Then the fast probes are looked up: a hit
/// is the frame's whole verdict up to the per-worker state (header checks,
/// admin, VLAN, anti-spoof, ACL); the misses and the other frames are
/// decided, a long ACL's in one classifier call
/// ([`VethRules::acl_resolve`]), and a missed fast probe is cached with
/// its verdict. The learned-once check, the policer and PCP marking run on
/// every frame.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn ingress_burst<B: PacketBuf>(
    frames: &mut [B],
    (v, veth): (u16, &Veth),
    sticky: &StickyMacs,
    mut meter: Option<&mut Meter>,
    acl: &mut AclCache,
    now: u64,
    c: &RoleCounters,
    verdict: &mut [Disposition; BURST],
    mut accepted: impl FnMut(&B),
) {
    let r = &veth.cfg.rules;
    let n = frames.len();
    let mut fast: [Option<FastProbe>; BURST] = [None; BURST];
    let mut probes: [Option<AclProbe>; BURST] = [None; BURST];
    let mut pre: [Option<Result<u16, DropReason>>; BURST] = [None; BURST];
    // Without an ACL the checks cost less than a lookup: no probes,
    // nothing cached, every frame takes the plain path below.
    if !r.acl.is_empty() {
        for (b, f) in frames.iter().zip(fast.iter_mut()) {
            let d = b.data();
            if b.is_contiguous() || d.len() >= INGRESS_NEED_ACL {
                *f = fast_words(d, v).map(|w| acl.fast_probe(w));
            }
        }
        let classified = r.classifier.get().is_some();
        for (((b, f), p), x) in frames
            .iter()
            .zip(&fast)
            .zip(probes.iter_mut())
            .zip(pre.iter_mut())
        {
            match f {
                Some(f) => {
                    *x = acl.verdict(f);
                    if x.is_none() && classified {
                        *p = r.acl_probe(b.data(), v, acl);
                    }
                }
                None => *p = r.acl_probe(b.data(), v, acl),
            }
        }
        r.acl_resolve(&mut probes[..n], acl);
    }
    let mut refilled = false;
    let (mut rx_pkts, mut rx_bytes) = (0u64, 0u64);
    for (i, (b, out)) in frames.iter_mut().zip(verdict.iter_mut()).enumerate() {
        // A flow new in this burst may have been decided and cached by an
        // earlier frame of it: looked up again, not decided and cached
        // twice (a burst of one new flow would fill every way of its set
        // and evict three other flows).
        let cached = pre[i].or_else(|| fast[i].as_ref().and_then(|f| acl.verdict(f)));
        let decided = match cached {
            Some(x) => x.map(|vlan| (vlan, FAST_L2)),
            None => {
                let f = fast[i].as_ref();
                let x = ingress_pre(b, (v, veth), (&mut *acl, probes[i].as_ref()), f.is_none());
                if let Some(f) = f {
                    acl.fill_verdict(f, x.map(|(vlan, _)| vlan));
                }
                x
            }
        };
        let result = decided.and_then(|(_, l2)| {
            ingress_post(
                b,
                (v, veth),
                &l2,
                sticky,
                meter.as_deref_mut(),
                Some(&mut refilled),
                now,
            )
        });
        *out = match result {
            Ok(()) => {
                rx_pkts += 1;
                rx_bytes += b.pkt_len() as u64;
                accepted(b);
                Disposition::Ok
            }
            Err(r) => Disposition::Drop(r),
        };
    }
    let vc = c.veth(v);
    vc.rx_pkts.add(rx_pkts);
    vc.rx_bytes.add(rx_bytes);
}

/// Sends a copy of `b` to the vEth's mirror port, if it has one.
#[inline(always)]
pub(crate) fn mirror<B: PacketBuf, S: Sink<B>>(b: &B, veth: &Veth, sink: &mut S, c: &RoleCounters) {
    if let Some(p) = veth.cfg.rules.mirror {
        match sink.copy(b) {
            Some(m) => sink.send(p, m),
            None => c.drop(DropReason::NoMbuf).add(1),
        }
    }
}

/// Puts the frame's C-tag in the state `tag` asks for (`cur`: the VID of
/// the C-tag the frame has now). Pops move the MACs 4 bytes forward;
/// pushes need 4 bytes of headroom (`no_headroom`).
#[inline]
pub(crate) fn set_ctag<B: PacketBuf>(
    b: &mut B,
    cur: Option<u16>,
    tag: EgressTag,
) -> Result<(), DropReason> {
    match (tag, cur) {
        (EgressTag::Keep, _) | (EgressTag::Untagged, None) => Ok(()),
        (EgressTag::Untagged, Some(_)) => {
            let d = b.data_mut();
            if d.len() < 18 {
                return Err(DropReason::ChainedHeader);
            }
            d.copy_within(0..12, 4);
            b.adj(4).map_err(|_| DropReason::ChainedHeader)
        }
        (EgressTag::Tagged(v), Some(_)) => {
            let d = b.data_mut();
            let tci = (u16::from_be_bytes([d[14], d[15]]) & 0xf000) | (v & 0x0fff);
            d[14..16].copy_from_slice(&tci.to_be_bytes());
            Ok(())
        }
        (EgressTag::Tagged(v), None) => {
            let d = b.prepend(4).map_err(|_| DropReason::NoHeadroom)?;
            d.copy_within(4..16, 0);
            d[12..14].copy_from_slice(&[0x81, 0x00]);
            d[14..16].copy_from_slice(&(v & 0x0fff).to_be_bytes());
            Ok(())
        }
    }
}

/// Pads a frame to 60 bytes with zeros (it leaves untagged on a wire).
#[inline(always)]
pub(crate) fn pad60<B: PacketBuf>(b: &mut B) -> Result<(), DropReason> {
    let len = b.pkt_len();
    if len >= MIN_FRAME_LEN {
        return Ok(());
    }
    if !b.is_contiguous() {
        return Err(DropReason::NoTailroom);
    }
    b.append(MIN_FRAME_LEN - len)
        .map(|t| t.fill(0))
        .map_err(|_| DropReason::NoTailroom)
}

/// Egress to the VM of vEth `v` (extender and station): admin state,
/// VLAN filter and egress ACL, mirror, count, send.
#[inline(always)]
pub(crate) fn to_vm<B: PacketBuf, S: Sink<B>>(
    t: &Tables,
    sink: &mut S,
    c: &RoleCounters,
    b: B,
    v: u16,
) {
    let veth = &t.veths()[usize::from(v)];
    let r = &veth.cfg.rules;
    if !r.admin_up {
        return count_drop(c, Some(v), DropReason::AdminDown);
    }
    if let Err(e) = r
        .vlan_of(ctag_vid(b.data()))
        .and_then(|vlan| r.egress_acl(b.data(), vlan))
    {
        return count_drop(c, Some(v), e);
    }
    mirror(&b, veth, sink, c);
    c.veth(v).tx(b.pkt_len());
    sink.send(veth.cfg.port, b);
}

/// The C-tag VID of a frame (first segment), if it has a C-tag at 12.
#[inline(always)]
pub(crate) fn ctag_vid(d: &[u8]) -> Option<u16> {
    (d.len() >= 18 && d[12] == 0x81 && d[13] == 0x00)
        .then(|| u16::from_be_bytes([d[14], d[15]]) & 0x0fff)
}

/// Sends `b` to the destinations `dests` yields. A large frame that the
/// sink [`Sink::share`]s goes to each as a replica sharing its bytes;
/// otherwise it is copied for all but the last, and the original goes
/// last, unmodified until then. `deliver` applies the per-destination
/// egress work and sends. Returns how many destinations there were.
#[inline]
pub(crate) fn replicate<B, S, D: Copy>(
    b: B,
    dests: impl Iterator<Item = D>,
    sink: &mut S,
    c: &RoleCounters,
    mut deliver: impl FnMut(&mut S, B, D),
) -> usize
where
    B: PacketBuf,
    S: Sink<B>,
{
    let b = match sink.share(b) {
        Ok(shared) => {
            let mut n = 0;
            for d in dests {
                n += 1;
                match sink.replica(&shared) {
                    Some(r) => deliver(sink, r, d),
                    None => c.drop(DropReason::NoMbuf).add(1),
                }
            }
            return n;
        }
        Err(b) => b,
    };
    let mut pending: Option<D> = None;
    let mut n = 0;
    for d in dests {
        n += 1;
        if let Some(p) = pending.replace(d) {
            match sink.copy(&b) {
                Some(copy) => deliver(sink, copy, p),
                None => c.drop(DropReason::NoMbuf).add(1),
            }
        }
    }
    if let Some(p) = pending {
        deliver(sink, b, p);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{
        AclRule, Action, CompiledRule, ExtKind, PortKind, Role, TablesBuilder, VethConfig,
    };

    /// A burst of one new flow is decided once and cached in one slot: the
    /// frames after the first find the verdict the first one left.
    #[test]
    fn a_burst_of_one_new_flow_takes_one_slot() {
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
        b.port(0, PortKind::Uplink);
        let mut cfg = VethConfig::new("vm", 1, 1);
        cfg.rules.acl = vec![
            CompiledRule::compile(&AclRule {
                action: Action::Deny,
                protocol: Some(6),
                ..AclRule::default()
            })
            .unwrap(),
        ];
        b.veth(cfg);
        let t = b.build().unwrap();
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[
            0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0, 7, 0, 9]);
        f.resize(64, 0);
        let mut frames: Vec<TestBuf> = (0..BURST).map(|_| TestBuf::new(&f, 128, 0)).collect();
        let mut acl = AclCache::new();
        let mut verdict = [Disposition::Ok; BURST];
        let c = RoleCounters::new(2, 1);
        ingress_burst(
            &mut frames,
            (0, &t.veths()[0]),
            t.sticky(),
            None,
            &mut acl,
            0,
            &c,
            &mut verdict,
            |_| {},
        );
        assert!(verdict.iter().all(|d| d.is_ok()));
        assert_eq!(acl.entries(), 1);
    }
}
