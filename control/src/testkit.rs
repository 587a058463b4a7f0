//! A behavioural fake kernel for tests, as the Kubernetes SR-IOV projects
//! test theirs: a sysfs tree in a temporary directory plus a fake that
//! enforces what the kernel enforces, and a recording netlink fake.
//!
//! [`FakeKernel`] (a [`Sysfs`]):
//! - `sriov_numvfs`: more than `sriov_totalvfs` -> ERANGE; a non-zero value
//!   while VFs exist and differ -> EBUSY; may enable fewer than asked
//!   ([`FakeKernel::limit_vfs`]) without an error; the `virtfnN` links and
//!   VF devices appear only after a delay ([`FakeKernel::set_vf_delay`]);
//! - `sriov_drivers_autoprobe`: new VFs are bound to the VF driver only when on;
//! - `drivers/<d>/bind` obeys `driver_override` (ENODEV for another driver)
//!   and refuses a device that already has a driver (EBUSY);
//!   `drivers/<d>/unbind` refuses a device not on `d` (ENODEV);
//! - IOMMU groups: each VF alone, or sharing with a bystander device
//!   ([`FakeKernel::share_group`]);
//! - any write whose path contains a given text can fail with a given errno
//!   at its k-th occurrence ([`FakeKernel::fail_write`]).
//!
//! [`FakeNetlink`] (a [`VfNetlink`]) keeps each VF's state, records every
//! request, fails the k-th set request on demand, can ignore a setting
//! silently (to exercise read-back), and can drift a VF behind our back.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::netlink::{NlError, VfNetlink, VfSetting, VfState};
use crate::sriov::{RealSysfs, Sysfs};

/// errno EBUSY.
pub const EBUSY: i32 = 16;
/// errno ENODEV.
pub const ENODEV: i32 = 19;
/// errno EINVAL.
pub const EINVAL: i32 = 22;
/// errno ERANGE.
pub const ERANGE: i32 = 34;
/// errno EIO.
pub const EIO: i32 = 5;
/// errno EOPNOTSUPP.
pub const EOPNOTSUPP: i32 = 95;

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

struct PfState {
    total: u16,
    vf_driver: String,
    limit: Option<u16>,
    pending: Option<(u16, Instant)>,
    /// VF index -> (bystander address, its driver) sharing the VF's IOMMU group.
    shared: BTreeMap<u16, (String, String)>,
}

struct Injection {
    path_contains: String,
    countdown: u32,
    errno: i32,
}

struct State {
    pfs: BTreeMap<String, PfState>,
    delay: Duration,
    injections: Vec<Injection>,
    writes: Vec<(String, String)>,
    next_group: u32,
}

/// The fake kernel's sysfs. Cloning shares the same tree.
#[derive(Clone)]
pub struct FakeKernel {
    dir: Arc<tempfile::TempDir>,
    fs: RealSysfs,
    st: Arc<Mutex<State>>,
}

impl FakeKernel {
    /// An empty tree with the drivers `vfio-pci`, `iavf` and `ice` loaded.
    pub fn new() -> io::Result<FakeKernel> {
        let dir = tempfile::Builder::new()
            .prefix("vfex-fake-sysfs")
            .tempdir()?;
        let root = dir.path().to_path_buf();
        for d in ["bus/pci/devices", "kernel/iommu_groups"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        let k = FakeKernel {
            fs: RealSysfs::new(&root),
            dir: Arc::new(dir),
            st: Arc::new(Mutex::new(State {
                pfs: BTreeMap::new(),
                delay: Duration::ZERO,
                injections: Vec::new(),
                writes: Vec::new(),
                next_group: 1,
            })),
        };
        for d in ["vfio-pci", "iavf", "ice"] {
            k.load_driver(d)?;
        }
        Ok(k)
    }

    /// The tree's root (what a [`RealSysfs`] would be given).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Adds `drivers/<name>` with `bind` and `unbind`.
    pub fn load_driver(&self, name: &str) -> io::Result<()> {
        let d = self.p(&format!("bus/pci/drivers/{name}"));
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("bind"), "")?;
        std::fs::write(d.join("unbind"), "")
    }

