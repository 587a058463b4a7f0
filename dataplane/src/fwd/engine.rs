//! Forwarding engines: what happens to a burst between rx and tx.

use super::{MAX_PKT_BURST, PREFETCH_OFFSET, WorkerCounters};
use crate::dpdk::Burst;
use crate::kernels::{Disposition, ETag, Kernels, STag, TagBytes, TagHeader, TagKind, VnTag};
use crate::wire::{EtherType, etag, stag, vntag};

/// A forwarding engine: one mandatory callback over a whole burst. The
/// packets left in the burst are transmitted; an engine drops a packet by
/// removing it from the burst (freeing it) and counting its reason.
pub trait Engine: Send {
    /// Name as the CLI spells it.
    const NAME: &'static str;
    /// Processes one burst received on port index `rx_idx` in place.
    fn process(
        &mut self,
        rx_idx: usize,
        pkts: &mut Burst<MAX_PKT_BURST>,
        counters: &WorkerCounters,
    );
}

/// Frees and counts the packets whose disposition is a drop, keeping the
/// others in order. Costs one scan when nothing is dropped.
#[inline(always)]
pub fn apply_dispositions(
    pkts: &mut Burst<MAX_PKT_BURST>,
    next: &[Disposition],
    counters: &WorkerCounters,
) {
    if next[..pkts.len()].iter().all(|d| d.is_ok()) {
        return;
    }
    pkts.retain_indexed(
        |i, _| next[i].is_ok(),
        |i, m| {
            if let Some(r) = next[i].reason() {
                counters.drop(r).add(1);
            }
            drop(m);
        },
    );
}

/// Forwards packets unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Io;

impl Engine for Io {
    const NAME: &'static str = "io";
    #[inline(always)]
    fn process(&mut self, _rx: usize, _pkts: &mut Burst<MAX_PKT_BURST>, _c: &WorkerCounters) {}
}

/// Swaps destination and source MAC addresses (frames shorter than 12
/// bytes are left as they are).
#[derive(Debug, Clone, Copy, Default)]
pub struct MacSwap;

impl Engine for MacSwap {
    const NAME: &'static str = "macswap";
    #[inline(always)]
    fn process(&mut self, _rx: usize, pkts: &mut Burst<MAX_PKT_BURST>, _c: &WorkerCounters) {
        let pkts = pkts.as_mut_slice();
        for p in pkts.iter().take(PREFETCH_OFFSET) {
            p.prefetch_data();
        }
        let n = pkts.len();
        for i in 0..n {
            if i + PREFETCH_OFFSET < n {
                pkts[i + PREFETCH_OFFSET].prefetch_data();
            }
            swap_macs(pkts[i].data_mut());
        }
    }
}

/// Swaps bytes 0..6 with 6..12.
#[inline(always)]
pub fn swap_macs(d: &mut [u8]) {
    if let Some(h) = d.get_mut(..12) {
        let (dst, src) = h.split_at_mut(6);
        dst.swap_with_slice(src);
    }
}

/// Which way a tag engine works on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOp {
    /// Even port indexes push (VM side -> uplink), odd ones strip (uplink
    /// -> VM side): the port-extender shape on a paired topology, and a
    /// steady loop on ring wires.
    Both,
    /// Every port pushes.
    Encap,
    /// Every port strips (padding to 60 bytes: the frame goes to a wire).
    Decap,
}

/// Pushes or strips a tag of kind `K` with the burst kernels. Port index
/// `i` stands for the vEth with VIF / E-CID / S-VID `i + 1`.
pub struct TagEngine<K: TagKind> {
    name: &'static str,
    kernels: Kernels,
    op: TagOp,
    table: Vec<TagBytes<K>>,
    meta: [TagHeader<K>; MAX_PKT_BURST],
    next: [Disposition; MAX_PKT_BURST],
}

impl<K: TagKind> TagEngine<K> {
    fn with_table(
        name: &'static str,
        kernels: Kernels,
        op: TagOp,
        table: Vec<TagBytes<K>>,
    ) -> Self {
        TagEngine {
            name,
            kernels,
            op,
            table,
            meta: [TagHeader::<K>::default(); MAX_PKT_BURST],
            next: [Disposition::Ok; MAX_PKT_BURST],
        }
    }

    /// The mode name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Upstream VN-Tags `d=0 p=0 dst=0 src=<port index + 1>` for `nports` ports.
pub fn vntag_engine(kernels: Kernels, op: TagOp, nports: usize) -> TagEngine<VnTag> {
    let table = (0..nports)
        .map(|i| {
            TagBytes::vntag(&vntag::Repr {
                src: (i + 1) as u16,
                ..Default::default()
            })
        })
        .collect();
    TagEngine::with_table("vntag", kernels, op, table)
}

/// Upstream E-Tags `E-CID=<port index + 1>, GRP 0, ingress 0` for `nports` ports.
pub fn etag_engine(kernels: Kernels, op: TagOp, nports: usize) -> TagEngine<ETag> {
    let table = (0..nports)
        .map(|i| {
            TagBytes::etag(&etag::Repr {
                ecid_base: (i + 1) as u16,
                ..Default::default()
            })
        })
        .collect();
    TagEngine::with_table("etag", kernels, op, table)
}

/// S-tags (0x88A8) `S-VID=<port index + 1>` for `nports` ports.
pub fn stag_engine(kernels: Kernels, op: TagOp, nports: usize) -> TagEngine<STag> {
    let table = (0..nports)
        .map(|i| {
            TagBytes::stag(&stag::Repr {
                tpid: EtherType::QINQ,
                pcp: 0,
                dei: false,
                svid: (i + 1) as u16,
                ethertype: EtherType::IPV4,
            })
        })
        .collect();
    TagEngine::with_table("stag", kernels, op, table)
}

impl<K: TagKind + Send> Engine for TagEngine<K> {
    const NAME: &'static str = "tag";

