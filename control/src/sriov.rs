//! SR-IOV VF lifecycle through sysfs.
//!
//! Everything goes through the [`Sysfs`] trait, whose root is injectable
//! ([`RealSysfs::new`]); tests use [`crate::testkit::FakeKernel`]. A VF is
//! always named by (PF PCI address, VF index) ([`VfId`]) and resolved to its
//! own PCI address through the PF's `virtfnN` link, never by netdev name
//! (VF netdevs appear late and udev may rename them).
//!
//! Kernel rules this module obeys (DESIGN.md, "SR-IOV control"):
//! - `sriov_numvfs` can only change N -> 0 -> M (the kernel answers EBUSY
//!   otherwise); more than `sriov_totalvfs` gives ERANGE;
//! - the kernel may enable fewer VFs than asked without an error: always
//!   read back;
//! - the `virtfnN` links appear asynchronously: wait for them, with a timeout;
//! - a VF moves to `vfio-pci` through `driver_override` + unbind + bind, and
//!   is usable only when its whole IOMMU group is on vfio-pci.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::PciAddr;

/// Access to sysfs, relative to a root (`/sys` on a real system).
///
/// Paths are relative to the root, like `bus/pci/devices/0000:3b:00.0/sriov_numvfs`.
pub trait Sysfs: Send {
    /// Reads a whole attribute file.
    fn read(&self, rel: &str) -> io::Result<String>;
    /// Writes an attribute (one `write(2)`, as the kernel expects).
    fn write(&self, rel: &str, value: &str) -> io::Result<()>;
    /// Reads a symbolic link's target.
    fn read_link(&self, rel: &str) -> io::Result<PathBuf>;
    /// Lists a directory's entry names, sorted.
    fn list(&self, rel: &str) -> io::Result<Vec<String>>;
    /// Whether a path exists.
    fn exists(&self, rel: &str) -> bool;
}

/// The real sysfs (or any directory tree laid out like it).
#[derive(Debug, Clone)]
pub struct RealSysfs {
    root: PathBuf,
}

impl RealSysfs {
    /// Sysfs under `root`.
    pub fn new(root: impl Into<PathBuf>) -> RealSysfs {
        RealSysfs { root: root.into() }
    }
    /// The system's `/sys`.
    pub fn system() -> RealSysfs {
        RealSysfs::new("/sys")
    }
    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

impl Sysfs for RealSysfs {
    fn read(&self, rel: &str) -> io::Result<String> {
        std::fs::read_to_string(self.path(rel))
    }
    fn write(&self, rel: &str, value: &str) -> io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.path(rel))?;
        f.write_all(value.as_bytes())
    }
    fn read_link(&self, rel: &str) -> io::Result<PathBuf> {
        std::fs::read_link(self.path(rel))
    }
    fn list(&self, rel: &str) -> io::Result<Vec<String>> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(rel))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        Ok(v)
    }
    fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }
}

/// A VF, keyed by its PF's PCI address and its index on that PF.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VfId {
    /// The PF's PCI address.
    pub pf: PciAddr,
    /// VF index.
    pub index: u16,
}

impl std::fmt::Display for VfId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PF {} VF {}", self.pf, self.index)
    }
}

