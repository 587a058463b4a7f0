//! The rule compiler: a valid [`Config`] becomes one immutable,
//! dataplane-independent [`Compiled`] set, which the control thread hands to
//! a [`crate::control::TablePublisher`] in one step.
//!
//! Compiling resolves every name to an index (ports and vEths are numbered
//! in name order), applies profile inheritance (a vEth's own fields win over
//! its profile's, the rest take the defaults of [`EffectiveRules`]), and
//! precomputes each vEth's upstream tag bytes (PROTOCOLS.md) so that the
//! fast path only copies them.

use std::collections::BTreeMap;

use crate::model::*;

/// VF PCI addresses by (PF address, VF index), as SR-IOV reports them.
pub type VfMap = BTreeMap<(PciAddr, u16), PciAddr>;

/// What went wrong while compiling a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A port names a VF that does not exist (yet) on its PF.
    #[error(
        "port `{port}`: VF {index} of PF {pf} does not exist; create the VFs first (num_vfs in [[sriov]])"
    )]
    NoSuchVf {
        /// Port name.
        port: String,
        /// PF address.
        pf: PciAddr,
        /// VF index.
        index: u16,
    },
}

/// A port as the dataplane opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPort {
    /// Port name from the configuration.
    pub name: String,
    /// Uplink or downlink.
    pub kind: PortKind,
    /// The devargs DPDK probes (`rte_dev_probe`): a PCI address, a vdev, or
    /// `<pf>,representor=vf[N]`.
    pub devargs: String,
}

/// The tag id of a vEth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagId {
    /// VN-Tag VIF.
    Vif(u16),
    /// E-Tag E-CID.
    Ecid(u16),
    /// S-channel S-VID.
    Svid(u16),
    /// Untagged (encap none): the vEth is its port.
    Untagged,
}

/// The rules a vEth ends up with after profile inheritance and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRules {
    /// Admin state (default up).
    pub admin_up: bool,
    /// VLAN mode (default none: frames pass with whatever tag they carry).
    pub vlan: Option<VlanMode>,
    /// Anti-spoofing (default off).
    pub anti_spoof: Option<AntiSpoof>,
    /// Ordered ACL, first match wins, no match permits (default empty).
    pub acl: Vec<AclRule>,
    /// Policer (default none).
    pub policer: Option<Policer>,
    /// PCP to mark (default none: keep).
    pub pcp: Option<u8>,
    /// Index into [`Compiled::ports`] to mirror to (default none).
    pub mirror: Option<usize>,
    /// MAC limit (default none).
    pub mac_limit: Option<u32>,
}

/// One vEth, ready for the dataplane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledVeth {
    /// vEth name.
    pub name: String,
    /// Index into [`Compiled::ports`].
    pub port: usize,
    /// Tag id.
    pub tag: TagId,
    /// The tag bytes pushed upstream after the MACs (VN-Tag 6 B, E-Tag 8 B,
    /// S-tag 4 B, none 0 B).
    pub upstream_tag: Vec<u8>,
    /// The tag bytes a controlling bridge pushes to send a unicast frame
    /// down to this vEth (VN-Tag `d=1 p=0 dst=VIF`; E-Tag `E-CID`; S-tag).
    pub downstream_tag: Vec<u8>,
    /// The VM's MAC, if configured.
    pub mac: Option<Mac>,
    /// The profile it inherited, if any.
    pub profile: Option<String>,
    /// Effective rules.
    pub rules: EffectiveRules,
}

/// A VIF list / multicast channel, with members as vEth indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledVifList {
    /// List name.
    pub name: String,
    /// VIF-list id (VN-Tag) or multicast E-CID (E-Tag).
    pub id: u16,
    /// Indices into [`Compiled::veths`].
    pub members: Vec<usize>,
    /// Group MACs carried on the list.
    pub macs: Vec<Mac>,
    /// The tag bytes of a flooded copy to this list (VN-Tag `d=1 p=1
    /// dst=id`, `l=0 src=0`: set `l` and `src` per copy when the source is
    /// on the link; E-Tag `GRP:E-CID = id`, ingress 0).
    pub tag: Vec<u8>,
}

