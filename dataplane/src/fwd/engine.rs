//! Forwarding engines: what happens to a burst between rx and tx.

use super::{MAX_PKT_BURST, PREFETCH_OFFSET};
use crate::dpdk::Burst;

/// A forwarding engine: one mandatory callback over a whole burst. The
/// packets left in the burst are transmitted; an engine drops a packet by
/// removing it (and counting it).
pub trait Engine: Send {
    /// Name as the CLI spells it.
    const NAME: &'static str;
    /// Processes one received burst in place.
    fn process(&mut self, pkts: &mut Burst<MAX_PKT_BURST>);
}

/// Forwards packets unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Io;

impl Engine for Io {
    const NAME: &'static str = "io";
    #[inline(always)]
    fn process(&mut self, _pkts: &mut Burst<MAX_PKT_BURST>) {}
}

/// Swaps destination and source MAC addresses (frames shorter than 12
/// bytes are left as they are).
#[derive(Debug, Clone, Copy, Default)]
pub struct MacSwap;

impl Engine for MacSwap {
    const NAME: &'static str = "macswap";
    #[inline(always)]
    fn process(&mut self, pkts: &mut Burst<MAX_PKT_BURST>) {
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

/// The engines, as the CLI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardMode {
    /// [`Io`].
    #[default]
    Io,
    /// [`MacSwap`].
    MacSwap,
}

impl ForwardMode {
    /// Every mode with its name.
    pub const ALL: [(ForwardMode, &'static str); 2] = [
        (ForwardMode::Io, Io::NAME),
        (ForwardMode::MacSwap, MacSwap::NAME),
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ForwardMode::Io => Io::NAME,
            ForwardMode::MacSwap => MacSwap::NAME,
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
            .ok_or_else(|| format!("unknown forward mode {s:?}: expected io or macswap"))
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
                .contains("expected io or macswap")
        );
    }
}
