//! vfex-perf: runs vfex and its peer (dpdk-testpmd) on the same virtual
//! devices and memory settings, alternating A B A B, and reports Mpps per
//! forwarding core for both with the ratio.
//!
//! Usage: `vfex-perf io|fwd [options]` (see `--help`)

use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};
use std::time::Duration;
use vfex_control::eal::{HugepageInfo, remove_runtime_dir, runtime_dir};

const HELP: &str = "\
vfex-perf: vfex side by side with dpdk-testpmd

Usage: vfex-perf io [options]            vfex io vs testpmd io
       vfex-perf fwd --modes LIST [options] each vfex forward mode vs testpmd io

Runs vfex (`--forward-mode MODE`) and `dpdk-testpmd --forward-mode=io` on the same virtual
devices and memory settings, one forwarding core each, alternating A B A B, and prints the
median (min..max) Mpps per forwarding core, cycles per packet (TSC), the cost each mode adds
over vfex io in cycles per packet, and the ratio to testpmd io from the same rounds.

Options:
  --modes LIST        vfex forward modes to run (fwd scenario) [io]
  --inputs LIST       comma-separated: null (net_null pair), ring (net_ring loop pair,
                      started with --tx-first) [null,ring]
  --rounds N          A/B rounds per input [3]
  --duration SECONDS  run time of each run [5]
  --memory MODE       huge (hugepages, --in-memory), nohuge (--no-huge -m 1024) or auto [auto]
  --lcores LIST       EAL -l for both tools (main lcore first) [0,1]
  --vfex PATH         vfex binary [target/release/vfex]
  --testpmd PATH      testpmd binary [dpdk-testpmd]
  --json FILE         also write the results as JSON
  --no-perf-stat      do not count CPU cycles with `perf stat` (by default, when perf can
                      count cycles here, every run is wrapped in `perf stat -I 1000` and the
                      report adds cycles per packet as the CPU counted them: unlike Mpps this
                      does not move with the time the hypervisor gives the VM)
  -h, --help          this help
";

