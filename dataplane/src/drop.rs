//! Drop reasons: one list, VPP style (`foreach_l2_output_error`).
//!
//! `drop_reasons!` defines, from a single table, the [`DropReason`] enum
//! (`repr(u8)`, one byte, `Copy`), the counter name of each reason
//! ([`DropReason::name`]), every reason in order ([`DropReason::ALL`]) and
//! their number ([`DropReason::COUNT`]). Adding a reason is one line in the
//! table; counters, telemetry and reports pick it up from `ALL`/`name`.
//!
//! On the fast path a drop is not an error value: a kernel writes a
//! [`crate::kernels::Disposition`] per packet and the worker counts the
//! drops in a per-worker array of plain counters indexed by
//! [`DropReason::index`] (see [`DropCounters`]).

use crate::wire;

/// Defines [`DropReason`] and its counter names from one table:
/// `Variant => "counter_name", /// doc`.
macro_rules! drop_reasons {
    ($( $(#[doc = $doc:literal])* $variant:ident => $name:literal, )+) => {
        /// Why a packet was dropped. One byte; the discriminant is the index
        /// into per-worker counter arrays.
        #[repr(u8)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DropReason {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl DropReason {
            /// Every reason, in declaration order (`ALL[r.index()] == r`).
            pub const ALL: [DropReason; [$($name),+].len()] = [$(DropReason::$variant),+];
            /// Number of reasons.
            pub const COUNT: usize = Self::ALL.len();

            /// Counter name (`snake_case`), as shown in stats and telemetry.
            pub const fn name(self) -> &'static str {
                match self {
                    $( DropReason::$variant => $name, )+
                }
            }
        }
    };
}

drop_reasons! {
    /// Frame shorter than an Ethernet header (14 bytes).
    Runt => "runt",
    /// A header (Ethernet, S-tag, C-tag) is cut short.
    Truncated => "truncated",
    /// VN-Tag / E-Tag / S-tag without its whole TCI or inner EtherType.
    TruncatedTag => "truncated_tag",
    /// The TPID at offset 12 is not the tag this port expects.
    BadTpid => "bad_tpid",
    /// VN-Tag `ver` != 0 (or ECP version != 1).
    BadVersion => "bad_version",
    /// E-Tag Ingress_E-CID_ext or E-CID_ext != 0: extended E-CIDs are not
    /// configured, so the channel is unknown (`PROTOCOLS.md`, decision).
    ExtEcid => "ext_ecid",
    /// A second VN-Tag / E-Tag right after the first.
    StackedTag => "stacked_tag",
    /// Tags in an unsupported order (e.g. an S-tag after an E-Tag).
    Malformed => "malformed",
    /// A frame from a VM already carries a VN-Tag, E-Tag or S-tag as its
    /// outer EtherType: a VM never chooses its tag.
    TagInjection => "tag_injection",
    /// Not enough headroom to push the tag.
    NoHeadroom => "no_headroom",
    /// Padding to the 60-byte minimum failed (no tailroom, or chained).
    NoTailroom => "no_tailroom",
    /// The headers are not all in the first segment of a chained mbuf.
    ChainedHeader => "chained_header",
    /// VN-Tag direction bit wrong for this side of the link.
    WrongDirection => "wrong_direction",
    /// The vEth / VIF / E-CID is not known (or not programmed).
    UnknownVif => "unknown_vif",
    /// The tx queue was full: the packet was freed, not sent.
    TxFull => "tx_full",
    /// The vEth is administratively down.
    AdminDown => "admin_down",
    /// The frame's VLAN is not allowed on the vEth (access VLAN mismatch,
    /// trunk VLAN outside the allowed list, untagged without native VLAN).
    VlanNotAllowed => "vlan_not_allowed",
    /// Source MAC not among the vEth's allowed MACs (anti-spoof).
    MacSpoof => "mac_spoof",
    /// The source MAC is a group (multicast or broadcast) address: no
    /// station sends from one, so the frame is neither forwarded nor
    /// learned, whatever the vEth's anti-spoof setting.
    MulticastSrc => "multicast_src",
    /// Denied by the vEth's ACL (a deny rule, or no rule matched and the
    /// default is deny).
    AclDeny => "acl_deny",
    /// Red in the vEth's srTCM policer.
    Policed => "policed",
    /// A new source MAC on a vEth that already learned its limit.
    MacLimit => "mac_limit",
    /// The VIF list / multicast E-channel is not programmed.
    UnknownVifList => "unknown_vif_list",
    /// The only destination was the sender (VEPA reflection filter,
    /// multicast source pruning).
    Reflection => "reflection",
    /// No VM owns the destination MAC (VEPA station unicast).
    NoMac => "no_mac",
    /// The destination was learned on the vEth the frame came from.
    SameVeth => "same_veth",
    /// A replica could not be made (pool empty, or a chained frame).
    NoMbuf => "no_mbuf",
    /// A flood found no member to send to (other than pruned senders).
    NoDestination => "no_destination",
    /// A frame arrived on a port that this role does not receive on.
    WrongPort => "wrong_port",
}

// A disposition (`Ok` / `Drop(reason)`) must stay one byte.
const _: () = assert!(DropReason::COUNT < 255);

impl DropReason {
    /// Index into counter arrays: `0..COUNT`.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<wire::Error> for DropReason {
    /// Each parser error has the reason of the same name.
    fn from(e: wire::Error) -> Self {
        match e {
            wire::Error::Truncated => DropReason::Truncated,
            wire::Error::TruncatedTag => DropReason::TruncatedTag,
            wire::Error::BadTpid => DropReason::BadTpid,
            wire::Error::BadVersion => DropReason::BadVersion,
            wire::Error::StackedTag => DropReason::StackedTag,
            wire::Error::Malformed => DropReason::Malformed,
        }
    }
}

/// Plain per-worker drop counters, one per reason (one writer: the worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::COUNT],
}

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters {
            counts: [0; DropReason::COUNT],
        }
    }
}

impl DropCounters {
    /// Counts one drop.
    #[inline(always)]
    pub fn add(&mut self, reason: DropReason) {
        self.counts[reason.index()] += 1;
    }

    /// Value of one counter.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason.index()]
    }

    /// `(name, value)` for every reason, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (r.name(), self.get(*r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_ordered() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        assert_eq!(core::mem::size_of::<DropReason>(), 1);
        assert_eq!(DropReason::ExtEcid.to_string(), "ext_ecid");
    }

    #[test]
    fn wire_errors_map_to_same_name() {
        for e in wire::Error::ALL {
            assert_eq!(DropReason::from(e).name(), e.name());
        }
    }

    #[test]
    fn counters() {
        let mut c = DropCounters::default();
        c.add(DropReason::Runt);
        c.add(DropReason::Runt);
        c.add(DropReason::TxFull);
        assert_eq!(c.get(DropReason::Runt), 2);
        assert_eq!(c.iter().map(|(_, v)| v).sum::<u64>(), 3);
    }
}
