//! The configuration file (TOML): parsing and validation.
//!
//! [`parse`] reads the whole file into a spanned TOML tree (`toml::de`,
//! recovering from syntax errors), then walks it once, checking every value
//! and every cross-reference. It never stops at the first problem: the
//! result is either a complete [`Config`] or the list of *every* error, each
//! with `file:line:column` and what was expected. A configuration with any
//! error is never returned, so it can change nothing.
//!
//! The format is documented in `docs/CONFIG.md`; `examples/*.toml` hold
//! working files for each role.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::model::*;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File name as given to [`parse`].
    pub file: String,
    /// 1-based line (0 when the file could not be read at all).
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What is wrong and what was expected.
    pub msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

/// Every problem found in a configuration file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} error{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.0.iter().enumerate() {
            if i + 1 < n {
                writeln!(f, "{e}")?;
            } else {
                write!(f, "{e}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&name, &text),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file: name,
            line: 0,
            col: 0,
            msg: format!("cannot read the file: {e}"),
        }])),
    }
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    parse_overriding(file, text, &[])
}

/// [`parse`] with top-level string keys set to other values first (the
/// CLI's `--role` and `--encap`), validated like the file's own: the text
/// is not rewritten, so errors keep the file's lines and columns (an error
/// about an overriding value itself is reported at 1:1).
pub fn parse_overriding(
    file: &str,
    text: &str,
    set: &[(&str, &str)],
) -> Result<Config, ConfigErrors> {
    let mut cx = Cx { errs: Vec::new() };
    let (root, syntax) = DeTable::parse_recoverable(text);
    for e in syntax {
        let span = e.span().unwrap_or(0..0);
        cx.err(span, format!("TOML syntax: {}", e.message().trim_end()));
    }
    let mut root = root.into_inner();
    for (k, v) in set {
        root.insert(
            Spanned::new(0..0, (*k).to_owned().into()),
            Spanned::new(0..0, DeValue::String((*v).to_owned().into())),
        );
    }
    let config = decode(&mut cx, &root, text);
    if cx.errs.is_empty() {
        if let Some(c) = config {
            return Ok(c);
        }
        cx.err(0..0, "the configuration is incomplete".into());
    }
    let mut errs: Vec<ConfigError> = cx
        .errs
        .into_iter()
        .map(|(span, msg)| {
            let (line, col) = line_col(text, span.start);
            ConfigError {
                file: file.to_string(),
                line,
                col,
                msg,
            }
        })
        .collect();
    errs.sort_by_key(|e| (e.line, e.col));
    errs.dedup();
    Err(ConfigErrors(errs))
}

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

type Span = Range<usize>;
type Val<'i> = Spanned<DeValue<'i>>;

struct Cx {
    errs: Vec<(Span, String)>,
}

impl Cx {
    fn err(&mut self, span: Span, msg: String) {
        self.errs.push((span, msg));
    }
}

/// A table being decoded: the table, where it is named, and how to name it.
struct Tbl<'a, 'i> {
    t: &'a DeTable<'i>,
    at: Span,
    name: String,
}

impl<'a, 'i> Tbl<'a, 'i> {
    fn get(&self, key: &str) -> Option<&'a Val<'i>> {
        self.t
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }
    /// Reports keys not in `allowed`.
    fn only(&self, cx: &mut Cx, allowed: &[&str]) {
        for (k, _) in self.t.iter() {
            let key: &str = k.get_ref().as_ref();
            if !allowed.contains(&key) {
                cx.err(
                    k.span(),
                    format!(
                        "unknown key `{key}` in {}; expected one of: {}",
                        self.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }
    fn need(&self, cx: &mut Cx, key: &str, expected: &str) -> Option<&'a Val<'i>> {
        let v = self.get(key);
        if v.is_none() {
            cx.err(
                self.at.clone(),
                format!("{} is missing `{key}` ({expected})", self.name),
            );
        }
        v
    }
}

fn found(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the integer {i}"),
        other => format!("a {}", other.type_str()),
    }
}

fn as_str<'a>(cx: &mut Cx, v: &'a Val<'_>, what: &str) -> Option<&'a str> {
    match v.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        other => {
            cx.err(
                v.span(),
                format!("`{what}`: expected a string, found {}", found(other)),
            );
            None
        }
    }
}

fn as_bool(cx: &mut Cx, v: &Val<'_>, what: &str) -> Option<bool> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        other => {
            cx.err(
                v.span(),
                format!("`{what}`: expected true or false, found {}", found(other)),
            );
            None
        }
    }
}

fn int_of(v: &DeValue<'_>) -> Option<i128> {
    match v {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// An integer in `lo..=hi`; `what` names the value for the messages.
fn as_int(cx: &mut Cx, v: &Val<'_>, what: &str, lo: i128, hi: i128) -> Option<i128> {
    match int_of(v.get_ref()) {
        Some(n) if n >= lo && n <= hi => Some(n),
        Some(n) => {
            cx.err(
                v.span(),
                format!("{what} {n} is out of range: expected {lo}..={hi}"),
            );
            None
        }
        None => {
            cx.err(
                v.span(),
                format!(
                    "{what}: expected an integer in {lo}..={hi}, found {}",
                    found(v.get_ref())
                ),
            );
            None
        }
    }
}

fn as_enum<E: Copy>(cx: &mut Cx, v: &Val<'_>, what: &str, options: &[(&str, E)]) -> Option<E> {
    let names = options
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if let DeValue::String(s) = v.get_ref() {
        if let Some((_, e)) = options.iter().find(|(n, _)| *n == s.as_ref()) {
            return Some(*e);
        }
    }
    cx.err(
        v.span(),
        format!(
            "`{what}`: expected one of {names}, found {}",
            found(v.get_ref())
        ),
    );
    None
}

fn as_table<'a, 'i>(cx: &mut Cx, v: &'a Val<'i>, name: String) -> Option<Tbl<'a, 'i>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(Tbl {
            t,
            at: v.span(),
            name,
        }),
        other => {
            cx.err(
                v.span(),
                format!("{name}: expected a table, found {}", found(other)),
            );
            None
        }
    }
}

