//! Output: the markdown table, the JSON document and the SVG plots of a
//! results directory.

use crate::scenario::RowResult;
use crate::stats::{Spread, gbps};
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::path::Path;

fn f1(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into())
}

fn spread(s: Option<Spread>, k: f64) -> String {
    s.map(|s| format!("{:.2} ({:.2}..{:.2})", s.median * k, s.min * k, s.max * k))
        .unwrap_or_else(|| "-".into())
}

/// The markdown table: one line per row result.
pub fn table(results: &[RowResult]) -> String {
    let mut t = String::from(
        "| scenario | input | frame B | workers | vfex | Mpps median (min..max) | Gbps | TSC cycles/pkt | CPU cycles/pkt | added over io (CPU cycles where counted) | peer | peer Mpps median (min..max) | peer cycles/pkt | ratio vfex/peer | forwarded | drops | target |\n\
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let w = r.setup.workers;
        let dut = r.dut_pps();
        let peer_label = r
            .row
            .peer
            .as_ref()
            .map(|j| j.tool.label())
            .unwrap_or_else(|| "-".into());
        let (peer_cell, peer_cyc, ratio) = match (&r.row.unavailable, &r.peer_missing, &r.peer) {
            (Some(_), _, _) => ("-".into(), "-".into(), "-".into()),
            (_, Some(why), _) => (format!("not run: {why}"), "-".into(), "-".into()),
            (_, _, Some(p)) => {
                let cyc = RowResult::own_cycles(p)
                    .map(|c| format!("{c:.1} (own)"))
                    .or_else(|| RowResult::cpu_cycles(p).map(|c| format!("{c:.1} (CPU)")))
                    .or_else(|| {
                        RowResult::tsc_cycles(p, w, r.tsc_hz()).map(|c| format!("{c:.1} (TSC)"))
                    })
                    .unwrap_or_else(|| "-".into());
                (
                    spread(r.peer_pps(), 1e-6),
                    cyc,
                    r.ratio()
                        .map(|x| format!("{x:.3}"))
                        .unwrap_or_else(|| "-".into()),
                )
            }
            _ => ("-".into(), "-".into(), "-".into()),
        };
        let fwd = match (&r.row.unavailable, r.verified()) {
            (Some(why), _) => why.clone(),
            (None, Ok(())) => "yes".into(),
            (None, Err(e)) => format!("NO: {e}"),
        };
        let drops: Vec<String> = r
            .drops()
            .iter()
            .filter(|d| d.1 > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.row.scenario,
            r.setup.input.label(),
            r.setup.frame,
            w,
            r.row.dut.tool.label(),
            spread(dut, 1e-6),
            dut.map(|s| format!("{:.2}", gbps(s.median, r.setup.frame)))
                .unwrap_or_else(|| "-".into()),
            f1(RowResult::tsc_cycles(&r.dut, w, r.tsc_hz())),
            f1(RowResult::cpu_cycles(&r.dut)),
            match (r.added_over_io(), r.peer_added_over_io(), r.added_ratio()) {
                (Some(x), Some(p), Some(q)) => format!("{x:+.1} (peer {p:+.1}: {q:.2}x)"),
                (Some(x), _, _) => format!("{x:+.1}"),
                _ => "-".into(),
            },
            peer_label,
            peer_cell,
            peer_cyc,
            ratio,
            fwd,
            if drops.is_empty() {
                "0".into()
            } else {
                drops.join(", ")
            },
            r.row.target.as_deref().unwrap_or("-"),
        ));
    }
    t
}

/// One line of a plot: name and (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// A line plot as SVG (no fonts needed: the SVG backend writes text
/// elements that the viewer renders).
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for (x, y) in pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    if !x0.is_finite() {
        return Ok(());
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut b = ChartBuilder::on(&root);
    b.caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60);
    let mut chart = b
        .build_cartesian_2d(x0..x1, 0.0..y1 * 1.1)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    for (i, (name, p)) in series.iter().enumerate() {
        let c = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(p.iter().map(|(x, y)| Circle::new((*x, *y), 3, c.filled())))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present()
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .with_context(|| format!("writing {}", path.display()))
}