/// One complete, immutable table set: what the workers read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// Increases by one with every publication (set by the control thread).
    pub generation: u64,
    /// Role.
    pub role: Role,
    /// Encapsulation.
    pub encap: Encap,
    /// Ports in name order.
    pub ports: Vec<CompiledPort>,
    /// vEths in name order.
    pub veths: Vec<CompiledVeth>,
    /// VIF lists in name order.
    pub vif_lists: Vec<CompiledVifList>,
}

impl Compiled {
    /// The vEth named `name`.
    pub fn veth(&self, name: &str) -> Option<&CompiledVeth> {
        self.veths.iter().find(|v| v.name == name)
    }
    /// The index of the port named `name`.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// The EAL device arguments that probe every port: `-a <pci>[,opts]`
    /// for PCI devices and `--vdev <devargs>` for virtual ones. Representors
    /// of one PF are merged into one `-a <pf>,representor=vf[...]` (DPDK
    /// takes one allow entry per device), which also probes the PF itself.
    pub fn eal_device_args(&self) -> Vec<String> {
        let mut pci: BTreeMap<String, (String, Vec<u16>)> = BTreeMap::new();
        let mut vdevs: Vec<String> = Vec::new();
        for p in &self.ports {
            let first = p.devargs.split(',').next().unwrap_or("");
            let Ok(addr) = first.parse::<PciAddr>() else {
                vdevs.push(p.devargs.clone());
                continue;
            };
            let entry = pci
                .entry(addr.to_string())
                .or_insert_with(|| (p.devargs.clone(), Vec::new()));
            if let Some(list) = p
                .devargs
                .split_once(",representor=vf[")
                .map(|(_, l)| l.trim_end_matches(']'))
            {
                for part in list.split(',') {
                    let (a, b) = part.split_once('-').unwrap_or((part, part));
                    if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                        entry.1.extend(a..=b);
                    }
                }
            }
        }
        let mut args = Vec::new();
        for (addr, (devargs, reps)) in pci {
            args.push("-a".to_string());
            if reps.is_empty() {
                args.push(devargs);
            } else {
                let pf: PciAddr = addr.parse().unwrap_or_else(|_| PciAddr::default());
                args.push(representor_devargs(&pf, &reps));
            }
        }
        for v in vdevs {
            args.push("--vdev".to_string());
            args.push(v);
        }
        args
    }
}

/// The DPDK devargs of a representor list on `pf`: `<pf>,representor=vf[0,2-3]`.
pub fn representor_devargs(pf: &PciAddr, vfs: &[u16]) -> String {
    let mut v: Vec<u16> = vfs.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    format!("{pf},representor=vf[{}]", parts.join(","))
}

