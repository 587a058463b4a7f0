//! Shared set-up for DPDK tests: one EAL per test binary (EAL can start only
//! once per process), virtual devices with unique names, a lock for the one
//! worker lcore, pcap helpers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use vfex_dataplane::dpdk::{Eal, LcoreId, Mempool};

static EAL: OnceLock<Eal> = OnceLock::new();
static LCORE: Mutex<()> = Mutex::new(());
static SEQ: AtomicU32 = AtomicU32::new(0);

/// The EAL of this test binary: no hugepages, no PCI, lcores 0 and 1,
/// a file prefix of its own, no shared config files.
pub fn eal() -> &'static Eal {
    EAL.get_or_init(|| {
        // One fixed prefix: with --no-shconf several test processes can share
        // it, and at most one (empty) runtime directory ever exists.
        let prefix = "vfex-test";
        let eal = Eal::init(&[
            "-l",
            "0,1",
            "--no-huge",
            "-m",
            "512",
            "--no-pci",
            "--no-shconf",
            "--file-prefix",
            prefix,
            "--log-level",
            "lib.eal:error",
        ])
        .expect("EAL init (run scripts/setup.sh if DPDK is missing)");
        // With --no-shconf EAL creates its runtime directory but puts nothing
        // in it; remove it now so that test runs leave nothing behind.
        std::fs::remove_dir(format!("/var/run/dpdk/{prefix}")).ok();
        eal
    })
}

/// A name unique in this process.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A small mempool of its own for one test.
pub fn pool(n: u32) -> Mempool<'static> {
    Mempool::new(
        eal(),
        &unique("tp"),
        n,
        0,
        vfex_dataplane::dpdk::DEFAULT_DATA_ROOM,
        None,
    )
    .expect("mempool")
}

/// Exclusive use of the worker lcore (tests run in parallel threads).
pub fn worker_lcore() -> (MutexGuard<'static, ()>, LcoreId) {
    let g = LCORE.lock().unwrap_or_else(|e| e.into_inner());
    let w = eal().worker_lcores();
    assert!(!w.is_empty(), "tests need a worker lcore (-l 0,1)");
    (g, w[0])
}

/// A test frame: dst, src, EtherType 0x88b5 (local experimental), `len`
/// bytes in all, payload bytes derived from `seq`.
pub fn frame(seq: u32, len: usize) -> Vec<u8> {
    assert!(len >= 18);
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[18..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_add(seq) as u8;
    }
    f
}

/// Writes a classic pcap file (linktype Ethernet).
pub fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        v.extend_from_slice(&(i as u32).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    std::fs::write(path, v).expect("write pcap");
}

/// Reads the frames of a classic pcap file (either byte order, us or ns).
pub fn read_pcap(path: &std::path::Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).expect("read pcap");
    assert!(d.len() >= 24, "pcap file too short");
    let magic = u32::from_le_bytes(d[..4].try_into().unwrap());
    let le = matches!(magic, 0xa1b2c3d4 | 0xa1b23c4d);
    let rd = |b: &[u8]| {
        let a: [u8; 4] = b.try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let incl = rd(&d[off + 8..off + 12]) as usize;
        off += 16;
        out.push(d[off..off + incl].to_vec());
        off += incl;
    }
    out
}

/// A fresh temporary directory for one test.
pub fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vfex-{tag}-{}-{}", std::process::id(), unique("")));
    std::fs::create_dir_all(&d).expect("tempdir");
    d
}
