#!/usr/bin/env python3
"""Seeds the fuzz corpora.

Wire and kernel targets, from dataplane/tests/data/vectors/vectors.json:
fuzz/corpus/<target>/seed-<vector name>[-<variant>] for every target: the
whole frame (parse_frame, wire_ethernet), the header a wire view starts at
(tag views at offset 12, the C-tag after an outer tag, ECP at 14), and for
the kernels target the frame behind a few control/tag prefixes.

config: every examples/*.toml, the TOML blocks of docs/CONFIG.md and the
README, and the bad configurations of the tests (control/tests/control_plane/
config.rs: BASE and BASE plus each bad case; tests/cli.rs's bad file).

shell: every command of the table in src/shell.rs alone, with arguments
built from its usage, and with bad arguments; the lines of the shell's own
tests and of tests/cli.rs's command file.

Files that exist are overwritten; other corpus files are left alone.
"""
import glob
import hashlib
import itertools
import json
import os
import re
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


def rust_str(body):
    """The value of a Rust string literal's body ("..." without quotes)."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


STR = r'"((?:[^"\\]|\\.)*)"'


def config_seeds():
    """(name, text) of configuration files, good and bad."""
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.toml"))):
        with open(path) as f:
            yield "example-" + os.path.basename(path)[:-5], f.read()
    for doc in ("docs/CONFIG.md", "README.md"):
        with open(os.path.join(ROOT, doc)) as f:
            blocks = re.findall(r"```toml\n(.*?)```", f.read(), re.S)
        for i, b in enumerate(blocks):
            yield f"doc-{os.path.basename(doc)[:-3]}-{i}", b
    with open(os.path.join(ROOT, "control", "tests", "control_plane", "config.rs")) as f:
        src = f.read()
    base = re.search(r'const BASE: &str = r#"(.*?)"#;', src, re.S).group(1)
    yield "base", base
    for i, (what, extra) in enumerate(re.findall(r'\(\s*' + STR + r',\s*' + STR + r'\.into\(\)', src)):
        yield f"bad-{i:02}-{re.sub(r'[^a-z0-9]+', '-', rust_str(what).lower())}", base + rust_str(extra)
    # Multi-line raw strings of the other config tests (bridge with duplicate VIFs, ...).
    for i, raw in enumerate(re.findall(r'r#"(role = .*?)"#', src, re.S)):
        yield f"raw-{i}", raw
    with open(os.path.join(ROOT, "tests", "cli.rs")) as f:
        cli = f.read()
    for i, t in enumerate(re.findall(STR, cli)):
        t = rust_str(t)
        if t.startswith("role = ") and "\n" in t:
            yield f"cli-{i}", t


# Arguments per usage word of the shell table: good ones, then bad ones.
SHELL_ARGS = {
    "[COMMAND]": (["", "show port", "veth"], ["frobnicate", "show port info 0 extra"]),
    "info|stats|xstats": (["info", "stats", "xstats"], ["statz", "", "INFO"]),
    "all|N": (["all", "0", "65535"], ["65536", "-1", "x", ""]),
    "[NAME]": (["", "vm1", "web-1.a_b"], ["9vm", "a/b", "\"vm1\""]),
    "[stats]": (["", "stats"], ["stat", "stats stats"]),
    "NAME": (["vm1"], ["", "1vm", "-x", "é"]),
    "key=value": (["port=1", "vif=5", 'description="a b"', 'allowed_macs=["02:00:00:00:00:01", "02:00:00:00:00:02"]',
                   'vlan={ mode = "access", vlan = 10 }'], ["vif", "=5", "vif=", "a b"]),
    "...": ([""], []),
    "PF": (["0000:03:00.0"], [""]),
    "N": (["8", "0"], ["many", "-1", "70000", ""]),
    "INDEX": (["2"], ["two", "-2", ""]),
    "port-extender|vepa-station|controlling-bridge": (["port-extender", "vepa-station", "controlling-bridge"],
                                                      ["switch", "", "port-extender vepa-station"]),
    "vntag|etag|stag|none": (["vntag", "etag", "stag", "none"], ["vxlan", ""]),
    "FILE": (["/tmp/x.toml", '"a b.toml"'], ["", "a b", '"unterminated']),
}


def shell_seeds():
    """(name, line) for the command shell."""
    with open(os.path.join(ROOT, "src", "shell.rs")) as f:
        src = f.read()
    table = re.findall(r'words: &\[([^\]]*)\],\s*usage: ' + STR, src)
    lines = set()
    for words, usage in table:
        w = " ".join(re.findall(STR, words))
        lines.add(w)
        lines.update(w + " " + x for x in ("x", "1", "# comment", "\"", "[", "{a b}"))
        parts = [SHELL_ARGS.get(u, ([u], [])) for u in usage.split()]
        for combo in itertools.islice(itertools.product(*(g for g, _ in parts)), 24):
            lines.add(" ".join([w, *combo]).strip())
        for i, (good, bad) in enumerate(parts):
            for b in bad:
                args = [g[0] for g, _ in parts]
                args[i] = b
                lines.add(" ".join([w, *args]).strip())
    tests = src[src.find("mod tests"):]
    lines.update(rust_str(x) for x in re.findall(r'\(\s*' + STR + r'\s*,', tests))
    lines.update(re.findall(r'\(\s*r#"(.*?)"#', tests))
    with open(os.path.join(ROOT, "tests", "cli.rs")) as f:
        for cmds in re.findall(r'"((?:show|veth|help)[^"\\]*(?:\\.[^"\\]*)*\\nquit\\n)"', f.read()):
            lines.update(rust_str(cmds).splitlines())
    lines.update(["", "   # only a comment", "help", "\t", "show  port   stats\tall"])
    # Non-ASCII text and white space that is more than one byte in UTF-8
    # (no-break, ideographic, line separator, NEL): the splitter and the
    # completer must not cut inside a character.
    for ws in ("\u00a0", "\u3000", "\u2028", "\u0085", "\u2003"):
        lines.update([f"show{ws}", f"show{ws}p", f"veth{ws}add vm1", f"{ws}help", f"show port{ws}stats all"])
    lines.update(["veth add vm\u00e9", "load config \"f\u00e9.toml\"", "show veth \u540d", "\u00e9"])
    for line in sorted(lines):
        yield hashlib.sha1(line.encode()).hexdigest()[:12], line


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"seed-{name}"), "wb") as out:
        out.write(data)


def main():
    with open(VECTORS) as f:
        vectors = json.load(f)
    n = 0
    for v in vectors:
        frame = bytes.fromhex(v["hex"])
        for target, variant, data in seeds(frame):
            write(target, f"{v['name']}{variant}", data)
            n += 1
    print(f"seed.py: {n} seeds from {len(vectors)} vectors into {CORPUS}", file=sys.stderr)
    nc = ns = 0
    for name, text in config_seeds():
        write("config", name, text.encode())
        nc += 1
    for name, line in shell_seeds():
        write("shell", name, line.encode())
        ns += 1
    print(f"seed.py: {nc} configuration files (config), {ns} command lines (shell)", file=sys.stderr)


if __name__ == "__main__":
    main()
