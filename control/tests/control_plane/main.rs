//! Control-plane tests: configuration files, SR-IOV against the fake
//! kernel, netlink VF settings (fake, golden bytes, real kernel in a private
//! network namespace), and the control thread.

mod config;
mod netlink;
mod sriov;
mod thread;

use std::path::PathBuf;

/// The repository's examples/ directory.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}
