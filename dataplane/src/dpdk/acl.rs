//! DPDK's packet classifier (`rte_acl`) over a vEth's compiled ACL: the
//! [`AclClassifier`] that decides a burst's ACL-cache misses in one call
//! when the ACL is long ([`crate::tables::VethRules::acl_resolve`]), and what
//! `benches/acl.rs` measures against vfex's own rule scan and decision
//! cache on the same rules and keys.
//!
//! The rules are those of [`CompiledRule`] (masks, values and ranges), laid
//! out as one 60-byte input tuple per frame ([`AclTuple::of`], built from
//! the frame's [`AclKey`]). Multi-byte fields are big-endian in the tuple
//! and host-order in the rules, as `rte_acl` wants them. The first field is
//! one byte; every later input group is four bytes (`rte_acl` reads four
//! bytes per transition step):
//!
//! | offset | bytes | field (type) |
//! |---|---|---|
//! | 0 | 1 | flags: [`AclKey::IS_IP`], [`AclKey::HAS_PORTS`] (bitmask) |
//! | 4 | 4 | IP protocol, 0, EtherType (bitmask) |
//! | 8 | 4 | VLAN (range) |
//! | 12 | 2 + 2 | L4 source port, destination port (ranges) |
//! | 16 | 12 | destination MAC then source MAC, three words (bitmask) |
//! | 28 | 16 | source address (IPv4 mapped), four words (bitmask) |
//! | 44 | 16 | destination address, four words (bitmask) |
//!
//! Input groups in which every rule has only wildcards are left out of the
//! trie (the first field stays: `rte_acl` needs it). The first match in
//! rule order wins: rule `i` of `n` gets priority `n - i` and user data
//! `i + 1`; no match reads 0 (the ACL's default).

use super::eal::while_up;
use super::{Error, Result, check, errno_error};
use crate::tables::rules::{AclClassifier, AclKey};
use crate::tables::{Action, CompiledRule};
use dpdk_sys::{
    RTE_ACL_CLASSIFY_AVX2, RTE_ACL_CLASSIFY_DEFAULT, RTE_ACL_CLASSIFY_SCALAR, RTE_ACL_CLASSIFY_SSE,
    RTE_ACL_FIELD_TYPE_BITMASK, RTE_ACL_FIELD_TYPE_RANGE, rte_acl_config, rte_acl_ctx,
    rte_acl_field, rte_acl_field_def, rte_acl_field_types, rte_acl_param, rte_acl_rule,
    rte_acl_rule_data,
};
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// Fields of a rule (see the module's table).
const FIELDS: usize = 16;

/// (type, size, input index, offset) of each field.
const DEFS: [(u32, u8, u8, u32); FIELDS] = {
    const B: u32 = RTE_ACL_FIELD_TYPE_BITMASK;
    const R: u32 = RTE_ACL_FIELD_TYPE_RANGE;
    [
        (B, 1, 0, 0),
        (B, 4, 1, 4),
        (R, 4, 2, 8),
        (R, 2, 3, 12),
        (R, 2, 3, 14),
        (B, 4, 4, 16),
        (B, 4, 5, 20),
        (B, 4, 6, 24),
        (B, 4, 7, 28),
        (B, 4, 8, 32),
        (B, 4, 9, 36),
        (B, 4, 10, 40),
        (B, 4, 11, 44),
        (B, 4, 12, 48),
        (B, 4, 13, 52),
        (B, 4, 14, 56),
    ]
};

/// `RTE_ACL_RULE_DEF(.., FIELDS)`: a rule as `rte_acl_add_rules` reads it.
#[repr(C)]
#[derive(Clone, Copy)]
struct Rule {
    data: rte_acl_rule_data,
    field: [rte_acl_field; FIELDS],
}

/// The classifier input of one frame (the module's layout; 64 bytes so
/// that the 4-byte reads never leave it).
#[repr(C, align(16))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AclTuple([u8; 64]);

impl Default for AclTuple {
    fn default() -> Self {
        AclTuple([0; 64])
    }
}

