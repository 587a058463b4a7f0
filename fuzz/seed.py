#!/usr/bin/env python3
"""Seeds the fuzz corpora from dataplane/tests/data/vectors/vectors.json.

Writes fuzz/corpus/<target>/seed-<vector name>[-<variant>] for every target:
the whole frame (parse_frame, wire_ethernet), the header a wire view starts
at (tag views at offset 12, the C-tag after an outer tag, ECP at 14), and
for the kernels target the frame behind a few control/tag prefixes. Files
that exist are overwritten; other corpus files are left alone.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "dataplane", "tests", "data", "vectors", "vectors.json")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

TAG_LEN = {0x8926: 6, 0x893F: 8, 0x88A8: 4, 0x9100: 4, 0x9200: 4}


def seeds(frame):
    """(target, variant, bytes) for one golden frame."""
    yield "parse_frame", "", frame
    yield "wire_ethernet", "", frame
    if len(frame) < 14:
        return
    outer = int.from_bytes(frame[12:14], "big")
    at12 = frame[12:]
    if outer == 0x8926:
        yield "wire_vntag", "", at12
    elif outer == 0x893F:
        yield "wire_etag", "", at12
    elif outer in (0x88A8, 0x9100, 0x9200):
        yield "wire_stag", "", at12
    elif outer == 0x8100:
        yield "wire_vlan", "", at12
    elif outer == 0x8940:
        yield "wire_ecp", "", frame[14:]
    inner_at = 12 + TAG_LEN.get(outer, 0)
    if TAG_LEN.get(outer) and frame[inner_at:inner_at + 2] == b"\x81\x00":
        yield "wire_vlan", "-ctag", frame[inner_at:]
    # kernels: headroom, tailroom, first segment (0xff = single), flags;
    # 8 tag bytes; the frame.
    for name, ctl in (("", [64, 32, 0xFF, 0]), ("-pad", [64, 0, 0xFF, 1]),
                      ("-chained", [8, 8, 20, 1]), ("-noroom", [0, 0, 0xFF, 1])):
        yield "kernels", name, bytes(ctl) + bytes([1, 0, 6, 0, 5, 0xA0, 0, 0x0A]) + frame


def main():
    with open(VECTORS) as f:
        vectors = json.load(f)
    n = 0
    for v in vectors:
        frame = bytes.fromhex(v["hex"])
        for target, variant, data in seeds(frame):
            d = os.path.join(CORPUS, target)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"seed-{v['name']}{variant}"), "wb") as out:
                out.write(data)
            n += 1
    print(f"seed.py: {n} seeds from {len(vectors)} vectors into {CORPUS}", file=sys.stderr)


if __name__ == "__main__":
    main()
