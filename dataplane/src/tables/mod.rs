//! What workers read: the vEth table, VIF lists / multicast E-channels, MAC
//! tables, compiled per-vEth rules and tag bytes.
//!
//! # For the control plane
//! Build a whole table set with [`TablesBuilder`], then publish it through
//! the [`Rcu`] handle the workers were started with:
//!
//! ```
//! use vfex_dataplane::tables::*;
//!
//! // A VN-Tag port extender: port 0 is the uplink, ports 1 and 2 are VFs.
//! let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 3);
//! b.port(0, PortKind::Uplink);
//! let a = b.veth(VethConfig::new("veth1", 1, 10)); // VF port 1, VIF 10
//! let c = b.veth(VethConfig::new("veth2", 2, 11));
//! b.list(0, 100, &[a, c]); // VIF list 100 on the uplink
//! let tables = b.build().expect("valid config");
//! let rcu = Rcu::new(tables);
//! // ... workers run with rcu.reader() ...
//! let mut b2 = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 3);
//! b2.port(0, PortKind::Uplink);
//! b2.veth(VethConfig::new("veth1", 1, 10));
//! let old = rcu.publish(b2.build().unwrap());
//! // Rcu::synchronize(&old, timeout) waits until every worker left it.
//! # drop(old);
//! ```
//!
//! A config that fails validation ([`TablesBuilder::build`] returns a
//! [`TablesError`]) changes nothing: the workers keep the published set.
//!
//! # Roles and ports
//! Port indexes are positions in the worker's port list (the order the
//! ports were given to [`crate::worker`]). Each port has a [`PortKind`];
//! each vEth ([`VethConfig`]) sits on one port with an id whose meaning
//! depends on the port:
//!
//! | role | port kind | vEth id |
//! |---|---|---|
//! | extender | [`PortKind::Vm`] (the VF) | VIF (VN-Tag `src`/`dst`) or E-CID |
//! | station | [`PortKind::Vm`] | S-VID of its S-channel (multichannel) or 0 |
//! | bridge | [`PortKind::ExtenderLink`] | VIF or E-CID on that link |
//! | bridge | [`PortKind::VepaLink`] | S-VID (multichannel) or 0 |
//! | bridge | [`PortKind::Ordinary`] | 0 |
//!
//! The bridge's learned MACs are not part of the immutable set: they live
//! in a [`LearnTable`] shared by the workers and aged by the control thread
//! (`learn.age(now_s, max_age_s, |v| removed(v))`, with the seconds of the
//! workers' clock: TSC / TSC rate). A publication that renumbers vEths
//! should flush the entries of the vEths it moved or removed
//! (`learn.age(0, u32::MAX, |v| moved(v))`); lookups already ignore vEth
//! indexes beyond the new table.
//!
//! What is not there yet: egress ACLs on VIF-list copies (the extender
//! applies its own), per-member counters of VIF-list copies,
//! two VMs with one MAC in different VLANs of one station channel.

pub mod mac;
pub mod rcu;
pub mod rules;

pub use mac::{FxBuild, LearnTable, Learned, StickyMacs, mac_u64};
pub use rcu::{Rcu, RcuReader, Retired};
pub use rules::{
    AclCache, AclClassifier, AclProbe, AclRule, Action, CLASSIFIER_MIN_RULES, Classifier,
    CompiledRule, EgressTag, FastProbe, Meter, PolicerParams, VethRules, VlanMode, VlanSet,
};

use std::collections::HashMap;
use std::sync::Arc;

use crate::kernels::{ETag, STag, TagBytes, VnTag};
use crate::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

/// "No vEth" in the dense lookup arrays.
pub const NO_VETH: u16 = u16::MAX;
/// Ids are below this (14 bits: VN-Tag dst, E-CID).
pub const ID_SPACE: usize = 1 << 14;

/// Port-extender tag type of an extender instance or an extender link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtKind {
    /// VN-Tag (0x8926).
    VnTag,
    /// 802.1BR E-Tag (0x893F).
    ETag,
}

/// The role an instance plays (`PROTOCOLS.md`, "Forwarding rules per role").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Port extender, host side, with this tag.
    Extender(ExtKind),
    /// VEPA station; `multichannel`: an S-tag per channel on the uplink.
    Station {
        /// S-channels (802.1Qbg multichannel).
        multichannel: bool,
    },
    /// Controlling bridge.
    Bridge,
}