impl AclTuple {
    /// The tuple of a frame's ACL key.
    #[inline(always)]
    pub fn of(k: &AclKey) -> AclTuple {
        let mut t = [0u8; 64];
        t[0] = (k.misc & (AclKey::IS_IP | AclKey::HAS_PORTS)) as u8;
        t[4..8].copy_from_slice(&misc_word(k.misc).to_be_bytes());
        t[8..12].copy_from_slice(&u32::from((k.misc >> 32) as u16 & 0xfff).to_be_bytes());
        t[12..14].copy_from_slice(&k.sport.to_be_bytes());
        t[14..16].copy_from_slice(&k.dport.to_be_bytes());
        for (i, w) in mac_words(k.dmac, k.smac).into_iter().enumerate() {
            t[16 + 4 * i..20 + 4 * i].copy_from_slice(&w.to_be_bytes());
        }
        t[28..44].copy_from_slice(&k.sip.to_be_bytes());
        t[44..60].copy_from_slice(&k.dip.to_be_bytes());
        AclTuple(t)
    }
}

/// IP protocol << 24 | EtherType, from a [`AclKey::misc`]-shaped word.
fn misc_word(misc: u64) -> u32 {
    ((misc >> 24) as u32 & 0xff) << 24 | (misc >> 48) as u32
}

/// The 96 bits of destination MAC then source MAC as three words.
fn mac_words(dmac: u64, smac: u64) -> [u32; 3] {
    [
        (dmac >> 16) as u32,
        ((dmac & 0xffff) << 16 | (smac >> 32) & 0xffff) as u32,
        smac as u32,
    ]
}

/// Address halves (high, low) as four words.
fn ip_words(hi: u64, lo: u64) -> [u32; 4] {
    [(hi >> 32) as u32, hi as u32, (lo >> 32) as u32, lo as u32]
}

/// A field's value and mask (bitmask) or low and high bound (range),
/// before it takes the size of its definition.
type Field = (u32, u32);

/// `field` as `rte_acl` reads it: the union member of the field's size
/// (the others zero).
fn raw_field(i: usize, (v, m): Field) -> rte_acl_field {
    let of = |x: u32| {
        let mut u = rte_acl_field_types::default();
        match DEFS[i].1 {
            1 => u.u8_ = x as u8,
            2 => u.u16_ = x as u16,
            _ => u.u32_ = x,
        }
        u
    };
    rte_acl_field {
        value: of(v),
        mask_range: of(m),
    }
}

/// A 20-bit lane of a packed range word ([`AclKey::pack`]).
fn lane(x: u64, i: u32) -> u32 {
    (x >> (20 * i)) as u32 & 0xf_ffff
}

/// Which `rte_acl` classify method to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclAlg {
    /// What DPDK picks for this CPU.
    Default,
    /// The generic implementation.
    Scalar,
    /// SSE4.1.
    Sse,
    /// AVX2.
    Avx2,
}

