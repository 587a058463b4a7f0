//! vfex-perf: runs vfex and its peer (dpdk-testpmd) on the same virtual
//! devices and memory settings, alternating A B A B, and reports Mpps per
//! forwarding core for both with the ratio.
//!
//! Usage: vfex-perf io [options]   (see --help)

use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};
use std::time::Duration;
use vfex_control::eal::{HugepageInfo, remove_runtime_dir, runtime_dir};

const HELP: &str = "\
vfex-perf: vfex side by side with dpdk-testpmd

Usage: vfex-perf io [options]

Runs `vfex --forward-mode io` and `dpdk-testpmd --forward-mode=io` on the same virtual
devices and memory settings, one forwarding core each, alternating A B A B, and prints
the median (min..max) Mpps per forwarding core of each and the ratio vfex/testpmd.

Options:
  --inputs LIST       comma-separated: null (net_null pair), ring (net_ring loop pair,
                      started with --tx-first) [null,ring]
  --rounds N          A/B rounds per input [3]
  --duration SECONDS  run time of each run [5]
  --memory MODE       huge (hugepages, --in-memory), nohuge (--no-huge -m 1024) or auto [auto]
  --lcores LIST       EAL -l for both tools (main lcore first) [0,1]
  --vfex PATH         vfex binary [target/release/vfex]
  --testpmd PATH      testpmd binary [dpdk-testpmd]
  --json FILE         also write the results as JSON
  -h, --help          this help
";

struct Args {
    inputs: Vec<String>,
    rounds: usize,
    duration: u64,
    memory: String,
    lcores: String,
    vfex: String,
    testpmd: String,
    json: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        inputs: vec!["null".into(), "ring".into()],
        rounds: 3,
        duration: 5,
        memory: "auto".into(),
        lcores: "0,1".into(),
        vfex: "target/release/vfex".into(),
        testpmd: "dpdk-testpmd".into(),
        json: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|x| x == "-h" || x == "--help") || argv.is_empty() {
        print!("{HELP}");
        std::process::exit(0);
    }
    if argv[0] != "io" {
        bail!("unknown scenario {:?}: expected io (see --help)", argv[0]);
    }
    let mut it = argv[1..].iter();
    while let Some(k) = it.next() {
        let mut v = || {
            it.next()
                .cloned()
                .with_context(|| format!("{k} needs a value"))
        };
        match k.as_str() {
            "--inputs" => a.inputs = v()?.split(',').map(str::to_owned).collect(),
            "--rounds" => a.rounds = v()?.parse().context("--rounds")?,
            "--duration" => a.duration = v()?.parse().context("--duration")?,
            "--memory" => a.memory = v()?,
            "--lcores" => a.lcores = v()?,
            "--vfex" => a.vfex = v()?,
            "--testpmd" => a.testpmd = v()?,
            "--json" => a.json = Some(v()?),
            _ => bail!("unknown option {k:?} (see --help)"),
        }
    }
    for i in &a.inputs {
        if i != "null" && i != "ring" {
            bail!("unknown input {i:?}: expected null or ring");
        }
    }
    if a.rounds == 0 || a.duration < 2 {
        bail!("--rounds must be >= 1 and --duration >= 2");
    }
    Ok(a)
}

fn devices(input: &str) -> Vec<String> {
    match input {
        "null" => vec![
            "--vdev".into(),
            "net_null0".into(),
            "--vdev".into(),
            "net_null1".into(),
        ],
        _ => vec![
            "--vdev".into(),
            "net_ring0".into(),
            "--vdev".into(),
            "net_ring1".into(),
        ],
    }
}

fn memory_args(mode: &str) -> Result<(Vec<String>, bool)> {
    let huge = match mode {
        "huge" => true,
        "nohuge" => false,
        "auto" => HugepageInfo::probe().usable(),
        m => bail!("unknown --memory {m:?}: expected huge, nohuge or auto"),
    };
    Ok(if huge {
        (vec!["--in-memory".into()], true)
    } else {
        (vec!["--no-huge".into(), "-m".into(), "1024".into()], false)
    })
}

/// Per-period total rx pps figures after dropping warm-up (zero periods and
/// the first non-zero one).
fn steady(periods: Vec<f64>) -> Vec<f64> {
    let mut v: Vec<f64> = periods
        .into_iter()
        .skip_while(|x| *x == 0.0)
        .skip(1)
        .collect();
    // The last period may be cut short by the stop.
    if v.len() > 2 {
        v.pop();
    }
    v
}

