//! Golden vectors: frames decoded by Wireshark (tshark 4.0), checked
//! against `dataplane::wire`.
//!
//! `tests/data/vectors/vectors.json` (a copy of `shared/vectors/`) lists,
//! per frame, its bytes in hex and tshark's value for each field. Every
//! listed field is compared with what the wire module parses; a field name
//! this test does not know fails the test, so new vectors cannot be
//! silently ignored. Frames marked malformed by tshark (`_ws.malformed`:
//! vn08, et07) must be rejected with `Error::TruncatedTag`.
//!
//! ECP/VDP (ec01, ec02): the wire module models the 4-byte ECP header only
//! (`wire::ecp`), so `ecp.ver/op/subtype/seqno` are compared; the VDP TLVs
//! in the body are not modelled yet (later work) and are not checked.
//!
//! The `.pcap` beside each vector must hold the same bytes as its hex
//! (pcap read by hand: 24-byte global header, 16-byte record headers).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vfex_dataplane::wire::{
    self, Error, EtherType, ExtenderTag, FrameInfo, ecp, etag, ethernet, stag, vlan, vntag,
};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors")
}

struct Vector {
    name: String,
    bytes: Vec<u8>,
    fields: Vec<(String, String)>,
}

fn decode_hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
        })
        .collect()
}

fn load_vectors() -> Vec<Vector> {
    let path = vectors_dir().join("vectors.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("vectors.json is valid JSON");
    let list = json.as_array().expect("vectors.json is an array");
    list.iter()
        .map(|v| {
            let name = v["name"].as_str().expect("name").to_owned();
            let bytes = decode_hex(v["hex"].as_str().expect("hex"));
            let fields = v["tshark"]
                .as_object()
                .expect("tshark object")
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().expect("tshark values are strings").to_owned(),
                    )
                })
                .collect();
            Vector {
                name,
                bytes,
                fields,
            }
        })
        .collect()
}

fn hex16(v: u16) -> String {
    format!("{v:#06x}")
}

fn hex8(v: u8) -> String {
    format!("{v:#04x}")
}

fn bit(b: bool) -> String {
    u8::from(b).to_string()
}

/// Our value for tshark field `key`, formatted the way tshark prints it.
fn our_value(name: &str, frame: &[u8], info: &FrameInfo, key: &str) -> String {
    let tag_view = &frame[ethernet::TAG_OFFSET..];
    let vn = || match info.extender_tag {
        Some(ExtenderTag::VnTag(r)) => r,
        other => panic!("{name}: {key} listed but parser found {other:?}"),
    };
    let et = || match info.extender_tag {
        Some(ExtenderTag::ETag(r)) => r,
        other => panic!("{name}: {key} listed but parser found {other:?}"),
    };
    let st = || {
        info.stag
            .unwrap_or_else(|| panic!("{name}: {key} listed but no S-tag"))
    };
    let ct = || {
        info.ctag
            .unwrap_or_else(|| panic!("{name}: {key} listed but no C-tag"))
    };
    let ecp = || {
        assert_eq!(info.ethertype, EtherType::ECP, "{name}: not ECP");
        let p = ecp::Packet::new_checked(&frame[info.payload_offset..])
            .unwrap_or_else(|e| panic!("{name}: ECP header: {e}"));
        (
            ecp::Repr::parse(&p).unwrap_or_else(|e| panic!("{name}: ECP: {e}")),
            p.version(),
        )
    };
    match key {
        "vntag.dir" => bit(vn().direction),
        "vntag.ptr" => bit(vn().pointer),
        "vntag.dst" => vn().dst.to_string(),
        "vntag.looped" => bit(vn().looped),
        // r and ver are not in the Repr (r ignored, ver must be 0): read the view.
        "vntag.r" => bit(vntag::Packet::new_checked(tag_view).unwrap().reserved()),
        "vntag.version" => vntag::Packet::new_checked(tag_view)
            .unwrap()
            .version()
            .to_string(),
        "vntag.src" => vn().src.to_string(),
        "vntag.etype" => vn().ethertype.to_string(),
        "etag.pcp" => et().pcp.to_string(),
        "etag.dei" => bit(et().dei),
        "etag.iecid_base" => hex16(et().ingress_ecid_base),
        // Reserved bits are ignored by the Repr: read the view.
        "etag.resv" => etag::Packet::new_checked(tag_view)
            .unwrap()
            .resv()
            .to_string(),
        "etag.group" => et().grp.to_string(),
        "etag.ecid_base" => hex16(et().ecid_base),
        "etag.iecid_ext" => hex8(et().ingress_ecid_ext),
        "etag.ecid_ext" => hex8(et().ecid_ext),
        "etag.etype" => et().ethertype.to_string(),
        "ieee8021ad.priority" => st().pcp.to_string(),
        "ieee8021ad.dei" => bit(st().dei),
        "ieee8021ad.id" => st().svid.to_string(),
        "vlan.priority" => ct().pcp.to_string(),
        "vlan.dei" => bit(ct().dei),
        "vlan.id" => ct().vid.to_string(),
        "vlan.etype" => ct().ethertype.to_string(),
        "ecp.ver" => ecp().1.to_string(),
        "ecp.op" => hex16(u16::from(ecp().0.op)),
        "ecp.subtype" => hex16(ecp().0.subtype),
        "ecp.seqno" => ecp().0.sequence.to_string(),
        _ => panic!(
            "{name}: vectors.json lists tshark field {key:?} that wire_vectors.rs does not check; add it"
        ),
    }
}

