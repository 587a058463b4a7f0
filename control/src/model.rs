//! The configuration model: what a valid configuration file holds, as plain
//! Rust values (no spans, no unchecked strings).
//!
//! A [`Config`] is only ever built by [`crate::config::parse`] (which checks
//! everything and reports every error) or changed by the control thread
//! through [`Config::validate`]; its `Serialize` impl writes the same file
//! format back (`save config`). [`crate::compile`] turns it into the
//! dataplane-independent [`crate::compile::Compiled`] set.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// What this vfex instance is in the VM-FEX picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Host side of a port extender (VN-Tag or E-Tag towards the bridge).
    PortExtender,
    /// 802.1Qbg VEPA station (basic, or multichannel with S-tags).
    VepaStation,
    /// Switch side: classifies tagged frames into vEths and switches them.
    ControllingBridge,
}

impl Role {
    /// The name used in the file.
    pub fn name(self) -> &'static str {
        match self {
            Role::PortExtender => "port-extender",
            Role::VepaStation => "vepa-station",
            Role::ControllingBridge => "controlling-bridge",
        }
    }
    /// Every role, by file name.
    pub const ALL: [Role; 3] = [
        Role::PortExtender,
        Role::VepaStation,
        Role::ControllingBridge,
    ];
}

/// The tag carried on the uplink / extender-facing links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encap {
    /// Cisco VN-Tag (0x8926); vEths are keyed by VIF.
    Vntag,
    /// 802.1BR E-Tag (0x893F); vEths are keyed by E-CID.
    Etag,
    /// 802.1ad S-tag (S-channel); vEths are keyed by S-VID.
    Stag,
    /// No tag (basic VEPA, or ordinary ports).
    None,
}

impl Encap {
    /// The name used in the file.
    pub fn name(self) -> &'static str {
        match self {
            Encap::Vntag => "vntag",
            Encap::Etag => "etag",
            Encap::Stag => "stag",
            Encap::None => "none",
        }
    }
    /// Every encapsulation, by file name.
    pub const ALL: [Encap; 4] = [Encap::Vntag, Encap::Etag, Encap::Stag, Encap::None];
    /// The vEth key this encapsulation uses in the file (`vif`, `ecid`, `svid`).
    pub fn id_key(self) -> Option<&'static str> {
        match self {
            Encap::Vntag => Some("vif"),
            Encap::Etag => Some("ecid"),
            Encap::Stag => Some("svid"),
            Encap::None => None,
        }
    }
}

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Whether the group (multicast/broadcast) bit is set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    /// Whether all bytes are zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Mac, String> {
        let bad = || {
            format!("`{s}` is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)")
        };
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.len() != 2 {
                return Err(bad());
            }
            m[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(Mac(m))
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A PCI address in canonical form `DDDD:BB:DD.F` (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddr(String);

impl Default for PciAddr {
    /// `0000:00:00.0`.
    fn default() -> Self {
        PciAddr("0000:00:00.0".into())
    }
}

impl PciAddr {
    /// The canonical text, as sysfs names the device.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PciAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PciAddr {
    type Err = String;
    /// Accepts `DDDD:BB:DD.F` or `BB:DD.F` (domain 0000).
    fn from_str(s: &str) -> Result<PciAddr, String> {
        let bad =
            || format!("`{s}` is not a PCI address (expected DDDD:BB:DD.F, like 0000:3b:00.0)");
        let (rest, func) = s.rsplit_once('.').ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (dom, bus, dev) = match parts.as_slice() {
            [b, d] => ("0000", *b, *d),
            [dm, b, d] => (*dm, *b, *d),
            _ => return Err(bad()),
        };
        let hex = |t: &str, max_len: usize, max: u32| -> Result<u32, String> {
            if t.is_empty() || t.len() > max_len {
                return Err(bad());
            }
            let v = u32::from_str_radix(t, 16).map_err(|_| bad())?;
            if v > max {
                return Err(bad());
            }
            Ok(v)
        };
        let dom = hex(dom, 4, 0xffff)?;
        let bus = hex(bus, 2, 0xff)?;
        let dev = hex(dev, 2, 0x1f)?;
        let func = hex(func, 1, 7)?;
        Ok(PciAddr(format!("{dom:04x}:{bus:02x}:{dev:02x}.{func:x}")))
    }
}

impl Serialize for PciAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An inclusive range of 16-bit numbers (VLANs, L4 ports); `a` or `a-b` in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range16 {
    /// First value.
    pub start: u16,
    /// Last value (inclusive).
    pub end: u16,
}

impl Range16 {
    /// A range holding one value.
    pub fn one(v: u16) -> Range16 {
        Range16 { start: v, end: v }
    }
    /// Whether `v` is in the range.
    pub fn contains(&self, v: u16) -> bool {
        self.start <= v && v <= self.end
    }
}

impl fmt::Display for Range16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl Serialize for Range16 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.start == self.end {
            s.serialize_u16(self.start)
        } else {
            s.collect_str(self)
        }
    }
}