/// Mpps against `x` (frame size or workers) for each (vfex or peer job,
/// input), where a series has at least two points.
pub fn series_by(results: &[RowResult], by_workers: bool) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    let mut add = |name: String, x: f64, y: f64| match out.iter_mut().find(|s| s.0 == name) {
        Some(s) => {
            if !s.1.iter().any(|p| p.0 == x) {
                s.1.push((x, y))
            }
        }
        None => out.push((name, vec![(x, y)])),
    };
    for r in results {
        let x = if by_workers {
            r.setup.workers as f64
        } else {
            f64::from(r.setup.frame)
        };
        let other = if by_workers {
            format!("{}B", r.setup.frame)
        } else {
            format!("{}w", r.setup.workers)
        };
        if let Some(s) = r.dut_pps() {
            add(
                format!(
                    "{} ({}, {other})",
                    r.row.dut.tool.label(),
                    r.setup.input.name()
                ),
                x,
                s.median / 1e6,
            );
        }
        if let (Some(p), Some(j)) = (r.peer_pps(), &r.row.peer) {
            add(
                format!("{} ({}, {other})", j.tool.label(), r.setup.input.name()),
                x,
                p.median / 1e6,
            );
        }
    }
    out.retain(|s| s.1.len() >= 2);
    for s in &mut out {
        s.1.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Writes `results.json`, `table.md` and the plots into `dir`.
pub fn write(
    dir: &Path,
    doc: &serde_json::Value,
    table_md: &str,
    results: &[RowResult],
) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = vec!["results.json".to_owned(), "table.md".to_owned()];
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(doc)?)?;
    std::fs::write(dir.join("table.md"), table_md)?;
    let s = series_by(results, false);
    if !s.is_empty() {
        line_plot(
            &dir.join("mpps_vs_frame_size.svg"),
            "Mpps vs frame size",
            "frame size (bytes, FCS included)",
            "Mpps",
            &s,
        )?;
        files.push("mpps_vs_frame_size.svg".into());
    }
    let s = series_by(results, true);
    if !s.is_empty() {
        line_plot(
            &dir.join("mpps_vs_workers.svg"),
            "Mpps vs workers",
            "workers (forwarding cores)",
            "Mpps",
            &s,
        )?;
        files.push("mpps_vs_workers.svg".into());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_series() {
        use crate::args::{Args, Input};
        use crate::pcap::Tag;
        use crate::tools::{Measurement, Setup};
        let m = |pps: f64| {
            Ok(Measurement {
                pps,
                rx: 100,
                tx: 100,
                tsc_hz: Some(1e9),
                forwarded: Ok(()),
                ..Measurement::default()
            })
        };
        let row = crate::scenario::rows(&Args::default(), "io", &Ok(())).remove(0);
        let r = |frame: u16, workers: usize| RowResult {
            row: row.clone(),
            setup: Setup {
                input: Input::Null,
                frame,
                workers,
                port_tags: [Tag::None; 2],
            },
            dut: vec![m(20e6), m(10e6)],
            peer: Some(vec![m(10e6), m(10e6)]),
            peer_missing: None,
            io: None,
            peer_io: None,
        };
        let t = table(&[r(64, 1)]);
        assert!(
            t.contains(
                "| io | net_null pair | 64 | 1 | vfex io | 15.00 (10.00..20.00) | 10.08 | 66.7 |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| testpmd io | 10.00 (10.00..10.00) | 100.0 (TSC) | 1.500 | yes | 0 |"),
            "{t}"
        );
        let s = series_by(&[r(64, 1), r(1518, 1)], false);
        assert_eq!(s.len(), 2, "vfex and its peer");
        assert_eq!(s[0].1, vec![(64.0, 15.0), (1518.0, 15.0)]);
        assert!(
            series_by(&[r(64, 1), r(1518, 1)], true).is_empty(),
            "one worker count: no plot"
        );
    }

    #[test]
    fn writes_an_svg() {
        let p = std::env::temp_dir().join(format!("vfex-perf-plot-{}.svg", std::process::id()));
        let s = vec![(
            "vfex io (null)".to_owned(),
            vec![(64.0, 30.0), (1518.0, 10.0)],
        )];
        line_plot(&p, "t", "x", "y", &s).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("vfex io (null)"),
            "{}",
            &text[..100]
        );
        std::fs::remove_file(&p).ok();
    }
}
