//! Emit frames with `wire::*::Repr::emit`, decode them with tshark, compare.
//!
//! Covers VN-Tag bit extremes (d, p, dst 0..16383, l, src 0..4095, and r /
//! ver set through the view), E-Tag (PCP, DEI, GRP 0..3, E-CID_base,
//! Ingress E-CID, ext bytes, reserved bits), S-tag + C-tag, and the ECP
//! header, plus a few hundred pseudo-random combinations. All frames go
//! into one pcap (written by hand, linktype 1) and one tshark run.
//!
//! tshark (4.0, Debian 12) is required: if it is missing the test fails and
//! says to run `scripts/setup.sh`. tshark decodes S-tag TPID 0x9100 as an
//! 802.1Q tag (`vlan.*`) and does not decode 0x9200 at all; this test
//! expects exactly that.

#[path = "common/pcap.rs"]
mod pcap;
#[path = "common/tshark.rs"]
mod tshark;
use std::sync::LazyLock;
use tshark::{Rng, Row, TAG_FIELDS, assert_tshark_decodes};

use vfex_dataplane::wire::{
    self, Error, EtherType, EthernetAddress, ExtenderTag, ecp, etag, ethernet, stag, vlan, vntag,
};

/// The EtherType after the last tag: IEEE local experimental, so that
/// tshark decodes the rest as plain data.
const PAYLOAD_ETHERTYPE: EtherType = EtherType(0x88B5);

/// tshark fields, in the order of the `-e` options.
static FIELDS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    [
        &["eth.dst", "eth.src"][..],
        TAG_FIELDS,
        &["ecp.ver", "ecp.op", "ecp.subtype", "ecp.seqno"],
    ]
    .concat()
});

/// PCP, DEI, VID and inner EtherType of one tag that tshark shows as `vlan.*`.
type VlanFields = (u8, bool, u16, EtherType);

/// One frame to emit.
#[derive(Debug, Clone, Copy)]
struct Case {
    dst: EthernetAddress,
    src: EthernetAddress,
    ext: Option<ExtenderTag>,
    /// Raw VN-Tag `r` and `ver` (or E-Tag reserved bits) written through
    /// the view after `emit`, which always sends 0.
    vntag_r: bool,
    vntag_ver: u8,
    etag_resv: u8,
    stag: Option<stag::Repr>,
    ctag: Option<vlan::Repr>,
    ecp: Option<ecp::Repr>,
}

impl Case {
    fn new(ext: Option<ExtenderTag>) -> Case {
        Case {
            dst: EthernetAddress([0x02, 0, 0, 0, 0, 0x06]),
            src: EthernetAddress([0x02, 0, 0, 0, 0, 0x05]),
            ext,
            vntag_r: false,
            vntag_ver: 0,
            etag_resv: 0,
            stag: None,
            ctag: None,
            ecp: None,
        }
    }

    fn final_ethertype(&self) -> EtherType {
        if self.ecp.is_some() {
            EtherType::ECP
        } else {
            PAYLOAD_ETHERTYPE
        }
    }

    /// Emits the frame (padded to 60 bytes) with the wire module.
    fn emit(&self) -> Vec<u8> {
        let mut frame = vec![0u8; 128];
        let after_ext = if self.ctag.is_some() {
            EtherType::VLAN
        } else {
            self.final_ethertype()
        };
        let outer = match (self.ext, self.stag) {
            (Some(t), _) => t.tpid(),
            (None, Some(s)) => s.tpid,
            (None, None) => after_ext,
        };
        let eth = ethernet::Repr {
            dst_addr: self.dst,
            src_addr: self.src,
            ethertype: outer,
        };
        eth.emit(&mut ethernet::Packet::new_unchecked(&mut frame[..]));
        let mut at = ethernet::TAG_OFFSET;
        match self.ext {
            Some(ExtenderTag::VnTag(mut r)) => {
                r.ethertype = after_ext;
                let mut p = vntag::Packet::new_unchecked(&mut frame[at..]);
                r.emit(&mut p);
                p.set_reserved(self.vntag_r);
                p.set_version(self.vntag_ver);
                at += vntag::TAG_LEN;
            }
            Some(ExtenderTag::ETag(mut r)) => {
                r.ethertype = after_ext;
                let mut p = etag::Packet::new_unchecked(&mut frame[at..]);
                r.emit(&mut p);
                p.set_resv(self.etag_resv);
                at += etag::TAG_LEN;
            }
            None => {}
        }
        if let Some(mut r) = self.stag {
            r.ethertype = after_ext;
            r.emit(&mut stag::Packet::new_unchecked(&mut frame[at..]));
            at += stag::TAG_LEN;
        }
        if let Some(mut r) = self.ctag {
            r.ethertype = self.final_ethertype();
            r.emit(&mut vlan::Packet::new_unchecked(&mut frame[at..]));
            at += vlan::TAG_LEN;
        }
        at += 2;
        if let Some(r) = self.ecp {
            r.emit(&mut ecp::Packet::new_unchecked(&mut frame[at..]));
            at += ecp::HEADER_LEN;
        }
        // A few payload bytes, then pad to the 60-byte minimum.
        frame[at..at + 4].copy_from_slice(b"vfex");
        frame.truncate((at + 4).max(60));
        frame
    }

