//! From a [`Compiled`] set to the tables the workers read, and the
//! [`TablePublisher`] that swaps them in through the dataplane's RCU
//! handle.
//!
//! Port indexes are positions in [`Compiled::ports`] (name order): the run
//! opens the DPDK ports in that order. What the roles need beyond the
//! configuration's vEths:
//!
//! | role / encapsulation | uplink port | downlink port |
//! |---|---|---|
//! | port extender (vntag, etag) | [`PortKind::Uplink`] | [`PortKind::Vm`], its vEth's VIF / E-CID |
//! | VEPA station (stag: multichannel; none: basic) | [`PortKind::Uplink`] | [`PortKind::Vm`], its vEth's S-VID / 0 |
//! | controlling bridge (vntag, etag) | [`PortKind::Ordinary`] | [`PortKind::ExtenderLink`] |
//! | controlling bridge (stag, none) | [`PortKind::Ordinary`] | [`PortKind::VepaLink`] |
//!
//! An ordinary bridge port gets a vEth of its own (`port:<name>`, default
//! rules) when the configuration has none on it. VIF lists: on an
//! extender, list `id` on the uplink; on a bridge, a flood list for the
//! members' common access VLAN (untagged copies), or for VLAN 1 when the
//! members do not share one access VLAN.
//!
//! A vEth whose ingress ACL has [`CLASSIFIER_MIN_RULES`] rules or more gets
//! DPDK's `rte_acl` as its batch classifier when the set is built while EAL
//! runs: a burst's ACL-cache misses of that vEth are decided in one call.
//! vEths with the same ACL share one classifier. Without EAL (checking a configuration,
//! unit tests) or if a build fails (with a warning), the misses are
//! scanned: the decisions are the same either way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use vfex_dataplane::dpdk::{self, Acl};
use vfex_dataplane::tables::{
    self, AclClassifier, Action, CLASSIFIER_MIN_RULES, Classifier, CompiledRule, ExtKind,
    FloodList, PolicerParams, PortKind, Rcu, Role, StickyMacs, Tables, TablesBuilder, VethConfig,
    VethRules, VlanSet,
};

use crate::compile::{Compiled, TagId};
use crate::control::{PublishError, TablePublisher};
use crate::model::{self, AclAction, Encap, IpPrefix};

/// The dataplane role for a configuration's role and encapsulation.
pub fn role_of(role: model::Role, encap: Encap) -> Result<Role, String> {
    Ok(match (role, encap) {
        (model::Role::PortExtender, Encap::Vntag) => Role::Extender(ExtKind::VnTag),
        (model::Role::PortExtender, Encap::Etag) => Role::Extender(ExtKind::ETag),
        (model::Role::PortExtender, e) => {
            return Err(format!(
                "a port extender pushes vntag or etag, not {}",
                e.name()
            ));
        }
        (model::Role::VepaStation, Encap::Stag) => Role::Station { multichannel: true },
        (model::Role::VepaStation, Encap::None) => Role::Station {
            multichannel: false,
        },
        (model::Role::VepaStation, e) => {
            return Err(format!(
                "a VEPA station uses stag (multichannel) or none, not {}",
                e.name()
            ));
        }
        (model::Role::ControllingBridge, _) => Role::Bridge,
    })
}

fn port_kind(c: &Compiled, p: &crate::compile::CompiledPort) -> PortKind {
    let uplink = p.kind == model::PortKind::Uplink;
    match (c.role, uplink) {
        (model::Role::ControllingBridge, true) => PortKind::Ordinary,
        (model::Role::ControllingBridge, false) => match c.encap {
            Encap::Vntag => PortKind::ExtenderLink(ExtKind::VnTag),
            Encap::Etag => PortKind::ExtenderLink(ExtKind::ETag),
            Encap::Stag => PortKind::VepaLink { multichannel: true },
            Encap::None => PortKind::VepaLink {
                multichannel: false,
            },
        },
        (_, true) => PortKind::Uplink,
        (_, false) => PortKind::Vm,
    }
}

fn range(r: &model::Range16) -> (u16, u16) {
    (r.start, r.end)
}

fn prefix(p: &IpPrefix) -> (std::net::IpAddr, u8) {
    match p {
        IpPrefix::V4(a, l) => (std::net::IpAddr::V4(*a), *l),
        IpPrefix::V6(a, l) => (std::net::IpAddr::V6(*a), *l),
    }
}

/// One configuration ACL rule, compiled for the fast path.
fn acl_rule(r: &model::AclRule) -> Result<CompiledRule, String> {
    const EXACT: [u8; 6] = [0xff; 6];
    CompiledRule::compile(&tables::AclRule {
        action: match r.action {
            AclAction::Permit => Action::Permit,
            AclAction::Deny => Action::Deny,
        },
        src_mac: r.src_mac.map(|m| (m.0, EXACT)),
        dst_mac: r.dst_mac.map(|m| (m.0, EXACT)),
        ethertype: r.ethertype,
        vlan: r.vlan.as_ref().map(range),
        src_ip: r.src_ip.as_ref().map(prefix),
        dst_ip: r.dst_ip.as_ref().map(prefix),
        protocol: r.proto,
        src_port: r.src_port.as_ref().map(range),
        dst_port: r.dst_port.as_ref().map(range),
    })
}

