//! Experiments 1 and 2: a line fitted through gross outliers, and prediction intervals on
//! heteroscedastic data.

use losskit::sample::Rng;

use crate::fit::{adam_full_batch, lbfgs, Fit, Input, Loss};
use crate::{verdict_head, Better, Config, Error, Experiment, Figure, Metric, Row};

/// Fits y ≈ a·x + b with `loss` (parameters [a, b]); `smooth` picks L-BFGS, else Adam.
fn fit_line(
    loss: &Loss,
    x: &[f64],
    y: &[f64],
    smooth: bool,
    init: [f64; 2],
    quick: bool,
) -> Result<Fit, Error> {
    let n = x.len();
    let f = |p: &[f64]| -> Result<(f64, Vec<f64>), Error> {
        let pred: Vec<f64> = x.iter().map(|&xi| p[0] * xi + p[1]).collect();
        let (v, g) = loss.value_and_grad(
            &[
                Input::float("input", &pred, &[n]),
                Input::float("target", y, &[n]),
            ],
            &["input"],
        )?;
        let g = &g[0];
        let ga: f64 = g.iter().zip(x).map(|(gi, xi)| gi * xi).sum();
        Ok((v, vec![ga, g.iter().sum()]))
    };
    if smooth {
        lbfgs(&f, init.to_vec(), 200)
    } else {
        adam_full_batch(&f, init.to_vec(), 0.2, if quick { 600 } else { 1500 })
    }
}

fn line(p: &[f64], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    vec![(lo, p[0] * lo + p[1]), (hi, p[0] * hi + p[1])]
}

