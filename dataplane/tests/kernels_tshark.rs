//! Frames pushed by the encap kernels, decoded by tshark, field by field.
//!
//! For each tag kind (VN-Tag, E-Tag, S-tag 0x88A8) and many field values
//! (each bit alone, extremes, pseudo-random), a VM frame (untagged or with
//! the VM's own 802.1Q C-tag) goes through the encap kernel of every ISA
//! this CPU supports (all must give the same bytes); the frames go into
//! one pcap (written by hand, linktype 1) and one tshark run, and every
//! field tshark prints must be the expected one. The same frames then go
//! through decap: the VM frame comes back and the metadata holds the
//! tag's fields.
//!
//! tshark (4.0, Debian 12) is required: if it is missing the test fails and
//! says to run `scripts/setup.sh`.

#[path = "common/pcap.rs"]
mod pcap;
#[path = "common/tshark.rs"]
mod tshark;
use std::sync::LazyLock;
use tshark::{Rng, Row, TAG_FIELDS, assert_tshark_decodes};

use vfex_dataplane::drop::DropReason;
use vfex_dataplane::kernels::{
    Disposition, ETagMeta, Isa, Kernels, STagMeta, TagBytes, TagHeader, TagKind, TestBuf, VnTagMeta,
};
use vfex_dataplane::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

/// The VM's EtherType: IEEE local experimental, decoded as data.
const PAYLOAD_ETHERTYPE: u16 = 0x88B5;

static FIELDS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    [
        &["eth.dst", "eth.src", "eth.type"][..],
        TAG_FIELDS,
        &["data.len"],
    ]
    .concat()
});

#[derive(Debug, Clone, Copy)]
enum Tag {
    Vn(VnTagRepr),
    Et(ETagRepr),
    St(STagRepr),
}

/// PCP, DEI, VID of the VM's C-tag.
type CTag = (u8, bool, u16);

#[derive(Debug, Clone, Copy)]
struct Case {
    tag: Tag,
    src_mac: [u8; 6],
    ctag: Option<CTag>,
    /// VM frame length (>= 60).
    len: usize,
}

impl Case {
    /// The VM's frame: MACs, optional C-tag, 0x88B5, bytes 0, 1, 2, ...
    fn vm_frame(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0x06];
        f.extend_from_slice(&self.src_mac);
        if let Some((pcp, dei, vid)) = self.ctag {
            let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | vid;
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&PAYLOAD_ETHERTYPE.to_be_bytes());
        let head = f.len();
        f.extend((0..self.len - head).map(|i| i as u8));
        f
    }

    fn data_len(&self) -> usize {
        self.len - 14 - if self.ctag.is_some() { 4 } else { 0 }
    }

    fn expected(&self) -> Vec<String> {
        let mut e = Row::new(&FIELDS);
        let mut set = |name: &str, value: String| e.set(name, value);
        let bit = |b: bool| u8::from(b).to_string();
        let hex16 = |v: u16| format!("{v:#06x}");
        set("eth.dst", "02:00:00:00:00:06".into());
        set(
            "eth.src",
            self.src_mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
        let tpid = match self.tag {
            Tag::Vn(_) => 0x8926,
            Tag::Et(_) => 0x893f,
            Tag::St(_) => 0x88a8,
        };
        set("eth.type", hex16(tpid));
        let after_tag = if self.ctag.is_some() {
            0x8100
        } else {
            PAYLOAD_ETHERTYPE
        };
        match self.tag {
            Tag::Vn(r) => {
                set("vntag.dir", bit(r.direction));
                set("vntag.ptr", bit(r.pointer));
                set("vntag.dst", r.dst.to_string());
                set("vntag.looped", bit(r.looped));
                set("vntag.r", "0".into());
                set("vntag.version", "0".into());
                set("vntag.src", r.src.to_string());
                set("vntag.etype", hex16(after_tag));
            }
            Tag::Et(r) => {
                set("etag.pcp", r.pcp.to_string());
                set("etag.dei", bit(r.dei));
                set("etag.iecid_base", hex16(r.ingress_ecid_base));
                set("etag.resv", "0".into());
                set("etag.group", r.grp.to_string());
                set("etag.ecid_base", hex16(r.ecid_base));
                set("etag.iecid_ext", format!("{:#04x}", r.ingress_ecid_ext));
                set("etag.ecid_ext", format!("{:#04x}", r.ecid_ext));
                set("etag.etype", hex16(after_tag));
            }
            Tag::St(r) => {
                set("ieee8021ad.priority", r.pcp.to_string());
                set("ieee8021ad.dei", bit(r.dei));
                set("ieee8021ad.id", r.svid.to_string());
            }
        }
        if let Some((pcp, dei, vid)) = self.ctag {
            set("vlan.priority", pcp.to_string());
            set("vlan.dei", bit(dei));
            set("vlan.id", vid.to_string());
            set("vlan.etype", hex16(PAYLOAD_ETHERTYPE));
        }
        set("data.len", self.data_len().to_string());
        e.values()
    }

    /// Encap with every ISA (same result required), then decap with every
    /// ISA; returns the tagged frame.
    fn run(&self) -> Vec<u8> {
        match self.tag {
            Tag::Vn(r) => {
                let want = VnTagMeta {
                    direction: r.direction,
                    pointer: r.pointer,
                    dst: r.dst,
                    looped: r.looped,
                    src: r.src,
                };
                self.run_kind(TagBytes::vntag(&r), Ok(want))
            }
            Tag::Et(r) => {
                let want = if r.ingress_ecid_ext | r.ecid_ext != 0 {
                    Err(DropReason::ExtEcid)
                } else {
                    Ok(ETagMeta {
                        pcp: r.pcp,
                        dei: r.dei,
                        ingress_ecid_base: r.ingress_ecid_base,
                        grp: r.grp,
                        ecid_base: r.ecid_base,
                        ecid: r.ecid(),
                    })
                };
                self.run_kind(TagBytes::etag(&r), want)
            }
            Tag::St(r) => {
                let want = STagMeta {
                    pcp: r.pcp,
                    dei: r.dei,
                    svid: r.svid,
                };
                self.run_kind(TagBytes::stag(&r), Ok(want))
            }
        }
    }

    fn run_kind<K: TagKind>(
        &self,
        tag: TagBytes<K>,
        want: Result<K::Decoded, DropReason>,
    ) -> Vec<u8> {
        let vm = self.vm_frame();
        let mut tagged: Option<Vec<u8>> = None;
        for isa in Isa::supported() {
            let k = Kernels::new(isa).unwrap();
            let mut pkts = [TestBuf::new(&vm, 128, 64)];
            let mut next = [Disposition::Drop(DropReason::TxFull)];
            k.encap(&mut pkts, &[0], &[tag], &mut next);
            assert_eq!(next[0], Disposition::Ok, "{isa} {self:?}");
            let frame = pkts[0].frame().to_vec();
            assert_eq!(frame.len(), vm.len() + K::TAG_LEN);
            match &tagged {
                Some(t) => assert_eq!(&frame, t, "{isa} differs from scalar: {self:?}"),
                None => tagged = Some(frame),
            }
            let mut meta = [TagHeader::<K>::default()];
            k.decap::<K, _>(&mut pkts, &mut meta, &mut next, true);
            match want {
                Ok(m) => {
                    assert_eq!(
                        (next[0], meta[0].decode()),
                        (Disposition::Ok, m),
                        "{isa} {self:?}"
                    );
                    assert_eq!(pkts[0].frame(), &vm[..], "{isa} round trip {self:?}");
                }
                Err(r) => assert_eq!(next[0], Disposition::Drop(r), "{isa} {self:?}"),
            }
        }
        tagged.unwrap()
    }
}

