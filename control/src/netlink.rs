//! VF settings through rtnetlink.
//!
//! A VF setting is an `RTM_NEWLINK` on the PF carrying `IFLA_VFINFO_LIST`
//! (the request `ip link set dev PF vf N ...` sends). The kernel applies the
//! attributes of one request in order and stops at the first error, keeping
//! what it applied, so [`apply_vf_settings`]:
//! 1. reads every VF's current state (`RTM_GETLINK` with `RTEXT_FILTER_VF`),
//! 2. sends one setting per request, journalling the old value first,
//! 3. on any failure rolls back newest-first and reports which VF, which
//!    setting and what the kernel said,
//! 4. verifies by reading back.
//!
//! [`reconcile`] is the same pass run periodically: it returns the drift it
//! corrected. The kernel is behind the [`VfNetlink`] trait: [`RtNetlink`]
//! talks to the real kernel (a synchronous socket, no async runtime), and
//! [`crate::testkit::FakeNetlink`] answers in tests.

use std::fmt;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::link::{
    LinkAttribute, LinkExtentMask, LinkHeader, LinkLayerType, LinkMessage, LinkVfInfo, VfInfo,
    VfInfoLinkState, VfInfoMac, VfInfoRate, VfInfoSpoofCheck, VfInfoTrust, VfInfoVlan,
    VfLinkState as NlLinkState, VfVlan, VfVlanInfo, VlanProtocol,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::model::{Mac, PciAddr, VfConfig, VfLinkState, VlanProto};

/// One VF setting, sent alone in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VfSetting {
    /// `vf N mac M` (`IFLA_VF_MAC`).
    Mac(Mac),
    /// `vf N vlan V qos Q [proto 802.1ad]` (`IFLA_VF_VLAN`, or
    /// `IFLA_VF_VLAN_LIST` for 802.1ad, as iproute2 does).
    Vlan {
        /// VLAN id, 0 = none.
        vlan: u16,
        /// Priority.
        qos: u8,
        /// Tag protocol.
        proto: VlanProto,
    },
    /// `vf N spoofchk on|off` (`IFLA_VF_SPOOFCHK`).
    SpoofCheck(bool),
    /// `vf N trust on|off` (`IFLA_VF_TRUST`).
    Trust(bool),
    /// `vf N min_tx_rate A max_tx_rate B` in Mbit/s (`IFLA_VF_RATE`).
    Rate {
        /// Minimum.
        min: u32,
        /// Maximum (0 = unlimited).
        max: u32,
    },
    /// `vf N state auto|enable|disable` (`IFLA_VF_LINK_STATE`).
    LinkState(VfLinkState),
}

impl VfSetting {
    /// The setting's name as `ip link` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            VfSetting::Mac(_) => "mac",
            VfSetting::Vlan { .. } => "vlan",
            VfSetting::SpoofCheck(_) => "spoofchk",
            VfSetting::Trust(_) => "trust",
            VfSetting::Rate { .. } => "rate",
            VfSetting::LinkState(_) => "state",
        }
    }
}

impl fmt::Display for VfSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let onoff = |b: bool| if b { "on" } else { "off" };
        match self {
            VfSetting::Mac(m) => write!(f, "mac {m}"),
            VfSetting::Vlan { vlan, qos, proto } => {
                let p = match proto {
                    VlanProto::Dot1Q => "802.1Q",
                    VlanProto::Dot1Ad => "802.1ad",
                };
                write!(f, "vlan {vlan} qos {qos} proto {p}")
            }
            VfSetting::SpoofCheck(b) => write!(f, "spoofchk {}", onoff(*b)),
            VfSetting::Trust(b) => write!(f, "trust {}", onoff(*b)),
            VfSetting::Rate { min, max } => write!(f, "min_tx_rate {min} max_tx_rate {max}"),
            VfSetting::LinkState(s) => write!(
                f,
                "state {}",
                match s {
                    VfLinkState::Auto => "auto",
                    VfLinkState::Enable => "enable",
                    VfLinkState::Disable => "disable",
                }
            ),
        }
    }
}

/// A VF's state as the kernel reports it (`RTM_GETLINK` with `RTEXT_FILTER_VF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VfState {
    /// VF index.
    pub index: u32,
    /// MAC.
    pub mac: Mac,
    /// Port VLAN (0 = none).
    pub vlan: u16,
    /// Port VLAN priority.
    pub qos: u8,
    /// Port VLAN protocol.
    pub proto: VlanProto,
    /// Spoof check.
    pub spoof_check: bool,
    /// Trust.
    pub trust: bool,
    /// Minimum tx rate, Mbit/s.
    pub min_rate: u32,
    /// Maximum tx rate, Mbit/s.
    pub max_rate: u32,
    /// Link state.
    pub link_state: VfLinkState,
}