/// Experiment 1.
pub(crate) fn outliers(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    let mut rng = Rng::new(cfg.seed ^ 0x01);
    let (slope, intercept, noise) = (2.0, 1.0, 0.5);
    let n = if cfg.quick { 200 } else { 1000 };
    let x = rng.uniforms(n, -3.0, 3.0);
    let mut y: Vec<f64> = x
        .iter()
        .map(|&xi| slope * xi + intercept + noise * rng.normal())
        .collect();
    // 10 % gross errors, all upwards (a saturated sensor, a unit slip): every tenth point.
    let mut outlier_pts = Vec::new();
    for i in (0..n).step_by(10) {
        y[i] += rng.uniform(10.0, 30.0);
        outlier_pts.push((x[i], y[i]));
    }
    let nt = 2000;
    let xt = rng.uniforms(nt, -3.0, 3.0);
    let yt: Vec<f64> = xt
        .iter()
        .map(|&xi| slope * xi + intercept + noise * rng.normal())
        .collect();

    // MAE first: its residuals give the robust scale the Huber δ is set from.
    let mae = fit_line(
        &Loss::new("mae", &[])?,
        &x,
        &y,
        false,
        [0.0, 0.0],
        cfg.quick,
    )?;
    tick();
    let res: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(xi, yi)| yi - (mae.params[0] * xi + mae.params[1]))
        .collect();
    // The decision guide, given the residuals of that robust fit: which loss, and Huber's δ
    // = 1.345 × their robust scale (1.4826 · MAD).
    let stats = losskit::guide::TargetStats::from_targets(&res)?;
    let guide = crate::guide::choice(
        losskit::guide::Task::Regression,
        losskit::guide::Conditions {
            targets: Some(stats.clone()),
            ..Default::default()
        },
        &[],
    )?;
    let delta = stats.huber_delta();
    let delta_text = format!("{delta:.3}");
    let fits = [
        (
            "mse",
            "mse".to_owned(),
            Loss::new("mse", &[])?,
            true,
            guide.loss == "mse",
        ),
        (
            "huber",
            format!("huber (delta={delta_text})"),
            Loss::new("huber", &[("delta", &delta_text)])?,
            true,
            guide.loss == "huber",
        ),
        (
            "log_cosh",
            "log_cosh".to_owned(),
            Loss::new("log_cosh", &[])?,
            true,
            guide.loss == "log_cosh",
        ),
    ];
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut curves = Vec::new();
    let mut push = |name: &str, label: String, fit: Fit, recommended: bool| {
        let p = &fit.params;
        let rmse = (xt
            .iter()
            .zip(&yt)
            .map(|(xi, yi)| (p[0] * xi + p[1] - yi).powi(2))
            .sum::<f64>()
            / nt as f64)
            .sqrt();
        lines.push((label.clone(), line(p, -3.0, 3.0)));
        let c0 = fit.curve[0].max(1e-300);
        curves.push((
            label.clone(),
            fit.curve
                .iter()
                .enumerate()
                .map(|(i, c)| (i as f64, c / c0))
                .collect(),
        ));
        rows.push(Row {
            label,
            losses: vec![name.to_owned()],
            recommended,
            optimiser: fit.optimiser,
            values: vec![
                rmse,
                (p[0] - slope).abs(),
                (p[1] - intercept).abs(),
                p[0],
                p[1],
            ],
        });
    };
    for (name, label, loss, smooth, rec) in fits {
        let fit = fit_line(&loss, &x, &y, smooth, [0.0, 0.0], cfg.quick)?;
        tick();
        push(name, label, fit, rec);
    }
    push("mae", "mae".to_owned(), mae, guide.loss == "mae");
    rows.sort_by_key(|r| {
        ["mse", "mae", "huber", "log_cosh"]
            .iter()
            .position(|n| *n == r.losses[0])
    });
    let metrics = vec![
        Metric {
            key: "test_rmse",
            label: "clean test RMSE",
            range: (0.0, f64::INFINITY),
            better: Better::Lower,
        },
        Metric {
            key: "slope_error",
            label: "|slope - 2|",
            range: (0.0, f64::INFINITY),
            better: Better::Lower,
        },
        Metric {
            key: "intercept_error",
            label: "|intercept - 1|",
            range: (0.0, f64::INFINITY),
            better: Better::Lower,
        },
        Metric {
            key: "slope",
            label: "slope",
            range: (f64::NEG_INFINITY, f64::INFINITY),
            better: Better::Near(slope),
        },
        Metric {
            key: "intercept",
            label: "intercept",
            range: (f64::NEG_INFINITY, f64::INFINITY),
            better: Better::Near(intercept),
        },
    ];
    let verdict = format!(
        "{}; the noise floor (true line) is RMSE {noise:.3}.",
        verdict_head(&rows, &metrics, 0)
    );
    let clean: Vec<(f64, f64)> = x
        .iter()
        .zip(&y)
        .enumerate()
        .filter(|(i, _)| i % 10 != 0)
        .map(|(_, (a, b))| (*a, *b))
        .collect();
    lines.push(("true line".to_owned(), line(&[slope, intercept], -3.0, 3.0)));
    Ok(Experiment {
        id: 1,
        key: "outliers",
        title: "Regression with gross outliers",
        setup: format!(
            "{n} training points y = 2x + 1 + N(0, 0.5²), x ~ U(-3, 3); every tenth target shifted up by U(10, 30). \
             Linear model; L-BFGS for the smooth losses, Adam for mae (not differentiable at 0). \
             Huber δ = 1.345·1.4826·MAD of the mae fit's residuals = {delta_text}. Test: {nt} clean points. \
             Recommended: losskit::guide::recommend given those residuals (share beyond 3 robust scales {:.3}): {}.",
            stats.outlier_share,
            guide.label
        ),
        metrics,
        rows,
        verdict,
        figures: vec![
            Figure::Lines {
                title: "Fitted lines (training data; outliers in the second colour)".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                points: vec![("training points".into(), clean), ("contaminated targets".into(), outlier_pts)],
                lines,
            },
            Figure::Lines {
                title: "Training curves (loss / initial loss, per evaluation or step)".into(),
                x_label: "evaluation".into(),
                y_label: "relative loss".into(),
                points: vec![],
                lines: curves,
            },
        ],
        unavailable: None,
    })
}

