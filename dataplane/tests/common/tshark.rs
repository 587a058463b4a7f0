//! Shared by the tests that check tagged frames against tshark: the tag
//! fields tshark prints, a deterministic generator for the cases, and the
//! check itself (one pcap, one tshark run, every field of every frame).
//! Needs the sibling module `pcap` (`common/pcap.rs`); no DPDK here (the
//! wire and kernel tests include this file with `#[path]`).
#![allow(dead_code)]

use super::pcap::{TempDir, tshark_fields, write_pcap};
use std::fmt::{Debug, Write as _};

/// tshark fields of the extender tags (VN-Tag, E-Tag), the 802.1ad S-tag
/// and the 802.1Q tags, in the order of the `-e` options.
pub const TAG_FIELDS: &[&str] = &[
    "vntag.dir",
    "vntag.ptr",
    "vntag.dst",
    "vntag.looped",
    "vntag.r",
    "vntag.version",
    "vntag.src",
    "vntag.etype",
    "etag.pcp",
    "etag.dei",
    "etag.iecid_base",
    "etag.resv",
    "etag.group",
    "etag.ecid_base",
    "etag.iecid_ext",
    "etag.ecid_ext",
    "etag.etype",
    "ieee8021ad.priority",
    "ieee8021ad.dei",
    "ieee8021ad.id",
    "vlan.priority",
    "vlan.dei",
    "vlan.id",
    "vlan.etype",
];

/// What tshark should print for one frame: a value for each of `fields`,
/// empty where the frame does not have the field.
pub struct Row<'f> {
    fields: &'f [&'f str],
    values: Vec<String>,
}

impl<'f> Row<'f> {
    /// Every field empty.
    pub fn new(fields: &'f [&'f str]) -> Row<'f> {
        Row {
            fields,
            values: vec![String::new(); fields.len()],
        }
    }

    /// Sets field `name` (one of the fields) to `value`.
    pub fn set(&mut self, name: &str, value: String) {
        let i = self.fields.iter().position(|f| *f == name).unwrap();
        self.values[i] = value;
    }

    /// The values, in the order of the fields.
    pub fn values(self) -> Vec<String> {
        self.values
    }
}

/// Writes `frames` (one per case) into one pcap `file` in a fresh temp dir
/// `tag`, has tshark print `fields` in one run, and checks every field of
/// every frame against `expected(case)`; all mismatches are listed, `what`
/// naming the expected side ("expected", "emitted").
pub fn assert_tshark_decodes<C: Debug>(
    tag: &str,
    file: &str,
    fields: &[&str],
    cases: &[C],
    frames: &[Vec<u8>],
    expected: impl Fn(&C) -> Vec<String>,
    what: &str,
) {
    let dir = TempDir::new(tag);
    let pcap = dir.join(file);
    write_pcap(&pcap, frames);
    let stdout = tshark_fields(&pcap, fields);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len(), "one tshark line per frame");

    let mut mismatches = String::new();
    for (i, (case, line)) in cases.iter().zip(&lines).enumerate() {
        let got: Vec<&str> = line.split(',').collect();
        assert_eq!(got.len(), fields.len(), "frame {}: {line}", i + 1);
        for ((field, want), got) in fields.iter().zip(expected(case)).zip(got) {
            if want != got {
                let _ = writeln!(
                    mismatches,
                    "frame {} {field}: {what} {want:?}, tshark {got:?} ({case:?})",
                    i + 1
                );
            }
        }
    }
    assert!(mismatches.is_empty(), "tshark disagrees:\n{mismatches}");
}

/// Small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)] // (not an Iterator: it never ends)
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    /// Mostly extremes (0, max), sometimes anything in range.
    pub fn field(&mut self, max: u16) -> u16 {
        match self.below(4) {
            0 => 0,
            1 => max,
            _ => self.below(u64::from(max) + 1) as u16,
        }
    }
}