struct Args {
    perf_stat: bool,
    modes: Vec<String>,
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
        perf_stat: true,
        modes: vec!["io".into()],
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
    if argv[0] != "io" && argv[0] != "fwd" {
        bail!(
            "unknown scenario {:?}: expected io or fwd (see --help)",
            argv[0]
        );
    }
    let mut it = argv[1..].iter();
    while let Some(k) = it.next() {
        let mut v = || {
            it.next()
                .cloned()
                .with_context(|| format!("{k} needs a value"))
        };
        match k.as_str() {
            "--modes" if argv[0] == "fwd" => a.modes = v()?.split(',').map(str::to_owned).collect(),
            "--inputs" => a.inputs = v()?.split(',').map(str::to_owned).collect(),
            "--rounds" => a.rounds = v()?.parse().context("--rounds")?,
            "--duration" => a.duration = v()?.parse().context("--duration")?,
            "--memory" => a.memory = v()?,
            "--lcores" => a.lcores = v()?,
            "--vfex" => a.vfex = v()?,
            "--testpmd" => a.testpmd = v()?,
            "--json" => a.json = Some(v()?),
            "--no-perf-stat" => a.perf_stat = false,
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

/// Whether `perf stat` can count cycles on this machine.
fn perf_can_count() -> bool {
    Command::new("perf")
        .args(["stat", "-x,", "-e", "cycles", "--", "true"])
        .output()
        .map(|o| {
            let e = String::from_utf8_lossy(&o.stderr);
            o.status.success() && e.contains("cycles") && !e.contains("<not supported>")
        })
        .unwrap_or(false)
}

/// The command for `program`, wrapped in `perf stat -I 1000` writing CSV to
/// `csv` when `a.perf_stat`.
fn command(a: &Args, program: &str, csv: &std::path::Path) -> Command {
    if a.perf_stat {
        let mut c = Command::new("perf");
        c.args(["stat", "-I", "1000", "-x,", "-e", "cycles", "-o"])
            .arg(csv)
            .arg("--")
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Cycles per second from `perf stat -I` CSV: the median of the busy
/// intervals (those above 80 % of the busiest), each scaled to one second.
fn cycles_per_sec(csv: &std::path::Path) -> Option<f64> {
    let text = std::fs::read_to_string(csv).ok()?;
    let mut prev = 0.0;
    let mut rates = Vec::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = l.split(',').collect();
        let (Some(t), Some(c)) = (
            f.first().and_then(|t| t.trim().parse::<f64>().ok()),
            f.get(1),
        ) else {
            continue;
        };
        let dt = t - prev;
        prev = t;
        if let Ok(c) = c.parse::<f64>()
            && dt > 0.5
        {
            rates.push(c / dt);
        }
    }
    let max = rates.iter().cloned().fold(0.0, f64::max);
    let mut busy: Vec<f64> = rates.into_iter().filter(|r| *r > 0.8 * max).collect();
    (!busy.is_empty()).then(|| median(&mut busy))
}

fn run_vfex(
    a: &Args,
    mode: &str,
    input: &str,
    mem: &[String],
    prefix: &str,
) -> Result<(Vec<f64>, f64, Option<f64>)> {
    let csv = std::env::temp_dir().join(format!("{prefix}-{}.csv", std::process::id()));
    let mut cmd = command(a, &a.vfex, &csv);
    cmd.args(["-l", &a.lcores, "--no-pci", "--file-prefix", prefix])
        .args(mem)
        .args(devices(input))
        .args([
            "--",
            "--forward-mode",
            mode,
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
    let hz = text
        .split_whitespace()
        .skip_while(|w| *w != "tsc-hz")
        .nth(1)
        .and_then(|h| h.parse::<f64>().ok())
        .unwrap_or(0.0);
    let cps = if a.perf_stat {
        cycles_per_sec(&csv)
    } else {
        None
    };
    std::fs::remove_file(&csv).ok();
    Ok((parse_vfex(&text), hz, cps))
}

fn run_testpmd(
    a: &Args,
    input: &str,
    mem: &[String],
    prefix: &str,
) -> Result<(Vec<f64>, Option<f64>)> {
    use std::io::BufRead;
    let csv = std::env::temp_dir().join(format!("{prefix}-{}.csv", std::process::id()));
    let mut cmd = command(a, &a.testpmd, &csv);
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
    // Its own process group, so that one signal reaches testpmd and the
    // `perf stat` around it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
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
    // testpmd can take seconds to start (it locks its whole pool in memory):
    // read its periods as they come and stop it once it has forwarded for
    // `duration` periods (plus one of warm-up), or after a generous timeout.
    let stdout = child.stdout.take().context("testpmd stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let want = a.duration as usize + 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(a.duration + 60);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                text.push_str(&l);
                text.push('\n');
                let busy = parse_testpmd(&text, 2)
                    .into_iter()
                    .skip_while(|x| *x == 0.0)
                    .count();
                if busy > want {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    // Signal through kill(1): this crate has no unsafe code.
    Command::new("kill")
        .args(["-INT", "--", &format!("-{pid}")])
        .status()
        .ok();
    let out = child.wait_with_output()?;
    reader.join().ok();
    remove_runtime_dir(&runtime_dir(prefix)).ok();
    let v = parse_testpmd(&text, 2);
    if v.is_empty() {
        bail!(
            "testpmd printed no stats ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cps = if a.perf_stat {
        cycles_per_sec(&csv)
    } else {
        None
    };
    std::fs::remove_file(&csv).ok();
    Ok((v, cps))
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
    let mut a = a;
    if a.perf_stat && !perf_can_count() {
        eprintln!(
            "vfex-perf: perf cannot count cycles here (install linux-perf, or run as root): reporting Mpps only"
        );
        a.perf_stat = false;
    }
    let a = a;
    let mut rows = Vec::new();
    println!(
        "vfex-perf: modes {} vs testpmd io, {} round(s) x {} s per tool per input, memory: {}, lcores {}",
        a.modes.join(","),
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
        // Per mode: per-round medians; testpmd io per round.
        let mut vf: Vec<Vec<f64>> = vec![Vec::new(); a.modes.len()];
        let mut tp = Vec::new();
        // CPU cycles per packet as perf counted them, per round.
        let mut vf_cpu: Vec<Vec<f64>> = vec![Vec::new(); a.modes.len()];
        let mut tp_cpu = Vec::new();
        let mut hz = 0.0;
        for r in 0..a.rounds {
            for (k, mode) in a.modes.iter().enumerate() {
                let (x, h, cps) = run_vfex(&a, mode, input, &mem, "vfex-perf-a")?;
                let x = steady(x);
                if x.is_empty() || x.iter().all(|v| *v == 0.0) {
                    bail!("vfex {mode} forwarded nothing on {input}");
                }
                hz = h;
                let pps = median(&mut x.clone());
                vf[k].push(pps);
                if let Some(c) = cps {
                    vf_cpu[k].push(c / pps);
                }
            }
            let (y, cps) = run_testpmd(&a, input, &mem, "vfex-perf-b")?;
            let y = steady(y);
            if y.is_empty() || y.iter().all(|v| *v == 0.0) {
                bail!("testpmd forwarded nothing on {input}");
            }
            let pps = median(&mut y.clone());
            tp.push(pps);
            if let Some(c) = cps {
                tp_cpu.push(c / pps);
            }
            let line: Vec<String> = a
                .modes
                .iter()
                .zip(&vf)
                .map(|(m, v)| format!("vfex {m} {:.2}", v[r] / 1e6))
                .collect();
            eprintln!(
                "  [{input}] round {}/{}: {}, testpmd io {:.2} Mpps",
                r + 1,
                a.rounds,
                line.join(", "),
                tp[r] / 1e6
            );
        }
        let tp_med = median(&mut tp.clone());
        let io_idx = a.modes.iter().position(|m| m == "io");
        for (k, mode) in a.modes.iter().enumerate() {
            let v = &vf[k];
            let mut ratios: Vec<f64> = v.iter().zip(&tp).map(|(x, y)| x / y).collect();
            let cpp = |pps: f64| if pps > 0.0 { hz / pps } else { 0.0 };
            // Added cost over vfex io, per round, in cycles per packet.
            let mut added: Vec<f64> = match io_idx {
                Some(i) if i != k => v
                    .iter()
                    .zip(&vf[i])
                    .map(|(x, y)| cpp(*x) - cpp(*y))
                    .collect(),
                _ => Vec::new(),
            };
            let med = median(&mut v.clone());
            let cpu = |v: &[f64]| {
                if v.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::json!(median(&mut v.to_vec()))
                }
            };
            let mut cpu_ratios: Vec<f64> =
                vf_cpu[k].iter().zip(&tp_cpu).map(|(x, y)| y / x).collect();
            rows.push(serde_json::json!({
                "vfex_cpu_cycles_per_packet": cpu(&vf_cpu[k]),
                "testpmd_io_cpu_cycles_per_packet": cpu(&tp_cpu),
                "ratio_by_cpu_cycles": if cpu_ratios.is_empty() { serde_json::Value::Null } else { serde_json::json!(median(&mut cpu_ratios)) },
                "input": input,
                "mode": mode,
                "vfex_mpps_median": med / 1e6,
                "vfex_mpps_min": v.iter().cloned().fold(f64::INFINITY, f64::min) / 1e6,
                "vfex_mpps_max": v.iter().cloned().fold(0.0, f64::max) / 1e6,
                "vfex_cycles_per_packet": cpp(med),
                "added_cycles_over_io": if added.is_empty() { serde_json::Value::Null } else { serde_json::json!(median(&mut added)) },
                "testpmd_io_mpps_median": tp_med / 1e6,
                "testpmd_io_mpps_min": tp.iter().cloned().fold(f64::INFINITY, f64::min) / 1e6,
                "testpmd_io_mpps_max": tp.iter().cloned().fold(0.0, f64::max) / 1e6,
                "testpmd_io_cycles_per_packet": cpp(tp_med),
                "ratio_to_testpmd_io": median(&mut ratios),
                "rounds": a.rounds,
                "duration_s": a.duration,
                "hugepages": huge,
                "tsc_hz": hz,
            }));
        }
    }
    println!(
        "\n| input | vfex mode | vfex Mpps/core median (min..max) | TSC cycles/pkt | added over io | testpmd io Mpps/core median (min..max) | ratio vfex/testpmd io | CPU cycles/pkt vfex / testpmd (perf) | ratio by CPU cycles |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {} | {:.2} ({:.2}..{:.2}) | {:.1} | {} | {:.2} ({:.2}..{:.2}) | {:.3} | {} | {} |",
            r["input"].as_str().unwrap_or(""),
            r["mode"].as_str().unwrap_or(""),
            f("vfex_mpps_median"),
            f("vfex_mpps_min"),
            f("vfex_mpps_max"),
            f("vfex_cycles_per_packet"),
            r["added_cycles_over_io"]
                .as_f64()
                .map(|x| format!("{x:+.1}"))
                .unwrap_or_else(|| "-".into()),
            f("testpmd_io_mpps_median"),
            f("testpmd_io_mpps_min"),
            f("testpmd_io_mpps_max"),
            f("ratio_to_testpmd_io"),
            match (
                r["vfex_cpu_cycles_per_packet"].as_f64(),
                r["testpmd_io_cpu_cycles_per_packet"].as_f64()
            ) {
                (Some(x), Some(y)) => format!("{x:.1} / {y:.1}"),
                _ => "-".into(),
            },
            r["ratio_by_cpu_cycles"]
                .as_f64()
                .map(|x| format!("{x:.3}"))
                .unwrap_or_else(|| "-".into()),
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