/// Rebuilds the header bytes (MACs, tags, final EtherType) from the
/// parsed reprs with `emit`.
fn emit_header(info: &FrameInfo, out: &mut [u8]) -> usize {
    let outer = match (info.extender_tag, info.stag, info.ctag) {
        (Some(t), _, _) => t.tpid(),
        (None, Some(s), _) => s.tpid,
        (None, None, Some(_)) => EtherType::VLAN,
        (None, None, None) => info.ethertype,
    };
    ethernet::Repr {
        dst_addr: info.dst,
        src_addr: info.src,
        ethertype: outer,
    }
    .emit(&mut ethernet::Packet::new_unchecked(&mut out[..]));
    let mut at = ethernet::TAG_OFFSET;
    match info.extender_tag {
        Some(ExtenderTag::VnTag(r)) => {
            r.emit(&mut vntag::Packet::new_unchecked(&mut out[at..]));
            at += vntag::TAG_LEN;
        }
        Some(ExtenderTag::ETag(r)) => {
            r.emit(&mut etag::Packet::new_unchecked(&mut out[at..]));
            at += etag::TAG_LEN;
        }
        None => {}
    }
    if let Some(r) = info.stag {
        r.emit(&mut stag::Packet::new_unchecked(&mut out[at..]));
        at += stag::TAG_LEN;
    }
    if let Some(r) = info.ctag {
        r.emit(&mut vlan::Packet::new_unchecked(&mut out[at..]));
        at += vlan::TAG_LEN;
    }
    at + 2
}

#[test]
fn vectors_match_tshark() {
    let vectors = load_vectors();
    assert!(
        vectors.len() >= 13,
        "expected at least 13 vectors, got {}",
        vectors.len()
    );
    let mut fields_checked = 0;
    let mut rejected = 0;
    for v in &vectors {
        let result = wire::parse_frame(&v.bytes);
        if v.fields.iter().any(|(k, _)| k == "_ws.malformed") {
            assert_eq!(
                result,
                Err(Error::TruncatedTag),
                "{}: tshark says malformed, we must reject it as a truncated tag",
                v.name
            );
            rejected += 1;
            continue;
        }
        let info = result.unwrap_or_else(|e| panic!("{}: parse_frame failed: {e}", v.name));
        for (key, want) in &v.fields {
            let got = our_value(&v.name, &v.bytes, &info, key);
            assert_eq!(&got, want, "{}: field {key}", v.name);
            fields_checked += 1;
        }

        // emit(parse(frame)) reproduces the header bytes.
        let mut buf = [0u8; 64];
        let n = emit_header(&info, &mut buf);
        assert_eq!(n, info.payload_offset, "{}", v.name);
        assert_eq!(buf[..n], v.bytes[..n], "{}: emitted header differs", v.name);
        if info.ethertype == EtherType::ECP {
            let p = ecp::Packet::new_checked(&v.bytes[n..]).unwrap();
            let r = ecp::Repr::parse(&p).unwrap();
            let mut hdr = [0u8; ecp::HEADER_LEN];
            r.emit(&mut ecp::Packet::new_unchecked(&mut hdr[..]));
            assert_eq!(
                hdr[..],
                v.bytes[n..n + ecp::HEADER_LEN],
                "{}: ECP header",
                v.name
            );
        }
    }
    assert_eq!(rejected, 2, "vn08 and et07 are the truncated vectors");
    assert!(fields_checked >= 80, "only {fields_checked} fields checked");
}

#[test]
fn vectors_cover_every_tag_kind() {
    let vectors = load_vectors();
    let mut seen = [false; 5];
    for v in &vectors {
        let Ok(info) = wire::parse_frame(&v.bytes) else {
            continue;
        };
        seen[0] |= matches!(info.extender_tag, Some(ExtenderTag::VnTag(_)));
        seen[1] |= matches!(info.extender_tag, Some(ExtenderTag::ETag(_)));
        seen[2] |= info.stag.is_some();
        seen[3] |= info.ctag.is_some();
        seen[4] |= info.ethertype == EtherType::ECP;
    }
    assert_eq!(seen, [true; 5], "VN-Tag, E-Tag, S-tag, C-tag, ECP");
}

/// The packets of a classic pcap file (little-endian, microsecond
/// timestamps, linktype 1), read by hand.
fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let u32_at = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
    assert!(data.len() >= 24, "{}: no global header", path.display());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "{}: magic", path.display());
    assert_eq!(u16::from_le_bytes([data[4], data[5]]), 2, "version major");
    assert_eq!(
        u32_at(20),
        1,
        "{}: linktype is not Ethernet",
        path.display()
    );
    let mut packets = Vec::new();
    let mut at = 24;
    while at < data.len() {
        assert!(
            at + 16 <= data.len(),
            "{}: short record header",
            path.display()
        );
        let incl = u32_at(at + 8) as usize;
        let orig = u32_at(at + 12) as usize;
        assert_eq!(incl, orig, "{}: packet was cut by snaplen", path.display());
        at += 16;
        assert!(at + incl <= data.len(), "{}: short record", path.display());
        packets.push(data[at..at + incl].to_vec());
        at += incl;
    }
    packets
}

#[test]
fn pcaps_hold_the_same_bytes() {
    let vectors = load_vectors();
    for v in &vectors {
        let path = vectors_dir().join(format!("{}.pcap", v.name));
        let packets = read_pcap(&path);
        assert_eq!(packets.len(), 1, "{}: one packet per pcap", v.name);
        assert_eq!(packets[0], v.bytes, "{}: pcap and hex differ", v.name);
    }
    // Every pcap in the directory belongs to a vector.
    for entry in fs::read_dir(vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pcap") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert!(
                vectors.iter().any(|v| v.name == stem),
                "{}: no vector in vectors.json",
                path.display()
            );
        }
    }
}