/// An IPv4 or IPv6 prefix (`10.0.0.0/8`, `2001:db8::/32`, or a host address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpPrefix {
    /// IPv4 address and prefix length (0..=32).
    V4(Ipv4Addr, u8),
    /// IPv6 address and prefix length (0..=128).
    V6(Ipv6Addr, u8),
}

impl IpPrefix {
    /// Whether this is an IPv6 prefix.
    pub fn is_v6(&self) -> bool {
        matches!(self, IpPrefix::V6(..))
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpPrefix::V4(a, l) => write!(f, "{a}/{l}"),
            IpPrefix::V6(a, l) => write!(f, "{a}/{l}"),
        }
    }
}

impl FromStr for IpPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<IpPrefix, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let bad_len = |max: u8| format!("prefix length in `{s}` must be 0..={max}");
        if let Ok(a) = addr.parse::<Ipv4Addr>() {
            let l = match len {
                None => 32,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= 32)
                    .ok_or_else(|| bad_len(32))?,
            };
            let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
            if u32::from(a) & !mask != 0 {
                return Err(format!(
                    "`{s}` has host bits set (did you mean {}/{l}?)",
                    Ipv4Addr::from(u32::from(a) & mask)
                ));
            }
            return Ok(IpPrefix::V4(a, l));
        }
        if let Ok(a) = addr.parse::<Ipv6Addr>() {
            let l = match len {
                None => 128,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= 128)
                    .ok_or_else(|| bad_len(128))?,
            };
            let mask = if l == 0 { 0 } else { u128::MAX << (128 - l) };
            if u128::from(a) & !mask != 0 {
                return Err(format!(
                    "`{s}` has host bits set (did you mean {}/{l}?)",
                    Ipv6Addr::from(u128::from(a) & mask)
                ));
            }
            return Ok(IpPrefix::V6(a, l));
        }
        Err(format!(
            "`{s}` is not an IPv4 or IPv6 prefix (expected like 10.0.0.0/8 or 2001:db8::/32)"
        ))
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether a port faces the network (uplink) or the VMs / extenders (downlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortKind {
    /// Towards the controlling bridge / the network.
    Uplink,
    /// Towards a VM (VF) or, on a controlling bridge, towards an extender.
    Downlink,
}

/// How a port is found: what DPDK is given to probe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortDevice {
    /// A PCI device, probed by its address.
    Pci(PciAddr),
    /// Raw DPDK devargs (a vdev such as `net_tap0,iface=vm1`, or PCI with options).
    Devargs(String),
    /// VF `index` of SR-IOV PF `pf` (resolved to the VF's PCI address at apply).
    Vf {
        /// The PF's PCI address.
        pf: PciAddr,
        /// VF index on that PF.
        index: u16,
    },
    /// The switchdev representor of VF `vf` on PF `pf` (`<pf>,representor=vf[N]`).
    Representor {
        /// The PF's PCI address.
        pf: PciAddr,
        /// VF index on that PF.
        vf: u16,
    },
}

/// One dataplane port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    /// Uplink or downlink.
    pub kind: PortKind,
    /// What DPDK probes.
    #[serde(flatten)]
    pub device: PortDevice,
}

/// Administrative state of a vEth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdminState {
    /// Forwarding.
    Up,
    /// Every frame dropped (counted as `admin_down`).
    Down,
}