/// What a port is to the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortKind {
    /// Not forwarded from (a mirror destination, say): frames received
    /// there are dropped as `wrong_port`.
    #[default]
    Unused,
    /// Extender / station: a VM-facing port (VF), one vEth.
    Vm,
    /// Extender / station: the uplink.
    Uplink,
    /// Bridge: a link to a port extender.
    ExtenderLink(ExtKind),
    /// Bridge: a link to a VEPA station (reflective relay on).
    VepaLink {
        /// S-tagged channels.
        multichannel: bool,
    },
    /// Bridge: an ordinary untagged port, one vEth.
    Ordinary,
}

/// One vEth as the control plane describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethConfig {
    /// Name (for counters and errors).
    pub name: String,
    /// Port index it sits on.
    pub port: u16,
    /// VIF / E-CID / S-VID / 0, see the [module docs](self).
    pub id: u16,
    /// MACs of the VM (VEPA station: delivery and the reflection filter).
    pub macs: Vec<[u8; 6]>,
    /// The compiled rules.
    pub rules: VethRules,
}

impl VethConfig {
    /// A vEth with default rules (up, no filtering) and no MACs.
    pub fn new(name: &str, port: u16, id: u16) -> VethConfig {
        VethConfig {
            name: name.to_owned(),
            port,
            id,
            macs: Vec::new(),
            rules: VethRules::default(),
        }
    }
}

/// A vEth as workers read it.
#[derive(Debug, Clone)]
pub struct Veth {
    /// The configuration it came from.
    pub cfg: VethConfig,
    /// Frames of a VEPA-facing vEth may go back where they came from.
    pub reflective_relay: bool,
}

/// A flood list programmed on one bridge link for one VLAN: one copy with
/// the list's tag replaces a copy per member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodList {
    /// VN-Tag VIF-list id (`p=1 dst=id`) or multicast E-CID (0x1000..).
    pub id: u16,
    /// The copy leaves without a C-tag (else C-tagged with the VLAN).
    pub untagged: bool,
}

/// The members of one VLAN's flood domain on one port.
#[derive(Debug, Clone)]
pub struct FloodGroup {
    /// Port index.
    pub port: u16,
    /// Tag type when the port is an extender link.
    pub ext: Option<ExtKind>,
    /// The list, when one is programmed.
    pub list: Option<FloodList>,
    /// Member vEths.
    pub members: Box<[u16]>,
}

/// Why a table set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TablesError {
    /// A port index beyond the port count.
    #[error("{what}: port index {port} is beyond the {ports} ports")]
    NoSuchPort {
        /// What referred to it.
        what: String,
        /// The index.
        port: u16,
        /// Port count.
        ports: usize,
    },
    /// An id outside its field.
    #[error("{what}: id {id} is out of range (max {max})")]
    BadId {
        /// What.
        what: String,
        /// The id.
        id: u16,
        /// Largest allowed.
        max: u16,
    },
    /// Two vEths with the same (port, id), or two VM vEths on one port.
    #[error("{what}: (port {port}, id {id}) is already used by {other}")]
    Duplicate {
        /// What.
        what: String,
        /// Port.
        port: u16,
        /// Id.
        id: u16,
        /// The vEth already there.
        other: String,
    },
    /// A vEth on a port whose kind does not take vEths for this role.
    #[error("{what}: port {port} is {kind:?}, which takes no vEth in role {role:?}")]
    WrongPort {
        /// What.
        what: String,
        /// Port.
        port: u16,
        /// The port's kind.
        kind: PortKind,
        /// The role.
        role: Role,
    },
    /// A rule that does not make sense.
    #[error("{what}: {msg}")]
    BadRule {
        /// What.
        what: String,
        /// Why.
        msg: String,
    },
    /// More vEths than the dense tables can index.
    #[error("too many vEths ({0}; at most 65534)")]
    TooMany(usize),
}

