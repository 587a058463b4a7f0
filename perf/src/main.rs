//! vfex-perf: runs vfex and its peers (dpdk-testpmd, Open vSwitch with the
//! DPDK datapath) on the same virtual devices, memory settings and cores,
//! alternating A B A B, checks from the tools' counters that traffic was
//! forwarded, and reports medians, spreads and ratios as a markdown table,
//! JSON and SVG plots in `results/<timestamp>/`.
//!
//! Usage: `vfex-perf SCENARIO[,SCENARIO...] [options]` (see `--help`).
//!
//! Modules: [`args`] (command line), [`latency`] (zero-loss search and
//! latency through a memif loop), [`tools`] (running vfex and testpmd,
//! parsing their counters), [`ovs`] (the Open vSwitch peer), [`pcap`] (test
//! frames), [`scenario`] (rows and the A/B runner), [`stats`], [`report`],
//! [`sys`] (processes, hugepages, runtime directories), [`soak`](mod@soak) (the soak
//! of issue 8: rule changes under load, counters, memory; PASS/FAIL),
//! [`telemetry`] (a client of DPDK's telemetry socket).

pub mod args;
pub mod latency;
pub mod ovs;
pub mod pcap;
pub mod report;
pub mod roles;
pub mod scenario;
pub mod soak;
pub mod stats;
pub mod sys;
pub mod telemetry;
pub mod tools;

use anyhow::{Context, Result};
use std::io::Write;