/// Experiment 2.
pub(crate) fn intervals(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    let mut rng = Rng::new(cfg.seed ^ 0x02);
    let n = if cfg.quick { 400 } else { 2000 };
    let sd = |x: f64| 0.2 + 0.6 * x;
    let gen = |rng: &mut Rng, n: usize| {
        let x = rng.uniforms(n, 0.0, 3.0);
        let y: Vec<f64> = x
            .iter()
            .map(|&xi| 1.0 + 2.0 * xi + sd(xi) * rng.normal())
            .collect();
        (x, y)
    };
    let (x, y) = gen(&mut rng, n);
    let nt = 4000;
    let (xt, yt) = gen(&mut rng, nt);

    // Naive: least squares plus a constant ±1.2816 σ̂ band (σ̂ the residual standard deviation).
    let mse = fit_line(&Loss::new("mse", &[])?, &x, &y, true, [0.0, 0.0], cfg.quick)?;
    tick();
    let res: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(xi, yi)| yi - (mse.params[0] * xi + mse.params[1]))
        .collect();
    let sigma = (res.iter().map(|r| r * r).sum::<f64>() / (n - 2) as f64).sqrt();
    let z = 1.2815515655446004;
    let naive_lo = [mse.params[0], mse.params[1] - z * sigma];
    let naive_hi = [mse.params[0], mse.params[1] + z * sigma];

    let mut q = Vec::new();
    let mut iters = 0;
    for tau in ["0.1", "0.5", "0.9"] {
        let fit = fit_line(
            &Loss::new("quantile", &[("tau", tau)])?,
            &x,
            &y,
            false,
            [0.0, 0.0],
            cfg.quick,
        )?;
        iters = fit.curve.len();
        q.push(fit.params);
    }
    tick();
    let eval = |lo: &[f64], hi: &[f64], sel: &dyn Fn(f64) -> bool| {
        let (mut inside, mut count, mut width) = (0usize, 0usize, 0.0);
        for (&xi, &yi) in xt.iter().zip(&yt) {
            if sel(xi) {
                let (l, h) = (lo[0] * xi + lo[1], hi[0] * xi + hi[1]);
                count += 1;
                width += h - l;
                inside += usize::from(yi >= l && yi <= h);
            }
        }
        (inside as f64 / count as f64, width / count as f64)
    };
    let row = |label: String, loss: &str, rec: bool, opt: String, lo: &[f64], hi: &[f64]| {
        let (all, w) = eval(lo, hi, &|_| true);
        let (low, _) = eval(lo, hi, &|x| x < 1.0);
        let (high, _) = eval(lo, hi, &|x| x >= 2.0);
        Row {
            label,
            losses: vec![loss.to_owned()],
            recommended: rec,
            optimiser: opt,
            values: vec![all, low, high, w],
        }
    };
    let rows = vec![
        row(
            "mse ± 1.28σ̂ (constant band)".into(),
            "mse",
            false,
            mse.optimiser.clone(),
            &naive_lo,
            &naive_hi,
        ),
        row(
            "quantile τ=0.1 / 0.9".into(),
            "quantile",
            true,
            format!("Adam, {iters} steps each"),
            &q[0],
            &q[2],
        ),
    ];
    let metrics = vec![
        Metric {
            key: "coverage",
            label: "coverage (target 0.80)",
            range: (0.0, 1.0),
            better: Better::Near(0.8),
        },
        Metric {
            key: "coverage_low_noise",
            label: "coverage x<1",
            range: (0.0, 1.0),
            better: Better::Near(0.8),
        },
        Metric {
            key: "coverage_high_noise",
            label: "coverage x>=2",
            range: (0.0, 1.0),
            better: Better::Near(0.8),
        },
        Metric {
            key: "mean_width",
            label: "mean width",
            range: (0.0, f64::INFINITY),
            better: Better::Lower,
        },
    ];
    // The overall coverage of both is near 0.8 by construction; the conditional one is the test.
    let worst = |r: &Row| (r.values[1] - 0.8).abs().max((r.values[2] - 0.8).abs());
    let verdict = format!(
        "overall coverage: mse band {:.3}, quantile {:.3}; worst conditional coverage error (x<1 or x>=2): mse band {:.3}, quantile {:.3} — {}.",
        rows[0].values[0],
        rows[1].values[0],
        worst(&rows[0]),
        worst(&rows[1]),
        if worst(&rows[1]) < worst(&rows[0]) { "the quantile interval follows the noise, the constant band does not" } else { "the recommendation did NOT win on conditional coverage" }
    );
    let pts: Vec<(f64, f64)> = xt
        .iter()
        .zip(&yt)
        .take(800)
        .map(|(a, b)| (*a, *b))
        .collect();
    Ok(Experiment {
        id: 2,
        key: "intervals",
        title: "Prediction intervals (80 %)",
        setup: format!(
            "{n} points y = 1 + 2x + (0.2 + 0.6x)·N(0, 1), x ~ U(0, 3): the noise grows with x. Linear models; \
             quantile lines at τ = 0.1, 0.5, 0.9 (Adam, the pinball loss has a kink) against least squares (L-BFGS) \
             with a constant ±1.2816σ̂ band. Test: {nt} fresh points; coverage should be 0.80 everywhere."
        ),
        metrics,
        rows,
        verdict,
        figures: vec![Figure::Lines {
            title: "80 % intervals on test data".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            points: vec![("test points".into(), pts)],
            lines: vec![
                ("mse - 1.28σ̂".into(), line(&naive_lo, 0.0, 3.0)),
                ("mse + 1.28σ̂".into(), line(&naive_hi, 0.0, 3.0)),
                ("quantile τ=0.1".into(), line(&q[0], 0.0, 3.0)),
                ("quantile τ=0.5".into(), line(&q[1], 0.0, 3.0)),
                ("quantile τ=0.9".into(), line(&q[2], 0.0, 3.0)),
            ],
        }],
        unavailable: None,
    })
}
