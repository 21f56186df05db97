//! Experiments 3 and 4: a 1:50 class imbalance, and label noise against label smoothing.

use losskit::sample::Rng;
use losskit::weights::{ClassWeights, Scheme};

use crate::fit::{
    argmax_rows, lbfgs, matmul, matmul_tn, softmax_rows, with_bias, Fit, Input, Loss,
};
use crate::{verdict_head, Better, Config, Error, Experiment, Figure, Metric, Row};

/// Softmax regression on features `x` [n, d] (a bias column is added): fits W [d + 1, c] with
/// `loss` by L-BFGS. `weight` is a per-class weight passed to the loss as `weight` (or
/// `alpha`, when `alpha` is true).
fn fit_softmax(
    loss: &Loss,
    x: &[f64],
    y: &[i64],
    d: usize,
    c: usize,
    class_weight: Option<&[f64]>,
    max_iters: u64,
) -> Result<Fit, Error> {
    let n = y.len();
    let xb = with_bias(x, n, d);
    let f = |w: &[f64]| -> Result<(f64, Vec<f64>), Error> {
        let logits = matmul(&xb, w, n, d + 1, c);
        let mut inputs = vec![
            Input::float("input", &logits, &[n, c]),
            Input::index("target", y, &[n]),
        ];
        if let Some(cw) = class_weight {
            inputs.push(Input::float("weight", cw, &[c]));
        }
        let (v, g) = loss.value_and_grad(&inputs, &["input"])?;
        Ok((v, matmul_tn(&xb, &g[0], n, d + 1, c)))
    };
    lbfgs(&f, vec![0.0; (d + 1) * c], max_iters)
}

fn predict(w: &[f64], x: &[f64], d: usize, c: usize) -> Vec<f64> {
    let n = x.len() / d;
    softmax_rows(&matmul(&with_bias(x, n, d), w, n, d + 1, c), c)
}

/// Gaussian blobs: `counts[k]` points around `centres[k]` (dimension d), unit noise · `sd`.
fn blobs(rng: &mut Rng, centres: &[Vec<f64>], counts: &[usize], sd: f64) -> (Vec<f64>, Vec<i64>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (k, (centre, &m)) in centres.iter().zip(counts).enumerate() {
        for _ in 0..m {
            x.extend(centre.iter().map(|c| c + sd * rng.normal()));
            y.push(k as i64);
        }
    }
    (x, y)
}

/// Balanced accuracy, mean recall of the minority classes (1..), macro-F1, accuracy.
fn scores(pred: &[usize], y: &[i64], c: usize) -> [f64; 4] {
    let mut conf = vec![0usize; c * c];
    for (&p, &t) in pred.iter().zip(y) {
        conf[t as usize * c + p] += 1;
    }
    let recall: Vec<f64> = (0..c)
        .map(|k| {
            conf[k * c + k] as f64 / (0..c).map(|j| conf[k * c + j]).sum::<usize>().max(1) as f64
        })
        .collect();
    let precision: Vec<f64> = (0..c)
        .map(|k| {
            conf[k * c + k] as f64 / (0..c).map(|j| conf[j * c + k]).sum::<usize>().max(1) as f64
        })
        .collect();
    let f1: Vec<f64> = (0..c)
        .map(|k| {
            let s = precision[k] + recall[k];
            if s > 0.0 {
                2.0 * precision[k] * recall[k] / s
            } else {
                0.0
            }
        })
        .collect();
    let acc = (0..c).map(|k| conf[k * c + k]).sum::<usize>() as f64 / y.len() as f64;
    [
        recall.iter().sum::<f64>() / c as f64,
        recall[1..].iter().sum::<f64>() / (c - 1) as f64,
        f1.iter().sum::<f64>() / c as f64,
        acc,
    ]
}