/// The immutable table set one burst is processed with.
#[derive(Debug)]
pub struct Tables {
    role: Role,
    ports: Vec<PortKind>,
    veths: Vec<Veth>,
    /// Per port: the vEth of a Vm / Ordinary / basic VEPA port.
    port_veth: Vec<u16>,
    /// Per port: id -> vEth (dense, [`ID_SPACE`] entries; empty when the
    /// port has no ids).
    by_id: Vec<Box<[u16]>>,
    /// Per port: list id -> members (extender downstream).
    lists: Vec<HashMap<u16, Box<[u16]>, FxBuild>>,
    /// Station: (S-VID << 48 | MAC) -> vEth.
    station_macs: HashMap<u64, u16, FxBuild>,
    /// Station: S-VID -> vEths of that channel.
    channels: HashMap<u16, Box<[u16]>, FxBuild>,
    /// Bridge: VLAN -> flood groups.
    flood: HashMap<u16, Box<[FloodGroup]>, FxBuild>,
    uplink: u16,
    sticky: Arc<StickyMacs>,
    /// Upstream tags (extender) per vEth.
    pub vntag_up: Vec<TagBytes<VnTag>>,
    /// Upstream E-Tags (extender) per vEth.
    pub etag_up: Vec<TagBytes<ETag>>,
    /// S-tags per vEth (station multichannel up; bridge multichannel down).
    pub stag: Vec<TagBytes<STag>>,
    /// Downstream unicast VN-Tags (bridge) per vEth.
    pub vntag_down: Vec<TagBytes<VnTag>>,
    /// Downstream unicast E-Tags (bridge) per vEth.
    pub etag_down: Vec<TagBytes<ETag>>,
    /// Whether some vEth has an ACL classifier (the bridge then batches
    /// its bursts' ACL-cache misses per vEth).
    classifiers: bool,
}

impl Tables {
    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Number of ports.
    pub fn ports(&self) -> usize {
        self.ports.len()
    }
    /// Kind of port `p` ([`PortKind::Unused`] beyond the end).
    #[inline(always)]
    pub fn port_kind(&self, p: u16) -> PortKind {
        self.ports.get(usize::from(p)).copied().unwrap_or_default()
    }
    /// The vEths, by index.
    #[inline(always)]
    pub fn veths(&self) -> &[Veth] {
        &self.veths
    }

    /// Whether some vEth has an ACL classifier.
    #[inline(always)]
    pub fn has_classifiers(&self) -> bool {
        self.classifiers
    }
    /// vEth `v`.
    #[inline(always)]
    pub fn veth(&self, v: u16) -> Option<&Veth> {
        self.veths.get(usize::from(v))
    }
    /// Index of the vEth named `name`.
    pub fn veth_index(&self, name: &str) -> Option<u16> {
        self.veths
            .iter()
            .position(|v| v.cfg.name == name)
            .map(|i| i as u16)
    }
    /// The uplink port (extender, station).
    #[inline(always)]
    pub fn uplink(&self) -> u16 {
        self.uplink
    }
    /// The vEth of a single-vEth port.
    #[inline(always)]
    pub fn port_veth(&self, p: u16) -> Option<u16> {
        self.port_veth
            .get(usize::from(p))
            .copied()
            .filter(|v| *v != NO_VETH)
    }
    /// The vEth with `id` on port `p`.
    #[inline(always)]
    pub fn by_id(&self, p: u16, id: u16) -> Option<u16> {
        self.by_id
            .get(usize::from(p))
            .and_then(|t| t.get(usize::from(id)))
            .copied()
            .filter(|v| *v != NO_VETH)
    }
    /// Members of list `id` on port `p`.
    #[inline(always)]
    pub fn list(&self, p: u16, id: u16) -> Option<&[u16]> {
        self.lists.get(usize::from(p))?.get(&id).map(|b| &**b)
    }
    /// Station: the vEth with `mac` on channel `svid`.
    #[inline(always)]
    pub fn station_mac(&self, svid: u16, mac: u64) -> Option<u16> {
        self.station_macs
            .get(&(u64::from(svid) << 48 | mac))
            .copied()
    }
    /// Station: vEths of channel `svid`.
    #[inline(always)]
    pub fn channel(&self, svid: u16) -> &[u16] {
        self.channels.get(&svid).map_or(&[], |b| &**b)
    }
    /// The learned-once anti-spoof MACs (carry them into the next table
    /// set with [`TablesBuilder::sticky_macs`]).
    #[inline(always)]
    pub fn sticky(&self) -> &Arc<StickyMacs> {
        &self.sticky
    }
    /// Bridge: flood groups of `vlan`.
    #[inline(always)]
    pub fn flood(&self, vlan: u16) -> &[FloodGroup] {
        self.flood.get(&vlan).map_or(&[], |b| &**b)
    }
}

