//! `losskit tour`: small models trained on built-in, seeded data, one experiment per row of
//! the decision guide, measuring how the recommended loss compares with the naive choice.
//!
//! [`run`] trains every experiment and returns a [`Tour`]: plain data (tables, verdicts,
//! figures) that [`text`], [`json`] and [`html`] render. The experiments reach every loss
//! through losskit's by-name layer ([`losskit::find`], [`losskit::evaluate_with`]), the same
//! way the CLI does, and take cost and gradient from its fused value-and-gradient pass.
//!
//! Optimisers: argmin's L-BFGS for the full-batch smooth fits (experiments 1, 3, 4); Adam
//! (written once, in `fit.rs`) for the non-smooth, mini-batch or non-convex ones.

#![deny(missing_docs)]

mod boxes;
mod classification;
mod embedding;
mod fit;
mod guide;
pub mod html;
pub mod json;
mod regression;
mod segmentation;
pub mod text;

use std::fmt;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data and initialisation seed.
    pub seed: u64,
    /// Smaller data and fewer steps: seconds instead of a minute.
    pub quick: bool,
    /// The experiments to run (1-based ids); empty means all.
    pub only: Vec<usize>,
}

/// A failed experiment: what went wrong, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<losskit::Error> for Error {
    fn from(e: losskit::Error) -> Error {
        Error(e.to_string())
    }
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Better {
    /// Larger is better (accuracy, IoU).
    Higher,
    /// Smaller is better (error, calibration error).
    Lower,
    /// Closer to `target` is better (coverage of an interval).
    Near(f64),
}

/// A column of an experiment's table.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Key in the JSON output.
    pub key: &'static str,
    /// Column header.
    pub label: &'static str,
    /// The range every value lies in (inclusive; `f64::INFINITY` for no upper bound).
    pub range: (f64, f64),
    /// Which way it improves.
    pub better: Better,
}

/// One trained model: a row of a table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was trained, as shown (`huber (delta=0.74)`).
    pub label: String,
    /// The catalogue names of the losses used (`["quantile"]`).
    pub losses: Vec<String>,
    /// Whether the decision guide recommends this row.
    pub recommended: bool,
    /// How it was optimised.
    pub optimiser: String,
    /// The values, in the order of [`Experiment::metrics`].
    pub values: Vec<f64>,
}

/// A figure of the HTML report.
#[derive(Debug, Clone)]
pub enum Figure {
    /// Lines (training curves, fitted lines, reliability diagrams), optionally over points.
    Lines {
        /// Title.
        title: String,
        /// X-axis label.
        x_label: String,
        /// Y-axis label.
        y_label: String,
        /// Background points: (series name, points).
        points: Vec<(String, Vec<(f64, f64)>)>,
        /// Lines: (series name, points in order).
        lines: Vec<(String, Vec<(f64, f64)>)>,
    },
    /// Grey-scale images side by side (an input, its mask, predicted masks), values in [0, 1].
    Images {
        /// Title.
        title: String,
        /// (caption, width, height, pixels row-major).
        images: Vec<(String, usize, usize, Vec<f64>)>,
    },
}

/// One experiment's result.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// 1-based id.
    pub id: usize,
    /// Short key (`outliers`).
    pub key: &'static str,
    /// Title.
    pub title: &'static str,
    /// The data, the model and the optimiser, in a sentence or two.
    pub setup: String,
    /// The columns.
    pub metrics: Vec<Metric>,
    /// The rows.
    pub rows: Vec<Row>,
    /// One line: what was measured, and whether the recommendation won.
    pub verdict: String,
    /// Figures for the report.
    pub figures: Vec<Figure>,
    /// Set when the experiment could not run (a loss it needs is not in this build's
    /// catalogue): the reason. Rows and figures are then empty.
    pub unavailable: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Tour {
    /// The seed.
    pub seed: u64,
    /// Whether it was a `--quick` run.
    pub quick: bool,
    /// The experiments, in id order.
    pub experiments: Vec<Experiment>,
    /// Wall-clock seconds for the whole run.
    pub seconds: f64,
}

/// The experiments: id, key, title, number of models trained (for progress), and the runner.
type Runner = fn(&Config, &mut dyn FnMut()) -> Result<Experiment, Error>;
const EXPERIMENTS: &[(usize, &str, usize, Runner)] = &[
    (1, "Regression with gross outliers", 4, regression::outliers),
    (2, "Prediction intervals", 2, regression::intervals),
    (3, "Class imbalance 1:50", 4, classification::imbalance),
    (
        4,
        "Label noise and overconfidence",
        2,
        classification::label_noise,
    ),
    (
        5,
        "Segmentation of small objects",
        4,
        segmentation::small_objects,
    ),
    (6, "Embeddings for unseen classes", 10, embedding::held_out),
    (7, "Box regression", 4, boxes::boxes),
];