impl VfState {
    /// The current value of the same setting as `like` (what a rollback restores).
    pub fn current(&self, like: &VfSetting) -> VfSetting {
        match like {
            VfSetting::Mac(_) => VfSetting::Mac(self.mac),
            VfSetting::Vlan { .. } => VfSetting::Vlan {
                vlan: self.vlan,
                qos: self.qos,
                proto: self.proto,
            },
            VfSetting::SpoofCheck(_) => VfSetting::SpoofCheck(self.spoof_check),
            VfSetting::Trust(_) => VfSetting::Trust(self.trust),
            VfSetting::Rate { .. } => VfSetting::Rate {
                min: self.min_rate,
                max: self.max_rate,
            },
            VfSetting::LinkState(_) => VfSetting::LinkState(self.link_state),
        }
    }
    /// Whether the state already has `s`.
    pub fn has(&self, s: &VfSetting) -> bool {
        match s {
            // A VLAN of 0 means "none": qos and protocol do not matter then.
            VfSetting::Vlan { vlan: 0, .. } => self.vlan == 0,
            _ => self.current(s) == *s,
        }
    }
    /// Applies `s` (what the kernel does on success).
    pub fn apply(&mut self, s: &VfSetting) {
        match *s {
            VfSetting::Mac(m) => self.mac = m,
            VfSetting::Vlan { vlan, qos, proto } => {
                self.vlan = vlan;
                self.qos = if vlan == 0 { 0 } else { qos };
                self.proto = if vlan == 0 { VlanProto::Dot1Q } else { proto };
            }
            VfSetting::SpoofCheck(b) => self.spoof_check = b,
            VfSetting::Trust(b) => self.trust = b,
            VfSetting::Rate { min, max } => {
                self.min_rate = min;
                self.max_rate = max;
            }
            VfSetting::LinkState(l) => self.link_state = l,
        }
    }
}

/// An error the kernel (or the socket) returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlError {
    /// errno (positive), 0 when not an errno.
    pub errno: i32,
    /// Extra text (a decode error, or the extended ack message).
    pub detail: String,
}

impl NlError {
    /// An error from an errno.
    pub fn errno(errno: i32) -> NlError {
        NlError {
            errno,
            detail: String::new(),
        }
    }
    /// An error that is not an errno.
    pub fn other(detail: impl Into<String>) -> NlError {
        NlError {
            errno: 0,
            detail: detail.into(),
        }
    }
}

impl std::error::Error for NlError {}

/// errno names for the values VF settings commonly return.
fn errno_name(e: i32) -> &'static str {
    match e {
        1 => "EPERM",
        5 => "EIO",
        13 => "EACCES",
        16 => "EBUSY",
        19 => "ENODEV",
        22 => "EINVAL",
        34 => "ERANGE",
        95 => "EOPNOTSUPP",
        _ => "",
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno != 0 {
            let text = std::io::Error::from_raw_os_error(self.errno).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let name = errno_name(self.errno);
            if name.is_empty() {
                write!(f, "{text} (errno {})", self.errno)?;
            } else {
                write!(f, "{text} ({name})")?;
            }
            if !self.detail.is_empty() {
                write!(f, ": {}", self.detail)?;
            }
            Ok(())
        } else {
            f.write_str(&self.detail)
        }
    }
}

/// The kernel side of VF settings: read every VF of a PF, set one setting.
pub trait VfNetlink: Send {
    /// Every VF of the PF with this ifindex (empty when it has none).
    fn get_vfs(&mut self, pf_ifindex: u32) -> Result<Vec<VfState>, NlError>;
    /// Sets one setting of VF `vf`.
    fn set_vf(&mut self, pf_ifindex: u32, vf: u32, setting: &VfSetting) -> Result<(), NlError>;
}