impl AclAlg {
    fn raw(self) -> u32 {
        match self {
            AclAlg::Default => RTE_ACL_CLASSIFY_DEFAULT,
            AclAlg::Scalar => RTE_ACL_CLASSIFY_SCALAR,
            AclAlg::Sse => RTE_ACL_CLASSIFY_SSE,
            AclAlg::Avx2 => RTE_ACL_CLASSIFY_AVX2,
        }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// An `rte_acl` context built from one ACL, freed on drop. It may outlive
/// any borrow of the [`super::Eal`] (it lives in published tables that the
/// last reader drops): it is built only while EAL runs, and freed only while
/// EAL still runs (after `rte_eal_cleanup`, EAL's memory is gone with it).
#[derive(Debug)]
pub struct Acl {
    ctx: NonNull<rte_acl_ctx>,
    /// Per rule: deny?
    deny: Vec<bool>,
    default_deny: bool,
}

// SAFETY: a built context is read-only; `rte_acl_classify` may run on it
// from several threads at once, and it is freed only in Drop.
unsafe impl Send for Acl {}
// SAFETY: as above.
unsafe impl Sync for Acl {}

impl Acl {
    /// Builds the classifier of `rules` (first match wins, `default` when
    /// none does), from any thread while EAL runs. An empty rule list needs
    /// no classifier and is refused.
    pub fn build(rules: &[CompiledRule], default: Action) -> Result<Acl> {
        let Some(_up) = while_up() else {
            return Err(Error::NotRunning);
        };
        if rules.is_empty() {
            return Err(Error::InvalidArgument(
                "an ACL without rules needs no classifier".into(),
            ));
        }
        let n = u32::try_from(rules.len())
            .ok()
            .filter(|&n| n < dpdk_sys::RTE_ACL_MAX_PRIORITY)
            .ok_or_else(|| Error::InvalidArgument(format!("{} ACL rules", rules.len())))?;
        let name = format!("vfex_acl{}", SEQ.fetch_add(1, Ordering::Relaxed));
        let cname = CString::new(name.clone()).expect("no NUL in the name");
        let param = rte_acl_param {
            name: cname.as_ptr(),
            socket_id: -1, // SOCKET_ID_ANY
            rule_size: size_of::<Rule>() as u32,
            max_rule_num: n,
        };
        // SAFETY: `param` and the name it points to outlive the call, which
        // copies the name.
        let ctx = unsafe { dpdk_sys::rte_acl_create(&param) };
        let ctx =
            NonNull::new(ctx).ok_or_else(|| errno_error(format!("rte_acl_create({name})")))?;
        // From here on, Drop frees the context on every error path.
        let acl = Acl {
            ctx,
            deny: rules.iter().map(|r| r.deny).collect(),
            default_deny: default == Action::Deny,
        };
        let fields: Vec<[Field; FIELDS]> = rules.iter().map(rule_fields).collect();
        let kept = kept_fields(&fields);
        let raw: Vec<Rule> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut field = [rte_acl_field::default(); FIELDS];
                for (to, &from) in field.iter_mut().zip(&kept) {
                    *to = raw_field(from, f[from]);
                }
                Rule {
                    data: rte_acl_rule_data {
                        category_mask: 1,
                        priority: (n - i as u32) as i32,
                        userdata: i as u32 + 1,
                    },
                    field,
                }
            })
            .collect();
        // SAFETY: `raw` holds `n` rules of `rule_size` bytes each, laid out
        // as RTE_ACL_RULE_DEF(.., FIELDS); the call copies them.
        let ret = unsafe {
            dpdk_sys::rte_acl_add_rules(acl.ctx.as_ptr(), raw.as_ptr().cast::<rte_acl_rule>(), n)
        };
        check(ret, || format!("rte_acl_add_rules({name}, {n} rules)"))?;
        let mut cfg = rte_acl_config {
            num_categories: 1,
            num_fields: kept.len() as u32,
            ..rte_acl_config::default()
        };
        let mut input = 0u8;
        for (i, &f) in kept.iter().enumerate() {
            let (type_, size, group, offset) = DEFS[f];
            if i > 0 && DEFS[kept[i - 1]].2 != group {
                input += 1;
            }
            cfg.defs[i] = rte_acl_field_def {
                type_: type_ as u8,
                size,
                field_index: i as u8,
                input_index: input,
                offset,
            };
        }
        // SAFETY: the context is live and `cfg` describes the fields the
        // rules were added with.
        let ret = unsafe { dpdk_sys::rte_acl_build(acl.ctx.as_ptr(), &cfg) };
        check(ret, || format!("rte_acl_build({name})"))?;
        Ok(acl)
    }

    /// Runs `alg` from now on; an error if this CPU or build lacks it.
    pub fn set_alg(&mut self, alg: AclAlg) -> Result<()> {
        // SAFETY: the context is live and held exclusively (`&mut self`).
        let ret = unsafe { dpdk_sys::rte_acl_set_ctx_classify(self.ctx.as_ptr(), alg.raw()) };
        check(ret, || format!("rte_acl_set_ctx_classify({alg:?})")).map(|_| ())
    }