    /// What tshark should print for each of [`FIELDS`].
    fn expected(&self) -> Vec<String> {
        let mut e = Row::new(&FIELDS);
        let mut set = |name: &str, value: String| e.set(name, value);
        let bit = |b: bool| u8::from(b).to_string();
        set("eth.dst", self.dst.to_string());
        set("eth.src", self.src.to_string());
        let after_ext = if self.ctag.is_some() {
            EtherType::VLAN
        } else {
            self.final_ethertype()
        };
        match self.ext {
            Some(ExtenderTag::VnTag(r)) => {
                set("vntag.dir", bit(r.direction));
                set("vntag.ptr", bit(r.pointer));
                set("vntag.dst", r.dst.to_string());
                set("vntag.looped", bit(r.looped));
                set("vntag.r", bit(self.vntag_r));
                set("vntag.version", self.vntag_ver.to_string());
                set("vntag.src", r.src.to_string());
                set("vntag.etype", after_ext.to_string());
            }
            Some(ExtenderTag::ETag(r)) => {
                set("etag.pcp", r.pcp.to_string());
                set("etag.dei", bit(r.dei));
                set("etag.iecid_base", format!("{:#06x}", r.ingress_ecid_base));
                set("etag.resv", self.etag_resv.to_string());
                set("etag.group", r.grp.to_string());
                set("etag.ecid_base", format!("{:#06x}", r.ecid_base));
                set("etag.iecid_ext", format!("{:#04x}", r.ingress_ecid_ext));
                set("etag.ecid_ext", format!("{:#04x}", r.ecid_ext));
                set("etag.etype", after_ext.to_string());
            }
            None => {}
        }
        // 802.1Q occurrences, outermost first (tshark treats 0x9100 as 802.1Q).
        let mut vlans: Vec<VlanFields> = Vec::new();
        if let Some(s) = self.stag {
            match s.tpid {
                EtherType::QINQ => {
                    set("ieee8021ad.priority", s.pcp.to_string());
                    set("ieee8021ad.dei", bit(s.dei));
                    set("ieee8021ad.id", s.svid.to_string());
                }
                EtherType::QINQ_9100 => vlans.push((s.pcp, s.dei, s.svid, after_ext)),
                other => panic!("no tshark expectation for S-tag TPID {other}"),
            }
        }
        if let Some(c) = self.ctag {
            vlans.push((c.pcp, c.dei, c.vid, self.final_ethertype()));
        }
        if !vlans.is_empty() {
            let join = |f: &dyn Fn(&VlanFields) -> String| {
                vlans.iter().map(f).collect::<Vec<_>>().join(";")
            };
            set("vlan.priority", join(&|v| v.0.to_string()));
            set("vlan.dei", join(&|v| bit(v.1)));
            set("vlan.id", join(&|v| v.2.to_string()));
            set("vlan.etype", join(&|v| v.3.to_string()));
        }
        if let Some(r) = self.ecp {
            set("ecp.ver", ecp::VERSION.to_string());
            set("ecp.op", format!("{:#06x}", r.op));
            set("ecp.subtype", format!("{:#06x}", r.subtype));
            set("ecp.seqno", r.sequence.to_string());
        }
        e.values()
    }

