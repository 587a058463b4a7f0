//! vfex control plane.
//!
//! What a run is set up from, and how it is changed while traffic flows:
//!
//! - [`eal`]: the EAL argument list with vfex's defaults.
//! - [`config`] and [`model`]: the TOML configuration file (ports, role and
//!   encapsulation, port profiles, vEths, VIF lists, SR-IOV), validated as a
//!   whole with every error reported at `file:line:column`.
//! - [`compile`]: profile inheritance and name resolution into one
//!   immutable, dataplane-independent [`compile::Compiled`] set.
//! - [`sriov`]: VF lifecycle through sysfs (injectable root), keyed by
//!   (PF PCI address, VF index), never by netdev name.
//! - [`netlink`]: VF settings through rtnetlink, one setting per request,
//!   journalled and rolled back newest-first on failure, verified by reading
//!   back.
//! - [`control`]: the control thread (pinned to the housekeeping core) that
//!   owns the configuration, answers commands, and publishes compiled sets
//!   through a [`control::TablePublisher`] in one step (hitless).
//! - [`testkit`]: a behavioural fake kernel (sysfs tree and netlink) for tests.
//!
//! No `unsafe` here: the only unsafe code lives in the DPDK layer.

#![forbid(unsafe_code)]

pub mod compile;
pub mod config;
pub mod control;
pub mod eal;
pub mod model;
pub mod netlink;
pub mod publish;
pub mod sriov;
pub mod testkit;