/// The ids and titles of every experiment.
pub fn experiments() -> impl Iterator<Item = (usize, &'static str)> {
    EXPERIMENTS.iter().map(|e| (e.0, e.1))
}

/// The number of models [`run`] trains for `config` (the progress bar's length).
pub fn work(config: &Config) -> usize {
    selected(config).map(|e| e.2).sum()
}

fn selected(
    config: &Config,
) -> impl Iterator<Item = &'static (usize, &'static str, usize, Runner)> + '_ {
    EXPERIMENTS
        .iter()
        .filter(|e| config.only.is_empty() || config.only.contains(&e.0))
}

/// Runs the selected experiments; `tick` is called after every trained model.
///
/// # Errors
/// An id in `only` that is not an experiment; a loss call that fails (a bug: the data are
/// built to be valid).
pub fn run(config: &Config, tick: &mut dyn FnMut()) -> Result<Tour, Error> {
    for id in &config.only {
        if !EXPERIMENTS.iter().any(|e| e.0 == *id) {
            return Err(Error(format!(
                "no experiment {id}: the ids are 1 to {}",
                EXPERIMENTS.len()
            )));
        }
    }
    let start = std::time::Instant::now();
    let mut experiments = Vec::new();
    for &(id, title, models, runner) in selected(config) {
        let mut ticks = 0;
        let result = runner(config, &mut || {
            ticks += 1;
            tick();
        });
        let experiment = match result {
            Ok(e) => e,
            // A family this build does not have yet: say which losses are missing.
            Err(e) if e.0.starts_with("unknown loss `") => Experiment {
                id,
                key: "",
                title,
                setup: String::new(),
                metrics: Vec::new(),
                rows: Vec::new(),
                verdict: String::new(),
                figures: Vec::new(),
                unavailable: Some(format!(
                    "this build's catalogue lacks a loss it needs: {}",
                    e.0
                )),
            },
            Err(e) => return Err(Error(format!("experiment {id} ({title}): {e}"))),
        };
        for _ in ticks..models {
            tick();
        }
        experiments.push(experiment);
    }
    Ok(Tour {
        seed: config.seed,
        quick: config.quick,
        experiments,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The verdict's comparison: the best row by `metric` (column index), and whether it is
/// recommended. Ties go to the recommended row.
pub(crate) fn winner(rows: &[Row], metrics: &[Metric], metric: usize) -> usize {
    let score = |r: &Row| {
        let v = r.values[metric];
        match metrics[metric].better {
            Better::Higher => -v,
            Better::Lower => v,
            Better::Near(t) => (v - t).abs(),
        }
    };
    let mut best = 0;
    for (i, r) in rows.iter().enumerate() {
        let (s, b) = (score(r), score(&rows[best]));
        if s < b || (s == b && r.recommended && !rows[best].recommended) {
            best = i;
        }
    }
    best
}

/// "won"/"did not win" sentence start for the recommended rows against the best by `metric`.
pub(crate) fn verdict_head(rows: &[Row], metrics: &[Metric], metric: usize) -> String {
    let best = winner(rows, metrics, metric);
    let fmt = |r: &Row| format!("{} {}", r.label, text::number(r.values[metric]));
    let rec: Vec<&Row> = rows.iter().filter(|r| r.recommended).collect();
    let name = metrics[metric].label;
    if rows[best].recommended {
        let runner_up = rows
            .iter()
            .enumerate()
            .filter(|(i, r)| *i != best && !r.recommended)
            .map(|(_, r)| r)
            .min_by(|a, b| {
                let m = [a, b].map(|r| match metrics[metric].better {
                    Better::Higher => -r.values[metric],
                    Better::Lower => r.values[metric],
                    Better::Near(t) => (r.values[metric] - t).abs(),
                });
                m[0].total_cmp(&m[1])
            });
        match runner_up {
            Some(r) => format!(
                "recommended won on {name}: {} vs best other {}",
                fmt(&rows[best]),
                fmt(r)
            ),
            None => format!("{name}: {}", fmt(&rows[best])),
        }
    } else {
        let rec = rec.iter().map(|r| fmt(r)).collect::<Vec<_>>().join(", ");
        format!(
            "recommendation did NOT win on {name}: best {} vs recommended {rec}",
            fmt(&rows[best])
        )
    }
}