fn as_array<'a, 'i>(cx: &mut Cx, v: &'a Val<'i>, what: &str) -> Option<&'a DeArray<'i>> {
    match v.get_ref() {
        DeValue::Array(a) => Some(a),
        other => {
            cx.err(
                v.span(),
                format!("`{what}`: expected an array, found {}", found(other)),
            );
            None
        }
    }
}

fn parse_with<T>(
    cx: &mut Cx,
    v: &Val<'_>,
    what: &str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    let s = as_str(cx, v, what)?;
    match f(s) {
        Ok(t) => Some(t),
        Err(e) => {
            cx.err(v.span(), format!("`{what}`: {e}"));
            None
        }
    }
}

fn as_mac(cx: &mut Cx, v: &Val<'_>, what: &str, unicast: bool) -> Option<Mac> {
    let m = parse_with(cx, v, what, |s| s.parse::<Mac>())?;
    if unicast && (m.is_multicast() || m.is_zero()) {
        cx.err(v.span(), format!("`{what}`: {m} is not a unicast address (expected a non-zero MAC with the group bit clear)"));
        return None;
    }
    Some(m)
}

/// A `Range16` written as an integer `n` or a string `"a-b"`, inside `lo..=hi`.
fn as_range(cx: &mut Cx, v: &Val<'_>, what: &str, lo: u16, hi: u16) -> Option<Range16> {
    let bad = |cx: &mut Cx, m: String| {
        cx.err(v.span(), m);
        None
    };
    let r = match v.get_ref() {
        DeValue::Integer(_) => {
            let n = as_int(cx, v, what, lo.into(), hi.into())?;
            return Some(Range16::one(n as u16));
        }
        DeValue::String(s) => {
            let parts: Vec<&str> = s.split('-').map(str::trim).collect();
            let nums: Option<Vec<u16>> = parts.iter().map(|p| p.parse::<u16>().ok()).collect();
            match (parts.len(), nums) {
                (1, Some(n)) => Range16::one(n[0]),
                (2, Some(n)) => Range16 {
                    start: n[0],
                    end: n[1],
                },
                _ => {
                    return bad(
                        cx,
                        format!("{what}: \"{s}\" is not a number or a range like \"10-20\""),
                    );
                }
            }
        }
        other => {
            return bad(
                cx,
                format!(
                    "{what}: expected an integer or a range like \"10-20\", found {}",
                    found(other)
                ),
            );
        }
    };
    if r.start > r.end {
        return bad(
            cx,
            format!(
                "{what} range {}-{} is empty: the first value must not exceed the last",
                r.start, r.end
            ),
        );
    }
    if r.start < lo || r.end > hi {
        return bad(
            cx,
            format!("{what} {r} is out of range: expected {lo}..={hi}"),
        );
    }
    Some(r)
}

/// The keys a rule set (profile or vEth override) may hold.
pub const RULE_KEYS: [&str; 8] = [
    "admin",
    "vlan",
    "anti_spoof",
    "acl",
    "policer",
    "pcp",
    "mirror",
    "mac_limit",
];

const IP_PROTOS: [(&str, u8); 6] = [
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("gre", 47),
    ("icmpv6", 58),
    ("sctp", 132),
];

/// Names known before the sections are decoded, for cross-references.
struct Names {
    ports: BTreeMap<String, (PortKind, Span)>,
    veths: Vec<String>,
    profiles: Vec<String>,
}

