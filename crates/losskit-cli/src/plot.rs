//! `losskit plot`: loss (and gradient) curves of one or several losses and parameter sets
//! over each family's natural axis, as SVG or PNG (plotters), or a terminal preview.

use std::path::PathBuf;

use losskit::sample::{Rng, Sample, SampleData};
use losskit::{Dtype, LossInfo, Params, PlotAxis, ReductionMode};
use plotters::prelude::*;

use crate::{emit, Failure};

/// DejaVu Sans (Bitstream Vera licence, `assets/LICENSE-DejaVu.txt`): PNG text must not depend
/// on the fonts a machine happens to have.
pub(crate) const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

const LONG_ABOUT: &str = "\
Plot loss curves (and with `--grad` their gradients) of one or several losses over the \
natural axis of their family (each loss's catalogue entry names its axis):
  regression (pointwise)      residual e = input - target
  margin (binary logits, hinge, soft margin, ranking, 2-class softmax)   margin y*z, target 1
  probability (bce)           predicted probability of the true label
  log-probability (nll, kl_div)   log-probability of class 0 (2 classes)
  distance (contrastive, triplet_margin)   distance to the positive, negative at 1
  overlap (dice, jaccard, tversky, focal_tversky, generalized_dice, bce_dice)   logit on the \
object's pixels, its negative on the background
  box offset (iou, giou, diou, ciou, eiou)   horizontal offset of a unit box from its target
Other losses (and those whose inputs differ from what their axis assumes) are plotted along \
the first element of their first prediction input, the other inputs held at a generated sample. Losses plotted together must share an axis.

SPEC is LOSS or LOSS:KEY=VALUE[,KEY=VALUE...] (`huber:delta=0.5`, `focal:gamma=2,alpha=-1`).
`--out FILE.svg` or `FILE.png` writes the figure (labelled axes, a legend; with `--grad` a \
second panel of d loss / d prediction); without `--out` a text preview goes to stdout.
Errors (unknown loss or parameter, losses without a common axis, another file extension) \
exit with status 2.";

const AFTER_HELP: &str = "\
Examples:
  losskit plot huber:delta=0.5 huber:delta=2 mse mae --grad --out regression.svg
  losskit plot focal:gamma=0 focal:gamma=2 focal:gamma=5 --out focal.png
  losskit plot hinge soft_margin bce_with_logits";

/// Loss and gradient curves as SVG/PNG, or a terminal preview.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// LOSS or LOSS:KEY=VALUE[,KEY=VALUE...].
    #[arg(value_name = "SPEC", required = true)]
    pub specs: Vec<String>,
    /// Also plot the gradient with respect to the prediction.
    #[arg(long)]
    pub grad: bool,
    /// FILE.svg or FILE.png; without it, a text preview on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The range of the axis, `LO,HI` (default: the family's).
    #[arg(long, value_name = "LO,HI", allow_hyphen_values = true, value_parser = lo_hi)]
    pub range: Option<(f64, f64)>,
}

/// `--range LO,HI`: two finite numbers with LO < HI (`-1,1`, `0,5`).
fn lo_hi(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("expected LO,HI with finite LO < HI (e.g. `-2,2`), got `{s}`");
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let lo: f64 = a.trim().parse().map_err(|_| bad())?;
    let hi: f64 = b.trim().parse().map_err(|_| bad())?;
    if lo < hi && lo.is_finite() && hi.is_finite() {
        Ok((lo, hi))
    } else {
        Err(bad())
    }
}

/// The axis a loss is plotted on: its catalogue entry's, or the first element of its first
/// prediction with the other inputs at a generated sample (one loss only).
#[derive(Debug, Clone, Copy)]
enum Axis {
    /// The catalogue's axis and the inputs at each point of it.
    Catalogue(PlotAxis, fn(f64) -> Sample),
    /// The first element of the first prediction, others from the sample.
    Sample(&'static str),
}

impl Axis {
    fn of(info: &LossInfo) -> Axis {
        match info.plot {
            Some(p) => Axis::Catalogue(p.axis, p.at),
            None => Axis::Sample(info.name),
        }
    }

    /// Losses plotted together must share this.
    fn label(self) -> String {
        match self {
            Axis::Catalogue(a, _) => a.label.into(),
            Axis::Sample(name) => format!("{name}: first prediction element (others fixed)"),
        }
    }