/// VLAN behaviour of a vEth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum VlanMode {
    /// Untagged frames from the VM belong to `vlan`; tagged frames are dropped.
    Access {
        /// The access VLAN (1..=4094).
        vlan: u16,
    },
    /// Tagged frames with an allowed VLAN pass; untagged ones belong to `native`.
    Trunk {
        /// Allowed VLANs (non-overlapping ranges).
        allowed: Vec<Range16>,
        /// Native VLAN for untagged frames (none: untagged frames are dropped).
        #[serde(skip_serializing_if = "Option::is_none")]
        native: Option<u16>,
    },
}

/// MAC anti-spoofing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AntiSpoof {
    /// Source MACs the VM may use (unicast).
    pub allowed_macs: Vec<Mac>,
    /// Also accept the first source MAC seen, then lock it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub learn_once: bool,
}

/// ACL action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AclAction {
    /// Let the frame through.
    Permit,
    /// Drop the frame (counted as `acl_deny`).
    Deny,
}

/// One ACL entry; every given field must match (absent fields match anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclRule {
    /// What to do on a match.
    pub action: AclAction,
    /// Source MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_mac: Option<Mac>,
    /// Destination MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_mac: Option<Mac>,
    /// EtherType (after any VLAN tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethertype: Option<u16>,
    /// VLAN id(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Range16>,
    /// Source IPv4/IPv6 prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpPrefix>,
    /// Destination IPv4/IPv6 prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpPrefix>,
    /// IP protocol number (6 tcp, 17 udp, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<u8>,
    /// L4 source ports (tcp/udp/sctp only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<Range16>,
    /// L4 destination ports (tcp/udp/sctp only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<Range16>,
}

impl AclRule {
    /// A rule with only an action (matches everything).
    pub fn any(action: AclAction) -> AclRule {
        AclRule {
            action,
            src_mac: None,
            dst_mac: None,
            ethertype: None,
            vlan: None,
            src_ip: None,
            dst_ip: None,
            proto: None,
            src_port: None,
            dst_port: None,
        }
    }
}

/// Single-rate policer (srTCM, like `rte_meter`): committed rate and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policer {
    /// Committed information rate, bits per second.
    pub rate_bps: u64,
    /// Committed burst size, bytes.
    pub burst_bytes: u64,
}

/// A rule set: what a port profile holds and what a vEth may override.
/// `None` means "not set here" (inherit, or the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RuleSet {
    /// Admin state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<AdminState>,
    /// VLAN mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<VlanMode>,
    /// MAC anti-spoofing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anti_spoof: Option<AntiSpoof>,
    /// Ordered ACL (first match wins; no match: permit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclRule>>,
    /// Policer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policer: Option<Policer>,
    /// Priority (PCP) to mark, 0..=7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcp: Option<u8>,
    /// Port name to mirror this vEth's traffic to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// Most source MACs this vEth may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_limit: Option<u32>,
}

impl RuleSet {
    /// `self` over `base`: every field set here wins, the rest comes from `base`.
    pub fn over(&self, base: &RuleSet) -> RuleSet {
        RuleSet {
            admin: self.admin.or(base.admin),
            vlan: self.vlan.clone().or_else(|| base.vlan.clone()),
            anti_spoof: self.anti_spoof.clone().or_else(|| base.anti_spoof.clone()),
            acl: self.acl.clone().or_else(|| base.acl.clone()),
            policer: self.policer.or(base.policer),
            pcp: self.pcp.or(base.pcp),
            mirror: self.mirror.clone().or_else(|| base.mirror.clone()),
            mac_limit: self.mac_limit.or(base.mac_limit),
        }
    }
}

/// A virtual Ethernet port: one VM interface (or one channel) as the switch sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Veth {
    /// The downlink port it lives on.
    pub port: String,
    /// VN-Tag VIF (encap `vntag`), 1..=4095.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vif: Option<u16>,
    /// E-Tag E-CID (encap `etag`), 1..=0x0FFF (point-to-point).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecid: Option<u16>,
    /// S-channel S-VID (encap `stag`), 1..=4094.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svid: Option<u16>,
    /// The VM's MAC (unicast), used for VEPA delivery and anti-spoofing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Port profile this vEth inherits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Fields that override the profile.
    #[serde(flatten)]
    pub rules: RuleSet,
}