fn decode(cx: &mut Cx, root: &DeTable<'_>, text: &str) -> Option<Config> {
    let top = Tbl {
        t: root,
        at: 0..0,
        name: "the top level".into(),
    };
    top.only(
        cx,
        &[
            "role",
            "encap",
            "mac_table_size",
            "ports",
            "profiles",
            "veths",
            "vif_lists",
            "sriov",
        ],
    );
    let roles: Vec<(&str, Role)> = Role::ALL.iter().map(|r| (r.name(), *r)).collect();
    let encaps: Vec<(&str, Encap)> = Encap::ALL.iter().map(|e| (e.name(), *e)).collect();
    let role = top
        .need(
            cx,
            "role",
            "expected \"port-extender\", \"vepa-station\" or \"controlling-bridge\"",
        )
        .and_then(|v| as_enum(cx, v, "role", &roles));
    let encap_v = top.need(
        cx,
        "encap",
        "expected \"vntag\", \"etag\", \"stag\" or \"none\"",
    );
    let encap = encap_v.and_then(|v| as_enum(cx, v, "encap", &encaps));
    if let (Some(r), Some(e), Some(v)) = (role, encap, encap_v) {
        let ok = match r {
            Role::PortExtender => matches!(e, Encap::Vntag | Encap::Etag),
            Role::VepaStation => matches!(e, Encap::Stag | Encap::None),
            Role::ControllingBridge => true,
        };
        if !ok {
            let expected = if r == Role::PortExtender {
                "\"vntag\" or \"etag\""
            } else {
                "\"stag\" or \"none\""
            };
            cx.err(
                v.span(),
                format!(
                    "encap \"{}\" does not fit role \"{}\": expected {expected}",
                    e.name(),
                    r.name()
                ),
            );
        }
    }

    // Every role keeps it (a `set role` while stopped keeps the learned
    // table the process started with); only the controlling bridge learns.
    let mac_table_size = top.get("mac_table_size").and_then(|v| {
        let r = &crate::model::MAC_TABLE_SIZE_RANGE;
        as_int(
            cx,
            v,
            "mac_table_size",
            i128::from(*r.start()),
            i128::from(*r.end()),
        )
        .map(|n| n as u32)
    });

    let section = |cx: &mut Cx, key: &str| -> Vec<(String, Span, Tbl<'_, '_>)> {
        let Some(v) = top.get(key) else {
            return Vec::new();
        };
        let Some(t) = as_table(cx, v, format!("[{key}]")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in t.t.iter() {
            let name = k.get_ref().to_string();
            let good_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !good_name {
                cx.err(
                    k.span(),
                    format!("[{key}]: the name {name:?} is not usable: expected 1..=64 letters, digits, `-`, `_` or `.`"),
                );
            }
            if let Some(tb) = as_table(cx, v, format!("[{key}.{name}]")) {
                out.push((name, k.span(), Tbl { at: k.span(), ..tb }));
            }
        }
        out
    };
    let ports_raw = section(cx, "ports");
    let profiles_raw = section(cx, "profiles");
    let veths_raw = section(cx, "veths");
    let lists_raw = section(cx, "vif_lists");

    // Names first, so that references can be checked while decoding.
    let mut names = Names {
        ports: BTreeMap::new(),
        veths: Vec::new(),
        profiles: Vec::new(),
    };
    let kinds = [
        ("uplink", PortKind::Uplink),
        ("downlink", PortKind::Downlink),
    ];
    for (name, span, t) in &ports_raw {
        if let Some(k) = t.get("kind") {
            let kind = match k.get_ref() {
                DeValue::String(s) if s == "uplink" => PortKind::Uplink,
                _ => PortKind::Downlink,
            };
            names.ports.insert(name.clone(), (kind, span.clone()));
        } else {
            names
                .ports
                .insert(name.clone(), (PortKind::Downlink, span.clone()));
        }
    }
    names.veths = veths_raw.iter().map(|(n, _, _)| n.clone()).collect();
    names.profiles = profiles_raw.iter().map(|(n, _, _)| n.clone()).collect();

    let sriov = decode_sriov(cx, &top);

    // Ports.
    let mut ports = BTreeMap::new();
    let mut devices: HashMap<String, (String, Span)> = HashMap::new();
    for (name, span, t) in &ports_raw {
        t.only(cx, &["kind", "pci", "devargs", "vf", "representor"]);
        let kind = t
            .need(cx, "kind", "expected \"uplink\" or \"downlink\"")
            .and_then(|v| as_enum(cx, v, "kind", &kinds));
        let given: Vec<&str> = ["pci", "devargs", "vf", "representor"]
            .into_iter()
            .filter(|k| t.get(k).is_some())
            .collect();
        let device = match given.as_slice() {
            [] => {
                cx.err(
                    span.clone(),
                    format!(
                        "{} needs one of `pci`, `devargs`, `vf` or `representor`",
                        t.name
                    ),
                );
                None
            }
            [one] => decode_device(cx, t, one, &sriov),
            [_, second, ..] => {
                cx.err(
                    t.get(second).map(|v| v.span()).unwrap_or(span.clone()),
                    format!("{} names its device twice (`{}`); expected exactly one of `pci`, `devargs`, `vf`, `representor`", t.name, given.join("`, `")),
                );
                None
            }
        };
        if let Some(d) = &device {
            let key = match d {
                PortDevice::Pci(a) => a.to_string(),
                PortDevice::Devargs(s) => s.clone(),
                PortDevice::Vf { pf, index } => format!("{pf} VF {index}"),
                PortDevice::Representor { pf, vf } => format!("{pf},representor=vf[{vf}]"),
            };
            if let Some((other, at)) = devices.get(&key) {
                let (l, _) = line_col(text, at.start);
                cx.err(
                    span.clone(),
                    format!(
                        "port `{name}` uses device {key}, already used by port `{other}` (line {l})"
                    ),
                );
            } else {
                devices.insert(key, (name.clone(), span.clone()));
            }
        }
        if let (Some(kind), Some(device)) = (kind, device) {
            ports.insert(name.clone(), Port { kind, device });
        }
    }
    if let Some(r) = role {
        let uplinks: Vec<&String> = names
            .ports
            .iter()
            .filter(|(_, (k, _))| *k == PortKind::Uplink)
            .map(|(n, _)| n)
            .collect();
        let at = top.get("ports").map(|v| v.span()).unwrap_or(0..0);
        if ports_raw.is_empty() {
            cx.err(
                at,
                "the configuration has no ports: expected at least one [ports.NAME] table".into(),
            );
        } else if r != Role::ControllingBridge && uplinks.len() != 1 {
            let list = uplinks
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            cx.err(
                at,
                format!(
                    "role \"{}\" needs exactly one uplink port; found {}{}",
                    r.name(),
                    uplinks.len(),
                    if list.is_empty() {
                        String::new()
                    } else {
                        format!(": {list}")
                    }
                ),
            );
        }
    }

    // Profiles.
    let mut profiles = BTreeMap::new();
    for (name, _, t) in &profiles_raw {
        t.only(cx, &RULE_KEYS);
        if let Some(rs) = decode_rules(cx, t, &names, None) {
            profiles.insert(name.clone(), rs);
        }
    }

    // vEths.
    let mut veths = BTreeMap::new();
    let mut ids: HashMap<(String, u16), (String, Span)> = HashMap::new();
    let mut per_port: HashMap<String, (String, Span)> = HashMap::new();
    let mut macs: HashMap<Mac, (String, Span)> = HashMap::new();
    for (name, span, t) in &veths_raw {
        let mut keys = vec!["port", "vif", "ecid", "svid", "mac", "profile"];
        keys.extend(RULE_KEYS);
        t.only(cx, &keys);
        let port = t.need(cx, "port", "expected the name of a downlink port").and_then(|v| {
            let p = as_str(cx, v, "port")?;
            match names.ports.get(p) {
                None => {
                    let known = names.ports.keys().cloned().collect::<Vec<_>>().join(", ");
                    cx.err(v.span(), format!("vEth `{name}`: unknown port `{p}`; expected one of: {known}"));
                    None
                }
                Some((PortKind::Uplink, _)) => {
                    cx.err(v.span(), format!("vEth `{name}`: port `{p}` is an uplink; a vEth lives on a downlink port"));
                    None
                }
                Some(_) => Some((p.to_string(), v.span())),
            }
        });
        let mut id = None;
        let mut id_ok = true;
        for key in ["vif", "ecid", "svid"] {
            let Some(v) = t.get(key) else { continue };
            match encap {
                Some(e) if e.id_key() == Some(key) => {
                    let n = match key {
                        "vif" => as_int(
                            cx,
                            v,
                            "VIF (12-bit VN-Tag source field; 0 means none)",
                            1,
                            4095,
                        )
                        .map(|n| n as u16),
                        "ecid" => {
                            let n = int_of(v.get_ref());
                            if let Some(n) = n.filter(|n| (0x1000..=0x3fff).contains(n)) {
                                cx.err(v.span(), format!("E-CID {n:#x} is a multicast channel: a vEth's E-CID is point-to-point, expected 1..=4095 (0x001..=0xFFF); put multicast E-CIDs in [vif_lists]"));
                                None
                            } else {
                                as_int(cx, v, "E-CID", 1, 0xfff).map(|n| n as u16)
                            }
                        }
                        _ => as_int(cx, v, "S-VID", 1, 4094).map(|n| n as u16),
                    };
                    if n.is_none() {
                        id_ok = false;
                    }
                    id = n.map(|n| (n, v.span()));
                }
                Some(e) => {
                    id_ok = false;
                    let expected = e
                        .id_key()
                        .map(|k| format!("expected `{k}`"))
                        .unwrap_or_else(|| "encap \"none\" uses no tag id".into());
                    cx.err(
                        t.get(key).map(|v| v.span()).unwrap_or(span.clone()),
                        format!(
                            "vEth `{name}`: `{key}` does not apply to encap \"{}\"; {expected}",
                            e.name()
                        ),
                    );
                }
                None => id_ok = false,
            }
        }
        if let Some(e) = encap {
            if let (Some(k), None, true) = (e.id_key(), &id, id_ok) {
                cx.err(
                    span.clone(),
                    format!(
                        "vEth `{name}` is missing `{k}` (encap \"{}\" keys every vEth by it)",
                        e.name()
                    ),
                );
            }
        }
        if let (Some((p, _)), Some((n, at))) = (&port, &id) {
            let what = encap
                .and_then(|e| e.id_key())
                .unwrap_or("id")
                .to_uppercase();
            let what = match what.as_str() {
                "ECID" => "E-CID".to_string(),
                "SVID" => "S-VID".to_string(),
                w => w.to_string(),
            };
            if let Some((other, first)) = ids.get(&(p.clone(), *n)) {
                let (l, _) = line_col(text, first.start);
                cx.err(at.clone(), format!("duplicate {what} {n} on port `{p}`: already used by vEth `{other}` (line {l})"));
            } else {
                ids.insert((p.clone(), *n), (name.clone(), at.clone()));
            }
        }
        if let (Some((p, at)), Some(r)) = (&port, role) {
            if r != Role::ControllingBridge {
                if let Some((other, _)) = per_port.get(p) {
                    cx.err(at.clone(), format!("vEth `{name}`: port `{p}` already carries vEth `{other}`; role \"{}\" has one vEth per downlink port", r.name()));
                } else {
                    per_port.insert(p.clone(), (name.clone(), at.clone()));
                }
            }
        }
        let mac = t.get("mac").and_then(|v| {
            let m = as_mac(cx, v, "mac", true)?;
            if let Some((other, first)) = macs.get(&m) {
                let (l, _) = line_col(text, first.start);
                cx.err(
                    v.span(),
                    format!(
                        "vEth `{name}`: MAC {m} is already the MAC of vEth `{other}` (line {l})"
                    ),
                );
            } else {
                macs.insert(m, (name.clone(), v.span()));
            }
            Some(m)
        });
        let profile = t.get("profile").and_then(|v| {
            let p = as_str(cx, v, "profile")?;
            if !names.profiles.iter().any(|n| n == p) {
                let known = if names.profiles.is_empty() {
                    "none are defined".to_string()
                } else {
                    format!("expected one of: {}", names.profiles.join(", "))
                };
                cx.err(
                    v.span(),
                    format!("vEth `{name}`: unknown profile `{p}`; {known}"),
                );
                return None;
            }
            Some(p.to_string())
        });
        let own_port = port.as_ref().map(|(p, _)| p.as_str());
        let rules = decode_rules(cx, t, &names, own_port);
        if let (Some((port, _)), Some(rules), true) = (port, rules, id_ok) {
            let n = id.map(|(n, _)| n);
            let (vif, ecid, svid) = match encap {
                Some(Encap::Vntag) => (n, None, None),
                Some(Encap::Etag) => (None, n, None),
                Some(Encap::Stag) => (None, None, n),
                _ => (None, None, None),
            };
            veths.insert(
                name.clone(),
                Veth {
                    port,
                    vif,
                    ecid,
                    svid,
                    mac,
                    profile,
                    rules,
                },
            );
        }
    }

    // VIF lists / multicast channels.
    let mut vif_lists = BTreeMap::new();
    let mut list_ids: HashMap<u16, (String, Span)> = HashMap::new();
    for (name, span, t) in &lists_raw {
        t.only(cx, &["id", "members", "macs"]);
        let id = t.need(cx, "id", "the VIF-list id or multicast E-CID").and_then(|v| {
            let n = match encap {
                Some(Encap::Vntag) => as_int(cx, v, "VIF-list id (14-bit)", 1, 0x3fff),
                Some(Encap::Etag) => as_int(cx, v, "multicast E-CID (GRP 1..3)", 0x1000, 0x3fff),
                Some(e) => {
                    cx.err(span.clone(), format!("[vif_lists.{name}]: VIF lists need encap \"vntag\" or \"etag\", not \"{}\"", e.name()));
                    None
                }
                None => None,
            }? as u16;
            if let Some((other, first)) = list_ids.get(&n) {
                let (l, _) = line_col(text, first.start);
                cx.err(v.span(), format!("duplicate VIF-list id {n}: already used by list `{other}` (line {l})"));
            } else {
                list_ids.insert(n, (name.clone(), v.span()));
            }
            Some(n)
        });
        let members = t
            .need(cx, "members", "an array of vEth names")
            .and_then(|v| {
                let a = as_array(cx, v, "members")?;
                let mut out: Vec<String> = Vec::new();
                let mut ok = true;
                for m in a.iter() {
                    let Some(s) = as_str(cx, m, "members") else {
                        ok = false;
                        continue;
                    };
                    if !names.veths.iter().any(|n| n == s) {
                        cx.err(
                            m.span(),
                            format!("VIF list `{name}`: member `{s}` is not a vEth"),
                        );
                        ok = false;
                    } else if out.iter().any(|o| o == s) {
                        cx.err(
                            m.span(),
                            format!("VIF list `{name}`: member `{s}` is listed twice"),
                        );
                        ok = false;
                    } else {
                        out.push(s.to_string());
                    }
                }
                ok.then_some(out)
            });
        let macs = match t.get("macs") {
            None => Some(Vec::new()),
            Some(v) => as_array(cx, v, "macs").and_then(|a| {
                let mut out = Vec::new();
                let mut ok = true;
                for m in a.iter() {
                    match as_mac(cx, m, "macs", false) {
                        Some(mac) if !mac.is_multicast() => {
                            cx.err(m.span(), format!("VIF list `{name}`: {mac} is not a group MAC (expected the multicast bit set)"));
                            ok = false;
                        }
                        Some(mac) => out.push(mac),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }),
        };
        if let (Some(id), Some(members), Some(macs)) = (id, members, macs) {
            vif_lists.insert(name.clone(), VifList { id, members, macs });
        }
    }

    let (role, encap, sriov) = (role?, encap?, sriov?);
    Some(Config {
        role,
        encap,
        mac_table_size,
        ports,
        profiles,
        veths,
        vif_lists,
        sriov,
    })
}

fn decode_device(
    cx: &mut Cx,
    t: &Tbl<'_, '_>,
    key: &str,
    sriov: &Option<Vec<SriovPf>>,
) -> Option<PortDevice> {
    let v = t.get(key)?;
    match key {
        "pci" => parse_with(cx, v, "pci", |s| s.parse::<PciAddr>()).map(PortDevice::Pci),
        "devargs" => {
            let s = as_str(cx, v, "devargs")?;
            if s.trim().is_empty() || s.chars().any(char::is_whitespace) {
                cx.err(v.span(), format!("`devargs`: \"{s}\" must be non-empty DPDK devargs without spaces (like \"net_tap0,iface=vm1\")"));
                return None;
            }
            Some(PortDevice::Devargs(s.to_string()))
        }
        _ => {
            let idx_key = if key == "vf" { "index" } else { "vf" };
            let vt = as_table(cx, v, format!("`{key}` of {}", t.name))?;
            vt.only(cx, &["pf", idx_key]);
            let pf = vt
                .need(cx, "pf", "the PF's PCI address")
                .and_then(|v| parse_with(cx, v, "pf", |s| s.parse::<PciAddr>()));
            let idx = vt
                .need(cx, idx_key, "the VF index")
                .and_then(|v| as_int(cx, v, "VF index", 0, 0xffff).map(|n| n as u16));
            let (pf, idx) = (pf?, idx?);
            if let Some(sriov) = sriov {
                match sriov.iter().find(|p| p.pf == pf) {
                    None => {
                        cx.err(v.span(), format!("{}: PF {pf} is not in any [[sriov]] section; add one with its num_vfs", t.name));
                        return None;
                    }
                    Some(p) if idx >= p.num_vfs => {
                        let expected = if p.num_vfs == 0 {
                            "it has no VFs".to_string()
                        } else {
                            format!("expected 0..={}", p.num_vfs - 1)
                        };
                        cx.err(v.span(), format!("{}: VF {idx} does not exist: PF {pf} has num_vfs = {} ({expected})", t.name, p.num_vfs));
                        return None;
                    }
                    _ => {}
                }
            }
            Some(if key == "vf" {
                PortDevice::Vf { pf, index: idx }
            } else {
                PortDevice::Representor { pf, vf: idx }
            })
        }
    }
}

/// Decodes the rule keys of a profile or vEth table; `own_port` is the vEth's port.
fn decode_rules(
    cx: &mut Cx,
    t: &Tbl<'_, '_>,
    names: &Names,
    own_port: Option<&str>,
) -> Option<RuleSet> {
    let mut ok = true;
    let mut track = |x: Option<()>| {
        if x.is_none() {
            ok = false;
        }
    };
    let mut rs = RuleSet::default();
    if let Some(v) = t.get("admin") {
        rs.admin = as_enum(
            cx,
            v,
            "admin",
            &[("up", AdminState::Up), ("down", AdminState::Down)],
        );
        track(rs.admin.map(|_| ()));
    }
    if let Some(v) = t.get("vlan") {
        rs.vlan = decode_vlan(cx, v, &t.name);
        track(rs.vlan.as_ref().map(|_| ()));
    }
    if let Some(v) = t.get("anti_spoof") {
        rs.anti_spoof = as_table(cx, v, format!("`anti_spoof` of {}", t.name)).and_then(|at| {
            at.only(cx, &["allowed_macs", "learn_once"]);
            let mut a = AntiSpoof::default();
            let mut good = true;
            if let Some(m) = at.get("allowed_macs") {
                match as_array(cx, m, "allowed_macs") {
                    Some(arr) => {
                        for x in arr.iter() {
                            match as_mac(cx, x, "allowed_macs", true) {
                                Some(mac) => a.allowed_macs.push(mac),
                                None => good = false,
                            }
                        }
                    }
                    None => good = false,
                }
            }
            if let Some(b) = at.get("learn_once") {
                match as_bool(cx, b, "learn_once") {
                    Some(b) => a.learn_once = b,
                    None => good = false,
                }
            }
            if good && a.allowed_macs.is_empty() && !a.learn_once {
                cx.err(v.span(), format!("`anti_spoof` of {} allows no MAC at all: expected `allowed_macs` or `learn_once = true`", t.name));
                good = false;
            }
            good.then_some(a)
        });
        track(rs.anti_spoof.as_ref().map(|_| ()));
    }
    if let Some(v) = t.get("acl") {
        rs.acl = as_array(cx, v, "acl").and_then(|arr| {
            let mut out = Vec::new();
            let mut good = true;
            for (i, e) in arr.iter().enumerate() {
                match decode_acl(cx, e, &format!("acl entry {} of {}", i + 1, t.name)) {
                    Some(r) => out.push(r),
                    None => good = false,
                }
            }
            good.then_some(out)
        });
        track(rs.acl.as_ref().map(|_| ()));
    }
    if let Some(v) = t.get("policer") {
        rs.policer = as_table(cx, v, format!("`policer` of {}", t.name)).and_then(|pt| {
            pt.only(cx, &["rate_bps", "burst_bytes"]);
            let rate = pt
                .need(cx, "rate_bps", "committed rate in bits per second")
                .and_then(|v| as_int(cx, v, "policer rate_bps", 1, u64::MAX as i128));
            let burst = pt
                .need(cx, "burst_bytes", "committed burst in bytes")
                .and_then(|v| as_int(cx, v, "policer burst_bytes", 64, u32::MAX as i128));
            Some(Policer {
                rate_bps: rate? as u64,
                burst_bytes: burst? as u64,
            })
        });
        track(rs.policer.map(|_| ()));
    }
    if let Some(v) = t.get("pcp") {
        rs.pcp = as_int(cx, v, "PCP", 0, 7).map(|n| n as u8);
        track(rs.pcp.map(|_| ()));
    }
    if let Some(v) = t.get("mirror") {
        rs.mirror = as_str(cx, v, "mirror").and_then(|p| {
            if !names.ports.contains_key(p) {
                let known = names.ports.keys().cloned().collect::<Vec<_>>().join(", ");
                cx.err(
                    v.span(),
                    format!(
                        "{}: unknown mirror port `{p}`; expected one of: {known}",
                        t.name
                    ),
                );
                return None;
            }
            if own_port == Some(p) {
                cx.err(
                    v.span(),
                    format!("{}: cannot mirror a vEth to its own port `{p}`", t.name),
                );
                return None;
            }
            Some(p.to_string())
        });
        track(rs.mirror.as_ref().map(|_| ()));
    }
    if let Some(v) = t.get("mac_limit") {
        rs.mac_limit = as_int(cx, v, "mac_limit", 1, 65535).map(|n| n as u32);
        track(rs.mac_limit.map(|_| ()));
    }
    ok.then_some(rs)
}

fn decode_vlan(cx: &mut Cx, v: &Val<'_>, owner: &str) -> Option<VlanMode> {
    let t = as_table(cx, v, format!("`vlan` of {owner}"))?;
    let mode = t
        .need(cx, "mode", "expected \"access\" or \"trunk\"")
        .and_then(|m| as_enum(cx, m, "vlan.mode", &[("access", true), ("trunk", false)]))?;
    if mode {
        t.only(cx, &["mode", "vlan"]);
        let vlan = t
            .need(cx, "vlan", "the access VLAN, 1..=4094")
            .and_then(|x| as_int(cx, x, "VLAN", 1, 4094))?;
        return Some(VlanMode::Access { vlan: vlan as u16 });
    }
    t.only(cx, &["mode", "allowed", "native"]);
    let native = t
        .get("native")
        .map(|x| as_int(cx, x, "native VLAN", 1, 4094).map(|n| n as u16));
    let arr = t
        .need(
            cx,
            "allowed",
            "an array of VLANs and ranges like [10, \"20-30\"]",
        )
        .and_then(|a| as_array(cx, a, "allowed"));
    let arr = arr?;
    let mut ranges: Vec<(Range16, Span)> = Vec::new();
    let mut good = true;
    for x in arr.iter() {
        match as_range(cx, x, "VLAN", 1, 4094) {
            Some(r) => {
                if let Some((o, _)) = ranges
                    .iter()
                    .find(|(o, _)| o.start <= r.end && r.start <= o.end)
                {
                    cx.err(
                        x.span(),
                        format!("allowed VLANs {r} overlap {o} given before"),
                    );
                    good = false;
                } else {
                    ranges.push((r, x.span()));
                }
            }
            None => good = false,
        }
    }
    if good && ranges.is_empty() {
        cx.err(
            v.span(),
            format!("`vlan` of {owner}: a trunk needs at least one allowed VLAN"),
        );
        good = false;
    }
    let native = match native {
        Some(None) => {
            good = false;
            None
        }
        Some(Some(n)) => {
            if good && !ranges.iter().any(|(r, _)| r.contains(n)) {
                cx.err(
                    t.get("native").map(|x| x.span()).unwrap_or(v.span()),
                    format!("native VLAN {n} is not in the allowed list"),
                );
                good = false;
            }
            Some(n)
        }
        None => None,
    };
    let mut allowed: Vec<Range16> = ranges.into_iter().map(|(r, _)| r).collect();
    allowed.sort();
    good.then_some(VlanMode::Trunk { allowed, native })
}

fn decode_acl(cx: &mut Cx, v: &Val<'_>, name: &str) -> Option<AclRule> {
    let t = as_table(cx, v, name.to_string())?;
    t.only(
        cx,
        &[
            "action",
            "src_mac",
            "dst_mac",
            "ethertype",
            "vlan",
            "src_ip",
            "dst_ip",
            "proto",
            "src_port",
            "dst_port",
        ],
    );
    let mut good = true;
    let action = t
        .need(cx, "action", "expected \"permit\" or \"deny\"")
        .and_then(|a| {
            as_enum(
                cx,
                a,
                "action",
                &[("permit", AclAction::Permit), ("deny", AclAction::Deny)],
            )
        });
    let mut rule = AclRule::any(action.unwrap_or(AclAction::Deny));
    good &= action.is_some();
    macro_rules! field {
        ($key:literal, $slot:expr, $dec:expr) => {
            if let Some(x) = t.get($key) {
                let r = $dec(cx, x);
                good &= r.is_some();
                $slot = r;
            }
        };
    }
    field!("src_mac", rule.src_mac, |cx: &mut Cx, x| as_mac(
        cx, x, "src_mac", false
    ));
    field!("dst_mac", rule.dst_mac, |cx: &mut Cx, x| as_mac(
        cx, x, "dst_mac", false
    ));
    field!("ethertype", rule.ethertype, |cx: &mut Cx, x| as_int(
        cx,
        x,
        "EtherType",
        0x0600,
        0xffff
    )
    .map(|n| n as u16));
    field!("vlan", rule.vlan, |cx: &mut Cx, x| as_range(
        cx, x, "VLAN", 1, 4094
    ));
    field!("src_ip", rule.src_ip, |cx: &mut Cx, x| parse_with(
        cx,
        x,
        "src_ip",
        |s| s.parse::<IpPrefix>()
    ));
    field!("dst_ip", rule.dst_ip, |cx: &mut Cx, x| parse_with(
        cx,
        x,
        "dst_ip",
        |s| s.parse::<IpPrefix>()
    ));
    field!(
        "proto",
        rule.proto,
        |cx: &mut Cx, x: &Val<'_>| match x.get_ref() {
            DeValue::String(_) => as_enum(cx, x, "proto", &IP_PROTOS),
            _ => as_int(cx, x, "IP protocol", 0, 255).map(|n| n as u8),
        }
    );
    field!("src_port", rule.src_port, |cx: &mut Cx, x| as_range(
        cx, x, "L4 port", 0, 65535
    ));
    field!("dst_port", rule.dst_port, |cx: &mut Cx, x| as_range(
        cx, x, "L4 port", 0, 65535
    ));
    if !good {
        return None;
    }
    // Consistency between fields.
    let fam = |p: &Option<IpPrefix>| p.map(|p| p.is_v6());
    if let (Some(a), Some(b)) = (fam(&rule.src_ip), fam(&rule.dst_ip)) {
        if a != b {
            cx.err(
                v.span(),
                format!("{name}: src_ip and dst_ip mix IPv4 and IPv6"),
            );
            return None;
        }
    }
    let v6 = fam(&rule.src_ip).or(fam(&rule.dst_ip));
    if let (Some(et), Some(is6)) = (rule.ethertype, v6) {
        let want = if is6 { 0x86dd } else { 0x0800 };
        if et != want {
            cx.err(v.span(), format!("{name}: ethertype {et:#06x} contradicts the {} prefix; expected {want:#06x} or no ethertype", if is6 { "IPv6" } else { "IPv4" }));
            return None;
        }
    }
    if let Some(et) = rule.ethertype {
        if rule.proto.is_some() && et != 0x0800 && et != 0x86dd {
            cx.err(
                v.span(),
                format!("{name}: `proto` needs an IP ethertype (0x0800 or 0x86dd), not {et:#06x}"),
            );
            return None;
        }
    }
    if (rule.src_port.is_some() || rule.dst_port.is_some())
        && !matches!(rule.proto, Some(6 | 17 | 132))
    {
        cx.err(
            v.span(),
            format!("{name}: L4 ports need proto \"tcp\", \"udp\" or \"sctp\""),
        );
        return None;
    }
    Some(rule)
}

fn decode_sriov(cx: &mut Cx, top: &Tbl<'_, '_>) -> Option<Vec<SriovPf>> {
    let Some(v) = top.get("sriov") else {
        return Some(Vec::new());
    };
    let arr = as_array(cx, v, "sriov")?;
    let mut out: Vec<SriovPf> = Vec::new();
    let mut good = true;
    for (i, e) in arr.iter().enumerate() {
        let Some(t) = as_table(cx, e, format!("[[sriov]] #{}", i + 1)) else {
            good = false;
            continue;
        };
        t.only(cx, &["pf", "num_vfs", "autoprobe", "driver", "vf"]);
        let pf = t
            .need(cx, "pf", "the PF's PCI address")
            .and_then(|x| parse_with(cx, x, "pf", |s| s.parse::<PciAddr>()));
        if let (Some(pf), Some(x)) = (&pf, t.get("pf")) {
            if out.iter().any(|p| &p.pf == pf) {
                cx.err(x.span(), format!("PF {pf} has two [[sriov]] sections"));
                good = false;
            }
        }
        let num = t
            .need(cx, "num_vfs", "how many VFs to enable")
            .and_then(|x| as_int(cx, x, "num_vfs", 0, 0xffff).map(|n| n as u16));
        let autoprobe = t.get("autoprobe").map(|x| as_bool(cx, x, "autoprobe"));
        let driver = t.get("driver").map(|x| {
            let s = as_str(cx, x, "driver")?;
            if s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                cx.err(
                    x.span(),
                    format!("`driver`: \"{s}\" is not a driver name (expected like \"vfio-pci\")"),
                );
                return None;
            }
            Some(s.to_string())
        });
        let mut vfs: Vec<VfConfig> = Vec::new();
        let mut vgood = true;
        if let Some(x) = t.get("vf") {
            match as_array(cx, x, "vf") {
                Some(a) => {
                    for (j, y) in a.iter().enumerate() {
                        match decode_vf(
                            cx,
                            y,
                            &format!("[[sriov.vf]] #{} of [[sriov]] #{}", j + 1, i + 1),
                            num,
                        ) {
                            Some(vf) => {
                                if vfs.iter().any(|o| o.index == vf.index) {
                                    cx.err(
                                        y.span(),
                                        format!(
                                            "VF {} of {} is configured twice",
                                            vf.index,
                                            pf.as_ref().map(|p| p.to_string()).unwrap_or_default()
                                        ),
                                    );
                                    vgood = false;
                                } else {
                                    vfs.push(vf);
                                }
                            }
                            None => vgood = false,
                        }
                    }
                }
                None => vgood = false,
            }
        }
        match (
            pf,
            num,
            autoprobe.unwrap_or(Some(false)),
            driver.clone().unwrap_or(Some(String::new())),
            vgood,
        ) {
            (Some(pf), Some(num_vfs), Some(_), Some(_), true) => out.push(SriovPf {
                pf,
                num_vfs,
                autoprobe: autoprobe.flatten(),
                driver: driver.flatten(),
                vf: vfs,
            }),
            _ => good = false,
        }
    }
    good.then_some(out)
}

fn decode_vf(cx: &mut Cx, v: &Val<'_>, name: &str, num_vfs: Option<u16>) -> Option<VfConfig> {
    let t = as_table(cx, v, name.to_string())?;
    t.only(
        cx,
        &[
            "index",
            "mac",
            "vlan",
            "qos",
            "vlan_proto",
            "spoof_check",
            "trust",
            "min_rate",
            "max_rate",
            "link_state",
        ],
    );
    let mut good = true;
    let index = t.need(cx, "index", "the VF index").and_then(|x| {
        let hi = num_vfs.map(|n| n as i128 - 1).unwrap_or(0xffff);
        if hi < 0 {
            cx.err(
                x.span(),
                format!("{name}: this PF has num_vfs = 0, so it has no VF to configure"),
            );
            return None;
        }
        as_int(cx, x, "VF index", 0, hi).map(|n| n as u16)
    });
    let mut vf = VfConfig {
        index: index.unwrap_or(0),
        ..VfConfig::default()
    };
    good &= index.is_some();
    macro_rules! field {
        ($key:literal, $slot:expr, $dec:expr) => {
            if let Some(x) = t.get($key) {
                let r = $dec(cx, x);
                good &= r.is_some();
                $slot = r;
            }
        };
    }
    field!("mac", vf.mac, |cx: &mut Cx, x| as_mac(cx, x, "mac", true));
    field!("vlan", vf.vlan, |cx: &mut Cx, x| as_int(
        cx, x, "VF VLAN", 0, 4094
    )
    .map(|n| n as u16));
    field!("qos", vf.qos, |cx: &mut Cx, x| as_int(
        cx,
        x,
        "VF VLAN qos",
        0,
        7
    )
    .map(|n| n as u8));
    field!("vlan_proto", vf.vlan_proto, |cx: &mut Cx, x| as_enum(
        cx,
        x,
        "vlan_proto",
        &[("802.1Q", VlanProto::Dot1Q), ("802.1ad", VlanProto::Dot1Ad)]
    ));
    field!("spoof_check", vf.spoof_check, |cx: &mut Cx, x| as_bool(
        cx,
        x,
        "spoof_check"
    ));
    field!("trust", vf.trust, |cx: &mut Cx, x| as_bool(cx, x, "trust"));
    field!("min_rate", vf.min_rate, |cx: &mut Cx, x| as_int(
        cx,
        x,
        "min_rate (Mbit/s)",
        0,
        u32::MAX as i128
    )
    .map(|n| n as u32));
    field!("max_rate", vf.max_rate, |cx: &mut Cx, x| as_int(
        cx,
        x,
        "max_rate (Mbit/s)",
        0,
        u32::MAX as i128
    )
    .map(|n| n as u32));
    field!("link_state", vf.link_state, |cx: &mut Cx, x| as_enum(
        cx,
        x,
        "link_state",
        &[
            ("auto", VfLinkState::Auto),
            ("enable", VfLinkState::Enable),
            ("disable", VfLinkState::Disable)
        ]
    ));
    if !good {
        return None;
    }
    if vf.vlan.is_none() && (vf.qos.is_some() || vf.vlan_proto.is_some()) {
        cx.err(
            v.span(),
            format!("{name}: `qos` and `vlan_proto` need `vlan`"),
        );
        return None;
    }
    if let (Some(min), Some(max)) = (vf.min_rate, vf.max_rate) {
        if max != 0 && min > max {
            cx.err(
                v.span(),
                format!("{name}: min_rate {min} exceeds max_rate {max}"),
            );
            return None;
        }
    }
    Some(vf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let t = "ab\ncé d";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, t.find('d').unwrap()), (2, 4));
    }
}
