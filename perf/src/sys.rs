//! Processes and the machine: spawning tools in their own process group
//! (optionally under `perf stat`), stopping them, reading their output as it
//! comes, hugepages, DPDK runtime directories. No DPDK library is linked:
//! vfex-perf needs only the tools it runs.

use anyhow::{Context, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// Process groups, network namespaces and directories that the harness made
/// and that a signal must not leave behind.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static NETNS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set when a signal asked the harness to stop: no new tool starts.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn track<T: PartialEq>(m: &Mutex<Vec<T>>, v: T, on: bool) {
    if let Ok(mut l) = m.lock() {
        l.retain(|x| *x != v);
        if on {
            l.push(v);
        }
    }
}

/// Remembers (or forgets) a network namespace to delete on a signal.
pub fn track_netns(name: &str, on: bool) {
    track(&NETNS, name.to_owned(), on);
}

/// Remembers (or forgets) a directory to remove on a signal.
pub fn track_dir(dir: &Path, on: bool) {
    track(&DIRS, dir.to_owned(), on);
}

/// On SIGINT or SIGTERM: stops every tool the harness started (SIGINT to
/// its process group, SIGKILL after 5 s), deletes its network namespaces,
/// scratch directories and DPDK runtime directories, and exits with 130.
pub fn clean_up_on_signal() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing signal handlers")?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!("\nvfex-perf: signal {sig}: stopping the tools it started and cleaning up");
            let groups: Vec<u32> = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
            for g in &groups {
                signal_group(*g, "INT");
            }
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end && groups.iter().any(|g| group_alive(*g)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            for g in &groups {
                signal_group(*g, "KILL");
            }
            for ns in NETNS.lock().map(|n| n.clone()).unwrap_or_default() {
                Command::new("ip").args(["netns", "del", &ns]).output().ok();
            }
            for d in DIRS.lock().map(|d| d.clone()).unwrap_or_default() {
                std::fs::remove_dir_all(d).ok();
            }
            let mine = format!("vfexperf{}-", std::process::id());
            if let Ok(rd) = std::fs::read_dir("/var/run/dpdk") {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&mine) {
                        std::fs::remove_dir_all(e.path()).ok();
                        remove_hugepage_files(&e.file_name().to_string_lossy());
                    }
                }
            }
            std::process::exit(130);
        }
    });
    Ok(())
}

/// Whether a signal asked the harness to stop.
pub fn stopping() -> bool {
    STOPPING.load(std::sync::atomic::Ordering::SeqCst)
}

fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
use std::time::{Duration, Instant};

/// Free 2 MB-or-larger hugepage memory in MB and whether hugetlbfs is mounted.
pub fn hugepages_usable() -> bool {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let field = |name: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let free_mb = field("HugePages_Free:") * field("Hugepagesize:") / 1024;
    free_mb >= 512
        && mounts
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
}

/// EAL memory arguments for `huge`, `nohuge` or `auto`; the flag says
/// whether hugepages are used.
pub fn memory_args(mode: &str) -> (Vec<String>, bool) {
    let huge = match mode {
        "huge" => true,
        "nohuge" => false,
        _ => hugepages_usable(),
    };
    if huge {
        (vec!["--in-memory".into()], true)
    } else {
        (vec!["--no-huge".into(), "-m".into(), "1024".into()], false)
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// `/var/run/dpdk/<prefix>` (or the XDG one when not root): where DPDK
/// keeps a process's runtime files (telemetry socket, shared config).
pub fn runtime_dir(prefix: &str) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|_| !is_root())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run"));
    base.join("dpdk").join(prefix)
}

/// Removes `/var/run/dpdk/<prefix>` (or the XDG one when not root).
pub fn remove_runtime_dir(prefix: &str) {
    let d = runtime_dir(prefix);
    if !prefix.is_empty() && !prefix.contains('/') {
        std::fs::remove_dir_all(d).ok();
    }
}