    #[inline(always)]
    fn process(
        &mut self,
        rx_idx: usize,
        pkts: &mut Burst<MAX_PKT_BURST>,
        counters: &WorkerCounters,
    ) {
        let n = pkts.len();
        // Start every data line of the burst on its way before the kernel
        // touches the first one: a NIC's rx does not read packet data, so
        // it is not in this core's caches, and one group of look-ahead is
        // too short. (On net_null the lines are hot, mbufs coming back LIFO
        // from the lcore cache: there this costs ~5 instructions a packet.)
        for m in pkts.as_slice() {
            m.prefetch_data();
        }
        let encap = match self.op {
            TagOp::Both => rx_idx % 2 == 0,
            TagOp::Encap => true,
            TagOp::Decap => false,
        };
        let drops = if encap {
            // One port = one vEth: its tag for the whole burst. The table
            // has one tag per port, so the modulo (a division) only runs
            // for a port index past it.
            let tag = match self.table.get(rx_idx) {
                Some(t) => t,
                None => &self.table[rx_idx % self.table.len()],
            };
            self.kernels
                .encap_uniform(pkts.as_mut_slice(), tag, &mut self.next[..n])
        } else {
            self.kernels.decap::<K, _>(
                pkts.as_mut_slice(),
                &mut self.meta[..n],
                &mut self.next[..n],
                true,
            )
        };
        if drops != 0 {
            apply_dispositions(pkts, &self.next[..n], counters);
        }
    }
}

/// The engines, as the CLI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardMode {
    /// [`Io`].
    #[default]
    Io,
    /// [`MacSwap`].
    MacSwap,
    /// VN-Tag push on even ports, strip on odd ones.
    VnTag,
    /// VN-Tag push on every port.
    VnTagEncap,
    /// VN-Tag strip on every port.
    VnTagDecap,
    /// E-Tag push on even ports, strip on odd ones.
    ETag,
    /// E-Tag push on every port.
    ETagEncap,
    /// E-Tag strip on every port.
    ETagDecap,
    /// S-tag push on even ports, strip on odd ones.
    STag,
    /// S-tag push on every port.
    STagEncap,
    /// S-tag strip on every port.
    STagDecap,
}

impl ForwardMode {
    /// Every mode with its name.
    pub const ALL: [(ForwardMode, &'static str); 11] = [
        (ForwardMode::Io, Io::NAME),
        (ForwardMode::MacSwap, MacSwap::NAME),
        (ForwardMode::VnTag, "vntag"),
        (ForwardMode::VnTagEncap, "vntag-encap"),
        (ForwardMode::VnTagDecap, "vntag-decap"),
        (ForwardMode::ETag, "etag"),
        (ForwardMode::ETagEncap, "etag-encap"),
        (ForwardMode::ETagDecap, "etag-decap"),
        (ForwardMode::STag, "stag"),
        (ForwardMode::STagEncap, "stag-encap"),
        (ForwardMode::STagDecap, "stag-decap"),
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Every name, comma-separated (for help and errors).
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The tag operation of a tag mode.
    pub fn tag_op(self) -> Option<TagOp> {
        use ForwardMode::*;
        match self {
            Io | MacSwap => None,
            VnTag | ETag | STag => Some(TagOp::Both),
            VnTagEncap | ETagEncap | STagEncap => Some(TagOp::Encap),
            VnTagDecap | ETagDecap | STagDecap => Some(TagOp::Decap),
        }
    }
}

impl std::fmt::Display for ForwardMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ForwardMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                format!(
                    "unknown forward mode {s:?}: expected one of {}",
                    Self::names()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_macs_swaps_and_tolerates_runts() {
        let mut f = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00];
        swap_macs(&mut f);
        assert_eq!(f, [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 0x08, 0x00]);
        let mut short = [1u8, 2, 3];
        swap_macs(&mut short);
        assert_eq!(short, [1, 2, 3]);
    }

    #[test]
    fn forward_mode_parses_its_names() {
        assert_eq!("io".parse::<ForwardMode>(), Ok(ForwardMode::Io));
        assert_eq!("macswap".parse::<ForwardMode>(), Ok(ForwardMode::MacSwap));
        assert!(
            "rxonly"
                .parse::<ForwardMode>()
                .unwrap_err()
                .contains("expected one of io, macswap")
        );
        for (m, n) in ForwardMode::ALL {
            assert_eq!(n.parse::<ForwardMode>(), Ok(m));
            assert_eq!(m.name(), n);
        }
    }
}