    /// The first matching rule of each tuple, as its index + 1 (0: none).
    /// `out` must be as long as `tuples`.
    pub fn classify(&self, tuples: &[AclTuple], out: &mut [u32]) {
        assert_eq!(tuples.len(), out.len(), "one result per tuple");
        const CHUNK: usize = 64;
        let mut ptrs = [std::ptr::null::<u8>(); CHUNK];
        for (t, o) in tuples.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            for (p, t) in ptrs.iter_mut().zip(t) {
                *p = t.0.as_ptr();
            }
            // SAFETY: `ptrs[..t.len()]` point at live 64-byte tuples (every
            // field lies within the first 60 bytes); `o` has room for one
            // result per tuple with one category; the context is built.
            let ret = unsafe {
                dpdk_sys::rte_acl_classify(
                    self.ctx.as_ptr(),
                    ptrs.as_mut_ptr(),
                    o.as_mut_ptr(),
                    t.len() as u32,
                    1,
                )
            };
            debug_assert_eq!(ret, 0, "rte_acl_classify on a built context");
        }
    }

    /// The decision for a [`Acl::classify`] result: `true` = deny.
    #[inline(always)]
    pub fn denies(&self, result: u32) -> bool {
        match result.checked_sub(1) {
            Some(i) => self.deny[i as usize],
            None => self.default_deny,
        }
    }
}

impl Drop for Acl {
    fn drop(&mut self) {
        // After the clean-up there is nothing left to free.
        if let Some(_up) = while_up() {
            // SAFETY: the context was created by rte_acl_create and is freed
            // once, while EAL runs (the guard holds off the clean-up);
            // `&mut self` means no classify is running on it.
            unsafe { dpdk_sys::rte_acl_free(self.ctx.as_ptr()) };
        }
    }
}

impl AclClassifier for Acl {
    fn deny(&self, keys: &[AclKey], deny: &mut [bool]) {
        const CHUNK: usize = 32;
        let mut tuples = [AclTuple::default(); CHUNK];
        let mut out = [0u32; CHUNK];
        for (k, d) in keys.chunks(CHUNK).zip(deny.chunks_mut(CHUNK)) {
            for (t, k) in tuples.iter_mut().zip(k) {
                *t = AclTuple::of(k);
            }
            self.classify(&tuples[..k.len()], &mut out[..k.len()]);
            for (d, r) in d.iter_mut().zip(&out) {
                *d = self.denies(*r);
            }
        }
    }
}

/// The fields the classifier reads: the first (it must be there), and
/// every input group in which some rule has a field that is not a
/// wildcard (a group is read whole). Fewer groups, a shallower trie.
fn kept_fields(rules: &[[Field; FIELDS]]) -> Vec<usize> {
    let wild = |i: usize, (v, m): Field| {
        let (type_, size, ..) = DEFS[i];
        if type_ == RTE_ACL_FIELD_TYPE_RANGE {
            v == 0 && m >= if size == 2 { 0xffff } else { 0xfff }
        } else {
            m == 0
        }
    };
    let used_group =
        |g: u8| (0..FIELDS).any(|i| DEFS[i].2 == g && rules.iter().any(|r| !wild(i, r[i])));
    (0..FIELDS)
        .filter(|&i| i == 0 || used_group(DEFS[i].2))
        .collect()
}

/// A compiled rule's 16 fields.
fn rule_fields(r: &CompiledRule) -> [Field; FIELDS] {
    let flags = (AclKey::IS_IP | AclKey::HAS_PORTS) as u32;
    let bitmask = |v: u32, m: u32| (v & m, m);
    let mac_v = mac_words(r.v[1], r.v[0]);
    let mac_m = mac_words(r.m[1], r.m[0]);
    let sip_v = ip_words(r.ip_v[0], r.ip_v[1]);
    let sip_m = ip_words(r.ip_m[0], r.ip_m[1]);
    let dip_v = ip_words(r.ip_v[2], r.ip_v[3]);
    let dip_m = ip_words(r.ip_m[2], r.ip_m[3]);
    let mut f = [(0, 0); FIELDS];
    f[0] = bitmask(r.v[2] as u32 & flags, r.m[2] as u32 & flags);
    f[1] = bitmask(misc_word(r.v[2]), misc_word(r.m[2]));
    f[2] = (lane(r.lo, 2), lane(r.hi, 2).min(0xfff));
    f[3] = (lane(r.lo, 0), lane(r.hi, 0).min(0xffff));
    f[4] = (lane(r.lo, 1), lane(r.hi, 1).min(0xffff));
    for i in 0..3 {
        f[5 + i] = bitmask(mac_v[i], mac_m[i]);
    }
    for i in 0..4 {
        f[8 + i] = bitmask(sip_v[i], sip_m[i]);
        f[12 + i] = bitmask(dip_v[i], dip_m[i]);
    }
    f
}
