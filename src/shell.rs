//! The interactive command language (`vfex -i`, `--cmdline-file`), as a
//! table: one entry per command with its words, usage, help and parser.
//! `help`, tab completion and the error messages come from the table.
//!
//! A command line is split into words (double quotes group words); the
//! longest run of leading words that names a command selects it, and its
//! parser gets the rest. A bad line gets one message naming the bad word
//! and what was expected; nothing is executed.

use std::fmt;

/// A port selector: `all` or one port index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSel {
    /// Every port.
    All,
    /// One port.
    One(u16),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellCmd {
    /// `help [command]`.
    Help(Option<String>),
    /// `start`: start forwarding.
    Start,
    /// `stop`: stop forwarding (ports stay configured).
    Stop,
    /// `quit`: stop and exit.
    Quit,
    /// `show port info|stats|xstats all|N`.
    ShowPort {
        /// `info`, `stats` or `xstats`.
        what: PortShow,
        /// Which ports.
        port: PortSel,
    },
    /// `clear port stats all|N`.
    ClearPortStats(PortSel),
    /// `show fwd stats`.
    ShowFwdStats,
    /// `show veth [NAME] [stats]`.
    ShowVeth {
        /// One vEth, or all.
        name: Option<String>,
        /// Counters instead of configuration.
        stats: bool,
    },
    /// `show mac-table`.
    ShowMacTable,
    /// `show vif-list`.
    ShowVifList,
    /// `show config`.
    ShowConfig,
    /// `show status`.
    ShowStatus,
    /// `veth add NAME key=value ...`.
    VethAdd {
        /// Name.
        name: String,
        /// Fields, as in the configuration file.
        fields: Vec<(String, String)>,
    },
    /// `veth del NAME`.
    VethDel(String),
    /// `veth set NAME key=value ...`.
    VethSet {
        /// Name.
        name: String,
        /// Fields to change.
        fields: Vec<(String, String)>,
    },
    /// `profile add NAME key=value ...`.
    ProfileAdd {
        /// Name.
        name: String,
        /// Fields.
        fields: Vec<(String, String)>,
    },
    /// `profile set NAME key=value ...`.
    ProfileSet {
        /// Name.
        name: String,
        /// Fields to change.
        fields: Vec<(String, String)>,
    },
    /// `profile del NAME`.
    ProfileDel(String),
    /// `vf create PF N`.
    VfCreate {
        /// PF PCI address.
        pf: String,
        /// How many VFs.
        num_vfs: u16,
    },
    /// `vf destroy PF`.
    VfDestroy(String),
    /// `vf set PF INDEX key=value ...`.
    VfSet {
        /// PF PCI address.
        pf: String,
        /// VF index.
        vf: u16,
        /// Settings.
        fields: Vec<(String, String)>,
    },
    /// `set role ROLE` (when stopped).
    SetRole(String),
    /// `set encap ENCAP` (when stopped).
    SetEncap(String),
    /// `save config FILE`.
    SaveConfig(String),
    /// `load config FILE` (hitless).
    LoadConfig(String),
}

/// What `show port` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortShow {
    /// Driver, MAC, link, queues.
    Info,
    /// Counters.
    Stats,
    /// The driver's extended counters.
    Xstats,
}

/// A rejected command line: the word at fault and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// One command of the table.
pub struct CmdDef {
    /// The words that name it.
    pub words: &'static [&'static str],
    /// What follows the words.
    pub usage: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Words after the command's words -> command.
    pub parse: fn(&[String]) -> Result<ShellCmd, ParseError>,
}

impl CmdDef {
    /// `words usage`.
    pub fn synopsis(&self) -> String {
        let w = self.words.join(" ");
        if self.usage.is_empty() {
            w
        } else {
            format!("{w} {}", self.usage)
        }
    }
}

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// No more words expected.
fn none(cmd: &str, rest: &[String]) -> Result<(), ParseError> {
    match rest.first() {
        None => Ok(()),
        Some(w) => Err(err(format!(
            "{cmd}: unexpected {w:?}: this command takes no argument"
        ))),
    }
}

fn port_sel(cmd: &str, w: Option<&String>) -> Result<PortSel, ParseError> {
    match w.map(String::as_str) {
        None => Err(err(format!(
            "{cmd}: missing port: expected all or a port number"
        ))),
        Some("all") => Ok(PortSel::All),
        Some(s) => s.parse::<u16>().map(PortSel::One).map_err(|_| {
            err(format!(
                "{cmd}: {s:?} is not a port: expected all or a port number"
            ))
        }),
    }
}