/// A vEth's effective rules as the workers enforce them.
pub fn veth_rules(v: &crate::compile::CompiledVeth) -> Result<VethRules, String> {
    let r = &v.rules;
    let vlan = match &r.vlan {
        None => tables::VlanMode::Any,
        Some(model::VlanMode::Access { vlan }) => tables::VlanMode::Access(*vlan),
        Some(model::VlanMode::Trunk { allowed, native }) => tables::VlanMode::Trunk {
            allowed: VlanSet::of(allowed.iter().flat_map(|r| r.start..=r.end)),
            native: *native,
        },
    };
    let (allowed_macs, learn_once) = match &r.anti_spoof {
        None => (None, false),
        Some(a) => {
            let mut macs: Vec<[u8; 6]> = a.allowed_macs.iter().map(|m| m.0).collect();
            if let Some(m) = v.mac
                && !macs.contains(&m.0)
            {
                macs.push(m.0);
            }
            (Some(macs), a.learn_once)
        }
    };
    let acl = r
        .acl
        .iter()
        .map(acl_rule)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("vEth {}: ACL: {e}", v.name))?;
    Ok(VethRules {
        admin_up: r.admin_up,
        vlan,
        allowed_macs,
        learn_once,
        acl,
        acl_default: Action::Permit,
        classifier: Classifier::default(),
        policer: r.policer.map(|p| PolicerParams {
            cir: (p.rate_bps / 8).max(1),
            cbs: p.burst_bytes.clamp(1, 1 << 31),
            ebs: 0,
        }),
        pcp: r.pcp,
        mirror: r.mirror.map(|m| m as u16),
        mac_limit: r.mac_limit,
        egress_acl: Vec::new(),
        egress_acl_default: Action::Permit,
    })
}

/// `rte_acl` classifiers by (ACL, default): those of one table set, and
/// those a publisher keeps from the set it published last, so that a
/// publication builds only the ACLs that changed (a build takes ~2 ms at 16
/// rules, ~6 ms at 64, ~25 ms at 256: `benches/acl.rs`).
pub type Classifiers = HashMap<(Vec<CompiledRule>, Action), Classifier>;

/// Gives a long ACL its `rte_acl` classifier while EAL runs: the one of
/// this set or of `prev` for the same ACL, else a new one; what it uses
/// goes into `used`. See the module's notes.
fn attach_classifier(r: &mut VethRules, prev: &Classifiers, used: &mut Classifiers, veth: &str) {
    if r.acl.len() < CLASSIFIER_MIN_RULES {
        return;
    }
    let key = (r.acl.clone(), r.acl_default);
    if let Some(c) = used.get(&key).or_else(|| prev.get(&key)) {
        r.classifier = c.clone();
        used.insert(key, c.clone());
        return;
    }
    match Acl::build(&r.acl, r.acl_default) {
        Ok(acl) => {
            let c = Classifier::new(Arc::new(acl) as Arc<dyn AclClassifier>);
            r.classifier = c.clone();
            used.insert(key, c);
        }
        Err(dpdk::Error::NotRunning) => {}
        Err(e) => {
            eprintln!(
                "vfex: warning: vEth {veth}: no rte_acl classifier for its {}-rule ACL ({e}); its cache misses are scanned",
                r.acl.len()
            );
            used.insert(key, Classifier::default());
        }
    }
}

/// The table set for `c`. `sticky`: the learned-once MACs of the set now
/// published, kept across publications.
pub fn to_tables(c: &Compiled, sticky: Option<Arc<StickyMacs>>) -> Result<Tables, String> {
    to_tables_reusing(c, sticky, &mut Classifiers::new())
}

