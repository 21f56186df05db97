//! Experiment 6: a linear embedding trained on some classes, judged on classes it never saw.

use losskit::sample::Rng;

use crate::fit::{matmul, matmul_tn, Adam, Input, Loss};
use crate::{verdict_head, Better, Config, Error, Experiment, Figure, Metric, Row};

const SIGNAL: usize = 8;
const NUISANCE: usize = 24;
const D: usize = SIGNAL + NUISANCE;
const E: usize = 8;

/// Samples of classes with prototypes `protos`: the signal (prototype + within-class noise)
/// mixed by `mix`, then nuisance dimensions of larger variance.
fn draw(rng: &mut Rng, protos: &[Vec<f64>], mix: &[f64], class: usize) -> Vec<f64> {
    let z: Vec<f64> = protos[class]
        .iter()
        .map(|m| m + 0.5 * rng.normal())
        .collect();
    let mut x = matmul(&z, mix, 1, SIGNAL, SIGNAL);
    x.extend((0..NUISANCE).map(|_| 1.5 * rng.normal()));
    x
}

/// Recall@1 with cosine similarity: the share of samples whose nearest other sample has
/// its class.
fn recall_at_1(emb: &[f64], labels: &[usize], dim: usize) -> f64 {
    let unit: Vec<Vec<f64>> = emb
        .chunks(dim)
        .map(|r| {
            let n = r.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            r.iter().map(|v| v / n).collect()
        })
        .collect();
    let mut hits = 0;
    for i in 0..unit.len() {
        let mut best = (f64::NEG_INFINITY, 0);
        for j in 0..unit.len() {
            if i != j {
                let s: f64 = unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum();
                if s > best.0 {
                    best = (s, j);
                }
            }
        }
        hits += usize::from(labels[best.1] == labels[i]);
    }
    hits as f64 / unit.len() as f64
}

/// The first two principal components of rows of `x` [n, dim] (power iteration).
fn pca2(x: &[f64], dim: usize) -> Vec<(f64, f64)> {
    let n = x.len() / dim;
    let mean: Vec<f64> = (0..dim)
        .map(|j| x.chunks(dim).map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let c: Vec<f64> = x
        .chunks(dim)
        .flat_map(|r| r.iter().zip(&mean).map(|(a, m)| a - m).collect::<Vec<_>>())
        .collect();
    let cov = matmul_tn(&c, &c, n, dim, dim);
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for k in 0..2 {
        let mut v: Vec<f64> = (0..dim).map(|j| 1.0 + (j + k) as f64 * 0.1).collect();
        for _ in 0..100 {
            let mut w = matmul(&cov, &v, dim, dim, 1);
            for u in &comps {
                let d: f64 = w.iter().zip(u).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
            }
            let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-300);
            v = w.into_iter().map(|a| a / norm).collect();
        }
        comps.push(v);
    }
    c.chunks(dim)
        .map(|r| {
            let p = |u: &Vec<f64>| r.iter().zip(u).map(|(a, b)| a * b).sum::<f64>();
            (p(&comps[0]), p(&comps[1]))
        })
        .collect()
}