/// A name: letters, digits, `_`, `-`, `.`; starts with a letter.
fn name(cmd: &str, what: &str, w: Option<&String>) -> Result<String, ParseError> {
    let Some(s) = w else {
        return Err(err(format!("{cmd}: missing {what}")));
    };
    let ok = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(s.clone())
    } else {
        Err(err(format!(
            "{cmd}: {s:?} is not a {what}: expected a name (letters, digits, _ - .; a letter first)"
        )))
    }
}

fn fields(cmd: &str, rest: &[String]) -> Result<Vec<(String, String)>, ParseError> {
    rest.iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(err(format!(
                "{cmd}: {w:?} is not a setting: expected key=value (keys as in the configuration file)"
            ))),
        })
        .collect()
}

fn file(cmd: &str, rest: &[String]) -> Result<String, ParseError> {
    match rest {
        [f] => Ok(f
            .strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .unwrap_or(f)
            .to_string()),
        [] => Err(err(format!("{cmd}: missing FILE"))),
        [_, extra, ..] => Err(err(format!(
            "{cmd}: unexpected {extra:?} after the file name"
        ))),
    }
}

/// Every command.
pub const COMMANDS: &[CmdDef] = &[
    CmdDef {
        words: &["help"],
        usage: "[COMMAND]",
        help: "list the commands, or explain one",
        parse: |r| Ok(ShellCmd::Help((!r.is_empty()).then(|| r.join(" ")))),
    },
    CmdDef {
        words: &["start"],
        usage: "",
        help: "start forwarding",
        parse: |r| none("start", r).map(|_| ShellCmd::Start),
    },
    CmdDef {
        words: &["stop"],
        usage: "",
        help: "stop forwarding (ports stay configured, counters kept)",
        parse: |r| none("stop", r).map(|_| ShellCmd::Stop),
    },
    CmdDef {
        words: &["quit"],
        usage: "",
        help: "stop forwarding, print the final statistics and exit",
        parse: |r| none("quit", r).map(|_| ShellCmd::Quit),
    },
    CmdDef {
        words: &["show", "port"],
        usage: "info|stats|xstats all|N",
        help: "port details, counters, or the driver's extended counters",
        parse: |r| {
            let what = match r.first().map(String::as_str) {
                Some("info") => PortShow::Info,
                Some("stats") => PortShow::Stats,
                Some("xstats") => PortShow::Xstats,
                Some(w) => {
                    return Err(err(format!(
                        "show port: {w:?}: expected info, stats or xstats"
                    )));
                }
                None => return Err(err("show port: missing info, stats or xstats")),
            };
            let port = port_sel("show port", r.get(1))?;
            none("show port", r.get(2..).unwrap_or_default())?;
            Ok(ShellCmd::ShowPort { what, port })
        },
    },
    CmdDef {
        words: &["clear", "port", "stats"],
        usage: "all|N",
        help: "reset port counters",
        parse: |r| {
            let p = port_sel("clear port stats", r.first())?;
            none("clear port stats", r.get(1..).unwrap_or_default())?;
            Ok(ShellCmd::ClearPortStats(p))
        },
    },
    CmdDef {
        words: &["show", "fwd", "stats"],
        usage: "",
        help: "forwarding counters per port and drops by reason",
        parse: |r| none("show fwd stats", r).map(|_| ShellCmd::ShowFwdStats),
    },
    CmdDef {
        words: &["show", "veth"],
        usage: "[NAME] [stats]",
        help: "vEths and their rules (and how ACL cache misses are decided), or their counters",
        parse: |r| match r {
            [] => Ok(ShellCmd::ShowVeth {
                name: None,
                stats: false,
            }),
            [s] if s == "stats" => Ok(ShellCmd::ShowVeth {
                name: None,
                stats: true,
            }),
            [n] => Ok(ShellCmd::ShowVeth {
                name: Some(name("show veth", "vEth name", Some(n))?),
                stats: false,
            }),
            [n, s] if s == "stats" => Ok(ShellCmd::ShowVeth {
                name: Some(name("show veth", "vEth name", Some(n))?),
                stats: true,
            }),
            [_, w, ..] => Err(err(format!("show veth: unexpected {w:?}: expected stats"))),
        },
    },
    CmdDef {
        words: &["show", "mac-table"],
        usage: "",
        help: "MAC addresses: configured (station) or learned per vEth (bridge)",
        parse: |r| none("show mac-table", r).map(|_| ShellCmd::ShowMacTable),
    },
    CmdDef {
        words: &["show", "vif-list"],
        usage: "",
        help: "VIF lists / multicast E-channels and their members",
        parse: |r| none("show vif-list", r).map(|_| ShellCmd::ShowVifList),
    },
    CmdDef {
        words: &["show", "config"],
        usage: "",
        help: "the running configuration, in the file format",
        parse: |r| none("show config", r).map(|_| ShellCmd::ShowConfig),
    },
    CmdDef {
        words: &["show", "status"],
        usage: "",
        help: "table generation, sizes, VFs, last reconcile",
        parse: |r| none("show status", r).map(|_| ShellCmd::ShowStatus),
    },
    CmdDef {
        words: &["veth", "add"],
        usage: "NAME key=value ...",
        help: "add a vEth (keys as in a [veth.NAME] table, e.g. port=1 vif=5 profile=web)",
        parse: |r| {
            Ok(ShellCmd::VethAdd {
                name: name("veth add", "vEth name", r.first())?,
                fields: fields("veth add", r.get(1..).unwrap_or_default())?,
            })
        },
    },
    CmdDef {
        words: &["veth", "del"],
        usage: "NAME",
        help: "delete a vEth",
        parse: |r| {
            let n = name("veth del", "vEth name", r.first())?;
            none("veth del", r.get(1..).unwrap_or_default())?;
            Ok(ShellCmd::VethDel(n))
        },
    },
    CmdDef {
        words: &["veth", "set"],
        usage: "NAME key=value ...",
        help: "change a vEth's profile or override its rules (hitless)",
        parse: |r| {
            let n = name("veth set", "vEth name", r.first())?;
            let f = fields("veth set", r.get(1..).unwrap_or_default())?;
            if f.is_empty() {
                return Err(err("veth set: missing key=value"));
            }
            Ok(ShellCmd::VethSet { name: n, fields: f })
        },
    },
    CmdDef {
        words: &["profile", "add"],
        usage: "NAME key=value ...",
        help: "add a port profile (keys as in a [profile.NAME] table)",
        parse: |r| {
            Ok(ShellCmd::ProfileAdd {
                name: name("profile add", "profile name", r.first())?,
                fields: fields("profile add", r.get(1..).unwrap_or_default())?,
            })
        },
    },
    CmdDef {
        words: &["profile", "set"],
        usage: "NAME key=value ...",
        help: "change a profile (every vEth that inherits it follows, hitless)",
        parse: |r| {
            let n = name("profile set", "profile name", r.first())?;
            let f = fields("profile set", r.get(1..).unwrap_or_default())?;
            if f.is_empty() {
                return Err(err("profile set: missing key=value"));
            }
            Ok(ShellCmd::ProfileSet { name: n, fields: f })
        },
    },
    CmdDef {
        words: &["profile", "del"],
        usage: "NAME",
        help: "delete a profile (refused while a vEth inherits it)",
        parse: |r| {
            let n = name("profile del", "profile name", r.first())?;
            none("profile del", r.get(1..).unwrap_or_default())?;
            Ok(ShellCmd::ProfileDel(n))
        },
    },
    CmdDef {
        words: &["vf", "create"],
        usage: "PF N",
        help: "enable N VFs on the PF (PCI address, e.g. 0000:03:00.0)",
        parse: |r| match r {
            [pf, n] => Ok(ShellCmd::VfCreate {
                pf: pf.clone(),
                num_vfs: n.parse().map_err(|_| {
                    err(format!(
                        "vf create: {n:?} is not a VF count: expected 0 to 65535"
                    ))
                })?,
            }),
            [] | [_] => Err(err(
                "vf create: expected PF N, e.g. vf create 0000:03:00.0 8",
            )),
            [_, _, w, ..] => Err(err(format!("vf create: unexpected {w:?}"))),
        },
    },
    CmdDef {
        words: &["vf", "destroy"],
        usage: "PF",
        help: "remove every VF of the PF (refused while a port uses one)",
        parse: |r| match r {
            [pf] => Ok(ShellCmd::VfDestroy(pf.clone())),
            [] => Err(err("vf destroy: missing PF")),
            [_, w, ..] => Err(err(format!("vf destroy: unexpected {w:?}"))),
        },
    },
    CmdDef {
        words: &["vf", "set"],
        usage: "PF INDEX key=value ...",
        help: "change a VF's settings (keys as in [[sriov.vf]]: mac, vlan, qos, vlan_proto, spoof_check, trust, min_rate, max_rate, link_state)",
        parse: |r| {
            let (Some(pf), Some(i)) = (r.first(), r.get(1)) else {
                return Err(err("vf set: expected PF INDEX key=value ..."));
            };
            let vf = i
                .parse()
                .map_err(|_| err(format!("vf set: {i:?} is not a VF index")))?;
            let f = fields("vf set", &r[2..])?;
            if f.is_empty() {
                return Err(err("vf set: missing key=value"));
            }
            Ok(ShellCmd::VfSet {
                pf: pf.clone(),
                vf,
                fields: f,
            })
        },
    },
    CmdDef {
        words: &["set", "role"],
        usage: "port-extender|vepa-station|controlling-bridge",
        help: "change the role (only when stopped)",
        parse: |r| match r {
            [x] if ["port-extender", "vepa-station", "controlling-bridge"]
                .contains(&x.as_str()) =>
            {
                Ok(ShellCmd::SetRole(x.clone()))
            }
            [x] => Err(err(format!(
                "set role: {x:?}: expected port-extender, vepa-station or controlling-bridge"
            ))),
            [] => Err(err("set role: missing role")),
            [_, w, ..] => Err(err(format!("set role: unexpected {w:?}"))),
        },
    },
    CmdDef {
        words: &["set", "encap"],
        usage: "vntag|etag|stag|none",
        help: "change the encapsulation (only when stopped)",
        parse: |r| match r {
            [x] if ["vntag", "etag", "stag", "none"].contains(&x.as_str()) => {
                Ok(ShellCmd::SetEncap(x.clone()))
            }
            [x] => Err(err(format!(
                "set encap: {x:?}: expected vntag, etag, stag or none"
            ))),
            [] => Err(err("set encap: missing encapsulation")),
            [_, w, ..] => Err(err(format!("set encap: unexpected {w:?}"))),
        },
    },
    CmdDef {
        words: &["save", "config"],
        usage: "FILE",
        help: "write the running configuration to FILE",
        parse: |r| file("save config", r).map(ShellCmd::SaveConfig),
    },
    CmdDef {
        words: &["load", "config"],
        usage: "FILE",
        help: "replace the configuration with FILE's, hitless (nothing changes if it has an error)",
        parse: |r| file("load config", r).map(ShellCmd::LoadConfig),
    },
];

