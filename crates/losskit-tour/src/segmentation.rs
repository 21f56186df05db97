//! Experiment 5: segmenting small objects with a per-pixel model.

use losskit::sample::Rng;

use crate::fit::{Adam, Input, Loss};
use crate::{verdict_head, Better, Config, Error, Experiment, Figure, Metric, Row};

/// Features per pixel: bias, intensity, 3×3 and 7×7 box means, and the local contrast
/// (3×3 mean − 7×7 mean): a fixed filter bank, so the model is a 1×1 convolution over it.
const F: usize = 5;

struct Image {
    pixels: Vec<f64>,
    mask: Vec<f64>,
    /// Windows (x0, y0, x1, y1) around each small object: its box plus 3 pixels.
    small: Vec<(usize, usize, usize, usize)>,
}

fn box_mean(img: &[f64], s: usize, r: isize) -> Vec<f64> {
    let mut out = vec![0.0; s * s];
    for y in 0..s as isize {
        for x in 0..s as isize {
            let (mut sum, mut n) = (0.0, 0.0);
            for dy in -r..=r {
                for dx in -r..=r {
                    let (u, v) = (x + dx, y + dy);
                    if u >= 0 && v >= 0 && u < s as isize && v < s as isize {
                        sum += img[v as usize * s + u as usize];
                        n += 1.0;
                    }
                }
            }
            out[y as usize * s + x as usize] = sum / n;
        }
    }
    out
}

fn features(img: &[f64], s: usize) -> Vec<f64> {
    let (m3, m7) = (box_mean(img, s, 1), box_mean(img, s, 3));
    let mut f = Vec::with_capacity(s * s * F);
    for i in 0..s * s {
        f.extend_from_slice(&[1.0, img[i], m3[i], m7[i], m3[i] - m7[i]]);
    }
    f
}

/// An image of side `s`: a large disc in half of the images, 2–4 small discs (radius 1–2.5),
/// a smooth background ramp and Gaussian noise.
fn image(rng: &mut Rng, s: usize) -> Image {
    let mut discs: Vec<(f64, f64, f64)> = Vec::new();
    if rng.unit() < 0.5 {
        let r = rng.uniform(5.0, 8.0);
        discs.push((
            rng.uniform(r, s as f64 - r),
            rng.uniform(r, s as f64 - r),
            r,
        ));
    }
    let smalls = 2 + rng.below(3) as usize;
    let mut small = Vec::new();
    let mut tries = 0;
    while small.len() < smalls && tries < 200 {
        tries += 1;
        let r = rng.uniform(1.0, 2.5);
        let (cx, cy) = (
            rng.uniform(4.0, s as f64 - 4.0),
            rng.uniform(4.0, s as f64 - 4.0),
        );
        if discs
            .iter()
            .any(|&(x, y, q)| ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() < q + r + 4.0)
        {
            continue;
        }
        discs.push((cx, cy, r));
        let m = r + 3.0;
        small.push((
            (cx - m).max(0.0) as usize,
            (cy - m).max(0.0) as usize,
            ((cx + m).ceil() as usize).min(s),
            ((cy + m).ceil() as usize).min(s),
        ));
    }
    let (gx, gy) = (rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5));
    let mut pixels = vec![0.0; s * s];
    let mut mask = vec![0.0; s * s];
    for y in 0..s {
        for x in 0..s {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let inside = discs
                .iter()
                .any(|&(cx, cy, r)| (px - cx).powi(2) + (py - cy).powi(2) <= r * r);
            mask[y * s + x] = f64::from(u8::from(inside));
            let ramp = gx * (px / s as f64 - 0.5) + gy * (py / s as f64 - 0.5);
            pixels[y * s + x] = f64::from(u8::from(inside)) + ramp + 0.45 * rng.normal();
        }
    }
    Image {
        pixels,
        mask,
        small,
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn dice(p: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut inter, mut total) = (0.0, 0.0);
    for (a, b) in p {
        inter += a * b;
        total += a + b;
    }
    if total == 0.0 {
        1.0
    } else {
        2.0 * inter / total
    }
}

/// (image Dice, small-object Dice) of thresholded predictions over a test set.
fn scores(theta: &[f64], test: &[(Image, Vec<f64>)], s: usize) -> (f64, f64) {
    let (mut img_dice, mut small_dice, mut n_small) = (0.0, 0.0, 0);
    for (im, feat) in test {
        let pred: Vec<f64> = feat
            .chunks(F)
            .map(|f| {
                f64::from(u8::from(
                    f.iter().zip(theta).map(|(a, b)| a * b).sum::<f64>() > 0.0,
                ))
            })
            .collect();
        img_dice += dice(pred.iter().copied().zip(im.mask.iter().copied()));
        for &(x0, y0, x1, y1) in &im.small {
            let idx = (y0..y1).flat_map(|y| (x0..x1).map(move |x| y * s + x));
            small_dice += dice(idx.map(|i| (pred[i], im.mask[i])));
            n_small += 1;
        }
    }
    (img_dice / test.len() as f64, small_dice / n_small as f64)
}