/// Builds a [`Tables`]: declare ports, add vEths and lists, then
/// [`TablesBuilder::build`], which validates everything.
#[derive(Debug)]
pub struct TablesBuilder {
    role: Role,
    ports: Vec<PortKind>,
    veths: Vec<VethConfig>,
    lists: Vec<(u16, u16, Vec<u16>)>,
    flood_lists: Vec<(u16, u16, FloodList)>,
    sticky: Option<Arc<StickyMacs>>,
}

impl TablesBuilder {
    /// A builder for `role` over `ports` ports. Extender and station: port
    /// kinds default to [`PortKind::Vm`]; bridge: [`PortKind::Unused`].
    pub fn new(role: Role, ports: usize) -> TablesBuilder {
        let default = match role {
            Role::Bridge => PortKind::Unused,
            _ => PortKind::Vm,
        };
        TablesBuilder {
            role,
            ports: vec![default; ports],
            veths: Vec::new(),
            lists: Vec::new(),
            flood_lists: Vec::new(),
            sticky: None,
        }
    }

    /// Keeps the learned-once MACs of the published set (pass
    /// `old.sticky().clone()`), so that a publication does not forget them;
    /// without it the new set starts with none claimed. vEths keep their
    /// claim only if they keep their index.
    pub fn sticky_macs(&mut self, sticky: Arc<StickyMacs>) -> &mut Self {
        self.sticky = Some(sticky);
        self
    }

    /// Sets the kind of port `p` (ignored beyond the port count; `build`
    /// reports vEths on such ports).
    pub fn port(&mut self, p: u16, kind: PortKind) -> &mut Self {
        if let Some(k) = self.ports.get_mut(usize::from(p)) {
            *k = kind;
        }
        self
    }

    /// Adds a vEth and returns its index.
    pub fn veth(&mut self, cfg: VethConfig) -> u16 {
        self.veths.push(cfg);
        (self.veths.len() - 1) as u16
    }

    /// Extender: programs VIF list / multicast E-channel `id` on uplink
    /// port `port` with member vEths `members`.
    pub fn list(&mut self, port: u16, id: u16, members: &[u16]) -> &mut Self {
        self.lists.push((port, id, members.to_vec()));
        self
    }

    /// Bridge: floods of `vlan` towards extender link `port` go as one copy
    /// with `list` (the extender must hold the same members).
    pub fn flood_list(&mut self, port: u16, vlan: u16, list: FloodList) -> &mut Self {
        self.flood_lists.push((port, vlan, list));
        self
    }

    fn check_port(&self, what: &str, p: u16) -> Result<PortKind, TablesError> {
        self.ports
            .get(usize::from(p))
            .copied()
            .ok_or(TablesError::NoSuchPort {
                what: what.to_owned(),
                port: p,
                ports: self.ports.len(),
            })
    }

