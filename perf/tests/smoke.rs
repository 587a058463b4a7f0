//! Functional smoke test: vfex-perf runs vfex on a net_null pair for one
//! short round and reports a forwarded row (not a performance test: no
//! figure is checked, only that the harness measured and verified traffic).

use std::path::PathBuf;
use std::process::Command;

fn vfex() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    ["target/release/vfex", "target/debug/vfex"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.exists())
}

#[test]
fn io_on_net_null_one_round() {
    let Some(vfex) = vfex() else {
        eprintln!("no vfex binary built (cargo build -p vfex): skipped");
        return;
    };
    let out_dir = std::env::temp_dir().join(format!("vfex-perf-smoke-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_vfex-perf"))
        .args([
            "io",
            "--inputs",
            "null",
            "--duration",
            "1",
            "--warmup",
            "0.5",
            "--rounds",
            "1",
        ])
        .args([
            "--peers",
            "none",
            "--no-perf-stat",
            "--memory",
            "nohuge",
            "--vfex",
        ])
        .arg(&vfex)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("vfex-perf runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| io | net_null pair | 64 | 1 | vfex io |"))
        .unwrap_or_else(|| panic!("no io row:\n{stdout}\n{stderr}"));
    assert!(
        row.contains("| yes |"),
        "not verified as forwarded: {row}\n{stderr}"
    );
    let dirs: Vec<_> = std::fs::read_dir(&out_dir).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 1);
    for f in ["results.json", "table.md"] {
        assert!(dirs[0].path().join(f).exists(), "{f}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dirs[0].path().join("results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["rows"][0]["forwarded"], true);
    assert!(json["rows"][0]["vfex_runs"][0]["rx"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(&out_dir).ok();
}