/// [`to_tables`], reusing the classifiers of `classifiers` (those of the
/// set published last) and leaving there those of the new set.
pub fn to_tables_reusing(
    c: &Compiled,
    sticky: Option<Arc<StickyMacs>>,
    classifiers: &mut Classifiers,
) -> Result<Tables, String> {
    let role = role_of(c.role, c.encap)?;
    let mut b = TablesBuilder::new(role, c.ports.len());
    if let Some(s) = sticky {
        b.sticky_macs(s);
    }
    let kinds: Vec<PortKind> = c.ports.iter().map(|p| port_kind(c, p)).collect();
    for (i, k) in kinds.iter().enumerate() {
        b.port(i as u16, *k);
    }
    let mut index = Vec::with_capacity(c.veths.len());
    let mut used = Classifiers::new();
    for v in &c.veths {
        let id = match v.tag {
            TagId::Vif(x) | TagId::Ecid(x) | TagId::Svid(x) => x,
            TagId::Untagged => 0,
        };
        let mut cfg = VethConfig::new(&v.name, v.port as u16, id);
        cfg.macs = v.mac.iter().map(|m| m.0).collect();
        cfg.rules = veth_rules(v)?;
        attach_classifier(&mut cfg.rules, classifiers, &mut used, &v.name);
        index.push(b.veth(cfg));
    }
    // An ordinary bridge port without a vEth gets one.
    for (i, k) in kinds.iter().enumerate() {
        if *k == PortKind::Ordinary && !c.veths.iter().any(|v| v.port == i) {
            b.veth(VethConfig::new(
                &format!("port:{}", c.ports[i].name),
                i as u16,
                0,
            ));
        }
    }
    let uplink = kinds.iter().position(|k| *k == PortKind::Uplink);
    for l in &c.vif_lists {
        let members: Vec<u16> = l.members.iter().map(|m| index[*m]).collect();
        match role {
            Role::Extender(_) => {
                let Some(up) = uplink else {
                    return Err(format!("VIF list {}: no uplink port", l.name));
                };
                b.list(up as u16, l.id, &members);
            }
            Role::Bridge => {
                let Some(first) = l.members.first() else {
                    continue;
                };
                let port = c.veths[*first].port as u16;
                let access = |m: &usize| match c.veths[*m].rules.vlan {
                    Some(model::VlanMode::Access { vlan }) => Some(vlan),
                    _ => None,
                };
                let common =
                    access(first).filter(|v| l.members.iter().all(|m| access(m) == Some(*v)));
                b.flood_list(
                    port,
                    common.unwrap_or(tables::rules::DEFAULT_VLAN),
                    FloodList {
                        id: l.id,
                        untagged: true,
                    },
                );
            }
            Role::Station { .. } => {}
        }
    }
    let t = b.build().map_err(|e| e.to_string())?;
    *classifiers = used;
    Ok(t)
}

/// Where the first publication leaves the workers' RCU handle.
pub type RcuSlot = Arc<std::sync::OnceLock<Arc<Rcu<Tables>>>>;

/// Publishes compiled sets to the workers through their RCU handle. The
/// first publication creates the handle (the control thread compiles the
/// first set before any worker runs) and leaves it in the slot for the
/// run to start its workers with.
pub struct DataplanePublisher {
    slot: RcuSlot,
    grace: Duration,
    /// The classifiers of the set published last.
    classifiers: Classifiers,
}

impl DataplanePublisher {
    /// A publisher and the slot its first publication fills; `grace`: how
    /// long to wait for every worker to leave the old set (after that a
    /// warning names the publication; the old set goes with its last
    /// reader).
    pub fn new(grace: Duration) -> (DataplanePublisher, RcuSlot) {
        let slot = RcuSlot::default();
        (
            DataplanePublisher {
                slot: Arc::clone(&slot),
                grace,
                classifiers: Classifiers::new(),
            },
            slot,
        )
    }
}

impl TablePublisher for DataplanePublisher {
    fn publish(&mut self, compiled: &Arc<Compiled>) -> Result<(), PublishError> {
        // Kept only once the set is published.
        let mut classifiers = self.classifiers.clone();
        let Some(rcu) = self.slot.get() else {
            let tables =
                to_tables_reusing(compiled, None, &mut classifiers).map_err(PublishError)?;
            let _ = self.slot.set(Rcu::new(tables));
            self.classifiers = classifiers;
            return Ok(());
        };
        let sticky = Arc::clone(rcu.load().sticky());
        let tables =
            to_tables_reusing(compiled, Some(sticky), &mut classifiers).map_err(PublishError)?;
        if tables.role() != rcu.load().role() || tables.ports() != rcu.load().ports() {
            return Err(PublishError(
                "the role, the encapsulation and the ports cannot change while forwarding: stop, change them, start"
                    .into(),
            ));
        }
        let old = rcu.publish(tables);
        self.classifiers = classifiers;
        if !Rcu::synchronize(&old, self.grace) {
            eprintln!(
                "vfex: warning: a worker did not pass a quiescent state within {:?} after publication {}",
                self.grace, compiled.generation
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_compiles_to_tables() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let cfg = crate::config::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            // VF ports resolve to made-up VF addresses here.
            let mut vfs = crate::compile::VfMap::new();
            for port in cfg.ports.values() {
                if let model::PortDevice::Vf { pf, index } = &port.device {
                    let a: model::PciAddr = format!("0000:99:00.{}", index % 8).parse().unwrap();
                    vfs.insert((pf.clone(), *index), a);
                }
            }
            let c = crate::compile::compile(&cfg, &vfs).unwrap();
            let t = to_tables(&c, None).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(t.veths().len() >= c.veths.len(), "{}", p.display());
            n += 1;
        }
        assert!(n >= 4);
    }

    #[test]
    fn roles_and_encapsulations() {
        assert_eq!(
            role_of(model::Role::PortExtender, Encap::Etag),
            Ok(Role::Extender(ExtKind::ETag))
        );
        assert!(role_of(model::Role::PortExtender, Encap::Stag).is_err());
        assert!(role_of(model::Role::VepaStation, Encap::Vntag).is_err());
        assert_eq!(
            role_of(model::Role::VepaStation, Encap::None),
            Ok(Role::Station {
                multichannel: false
            })
        );
    }
}