    /// Validates and compiles the table set.
    pub fn build(self) -> Result<Tables, TablesError> {
        let n = self.ports.len();
        if self.veths.len() >= usize::from(NO_VETH) {
            return Err(TablesError::TooMany(self.veths.len()));
        }
        let uplink = self
            .ports
            .iter()
            .position(|k| *k == PortKind::Uplink)
            .unwrap_or(0) as u16;
        let mut t = Tables {
            role: self.role,
            ports: self.ports.clone(),
            veths: Vec::with_capacity(self.veths.len()),
            port_veth: vec![NO_VETH; n],
            by_id: (0..n).map(|_| Box::default()).collect(),
            lists: (0..n).map(|_| HashMap::default()).collect(),
            station_macs: HashMap::default(),
            channels: HashMap::default(),
            flood: HashMap::default(),
            uplink,
            sticky: match &self.sticky {
                Some(s) if s.len() >= self.veths.len() => Arc::clone(s),
                _ => Arc::new(StickyMacs::new(self.veths.len())),
            },
            vntag_up: Vec::new(),
            etag_up: Vec::new(),
            stag: Vec::new(),
            vntag_down: Vec::new(),
            etag_down: Vec::new(),
            classifiers: self
                .veths
                .iter()
                .any(|v| v.rules.classifier.get().is_some()),
        };
        let mut channels: HashMap<u16, Vec<u16>> = HashMap::new();
        for (i, v) in self.veths.iter().enumerate() {
            let vi = i as u16;
            let what = format!("vEth {}", v.name);
            let kind = self.check_port(&what, v.port)?;
            let bad_rule = |msg: String| TablesError::BadRule {
                what: what.clone(),
                msg,
            };
            if let Some(m) = v.rules.mirror {
                self.check_port(&format!("{what} mirror"), m)?;
            }
            if let Some(p) = v.rules.pcp
                && p > 7
            {
                return Err(bad_rule(format!("PCP {p} is above 7")));
            }
            if let Some(p) = &v.rules.policer
                && (p.cir == 0 || p.cbs == 0 || p.cbs > 1 << 31 || p.ebs > 1 << 31)
            {
                return Err(bad_rule(
                    "policer needs rate > 0 and 0 < burst <= 2^31 bytes".into(),
                ));
            }
            match &v.rules.vlan {
                VlanMode::Access(a) if *a == 0 || *a > 4094 => {
                    return Err(bad_rule(format!("access VLAN {a} is not in 1..=4094")));
                }
                VlanMode::Trunk {
                    native: Some(nv), ..
                } if *nv == 0 || *nv > 4094 => {
                    return Err(bad_rule(format!("native VLAN {nv} is not in 1..=4094")));
                }
                _ => {}
            }
            let max_id = match (self.role, kind) {
                (Role::Extender(ExtKind::VnTag), PortKind::Vm) => vntag_src_max(),
                (Role::Extender(ExtKind::ETag), PortKind::Vm) => 0x0fff,
                (Role::Station { multichannel: true }, PortKind::Vm) => 4094,
                (
                    Role::Station {
                        multichannel: false,
                    },
                    PortKind::Vm,
                ) => 0,
                (Role::Bridge, PortKind::ExtenderLink(ExtKind::VnTag)) => vntag_src_max(),
                (Role::Bridge, PortKind::ExtenderLink(ExtKind::ETag)) => 0x0fff,
                (Role::Bridge, PortKind::VepaLink { multichannel: true }) => 4094,
                (
                    Role::Bridge,
                    PortKind::VepaLink {
                        multichannel: false,
                    },
                ) => 0,
                (Role::Bridge, PortKind::Ordinary) => 0,
                _ => {
                    return Err(TablesError::WrongPort {
                        what,
                        port: v.port,
                        kind,
                        role: self.role,
                    });
                }
            };
            let min_id = u16::from(max_id != 0);
            if v.id < min_id || v.id > max_id {
                return Err(TablesError::BadId {
                    what,
                    id: v.id,
                    max: max_id,
                });
            }
            // Where the vEth is found.
            let by_id = matches!(
                (self.role, kind),
                (Role::Bridge, PortKind::ExtenderLink(_))
                    | (Role::Bridge, PortKind::VepaLink { multichannel: true })
            );
            if by_id {
                let tbl = &mut t.by_id[usize::from(v.port)];
                if tbl.is_empty() {
                    *tbl = vec![NO_VETH; ID_SPACE].into_boxed_slice();
                }
                let slot = &mut tbl[usize::from(v.id)];
                if *slot != NO_VETH {
                    return Err(TablesError::Duplicate {
                        what,
                        port: v.port,
                        id: v.id,
                        other: self.veths[usize::from(*slot)].name.clone(),
                    });
                }
                *slot = vi;
            } else {
                let slot = &mut t.port_veth[usize::from(v.port)];
                if *slot != NO_VETH {
                    return Err(TablesError::Duplicate {
                        what,
                        port: v.port,
                        id: v.id,
                        other: self.veths[usize::from(*slot)].name.clone(),
                    });
                }
                *slot = vi;
            }
            // Extender downstream: the uplink's id -> vEth.
            if let Role::Extender(_) = self.role {
                let up = usize::from(uplink);
                if t.by_id[up].is_empty() {
                    t.by_id[up] = vec![NO_VETH; ID_SPACE].into_boxed_slice();
                }
                let slot = &mut t.by_id[up][usize::from(v.id)];
                if *slot != NO_VETH {
                    return Err(TablesError::Duplicate {
                        what,
                        port: uplink,
                        id: v.id,
                        other: self.veths[usize::from(*slot)].name.clone(),
                    });
                }
                *slot = vi;
            }
            if let Role::Station { .. } = self.role {
                for m in &v.macs {
                    t.station_macs
                        .insert(u64::from(v.id) << 48 | mac_u64(m), vi);
                }
                channels.entry(v.id).or_default().push(vi);
            }
            let pcp = v.rules.pcp.unwrap_or(0);
            t.vntag_up.push(TagBytes::vntag(&VnTagRepr {
                src: v.id & vntag_src_max(),
                ..VnTagRepr::default()
            }));
            t.etag_up.push(TagBytes::etag(&ETagRepr {
                pcp,
                ecid_base: v.id & 0x0fff,
                ..ETagRepr::default()
            }));
            t.stag.push(TagBytes::stag(&STagRepr {
                tpid: EtherType::QINQ,
                pcp,
                dei: false,
                svid: v.id & 0x0fff,
                ethertype: EtherType::IPV4,
            }));
            t.vntag_down.push(TagBytes::vntag(&VnTagRepr {
                direction: true,
                dst: v.id,
                ..VnTagRepr::default()
            }));
            t.etag_down.push(TagBytes::etag(&ETagRepr {
                pcp,
                grp: (v.id >> 12) as u8,
                ecid_base: v.id & 0x0fff,
                ..ETagRepr::default()
            }));
            t.veths.push(Veth {
                cfg: v.clone(),
                reflective_relay: matches!(kind, PortKind::VepaLink { .. }),
            });
        }
        for (svid, members) in channels {
            t.channels.insert(svid, members.into_boxed_slice());
        }
        for (port, id, members) in &self.lists {
            let what = format!("list {id}");
            self.check_port(&what, *port)?;
            if usize::from(*id) >= ID_SPACE {
                return Err(TablesError::BadId {
                    what,
                    id: *id,
                    max: (ID_SPACE - 1) as u16,
                });
            }
            if let Some(m) = members.iter().find(|m| usize::from(**m) >= t.veths.len()) {
                return Err(TablesError::BadRule {
                    what,
                    msg: format!("member {m} is not a vEth"),
                });
            }
            t.lists[usize::from(*port)].insert(*id, members.clone().into_boxed_slice());
        }
        if self.role == Role::Bridge {
            t.flood = self.bridge_flood(&t)?;
        }
        Ok(t)
    }