/// Scenarios that `table` stands for: the README's table.
const TABLE: &[&str] = &[
    "io",
    "tags",
    "encap",
    "decap",
    "port-extender",
    "vepa-station",
    "controlling-bridge",
];

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(mut a) = args::parse(&argv)? else {
        print!("{}", args::help());
        return Ok(());
    };
    if let Some(i) = a.scenarios.iter().position(|s| s == "table") {
        a.scenarios.remove(i);
        let add: Vec<String> = TABLE
            .iter()
            .filter(|s| !a.scenarios.iter().any(|x| x == *s))
            .map(|s| (*s).to_owned())
            .collect();
        for (k, s) in add.into_iter().enumerate() {
            a.scenarios.insert(i + k, s);
        }
    }
    if !std::path::Path::new(&a.vfex).exists() {
        anyhow::bail!(
            "{} not found: build it with `cargo build --release` or give --vfex PATH",
            a.vfex
        );
    }
    if a.scenarios.iter().any(|s| s == "soak") && a.scenarios.len() > 1 {
        anyhow::bail!("soak runs alone: give it as the only scenario");
    }
    let (mem, huge) = sys::memory_args(&a.memory);
    let mut perf = a.perf_stat;
    if perf && !sys::perf_can_count() {
        eprintln!(
            "vfex-perf: perf cannot count cycles here (install linux-perf, or run as root): TSC cycles only"
        );
        perf = false;
    }
    let roles = scenario::role_support(&a.vfex);
    let stamp = sys::utc_stamp();
    let dir = a.out.join(&stamp);
    let cpus = sys::cpus();
    for &w in &a.workers {
        if w + 1 > cpus {
            eprintln!(
                "vfex-perf: warning: {w} workers + the main lcore need {} cores, this machine has {cpus}: the figures for {w} workers are not meaningful here",
                w + 1
            );
        }
    }
    let mut rows = Vec::new();
    for s in &a.scenarios {
        match s.as_str() {
            "rfc2544" | "latency" | "soak" => {}
            _ => rows.extend(scenario::rows(&a, s, &roles)),
        }
    }
    // Peers not asked for: the row keeps vfex alone (once).
    for r in rows.iter_mut() {
        let asked = match r.peer.as_ref().map(|j| &j.tool) {
            Some(scenario::Tool::Testpmd(_)) => a.peers.contains(&args::PeerKind::Testpmd),
            Some(scenario::Tool::Ovs(_)) => a.peers.contains(&args::PeerKind::Ovs),
            Some(scenario::Tool::CFwd(_)) => a.peers.contains(&args::PeerKind::CFwd),
            _ => true,
        };
        if !asked {
            r.peer = None;
        }
    }
    // A row left without its peer goes when vfex's job is in another row.
    let mut seen: Vec<(String, scenario::Job)> = Vec::new();
    let keep: Vec<bool> = rows
        .iter()
        .map(|r| {
            let k = (r.scenario.clone(), r.dut.clone());
            let other = rows
                .iter()
                .any(|x| x.peer.is_some() && x.scenario == k.0 && x.dut == k.1);
            let first = !seen.contains(&k);
            seen.push(k);
            r.peer.is_some() || (!other && first)
        })
        .collect();
    let mut keep = keep.into_iter();
    rows.retain(|_| keep.next().unwrap_or(true));
    for r in rows.iter().filter(|r| r.unavailable.is_some()) {
        eprintln!(
            "vfex-perf: {}: {}",
            r.scenario,
            r.unavailable.as_deref().unwrap_or_default()
        );
    }
    if a.scenarios.iter().any(|s| s == "soak") {
        eprintln!(
            "vfex-perf: soak | {} B frames | {} min at {} % of the zero-loss rate | rules changed every {} s | samples every {} s | search trials {} s + {} s warm-up",
            a.frame_sizes[0],
            a.minutes,
            a.soak_load,
            a.reload_period,
            a.sample_period,
            a.duration,
            a.warmup
        );
    } else {
        eprintln!(
            "vfex-perf: {} | inputs {} | frames {:?} B | workers {:?} | {} round(s) x ({} s warm-up + {} s) | memory: {} | cycles: {}",
            a.scenarios.join(","),
            if a.inputs.is_empty() {
                "per scenario".to_owned()
            } else {
                a.inputs
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(",")
            },
            a.frame_sizes,
            a.workers,
            a.rounds,
            a.warmup,
            a.duration,
            if huge {
                "hugepages (--in-memory)"
            } else {
                "no hugepages (--no-huge -m 1024)"
            },
            if perf { "perf stat + TSC" } else { "TSC only" },
        );
    }
    sys::clean_up_on_signal()?;
    let env = tools::Env::new(a.clone(), mem, huge, perf)?;
    if a.scenarios.iter().any(|s| s == "soak") {
        let pass = soak(&env, &dir, &stamp)?;
        drop(env);
        if !pass {
            std::process::exit(1);
        }
        return Ok(());
    }
    let results = scenario::run_all(&env, &rows, &mut |l: &str| {
        eprintln!("  {l}");
        std::io::stderr().flush().ok();
    });
    // Rows that could not run at all (a vfex without --config, too many
    // vEths) are listed too.
    let mut all = results;
    for r in rows.iter().filter(|r| r.unavailable.is_some()) {
        all.push(scenario::RowResult {
            row: r.clone(),
            setup: tools::Setup {
                input: r.inputs[0],
                frame: a.frame_sizes[0],
                workers: a.workers[0],
                port_tags: r.dut.tags,
            },
            dut: Vec::new(),
            peer: None,
            peer_missing: None,
            io: None,
            peer_io: None,
        });
    }
    // Zero-loss search and latency through the memif loop: vfex and, when
    // asked, testpmd io, alternating per round.
    let want_lat = a.scenarios.iter().any(|s| s == "latency");
    let mut loops: Vec<Vec<latency::LoopResult>> = Vec::new();
    if want_lat || a.scenarios.iter().any(|s| s == "rfc2544") {
        let mut duts = vec![latency::Dut::Vfex(
            a.modes.first().cloned().unwrap_or_else(|| "io".into()),
        )];
        if a.peers.contains(&args::PeerKind::Testpmd) && sys::available(&a.testpmd) {
            duts.push(latency::Dut::Testpmd("io".into()));
        }
        for &frame in &a.frame_sizes {
            for &w in &a.workers {
                let mut per: Vec<Vec<latency::LoopResult>> = vec![Vec::new(); duts.len()];
                for round in 0..a.rounds {
                    for (k, d) in duts.iter().enumerate() {
                        eprintln!(
                            "  [memif loop {frame}B {w}w] round {}/{}: {} zero-loss search{}",
                            round + 1,
                            a.rounds,
                            d.label(),
                            if want_lat { " + latency" } else { "" }
                        );
                        match latency::run(&env, d, w, frame, want_lat, &mut |l: &str| {
                            eprintln!("    {l}")
                        }) {
                            Ok(r) => per[k].push(r),
                            Err(e) => eprintln!("    {}: FAILED: {e:#}", d.label()),
                        }
                    }
                }
                loops.extend(per.into_iter().filter(|p| !p.is_empty()));
            }
        }
    }
    let mut md = report::table(&all);
    if !loops.is_empty() {
        md.push_str(&format!(
            "\nZero-loss throughput (RFC 2544 binary search confirmed by a second trial, loss <= {}, resolution {} of the generator's ceiling) and latency through a net_memif loop (vfex --gen-rate -> tool -> back; one-way, TSC):\n\n{}",
            a.loss,
            a.resolution,
            latency::table(&loops)
        ));
    }
    println!("\n{md}");
    let machine = machine();
    let doc = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "utc": stamp,
        "machine": machine,
        "memory": if huge { "hugepages --in-memory" } else { "--no-huge -m 1024" },
        "rounds": a.rounds,
        "duration_s": a.duration,
        "warmup_s": a.warmup,
        "burst_peers": a.burst,
        "burst_vfex": 32,
        "perf_stat": perf,
        "gbps_note": "Gbps = packets/s x (frame size with FCS + 20 B preamble, SFD and inter-frame gap) x 8",
        "rows": all.iter().map(|r| r.json()).collect::<Vec<_>>(),
        "memif_loop": loops.iter().map(|l| latency::json(l)).collect::<Vec<_>>(),
    });
    let header = format!(
        "# vfex-perf results {stamp}\n\nCommand: `{}`\n\nMachine: {machine}\n\nMemory: {}; {} round(s), {} s warm-up + {} s measured per run; medians (min..max) over rounds; ratio = median of per-round vfex/peer. Gbps counts frame + 20 B (preamble, SFD, inter-frame gap). TSC cycles/pkt = TSC Hz x workers / packets per second; CPU cycles/pkt = cycles counted by `perf stat` / packets; OVS cycles (own) = its PMD's avg cycles per packet.\n\n",
        std::env::args().collect::<Vec<_>>().join(" "),
        if huge {
            "hugepages (--in-memory)"
        } else {
            "no hugepages (--no-huge -m 1024)"
        },
        a.rounds,
        a.warmup,
        a.duration
    );
    let mut files = report::write(&dir, &doc, &format!("{header}{md}"), &all)?;
    let lat = latency::series(&loops);
    if !lat.is_empty() {
        report::line_plot(
            &dir.join("latency_percentiles.svg"),
            "Latency through the memif loop",
            "offered load (% of the zero-loss rate)",
            "latency (us)",
            &lat,
        )?;
        files.push("latency_percentiles.svg".into());
    }
    if let Some(j) = &a.json {
        std::fs::write(j, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", j.display()))?;
    }
    eprintln!(
        "vfex-perf: results in {}: {}",
        dir.display(),
        files.join(", ")
    );
    Ok(())
}