    fn range(self) -> (f64, f64) {
        match self {
            Axis::Catalogue(a, _) => a.range,
            Axis::Sample(_) => (-3.0, 3.0),
        }
    }
}

/// The inputs of `info` at axis point `x`; `base` is the generated sample of a `Sample` axis.
fn inputs(info: &LossInfo, axis: Axis, x: f64, base: &Sample) -> Sample {
    match axis {
        Axis::Catalogue(_, at) => at(x),
        Axis::Sample(_) => {
            let first = info.predictions()[0];
            let mut s = base.clone();
            for a in &mut s.arrays {
                if let (true, SampleData::Float(v)) = (a.name == first, &mut a.data) {
                    v[0] = x;
                }
            }
            s
        }
    }
}

/// A point of a curve: axis value, loss, gradient.
type Point = (f64, f64, f64);
/// Which of a point's values a panel shows.
type Pick = fn(&Point) -> f64;
/// The panels: the loss, then (with `--grad`) the gradient.
const PANELS: [(&str, Pick); 2] = [("loss", |p| p.1), ("d loss / d prediction", |p| p.2)];

/// `axis` if the loss evaluates on it with these parameters (an activation or a format may
/// change what inputs it takes), else the sample axis.
fn usable(info: &'static LossInfo, params: &Params, axis: Axis) -> Axis {
    let (lo, hi) = axis.range();
    match axis {
        Axis::Catalogue(..)
            if point(info, params, axis, 0.5 * (lo + hi), &Sample::new()).is_err() =>
        {
            Axis::Sample(info.name)
        }
        _ => axis,
    }
}

struct Curve {
    label: String,
    points: Vec<Point>,
}

fn parse_spec(spec: &str) -> Result<(&'static LossInfo, Params), Failure> {
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let info = losskit::find(name.trim())?;
    let mut pairs = Vec::new();
    if spec.contains(':') && rest.trim().is_empty() {
        return Err(Failure(format!(
            "plot: `{spec}` has no parameter after `:` (write `{}` or `{}:KEY=VALUE`)",
            name.trim(),
            name.trim()
        )));
    }
    for kv in rest.split(',').filter(|_| spec.contains(':')) {
        if kv.trim().is_empty() {
            return Err(Failure(format!(
                "plot: an empty parameter in `{spec}` (a stray or trailing comma?)"
            )));
        }
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Failure(format!(
                "plot: `{kv}` in `{spec}` is not KEY=VALUE (e.g. `huber:delta=0.5`)"
            ))
        })?;
        pairs.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok((info, Params::parse(info, &pairs)?))
}

fn curve(
    spec: &str,
    info: &'static LossInfo,
    params: &Params,
    axis: Axis,
    lo: f64,
    hi: f64,
) -> Result<Curve, Failure> {
    let base = match axis {
        Axis::Sample(_) => (info.sample)(8, &mut Rng::new(0)),
        Axis::Catalogue(..) => Sample::new(),
    };
    let n = 401;
    let mut points = Vec::with_capacity(n);
    let mut last_error = None;
    for k in 0..n {
        let x = lo + (hi - lo) * k as f64 / (n - 1) as f64;
        match point(info, params, axis, x, &base) {
            Ok((v, g)) => {
                if v.is_finite() && g.is_finite() {
                    points.push((x, v, g));
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    if points.len() < 2 {
        return Err(match last_error {
            Some(e) => Failure(format!(
                "plot: `{spec}` cannot be evaluated on its axis: {e}"
            )),
            None => Failure(format!(
                "plot: `{spec}` is not finite anywhere on [{lo}, {hi}]"
            )),
        });
    }
    Ok(Curve {
        label: spec.to_string(),
        points,
    })
}

/// The loss and its gradient (first element of the first prediction) at axis point `x`.
fn point(
    info: &'static LossInfo,
    params: &Params,
    axis: Axis,
    x: f64,
    base: &Sample,
) -> Result<(f64, f64), losskit::Error> {
    let arrays = inputs(info, axis, x, base).arrays(Dtype::F64);
    let named = arrays.named();
    let first = info.predictions()[0];
    let e = losskit::evaluate_with(info, &named, params, ReductionMode::Sum, &[first])?;
    let g = e.grads[0].1.to_f64()[0];
    Ok((e.value.unwrap_or(f64::NAN), g))
}

/// Runs `losskit plot`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let mut parsed = Vec::new();
    for spec in &args.specs {
        let (info, params) = parse_spec(spec)?;
        let axis = usable(info, &params, Axis::of(info));
        parsed.push((spec.as_str(), info, params, axis));
    }
    let axis = parsed[0].3;
    if let Some((spec, _, _, other)) = parsed.iter().find(|p| p.3.label() != axis.label()) {
        return Err(Failure(format!(
            "plot: `{}` is plotted against {} but `{spec}` against {}; plot them separately",
            parsed[0].0,
            axis.label(),
            other.label()
        )));
    }
    let (lo, hi) = args.range.unwrap_or_else(|| axis.range());
    let curves = parsed
        .iter()
        .map(|(spec, info, params, _)| curve(spec, info, params, axis, lo, hi))
        .collect::<Result<Vec<_>, _>>()?;
    match &args.out {
        None => emit(&preview(&curves, &axis.label(), args.grad)),
        Some(path) => {
            // Text is measured (SVG) and drawn (PNG) with the bundled font.
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| Failure("plot: the bundled font cannot be read".into()))?;
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            let result = match ext.as_deref() {
                Some("svg") => draw(
                    SVGBackend::new(path, (960, if args.grad { 900 } else { 560 })),
                    &curves,
                    &axis.label(),
                    args.grad,
                    (lo, hi),
                ),
                Some("png") => draw(
                    BitMapBackend::new(path, (1280, if args.grad { 1200 } else { 760 })),
                    &curves,
                    &axis.label(),
                    args.grad,
                    (lo, hi),
                ),
                _ => {
                    return Err(Failure(format!(
                        "plot: `--out {}` must end in .svg or .png",
                        path.display()
                    )))
                }
            };
            result.map_err(|e| Failure(format!("plot: cannot write {}: {e}", path.display())))?;
            emit(&format!("wrote {}\n", path.display()))
        }
    }
}

const COLORS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
];

fn y_range(curves: &[Curve], pick: Pick) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for c in curves {
        for p in &c.points {
            lo = lo.min(pick(p));
            hi = hi.max(pick(p));
        }
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(
    backend: DB,
    curves: &[Curve],
    axis: &str,
    grad: bool,
    (lo, hi): (f64, f64),
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let panels: Vec<_> = if grad {
        root.split_evenly((2, 1))
    } else {
        vec![root.clone()]
    };
    for (panel, (ylabel, pick)) in panels.iter().zip(PANELS) {
        let (ylo, yhi) = y_range(curves, pick);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                if ylabel == "loss" { "loss" } else { "gradient" },
                (FAMILY, 24),
            )
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, ylo..yhi)?;
        chart
            .configure_mesh()
            .x_desc(axis)
            .y_desc(ylabel)
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (k, c) in curves.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().map(|p| (p.0, pick(p))),
                    color.stroke_width(2),
                ))?
                .label(c.label.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 3), (x + 18, y + 3)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperMiddle)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// A text plot: one character per curve on a 72 × 16 grid, per panel.
