//! Shared set-up for DPDK tests: one EAL per test binary (EAL can start only
//! once per process), virtual devices with unique names, a lock for the one
//! worker lcore, pcap helpers.
#![allow(dead_code)]

pub mod pcap;
pub use pcap::{TempDir, read_pcap, write_pcap};

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
