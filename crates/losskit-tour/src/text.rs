//! The terminal rendering: a table per experiment, the recommended rows marked `*`.

use std::fmt::Write;

use crate::{Experiment, Tour};

/// A metric value as shown: four significant digits, fixed point where that reads well.
pub fn number(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 4) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.3e}")
    }
}

/// The whole tour as text.
pub fn render(tour: &Tour) -> String {
    let mut out = String::new();
    let n_models: usize = tour.experiments.iter().map(|e| e.rows.len()).sum();
    let _ = writeln!(
        out,
        "losskit tour: seed {}, {} run, {} experiment(s), {} models trained in {:.1} s\n\
         (* = the decision guide's recommendation; every number below was measured in this run)\n",
        tour.seed,
        if tour.quick { "quick" } else { "full" },
        tour.experiments.len(),
        n_models,
        tour.seconds
    );
    for e in &tour.experiments {
        experiment(&mut out, e);
    }
    out
}

fn experiment(out: &mut String, e: &Experiment) {
    let _ = writeln!(out, "{}. {}", e.id, e.title);
    if let Some(why) = &e.unavailable {
        let _ = writeln!(out, "   not run: {why}\n");
        return;
    }
    for line in wrap(&e.setup, 96) {
        let _ = writeln!(out, "   {line}");
    }
    let mut header = vec!["loss".to_owned()];
    header.extend(e.metrics.iter().map(|m| m.label.to_owned()));
    header.push("optimiser".to_owned());
    let cells: Vec<Vec<String>> = e
        .rows
        .iter()
        .map(|r| {
            let mut c = vec![format!(
                "{} {}",
                if r.recommended { "*" } else { " " },
                r.label
            )];
            c.extend(r.values.iter().map(|&v| number(v)));
            c.push(r.optimiser.clone());
            c
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].chars().count() + if i == 0 { 2 } else { 0 }])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let last = header.len() - 1;
    let line = |out: &mut String, c: &[String]| {
        let mut s = String::from("   ");
        for (i, cell) in c.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 || i == last {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            }
            s.push_str("  ");
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    let mut h = header.clone();
    h[0] = format!("  {}", h[0]);
    line(out, &h);
    for c in &cells {
        line(out, c);
    }
    for (i, l) in wrap(&format!("verdict: {}", e.verdict), 96)
        .into_iter()
        .enumerate()
    {
        let _ = writeln!(out, "   {}{l}", if i == 0 { "" } else { "  " });
    }
    let _ = writeln!(out);
}

/// Greedy word wrap at `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}