fn strip_ansi(s: &str) -> String {
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

/// vfex prints one `total ... rx-pps N` line per period.
fn parse_vfex(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains("] total"))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|t| *t == "rx-pps")
                .and_then(|_| w.next())
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// testpmd prints, per period, one block per port with `Rx-pps: N`.
fn parse_testpmd(out: &str, nports: usize) -> Vec<f64> {
    let v: Vec<f64> = strip_ansi(out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Rx-pps:"))
        .filter_map(|r| r.split_whitespace().next().and_then(|n| n.parse().ok()))
        .collect();
    v.chunks(nports)
        .filter(|c| c.len() == nports)
        .map(|c| c.iter().sum())
        .collect()
}

fn run_vfex(a: &Args, input: &str, mem: &[String], prefix: &str) -> Result<Vec<f64>> {
    let mut cmd = Command::new(&a.vfex);
    cmd.args(["-l", &a.lcores, "--no-pci", "--file-prefix", prefix])
        .args(mem)
        .args(devices(input))
        .args([
            "--",
            "--forward-mode",
            "io",
            "--nb-cores",
            "1",
            "--stats-period",
            "1",
        ])
        .args(["--duration", &a.duration.to_string()]);
    if input == "ring" {
        cmd.arg("--tx-first");
    }
    let out = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", a.vfex))?;
    remove_runtime_dir(&runtime_dir(prefix)).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "vfex failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(parse_vfex(&text))
}

fn run_testpmd(a: &Args, input: &str, mem: &[String], prefix: &str) -> Result<Vec<f64>> {
    let mut cmd = Command::new(&a.testpmd);
    cmd.args(["-l", &a.lcores, "--no-pci", "--file-prefix", prefix])
        .args(mem)
        .args(devices(input))
        .args([
            "--",
            "--forward-mode=io",
            "--nb-cores=1",
            "--stats-period",
            "1",
        ]);
    if input == "ring" {
        cmd.arg("--tx-first");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (install it with scripts/setup.sh: package dpdk)",
                a.testpmd
            )
        })?;
    let pid = child.id();
    // testpmd forwards until SIGINT, then prints its final stats and exits.
    std::thread::sleep(Duration::from_secs(a.duration) + Duration::from_millis(300));
    // Signal through kill(1): this crate has no unsafe code.
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .ok();
    let out = child.wait_with_output()?;
    remove_runtime_dir(&runtime_dir(prefix)).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    let v = parse_testpmd(&text, 2);
    if v.is_empty() {
        bail!(
            "testpmd printed no stats ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(v)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<()> {
    let a = parse_args()?;
    let (mem, huge) = memory_args(&a.memory)?;
    let mut rows = Vec::new();
    println!(
        "vfex-perf io: {} round(s) x {} s per tool per input, memory: {}, lcores {}",
        a.rounds,
        a.duration,
        if huge {
            "hugepages (--in-memory)"
        } else {
            "no hugepages (--no-huge -m 1024)"
        },
        a.lcores
    );
    for input in &a.inputs {
        let (mut vf, mut tp) = (Vec::new(), Vec::new());
        for r in 0..a.rounds {
            let x = steady(run_vfex(&a, input, &mem, "vfex-perf-a")?);
            let y = steady(run_testpmd(&a, input, &mem, "vfex-perf-b")?);
            if x.is_empty() || x.iter().all(|v| *v == 0.0) {
                bail!("vfex forwarded nothing on {input}");
            }
            if y.is_empty() || y.iter().all(|v| *v == 0.0) {
                bail!("testpmd forwarded nothing on {input}");
            }
            let (mx, my) = (median(&mut x.clone()), median(&mut y.clone()));
            eprintln!(
                "  [{input}] round {}/{}: vfex {:.2} Mpps, testpmd {:.2} Mpps, ratio {:.3}",
                r + 1,
                a.rounds,
                mx / 1e6,
                my / 1e6,
                mx / my
            );
            vf.push(mx);
            tp.push(my);
        }
        let mut ratios: Vec<f64> = vf.iter().zip(&tp).map(|(x, y)| x / y).collect();
        let row = serde_json::json!({
            "input": input,
            "vfex_mpps_median": median(&mut vf.clone()) / 1e6,
            "vfex_mpps_min": vf.iter().cloned().fold(f64::INFINITY, f64::min) / 1e6,
            "vfex_mpps_max": vf.iter().cloned().fold(0.0, f64::max) / 1e6,
            "testpmd_mpps_median": median(&mut tp.clone()) / 1e6,
            "testpmd_mpps_min": tp.iter().cloned().fold(f64::INFINITY, f64::min) / 1e6,
            "testpmd_mpps_max": tp.iter().cloned().fold(0.0, f64::max) / 1e6,
            "ratio_median": median(&mut ratios),
            "ratio_of_medians": median(&mut vf.clone()) / median(&mut tp.clone()),
            "rounds": a.rounds,
            "duration_s": a.duration,
            "hugepages": huge,
        });
        rows.push(row);
    }
    println!(
        "\n| input | vfex io Mpps/core (median, min..max) | testpmd io Mpps/core (median, min..max) | ratio vfex/testpmd |"
    );
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.2} ({:.2}..{:.2}) | {:.2} ({:.2}..{:.2}) | {:.3} |",
            r["input"].as_str().unwrap_or(""),
            r["vfex_mpps_median"].as_f64().unwrap_or(0.0),
            r["vfex_mpps_min"].as_f64().unwrap_or(0.0),
            r["vfex_mpps_max"].as_f64().unwrap_or(0.0),
            r["testpmd_mpps_median"].as_f64().unwrap_or(0.0),
            r["testpmd_mpps_min"].as_f64().unwrap_or(0.0),
            r["testpmd_mpps_max"].as_f64().unwrap_or(0.0),
            r["ratio_median"].as_f64().unwrap_or(0.0),
        );
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("writing {p}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_testpmd_periods() {
        let out = "\x1b[2J\x1b[1;1H  ######## NIC statistics for port 0 ###\n  Rx-pps:     100          Rx-bps: 0\n  Rx-pps:     50  Rx-bps: 0\n  Rx-pps: 7\n  Rx-pps: 3\n";
        assert_eq!(parse_testpmd(out, 2), vec![150.0, 10.0]);
    }

    #[test]
    fn parses_vfex_totals() {
        let out = "[    1.0 s] port 0 x rx-pps 5 tx-pps 5\n[    1.0 s] total                rx-pps    32121512  tx-pps 1\n";
        assert_eq!(parse_vfex(out), vec![32121512.0]);
    }

    #[test]
    fn steady_drops_warmup() {
        assert_eq!(
            steady(vec![0.0, 0.0, 5.0, 10.0, 11.0, 12.0, 3.0]),
            vec![10.0, 11.0, 12.0]
        );
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
