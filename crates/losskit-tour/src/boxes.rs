//! Experiment 7: regressing boxes of very different sizes from features.

use losskit::sample::Rng;

use crate::fit::{matmul, matmul_tn, with_bias, Adam, Input, Loss};
use crate::{verdict_head, Better, Config, Error, Experiment, Figure, Metric, Row};

const FEATURES: usize = 6;

/// The true box (cx, cy, w, h) of features `f`: sizes from about 3 to 100 pixels, and
/// quadratic terms a linear model cannot fit exactly.
fn truth(f: &[f64]) -> [f64; 4] {
    [
        64.0 + 20.0 * f[0] + 1.5 * f[1] * f[1],
        64.0 + 20.0 * f[1] + 1.5 * f[0] * f[2],
        (2.8 + 0.9 * f[2] + 0.15 * f[3] * f[3]).exp(),
        (2.8 + 0.9 * f[3] + 0.15 * f[4] * f[2]).exp(),
    ]
}

fn xyxy(b: [f64; 4]) -> [f64; 4] {
    [
        b[0] - b[2] / 2.0,
        b[1] - b[3] / 2.0,
        b[0] + b[2] / 2.0,
        b[1] + b[3] / 2.0,
    ]
}

fn iou(a: &[f64], b: &[f64]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The model's outputs in standard units: (cx, cy, ln w, ln h) = mean + scale · output.
struct Units {
    mean: [f64; 4],
    scale: [f64; 4],
}

impl Units {
    /// Means and standard deviations of the training boxes' (cx, cy, ln w, ln h).
    fn of(boxes: &[f64]) -> Units {
        let rows: Vec<[f64; 4]> = boxes
            .chunks(4)
            .map(|b| {
                [
                    (b[0] + b[2]) / 2.0,
                    (b[1] + b[3]) / 2.0,
                    (b[2] - b[0]).ln(),
                    (b[3] - b[1]).ln(),
                ]
            })
            .collect();
        let n = rows.len() as f64;
        let mut mean = [0.0; 4];
        let mut scale = [0.0; 4];
        for j in 0..4 {
            mean[j] = rows.iter().map(|r| r[j]).sum::<f64>() / n;
            scale[j] = (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt();
        }
        Units { mean, scale }
    }

    /// (cx, cy, w, h) of one output row.
    fn cxcywh(&self, o: &[f64]) -> [f64; 4] {
        let v = |j: usize| self.mean[j] + self.scale[j] * o[j];
        [v(0), v(1), v(2).exp(), v(3).exp()]
    }

    /// The outputs decoded into xyxy boxes.
    fn decode(&self, out: &[f64]) -> Vec<f64> {
        out.chunks(4).flat_map(|o| xyxy(self.cxcywh(o))).collect()
    }
}

/// Experiment 7.
pub(crate) fn boxes(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    let runs = [
        ("mae (on x1, y1, x2, y2)", "mae"),
        ("giou", "giou"),
        ("diou", "diou"),
        ("ciou", "ciou"),
    ];
    let losses = runs
        .iter()
        .map(|(_, n)| Loss::new(n, &[]))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rng = Rng::new(cfg.seed ^ 0x07);
    let (n, nt, steps) = if cfg.quick {
        (400, 1000, 150)
    } else {
        (2000, 4000, 1500)
    };
    let make = |rng: &mut Rng, n: usize, noisy: bool| {
        let f = rng.normals(n * FEATURES, 1.0);
        let mut boxes = Vec::with_capacity(n * 4);
        for row in f.chunks(FEATURES) {
            let mut b = truth(row);
            if noisy {
                // Annotation noise: 5 % of the box's size on every edge.
                let (w, h) = (b[2], b[3]);
                b[0] += 0.05 * w * rng.normal();
                b[1] += 0.05 * h * rng.normal();
                b[2] *= (0.05 * rng.normal()).exp();
                b[3] *= (0.05 * rng.normal()).exp();
            }
            boxes.extend(xyxy(b));
        }
        (with_bias(&f, n, FEATURES), boxes)
    };
    let (x, target) = make(&mut rng, n, true);
    let (xt, target_t) = make(&mut rng, nt, false);
    let k = FEATURES + 1;
    // Every model starts at the mean box (all outputs 0 in standard units).
    let units = Units::of(&target);
    let init = vec![0.0; k * 4];
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let small_cut = {
        let mut areas: Vec<f64> = target_t
            .chunks(4)
            .map(|b| (b[2] - b[0]) * (b[3] - b[1]))
            .collect();
        areas.sort_by(f64::total_cmp);
        areas[areas.len() / 3]
    };
    let evaluate = |theta: &[f64]| {
        let pred = units.decode(&matmul(&xt, theta, nt, k, 4));
        let ious: Vec<f64> = pred
            .chunks(4)
            .zip(target_t.chunks(4))
            .map(|(p, t)| iou(p, t))
            .collect();
        let small: Vec<f64> = ious
            .iter()
            .zip(target_t.chunks(4))
            .filter(|(_, t)| (t[2] - t[0]) * (t[3] - t[1]) <= small_cut)
            .map(|(v, _)| *v)
            .collect();
        [
            ious.iter().sum::<f64>() / nt as f64,
            ious.iter().filter(|&&v| v > 0.5).count() as f64 / nt as f64,
            small.iter().sum::<f64>() / small.len() as f64,
        ]
    };
    let guide = crate::guide::choice(
        losskit::guide::Task::Detection,
        Default::default(),
        &["giou", "diou", "ciou"],
    )?;
    for ((label, name), loss) in runs.iter().zip(&losses) {
        let rec = &(*name == guide.loss);
        let mut theta = init.clone();
        let mut adam = Adam::new(theta.len(), 0.05);
        let mut curve = Vec::new();
        for t in 0..steps {
            let out = matmul(&x, &theta, n, k, 4);
            let pred = units.decode(&out);
            let (_, g) = loss.value_and_grad(
                &[
                    Input::float("input", &pred, &[n, 4]),
                    Input::float("target", &target, &[n, 4]),
                ],
                &["input"],
            )?;
            // Chain rule through the decoding: x1 = cx − w/2, x2 = cx + w/2, w = exp(ln w),
            // each in standard units.
            let mut gout = vec![0.0; n * 4];
            for ((go, gb), o) in gout.chunks_mut(4).zip(g[0].chunks(4)).zip(out.chunks(4)) {
                let b = units.cxcywh(o);
                go[0] = (gb[0] + gb[2]) * units.scale[0];
                go[1] = (gb[1] + gb[3]) * units.scale[1];
                go[2] = (gb[2] - gb[0]) * b[2] / 2.0 * units.scale[2];
                go[3] = (gb[3] - gb[1]) * b[3] / 2.0 * units.scale[3];
            }
            adam.step(&mut theta, &matmul_tn(&x, &gout, n, k, 4), 1.0);
            if t % 10 == 9 {
                curve.push(((t + 1) as f64, evaluate(&theta)[0]));
            }
        }
        tick();
        curves.push((label.to_string(), curve));
        rows.push(Row {
            label: label.to_string(),
            losses: vec![name.to_string()],
            recommended: *rec,
            optimiser: format!("Adam, {steps} full-batch steps"),
            values: evaluate(&theta).to_vec(),
        });
    }
    let metrics = vec![
        Metric {
            key: "mean_iou",
            label: "mean IoU",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "share_iou_above_0_5",
            label: "IoU > 0.5",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "mean_iou_small",
            label: "mean IoU, smallest third",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
    ];
    let verdict = format!(
        "{}; on the smallest third of the boxes: {}.",
        verdict_head(&rows, &metrics, 0),
        rows.iter()
            .map(|r| format!("{} {:.3}", r.losses[0], r.values[2]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Experiment {
        id: 7,
        key: "boxes",
        title: "Box regression",
        setup: format!(
            "{n} training boxes (annotation noise 5 % of the size) from 6 features; true boxes depend on them with \
             quadratic terms, sizes from about 3 to 100 px. Linear model for (cx, cy, ln w, ln h) in standard units, decoded to \
             (x1, y1, x2, y2) for every loss; Adam from the mean box. Test: {nt} clean boxes. \
             Recommended: the box term losskit::guide::recommend gives for detection."
        ),
        metrics,
        rows,
        verdict,
        figures: vec![Figure::Lines {
            title: "Test mean IoU during training".into(),
            x_label: "step".into(),
            y_label: "mean IoU".into(),
            points: vec![],
            lines: curves,
        }],
        unavailable: None,
    })
}
