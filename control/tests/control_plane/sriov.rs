//! SR-IOV through sysfs against the behavioural fake kernel.

use std::time::Duration;

use vfex_control::model::PciAddr;
use vfex_control::sriov::{self, SriovError, Sysfs, VfId};
use vfex_control::testkit::{EBUSY, EIO, ERANGE, FakeKernel};

const PF: &str = "0000:3b:00.0";
const WAIT: Duration = Duration::from_secs(2);

fn pf() -> PciAddr {
    PF.parse().unwrap()
}

fn kernel() -> FakeKernel {
    let k = FakeKernel::new().unwrap();
    k.add_pf(PF, 8, "enp59s0f0", 7).unwrap();
    k.add_device("0000:3b:00.1", Some("ice")).unwrap();
    k
}

fn numvfs(k: &FakeKernel) -> String {
    k.read(&format!("bus/pci/devices/{PF}/sriov_numvfs"))
        .unwrap()
        .trim()
        .to_string()
}

fn numvfs_writes(k: &FakeKernel) -> Vec<String> {
    k.writes()
        .into_iter()
        .filter(|(p, _)| p.ends_with("sriov_numvfs"))
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn lists_pfs_with_total_vfs() {
    let k = kernel();
    let pfs = sriov::list_pfs(&k).unwrap();
    assert_eq!(pfs.len(), 1, "only SR-IOV capable devices: {pfs:?}");
    assert_eq!(pfs[0].addr, pf());
    assert_eq!(pfs[0].total_vfs, 8);
    assert_eq!(pfs[0].num_vfs, 0);
    assert_eq!(pfs[0].netdev.as_deref(), Some("enp59s0f0"));
    assert_eq!(sriov::pf_ifindex(&k, &pf()).unwrap(), 7);
    let not_pf: PciAddr = "0000:3b:00.1".parse().unwrap();
    assert!(matches!(
        sriov::pf_info(&k, &not_pf),
        Err(SriovError::NotPf(_))
    ));
}

#[test]
fn creates_vfs_keyed_by_pf_and_index() {
    let k = kernel();
    assert_eq!(sriov::set_num_vfs(&k, &pf(), 4, WAIT).unwrap(), 4);
    let vfs = sriov::list_vfs(&k, &pf()).unwrap();
    assert_eq!(vfs.len(), 4);
    for (i, (id, addr)) in vfs.iter().enumerate() {
        assert_eq!(
            *id,
            VfId {
                pf: pf(),
                index: i as u16
            }
        );
        assert_eq!(addr.as_str(), FakeKernel::vf_addr(PF, i as u16));
        assert_eq!(
            sriov::driver_of(&k, addr.as_str()).as_deref(),
            Some("iavf"),
            "autoprobe is on by default"
        );
    }
    let e = sriov::vf_addr(&k, &VfId { pf: pf(), index: 4 }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PF 0000:3b:00.0 VF 4 does not exist (no virtfn link)"
    );
}

#[test]
fn changing_the_count_goes_through_zero() {
    let k = kernel();
    sriov::set_num_vfs(&k, &pf(), 4, WAIT).unwrap();
    sriov::set_num_vfs(&k, &pf(), 2, WAIT).unwrap();
    assert_eq!(numvfs_writes(&k), ["4", "0", "2"]);
    assert_eq!(sriov::list_vfs(&k, &pf()).unwrap().len(), 2);
    assert!(
        !k.exists(&format!("bus/pci/devices/{PF}/virtfn2")),
        "old VFs are gone"
    );
    // Same count: nothing written.
    sriov::set_num_vfs(&k, &pf(), 2, WAIT).unwrap();
    assert_eq!(numvfs_writes(&k).len(), 3);
    sriov::set_num_vfs(&k, &pf(), 0, WAIT).unwrap();
    assert_eq!(numvfs(&k), "0");
}

#[test]
fn fake_kernel_enforces_ebusy_and_erange() {
    let k = kernel();
    let path = format!("bus/pci/devices/{PF}/sriov_numvfs");
    assert_eq!(
        k.write(&path, "9").unwrap_err().raw_os_error(),
        Some(ERANGE)
    );
    k.write(&path, "3").unwrap();
    assert_eq!(k.write(&path, "5").unwrap_err().raw_os_error(), Some(EBUSY));
    // And the library never asks for more than sriov_totalvfs.
    let e = sriov::set_num_vfs(&k, &pf(), 9, WAIT).unwrap_err();
    assert_eq!(
        e.to_string(),
        "0000:3b:00.0: cannot enable 9 VFs: the PF supports at most 8 (sriov_totalvfs)"
    );
}

#[test]
fn fewer_vfs_than_asked_is_an_error_found_by_reading_back() {
    let k = kernel();
    k.limit_vfs(PF, 3);
    let e = sriov::set_num_vfs(&k, &pf(), 6, WAIT).unwrap_err();
    assert!(
        matches!(
            e,
            SriovError::Fewer {
                asked: 6,
                got: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("asked for 6 VFs but the kernel enabled 3"),
        "{e}"
    );
    assert_eq!(
        numvfs(&k),
        "3",
        "set_num_vfs leaves what the kernel enabled"
    );
    // apply_pf restores the previous count.
    sriov::set_num_vfs(&k, &pf(), 0, WAIT).unwrap();
    let e = sriov::apply_pf(&k, &pf(), 6, None, None, WAIT).unwrap_err();
    assert!(matches!(e, SriovError::Fewer { .. }));
    assert_eq!(numvfs(&k), "0");
}

#[test]
fn waits_for_vfs_that_appear_late_with_a_timeout() {
    let k = kernel();
    k.set_vf_delay(Duration::from_millis(30));
    let t = std::time::Instant::now();
    sriov::set_num_vfs(&k, &pf(), 2, WAIT).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert_eq!(sriov::list_vfs(&k, &pf()).unwrap().len(), 2);
    sriov::set_num_vfs(&k, &pf(), 0, WAIT).unwrap();
    k.set_vf_delay(Duration::from_secs(60));
    let e = sriov::set_num_vfs(&k, &pf(), 2, Duration::from_millis(20)).unwrap_err();
    assert!(
        matches!(
            e,
            SriovError::Timeout {
                index: 0,
                num: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("0000:3b:00.0: virtfn0 did not appear within"),
        "{e}"
    );
}

#[test]
fn autoprobe_is_set_and_read_back() {
    let k = kernel();
    sriov::set_autoprobe(&k, &pf(), false).unwrap();
    assert_eq!(
        k.read(&format!("bus/pci/devices/{PF}/sriov_drivers_autoprobe"))
            .unwrap()
            .trim(),
        "0"
    );
    sriov::set_num_vfs(&k, &pf(), 2, WAIT).unwrap();
    let vf = sriov::vf_addr(&k, &VfId { pf: pf(), index: 0 }).unwrap();
    assert_eq!(
        sriov::driver_of(&k, vf.as_str()),
        None,
        "no driver without autoprobe"
    );
}

#[test]
fn binds_a_vf_to_vfio_through_driver_override() {
    let k = kernel();
    sriov::set_num_vfs(&k, &pf(), 2, WAIT).unwrap();
    let vf = sriov::vf_addr(&k, &VfId { pf: pf(), index: 1 }).unwrap();
    sriov::bind(&k, &vf, "vfio-pci").unwrap();
    assert_eq!(
        sriov::driver_of(&k, vf.as_str()).as_deref(),
        Some("vfio-pci")
    );
    let w: Vec<(String, String)> = k
        .writes()
        .into_iter()
        .filter(|(p, _)| !p.ends_with("sriov_numvfs"))
        .collect();
    let d = vf.as_str();
    assert_eq!(
        w,
        [
            (
                format!("bus/pci/devices/{d}/driver_override"),
                "vfio-pci".into()
            ),
            ("bus/pci/drivers/iavf/unbind".into(), d.into()),
            ("bus/pci/drivers/vfio-pci/bind".into(), d.into()),
        ]
    );
    sriov::check_iommu_group(&k, &vf).unwrap();
    // The fake's bind obeys driver_override.
    sriov::restore_driver(&k, &vf, None).unwrap();
    k.write(&format!("bus/pci/devices/{d}/driver_override"), "iavf")
        .unwrap();
    let e = k.write("bus/pci/drivers/vfio-pci/bind", d).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(19));
}

#[test]
fn missing_vfio_driver_is_a_clear_error() {
    let k = kernel();
    std::fs::remove_dir_all(k.root().join("bus/pci/drivers/vfio-pci")).unwrap();
    sriov::set_num_vfs(&k, &pf(), 1, WAIT).unwrap();
    let e = sriov::apply_pf(&k, &pf(), 1, None, Some("vfio-pci"), WAIT).unwrap_err();
    assert_eq!(
        e.to_string(),
        "driver vfio-pci is not loaded (no /sys/bus/pci/drivers/vfio-pci); run `modprobe vfio-pci`"
    );
}

#[test]
fn non_viable_iommu_group_is_refused_and_undone() {
    let k = kernel();
    k.share_group(PF, 1, "0000:3b:00.2", "ice").unwrap();
    let e = sriov::apply_pf(&k, &pf(), 2, Some(false), Some("vfio-pci"), WAIT).unwrap_err();
    let vf1 = FakeKernel::vf_addr(PF, 1);
    assert!(matches!(e, SriovError::GroupNotViable { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{vf1}: IOMMU group ")), "{msg}");
    assert!(
        msg.contains(
            "is not viable for vfio: 0000:3b:00.2 (on ice) must also be bound to vfio-pci"
        ),
        "{msg}"
    );
    // Undone: no VFs, autoprobe back on.
    assert_eq!(numvfs(&k), "0");
    assert_eq!(
        k.read(&format!("bus/pci/devices/{PF}/sriov_drivers_autoprobe"))
            .unwrap()
            .trim(),
        "1"
    );
}

/// Every sysfs step of a full PF apply fails once; each time the error names
/// the device and the step, and the PF is back as it was.
#[test]
fn every_sysfs_failure_is_reported_and_rolled_back() {
    let steps = [
        (
            "sriov_drivers_autoprobe",
            1,
            Some(false),
            "setting sriov_drivers_autoprobe to 0",
        ),
        (
            "sriov_numvfs",
            1,
            Some(false),
            "writing 0 to sriov_numvfs (to go from 2 to 4 VFs)",
        ),
        ("sriov_numvfs", 2, Some(false), "writing 4 to sriov_numvfs"),
        (
            "driver_override",
            1,
            Some(false),
            "writing vfio-pci to driver_override",
        ),
        (
            "driver_override",
            3,
            Some(false),
            "writing vfio-pci to driver_override",
        ),
        ("vfio-pci/bind", 4, Some(false), "binding to vfio-pci"),
        // With autoprobe left on, new VFs come up on iavf and must be unbound.
        ("/unbind", 2, None, "unbinding from iavf"),
        ("vfio-pci/bind", 3, None, "binding to vfio-pci"),
    ];
    for (path, k_th, autoprobe, what) in steps {
        let k = kernel();
        sriov::set_num_vfs(&k, &pf(), 2, WAIT).unwrap();
        let before: Vec<_> = sriov::list_vfs(&k, &pf()).unwrap();
        k.fail_write(path, k_th, EIO);
        let e = sriov::apply_pf(&k, &pf(), 4, autoprobe, Some("vfio-pci"), WAIT).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(what) && msg.contains("Input/output error"),
            "{path}#{k_th}: {msg}"
        );
        assert!(
            msg.starts_with("0000:3b:00.0: ") || msg.starts_with("PF 0000:3b:00.0 VF "),
            "names the PF or the VF by its key: {msg}"
        );
        assert_eq!(numvfs(&k), "2", "{path}#{k_th}: VF count restored");
        assert_eq!(
            k.read(&format!("bus/pci/devices/{PF}/sriov_drivers_autoprobe"))
                .unwrap()
                .trim(),
            "1",
            "{path}#{k_th}"
        );
        let after = sriov::list_vfs(&k, &pf()).unwrap();
        assert_eq!(after, before, "{path}#{k_th}: same VFs");
        for (_, a) in &after {
            assert_eq!(
                sriov::driver_of(&k, a.as_str()).as_deref(),
                Some("iavf"),
                "{path}#{k_th}: driver restored"
            );
        }
    }
}

#[test]
fn full_apply_succeeds_and_is_idempotent() {
    let k = kernel();
    let (vfs, change) = sriov::apply_pf(&k, &pf(), 4, Some(false), Some("vfio-pci"), WAIT).unwrap();
    assert_eq!(vfs.len(), 4);
    assert_eq!(change.old_num_vfs, 0);
    for (_, a) in &vfs {
        assert_eq!(
            sriov::driver_of(&k, a.as_str()).as_deref(),
            Some("vfio-pci")
        );
    }
    let n = k.writes().len();
    let (again, change) =
        sriov::apply_pf(&k, &pf(), 4, Some(false), Some("vfio-pci"), WAIT).unwrap();
    assert_eq!(again, vfs);
    assert!(change.rebound.is_empty());
    assert_eq!(k.writes().len(), n, "nothing to write the second time");
}

#[test]
fn real_sysfs_lists_without_error() {
    // This machine may have no SR-IOV device at all; listing must still work
    // on the real layout (devices are symlinks there).
    let real = sriov::RealSysfs::system();
    if real.exists("bus/pci/devices") {
        let pfs = sriov::list_pfs(&real).unwrap();
        for p in pfs {
            assert!(p.total_vfs > 0);
        }
    }
}
