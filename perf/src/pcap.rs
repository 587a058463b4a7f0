//! Test frames and the pcap files that `net_pcap` replays (`infinite_rx=1`):
//! Ethernet + IPv4 + UDP with correct lengths and checksums, optionally
//! behind a VN-Tag, E-Tag or S-tag, padded to the chosen frame size.

use anyhow::{Context, Result};
use std::path::Path;

/// Bytes of FCS that a frame size counts but a capture does not hold.
pub const FCS_LEN: u16 = 4;

/// The tag in front of the IPv4 EtherType, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Untagged.
    None,
    /// VN-Tag (EtherType 0x8926) with this destination VIF.
    VnTag(u16),
    /// E-Tag (802.1BR, EtherType 0x893f) with this E-CID base.
    ETag(u16),
    /// 802.1ad S-tag (EtherType 0x88a8) with this VID.
    STag(u16),
}

impl Tag {
    /// Name used in file names and reports.
    pub fn name(self) -> String {
        match self {
            Tag::None => "untagged".into(),
            Tag::VnTag(v) => format!("vntag{v}"),
            Tag::ETag(v) => format!("etag{v}"),
            Tag::STag(v) => format!("stag{v}"),
        }
    }

    /// The tag's bytes (EtherType included).
    fn bytes(self) -> Vec<u8> {
        match self {
            Tag::None => Vec::new(),
            // d=0, p=0, dvif (14 bits), l=0, r=0, ver=0, svif=0.
            Tag::VnTag(vif) => {
                let w = u32::from(vif & 0x3fff) << 16;
                let mut b = vec![0x89, 0x26];
                b.extend_from_slice(&w.to_be_bytes());
                b
            }
            // PCP/DEI 0, ingress E-CID base 0, GRP 0, E-CID base (12 bits), ext 0.
            Tag::ETag(ecid) => {
                let mut b = vec![0x89, 0x3f, 0, 0];
                b.extend_from_slice(&(ecid & 0x0fff).to_be_bytes());
                b.extend_from_slice(&[0, 0]);
                b
            }
            Tag::STag(vid) => {
                let mut b = vec![0x88, 0xa8];
                b.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
                b
            }
        }
    }
}

/// Internet checksum of `data`.
fn csum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One frame of `size` bytes on the wire (FCS included, so `size - 4` bytes
/// here), flow number `flow` (source address and UDP port vary with it, so
/// that RSS spreads the flows), behind `tag`.
pub fn frame(size: u16, tag: Tag, flow: u16) -> Vec<u8> {
    let tagb = tag.bytes();
    let len = usize::from(size.saturating_sub(FCS_LEN)).max(60);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&tagb);
    f.extend_from_slice(&[0x08, 0x00]);
    let ip_len = len.saturating_sub(f.len()).max(28) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 18, (flow >> 8) as u8, flow as u8]);
    ip[16..20].copy_from_slice(&[198, 19, 0, 1]);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let udp_len = ip_len - 20;
    let mut udp = [0u8; 8];
    udp[0..2].copy_from_slice(&(1024 + flow).to_be_bytes());
    udp[2..4].copy_from_slice(&5001u16.to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&udp);
    // Payload: zeros (UDP checksum 0 = none, allowed over IPv4).
    f.resize(f.len() + usize::from(udp_len - 8), 0);
    f.resize(f.len().max(len), 0);
    f
}

/// Writes a classic pcap file (microsecond timestamps, Ethernet link type)
/// holding `frames`.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Writes `flows` frames of `size` bytes behind `tag` to `path`.
pub fn generate(path: &Path, size: u16, tag: Tag, flows: u16) -> Result<()> {
    let frames: Vec<Vec<u8>> = (0..flows).map(|i| frame(size, tag, i)).collect();
    write_pcap(path, &frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_headers() {
        for size in [64, 128, 512, 1518] {
            for tag in [Tag::None, Tag::VnTag(1), Tag::ETag(2), Tag::STag(3)] {
                let f = frame(size, tag, 7);
                assert_eq!(f.len(), usize::from(size - FCS_LEN), "{size} {tag:?}");
                let l2 = 14 + tag.bytes().len();
                assert_eq!(&f[l2 - 2..l2], &[0x08, 0x00]);
                assert_eq!(csum(&f[l2..l2 + 20]), 0, "IPv4 checksum verifies");
                let ip_len = u16::from_be_bytes([f[l2 + 2], f[l2 + 3]]);
                assert_eq!(usize::from(ip_len), f.len() - l2);
            }
        }
        assert_eq!(&frame(64, Tag::STag(5), 0)[12..16], &[0x88, 0xa8, 0, 5]);
        assert_eq!(
            &frame(64, Tag::VnTag(3), 0)[12..18],
            &[0x89, 0x26, 0, 3, 0, 0]
        );
    }

    /// Wireshark reads the generated file and decodes every header as meant.
    #[test]
    fn tshark_decodes_the_pcap() {
        if std::process::Command::new("tshark")
            .arg("-v")
            .output()
            .is_err()
        {
            eprintln!("tshark not installed (scripts/setup.sh installs it): skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("vfex-perf-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            (Tag::None, "eth:ethertype:ip:udp:data", "", 64),
            (
                Tag::STag(3),
                "eth:ethertype:ieee8021ad:ethertype:ip:udp:data",
                "ieee8021ad.id",
                128,
            ),
            (
                Tag::VnTag(9),
                "eth:ethertype:vntag:ethertype:ip:udp:data",
                "vntag.dst",
                1518,
            ),
            (
                Tag::ETag(17),
                "eth:ethertype:etag:ethertype:ip:udp:data",
                "etag.ecid_base",
                256,
            ),
        ];
        for (tag, protos, field, size) in cases {
            let p = dir.join(format!("{}.pcap", tag.name()));
            generate(&p, size, tag, 4).unwrap();
            let mut cmd = std::process::Command::new("tshark");
            cmd.args(["-r"]).arg(&p).args([
                "-T",
                "fields",
                "-e",
                "frame.protocols",
                "-e",
                "frame.len",
                "-e",
                "ip.checksum.status",
                "-e",
                "udp.length",
                "-o",
                "ip.check_checksum:TRUE",
            ]);
            if !field.is_empty() {
                cmd.args(["-e", field]);
            }
            let out = cmd.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(
                lines.len(),
                4,
                "{tag:?}: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for l in lines {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f[0], protos, "{tag:?}: {l}");
                assert_eq!(f[1], (size - FCS_LEN).to_string(), "{tag:?}: {l}");
                assert_eq!(f[2], "1", "IPv4 checksum good: {tag:?}: {l}");
                if !field.is_empty() {
                    let want = match tag {
                        Tag::STag(v) | Tag::VnTag(v) | Tag::ETag(v) => v,
                        Tag::None => 0,
                    };
                    let got = match f[4].strip_prefix("0x") {
                        Some(h) => u16::from_str_radix(h, 16).unwrap(),
                        None => f[4].parse().unwrap(),
                    };
                    assert_eq!(got, want, "{tag:?}: {l}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