/// Experiment 6.
pub(crate) fn held_out(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    // (label, loss name, parameters)
    type Kind = (
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
    );
    let kinds: [Kind; 5] = [
        ("contrastive", "contrastive", vec![]),
        ("triplet_margin", "triplet_margin", vec![]),
        ("batch_hard_triplet", "batch_hard_triplet", vec![]),
        (
            "info_nce (temperature=0.1)",
            "info_nce",
            vec![("temperature", "0.1")],
        ),
        ("supcon", "supcon", vec![]),
    ];
    let losses = kinds
        .iter()
        .map(|(_, n, p)| Loss::new(n, p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rng = Rng::new(cfg.seed ^ 0x06);
    let (n_train_classes, n_test_classes) = (24, 16);
    let protos: Vec<Vec<f64>> = (0..n_train_classes + n_test_classes)
        .map(|_| rng.normals(SIGNAL, 1.0))
        .collect();
    let mix = rng.normals(SIGNAL * SIGNAL, 1.0 / (SIGNAL as f64).sqrt());
    let per_test = 20;
    let mut xt = Vec::new();
    let mut yt = Vec::new();
    for c in n_train_classes..n_train_classes + n_test_classes {
        for _ in 0..per_test {
            xt.extend(draw(&mut rng, &protos, &mix, c));
            yt.push(c);
        }
    }
    let steps = if cfg.quick { 40 } else { 600 };
    let w0 = rng.normals(D * E, 1.0 / (D as f64).sqrt());
    let mut rows = vec![Row {
        label: "untrained projection (reference)".into(),
        losses: vec![],
        recommended: false,
        optimiser: "none".into(),
        values: vec![recall_at_1(&matmul(&xt, &w0, xt.len() / D, D, E), &yt, E)],
    }];
    let mut figures = Vec::new();
    let pts = |emb: &[f64]| -> Vec<(String, Vec<(f64, f64)>)> {
        let p = pca2(emb, E);
        (0..8)
            .map(|k| {
                (
                    format!("class {}", n_train_classes + k),
                    p[k * per_test..(k + 1) * per_test].to_vec(),
                )
            })
            .collect()
    };
    figures.push(Figure::Lines {
        title: "Held-out classes (8 of 16), untrained projection, first two principal components"
            .into(),
        x_label: "PC 1".into(),
        y_label: "PC 2".into(),
        points: pts(&matmul(&xt, &w0, xt.len() / D, D, E)),
        lines: vec![],
    });
    let guide_at = |batch: usize| {
        crate::guide::choice(
            losskit::guide::Task::Embedding,
            losskit::guide::Conditions {
                batch_size: Some(batch),
                supervised: true,
                ..Default::default()
            },
            &[],
        )
    };
    for (p, k) in [(4usize, 4usize), (16, 8)] {
        let batch = p * k;
        for ((label, name, _), loss) in kinds.iter().zip(&losses) {
            let mut w = w0.clone();
            let mut adam = Adam::new(w.len(), 0.01);
            let mut data = Rng::new(cfg.seed ^ 0x66);
            for _ in 0..steps {
                // P classes × K samples each: every anchor has positives and negatives.
                let mut classes: Vec<usize> = (0..n_train_classes).collect();
                for i in (1..classes.len()).rev() {
                    classes.swap(i, data.below(i as u64 + 1) as usize);
                }
                let mut x = Vec::with_capacity(batch * D);
                let mut y = Vec::with_capacity(batch);
                for &c in &classes[..p] {
                    for _ in 0..k {
                        x.extend(draw(&mut data, &protos, &mix, c));
                        y.push(c as i64);
                    }
                }
                let emb = matmul(&x, &w, batch, D, E);
                let row = |i: usize| &emb[i * E..(i + 1) * E];
                let xrow = |i: usize| &x[i * D..(i + 1) * D];
                // Pair and triplet losses get rows of the batch: (anchor, positive, negative)
                // picked within it; the in-batch losses get the whole batch.
                let partner = |i: usize, same: bool, r: &mut Rng| loop {
                    let j = r.below(batch as u64) as usize;
                    if j != i && (y[j] == y[i]) == same {
                        return j;
                    }
                };
                let grad = match *name {
                    "batch_hard_triplet" | "supcon" => {
                        let (_, g) = loss.value_and_grad(
                            &[
                                Input::float("embeddings", &emb, &[batch, E]),
                                Input::index("labels", &y, &[batch]),
                            ],
                            &["embeddings"],
                        )?;
                        matmul_tn(&x, &g[0], batch, D, E)
                    }
                    "info_nce" => {
                        // Query i and key i: two samples of one class; one pair per class so
                        // the other rows are true negatives.
                        let (mut q, mut kk, mut xq, mut xk) = (vec![], vec![], vec![], vec![]);
                        for c in 0..p {
                            let (a, b) = (c * k, c * k + 1);
                            q.extend_from_slice(row(a));
                            kk.extend_from_slice(row(b));
                            xq.extend_from_slice(xrow(a));
                            xk.extend_from_slice(xrow(b));
                        }
                        let m = q.len() / E;
                        let (_, g) = loss.value_and_grad(
                            &[
                                Input::float("query", &q, &[m, E]),
                                Input::float("key", &kk, &[m, E]),
                            ],
                            &["query", "key"],
                        )?;
                        let mut gw = matmul_tn(&xq, &g[0], m, D, E);
                        gw.iter_mut()
                            .zip(matmul_tn(&xk, &g[1], m, D, E))
                            .for_each(|(a, b)| *a += b);
                        gw
                    }
                    _ => {
                        let (mut a, mut b, mut cc, mut xa, mut xb, mut xc) =
                            (vec![], vec![], vec![], vec![], vec![], vec![]);
                        let mut target = Vec::new();
                        for i in 0..batch {
                            let (pos, neg) =
                                (partner(i, true, &mut data), partner(i, false, &mut data));
                            if *name == "contrastive" {
                                // Two pairs per anchor: one similar, one dissimilar.
                                for (j, t) in [(pos, 1.0), (neg, 0.0)] {
                                    a.extend_from_slice(row(i));
                                    b.extend_from_slice(row(j));
                                    xa.extend_from_slice(xrow(i));
                                    xb.extend_from_slice(xrow(j));
                                    target.push(t);
                                }
                            } else {
                                a.extend_from_slice(row(i));
                                b.extend_from_slice(row(pos));
                                cc.extend_from_slice(row(neg));
                                xa.extend_from_slice(xrow(i));
                                xb.extend_from_slice(xrow(pos));
                                xc.extend_from_slice(xrow(neg));
                            }
                        }
                        let m = a.len() / E;
                        let (inputs, names): (Vec<Input<'_>>, &[&str]) = if *name == "contrastive" {
                            (
                                vec![
                                    Input::float("x1", &a, &[m, E]),
                                    Input::float("x2", &b, &[m, E]),
                                    Input::float("target", &target, &[m]),
                                ],
                                &["x1", "x2"],
                            )
                        } else {
                            (
                                vec![
                                    Input::float("anchor", &a, &[m, E]),
                                    Input::float("positive", &b, &[m, E]),
                                    Input::float("negative", &cc, &[m, E]),
                                ],
                                &["anchor", "positive", "negative"],
                            )
                        };
                        let (_, g) = loss.value_and_grad(&inputs, names)?;
                        let mut gw = vec![0.0; D * E];
                        for (gi, xi) in g.iter().zip([&xa, &xb, &xc]) {
                            if !xi.is_empty() {
                                gw.iter_mut()
                                    .zip(matmul_tn(xi, gi, m, D, E))
                                    .for_each(|(s, v)| *s += v);
                            }
                        }
                        gw
                    }
                };
                adam.step(&mut w, &grad, 1.0);
            }
            tick();
            let emb = matmul(&xt, &w, xt.len() / D, D, E);
            // The guide: batch-hard triplet for small batches, SupCon for large labelled ones.
            let recommended = *name == guide_at(batch)?.loss;
            if recommended && batch > 16 {
                figures.push(Figure::Lines {
                    title: format!("Held-out classes (8 of 16) after {label}, batch {batch}"),
                    x_label: "PC 1".into(),
                    y_label: "PC 2".into(),
                    points: pts(&emb),
                    lines: vec![],
                });
            }
            rows.push(Row {
                label: format!("{label}, batch {batch}"),
                losses: vec![name.to_string()],
                recommended,
                optimiser: format!("Adam, {steps} steps"),
                values: vec![recall_at_1(&emb, &yt, E)],
            });
        }
    }
    let metrics = vec![Metric {
        key: "recall_at_1",
        label: "recall@1, held-out classes",
        range: (0.0, 1.0),
        better: Better::Higher,
    }];
    let verdict = format!(
        "batch 16: {}; batch 128: {}.",
        verdict_head(&rows[1..6], &metrics, 0),
        verdict_head(&rows[6..], &metrics, 0)
    );
    Ok(Experiment {
        id: 6,
        key: "embeddings",
        title: "Embeddings for unseen classes",
        setup: format!(
            "40 classes: 8 signal dimensions (class prototype + N(0, 0.5²), mixed) and 24 nuisance dimensions N(0, 1.5²). \
             A linear projection 32 → 8 trained on 24 classes ({steps} Adam steps, batches of P classes × K samples: \
             4×4 = 16 and 16×8 = 128; info_nce takes one query/key pair per class of the batch), then recall@1 \
             (cosine) among {} samples of the 16 classes never seen in training. Recommended: losskit::guide::recommend \
             for that batch size with labels.",
            per_test * n_test_classes
        ),
        metrics,
        rows,
        verdict,
        figures,
        unavailable: None,
    })
}