/// Experiment 5.
pub(crate) fn small_objects(cfg: &Config, tick: &mut dyn FnMut()) -> Result<Experiment, Error> {
    let runs = [
        ("bce_with_logits", "bce_with_logits", vec![]),
        ("dice", "dice", vec![("activation", "sigmoid")]),
        ("bce_dice", "bce_dice", vec![]),
        (
            "tversky (alpha=0.3, beta=0.7)",
            "tversky",
            vec![("activation", "sigmoid"), ("alpha", "0.3"), ("beta", "0.7")],
        ),
    ];
    let losses = runs
        .iter()
        .map(|(_, name, params)| Loss::new(name, params))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rng = Rng::new(cfg.seed ^ 0x05);
    let s = if cfg.quick { 24 } else { 32 };
    let (n_train, n_test, epochs, batch) = if cfg.quick {
        (32, 16, 8, 8)
    } else {
        (128, 64, 40, 8)
    };
    let make = |rng: &mut Rng, n: usize| -> Vec<(Image, Vec<f64>)> {
        (0..n)
            .map(|_| {
                let im = image(rng, s);
                let f = features(&im.pixels, s);
                (im, f)
            })
            .collect()
    };
    let train = make(&mut rng, n_train);
    let test = make(&mut rng, n_test);
    let hw = s * s;
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut masks = vec![
        (
            "input".to_owned(),
            s,
            s,
            test[0].0.pixels.iter().map(|v| (v + 0.8) / 2.6).collect(),
        ),
        ("truth".to_owned(), s, s, test[0].0.mask.clone()),
    ];
    let guide = crate::guide::choice(
        losskit::guide::Task::Segmentation,
        losskit::guide::Conditions {
            small_objects: true,
            ..Default::default()
        },
        &[],
    )?;
    for ((label, name, _), loss) in runs.iter().zip(&losses) {
        let rec = &(*name == guide.loss);
        let mut theta = vec![0.0; F];
        theta[0] = -2.0; // start at a low foreground probability, as a detector's prior bias
        let mut adam = Adam::new(F, 0.05);
        let mut curve = Vec::new();
        let mut order: Vec<usize> = (0..n_train).collect();
        let mut shuffle = Rng::new(cfg.seed ^ 0x55);
        for _ in 0..epochs {
            for i in (1..order.len()).rev() {
                order.swap(i, shuffle.below(i as u64 + 1) as usize);
            }
            for chunk in order.chunks(batch) {
                let b = chunk.len();
                let mut logits = Vec::with_capacity(b * hw);
                let mut target = Vec::with_capacity(b * hw);
                for &k in chunk {
                    let (im, f) = &train[k];
                    logits.extend(
                        f.chunks(F)
                            .map(|fp| fp.iter().zip(&theta).map(|(a, t)| a * t).sum::<f64>()),
                    );
                    target.extend_from_slice(&im.mask);
                }
                let dims = [b, 1, s, s];
                let (_, g) = loss.value_and_grad(
                    &[
                        Input::float("input", &logits, &dims),
                        Input::float("target", &target, &dims),
                    ],
                    &["input"],
                )?;
                let mut grad = vec![0.0; F];
                for (i, &k) in chunk.iter().enumerate() {
                    for (fp, gp) in train[k].1.chunks(F).zip(&g[0][i * hw..(i + 1) * hw]) {
                        for (gj, fj) in grad.iter_mut().zip(fp) {
                            *gj += gp * fj;
                        }
                    }
                }
                adam.step(&mut theta, &grad, 1.0);
            }
            curve.push(scores(&theta, &test, s).0);
        }
        tick();
        let (img, small) = scores(&theta, &test, s);
        let half = &curve[curve.len() / 2..];
        let wobble = half.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>()
            / (half.len() - 1).max(1) as f64;
        masks.push((
            name.to_string(),
            s,
            s,
            test[0]
                .1
                .chunks(F)
                .map(|fp| sigmoid(fp.iter().zip(&theta).map(|(a, t)| a * t).sum()))
                .collect(),
        ));
        curves.push((
            label.to_string(),
            curve
                .iter()
                .enumerate()
                .map(|(i, &d)| ((i + 1) as f64, d))
                .collect(),
        ));
        rows.push(Row {
            label: label.to_string(),
            losses: vec![name.to_string()],
            recommended: *rec,
            optimiser: format!(
                "Adam, {epochs} epochs × {} batches",
                n_train.div_ceil(batch)
            ),
            values: vec![small, img, wobble],
        });
    }
    let metrics = vec![
        Metric {
            key: "small_object_dice",
            label: "Dice, small objects",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "image_dice",
            label: "Dice, whole image",
            range: (0.0, 1.0),
            better: Better::Higher,
        },
        Metric {
            key: "curve_wobble",
            label: "mean |ΔDice|/epoch, 2nd half",
            range: (0.0, 1.0),
            better: Better::Lower,
        },
    ];
    let steadiest = &rows[crate::winner(&rows, &metrics, 2)];
    let verdict = format!(
        "{}; steadiest validation curve: {} ({} mean change per epoch).",
        verdict_head(&rows, &metrics, 0),
        steadiest.label,
        crate::text::number(steadiest.values[2])
    );
    Ok(Experiment {
        id: 5,
        key: "small_objects",
        title: "Segmentation of small objects",
        setup: format!(
            "{n_train} training and {n_test} test images of {s}×{s} pixels: 2–4 small discs (radius 1–2.5 px) each, a large \
             disc (radius 5–8) in half of them, a background ramp and N(0, 0.45²) noise. Per-pixel logistic model on 5 \
             fixed filters (intensity, 3×3 and 7×7 means, contrast), Adam (batches of {batch} images). Dice of the mask \
             thresholded at p = 0.5; small-object Dice inside each small disc's box plus 3 px. \
             Recommended: losskit::guide::recommend for small objects ({}).",
            guide.label
        ),
        metrics,
        rows,
        verdict,
        figures: vec![
            Figure::Lines {
                title: "Validation Dice per epoch".into(),
                x_label: "epoch".into(),
                y_label: "test Dice".into(),
                points: vec![],
                lines: curves,
            },
            Figure::Images { title: "A test image, its mask, and each model's foreground probability".into(), images: masks },
        ],
        unavailable: None,
    })
}