/// Experiment 3.
pub(crate) fn imbalance(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    let mut rng = Rng::new(cfg.seed ^ 0x03);
    let (d, c) = (2, 3);
    let centres = vec![vec![0.0, 0.0], vec![2.0, 0.5], vec![0.5, 2.0]];
    let major = if cfg.quick { 1000 } else { 5000 };
    let counts = [major, major / 50, major / 50];
    let (x, y) = blobs(&mut rng, &centres, &counts, 1.0);
    let (xt, yt) = blobs(&mut rng, &centres, &[major, major / 50, major / 50], 1.0);
    let table = ClassWeights::new(Scheme::Effective { beta: 0.999 })?
        .normalize(true)
        .from_counts(&counts.map(|m| m as u64))?;
    let cw = table.weights().to_vec();
    let cw_text = cw
        .iter()
        .map(|w| format!("{w:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The decision guide's answer for these labels: its loss, parameters and weights.
    let y_f64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    let guide = crate::guide::choice(
        losskit::guide::Task::Multiclass,
        losskit::guide::Conditions {
            labels: Some(losskit::guide::LabelStats::from_labels(
                losskit::guide::Task::Multiclass,
                &y_f64,
                &[y.len()],
            )?),
            ..Default::default()
        },
        &[],
    )?;
    let guide_w = guide.weights.clone().unwrap_or_else(|| vec![1.0; c]);
    let guide_w_text = guide_w
        .iter()
        .map(|w| format!("{w:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    // (label, loss name, loss, class weight, recommended)
    type Run<'a> = (String, &'a str, Loss, Option<&'a [f64]>, bool);
    let runs: Vec<Run<'_>> = vec![
        (
            "cross_entropy".into(),
            "cross_entropy",
            Loss::new("cross_entropy", &[])?,
            None,
            false,
        ),
        (
            format!("cross_entropy + effective-number weights [{cw_text}]"),
            "cross_entropy",
            Loss::new("cross_entropy", &[])?,
            Some(&cw),
            false,
        ),
        (
            format!("guide: {} [{guide_w_text}]", guide.label),
            "cross_entropy",
            Loss::new(guide.loss, &guide.params_ref())?,
            Some(&guide_w),
            true,
        ),
        (
            "softmax_focal (gamma=2)".into(),
            "softmax_focal",
            Loss::new("softmax_focal", &[])?,
            None,
            false,
        ),
    ];
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (label, name, loss, weight, rec) in runs {
        let fit = fit_softmax(&loss, &x, &y, d, c, weight, 200)?;
        tick();
        let pred = argmax_rows(&predict(&fit.params, &xt, d, c), c);
        rows.push(Row {
            label: label.clone(),
            losses: vec![name.into()],
            recommended: rec,
            optimiser: fit.optimiser,
            values: scores(&pred, &yt, c).to_vec(),
        });
        // Boundaries between class 0 and class k: (w_0 − w_k)·x + (b_0 − b_k) = 0.
        let w = &fit.params;
        for k in 1..c {
            let (a0, a1, b) = (w[0] - w[k], w[c] - w[c + k], w[2 * c] - w[2 * c + k]);
            let seg: Vec<(f64, f64)> = if a1.abs() > a0.abs() {
                [-3.0, 5.0]
                    .iter()
                    .map(|&u| (u, -(a0 * u + b) / a1))
                    .collect()
            } else {
                [-3.0, 5.0]
                    .iter()
                    .map(|&v| (-(a1 * v + b) / a0, v))
                    .collect()
            };
            lines.push((format!("{label}: 0|{k}"), seg));
        }
    }
    let metrics = vec![
        Metric {
            key: "balanced_accuracy",
            label: "balanced acc.",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "minority_recall",
            label: "minority recall",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "macro_f1",
            label: "macro-F1",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "accuracy",
            label: "accuracy",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
    ];
    let verdict = format!(
        "{}; macro-F1 / accuracy: {}.",
        verdict_head(&rows, &metrics, 0),
        ["cross_entropy", "+ weights", "guide", "softmax_focal"]
            .iter()
            .zip(&rows)
            .map(|(tag, r)| format!("{tag} {:.3} / {:.3}", r.values[2], r.values[3]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut points = Vec::new();
    for (k, count) in counts.iter().enumerate() {
        let pts: Vec<(f64, f64)> = xt
            .chunks(d)
            .zip(&yt)
            .filter(|(_, &t)| t == k as i64)
            .take(if k == 0 { 600 } else { 200 })
            .map(|(p, _)| (p[0], p[1]))
            .collect();
        points.push((format!("class {k} ({count} train)"), pts));
    }
    Ok(Experiment {
        id: 3,
        key: "imbalance",
        title: "Class imbalance 1:50",
        setup: format!(
            "3 Gaussian classes in 2-D (unit variance, centres (0,0), (2,0.5), (0.5,2)), {} : {} : {} training points, \
             test set of the same mix. Softmax regression, L-BFGS (200 iterations at most). Effective-number weights: \
             losskit::weights, β = 0.999, normalised to sum to 3; focal without α. Recommended: what \
             losskit::guide::recommend answers for these training labels.",
            counts[0], counts[1], counts[2]
        ),
        metrics,
        rows,
        verdict,
        figures: vec![Figure::Lines {
            title: "Test data and each model's decision boundaries against class 0".into(),
            x_label: "x1".into(),
            y_label: "x2".into(),
            points,
            lines,
        }],
        unavailable: None,
    })
}

/// Expected calibration error over 15 equal-width confidence bins, and the reliability
/// diagram's points (mean confidence, accuracy) of the non-empty bins.
fn ece(prob: &[f64], y: &[i64], c: usize) -> (f64, Vec<(f64, f64)>) {
    const BINS: usize = 15;
    let mut acc = [0.0; BINS];
    let mut conf = [0.0; BINS];
    let mut count = [0usize; BINS];
    for (row, &t) in prob.chunks(c).zip(y) {
        let (k, &p) = row
            .iter()
            .enumerate()
            .fold((0, &row[0]), |b, (i, v)| if *v > *b.1 { (i, v) } else { b });
        let bin = ((p * BINS as f64) as usize).min(BINS - 1);
        count[bin] += 1;
        conf[bin] += p;
        acc[bin] += f64::from(u8::from(k as i64 == t));
    }
    let n = y.len() as f64;
    let mut e = 0.0;
    let mut diagram = Vec::new();
    for b in 0..BINS {
        if count[b] > 0 {
            let m = count[b] as f64;
            e += m / n * (acc[b] / m - conf[b] / m).abs();
            diagram.push((conf[b] / m, acc[b] / m));
        }
    }
    (e, diagram)
}

/// Experiment 4.
pub(crate) fn label_noise(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    let mut rng = Rng::new(cfg.seed ^ 0x04);
    let (d, c) = (5, 4);
    let centres: Vec<Vec<f64>> = (0..c)
        .map(|_| (0..d).map(|_| 1.2 * rng.normal()).collect())
        .collect();
    let n_per = if cfg.quick { 60 } else { 120 };
    let r = 2 * n_per * c;
    let (x, y_clean) = blobs(&mut rng, &centres, &vec![n_per; c], 1.0);
    let (xt, yt) = blobs(&mut rng, &centres, &vec![1000; c], 1.0);
    // 20 % of the training labels replaced by a different class, uniformly.
    let y: Vec<i64> = y_clean
        .iter()
        .map(|&t| {
            if rng.unit() < 0.2 {
                (t + 1 + rng.below(c as u64 - 1) as i64) % c as i64
            } else {
                t
            }
        })
        .collect();
    // Fixed random ReLU features: twice as many features as training points, so the model can
    // memorise the noisy labels (the regime where overconfidence shows).
    let a: Vec<f64> = rng.normals(d * r, 1.0);
    let b: Vec<f64> = rng.uniforms(r, -1.0, 1.0);
    let features = |x: &[f64]| -> Vec<f64> {
        let n = x.len() / d;
        let mut z = matmul(x, &a, n, d, r);
        for row in z.chunks_mut(r) {
            for (v, bj) in row.iter_mut().zip(&b) {
                *v = (*v + bj).max(0.0) / (r as f64).sqrt();
            }
        }
        z
    };
    let (phi, phit) = (features(&x), features(&xt));
    let iters = if cfg.quick { 100 } else { 300 };
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (label, params, rec) in [
        ("cross_entropy", &[][..], false),
        (
            "cross_entropy, label_smoothing=0.1",
            &[("label_smoothing", "0.1")][..],
            true,
        ),
    ] {
        let fit = fit_softmax(
            &Loss::new("cross_entropy", params)?,
            &phi,
            &y,
            r,
            c,
            None,
            iters,
        )?;
        tick();
        let prob = predict(&fit.params, &phit, r, c);
        let pred = argmax_rows(&prob, c);
        let accuracy = pred
            .iter()
            .zip(&yt)
            .filter(|(p, t)| **p as i64 == **t)
            .count() as f64
            / yt.len() as f64;
        let (e, diagram) = ece(&prob, &yt, c);
        let confidence = prob
            .chunks(c)
            .map(|row| row.iter().copied().fold(0.0, f64::max))
            .sum::<f64>()
            / yt.len() as f64;
        lines.push((label.to_owned(), diagram));
        rows.push(Row {
            label: label.into(),
            losses: vec!["cross_entropy".into()],
            recommended: rec,
            optimiser: fit.optimiser,
            values: vec![e, accuracy, confidence],
        });
    }
    lines.push(("perfect calibration".into(), vec![(0.0, 0.0), (1.0, 1.0)]));
    let metrics = vec![
        Metric {
            key: "ece",
            label: "ECE (15 bins)",
            range: (0.0, 1.0),
            better: Better::Lower,
        },
        Metric {
            key: "accuracy",
            label: "clean test acc.",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "mean_confidence",
            label: "mean confidence",
            range: (0.0, 1.0),
            better: Better::Near(rows[0].values[1].max(rows[1].values[1])),
        },
    ];
    let verdict = format!(
        "{}; accuracy {:.3} (plain) vs {:.3} (smoothed); mean confidence {:.3} vs {:.3}.",
        verdict_head(&rows, &metrics, 0),
        rows[0].values[1],
        rows[1].values[1],
        rows[0].values[2],
        rows[1].values[2]
    );
    Ok(Experiment {
        id: 4,
        key: "label_noise",
        title: "Label noise and overconfidence",
        setup: format!(
            "4 Gaussian classes in 5-D, {} training points with 20 % of labels flipped to another class; \
             {r} fixed random ReLU features (twice the number of points: the model can memorise the noise), softmax regression, \
             L-BFGS with the same budget ({iters} iterations at most) for both. ECE and accuracy on 4000 clean test points.",
            n_per * c
        ),
        metrics,
        rows,
        verdict,
        figures: vec![Figure::Lines {
            title: "Reliability diagram (clean test set)".into(),
            x_label: "mean confidence in bin".into(),
            y_label: "accuracy in bin".into(),
            points: vec![],
            lines,
        }],
        unavailable: None,
    })
}