/// What went wrong with SR-IOV through sysfs. Every message names the
/// device and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SriovError {
    /// A sysfs access failed.
    #[error("{dev}: {what}: {source}")]
    Io {
        /// Device (PF or VF address).
        dev: String,
        /// What was being done.
        what: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The device is not an SR-IOV PF.
    #[error("{0}: not an SR-IOV physical function (no sriov_totalvfs); check the PCI address")]
    NotPf(PciAddr),
    /// More VFs asked than the PF supports.
    #[error("{pf}: cannot enable {asked} VFs: the PF supports at most {total} (sriov_totalvfs)")]
    TooMany {
        /// PF.
        pf: PciAddr,
        /// Asked.
        asked: u16,
        /// sriov_totalvfs.
        total: u16,
    },
    /// The kernel enabled fewer VFs than asked (without an error).
    #[error(
        "{pf}: asked for {asked} VFs but the kernel enabled {got} (the driver or firmware may limit them; see dmesg)"
    )]
    Fewer {
        /// PF.
        pf: PciAddr,
        /// Asked.
        asked: u16,
        /// Read back.
        got: u16,
    },
    /// The `virtfnN` links did not all appear in time.
    #[error("{pf}: virtfn{index} did not appear within {waited:?} after enabling {num} VFs")]
    Timeout {
        /// PF.
        pf: PciAddr,
        /// First missing VF index.
        index: u16,
        /// Enabled VFs.
        num: u16,
        /// How long we waited.
        waited: Duration,
    },
    /// A VF index beyond the enabled VFs.
    #[error("{0} does not exist (no virtfn link)")]
    NoSuchVf(VfId),
    /// The target driver is not loaded.
    #[error("driver {0} is not loaded (no /sys/bus/pci/drivers/{0}); run `modprobe {0}`")]
    NoDriver(String),
    /// After a bind the device is not on the driver.
    #[error("{dev}: bound to {driver} but the device is now on {now}")]
    BindFailed {
        /// Device.
        dev: PciAddr,
        /// Wanted driver.
        driver: String,
        /// Driver found by reading back (or "no driver").
        now: String,
    },
    /// The VF's IOMMU group holds devices not on vfio-pci.
    #[error(
        "{dev}: IOMMU group {group} is not viable for vfio: {} must also be bound to vfio-pci (or unbound); the whole group goes to the VM/DPDK together",
        others.iter().map(|(d, drv)| format!("{d} (on {drv})")).collect::<Vec<_>>().join(", ")
    )]
    GroupNotViable {
        /// The VF.
        dev: PciAddr,
        /// Group number.
        group: String,
        /// Other devices of the group and their drivers.
        others: Vec<(String, String)>,
    },
    /// The VF has no IOMMU group (no IOMMU, or it is off).
    #[error(
        "{0}: no IOMMU group: enable the IOMMU (intel_iommu=on / amd_iommu=on) to use vfio-pci"
    )]
    NoIommu(PciAddr),
}

/// Short alias for results of this module.
pub type Result<T> = std::result::Result<T, SriovError>;

fn dev_path(addr: &str) -> String {
    format!("bus/pci/devices/{addr}")
}

fn io_err(dev: impl ToString, what: impl Into<String>) -> impl FnOnce(io::Error) -> SriovError {
    let dev = dev.to_string();
    let what = what.into();
    move |source| SriovError::Io { dev, what, source }
}

fn read_u16(s: &dyn Sysfs, dev: &str, attr: &str) -> Result<u16> {
    let text = s
        .read(&format!("{}/{attr}", dev_path(dev)))
        .map_err(io_err(dev, format!("reading {attr}")))?;
    text.trim().parse::<u16>().map_err(|_| SriovError::Io {
        dev: dev.to_string(),
        what: format!("reading {attr}"),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a number: {:?}", text.trim()),
        ),
    })
}

/// A physical function as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PfInfo {
    /// PCI address.
    pub addr: PciAddr,
    /// `sriov_totalvfs`.
    pub total_vfs: u16,
    /// `sriov_numvfs`.
    pub num_vfs: u16,
    /// The PF's netdev name, if it has one (informational only).
    pub netdev: Option<String>,
}

/// Lists every SR-IOV capable PF (devices with `sriov_totalvfs` > 0).
pub fn list_pfs(s: &dyn Sysfs) -> Result<Vec<PfInfo>> {
    let devs = s
        .list("bus/pci/devices")
        .map_err(io_err("bus/pci/devices", "listing PCI devices"))?;
    let mut out = Vec::new();
    for d in devs {
        if !s.exists(&format!("{}/sriov_totalvfs", dev_path(&d))) {
            continue;
        }
        let Ok(addr) = d.parse::<PciAddr>() else {
            continue;
        };
        let total = read_u16(s, &d, "sriov_totalvfs")?;
        if total == 0 {
            continue;
        }
        let num = read_u16(s, &d, "sriov_numvfs")?;
        let netdev = s
            .list(&format!("{}/net", dev_path(&d)))
            .ok()
            .and_then(|v| v.into_iter().next());
        out.push(PfInfo {
            addr,
            total_vfs: total,
            num_vfs: num,
            netdev,
        });
    }
    Ok(out)
}