/// What went wrong while applying VF settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VfError {
    /// Reading the VFs' state failed.
    #[error("PF {pf}: reading the VF settings (RTM_GETLINK): {source}")]
    Read {
        /// PF.
        pf: PciAddr,
        /// Kernel's answer.
        source: NlError,
    },
    /// The PF reports fewer VFs than a setting needs.
    #[error("PF {pf} VF {vf}: no such VF (the PF reports {count} VFs)")]
    NoSuchVf {
        /// PF.
        pf: PciAddr,
        /// VF index.
        vf: u16,
        /// VFs the kernel reported.
        count: usize,
    },
    /// The kernel refused a setting. Everything changed before it was rolled back.
    #[error(
        "PF {pf} VF {vf}: setting `{setting}` failed: the kernel said: {source}{}",
        rollback_note(rollback)
    )]
    Kernel {
        /// PF.
        pf: PciAddr,
        /// VF index.
        vf: u16,
        /// The setting, as `ip link` would write it.
        setting: String,
        /// Kernel's answer.
        source: NlError,
        /// Settings that could not be rolled back (empty: all restored).
        rollback: Vec<String>,
    },
    /// The kernel accepted a setting but reading back shows another value.
    #[error(
        "PF {pf} VF {vf}: `{setting}` was accepted but reads back as `{found}`{}",
        rollback_note(rollback)
    )]
    NotApplied {
        /// PF.
        pf: PciAddr,
        /// VF index.
        vf: u16,
        /// The setting asked.
        setting: String,
        /// What the kernel reports.
        found: String,
        /// Settings that could not be rolled back (empty: all restored).
        rollback: Vec<String>,
    },
}

fn rollback_note(failed: &[String]) -> String {
    if failed.is_empty() {
        "; every earlier change was rolled back".into()
    } else {
        format!("; rolling back also failed for: {}", failed.join("; "))
    }
}

/// The settings a [`VfConfig`] asks for, in a fixed order (mac, vlan,
/// spoofchk, trust, rate, state). Rate fields not given keep `current`'s.
pub fn desired_settings(vf: &VfConfig, current: &VfState) -> Vec<VfSetting> {
    let mut out = Vec::new();
    if let Some(m) = vf.mac {
        out.push(VfSetting::Mac(m));
    }
    if let Some(v) = vf.vlan {
        out.push(VfSetting::Vlan {
            vlan: v,
            qos: vf.qos.unwrap_or(0),
            proto: vf.vlan_proto.unwrap_or_default(),
        });
    }
    if let Some(b) = vf.spoof_check {
        out.push(VfSetting::SpoofCheck(b));
    }
    if let Some(b) = vf.trust {
        out.push(VfSetting::Trust(b));
    }
    if vf.min_rate.is_some() || vf.max_rate.is_some() {
        out.push(VfSetting::Rate {
            min: vf.min_rate.unwrap_or(current.min_rate),
            max: vf.max_rate.unwrap_or(current.max_rate),
        });
    }
    if let Some(l) = vf.link_state {
        out.push(VfSetting::LinkState(l));
    }
    out
}

/// One change made by [`apply_vf_settings`]: VF, old value, new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// VF index.
    pub vf: u16,
    /// Value before (what a rollback restores).
    pub old: VfSetting,
    /// Value set.
    pub new: VfSetting,
}

fn rollback(nl: &mut dyn VfNetlink, ifindex: u32, journal: &[Change]) -> Vec<String> {
    let mut failed = Vec::new();
    for c in journal.iter().rev() {
        if let Err(e) = nl.set_vf(ifindex, c.vf.into(), &c.old) {
            failed.push(format!("VF {} `{}`: {e}", c.vf, c.old));
        }
    }
    failed
}

/// Applies `vfs` to the PF (`pf`, netdev `ifindex`): one setting per
/// request, only those that differ, old values journalled first; on failure
/// rolls back newest-first; verifies by reading back. Returns the changes
/// made (empty when nothing drifted).
pub fn apply_vf_settings(
    nl: &mut dyn VfNetlink,
    pf: &PciAddr,
    ifindex: u32,
    vfs: &[VfConfig],
) -> Result<Vec<Change>, VfError> {
    let states = nl.get_vfs(ifindex).map_err(|source| VfError::Read {
        pf: pf.clone(),
        source,
    })?;
    let mut journal: Vec<Change> = Vec::new();
    for vf in vfs {
        let Some(state) = states.iter().find(|s| s.index == u32::from(vf.index)) else {
            // Undo the earlier VFs' changes; the error is about the missing VF.
            rollback(nl, ifindex, &journal);
            return Err(VfError::NoSuchVf {
                pf: pf.clone(),
                vf: vf.index,
                count: states.len(),
            });
        };
        for s in desired_settings(vf, state) {
            if state.has(&s) {
                continue;
            }
            journal.push(Change {
                vf: vf.index,
                old: state.current(&s),
                new: s,
            });
            if let Err(source) = nl.set_vf(ifindex, vf.index.into(), &s) {
                // The failed setting may have been half-applied: restore it too.
                let failed = rollback(nl, ifindex, &journal);
                return Err(VfError::Kernel {
                    pf: pf.clone(),
                    vf: vf.index,
                    setting: s.to_string(),
                    source,
                    rollback: failed,
                });
            }
        }
    }
    if journal.is_empty() {
        return Ok(journal);
    }
    let after = nl.get_vfs(ifindex).map_err(|source| VfError::Read {
        pf: pf.clone(),
        source,
    })?;
    for c in &journal {
        let Some(st) = after.iter().find(|s| s.index == u32::from(c.vf)) else {
            let failed = rollback(nl, ifindex, &journal);
            return Err(VfError::NotApplied {
                pf: pf.clone(),
                vf: c.vf,
                setting: c.new.to_string(),
                found: "no such VF".into(),
                rollback: failed,
            });
        };
        if !st.has(&c.new) {
            let found = st.current(&c.new).to_string();
            let failed = rollback(nl, ifindex, &journal);
            return Err(VfError::NotApplied {
                pf: pf.clone(),
                vf: c.vf,
                setting: c.new.to_string(),
                found,
                rollback: failed,
            });
        }
    }
    Ok(journal)
}