/// Splits a line into words at white space outside quotes and brackets
/// (`[...]`, `{...}`: TOML arrays and inline tables). Quotes stay
/// in the word, so `key=value` settings keep their TOML value as written
/// (`description="web tier"`, `allowed_macs=["02:00:00:00:00:01"]`); a
/// file name in quotes loses them. `#` starts a comment outside quotes.
pub fn split_words(line: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut in_word, mut quoted, mut depth) = (false, false, 0usize);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
                cur.push(c);
            }
            '#' if !quoted => break,
            '[' | '{' if !quoted => {
                depth += 1;
                in_word = true;
                cur.push(c);
            }
            ']' | '}' if !quoted => {
                depth = depth.saturating_sub(1);
                in_word = true;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted && depth == 0 => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(err("unterminated \" in the line"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The command whose words are the longest prefix of `words`, and how many
/// words it took.
fn lookup(words: &[String]) -> Option<(&'static CmdDef, usize)> {
    COMMANDS
        .iter()
        .filter(|d| d.words.len() <= words.len() && d.words.iter().zip(words).all(|(a, b)| a == b))
        .max_by_key(|d| d.words.len())
        .map(|d| (d, d.words.len()))
}

/// Parses one line: `Ok(None)` for an empty line or a comment.
pub fn parse_line(line: &str) -> Result<Option<ShellCmd>, ParseError> {
    let words = split_words(line)?;
    if words.is_empty() {
        return Ok(None);
    }
    match lookup(&words) {
        Some((def, n)) => (def.parse)(&words[n..]).map(Some),
        None => Err(unknown(&words)),
    }
}

/// The error for words that name no command: the first word that does not
/// continue any command, and what could come there.
fn unknown(words: &[String]) -> ParseError {
    let mut depth = 0;
    loop {
        let cands: Vec<&str> = next_words(&words[..depth]);
        match words.get(depth) {
            Some(w) if cands.contains(&w.as_str()) => depth += 1,
            Some(w) => {
                let ctx = words[..depth].join(" ");
                return err(format!(
                    "{}unknown {w:?}: expected {} (try help)",
                    if ctx.is_empty() {
                        String::new()
                    } else {
                        format!("{ctx}: ")
                    },
                    cands.join(", ")
                ));
            }
            None => {
                return err(format!(
                    "{}: incomplete: expected {} (try help)",
                    words.join(" "),
                    cands.join(", ")
                ));
            }
        }
    }
}

/// The command words that may follow `prefix` (sorted, unique).
pub fn next_words(prefix: &[String]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = COMMANDS
        .iter()
        .filter(|d| d.words.len() > prefix.len() && d.words.iter().zip(prefix).all(|(a, b)| a == b))
        .map(|d| d.words[prefix.len()])
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// `help` (every command) or `help WORDS` (the commands starting so).
pub fn help(topic: Option<&str>) -> String {
    let words: Vec<String> = topic
        .map(|t| t.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let defs: Vec<&CmdDef> = COMMANDS
        .iter()
        .filter(|d| {
            d.words.iter().zip(&words).all(|(a, b)| a == b) && words.len() <= d.words.len() + 1
        })
        .collect();
    if defs.is_empty() {
        return format!("no command starts with {:?} (try help)\n", words.join(" "));
    }
    let width = defs.iter().map(|d| d.synopsis().len()).max().unwrap_or(0);
    defs.iter()
        .map(|d| format!("  {:<width$}  {}\n", d.synopsis(), d.help))
        .collect()
}

/// Completions of the last (partial) word of `line`: command words from
/// the table.
pub fn complete(line: &str) -> (usize, Vec<String>) {
    let start = line
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let prefix: Vec<String> = line[..start].split_whitespace().map(String::from).collect();
    let partial = &line[start..];
    let c = next_words(&prefix)
        .into_iter()
        .filter(|w| w.starts_with(partial))
        .map(String::from)
        .collect();
    (start, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(l: &str) -> Result<Option<ShellCmd>, ParseError> {
        parse_line(l)
    }

    #[test]
    fn every_command_parses_its_own_example() {
        let examples = [
            ("help", ShellCmd::Help(None)),
            ("help show port", ShellCmd::Help(Some("show port".into()))),
            ("start", ShellCmd::Start),
            ("stop", ShellCmd::Stop),
            ("quit", ShellCmd::Quit),
            (
                "show port stats all",
                ShellCmd::ShowPort {
                    what: PortShow::Stats,
                    port: PortSel::All,
                },
            ),
            (
                "show port xstats 1",
                ShellCmd::ShowPort {
                    what: PortShow::Xstats,
                    port: PortSel::One(1),
                },
            ),
            (
                "clear port stats 0",
                ShellCmd::ClearPortStats(PortSel::One(0)),
            ),
            ("show fwd stats", ShellCmd::ShowFwdStats),
            (
                "show veth vm1 stats",
                ShellCmd::ShowVeth {
                    name: Some("vm1".into()),
                    stats: true,
                },
            ),
            (
                "show veth",
                ShellCmd::ShowVeth {
                    name: None,
                    stats: false,
                },
            ),
            ("show mac-table", ShellCmd::ShowMacTable),
            ("show vif-list", ShellCmd::ShowVifList),
            ("show config", ShellCmd::ShowConfig),
            ("show status", ShellCmd::ShowStatus),
            (
                "veth add vm9 port=1 vif=9",
                ShellCmd::VethAdd {
                    name: "vm9".into(),
                    fields: vec![("port".into(), "1".into()), ("vif".into(), "9".into())],
                },
            ),
            ("veth del vm9", ShellCmd::VethDel("vm9".into())),
            (
                r#"veth set vm1 allowed_macs=["02:00:00:00:00:01", "02:00:00:00:00:02"] description="a b""#,
                ShellCmd::VethSet {
                    name: "vm1".into(),
                    fields: vec![
                        (
                            "allowed_macs".into(),
                            r#"["02:00:00:00:00:01", "02:00:00:00:00:02"]"#.into(),
                        ),
                        ("description".into(), r#""a b""#.into()),
                    ],
                },
            ),
            (
                "profile add web admin=up",
                ShellCmd::ProfileAdd {
                    name: "web".into(),
                    fields: vec![("admin".into(), "up".into())],
                },
            ),
            ("profile del web", ShellCmd::ProfileDel("web".into())),
            (
                "vf create 0000:03:00.0 8",
                ShellCmd::VfCreate {
                    pf: "0000:03:00.0".into(),
                    num_vfs: 8,
                },
            ),
            (
                "vf destroy 0000:03:00.0",
                ShellCmd::VfDestroy("0000:03:00.0".into()),
            ),
            (
                "vf set 0000:03:00.0 2 trust=on",
                ShellCmd::VfSet {
                    pf: "0000:03:00.0".into(),
                    vf: 2,
                    fields: vec![("trust".into(), "on".into())],
                },
            ),
            (
                "set role vepa-station",
                ShellCmd::SetRole("vepa-station".into()),
            ),
            ("set encap etag", ShellCmd::SetEncap("etag".into())),
            (
                "save config /tmp/x.toml",
                ShellCmd::SaveConfig("/tmp/x.toml".into()),
            ),
            (
                "load config a.toml  # comment",
                ShellCmd::LoadConfig("a.toml".into()),
            ),
        ];
        for (line, want) in examples {
            assert_eq!(p(line), Ok(Some(want)), "{line}");
        }
        assert_eq!(p("   # only a comment"), Ok(None));
        // Every table entry is reachable by its words.
        for d in COMMANDS {
            assert!(lookup(&d.words.iter().map(|w| w.to_string()).collect::<Vec<_>>()).is_some());
        }
    }

    #[test]
    fn bad_lines_name_the_bad_word_and_what_was_expected() {
        let cases = [
            ("shwo port", "unknown \"shwo\": expected clear, help,"),
            (
                "show prot stats all",
                "show: unknown \"prot\": expected config, fwd, mac-table, port,",
            ),
            (
                "show port stats",
                "show port: missing port: expected all or a port number",
            ),
            ("show port stats x", "show port: \"x\" is not a port"),
            (
                "show port statz 0",
                "show port: \"statz\": expected info, stats or xstats",
            ),
            ("show port stats 0 1", "show port: unexpected \"1\""),
            ("start now", "start: unexpected \"now\""),
            ("clear port", "clear port: incomplete: expected stats"),
            ("veth add 9vm", "veth add: \"9vm\" is not a vEth name"),
            ("veth set vm1", "veth set: missing key=value"),
            (
                "veth set vm1 vlan",
                "veth set: \"vlan\" is not a setting: expected key=value",
            ),
            (
                "vf create 0000:03:00.0 many",
                "vf create: \"many\" is not a VF count",
            ),
            (
                "set role switch",
                "set role: \"switch\": expected port-extender",
            ),
            ("load config", "load config: missing FILE"),
            ("save config a b", "save config: unexpected \"b\""),
            ("veth add \"vm1", "unterminated \""),
        ];
        for (line, want) in cases {
            let e = p(line).expect_err(line).0;
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn help_and_completion_come_from_the_table() {
        let all = help(None);
        for d in COMMANDS {
            assert!(all.contains(&d.synopsis()), "{}", d.synopsis());
        }
        let h = help(Some("show port"));
        assert!(h.contains("show port info|stats|xstats all|N"));
        assert!(!h.contains("veth add"));
        assert!(help(Some("frobnicate")).contains("no command starts with"));
        assert_eq!(complete("sh").1, vec!["show"]);
        assert_eq!(complete("show p").1, vec!["port"]);
        let (at, c) = complete("show ");
        assert_eq!(at, 5);
        assert!(c.contains(&"veth".to_string()) && c.contains(&"mac-table".to_string()));
        assert_eq!(complete("veth ").1, vec!["add", "del", "set"]);
    }

    /// A crash confirmed with fuzz/fuzz_targets/shell.rs: white space that
    /// is more than one byte in UTF-8 (no-break space, ideographic space)
    /// before the word being completed sliced the line inside a character.
    #[test]
    fn completion_after_multibyte_white_space() {
        assert_eq!(complete("show\u{a0}"), (6, complete("show ").1));
        assert_eq!(complete("show\u{3000}p"), (7, vec!["port".to_string()]));
        assert_eq!(complete("\u{2028}"), (3, complete("").1));
    }
}