/// Reads a PF's `sriov_totalvfs` and `sriov_numvfs`.
pub fn pf_info(s: &dyn Sysfs, pf: &PciAddr) -> Result<PfInfo> {
    if !s.exists(&format!("{}/sriov_totalvfs", dev_path(pf.as_str()))) {
        return Err(SriovError::NotPf(pf.clone()));
    }
    let total = read_u16(s, pf.as_str(), "sriov_totalvfs")?;
    let num = read_u16(s, pf.as_str(), "sriov_numvfs")?;
    let netdev = s
        .list(&format!("{}/net", dev_path(pf.as_str())))
        .ok()
        .and_then(|v| v.into_iter().next());
    Ok(PfInfo {
        addr: pf.clone(),
        total_vfs: total,
        num_vfs: num,
        netdev,
    })
}

/// The PF's netdev ifindex (for netlink), found through sysfs.
pub fn pf_ifindex(s: &dyn Sysfs, pf: &PciAddr) -> Result<u32> {
    let net = format!("{}/net", dev_path(pf.as_str()));
    let names = s.list(&net).map_err(io_err(
        pf,
        "finding the PF's netdev (is its driver loaded?)",
    ))?;
    let name = names.first().ok_or_else(|| SriovError::Io {
        dev: pf.to_string(),
        what: "finding the PF's netdev".into(),
        source: io::Error::new(io::ErrorKind::NotFound, "the PF has no network interface"),
    })?;
    let text = s
        .read(&format!("{net}/{name}/ifindex"))
        .map_err(io_err(pf, "reading the netdev's ifindex"))?;
    text.trim().parse::<u32>().map_err(|_| SriovError::Io {
        dev: pf.to_string(),
        what: "reading the netdev's ifindex".into(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not a number"),
    })
}

/// Sets `sriov_drivers_autoprobe` (whether the kernel binds a driver to new VFs), read back.
pub fn set_autoprobe(s: &dyn Sysfs, pf: &PciAddr, on: bool) -> Result<()> {
    let path = format!("{}/sriov_drivers_autoprobe", dev_path(pf.as_str()));
    let what = format!("setting sriov_drivers_autoprobe to {}", on as u8);
    s.write(&path, if on { "1" } else { "0" })
        .map_err(io_err(pf, what.clone()))?;
    let back = s.read(&path).map_err(io_err(pf, what.clone()))?;
    if back.trim() != if on { "1" } else { "0" } {
        return Err(SriovError::Io {
            dev: pf.to_string(),
            what,
            source: io::Error::other(format!("read back {:?}", back.trim())),
        });
    }
    Ok(())
}

/// How long [`set_num_vfs`] waits for the `virtfnN` links by default.
pub const VF_WAIT: Duration = Duration::from_secs(10);

/// Enables exactly `n` VFs on `pf` (0 destroys them all).
///
/// A change N -> M with both non-zero goes through 0. The result is read
/// back: fewer than asked is [`SriovError::Fewer`] (the VFs the kernel did
/// enable are left as they are; [`apply_pf`] restores the previous count).
/// Then waits up to `wait` for every `virtfnN` link.
pub fn set_num_vfs(s: &dyn Sysfs, pf: &PciAddr, n: u16, wait: Duration) -> Result<u16> {
    let info = pf_info(s, pf)?;
    if n > info.total_vfs {
        return Err(SriovError::TooMany {
            pf: pf.clone(),
            asked: n,
            total: info.total_vfs,
        });
    }
    let path = format!("{}/sriov_numvfs", dev_path(pf.as_str()));
    if info.num_vfs != n {
        if info.num_vfs != 0 {
            s.write(&path, "0").map_err(io_err(
                pf,
                format!(
                    "writing 0 to sriov_numvfs (to go from {} to {n} VFs)",
                    info.num_vfs
                ),
            ))?;
            let now = read_u16(s, pf.as_str(), "sriov_numvfs")?;
            if now != 0 {
                return Err(SriovError::Io {
                    dev: pf.to_string(),
                    what: "destroying the VFs".into(),
                    source: io::Error::other(format!(
                        "sriov_numvfs still reads {now} after writing 0"
                    )),
                });
            }
        }
        if n != 0 {
            s.write(&path, &n.to_string())
                .map_err(io_err(pf, format!("writing {n} to sriov_numvfs")))?;
        }
    }
    let got = read_u16(s, pf.as_str(), "sriov_numvfs")?;
    if got != n {
        return Err(SriovError::Fewer {
            pf: pf.clone(),
            asked: n,
            got,
        });
    }
    wait_vfs(s, pf, n, wait)?;
    Ok(got)
}

/// Waits until `virtfn0..virtfn{n-1}` all exist.
pub fn wait_vfs(s: &dyn Sysfs, pf: &PciAddr, n: u16, wait: Duration) -> Result<()> {
    let start = Instant::now();
    let mut next = 0u16;
    let mut pause = Duration::from_micros(200);
    while next < n {
        if s.exists(&format!("{}/virtfn{next}", dev_path(pf.as_str()))) {
            next += 1;
            continue;
        }
        if start.elapsed() >= wait {
            return Err(SriovError::Timeout {
                pf: pf.clone(),
                index: next,
                num: n,
                waited: wait,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

/// The PCI address of a VF, through its PF's `virtfnN` link.
pub fn vf_addr(s: &dyn Sysfs, vf: &VfId) -> Result<PciAddr> {
    let link = s
        .read_link(&format!("{}/virtfn{}", dev_path(vf.pf.as_str()), vf.index))
        .map_err(|_| SriovError::NoSuchVf(vf.clone()))?;
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.parse::<PciAddr>().map_err(|e| SriovError::Io {
        dev: vf.to_string(),
        what: "reading the virtfn link".into(),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    })
}

/// Every enabled VF of `pf` with its PCI address, in index order.
pub fn list_vfs(s: &dyn Sysfs, pf: &PciAddr) -> Result<Vec<(VfId, PciAddr)>> {
    let info = pf_info(s, pf)?;
    (0..info.num_vfs)
        .map(|i| {
            let id = VfId {
                pf: pf.clone(),
                index: i,
            };
            vf_addr(s, &id).map(|a| (id, a))
        })
        .collect()
}

/// The driver a device is bound to, if any.
pub fn driver_of(s: &dyn Sysfs, dev: &str) -> Option<String> {
    s.read_link(&format!("{}/driver", dev_path(dev)))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Binds `dev` to `driver`: `driver_override`, unbind from its current
/// driver, bind, read back.
pub fn bind(s: &dyn Sysfs, dev: &PciAddr, driver: &str) -> Result<()> {
    if !s.exists(&format!("bus/pci/drivers/{driver}")) {
        return Err(SriovError::NoDriver(driver.to_string()));
    }
    let current = driver_of(s, dev.as_str());
    if current.as_deref() == Some(driver) {
        return Ok(());
    }
    s.write(
        &format!("{}/driver_override", dev_path(dev.as_str())),
        driver,
    )
    .map_err(io_err(dev, format!("writing {driver} to driver_override")))?;
    if let Some(old) = &current {
        s.write(&format!("bus/pci/drivers/{old}/unbind"), dev.as_str())
            .map_err(io_err(dev, format!("unbinding from {old}")))?;
    }
    s.write(&format!("bus/pci/drivers/{driver}/bind"), dev.as_str())
        .map_err(io_err(dev, format!("binding to {driver}")))?;
    let now = driver_of(s, dev.as_str());
    if now.as_deref() != Some(driver) {
        return Err(SriovError::BindFailed {
            dev: dev.clone(),
            driver: driver.to_string(),
            now: now.unwrap_or_else(|| "no driver".into()),
        });
    }
    Ok(())
}

/// Unbinds `dev` and clears `driver_override`, then binds it to `driver`
/// (if any): undoes [`bind`].
pub fn restore_driver(s: &dyn Sysfs, dev: &PciAddr, driver: Option<&str>) -> Result<()> {
    if let Some(cur) = driver_of(s, dev.as_str()) {
        if Some(cur.as_str()) == driver {
            return Ok(());
        }
        s.write(&format!("bus/pci/drivers/{cur}/unbind"), dev.as_str())
            .map_err(io_err(dev, format!("unbinding from {cur}")))?;
    }
    s.write(&format!("{}/driver_override", dev_path(dev.as_str())), "\n")
        .map_err(io_err(dev, "clearing driver_override"))?;
    if let Some(d) = driver {
        s.write(&format!("bus/pci/drivers/{d}/bind"), dev.as_str())
            .map_err(io_err(dev, format!("binding back to {d}")))?;
    }
    Ok(())
}

/// Checks that every device in `dev`'s IOMMU group is on vfio-pci (or has
/// no driver, or is a PCIe bridge on `pcieport`).
pub fn check_iommu_group(s: &dyn Sysfs, dev: &PciAddr) -> Result<()> {
    let group_link = s
        .read_link(&format!("{}/iommu_group", dev_path(dev.as_str())))
        .map_err(|_| SriovError::NoIommu(dev.clone()))?;
    let group = group_link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let members = s
        .list(&format!("kernel/iommu_groups/{group}/devices"))
        .map_err(io_err(dev, format!("listing IOMMU group {group}")))?;
    let others: Vec<(String, String)> = members
        .into_iter()
        .filter(|m| m != dev.as_str())
        .filter_map(|m| {
            let drv = driver_of(s, &m)?;
            (drv != "vfio-pci" && drv != "pcieport").then_some((m, drv))
        })
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        Err(SriovError::GroupNotViable {
            dev: dev.clone(),
            group,
            others,
        })
    }
}

/// What [`apply_pf`] changed, so it can be undone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PfChange {
    /// `sriov_numvfs` before.
    pub old_num_vfs: u16,
    /// `sriov_drivers_autoprobe` before, if changed.
    pub old_autoprobe: Option<bool>,
    /// VFs rebound, with their previous driver.
    pub rebound: Vec<(PciAddr, Option<String>)>,
}

/// Brings one PF to `num_vfs` VFs, sets autoprobe, binds every VF to
/// `driver` and checks the IOMMU groups. On any failure, undoes what it did
/// (drivers, then autoprobe, then the VF count) and returns the first error.
/// Returns the VFs' addresses and what changed (for [`undo_pf`]).
pub fn apply_pf(
    s: &dyn Sysfs,
    pf: &PciAddr,
    num_vfs: u16,
    autoprobe: Option<bool>,
    driver: Option<&str>,
    wait: Duration,
) -> Result<(Vec<(VfId, PciAddr)>, PfChange)> {
    let info = pf_info(s, pf)?;
    let mut change = PfChange {
        old_num_vfs: info.num_vfs,
        ..PfChange::default()
    };
    let result = (|| {
        if let Some(on) = autoprobe {
            let path = format!("{}/sriov_drivers_autoprobe", dev_path(pf.as_str()));
            let old = s.read(&path).map(|t| t.trim() == "1").unwrap_or(true);
            if old != on {
                set_autoprobe(s, pf, on)?;
                change.old_autoprobe = Some(old);
            }
        }
        set_num_vfs(s, pf, num_vfs, wait)?;
        let vfs = list_vfs(s, pf)?;
        if let Some(d) = driver {
            for (id, addr) in &vfs {
                let old = driver_of(s, addr.as_str());
                if old.as_deref() != Some(d) {
                    bind(s, addr, d).map_err(|e| name_vf(e, id, addr))?;
                    change.rebound.push((addr.clone(), old));
                }
            }
            if d == "vfio-pci" {
                for (_, addr) in &vfs {
                    check_iommu_group(s, addr)?;
                }
            }
        }
        Ok(vfs)
    })();
    match result {
        Ok(vfs) => Ok((vfs, change)),
        Err(e) => {
            undo_pf(s, pf, &change, wait);
            Err(e)
        }
    }
}

/// Names a VF by its key as well as its address in an I/O error.
fn name_vf(e: SriovError, id: &VfId, addr: &PciAddr) -> SriovError {
    match e {
        SriovError::Io { dev, what, source } if dev == addr.as_str() => SriovError::Io {
            dev: format!("{id} ({addr})"),
            what,
            source,
        },
        other => other,
    }
}

/// Best-effort undo of a [`PfChange`] (errors while undoing are ignored: the
/// first error is the one reported).
pub fn undo_pf(s: &dyn Sysfs, pf: &PciAddr, change: &PfChange, wait: Duration) {
    for (addr, old) in change.rebound.iter().rev() {
        let _ = restore_driver(s, addr, old.as_deref());
    }
    // Autoprobe before the count, so re-created VFs are probed as before.
    if let Some(old) = change.old_autoprobe {
        let _ = set_autoprobe(s, pf, old);
    }
    if let Ok(info) = pf_info(s, pf) {
        if info.num_vfs != change.old_num_vfs {
            let _ = set_num_vfs(s, pf, change.old_num_vfs, wait);
        }
    }
}