/// The soak: runs it, writes `results.json`, `table.md` and the memory
/// plots under `dir`, prints the report; returns whether it passed.
fn soak(env: &tools::Env, dir: &std::path::Path, stamp: &str) -> Result<bool> {
    let s = soak::run(env, &mut |l: &str| {
        eprintln!("  {l}");
        std::io::stderr().flush().ok();
    })?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let machine = machine();
    let md = format!(
        "# vfex-perf soak {stamp}\n\nCommand: `{command}`\n\nMachine: {machine}\n\n{}",
        s.markdown()
    );
    let mut doc = s.json();
    doc["command"] = serde_json::json!(command);
    doc["utc"] = serde_json::json!(stamp);
    doc["machine"] = serde_json::json!(machine);
    let mut files = report::write(dir, &doc, &md, &[])?;
    let (rss, mbufs) = s.series();
    for (name, title, y, series) in [
        ("soak_rss.svg", "vfex VmRSS during the soak", "MiB", rss),
        (
            "soak_mbufs.svg",
            "mbufs in use during the soak",
            "mbufs",
            mbufs,
        ),
    ] {
        if series.iter().any(|x| !x.1.is_empty()) {
            report::line_plot(&dir.join(name), title, "seconds", y, &series)?;
            files.push(name.into());
        }
    }
    if let Some(j) = &env.args.json {
        std::fs::write(j, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", j.display()))?;
    }
    println!("\n{md}");
    eprintln!(
        "vfex-perf: soak {}: results in {}: {}",
        if s.pass() { "PASS" } else { "FAIL" },
        dir.display(),
        files.join(", ")
    );
    Ok(s.pass())
}

/// One line about the machine: CPU model, cores, kernel.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {} CPUs, Linux {}", sys::cpus(), kernel.trim())
}
