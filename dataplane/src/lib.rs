//! vfex dataplane: wire formats, burst kernels, the safe DPDK layer and the
//! forwarding engines that worker lcores run.
//!
//! Layers, bottom up:
//! - [`wire`]: frame views and `Repr`s (Ethernet, 802.1Q, 802.1ad, VN-Tag,
//!   E-Tag), safe Rust, no DPDK.
//! - [`kernels`]: burst encap/decap of VN-Tag, E-Tag and S-tag: a scalar
//!   reference and x86_64 SSE4.1/AVX2 versions chosen once at start-up.
//! - [`dpdk`]: the only module that touches `dpdk-sys`: EAL, mempools, ports,
//!   owned mbufs, fixed-capacity bursts, lcore launch, TSC.
//! - [`fwd`]: forwarding engines and the poll loop run on worker lcores.
//! - [`tables`]: what the role pipelines read: vEths, lists, MAC tables,
//!   compiled rules, published by RCU.
//! - [`pipeline`]: the forwarding roles (port extender, VEPA station,
//!   controlling bridge) with the per-vEth rules.
//! - [`worker`]: the poll loop that runs a role on worker lcores.

pub mod dpdk;
pub mod drop;
pub mod fwd;
pub mod kernels;
pub mod pipeline;
pub mod tables;
pub mod wire;
pub mod worker;