/// Removes the hugepage files (`<mount>/<prefix>map_N`) that a DPDK process
/// with shared memory (no `--in-memory`) leaves when it is killed.
pub fn remove_hugepage_files(prefix: &str) {
    if prefix.is_empty() || prefix.contains('/') {
        return;
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    for m in mounts
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
        .filter_map(|l| l.split_whitespace().nth(1))
    {
        if let Ok(rd) = std::fs::read_dir(m) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{prefix}map_"))
                {
                    std::fs::remove_file(e.path()).ok();
                }
            }
        }
    }
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    // The machine's online CPUs, not this process's affinity (the soak keeps
    // the harness on CPU 0; the tools it starts pin their own lcores).
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| online_cpus(&s))
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// The number of CPUs in a kernel CPU list (`0-3,8,10-11`).
fn online_cpus(list: &str) -> Option<usize> {
    let mut n = 0;
    for part in list.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()?.checked_sub(a.parse().ok()?)? + 1,
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// Whether `perf stat` can count cycles here.
pub fn perf_can_count() -> bool {
    Command::new("perf")
        .args(["stat", "-x,", "-e", "cycles", "--", "true"])
        .output()
        .map(|o| {
            let e = String::from_utf8_lossy(&o.stderr);
            o.status.success() && e.contains("cycles") && !e.contains("<not supported>")
        })
        .unwrap_or(false)
}

/// A command for `program`, wrapped in `perf stat -I interval_ms` writing
/// CSV to `csv` when given.
pub fn command(program: &str, csv: Option<(&Path, u64)>) -> Command {
    match csv {
        Some((csv, ms)) => {
            let mut c = Command::new("perf");
            c.args(["stat", "-I", &ms.to_string(), "-x,", "-e", "cycles", "-o"])
                .arg(csv)
                .arg("--")
                .arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Cycles per second from `perf stat -I` CSV: the median of the busy
/// intervals (those above 80 % of the busiest), each scaled to one second.
pub fn cycles_per_sec(csv: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(csv).ok()?;
    let mut prev = 0.0;
    let mut rates = Vec::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = l.split(',').collect();
        let (Some(t), Some(c)) = (
            f.first().and_then(|t| t.trim().parse::<f64>().ok()),
            f.get(1),
        ) else {
            continue;
        };
        let dt = t - prev;
        prev = t;
        if let Ok(c) = c.parse::<f64>()
            && dt > 0.2
        {
            rates.push(c / dt);
        }
    }
    let max = rates.iter().copied().fold(0.0, f64::max);
    let busy: Vec<f64> = rates.into_iter().filter(|r| *r > 0.8 * max).collect();
    (!busy.is_empty()).then(|| crate::stats::median(&busy))
}

/// A running tool: its own process group, stdout and stderr collected by
/// threads as they come.
pub struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// What it is, for messages.
    pub what: String,
}

impl Proc {
    /// Starts `cmd` with stdin from /dev/null in a new process group.
    pub fn spawn(mut cmd: Command, what: &str) -> Result<Proc> {
        if STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!("interrupted: not starting {what}");
        }
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {what} ({:?})", cmd.get_program()))?;
        track(&GROUPS, child.id(), true);
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        if let Some(s) = child.stdout.take() {
            let o = Arc::clone(&out);
            readers.push(std::thread::spawn(move || collect(s, &o)));
        }
        if let Some(s) = child.stderr.take() {
            let o = Arc::clone(&err);
            readers.push(std::thread::spawn(move || collect(s, &o)));
        }
        Ok(Proc {
            child,
            out,
            err,
            readers,
            what: what.into(),
        })
    }

    /// Standard output so far.
    pub fn stdout(&self) -> String {
        self.out.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Standard error so far.
    pub fn stderr(&self) -> String {
        self.err.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Process id (= process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits until `done(stdout)` holds, the process exits, or `timeout`.
    /// Returns whether `done` held.
    pub fn wait_for(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if done(&self.stdout()) {
                return true;
            }
            if self.exited() {
                return done(&self.stdout());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits for the exit up to `timeout`, then SIGINT to the group, then
    /// SIGKILL. Returns (success, stdout, stderr).
    pub fn finish(mut self, timeout: Duration) -> (bool, String, String) {
        let end = Instant::now() + timeout;
        let mut status = self.child.try_wait().ok().flatten();
        while status.is_none() && Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if status.is_none() {
            status = self.stop();
        }
        track(&GROUPS, self.pid(), false);
        for r in self.readers.drain(..) {
            r.join().ok();
        }
        (
            status.is_some_and(|s| s.success()),
            self.stdout(),
            self.stderr(),
        )
    }

    /// SIGINT to the whole group (the tool and `perf stat` around it), then
    /// SIGKILL if it has not exited after 15 s.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        signal_group(self.pid(), "INT");
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(self.pid(), "KILL");
        self.child.wait().ok()
    }

    /// Stops it now (SIGINT to its group) and returns what `finish` does.
    pub fn interrupt(mut self) -> (bool, String, String) {
        let st = match self.child.try_wait() {
            Ok(Some(s)) => Some(s),
            _ => self.stop(),
        };
        track(&GROUPS, self.pid(), false);
        for r in self.readers.drain(..) {
            r.join().ok();
        }
        // testpmd and vfex exit 0 on SIGINT; 130 counts as stopped too.
        let ok = st.is_some_and(|s| s.success() || s.code() == Some(130));
        (ok, self.stdout(), self.stderr())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal_group(self.pid(), "KILL");
            self.child.wait().ok();
        }
        track(&GROUPS, self.pid(), false);
    }
}

fn collect(s: impl std::io::Read, into: &Mutex<String>) {
    for l in std::io::BufReader::new(s).lines().map_while(|l| l.ok()) {
        if let Ok(mut o) = into.lock() {
            o.push_str(&l);
            o.push('\n');
        }
    }
}

/// Sends SIGsig to process group `pgid` through kill(1) (this crate has no
/// unsafe code).
pub fn signal_group(pgid: u32, sig: &str) {
    Command::new("kill")
        .args([&format!("-{sig}"), "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok();
}

/// Whether `program` can be run (found on PATH or as a path).
pub fn available(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).exists()))
        .unwrap_or(false)
}

/// Removes ANSI escape sequences (testpmd clears the screen between periods).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// UTC time as `YYYYMMDDTHHMMSSZ` (for directory names) from the system clock.
pub fn utc_stamp() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (s / 86400, s % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn online_cpu_lists() {
        assert_eq!(online_cpus("0-1\n"), Some(2));
        assert_eq!(online_cpus("0-3,8,10-11"), Some(7));
        assert_eq!(online_cpus("0"), Some(1));
        assert_eq!(online_cpus(""), None);
        assert_eq!(online_cpus("x"), None);
    }

    use super::*;

    #[test]
    fn ansi_and_stamp() {
        assert_eq!(strip_ansi("\x1b[2J\x1b[1;1Hab"), "ab");
        let s = utc_stamp();
        assert_eq!(s.len(), 16);
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }

    #[test]
    fn perf_csv() {
        let p = std::env::temp_dir().join(format!("vfex-perf-csv-{}", std::process::id()));
        std::fs::write(&p, "# started\n0.5,100,,cycles\n1.0,1000,,cycles\n1.5,1100,,cycles\n2.0,<not counted>,,cycles\n").unwrap();
        // Busy intervals: 2000/s and 2200/s; median 2100.
        assert_eq!(cycles_per_sec(&p), Some(2100.0));
        std::fs::remove_file(&p).ok();
    }
}
