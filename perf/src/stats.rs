//! Medians, spreads and ratios over rounds.

/// Median of `v` (0 for an empty slice).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median with the smallest and largest value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `v`; `None` when empty.
    pub fn of(v: &[f64]) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        Some(Spread {
            median: median(v),
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }

    /// JSON object `{median, min, max}` scaled by `k`.
    pub fn json(&self, k: f64) -> serde_json::Value {
        serde_json::json!({"median": self.median * k, "min": self.min * k, "max": self.max * k})
    }
}

/// Per-round ratios `a[i] / b[i]` (rounds where both ran), then their median:
/// the ratio of the same round is taken first so that slow phases of the
/// machine cancel out.
pub fn paired_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    let r: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| **x > 0.0 && **y > 0.0)
        .map(|(x, y)| x / y)
        .collect();
    (!r.is_empty()).then(|| median(&r))
}

/// Line rate in Gbit/s for `pps` frames of `frame` bytes (with FCS), counting
/// the 20 bytes each frame occupies on the wire besides (preamble, start
/// delimiter and inter-frame gap).
pub fn gbps(pps: f64, frame: u16) -> f64 {
    pps * (f64::from(frame) + 20.0) * 8.0 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        let s = Spread::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn ratios_are_per_round() {
        // Round 2 is slow for both: the per-round ratio stays 2.
        assert_eq!(
            paired_ratio(&[10.0, 4.0, 10.0], &[5.0, 2.0, 5.0]),
            Some(2.0)
        );
        assert_eq!(paired_ratio(&[10.0, 0.0], &[5.0, 1.0]), Some(2.0));
        assert_eq!(paired_ratio(&[], &[1.0]), None);
    }

    #[test]
    fn line_rate() {
        // 14.88 Mpps of 64-byte frames is 10 Gbit/s.
        assert!((gbps(14_880_952.0, 64) - 10.0).abs() < 1e-3);
        assert!((gbps(812_743.0, 1518) - 10.0).abs() < 1e-3);
    }
}