/// Corrects drift: the same pass as [`apply_vf_settings`], meant to run
/// periodically; returns what had drifted and was set again.
pub fn reconcile(
    nl: &mut dyn VfNetlink,
    pf: &PciAddr,
    ifindex: u32,
    vfs: &[VfConfig],
) -> Result<Vec<Change>, VfError> {
    apply_vf_settings(nl, pf, ifindex, vfs)
}

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;

fn vf_info(vf: u32, s: &VfSetting) -> VfInfo {
    match *s {
        VfSetting::Mac(m) => VfInfo::Mac(VfInfoMac::new(vf, &m.0)),
        VfSetting::Vlan {
            vlan,
            qos,
            proto: VlanProto::Dot1Q,
        } => VfInfo::Vlan(VfInfoVlan::new(vf, vlan.into(), qos.into())),
        VfSetting::Vlan {
            vlan,
            qos,
            proto: VlanProto::Dot1Ad,
        } => VfInfo::VlanList(vec![VfVlan::Info(VfVlanInfo::new(
            vf,
            vlan.into(),
            qos.into(),
            VlanProtocol::Ieee8021Ad,
        ))]),
        VfSetting::SpoofCheck(b) => VfInfo::SpoofCheck(VfInfoSpoofCheck::new(vf, b)),
        VfSetting::Trust(b) => VfInfo::Trust(VfInfoTrust::new(vf, b)),
        VfSetting::Rate { min, max } => VfInfo::Rate(VfInfoRate::new(vf, min, max)),
        VfSetting::LinkState(l) => VfInfo::LinkState(VfInfoLinkState::new(
            vf,
            match l {
                VfLinkState::Auto => NlLinkState::Auto,
                VfLinkState::Enable => NlLinkState::Enable,
                VfLinkState::Disable => NlLinkState::Disable,
            },
        )),
    }
}

fn link_header(ifindex: u32) -> LinkHeader {
    LinkHeader {
        interface_family: AddressFamily::Unspec,
        // 0, as iproute2 sends.
        link_layer_type: LinkLayerType::Netrom,
        index: ifindex,
        ..LinkHeader::default()
    }
}

fn serialize(msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    m.finalize();
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// The bytes of the request that sets one VF setting: `RTM_NEWLINK`,
/// `NLM_F_REQUEST | NLM_F_ACK`, on the PF's ifindex, with one
/// `IFLA_VFINFO_LIST / IFLA_VF_INFO / <setting>`: the same bytes as
/// `ip link set dev PF vf N <setting>` (checked in the golden test).
pub fn encode_set(seq: u32, pf_ifindex: u32, vf: u32, s: &VfSetting) -> Vec<u8> {
    let mut msg = LinkMessage::default();
    msg.header = link_header(pf_ifindex);
    msg.attributes = vec![LinkAttribute::VfInfoList(vec![LinkVfInfo(vec![vf_info(
        vf, s,
    )])])];
    let bytes = serialize(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
    );
    debug_assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), RTM_NEWLINK);
    bytes
}

/// The bytes of `RTM_GETLINK` for one link with `IFLA_EXT_MASK = RTEXT_FILTER_VF | SKIP_STATS`.
pub fn encode_get(seq: u32, pf_ifindex: u32) -> Vec<u8> {
    let mut msg = LinkMessage::default();
    msg.header = link_header(pf_ifindex);
    msg.attributes = vec![LinkAttribute::ExtMask(vec![
        LinkExtentMask::Vf,
        LinkExtentMask::SkipStats,
    ])];
    let bytes = serialize(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST, seq);
    debug_assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), RTM_GETLINK);
    bytes
}