/// A VIF list (VN-Tag `p=1` destination) or multicast E-channel (E-Tag GRP != 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VifList {
    /// VN-Tag: VIF-list id 1..=16383; E-Tag: multicast E-CID 0x1000..=0x3FFF.
    pub id: u16,
    /// Member vEth names.
    pub members: Vec<String>,
    /// Group MACs carried on this list (multicast channels), if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub macs: Vec<Mac>,
}

/// VLAN protocol of a VF's port VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum VlanProto {
    /// 802.1Q C-tag (0x8100).
    #[default]
    #[serde(rename = "802.1Q")]
    Dot1Q,
    /// 802.1ad S-tag (0x88A8).
    #[serde(rename = "802.1ad")]
    Dot1Ad,
}

/// VF link state as the PF reports it to the VF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VfLinkState {
    /// Follow the PF's link.
    #[default]
    Auto,
    /// Always up.
    Enable,
    /// Always down.
    Disable,
}

/// Settings pushed to one VF through netlink (absent: left as the kernel has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct VfConfig {
    /// VF index on the PF.
    pub index: u16,
    /// VF MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Port VLAN (0 = none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Port VLAN priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// Port VLAN protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_proto: Option<VlanProto>,
    /// Source MAC/VLAN spoof checking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoof_check: Option<bool>,
    /// Trusted VF (may change its MAC, enter promiscuous mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<bool>,
    /// Minimum tx rate, Mbit/s (0 = none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rate: Option<u32>,
    /// Maximum tx rate, Mbit/s (0 = none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<u32>,
    /// Link state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<VfLinkState>,
}

/// One SR-IOV physical function and its VFs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SriovPf {
    /// The PF's PCI address.
    pub pf: PciAddr,
    /// How many VFs to enable.
    pub num_vfs: u16,
    /// `sriov_drivers_autoprobe` (whether the kernel binds VF drivers itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoprobe: Option<bool>,
    /// Driver to bind every VF to (`vfio-pci` for DPDK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Per-VF settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vf: Vec<VfConfig>,
}

/// A whole, valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Role of this instance.
    pub role: Role,
    /// Encapsulation on the tagged links.
    pub encap: Encap,
    /// Slots of the learned MAC table (default [`DEFAULT_MAC_TABLE_SIZE`]),
    /// allocated at start and fixed while the process runs; only the
    /// controlling bridge learns, other roles keep the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_table_size: Option<u32>,
    /// Ports by name.
    pub ports: BTreeMap<String, Port>,
    /// Port profiles by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, RuleSet>,
    /// vEths by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub veths: BTreeMap<String, Veth>,
    /// VIF lists / multicast channels by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vif_lists: BTreeMap<String, VifList>,
    /// SR-IOV PFs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sriov: Vec<SriovPf>,
}

/// Slots of the controlling bridge's learned MAC table when the file does
/// not say (64K MACs at half load: the table is two-choice hashed).
pub const DEFAULT_MAC_TABLE_SIZE: u32 = 131_072;
/// The `mac_table_size` values accepted (16 B a slot: 16 KiB to 256 MiB).
pub const MAC_TABLE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1024..=16_777_216;

impl Config {
    /// Slots of the learned MAC table (controlling bridge).
    pub fn mac_table_slots(&self) -> usize {
        self.mac_table_size.unwrap_or(DEFAULT_MAC_TABLE_SIZE) as usize
    }

    /// The vEth's tag id under this config's encapsulation.
    pub fn veth_id(&self, v: &Veth) -> Option<u16> {
        match self.encap {
            Encap::Vntag => v.vif,
            Encap::Etag => v.ecid,
            Encap::Stag => v.svid,
            Encap::None => None,
        }
    }

    /// Writes the configuration in the file format ([`crate::config::parse`] reads it back).
    pub fn to_toml(&self) -> String {
        // Serializing these plain types cannot fail: every map key is a string
        // and no value is a bare None at the top of a table.
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
    }

    /// Checks the whole configuration again (after a change made by a
    /// command rather than a file): serializes it and parses it back, so a
    /// changed configuration passes exactly the checks a file does.
    pub fn validate(&self) -> Result<Config, crate::config::ConfigErrors> {
        crate::config::parse("<running config>", &self.to_toml())
    }
}
