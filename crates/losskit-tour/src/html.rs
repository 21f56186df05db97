//! The `--report` rendering: one self-contained HTML page (inline CSS, inline SVG figures
//! drawn with plotters' SVG backend; no script, no external asset, no server).

use std::fmt::Write;

use plotters::prelude::*;

use crate::{text::number, Experiment, Figure, Tour};

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page.
pub fn render(tour: &Tour, text_summary: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>losskit tour</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
         table.metrics{{border-collapse:collapse;margin:1em 0;font-size:14px}}\
         table.metrics th,table.metrics td{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         table.metrics td:first-child,table.metrics th:first-child,table.metrics td:last-child{{text-align:left}}\
         tr.recommended{{background:#eaf5ea;font-weight:600}}\
         p.verdict{{background:#f4f4f8;padding:.6em;border-left:4px solid #5566aa}}\
         figure{{display:inline-block;margin:.5em}} figcaption{{font-size:13px;color:#555}}\
         pre{{font-size:12px;overflow-x:auto;background:#f8f8f8;padding:1em}}\
         </style></head><body>\n<h1>losskit tour</h1>\n<p>Seed {}, {} run, {} experiment(s), {:.1} s. \
         Rows marked ★ are the decision guide's recommendation; every number was measured in this run.</p>\n",
        tour.seed,
        if tour.quick { "quick" } else { "full" },
        tour.experiments.len(),
        tour.seconds
    );
    for e in &tour.experiments {
        experiment(&mut h, e);
    }
    let _ = write!(
        h,
        "<h2>Terminal output</h2>\n<pre>{}</pre>\n</body></html>\n",
        escape(text_summary)
    );
    h
}

fn experiment(h: &mut String, e: &Experiment) {
    let _ = writeln!(
        h,
        "<section id=\"experiment-{}\">\n<h2>{}. {}</h2>",
        e.id,
        e.id,
        escape(e.title)
    );
    if let Some(why) = &e.unavailable {
        let _ = writeln!(
            h,
            "<p class=\"unavailable\">Not run: {}</p></section>",
            escape(why)
        );
        return;
    }
    let _ = writeln!(
        h,
        "<p>{}</p>\n<table class=\"metrics\"><thead><tr><th>loss</th>",
        escape(&e.setup)
    );
    for m in &e.metrics {
        let _ = write!(h, "<th>{}</th>", escape(m.label));
    }
    let _ = writeln!(h, "<th>optimiser</th></tr></thead><tbody>");
    for r in &e.rows {
        let _ = write!(
            h,
            "<tr{}><td>{}{}</td>",
            if r.recommended {
                " class=\"recommended\""
            } else {
                ""
            },
            if r.recommended { "★ " } else { "" },
            escape(&r.label)
        );
        for &v in &r.values {
            let _ = write!(h, "<td>{}</td>", number(v));
        }
        let _ = writeln!(h, "<td>{}</td></tr>", escape(&r.optimiser));
    }
    let _ = writeln!(
        h,
        "</tbody></table>\n<p class=\"verdict\">{}</p>",
        escape(&e.verdict)
    );
    for f in &e.figures {
        let (title, svg) = match f {
            Figure::Lines {
                title,
                x_label,
                y_label,
                points,
                lines,
            } => (title, lines_svg(x_label, y_label, points, lines)),
            Figure::Images { title, images } => (title, images_svg(images)),
        };
        // A figure that fails to draw is reported in place, never silently dropped.
        let svg = svg.unwrap_or_else(|e| format!("<p>figure not drawn: {}</p>", escape(&e)));
        let _ = writeln!(
            h,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            escape(title)
        );
    }
    let _ = writeln!(h, "</section>");
}

/// Clips the segment p–q to the box (Liang–Barsky); `None` when it lies outside.
fn clip(p: (f64, f64), q: (f64, f64), x: (f64, f64), y: (f64, f64)) -> Option<[(f64, f64); 2]> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [
        (-dx, p.0 - x.0),
        (dx, x.1 - p.0),
        (-dy, p.1 - y.0),
        (dy, y.1 - p.1),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let t = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some([
        (p.0 + t0 * dx, p.1 + t0 * dy),
        (p.0 + t1 * dx, p.1 + t1 * dy),
    ])
}

type Series = [(String, Vec<(f64, f64)>)];

fn lines_svg(
    x_label: &str,
    y_label: &str,
    points: &Series,
    lines: &Series,
) -> Result<String, String> {
    // Axis ranges from the points when there are any (lines are clipped to them), else lines.
    let src = if points.iter().any(|(_, p)| !p.is_empty()) {
        points
    } else {
        lines
    };
    let all = || {
        src.iter()
            .flat_map(|(_, p)| p.iter())
            .filter(|(a, b)| a.is_finite() && b.is_finite())
    };
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(a, b) in all() {
        (x0, x1, y0, y1) = (x0.min(a), x1.max(a), y0.min(b), y1.max(b));
    }
    // No data, or one value: a unit range around it.
    if !x0.is_finite() || !y0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x0 >= x1 {
        (x0, x1) = (x0 - 1.0, x0 + 1.0);
    }
    if y0 >= y1 {
        (y0, y1) = (y0 - 1.0, y0 + 1.0);
    }
    let (px, py) = (0.03 * (x1 - x0), 0.05 * (y1 - y0));
    let (xr, yr) = ((x0 - px, x1 + px), (y0 - py, y1 + py));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (name, pts)) in points.iter().enumerate() {
            let color = PALETTE[(i + 7) % PALETTE.len()].mix(if i == 0 { 0.35 } else { 0.8 });
            let color = if i == 0 {
                color
            } else {
                PALETTE[(i + 2) % PALETTE.len()].mix(0.8)
            };
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 2, color.filled())))
                .map_err(|e| e.to_string())?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 7, y), 3, color.filled()));
        }
        for (i, (name, pts)) in lines.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let segments: Vec<[(f64, f64); 2]> = pts
                .windows(2)
                .filter_map(|w| clip(w[0], w[1], xr, yr))
                .collect();
            chart
                .draw_series(
                    segments
                        .into_iter()
                        .map(|s| PathElement::new(s.to_vec(), color.stroke_width(2))),
                )
                .map_err(|e| e.to_string())?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn images_svg(images: &[(String, usize, usize, Vec<f64>)]) -> Result<String, String> {
    let cell = 4u32;
    let k = images.len().max(1) as u32;
    let (w, h) = images.first().map_or((1, 1), |i| (i.1 as u32, i.2 as u32));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (k * (w * cell + 12), h * cell + 28))
            .into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        for (area, (caption, iw, _, px)) in root.split_evenly((1, k as usize)).iter().zip(images) {
            let area = area
                .titled(caption, ("sans-serif", 12))
                .map_err(|e| e.to_string())?;
            for (j, &v) in px.iter().enumerate() {
                let (x, y) = ((j % iw) as i32 * cell as i32, (j / iw) as i32 * cell as i32);
                let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
                if g < 250 {
                    area.draw(&Rectangle::new(
                        [(x, y), (x + cell as i32, y + cell as i32)],
                        RGBColor(g, g, g).filled(),
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
            area.draw(&Rectangle::new(
                [(0, 0), ((iw * cell as usize) as i32, (h * cell) as i32)],
                BLACK.mix(0.4),
            ))
            .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
