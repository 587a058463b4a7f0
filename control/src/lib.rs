//! vfex control plane.
//!
//! Today: how a run is set up: the EAL argument list with vfex's defaults
//! ([`eal`]: hugepages when they can be had, `--no-huge` otherwise, a file
//! prefix of our own, clean-up of the runtime directory), and the embedded
//! default port set. Later issues add SR-IOV VF lifecycle, netlink VF
//! settings, the vEth registry and hitless rule publication.

pub mod eal;
