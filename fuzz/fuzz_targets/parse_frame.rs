//! `wire::parse_frame` on arbitrary bytes: never panics; what it accepts
//! is consistent (offsets inside the frame, the final EtherType not a tag).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfex_dataplane::wire::{EtherType, parse_frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse_frame(data) {
        assert!(info.payload_offset <= data.len());
        assert!(info.payload_offset >= 14);
        assert!(!info.ethertype.is_tag());
        let et = u16::from_be_bytes([
            data[info.ethertype_offset()],
            data[info.ethertype_offset() + 1],
        ]);
        assert_eq!(EtherType(et), info.ethertype);
        assert!(info.extender_tag.is_none() || info.stag.is_none());
    }
});