fn preview(curves: &[Curve], axis: &str, grad: bool) -> String {
    const W: usize = 72;
    const H: usize = 16;
    const MARKS: [char; 8] = ['*', '+', 'o', 'x', '#', '@', '%', '&'];
    let mut out = String::new();
    let kinds = &PANELS[..if grad { 2 } else { 1 }];
    let (xlo, xhi) = (
        curves[0].points[0].0,
        curves[0].points.last().map_or(1.0, |p| p.0),
    );
    for &(name, pick) in kinds {
        let (ylo, yhi) = y_range(curves, pick);
        let mut grid = vec![vec![' '; W]; H];
        for (k, c) in curves.iter().enumerate() {
            for p in &c.points {
                let col = ((p.0 - xlo) / (xhi - xlo) * (W - 1) as f64).round() as usize;
                let row = ((yhi - pick(p)) / (yhi - ylo) * (H - 1) as f64).round() as usize;
                grid[row.min(H - 1)][col.min(W - 1)] = MARKS[k % MARKS.len()];
            }
        }
        out.push_str(&format!("{name}\n"));
        for (r, line) in grid.iter().enumerate() {
            let tick = if r == 0 {
                format!("{yhi:>9.3}")
            } else if r == H - 1 {
                format!("{ylo:>9.3}")
            } else {
                " ".repeat(9)
            };
            out.push_str(&format!(
                "{tick} |{}\n",
                line.iter().collect::<String>().trim_end()
            ));
        }
        out.push_str(&format!("{} +{}\n", " ".repeat(9), "-".repeat(W)));
        out.push_str(&format!(
            "{} {:<w$}{:>8.3}\n",
            " ".repeat(9),
            format!("{xlo:.3}"),
            xhi,
            w = W - 8
        ));
    }
    out.push_str(&format!("x: {axis}\n"));
    for (k, c) in curves.iter().enumerate() {
        out.push_str(&format!("  {} {}\n", MARKS[k % MARKS.len()], c.label));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_axis_a_loss_cannot_take_falls_back_to_its_sample() {
        let info = losskit::find("cross_entropy").unwrap();
        let params = Params::defaults(info);
        // cross_entropy has no `anchor`: the triplet loss's distance axis is not usable for it.
        let triplet = losskit::find("triplet_margin").unwrap();
        let axis = usable(info, &params, Axis::of(triplet));
        assert_eq!(axis.label(), Axis::Sample("cross_entropy").label());
        let c = curve("cross_entropy", info, &params, axis, -3.0, 3.0).unwrap();
        assert_eq!(c.points.len(), 401);
        // Along the first logit of a generated row the loss is convex and its gradient rises.
        assert!(c.points.windows(2).all(|w| w[1].2 >= w[0].2 - 1e-12));
        let own = usable(info, &params, Axis::of(info));
        assert_eq!(own.label(), PlotAxis::MARGIN.label);
    }
}