/// Decodes the VF list of an `RTM_NEWLINK` answer.
pub fn decode_vfs(msg: &LinkMessage) -> Vec<VfState> {
    let mut out = Vec::new();
    for a in &msg.attributes {
        let LinkAttribute::VfInfoList(list) = a else {
            continue;
        };
        for LinkVfInfo(infos) in list {
            let mut st = VfState::default();
            for i in infos {
                match i {
                    VfInfo::Mac(m) => {
                        st.index = m.vf_id;
                        st.mac = Mac([m.mac[0], m.mac[1], m.mac[2], m.mac[3], m.mac[4], m.mac[5]]);
                    }
                    VfInfo::Vlan(v) => {
                        st.vlan = v.vlan_id as u16;
                        st.qos = v.qos as u8;
                    }
                    VfInfo::VlanList(l) => {
                        if let Some(VfVlan::Info(v)) = l.first() {
                            st.vlan = v.vlan_id as u16;
                            st.qos = v.qos as u8;
                            st.proto = if v.protocol == VlanProtocol::Ieee8021Ad {
                                VlanProto::Dot1Ad
                            } else {
                                VlanProto::Dot1Q
                            };
                        }
                    }
                    VfInfo::SpoofCheck(s) => st.spoof_check = s.enabled,
                    VfInfo::Trust(t) => st.trust = t.enabled,
                    VfInfo::Rate(r) => {
                        st.min_rate = r.min_tx_rate;
                        st.max_rate = r.max_tx_rate;
                    }
                    VfInfo::LinkState(l) => {
                        st.link_state = match l.state {
                            NlLinkState::Enable => VfLinkState::Enable,
                            NlLinkState::Disable => VfLinkState::Disable,
                            _ => VfLinkState::Auto,
                        }
                    }
                    _ => {}
                }
            }
            out.push(st);
        }
    }
    out.sort_by_key(|s| s.index);
    out
}

/// The real kernel: a synchronous `NETLINK_ROUTE` socket.
pub struct RtNetlink {
    socket: netlink_sys::Socket,
    seq: u32,
}

impl RtNetlink {
    /// Opens a route netlink socket in the calling thread's network namespace.
    pub fn open() -> Result<RtNetlink, NlError> {
        let os = |e: std::io::Error| NlError {
            errno: e.raw_os_error().unwrap_or(0),
            detail: format!("opening a netlink socket: {e}"),
        };
        let mut socket =
            netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE).map_err(os)?;
        socket.bind_auto().map_err(os)?;
        socket
            .connect(&netlink_sys::SocketAddr::new(0, 0))
            .map_err(os)?;
        let _ = socket.set_ext_ack(true);
        Ok(RtNetlink { socket, seq: 1 })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `req` and collects the answers for `seq` until an ACK, an error or DONE.
    fn transact(&mut self, req: &[u8], seq: u32) -> Result<Vec<LinkMessage>, NlError> {
        let os = |e: std::io::Error| NlError {
            errno: e.raw_os_error().unwrap_or(0),
            detail: format!("netlink socket: {e}"),
        };
        self.socket.send(req, 0).map_err(os)?;
        let mut links = Vec::new();
        loop {
            let mut buf = Vec::with_capacity(64 * 1024);
            let n = self.socket.recv(&mut buf, 0).map_err(os)?;
            let data = &buf[..n.min(buf.len())];
            let mut off = 0;
            while off + 16 <= data.len() {
                let len =
                    u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
                        as usize;
                if len < 16 || off + len > data.len() {
                    return Err(NlError::other("netlink: truncated answer"));
                }
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..off + len])
                    .map_err(|e| {
                        NlError::other(format!("netlink: cannot decode the answer: {e}"))
                    })?;
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(links),
                            Some(c) => Err(NlError::errno(-c.get())),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(links),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                        links.push(l);
                        if msg.header.flags & netlink_packet_core::NLM_F_MULTIPART == 0 {
                            return Ok(links);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

impl VfNetlink for RtNetlink {
    fn get_vfs(&mut self, pf_ifindex: u32) -> Result<Vec<VfState>, NlError> {
        let seq = self.next_seq();
        let req = encode_get(seq, pf_ifindex);
        let links = self.transact(&req, seq)?;
        Ok(links.iter().flat_map(decode_vfs).collect())
    }

    fn set_vf(&mut self, pf_ifindex: u32, vf: u32, setting: &VfSetting) -> Result<(), NlError> {
        let seq = self.next_seq();
        let req = encode_set(seq, pf_ifindex, vf, setting);
        self.transact(&req, seq).map(|_| ())
    }
}
