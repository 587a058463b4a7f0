//! MAC tables: the bridge's learned table, shared by every worker without
//! locks, and a small fast hasher for the immutable maps.
//!
//! # The learned table
//! [`LearnTable`] maps (MAC, VLAN) to a vEth and is written by every worker
//! (each learns what it receives) and read by every worker (each looks the
//! destination up). It is a fixed-size, bucketised open-addressing hash of
//! atomic 64-bit slots:
//!
//! - a key word: `1 << 63 | vlan << 48 | mac` (0 = empty slot);
//! - a value word: `1 << 63 | last_seen_secs << 16 | veth` (0 = being
//!   inserted, [`TOMBSTONE`] = being aged out).
//!
//! A key lives in one of two buckets of [`BUCKET`] slots (two hashes; no
//! cuckoo moves), so a lookup reads at most 16 key words. A slot's key and
//! value words sit side by side and a bucket is two aligned cache lines, so
//! a key found in the first four slots of its first bucket (where new keys
//! go first: nearly all of them at the recommended size) costs one line,
//! not a key line and a value line. Learning a new
//! key claims an empty slot with one compare-and-swap on the key and then
//! installs the value with another (a learner of the same key on another
//! vEth may have installed its own in between: it stays, and each entry is
//! counted once, on its vEth); refreshing an entry writes its value only when the
//! vEth or the second changed, so steady traffic does not bounce cache
//! lines between workers. A full pair of buckets means the MAC is not
//! learned (frames to it are flooded), counted by [`LearnTable::full`]:
//! size the table (`mac_table_size` in the configuration) at about four
//! times the MACs expected (measured: 64K
//! MACs in 128K slots left 14 unlearned, in 256K slots none).
//!
//! Ageing ([`LearnTable::age`], called by the control thread) marks an old
//! value [`TOMBSTONE`] with a CAS (so a concurrent refresh wins), empties
//! the key, then clears the value with a CAS (so a concurrent insert into
//! the freed slot keeps its value). A reader treats 0 and [`TOMBSTONE`] as
//! a miss. The per-vEth MAC limit is a per-vEth atomic count of entries,
//! changed only when an entry is created, moved or aged: not per packet.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::wire::EthernetAddress;

/// Slots per bucket (8 key/value pairs = two cache lines).
pub const BUCKET: usize = 8;
/// Value word of an entry being aged out.
pub const TOMBSTONE: u64 = 1;
const VALID: u64 = 1 << 63;

/// A MAC address as the low 48 bits of a `u64`.
#[inline(always)]
pub fn mac_u64(m: &[u8]) -> u64 {
    // One bounds check, then a 4-byte and a 2-byte load (with bswap)
    // instead of six byte loads.
    let m: &[u8; 6] = m[..6].try_into().expect("6 bytes");
    u64::from(u32::from_be_bytes([m[0], m[1], m[2], m[3]])) << 16
        | u64::from(u16::from_be_bytes([m[4], m[5]]))
}