/// Upstream tag bytes for a vEth (PROTOCOLS.md): VN-Tag `d=0 p=0 dst=0 l=0
/// ver=0 src=VIF`; E-Tag `E-PCP=pcp, GRP=0, E-CID_base=E-CID`, ingress and
/// ext 0; S-tag `PCP=pcp, S-VID`.
pub fn upstream_tag(tag: TagId, pcp: u8) -> Vec<u8> {
    match tag {
        TagId::Vif(vif) => {
            let tci = u32::from(vif) & 0x0fff;
            let mut b = vec![0x89, 0x26];
            b.extend_from_slice(&tci.to_be_bytes());
            b
        }
        TagId::Ecid(ecid) => {
            let w1 = (u16::from(pcp & 7)) << 13;
            let w2 = ecid & 0x3fff;
            let mut b = vec![0x89, 0x3f];
            b.extend_from_slice(&w1.to_be_bytes());
            b.extend_from_slice(&w2.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b
        }
        TagId::Svid(svid) => {
            let tci = (u16::from(pcp & 7) << 13) | (svid & 0x0fff);
            let mut b = vec![0x88, 0xa8];
            b.extend_from_slice(&tci.to_be_bytes());
            b
        }
        TagId::Untagged => Vec::new(),
    }
}

/// Downstream unicast tag bytes: VN-Tag `d=1 p=0 dst=VIF l=0 src=0`;
/// E-Tag `E-PCP=pcp, GRP=0, E-CID`; S-tag as upstream.
pub fn downstream_tag(tag: TagId, pcp: u8) -> Vec<u8> {
    match tag {
        TagId::Vif(vif) => {
            let tci = 0x8000_0000u32 | ((u32::from(vif) & 0x3fff) << 16);
            let mut b = vec![0x89, 0x26];
            b.extend_from_slice(&tci.to_be_bytes());
            b
        }
        other => upstream_tag(other, pcp),
    }
}

/// The tag bytes of a flooded copy to a VIF list / multicast E-channel.
pub fn list_tag(encap: Encap, id: u16) -> Vec<u8> {
    match encap {
        Encap::Vntag => {
            let tci = 0xc000_0000u32 | ((u32::from(id) & 0x3fff) << 16);
            let mut b = vec![0x89, 0x26];
            b.extend_from_slice(&tci.to_be_bytes());
            b
        }
        Encap::Etag => {
            let w2 = id & 0x3fff; // GRP (2 bits) : E-CID_base (12 bits)
            let mut b = vec![0x89, 0x3f, 0, 0];
            b.extend_from_slice(&w2.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b
        }
        Encap::Stag | Encap::None => Vec::new(),
    }
}

/// Effective rules of a vEth: its own fields over its profile over the defaults.
pub fn effective_rules(cfg: &Config, veth: &Veth) -> RuleSet {
    let base = veth
        .profile
        .as_ref()
        .and_then(|p| cfg.profiles.get(p))
        .cloned()
        .unwrap_or_default();
    veth.rules.over(&base)
}

/// The VF settings to push through netlink, per PF: the `[[sriov.vf]]`
/// entries, merged over what the vEths on VF or representor ports ask for
/// (DESIGN.md: rules the NIC can enforce are also pushed to the VF). From a
/// vEth: `mac`; an access VLAN as the VF's port VLAN; anti-spoofing as
/// spoof check; admin up/down as link state auto/disable; the policer rate
/// as `max_rate` (Mbit/s, rounded up). A field given in `[[sriov.vf]]` wins.
pub fn vf_settings(cfg: &Config) -> BTreeMap<PciAddr, Vec<VfConfig>> {
    let mut out: BTreeMap<PciAddr, BTreeMap<u16, VfConfig>> = BTreeMap::new();
    for v in cfg.veths.values() {
        let Some(port) = cfg.ports.get(&v.port) else {
            continue;
        };
        let (pf, index) = match &port.device {
            PortDevice::Vf { pf, index } => (pf, *index),
            PortDevice::Representor { pf, vf } => (pf, *vf),
            _ => continue,
        };
        let rs = effective_rules(cfg, v);
        let d = VfConfig {
            index,
            mac: v.mac,
            vlan: match rs.vlan {
                Some(VlanMode::Access { vlan }) => Some(vlan),
                _ => None,
            },
            spoof_check: rs.anti_spoof.as_ref().map(|_| true),
            link_state: rs.admin.map(|a| match a {
                AdminState::Up => VfLinkState::Auto,
                AdminState::Down => VfLinkState::Disable,
            }),
            max_rate: rs
                .policer
                .map(|p| p.rate_bps.div_ceil(1_000_000).min(u64::from(u32::MAX)) as u32),
            ..VfConfig::default()
        };
        out.entry(pf.clone()).or_default().insert(index, d);
    }
    for pf in &cfg.sriov {
        let m = out.entry(pf.pf.clone()).or_default();
        for e in &pf.vf {
            let d = m.entry(e.index).or_insert_with(|| VfConfig {
                index: e.index,
                ..VfConfig::default()
            });
            macro_rules! over {
                ($($f:ident),*) => { $( if e.$f.is_some() { d.$f = e.$f; } )* };
            }
            over!(
                mac,
                vlan,
                qos,
                vlan_proto,
                spoof_check,
                trust,
                min_rate,
                max_rate,
                link_state
            );
            if e.vlan.is_some() {
                d.qos = e.qos;
                d.vlan_proto = e.vlan_proto;
            }
        }
    }
    out.into_iter()
        .map(|(pf, m)| {
            (
                pf,
                m.into_values()
                    .filter(|v| {
                        *v != VfConfig {
                            index: v.index,
                            ..VfConfig::default()
                        }
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Compiles a valid configuration. `vfs` resolves `vf = {pf, index}` ports.
pub fn compile(cfg: &Config, vfs: &VfMap) -> Result<Compiled, CompileError> {
    let mut ports = Vec::new();
    for (name, p) in &cfg.ports {
        let devargs = match &p.device {
            PortDevice::Pci(a) => a.to_string(),
            PortDevice::Devargs(s) => s.clone(),
            PortDevice::Representor { pf, vf } => representor_devargs(pf, &[*vf]),
            PortDevice::Vf { pf, index } => match vfs.get(&(pf.clone(), *index)) {
                Some(a) => a.to_string(),
                None => {
                    return Err(CompileError::NoSuchVf {
                        port: name.clone(),
                        pf: pf.clone(),
                        index: *index,
                    });
                }
            },
        };
        ports.push(CompiledPort {
            name: name.clone(),
            kind: p.kind,
            devargs,
        });
    }
    let port_index = |n: &str| ports.iter().position(|p| p.name == n);
    let mut veths = Vec::new();
    for (name, v) in &cfg.veths {
        let rs = effective_rules(cfg, v);
        let tag = match cfg.encap {
            Encap::Vntag => TagId::Vif(v.vif.unwrap_or(0)),
            Encap::Etag => TagId::Ecid(v.ecid.unwrap_or(0)),
            Encap::Stag => TagId::Svid(v.svid.unwrap_or(0)),
            Encap::None => TagId::Untagged,
        };
        let pcp = rs.pcp.unwrap_or(0);
        veths.push(CompiledVeth {
            name: name.clone(),
            port: port_index(&v.port).unwrap_or(0),
            tag,
            upstream_tag: upstream_tag(tag, pcp),
            downstream_tag: downstream_tag(tag, pcp),
            mac: v.mac,
            profile: v.profile.clone(),
            rules: EffectiveRules {
                admin_up: rs.admin != Some(AdminState::Down),
                vlan: rs.vlan,
                anti_spoof: rs.anti_spoof,
                acl: rs.acl.unwrap_or_default(),
                policer: rs.policer,
                pcp: rs.pcp,
                mirror: rs.mirror.as_deref().and_then(port_index),
                mac_limit: rs.mac_limit,
            },
        });
    }
    let veth_index = |n: &str| veths.iter().position(|v: &CompiledVeth| v.name == n);
    let vif_lists = cfg
        .vif_lists
        .iter()
        .map(|(name, l)| CompiledVifList {
            name: name.clone(),
            id: l.id,
            members: l.members.iter().filter_map(|m| veth_index(m)).collect(),
            macs: l.macs.clone(),
            tag: list_tag(cfg.encap, l.id),
        })
        .collect();
    Ok(Compiled {
        generation: 0,
        role: cfg.role,
        encap: cfg.encap,
        ports,
        veths,
        vif_lists,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vntag_upstream_bytes_follow_protocols_md() {
        // d=0 p=0 dst=0 l=0 r=0 ver=0 src=0x123.
        assert_eq!(
            upstream_tag(TagId::Vif(0x123), 5),
            [0x89, 0x26, 0, 0, 0x01, 0x23]
        );
    }

    #[test]
    fn etag_upstream_bytes_follow_protocols_md() {
        // E-PCP=5 DEI=0 ingress=0 | resv=0 GRP=0 E-CID=0x456 | ext 0 0.
        assert_eq!(
            upstream_tag(TagId::Ecid(0x456), 5),
            [0x89, 0x3f, 0xa0, 0, 0x04, 0x56, 0, 0]
        );
    }

    #[test]
    fn downstream_and_list_tags_follow_protocols_md() {
        // d=1 p=0 dst=0x123 l=0 r=0 ver=0 src=0.
        assert_eq!(
            downstream_tag(TagId::Vif(0x123), 0),
            [0x89, 0x26, 0x81, 0x23, 0, 0]
        );
        // d=1 p=1 dst=0x3fff.
        assert_eq!(
            list_tag(Encap::Vntag, 0x3fff),
            [0x89, 0x26, 0xff, 0xff, 0, 0]
        );
        // GRP=1 E-CID_base=0x001 -> word2 0x1001.
        assert_eq!(
            list_tag(Encap::Etag, 0x1001),
            [0x89, 0x3f, 0, 0, 0x10, 0x01, 0, 0]
        );
        assert_eq!(
            downstream_tag(TagId::Ecid(5), 0),
            upstream_tag(TagId::Ecid(5), 0)
        );
    }

    /// The dataplane's own wire views read the precomputed bytes as meant.
    #[test]
    fn tag_bytes_parse_with_the_dataplane_wire_views() {
        use vfex_dataplane::wire::{etag, vntag};
        let with_type = |mut b: Vec<u8>| {
            b.extend_from_slice(&[0x08, 0x00]);
            b
        };
        let up = vntag::Packet::new_checked(with_type(upstream_tag(TagId::Vif(4095), 0))).unwrap();
        assert!(!up.direction() && !up.pointer() && !up.looped());
        assert_eq!((up.dst(), up.src(), up.version()), (0, 4095, 0));
        let down =
            vntag::Packet::new_checked(with_type(downstream_tag(TagId::Vif(77), 0))).unwrap();
        assert!(down.direction() && !down.pointer());
        assert_eq!((down.dst(), down.src()), (77, 0));
        let list = vntag::Packet::new_checked(with_type(list_tag(Encap::Vntag, 16383))).unwrap();
        assert!(list.direction() && list.pointer());
        assert_eq!(list.dst(), 16383);
        let e = etag::Packet::new_checked(with_type(upstream_tag(TagId::Ecid(0xabc), 6))).unwrap();
        assert_eq!(
            (e.pcp(), e.grp(), e.ecid_base(), e.ingress_ecid_base()),
            (6, 0, 0xabc, 0)
        );
        let m = etag::Packet::new_checked(with_type(list_tag(Encap::Etag, 0x2abc))).unwrap();
        assert_eq!((m.grp(), m.ecid_base(), m.ecid()), (2, 0xabc, 0x2abc));
    }

    #[test]
    fn stag_upstream_bytes() {
        assert_eq!(upstream_tag(TagId::Svid(100), 3), [0x88, 0xa8, 0x60, 100]);
        assert!(upstream_tag(TagId::Untagged, 3).is_empty());
    }

    #[test]
    fn representors_of_one_pf_share_one_allow_entry() {
        let port = |name: &str, devargs: &str| CompiledPort {
            name: name.into(),
            kind: PortKind::Downlink,
            devargs: devargs.into(),
        };
        let t = Compiled {
            generation: 1,
            role: Role::ControllingBridge,
            encap: Encap::None,
            ports: vec![
                port("pf", "0000:3b:00.0"),
                port("r1", "0000:3b:00.0,representor=vf[1]"),
                port("r0", "0000:3b:00.0,representor=vf[0]"),
                port("tap", "net_tap0"),
            ],
            veths: Vec::new(),
            vif_lists: Vec::new(),
        };
        assert_eq!(
            t.eal_device_args(),
            [
                "-a",
                "0000:3b:00.0,representor=vf[0-1]",
                "--vdev",
                "net_tap0"
            ]
        );
    }

    #[test]
    fn representor_ranges_are_compressed() {
        let pf: PciAddr = "0000:3b:00.0".parse().unwrap();
        assert_eq!(
            representor_devargs(&pf, &[3, 0, 1, 2, 7]),
            "0000:3b:00.0,representor=vf[0-3,7]"
        );
        assert_eq!(
            representor_devargs(&pf, &[5]),
            "0000:3b:00.0,representor=vf[5]"
        );
    }
}
