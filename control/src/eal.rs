//! EAL argument planning: vfex's defaults on top of what the user gave.
//!
//! - Memory: if the user chose none (`--no-huge`, `-m`, `--socket-mem`,
//!   `--in-memory`, `--huge-dir`, ...), use hugepages when enough are free
//!   (with shared config, so that `dpdk-dumpcap` can attach; the hugepage
//!   files are removed at exit), otherwise fall back to `--no-huge -m <MB>`
//!   and say so in one warning line.
//! - PCI: `--no-pci` when the user named no device (the embedded default
//!   runs on virtual devices).
//! - File prefix: `vfex` unless the user gave `--file-prefix`, so that the
//!   runtime directory can be found and removed at exit.

use std::path::{Path, PathBuf};

/// Memory (MB) vfex asks for when it runs without hugepages.
pub const NO_HUGE_MB: u32 = 1024;
/// Free hugepage memory (MB) below which vfex does not try hugepages.
pub const MIN_HUGE_MB: u64 = 512;
/// Default `--file-prefix`.
pub const DEFAULT_PREFIX: &str = "vfex";

/// Free hugepage memory as /proc/meminfo reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HugepageInfo {
    /// Free pages of the default size.
    pub free_pages: u64,
    /// Default hugepage size in kB.
    pub page_kb: u64,
    /// Whether a hugetlbfs is mounted.
    pub mounted: bool,
}

impl HugepageInfo {
    /// Reads /proc/meminfo and /proc/mounts.
    pub fn probe() -> HugepageInfo {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        Self::parse(&meminfo, &mounts)
    }

    /// Parses the text of /proc/meminfo and /proc/mounts.
    pub fn parse(meminfo: &str, mounts: &str) -> HugepageInfo {
        let field = |name: &str| {
            meminfo
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        HugepageInfo {
            free_pages: field("HugePages_Free:"),
            page_kb: field("Hugepagesize:"),
            mounted: mounts
                .lines()
                .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs")),
        }
    }

    /// Free hugepage memory in MB.
    pub fn free_mb(&self) -> u64 {
        self.free_pages * self.page_kb / 1024
    }

    /// Whether vfex should run on hugepages.
    pub fn usable(&self) -> bool {
        self.mounted && self.free_mb() >= MIN_HUGE_MB
    }
}

/// The EAL argument list vfex will use, and what it decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EalPlan {
    /// Full EAL argument list (without the program name).
    pub args: Vec<String>,
    /// Whether vfex runs on hugepages.
    pub hugepages: bool,
    /// One-line warning to print, if any.
    pub warning: Option<String>,
    /// The file prefix in effect.
    pub file_prefix: String,
    /// Whether the user named any device (`-a`, `--vdev`, ...).
    pub devices_given: bool,
    /// Whether secondary processes (`dpdk-dumpcap`, `dpdk-proc-info`) can
    /// attach: hugepages with shared config (no `--in-memory`, no
    /// `--no-shconf`).
    pub multi_process: bool,
}

const MEMORY_OPTS: &[&str] = &[
    "--no-huge",
    "-m",
    "--socket-mem",
    "--in-memory",
    "--huge-dir",
    "--legacy-mem",
    "--single-file-segments",
];
const DEVICE_OPTS: &[&str] = &["-a", "--allow", "--vdev", "-w", "--pci-whitelist"];

fn has_opt(args: &[String], names: &[&str]) -> bool {
    args.iter().any(|a| {
        names.iter().any(|n| {
            a == n
                || (n.starts_with("--") && a.starts_with(&format!("{n}=")))
                || (n.len() == 2 && a.starts_with(n) && a.len() > 2 && !a.starts_with("--"))
        })
    })
}