fn vn(direction: bool, pointer: bool, dst: u16, looped: bool, src: u16) -> Tag {
    Tag::Vn(VnTagRepr {
        direction,
        pointer,
        dst,
        looped,
        src,
        ethertype: EtherType(0),
    })
}

fn et(pcp: u8, dei: bool, ingress: u16, ecid: u16, iext: u8, ext: u8) -> Tag {
    let mut r = ETagRepr {
        pcp,
        dei,
        ingress_ecid_base: ingress,
        ingress_ecid_ext: iext,
        ecid_ext: ext,
        ..ETagRepr::default()
    };
    r.set_ecid(ecid);
    Tag::Et(r)
}

fn st(pcp: u8, dei: bool, svid: u16) -> Tag {
    Tag::St(STagRepr {
        tpid: EtherType::QINQ,
        pcp,
        dei,
        svid,
        ethertype: EtherType(0),
    })
}

fn cases() -> Vec<Case> {
    let mut tags = vec![
        vn(false, false, 0, false, 0),
        vn(true, false, 0, false, 0),
        vn(false, true, 0, false, 0),
        vn(false, false, 16383, false, 0),
        vn(false, false, 0, true, 0),
        vn(false, false, 0, false, 4095),
        vn(true, true, 16383, true, 4095),
        vn(true, true, 0x2AAA, false, 0x555),
        vn(false, false, 0x1555, true, 0xAAA),
        et(7, true, 4095, 0x3FFF, 0, 0),
        et(0, false, 0, 0, 0x12, 0x34),
        et(0, false, 0, 0, 0xff, 0),
        st(0, false, 0),
        st(7, true, 4095),
        st(3, false, 1),
        st(0, false, 4094),
    ];
    for pcp in 0..=7 {
        tags.push(et(pcp, pcp % 2 == 1, 0, 10, 0, 0));
        tags.push(st(pcp, pcp % 2 == 0, 100));
    }
    for grp in 0..=3u16 {
        for base in [0, 1, 0x234, 0xFFF] {
            tags.push(et(0, false, 10, (grp << 12) | base, 0, 0));
        }
    }
    let mut rng = Rng(0x5EED_0000_4B45_524E);
    for _ in 0..100 {
        tags.push(vn(
            rng.bool(),
            rng.bool(),
            rng.field(16383),
            rng.bool(),
            rng.field(4095),
        ));
        tags.push(et(
            rng.field(7) as u8,
            rng.bool(),
            rng.field(4095),
            rng.field(0x3FFF),
            0,
            0,
        ));
        tags.push(st(rng.field(7) as u8, rng.bool(), rng.field(4095)));
    }
    tags.into_iter()
        .map(|tag| {
            let mut src_mac = [0u8; 6];
            src_mac.iter_mut().for_each(|b| *b = rng.next() as u8);
            src_mac[0] &= 0xFE;
            let ctag = rng
                .bool()
                .then(|| (rng.field(7) as u8, rng.bool(), rng.field(4095)));
            let len = if rng.bool() {
                60
            } else {
                60 + rng.below(200) as usize
            };
            Case {
                tag,
                src_mac,
                ctag,
                len,
            }
        })
        .collect()
}

#[test]
fn encapped_frames_decode_in_tshark() {
    let cases = cases();
    assert!(cases.len() > 300);
    let frames: Vec<Vec<u8>> = cases.iter().map(Case::run).collect();

    assert_tshark_decodes(
        "kernels-tshark",
        "encap.pcap",
        &FIELDS,
        &cases,
        &frames,
        Case::expected,
        "expected",
    );
}