/// The address of [`mac_u64`]'s value.
pub fn u64_mac(v: u64) -> EthernetAddress {
    let b = v.to_be_bytes();
    EthernetAddress([b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// FxHash (rustc's): one multiply per word; good enough for MAC keys that
/// nobody controls the distribution of... and cheap on the fast path.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for FxHasher {
    #[inline(always)]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    #[inline(always)]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.wrapping_add(v)).wrapping_mul(FX_K);
    }
    #[inline(always)]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    #[inline(always)]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
}

/// `BuildHasher` for [`FxHasher`] (for `HashMap`s read on the fast path).
pub type FxBuild = BuildHasherDefault<FxHasher>;

#[inline(always)]
fn mix(k: u64) -> u64 {
    // murmur3 finaliser: every key bit reaches every index bit.
    let mut h = k;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The learned-once anti-spoof MACs ([`crate::tables::VethRules::learn_once`]):
/// per vEth, the first source MAC seen, claimed with one compare-and-swap
/// by whichever worker sees it first; read with one atomic load per frame
/// afterwards. Shared by the workers and carried from one table set to the
/// next by the control plane ([`crate::tables::TablesBuilder::sticky_macs`]).
#[derive(Debug)]
pub struct StickyMacs(Box<[AtomicU64]>);

impl StickyMacs {
    /// Room for vEths `0..n`, none claimed.
    pub fn new(n: usize) -> StickyMacs {
        StickyMacs((0..n).map(|_| AtomicU64::new(0)).collect())
    }

    /// vEths covered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it covers no vEth.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The MAC `veth` claimed, if any.
    pub fn get(&self, veth: u16) -> Option<EthernetAddress> {
        let v = self.0.get(usize::from(veth))?.load(Ordering::Relaxed);
        (v != 0).then(|| u64_mac(v & 0xffff_ffff_ffff))
    }

    /// Whether `mac` may send on `veth`: it is the claimed MAC, or nothing
    /// was claimed yet and `mac` now is. `false` beyond the table.
    #[inline(always)]
    pub fn allow(&self, veth: u16, mac: u64) -> bool {
        let Some(slot) = self.0.get(usize::from(veth)) else {
            return false;
        };
        let want = VALID | mac;
        match slot.load(Ordering::Relaxed) {
            0 => match slot.compare_exchange(0, want, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => true,
                Err(now) => now == want,
            },
            v => v == want,
        }
    }

    /// Forgets what `veth` claimed (control plane).
    pub fn clear(&self, veth: u16) {
        if let Some(slot) = self.0.get(usize::from(veth)) {
            slot.store(0, Ordering::Relaxed);
        }
    }
}

/// One slot of the learned table: a key word and a value word.
#[derive(Debug, Default)]
#[repr(C)]
struct Slot {
    key: AtomicU64,
    val: AtomicU64,
}

/// [`BUCKET`] slots: two cache lines.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct Bucket([Slot; BUCKET]);

/// Result of [`LearnTable::learn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Already known on this vEth (maybe refreshed).
    Known,
    /// A new entry was created.
    New,
    /// The entry moved here from another vEth.
    Moved,
    /// Not learned: the vEth is at its MAC limit.
    Limit,
    /// Not learned: both buckets are full (or the entry is being aged).
    Full,
}

/// The bridge's learned MAC table, shared by all workers (see the module
/// docs for the lock-free scheme).
#[derive(Debug)]
pub struct LearnTable {
    /// Buckets of (key, value) pairs: a key and its value share a cache
    /// line, so a hit in the first half of a bucket reads one line.
    buckets: Box<[Bucket]>,
    mask: usize,
    per_veth: Box<[AtomicU32]>,
    full: AtomicU64,
}

impl LearnTable {
    /// A table of at least `capacity` entries (rounded up to a power of two
    /// number of buckets) for vEths `0..max_veths` (MAC limits of vEths
    /// beyond are not enforced).
    pub fn new(capacity: usize, max_veths: usize) -> LearnTable {
        let buckets = capacity.div_ceil(BUCKET).next_power_of_two().max(2);
        LearnTable {
            buckets: (0..buckets).map(|_| Bucket::default()).collect(),
            mask: buckets - 1,
            per_veth: (0..max_veths).map(|_| AtomicU32::new(0)).collect(),
            full: AtomicU64::new(0),
        }
    }

    /// Slots in the table.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * BUCKET
    }

    /// Times a MAC could not be learned because its buckets were full.
    pub fn full(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }

    /// Entries learned on `veth`.
    pub fn count(&self, veth: u16) -> u32 {
        self.per_veth
            .get(usize::from(veth))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    #[inline(always)]
    fn key(mac: u64, vlan: u16) -> u64 {
        VALID | u64::from(vlan & 0xfff) << 48 | mac
    }

    #[inline(always)]
    fn buckets(&self, key: u64) -> [usize; 2] {
        let h = mix(key);
        let b0 = (h as usize) & self.mask;
        let mut b1 = ((h >> 32) as usize) & self.mask;
        if b1 == b0 {
            b1 = (b0 + 1) & self.mask;
        }
        [b0 * BUCKET, b1 * BUCKET]
    }

    /// The slot of `key` in the bucket at `base`, if there: one bounds
    /// check per bucket, not one per slot.
    #[inline(always)]
    fn find(&self, base: usize, key: u64) -> Option<usize> {
        self.buckets[base / BUCKET]
            .0
            .iter()
            .position(|s| s.key.load(Ordering::Acquire) == key)
            .map(|i| base + i)
    }

    /// Slot `i` (bucket `i / BUCKET`).
    #[inline(always)]
    fn slot(&self, i: usize) -> &Slot {
        &self.buckets[i / BUCKET].0[i % BUCKET]
    }

    /// The vEth that (MAC, VLAN) was learned on.
    #[inline]
    pub fn lookup(&self, mac: u64, vlan: u16) -> Option<u16> {
        let key = Self::key(mac, vlan);
        for base in self.buckets(key) {
            if let Some(i) = self.find(base, key) {
                let v = self.slot(i).val.load(Ordering::Acquire);
                return (v & VALID != 0).then_some(v as u16);
            }
        }
        None
    }

    #[inline(always)]
    fn value(veth: u16, now_s: u32) -> u64 {
        VALID | u64::from(now_s) << 16 | u64::from(veth)
    }

    fn inc(&self, veth: u16, limit: u32) -> bool {
        let Some(c) = self.per_veth.get(usize::from(veth)) else {
            // Beyond the counters the table was sized for: no limit.
            return true;
        };
        c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_ok()
    }

    fn dec(&self, veth: u16) {
        if let Some(c) = self.per_veth.get(usize::from(veth)) {
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Learns (MAC, VLAN) on `veth` at time `now_s` (seconds), unless the
    /// vEth already holds `limit` entries. Lock-free; may be called by any
    /// number of workers at once.
    #[inline(always)]
    pub fn learn(&self, mac: u64, vlan: u16, veth: u16, now_s: u32, limit: u32) -> Learned {
        let key = Self::key(mac, vlan);
        let want = Self::value(veth, now_s);
        let bs = self.buckets(key);
        // Fast path, inline: known on this vEth, seen this second.
        for base in bs {
            if let Some(i) = self.find(base, key) {
                if self.slot(i).val.load(Ordering::Acquire) == want {
                    return Learned::Known;
                }
                break;
            }
        }
        self.learn_slow(key, want, bs, veth, limit)
    }

    /// [`LearnTable::learn`] past its fast path (scans again).
    #[inline(never)]
    fn learn_slow(&self, key: u64, want: u64, bs: [usize; 2], veth: u16, limit: u32) -> Learned {
        for base in bs {
            if let Some(i) = self.find(base, key) {
                let v = self.slot(i).val.load(Ordering::Acquire);
                if v == want {
                    return Learned::Known;
                }
                if v == TOMBSTONE {
                    return Learned::Full;
                }
                let old_veth = v as u16;
                let moved = v & VALID != 0 && old_veth != veth;
                if (moved || v == 0) && !self.inc(veth, limit) {
                    return Learned::Limit;
                }
                if self
                    .slot(i)
                    .val
                    .compare_exchange(v, want, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    // Someone else refreshed, moved or aged it: undo, retry
                    // with the next packet.
                    if moved || v == 0 {
                        self.dec(veth);
                    }
                    return Learned::Known;
                }
                if moved {
                    self.dec(old_veth);
                    return Learned::Moved;
                }
                return if v == 0 { Learned::New } else { Learned::Known };
            }
        }
        if !self.inc(veth, limit) {
            return Learned::Limit;
        }
        // Every learner scans the slots in the same order, so two that
        // insert the same key at once race for the same empty slot and the
        // loser sees the winner's key there.
        for base in bs {
            for i in base..base + BUCKET {
                let k = self.slot(i).key.load(Ordering::Acquire);
                let k = if k == 0 {
                    match self.slot(i).key.compare_exchange(
                        0,
                        key,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return self.install(i, want, veth),
                        Err(k) => k,
                    }
                } else {
                    k
                };
                if k == key {
                    self.dec(veth);
                    return Learned::Known;
                }
            }
        }
        self.dec(veth);
        self.full.fetch_add(1, Ordering::Relaxed);
        Learned::Full
    }

    /// Installs value `want` in slot `i`, whose key this learner has just
    /// claimed (and counted on `veth`). The value there may still be the
    /// [`TOMBSTONE`] of the entry aged out of the slot (ageing then fails
    /// to clear it, as it should), or another learner of the same key may
    /// have installed its own in the meantime (it found the key with value
    /// 0, counted itself and won the value): that one stays, and this
    /// learner uncounts itself, so that every entry is counted once, on
    /// the vEth it is on.
    #[inline(always)]
    fn install(&self, i: usize, want: u64, veth: u16) -> Learned {
        let val = &self.slot(i).val;
        let mut cur = val.load(Ordering::Acquire);
        loop {
            if cur & VALID != 0 {
                self.dec(veth);
                return Learned::Known;
            }
            match val.compare_exchange_weak(cur, want, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Learned::New,
                Err(now) => cur = now,
            }
        }
    }

    /// Removes every entry last seen more than `max_age_s` seconds before
    /// `now_s`, or whose vEth satisfies `gone` (a vEth removed from the
    /// tables). Control thread; returns how many were removed.
    pub fn age(&self, now_s: u32, max_age_s: u32, gone: impl Fn(u16) -> bool) -> usize {
        let mut n = 0;
        for i in 0..self.capacity() {
            let v = self.slot(i).val.load(Ordering::Acquire);
            if v & VALID == 0 {
                continue;
            }
            let seen = (v >> 16) as u32;
            let veth = v as u16;
            if now_s.wrapping_sub(seen) <= max_age_s && !gone(veth) {
                continue;
            }
            if self
                .slot(i)
                .val
                .compare_exchange(v, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            self.slot(i).key.store(0, Ordering::Release);
            let _ = self.slot(i).val.compare_exchange(
                TOMBSTONE,
                0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            self.dec(veth);
            n += 1;
        }
        n
    }

    /// Every valid entry as (MAC, VLAN, vEth, last seen), for the CLI and
    /// telemetry (slow path).
    pub fn entries(&self) -> Vec<(EthernetAddress, u16, u16, u32)> {
        let mut out = Vec::new();
        for i in 0..self.capacity() {
            let k = self.slot(i).key.load(Ordering::Acquire);
            let v = self.slot(i).val.load(Ordering::Acquire);
            if k & VALID != 0 && v & VALID != 0 {
                out.push((
                    u64_mac(k & 0xffff_ffff_ffff),
                    ((k >> 48) & 0xfff) as u16,
                    v as u16,
                    (v >> 16) as u32,
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_lookup_move_limit_age() {
        let t = LearnTable::new(64, 4);
        let m = mac_u64(&[2, 0, 0, 0, 0, 1]);
        assert_eq!(t.lookup(m, 10), None);
        assert_eq!(t.learn(m, 10, 1, 100, 8), Learned::New);
        assert_eq!(t.lookup(m, 10), Some(1));
        assert_eq!(t.lookup(m, 11), None, "VLAN is part of the key");
        assert_eq!(t.learn(m, 10, 1, 100, 8), Learned::Known);
        assert_eq!(t.learn(m, 10, 1, 101, 8), Learned::Known);
        assert_eq!(t.learn(m, 10, 2, 102, 8), Learned::Moved);
        assert_eq!((t.count(1), t.count(2)), (0, 1));
        assert_eq!(t.lookup(m, 10), Some(2));
        // Limit 1 on vEth 2.
        let m2 = mac_u64(&[2, 0, 0, 0, 0, 2]);
        assert_eq!(t.learn(m2, 10, 2, 102, 1), Learned::Limit);
        assert_eq!(t.lookup(m2, 10), None);
        assert_eq!(t.entries(), vec![(u64_mac(m), 10, 2, 102)]);
        assert_eq!(t.age(110, 20, |_| false), 0);
        assert_eq!(t.age(200, 20, |_| false), 1);
        assert_eq!(t.lookup(m, 10), None);
        assert_eq!(t.count(2), 0);
        // The slot is reusable.
        assert_eq!(t.learn(m2, 10, 2, 300, 1), Learned::New);
        assert_eq!(t.age(300, 20, |v| v == 2), 1);
    }

    #[test]
    fn fills_up_without_losing_entries() {
        let t = LearnTable::new(1024, 1);
        let mut learned = Vec::new();
        for i in 0..2000u64 {
            if t.learn(i * 7919, 1, 0, 5, u32::MAX) == Learned::New {
                learned.push(i * 7919);
            }
        }
        assert!(learned.len() > 700, "{} of 1024 slots used", learned.len());
        assert!(t.full() > 0);
        for m in &learned {
            assert_eq!(t.lookup(*m, 1), Some(0));
        }
        assert_eq!(t.count(0) as usize, learned.len());
    }

    #[test]
    fn sized_at_4x_learns_64k_macs() {
        let t = LearnTable::new(4 * 65536, 1024);
        for m in 0..65536u64 {
            let mac = 0x0200_0000_0000 | (m % 1024) << 16 | (m / 1024);
            t.learn(mac, 10, (m % 1024) as u16, 0, u32::MAX);
        }
        assert_eq!(t.full(), 0);
        assert_eq!(t.entries().len(), 65536);
    }

    #[test]
    fn concurrent_learners_agree() {
        let t = std::sync::Arc::new(LearnTable::new(16384, 2));
        let hs: Vec<_> = (0..2u16)
            .map(|w| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        t.learn(i, 0, w, 1, u32::MAX);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let e = t.entries();
        assert_eq!(e.len(), 2000);
        assert_eq!((t.count(0) + t.count(1)) as usize, 2000);
    }

    /// A second learner of a new MAC on another vEth that finds the key
    /// claimed but its value not yet installed counts itself and installs
    /// its value; the first then finds a value there, keeps it and uncounts
    /// itself: the MAC is counted once, on the vEth it is on. (Before, the
    /// first overwrote the value with a plain store: counted on both.)
    #[test]
    fn a_claimed_slot_keeps_the_value_another_learner_installed() {
        let t = LearnTable::new(1024, 2);
        let (mac, vlan, now) = (0x0200_0000_0042, 7, 5);
        let key = LearnTable::key(mac, vlan);
        let i = t.buckets(key)[0];
        // Learner A (vEth 0) counted itself and claimed the key...
        assert!(t.inc(0, u32::MAX));
        t.slot(i).key.store(key, Ordering::Release);
        // ... learner B (vEth 1) sees it mid-insert and installs its own ...
        assert_eq!(t.learn(mac, vlan, 1, now, u32::MAX), Learned::New);
        // ... then A installs: B's value stays, A is not counted.
        assert_eq!(t.install(i, LearnTable::value(0, now), 0), Learned::Known);
        assert_eq!(t.lookup(mac, vlan), Some(1));
        assert_eq!((t.count(0), t.count(1)), (0, 1));
        // Into a slot whose old entry is still a tombstone: installed.
        let key2 = LearnTable::key(mac + 1, vlan);
        let j = t.buckets(key2)[0] + 1;
        t.slot(j).val.store(TOMBSTONE, Ordering::Release);
        assert!(t.inc(0, u32::MAX));
        t.slot(j).key.store(key2, Ordering::Release);
        assert_eq!(t.install(j, LearnTable::value(0, now), 0), Learned::New);
        assert_eq!(
            t.slot(j).val.load(Ordering::Acquire),
            LearnTable::value(0, now)
        );
        assert_eq!(t.count(0), 1);
    }
}