fn opt_value(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(&format!("{name}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

impl EalPlan {
    /// Adds vfex's defaults to the user's EAL arguments.
    pub fn new(user: &[String], huge: HugepageInfo) -> EalPlan {
        let mut args = user.to_vec();
        let mut warning = None;
        let hugepages;
        if has_opt(user, MEMORY_OPTS) {
            hugepages = !has_opt(user, &["--no-huge"]);
        } else if huge.usable() {
            // Not --in-memory: that would shut out dpdk-dumpcap and the
            // other secondary processes. The hugepage files are removed at
            // exit (remove_hugepage_files), and after a crash the next
            // start with the same prefix reclaims them.
            hugepages = true;
        } else {
            args.extend(["--no-huge".into(), "-m".into(), NO_HUGE_MB.to_string()]);
            hugepages = false;
            warning = Some(format!(
                "vfex: warning: no usable hugepages ({} MB free{}); running with --no-huge -m {NO_HUGE_MB} (about half the speed). Run scripts/setup.sh to reserve hugepages.",
                huge.free_mb(),
                if huge.mounted {
                    ""
                } else {
                    ", hugetlbfs not mounted"
                }
            ));
        }
        let devices_given = has_opt(user, DEVICE_OPTS);
        // No device named: the embedded default runs on virtual devices, so
        // do not probe (and log about) PCI devices bound to kernel drivers.
        if !devices_given && !has_opt(user, &["--no-pci", "-b", "--block"]) {
            args.push("--no-pci".into());
        }
        let file_prefix = match opt_value(user, "--file-prefix") {
            Some(p) => p,
            None => {
                args.extend(["--file-prefix".into(), DEFAULT_PREFIX.into()]);
                DEFAULT_PREFIX.into()
            }
        };
        let multi_process = hugepages && !has_opt(&args, &["--in-memory", "--no-shconf"]);
        EalPlan {
            devices_given,
            multi_process,
            args,
            hugepages,
            warning,
            file_prefix,
        }
    }
}

/// Removes the hugepage files EAL left for `prefix` in every hugetlbfs
/// mount (`<prefix>map_<n>`), after `rte_eal_cleanup`; returns how many.
/// Without `--in-memory` EAL keeps them for secondary processes.
pub fn remove_hugepage_files(prefix: &str) -> std::io::Result<usize> {
    let mounts = std::fs::read_to_string("/proc/mounts")?;
    let stem = format!("{prefix}map_");
    let mut n = 0;
    for dir in mounts.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "hugetlbfs").then(|| PathBuf::from(f[1]))
    }) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&stem) {
                std::fs::remove_file(e.path())?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The runtime directory EAL uses for `prefix` (as root: /var/run/dpdk/PREFIX).
pub fn runtime_dir(prefix: &str) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|_| !is_root())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run"));
    base.join("dpdk").join(prefix)
}

/// The process that holds `prefix`: a DPDK primary process keeps a POSIX
/// lock on `<runtime dir>/config` while it runs (listed in /proc/locks), and
/// a second primary with the same prefix cannot start. `None` when nothing
/// holds it, also after a primary was killed (the kernel drops its lock;
/// the next start reuses the directory).
pub fn prefix_owner(prefix: &str) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(runtime_dir(prefix).join("config")).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    lock_holder(&locks, md.dev(), md.ino())
}

/// The pid holding a POSIX lock on (`dev`, `ino`) in /proc/locks text.
fn lock_holder(locks: &str, dev: u64, ino: u64) -> Option<u32> {
    // st_dev as glibc encodes it; /proc/locks prints MAJOR:MINOR in hex.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    locks.lines().find_map(|l| {
        // "1: POSIX  ADVISORY  WRITE 18521 fe:00:966875 136 17543"; waiters
        // ("1: -> POSIX ...") hold nothing.
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() < 6 || w[1] != "POSIX" {
            return None;
        }
        let mut id = w[5].split(':');
        let (ma, mi, i) = (id.next()?, id.next()?, id.next()?);
        (u64::from_str_radix(ma, 16).ok()? == major
            && u64::from_str_radix(mi, 16).ok()? == minor
            && i.parse::<u64>().ok()? == ino)
            .then(|| w[4].parse().ok())
            .flatten()
    })
}

