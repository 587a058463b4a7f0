//! Build script: find libdpdk with pkg-config, generate bindings with bindgen,
//! compile the C shim with libdpdk's own cflags, and link (shared by default,
//! static with the `static` feature).

use std::env;
use std::path::PathBuf;
use std::process::{Command, exit};

const MIN_VERSION: &str = "22.11";

fn fail(msg: &str) -> ! {
    // Cargo prints build-script stderr on failure; keep the actionable line first.
    eprintln!(
        "error: dpdk-sys: {msg}; run scripts/setup.sh (installs libdpdk-dev, pkg-config, clang)"
    );
    println!("cargo::error=dpdk-sys: {msg}; run scripts/setup.sh");
    exit(1);
}

fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run pkg-config ({e})")));
    if !out.status.success() {
        fail(&format!(
            "pkg-config {} libdpdk failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn main() {
    println!("cargo::rerun-if-changed=shim/shim.c");
    println!("cargo::rerun-if-changed=shim/shim.h");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");

    let statik = env::var_os("CARGO_FEATURE_STATIC").is_some();
    let lib = pkg_config::Config::new()
        .atleast_version(MIN_VERSION)
        .cargo_metadata(false)
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            let first = e.to_string().lines().next().unwrap_or_default().to_owned();
            fail(&format!("libdpdk >= {MIN_VERSION} not found ({first})"))
        });

    // Same cflags as libdpdk itself: -include rte_config.h, -march=..., include dirs.
    let cflags = pkg_config(&["--cflags"]);
    let mut build = cc::Build::new();
    build
        .file("shim/shim.c")
        .include("shim")
        .opt_level(3)
        // cpu_set_t (rte_lcore_cpuset) needs the GNU extensions.
        .define("_GNU_SOURCE", None)
        .warnings(true);
    for f in &cflags {
        build.flag(f);
    }
    build.compile("vfex_shim");

    link(statik, &lib);

    let mut clang_args: Vec<String> = cflags.clone();
    clang_args.push("-Ishim".into());
    let bindings = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_.*|vfex_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|rte_.*")
        // These two contain bitfield layouts bindgen cannot represent.
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        // Thread-local per-lcore variables must be read through the shim.
        .blocklist_var("per_lcore_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on shim/shim.h: {e}")));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write bindings: {e}")));
}

fn link(statik: bool, lib: &pkg_config::Library) {
    if !statik {
        for p in &lib.link_paths {
            println!("cargo::rustc-link-search=native={}", p.display());
        }
        for l in &lib.libs {
            println!("cargo::rustc-link-lib=dylib={l}");
        }
        // Driver libraries whose APIs we call directly (pkg-config lists only
        // the core libraries; EAL loads the PMDs themselves from its driver
        // directory at run time).
        for l in ["rte_bus_vdev", "rte_net_ring"] {
            println!("cargo::rustc-link-lib=dylib={l}");
        }
        return;
    }
    // Static: every librte_* archive whole-archive so PMD constructors register
    // their drivers, then the system libraries they need.
    let flags = pkg_config(&["--static", "--libs"]);
    let mut search = Vec::new();
    for f in &flags {
        if let Some(p) = f.strip_prefix("-L") {
            search.push(p.to_owned());
            println!("cargo::rustc-link-search=native={p}");
        }
    }
    search.push("/usr/lib/x86_64-linux-gnu".into());
    println!("cargo::rustc-link-search=native=/usr/lib/x86_64-linux-gnu");
    let mut seen = std::collections::HashSet::new();
    for f in &flags {
        let name = if let Some(n) = f.strip_prefix("-l:") {
            n.strip_prefix("lib")
                .and_then(|n| n.strip_suffix(".a"))
                .unwrap_or(n)
                .to_owned()
        } else if let Some(n) = f.strip_prefix("-l") {
            n.to_owned()
        } else {
            continue;
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        if name.starts_with("rte_") {
            println!("cargo::rustc-link-lib=static:+whole-archive,-bundle={name}");
        } else {
            println!("cargo::rustc-link-lib=dylib={name}");
        }
    }
}