    /// `parse_frame` on the emitted bytes gives back what was emitted.
    fn check_parse(&self, frame: &[u8]) {
        let result = wire::parse_frame(frame);
        if self.vntag_ver != 0 {
            assert_eq!(result, Err(Error::BadVersion), "{self:?}");
            return;
        }
        let info = result.unwrap_or_else(|e| panic!("{self:?}: {e}"));
        let after_ext = if self.ctag.is_some() {
            EtherType::VLAN
        } else {
            self.final_ethertype()
        };
        let ext = self.ext.map(|t| match t {
            ExtenderTag::VnTag(mut r) => {
                r.ethertype = after_ext;
                ExtenderTag::VnTag(r)
            }
            ExtenderTag::ETag(mut r) => {
                r.ethertype = after_ext;
                ExtenderTag::ETag(r)
            }
        });
        assert_eq!(info.extender_tag, ext, "{self:?}");
        assert_eq!(
            info.stag.map(|s| (s.tpid, s.pcp, s.dei, s.svid)),
            self.stag.map(|s| (s.tpid, s.pcp, s.dei, s.svid))
        );
        assert_eq!(
            info.ctag.map(|c| (c.pcp, c.dei, c.vid, c.ethertype)),
            self.ctag
                .map(|c| (c.pcp, c.dei, c.vid, self.final_ethertype()))
        );
        assert_eq!(info.ethertype, self.final_ethertype());
        if let Some(r) = self.ecp {
            let p = ecp::Packet::new_checked(&frame[info.payload_offset..]).unwrap();
            assert_eq!(ecp::Repr::parse(&p), Ok(r));
        }
    }
}

fn vn(direction: bool, pointer: bool, dst: u16, looped: bool, src: u16) -> Option<ExtenderTag> {
    Some(ExtenderTag::VnTag(vntag::Repr {
        direction,
        pointer,
        dst,
        looped,
        src,
        ethertype: PAYLOAD_ETHERTYPE,
    }))
}

fn et(pcp: u8, dei: bool, ingress: u16, ecid: u16, iext: u8, ext: u8) -> Option<ExtenderTag> {
    let mut r = etag::Repr {
        pcp,
        dei,
        ingress_ecid_base: ingress,
        ingress_ecid_ext: iext,
        ecid_ext: ext,
        ethertype: PAYLOAD_ETHERTYPE,
        ..etag::Repr::default()
    };
    r.set_ecid(ecid);
    Some(ExtenderTag::ETag(r))
}

fn ctag(pcp: u8, dei: bool, vid: u16) -> Option<vlan::Repr> {
    Some(vlan::Repr {
        pcp,
        dei,
        vid,
        ethertype: PAYLOAD_ETHERTYPE,
    })
}