fn is_root() -> bool {
    // The runtime dir is /var/run/dpdk for root; XDG_RUNTIME_DIR otherwise.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Removes what EAL left in its runtime directory after `rte_eal_cleanup`
/// (config, sockets, fbarray files) and the directory itself. Only files
/// directly in `dir` are removed.
pub fn remove_runtime_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            continue;
        }
        std::fs::remove_file(e.path())?;
    }
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_holder_reads_proc_locks() {
        let locks = "1: FLOCK  ADVISORY  WRITE 18540 fe:00:5333152 0 EOF\n\
                     2: -> POSIX  ADVISORY  WRITE 99 fe:00:966875 0 EOF\n\
                     3: POSIX  ADVISORY  WRITE 18521 fe:00:966875 136 17543\n";
        // st_dev 0xfe00 is fe:00.
        assert_eq!(lock_holder(locks, 0xfe00, 966875), Some(18521));
        assert_eq!(lock_holder(locks, 0xfe00, 5333152), None, "flock");
        assert_eq!(lock_holder(locks, 0xfe01, 966875), None);
        assert_eq!(lock_holder(locks, 0x0001_0000_0000_fe00, 966875), None);
        assert_eq!(prefix_owner("vfex-no-such-prefix"), None);
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const MOUNTS: &str = "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";

    #[test]
    fn parses_meminfo_and_mounts() {
        let h = HugepageInfo::parse(
            "HugePages_Total:    1024\nHugePages_Free:      512\nHugepagesize:       2048 kB\n",
            MOUNTS,
        );
        assert_eq!(
            h,
            HugepageInfo {
                free_pages: 512,
                page_kb: 2048,
                mounted: true
            }
        );
        assert_eq!(h.free_mb(), 1024);
        assert!(h.usable());
        assert!(!HugepageInfo::parse("HugePages_Free: 512\nHugepagesize: 2048 kB\n", "").usable());
    }

    #[test]
    fn falls_back_to_no_huge_with_one_warning() {
        let p = EalPlan::new(&s(&["-l", "0,1"]), HugepageInfo::default());
        assert_eq!(
            p.args,
            s(&[
                "-l",
                "0,1",
                "--no-huge",
                "-m",
                "1024",
                "--no-pci",
                "--file-prefix",
                "vfex"
            ])
        );
        assert!(!p.hugepages && !p.multi_process);
        assert!(p.warning.unwrap().contains("--no-huge"));
        assert!(!p.devices_given);
    }

    #[test]
    fn uses_hugepages_with_shared_config_when_free() {
        let h = HugepageInfo {
            free_pages: 1024,
            page_kb: 2048,
            mounted: true,
        };
        let p = EalPlan::new(&s(&["--vdev", "net_null0"]), h);
        assert_eq!(p.args, s(&["--vdev", "net_null0", "--file-prefix", "vfex"]));
        assert!(p.hugepages && p.warning.is_none() && p.devices_given);
        // Secondary processes (dpdk-dumpcap) can attach ...
        assert!(p.multi_process);
        // ... unless the user asks for --in-memory.
        let p = EalPlan::new(&s(&["--in-memory"]), h);
        assert!(p.hugepages && !p.multi_process);
    }

    #[test]
    fn respects_user_memory_and_prefix() {
        let h = HugepageInfo {
            free_pages: 1024,
            page_kb: 2048,
            mounted: true,
        };
        let p = EalPlan::new(&s(&["--no-huge", "-m", "256", "--file-prefix=x"]), h);
        assert_eq!(
            p.args,
            s(&["--no-huge", "-m", "256", "--file-prefix=x", "--no-pci"])
        );
        assert!(!p.hugepages);
        assert_eq!(p.file_prefix, "x");
        let p = EalPlan::new(
            &s(&["-m512", "-a", "0000:01:00.0"]),
            HugepageInfo::default(),
        );
        assert!(p.hugepages && p.devices_given);
    }

    #[test]
    fn removes_runtime_dir_files() {
        let d = std::env::temp_dir().join(format!("vfex-rt-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config"), b"x").unwrap();
        remove_runtime_dir(&d).unwrap();
        assert!(!d.exists());
        remove_runtime_dir(&d).unwrap();
    }
}