    /// Adds an ordinary PCI device, optionally bound to `driver`, in its own IOMMU group.
    pub fn add_device(&self, addr: &str, driver: Option<&str>) -> io::Result<()> {
        let d = self.p(&format!("bus/pci/devices/{addr}"));
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("driver_override"), "(null)\n")?;
        if let Some(drv) = driver {
            symlink(format!("../../drivers/{drv}"), d.join("driver"))?;
        }
        let g = {
            let mut st = self.lock();
            st.next_group += 1;
            st.next_group
        };
        self.join_group(addr, &g.to_string())
    }

    fn join_group(&self, addr: &str, group: &str) -> io::Result<()> {
        let g = self.p(&format!("kernel/iommu_groups/{group}/devices"));
        std::fs::create_dir_all(&g)?;
        let link = g.join(addr);
        if !link.exists() {
            symlink(format!("../../../../bus/pci/devices/{addr}"), link)?;
        }
        let dl = self.p(&format!("bus/pci/devices/{addr}/iommu_group"));
        let _ = std::fs::remove_file(&dl);
        symlink(format!("../../../../kernel/iommu_groups/{group}"), dl)
    }

    /// Adds an SR-IOV PF with `total` VFs possible, bound to `ice`, with
    /// netdev `netdev` (ifindex `ifindex`); its VFs get driver `iavf` when
    /// autoprobe is on (the default).
    pub fn add_pf(&self, addr: &str, total: u16, netdev: &str, ifindex: u32) -> io::Result<()> {
        self.add_device(addr, Some("ice"))?;
        let d = self.p(&format!("bus/pci/devices/{addr}"));
        std::fs::write(d.join("sriov_totalvfs"), format!("{total}\n"))?;
        std::fs::write(d.join("sriov_numvfs"), "0\n")?;
        std::fs::write(d.join("sriov_drivers_autoprobe"), "1\n")?;
        std::fs::create_dir_all(d.join(format!("net/{netdev}")))?;
        std::fs::write(
            d.join(format!("net/{netdev}/ifindex")),
            format!("{ifindex}\n"),
        )?;
        self.lock().pfs.insert(
            addr.to_string(),
            PfState {
                total,
                vf_driver: "iavf".into(),
                limit: None,
                pending: None,
                shared: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// The kernel enables at most `n` VFs on `pf` (silently, like a firmware limit).
    pub fn limit_vfs(&self, pf: &str, n: u16) {
        if let Some(p) = self.lock().pfs.get_mut(pf) {
            p.limit = Some(n);
        }
    }

    /// VF devices and `virtfnN` links appear this long after `sriov_numvfs` is written.
    pub fn set_vf_delay(&self, d: Duration) {
        self.lock().delay = d;
    }

    /// VF `index` of `pf` will share its IOMMU group with `bystander`
    /// (created now, bound to `driver`).
    pub fn share_group(
        &self,
        pf: &str,
        index: u16,
        bystander: &str,
        driver: &str,
    ) -> io::Result<()> {
        self.add_device(bystander, Some(driver))?;
        if let Some(p) = self.lock().pfs.get_mut(pf) {
            p.shared
                .insert(index, (bystander.to_string(), driver.to_string()));
        }
        Ok(())
    }

    /// The `k`-th (1-based) write whose path contains `path_contains` fails with `errno`.
    pub fn fail_write(&self, path_contains: &str, k: u32, errno: i32) {
        self.lock().injections.push(Injection {
            path_contains: path_contains.into(),
            countdown: k,
            errno,
        });
    }

    /// Every write so far: (path, value).
    pub fn writes(&self) -> Vec<(String, String)> {
        self.lock().writes.clone()
    }

    /// The VF address the fake gives VF `i` of `pf`: bus + 1, device/function from `i`.
    pub fn vf_addr(pf: &str, i: u16) -> String {
        let p: Vec<&str> = pf.split([':', '.']).collect();
        let bus = u8::from_str_radix(p.get(1).copied().unwrap_or("0"), 16)
            .unwrap_or(0)
            .wrapping_add(1);
        format!(
            "{}:{bus:02x}:{:02x}.{}",
            p.first().copied().unwrap_or("0000"),
            (i / 8) as u8 & 0x1f,
            i % 8
        )
    }

    fn create_vfs(&self, st: &mut State, pf: &str, n: u16) -> io::Result<()> {
        let autoprobe = std::fs::read_to_string(
            self.p(&format!("bus/pci/devices/{pf}/sriov_drivers_autoprobe")),
        )
        .map(|s| s.trim() == "1")
        .unwrap_or(true);
        let (vf_driver, shared) = match st.pfs.get(pf) {
            Some(p) => (p.vf_driver.clone(), p.shared.clone()),
            None => return Ok(()),
        };
        for i in 0..n {
            let vf = Self::vf_addr(pf, i);
            let d = self.p(&format!("bus/pci/devices/{vf}"));
            std::fs::create_dir_all(&d)?;
            std::fs::write(d.join("driver_override"), "(null)\n")?;
            symlink(format!("../{pf}"), d.join("physfn"))?;
            if autoprobe {
                symlink(format!("../../drivers/{vf_driver}"), d.join("driver"))?;
            }
            let group = match shared.get(&i) {
                Some((by, _)) => {
                    let l =
                        std::fs::read_link(self.p(&format!("bus/pci/devices/{by}/iommu_group")))?;
                    l.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                }
                None => {
                    st.next_group += 1;
                    st.next_group.to_string()
                }
            };
            self.join_group(&vf, &group)?;
            symlink(
                format!("../{vf}"),
                self.p(&format!("bus/pci/devices/{pf}/virtfn{i}")),
            )?;
        }
        Ok(())
    }

    fn destroy_vfs(&self, pf: &str) -> io::Result<()> {
        let base = self.p(&format!("bus/pci/devices/{pf}"));
        for e in std::fs::read_dir(&base)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("virtfn") {
                continue;
            }
            let target = std::fs::read_link(e.path())?;
            let vf = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let vd = self.p(&format!("bus/pci/devices/{vf}"));
            if let Ok(g) = std::fs::read_link(vd.join("iommu_group")) {
                let g = g
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let _ =
                    std::fs::remove_file(self.p(&format!("kernel/iommu_groups/{g}/devices/{vf}")));
            }
            std::fs::remove_dir_all(&vd)?;
            std::fs::remove_file(e.path())?;
        }
        Ok(())
    }

    /// Creates VFs whose delay has passed.
    fn materialize(&self, st: &mut State) {
        let now = Instant::now();
        let due: Vec<(String, u16)> = st
            .pfs
            .iter()
            .filter_map(|(a, p)| {
                p.pending
                    .filter(|(_, t)| *t <= now)
                    .map(|(n, _)| (a.clone(), n))
            })
            .collect();
        for (pf, n) in due {
            if let Some(p) = st.pfs.get_mut(&pf) {
                p.pending = None;
            }
            let _ = self.create_vfs(st, &pf, n);
        }
    }

    fn device_of(rel: &str) -> Option<&str> {
        rel.strip_prefix("bus/pci/devices/")
            .and_then(|r| r.split('/').next())
    }

    fn write_numvfs(&self, st: &mut State, pf: &str, value: &str) -> io::Result<()> {
        let n: u16 = value.trim().parse().map_err(|_| errno(EINVAL))?;
        let (total, limit) = match st.pfs.get(pf) {
            Some(p) => (p.total, p.limit),
            None => return Err(errno(ENODEV)),
        };
        let path = self.p(&format!("bus/pci/devices/{pf}/sriov_numvfs"));
        let cur: u16 = std::fs::read_to_string(&path)?.trim().parse().unwrap_or(0);
        if n > total {
            return Err(errno(ERANGE));
        }
        if n == cur {
            return Ok(());
        }
        if n != 0 && cur != 0 {
            return Err(errno(EBUSY));
        }
        if n == 0 {
            if let Some(p) = st.pfs.get_mut(pf) {
                p.pending = None;
            }
            self.destroy_vfs(pf)?;
            return std::fs::write(&path, "0\n");
        }
        let got = limit.map(|l| l.min(n)).unwrap_or(n);
        std::fs::write(&path, format!("{got}\n"))?;
        if st.delay.is_zero() {
            self.create_vfs(st, pf, got)
        } else {
            let due = Instant::now() + st.delay;
            if let Some(p) = st.pfs.get_mut(pf) {
                p.pending = Some((got, due));
            }
            Ok(())
        }
    }

    fn driver_write(&self, drv: &str, op: &str, value: &str) -> io::Result<()> {
        let dev = value.trim();
        let d = self.p(&format!("bus/pci/devices/{dev}"));
        if !d.exists() {
            return Err(errno(ENODEV));
        }
        let cur = std::fs::read_link(d.join("driver"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        match op {
            "unbind" => {
                if cur.as_deref() != Some(drv) {
                    return Err(errno(ENODEV));
                }
                std::fs::remove_file(d.join("driver"))
            }
            _ => {
                if cur.is_some() {
                    return Err(errno(EBUSY));
                }
                let ov = std::fs::read_to_string(d.join("driver_override")).unwrap_or_default();
                let ov = ov.trim();
                if !ov.is_empty() && ov != "(null)" && ov != drv {
                    return Err(errno(ENODEV));
                }
                symlink(format!("../../drivers/{drv}"), d.join("driver"))
            }
        }
    }
}

impl Sysfs for FakeKernel {
    fn read(&self, rel: &str) -> io::Result<String> {
        let mut st = self.lock();
        self.materialize(&mut st);
        self.fs.read(rel)
    }

    fn write(&self, rel: &str, value: &str) -> io::Result<()> {
        let mut st = self.lock();
        self.materialize(&mut st);
        st.writes.push((rel.to_string(), value.to_string()));
        let mut fail = None;
        for inj in st.injections.iter_mut() {
            if inj.countdown > 0 && rel.contains(&inj.path_contains) {
                inj.countdown -= 1;
                if inj.countdown == 0 {
                    fail = Some(inj.errno);
                    break;
                }
            }
        }
        if let Some(e) = fail {
            return Err(errno(e));
        }
        if !self.p(rel).exists() {
            return Err(errno(2));
        }
        if let Some(rest) = rel.strip_prefix("bus/pci/drivers/") {
            let mut it = rest.split('/');
            if let (Some(drv), Some(op @ ("bind" | "unbind"))) = (it.next(), it.next()) {
                return self.driver_write(drv, op, value);
            }
        }
        if rel.ends_with("/sriov_numvfs") {
            let pf = Self::device_of(rel).unwrap_or("").to_string();
            return self.write_numvfs(&mut st, &pf, value);
        }
        if rel.ends_with("/sriov_drivers_autoprobe") {
            let v = value.trim();
            if v != "0" && v != "1" {
                return Err(errno(EINVAL));
            }
            return std::fs::write(self.p(rel), format!("{v}\n"));
        }
        if rel.ends_with("/driver_override") {
            let v = value.trim();
            return std::fs::write(
                self.p(rel),
                if v.is_empty() {
                    "(null)\n".to_string()
                } else {
                    format!("{v}\n")
                },
            );
        }
        self.fs.write(rel, value)
    }

    fn read_link(&self, rel: &str) -> io::Result<PathBuf> {
        let mut st = self.lock();
        self.materialize(&mut st);
        self.fs.read_link(rel)
    }

    fn list(&self, rel: &str) -> io::Result<Vec<String>> {
        let mut st = self.lock();
        self.materialize(&mut st);
        self.fs.list(rel)
    }

    fn exists(&self, rel: &str) -> bool {
        let mut st = self.lock();
        self.materialize(&mut st);
        self.fs.exists(rel)
    }
}

struct NlState {
    pfs: BTreeMap<u32, Vec<VfState>>,
    requests: Vec<(u32, u32, VfSetting)>,
    fail_at: Option<(u32, i32)>,
    ignore: Option<&'static str>,
    sets: u32,
    gets: u32,
}

/// A recording netlink fake. Cloning shares the same state.
#[derive(Clone)]
pub struct FakeNetlink {
    st: Arc<Mutex<NlState>>,
}

impl Default for FakeNetlink {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeNetlink {
    /// No PF yet.
    pub fn new() -> FakeNetlink {
        FakeNetlink {
            st: Arc::new(Mutex::new(NlState {
                pfs: BTreeMap::new(),
                requests: Vec::new(),
                fail_at: None,
                ignore: None,
                sets: 0,
                gets: 0,
            })),
        }
    }
    fn lock(&self) -> MutexGuard<'_, NlState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Gives PF `ifindex` `n` VFs in their default state (spoof check on, like most drivers).
    pub fn set_vf_count(&self, ifindex: u32, n: u32) {
        let vfs = (0..n)
            .map(|i| VfState {
                index: i,
                spoof_check: true,
                ..VfState::default()
            })
            .collect();
        self.lock().pfs.insert(ifindex, vfs);
    }
    /// The `k`-th set request from now (1-based) fails with `errno` (and is not applied).
    pub fn fail_set_at(&self, k: u32, errno: i32) {
        let mut st = self.lock();
        let base = st.sets;
        st.fail_at = Some((base + k, errno));
    }
    /// Settings named `name` (`VfSetting::name`) are acknowledged but not applied.
    pub fn ignore_setting(&self, name: &'static str) {
        self.lock().ignore = Some(name);
    }
    /// Changes a VF behind the control plane's back (drift).
    pub fn drift(&self, ifindex: u32, vf: u32, s: &VfSetting) {
        if let Some(v) = self
            .lock()
            .pfs
            .get_mut(&ifindex)
            .and_then(|v| v.get_mut(vf as usize))
        {
            v.apply(s);
        }
    }
    /// Current state of PF `ifindex`'s VFs.
    pub fn state(&self, ifindex: u32) -> Vec<VfState> {
        self.lock().pfs.get(&ifindex).cloned().unwrap_or_default()
    }
    /// Every set request so far: (ifindex, vf, setting).
    pub fn requests(&self) -> Vec<(u32, u32, VfSetting)> {
        self.lock().requests.clone()
    }
    /// Number of get requests so far.
    pub fn gets(&self) -> u32 {
        self.lock().gets
    }
}

impl VfNetlink for FakeNetlink {
    fn get_vfs(&mut self, pf_ifindex: u32) -> Result<Vec<VfState>, NlError> {
        let mut st = self.lock();
        st.gets += 1;
        st.pfs
            .get(&pf_ifindex)
            .cloned()
            .ok_or(NlError::errno(ENODEV))
    }

    fn set_vf(&mut self, pf_ifindex: u32, vf: u32, setting: &VfSetting) -> Result<(), NlError> {
        let mut st = self.lock();
        st.sets += 1;
        st.requests.push((pf_ifindex, vf, *setting));
        if let Some((k, e)) = st.fail_at {
            if st.sets == k {
                st.fail_at = None;
                return Err(NlError::errno(e));
            }
        }
        let ignore = st.ignore;
        let vfs = st.pfs.get_mut(&pf_ifindex).ok_or(NlError::errno(ENODEV))?;
        let v = vfs.get_mut(vf as usize).ok_or(NlError::errno(EINVAL))?;
        if ignore != Some(setting.name()) {
            v.apply(setting);
        }
        Ok(())
    }
}