    fn bridge_flood(
        &self,
        t: &Tables,
    ) -> Result<HashMap<u16, Box<[FloodGroup]>, FxBuild>, TablesError> {
        let mut lists: HashMap<(u16, u16), FloodList> = HashMap::new();
        for (port, vlan, l) in &self.flood_lists {
            let what = format!("flood list {} (VLAN {vlan})", l.id);
            let kind = self.check_port(&what, *port)?;
            let PortKind::ExtenderLink(ext) = kind else {
                return Err(TablesError::BadRule {
                    what,
                    msg: format!("port {port} is not an extender link"),
                });
            };
            let ok = match ext {
                ExtKind::VnTag => usize::from(l.id) < ID_SPACE,
                ExtKind::ETag => (0x1000..0x4000).contains(&l.id),
            };
            if !ok {
                return Err(TablesError::BadRule {
                    what,
                    msg: "a VIF-list id is 0..16383; a multicast E-CID 0x1000..0x3FFF".into(),
                });
            }
            lists.insert((*port, *vlan), *l);
        }
        let mut vlans: Vec<u16> = Vec::new();
        for v in &t.veths {
            match &v.cfg.rules.vlan {
                VlanMode::Any => vlans.push(rules::DEFAULT_VLAN),
                VlanMode::Access(a) => vlans.push(*a),
                VlanMode::Trunk { allowed, native } => {
                    vlans.extend(allowed.iter());
                    vlans.extend(native.iter());
                }
            }
        }
        vlans.sort_unstable();
        vlans.dedup();
        let mut flood = HashMap::default();
        for vlan in vlans {
            let mut groups: Vec<FloodGroup> = Vec::new();
            for (i, v) in t.veths.iter().enumerate() {
                if !v.cfg.rules.carries(vlan) {
                    continue;
                }
                let port = v.cfg.port;
                match groups.iter_mut().find(|g| g.port == port) {
                    Some(g) => {
                        let mut m = std::mem::take(&mut g.members).into_vec();
                        m.push(i as u16);
                        g.members = m.into_boxed_slice();
                    }
                    None => groups.push(FloodGroup {
                        port,
                        ext: match t.port_kind(port) {
                            PortKind::ExtenderLink(e) => Some(e),
                            _ => None,
                        },
                        list: lists.get(&(port, vlan)).copied(),
                        members: vec![i as u16].into_boxed_slice(),
                    }),
                }
            }
            if !groups.is_empty() {
                flood.insert(vlan, groups.into_boxed_slice());
            }
        }
        Ok(flood)
    }
}