fn stag_(tpid: EtherType, pcp: u8, dei: bool, svid: u16) -> Option<stag::Repr> {
    Some(stag::Repr {
        tpid,
        pcp,
        dei,
        svid,
        ethertype: PAYLOAD_ETHERTYPE,
    })
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // VN-Tag: each bit alone, all set, field extremes.
    for ext in [
        vn(false, false, 0, false, 0),
        vn(true, false, 0, false, 0),
        vn(false, true, 0, false, 0),
        vn(false, false, 16383, false, 0),
        vn(false, false, 0, true, 0),
        vn(false, false, 0, false, 4095),
        vn(true, true, 16383, true, 4095),
        vn(true, true, 0x2AAA, false, 0x555),
        vn(false, false, 0x1555, true, 0xAAA),
    ] {
        cases.push(Case::new(ext));
    }
    for (r, ver) in [(true, 0), (false, 1), (false, 2), (false, 3), (true, 3)] {
        cases.push(Case {
            vntag_r: r,
            vntag_ver: ver,
            ..Case::new(vn(true, false, 6, false, 0))
        });
    }
    // E-Tag: PCP, DEI, GRP 0..3, E-CID extremes, ingress, ext bytes, resv.
    for pcp in 0..=7 {
        cases.push(Case::new(et(pcp, pcp % 2 == 1, 0, 10, 0, 0)));
    }
    for grp in 0..=3u16 {
        for base in [0, 1, 0x234, 0xFFF] {
            cases.push(Case::new(et(0, false, 10, (grp << 12) | base, 0, 0)));
        }
    }
    cases.push(Case::new(et(7, true, 4095, 0x3FFF, 0xFF, 0xFF)));
    cases.push(Case::new(et(0, false, 0, 0, 0x12, 0x34)));
    for resv in 1..=3 {
        cases.push(Case {
            etag_resv: resv,
            ..Case::new(et(5, false, 10, 0x1234, 0, 0))
        });
    }
    // Extender tag then C-tag.
    cases.push(Case {
        ctag: ctag(3, false, 100),
        ..Case::new(vn(false, false, 0, false, 4095))
    });
    cases.push(Case {
        ctag: ctag(7, true, 4095),
        ..Case::new(et(7, true, 0, 1000, 0, 0))
    });
    // S-tag (+ C-tag), legacy 0x9100.
    for (s, c) in [
        (stag_(EtherType::QINQ, 3, false, 10), ctag(0, false, 100)),
        (stag_(EtherType::QINQ, 7, true, 4095), ctag(7, true, 4095)),
        (stag_(EtherType::QINQ, 0, false, 1), None),
        (stag_(EtherType::QINQ_9100, 5, true, 2), None),
        (
            stag_(EtherType::QINQ_9100, 1, false, 4094),
            ctag(2, false, 7),
        ),
    ] {
        cases.push(Case {
            stag: s,
            ctag: c,
            ..Case::new(None)
        });
    }
    // Plain C-tag, untagged.
    cases.push(Case {
        ctag: ctag(6, false, 1),
        ..Case::new(None)
    });
    cases.push(Case {
        dst: EthernetAddress::BROADCAST,
        ..Case::new(None)
    });
    // ECP header: request / ack, VDP / PE CSP / extremes.
    for (op, subtype, sequence) in [
        (ecp::OP_REQUEST, ecp::SUBTYPE_VDP, 1),
        (ecp::OP_ACK, ecp::SUBTYPE_VDP, 1),
        (ecp::OP_REQUEST, ecp::SUBTYPE_PE_CSP, 0xFFFF),
        (3, 1023, 0x1234),
    ] {
        cases.push(Case {
            dst: EthernetAddress([0x01, 0x80, 0xc2, 0, 0, 0]),
            ecp: Some(ecp::Repr {
                op,
                subtype,
                sequence,
            }),
            ..Case::new(None)
        });
    }

    // Pseudo-random combinations.
    let mut rng = Rng(0x5EED_F00D_CAFE_0001);
    for _ in 0..300 {
        let mut mac = [0u8; 6];
        mac.iter_mut().for_each(|b| *b = rng.next() as u8);
        let mut case = Case::new(None);
        case.src = EthernetAddress(mac);
        case.src.0[0] &= 0xFE;
        match rng.below(4) {
            0 => {
                case.ext = vn(
                    rng.bool(),
                    rng.bool(),
                    rng.field(vntag::DST_MAX),
                    rng.bool(),
                    rng.field(vntag::SRC_MAX),
                );
                case.vntag_r = rng.below(8) == 0;
            }
            1 => {
                case.ext = et(
                    rng.field(7) as u8,
                    rng.bool(),
                    rng.field(etag::ECID_BASE_MAX),
                    rng.field(etag::ECID_MAX),
                    if rng.below(4) == 0 {
                        rng.next() as u8
                    } else {
                        0
                    },
                    if rng.below(4) == 0 {
                        rng.next() as u8
                    } else {
                        0
                    },
                );
                case.etag_resv = if rng.below(8) == 0 {
                    rng.below(4) as u8
                } else {
                    0
                };
            }
            2 => {
                case.stag = stag_(
                    EtherType::QINQ,
                    rng.field(7) as u8,
                    rng.bool(),
                    rng.field(4095),
                );
            }
            _ => {}
        }
        if rng.bool() {
            case.ctag = ctag(rng.field(7) as u8, rng.bool(), rng.field(4095));
        }
        cases.push(case);
    }
    cases
}

#[test]
fn emitted_frames_decode_in_tshark() {
    let cases = cases();
    let frames: Vec<Vec<u8>> = cases.iter().map(Case::emit).collect();
    for (case, frame) in cases.iter().zip(&frames) {
        case.check_parse(frame);
    }

    assert_tshark_decodes(
        "wire-tshark",
        "emitted.pcap",
        &FIELDS,
        &cases,
        &frames,
        Case::expected,
        "emitted",
    );
}