const fn vntag_src_max() -> u16 {
    crate::wire::vntag::SRC_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_validates() {
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 3);
        b.port(0, PortKind::Uplink);
        b.veth(VethConfig::new("a", 1, 5));
        b.veth(VethConfig::new("b", 2, 5));
        assert!(matches!(b.build(), Err(TablesError::Duplicate { .. })));
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 3);
        b.port(0, PortKind::Uplink);
        b.veth(VethConfig::new("a", 1, 0));
        assert!(matches!(b.build(), Err(TablesError::BadId { .. })));
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 3);
        b.port(0, PortKind::Uplink);
        b.veth(VethConfig::new("a", 0, 3));
        assert!(matches!(b.build(), Err(TablesError::WrongPort { .. })));
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
        b.port(0, PortKind::Uplink);
        b.veth(VethConfig::new("a", 7, 3));
        assert!(matches!(b.build(), Err(TablesError::NoSuchPort { .. })));
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
        b.port(0, PortKind::Uplink);
        let mut c = VethConfig::new("a", 1, 3);
        c.rules.vlan = VlanMode::Access(5000);
        b.veth(c);
        assert!(matches!(b.build(), Err(TablesError::BadRule { .. })));
    }

    #[test]
    fn extender_lookups() {
        let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 3);
        b.port(0, PortKind::Uplink);
        let a = b.veth(VethConfig::new("a", 1, 10));
        let c = b.veth(VethConfig::new("c", 2, 11));
        b.list(0, 100, &[a, c]);
        let t = b.build().unwrap();
        assert_eq!(t.uplink(), 0);
        assert_eq!(t.port_veth(1), Some(a));
        assert_eq!(t.port_veth(0), None);
        assert_eq!(t.by_id(0, 11), Some(c));
        assert_eq!(t.by_id(0, 12), None);
        assert_eq!(t.list(0, 100), Some(&[a, c][..]));
        assert_eq!(t.list(0, 101), None);
        assert_eq!(t.veth_index("c"), Some(c));
    }

    #[test]
    fn bridge_flood_groups_per_port() {
        let mut b = TablesBuilder::new(Role::Bridge, 3);
        b.port(0, PortKind::ExtenderLink(ExtKind::VnTag))
            .port(1, PortKind::Ordinary)
            .port(
                2,
                PortKind::VepaLink {
                    multichannel: false,
                },
            );
        let mut x = VethConfig::new("x", 0, 1);
        x.rules.vlan = VlanMode::Access(10);
        let mut y = VethConfig::new("y", 0, 2);
        y.rules.vlan = VlanMode::Access(10);
        let mut z = VethConfig::new("z", 1, 0);
        z.rules.vlan = VlanMode::Access(20);
        let mut w = VethConfig::new("w", 2, 0);
        w.rules.vlan = VlanMode::Trunk {
            allowed: VlanSet::of([10, 20]),
            native: None,
        };
        for v in [x, y, z, w] {
            b.veth(v);
        }
        b.flood_list(
            0,
            10,
            FloodList {
                id: 200,
                untagged: true,
            },
        );
        let t = b.build().unwrap();
        let f = t.flood(10);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].port, &*f[0].members), (0, &[0u16, 1][..]));
        assert_eq!(f[0].list.map(|l| l.id), Some(200));
        assert_eq!((f[1].port, &*f[1].members), (2, &[3u16][..]));
        assert_eq!(t.flood(20).len(), 2);
        assert!(t.flood(30).is_empty());
        assert!(t.veths()[3].reflective_relay);
        assert_eq!(t.by_id(0, 2), Some(1));
    }
}
