//! `losskit recommend`: the decision guide ([`losskit::guide`]) from the command line, with
//! data-aware advice from a label or target file.

use std::path::{Path, PathBuf};

use losskit::guide::{recommend, Conditions, LabelStats, Recommendation, TargetStats, Task};
use serde_json::json;

use crate::npy::{self, Data};
use crate::{emit, Failure};

const LONG_ABOUT: &str = "\
The decision guide: which loss for TASK, with concrete parameters, the variants and when to \
switch, the reasoning, the pitfalls, a Rust snippet and the reference of every rule.

TASK is one of regression, binary, multiclass, multilabel, embedding, segmentation, detection, sequence, ranking, recommender.

Data-aware advice: `--labels y.npy` (binary 0/1, multiclass class indices of any shape, \
multilabel [N, L] 0/1; int or integral float) counts the classes or each label's positives and \
gives the imbalance and the `weight` / `pos_weight` to pass (saved with `--weights-out FILE` as \
.npy for `losskit eval --input weight=FILE`). `--targets y.npy` (regression) measures the \
tails: robust scale (1.4826 × MAD), excess kurtosis, share beyond 3 robust scales; it proposes \
Huber's δ = 1.345 × scale, MSE for Gaussian-looking tails, MAE for heavy contamination.

Text for people; `--json` prints one JSON object on one line.
Errors (unknown task or flag, a condition that does not apply to the task, contradictory \
conditions, labels that are negative or not integers) exit with status 2.";

const AFTER_HELP: &str = "\
Examples:
  losskit recommend multiclass --imbalance 50
  losskit recommend segmentation --small-objects
  losskit recommend regression --targets y.npy
  losskit recommend binary --labels y.npy --weights-out pos_weight.npy --json";

/// Which loss for a task: parameters, variants, reasoning, pitfalls, a Rust snippet.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// regression, binary, multiclass, multilabel, embedding, segmentation, detection, sequence, ranking or recommender.
    #[arg(value_name = "TASK")]
    pub task: String,
    /// Regression: the errors are close to Gaussian, no outliers.
    #[arg(long)]
    pub gaussian: bool,
    /// Regression: some outliers.
    #[arg(long)]
    pub outliers: bool,
    /// Regression: heavy contamination, or the median is wanted.
    #[arg(long)]
    pub robust: bool,
    /// Regression: quantiles wanted (prediction intervals), e.g. `0.1,0.9`.
    #[arg(
        long,
        value_name = "Q,Q,...",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub quantiles: Vec<f64>,
    /// Classification, detection: largest class count / smallest.
    #[arg(long, value_name = "RATIO", allow_negative_numbers = true)]
    pub imbalance: Option<f64>,
    /// Classification: some labels are wrong.
    #[arg(long)]
    pub label_noise: bool,
    /// Embedding: the batch size.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Embedding: class labels are available.
    #[arg(long)]
    pub supervised: bool,
    /// Segmentation: small objects.
    #[arg(long)]
    pub small_objects: bool,
    /// Detection: boxes of very different aspect ratios.
    #[arg(long)]
    pub aspect_ratios: bool,
    /// Detection: box regression converges slowly.
    #[arg(long)]
    pub slow_convergence: bool,
    /// A .npy of labels to measure (binary, multiclass, multilabel).
    #[arg(long, value_name = "FILE", conflicts_with = "targets")]
    pub labels: Option<PathBuf>,
    /// With `--labels`: write the weights to pass to FILE as a float32 .npy.
    #[arg(long, value_name = "FILE", requires = "labels")]
    pub weights_out: Option<PathBuf>,
    /// A .npy of regression targets to measure.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// One JSON object on one line.
    #[arg(long)]
    pub json: bool,
}

fn read_f64(path: &Path, arg: &str) -> Result<(Vec<f64>, Vec<usize>), Failure> {
    let a = npy::read(path).map_err(|e| {
        Failure(format!(
            "recommend: cannot read `{arg}` from {}: {e}",
            path.display()
        ))
    })?;
    let v: Vec<f64> = match &a.data {
        Data::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Data::F64(v) => v.clone(),
        Data::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
        Data::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Data::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
        Data::F16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Data::BF16(v) => v.iter().map(|&x| f64::from(x)).collect(),
    };
    Ok((v, a.dims))
}

/// Runs `losskit recommend`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let task: Task = args.task.parse()?;
    let mut c = Conditions {
        gaussian: args.gaussian,
        outliers: args.outliers,
        robust: args.robust,
        quantiles: args.quantiles.clone(),
        imbalance: args.imbalance,
        label_noise: args.label_noise,
        batch_size: args.batch_size,
        supervised: args.supervised,
        small_objects: args.small_objects,
        aspect_ratios: args.aspect_ratios,
        slow_convergence: args.slow_convergence,
        labels: None,
        targets: None,
    };
    if let Some(path) = &args.labels {
        let (v, dims) = read_f64(path, "labels")?;
        c.labels = Some(LabelStats::from_labels(task, &v, &dims)?);
    }
    if let Some(path) = &args.targets {
        if task != Task::Regression {
            return Err(losskit::Error::ConditionNotApplicable {
                condition: "--targets",
                task: task.name(),
                applies_to: "regression",
            }
            .into());
        }
        let (v, _) = read_f64(path, "targets")?;
        c.targets = Some(TargetStats::from_targets(&v)?);
    }
    let r = recommend(task, &c)?;
    if let (Some(out), Some(l)) = (&args.weights_out, &c.labels) {
        let data = losskit::FloatArray::F32(l.weights.iter().map(|&w| w as f32).collect());
        let bytes = npy::encode(&[l.weights.len()], &data)
            .map_err(|e| Failure(format!("recommend: cannot encode the weights: {e}")))?;
        npy::Staged::write(out, &bytes)
            .and_then(npy::Staged::commit)
            .map_err(|e| Failure(format!("recommend: cannot write {}: {e}", out.display())))?;
    }
    let weights_file = args.weights_out.as_ref().map(|p| p.display().to_string());
    emit(&if args.json {
        json_line(&r, weights_file.as_deref()) + "\n"
    } else {
        text(&r, weights_file.as_deref())
    })
}

fn params(p: &[(&str, String)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn weights_text(w: &[f64]) -> String {
    let parts: Vec<String> = w.iter().map(|x| format!("{x:.4}")).collect();
    format!("[{}]", parts.join(", "))
}

fn text(r: &Recommendation, weights_file: Option<&str>) -> String {
    let mut s = format!("task: {}\n\nuse:\n", r.task);
    for c in &r.primary {
        let p = params(&c.params);
        s.push_str(&format!(
            "  {}{}  ({})\n",
            c.loss,
            if p.is_empty() {
                String::new()
            } else {
                format!(" ({p})")
            },
            c.role
        ));
        if let Some((input, w)) = &c.weights {
            s.push_str(&format!("    {input} = {}\n", weights_text(w)));
            match weights_file {
                Some(f) => s.push_str(&format!(
                    "    saved to {f}: losskit eval {} --input {input}={f} ...\n",
                    c.loss
                )),
                None => s.push_str("    (save them with --weights-out FILE)\n"),
            }
        }
        s.push_str(&format!("    reference: {}\n", c.reference));
    }
    s.push_str(&format!("\nwhy: {}\n", r.reasoning));
    if !r.measured.is_empty() {
        s.push_str("\nmeasured:\n");
        for m in &r.measured {
            s.push_str(&format!("  {m}\n"));
        }
    }
    s.push_str("\nvariants:\n");
    for v in &r.variants {
        let p = params(&v.params);
        s.push_str(&format!(
            "  when {}: {}{}\n    {} [{}]\n",
            v.when,
            v.loss,
            if p.is_empty() {
                String::new()
            } else {
                format!(" ({p})")
            },
            v.why,
            v.reference
        ));
    }
    s.push_str("\npitfalls:\n");
    for p in &r.pitfalls {
        s.push_str(&format!("  - {p}\n"));
    }
    for c in &r.primary {
        s.push_str(&format!(
            "\nRust ({}.rs):\n{}",
            c.snippet.name, c.snippet.code
        ));
    }
    s
}

fn json_line(r: &Recommendation, weights_file: Option<&str>) -> String {
    let kv = |p: &[(&str, String)]| {
        serde_json::Value::Object(
            p.iter()
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect(),
        )
    };
    let primary: Vec<_> = r
        .primary
        .iter()
        .map(|c| {
            json!({"loss": c.loss, "role": c.role, "params": kv(&c.params),
                   "weights": c.weights.as_ref().map(|(i, w)| json!({"input": i, "values": w, "file": weights_file})),
                   "reference": c.reference, "snippet": c.snippet.name, "code": c.snippet.code})
        })
        .collect();
    let variants: Vec<_> = r
        .variants
        .iter()
        .map(|v| {
            json!({"when": v.when, "loss": v.loss, "params": kv(&v.params), "why": v.why,
                   "reference": v.reference, "snippet": v.snippet.name})
        })
        .collect();
    json!({"task": r.task.name(), "primary": primary, "variants": variants,
           "reasoning": r.reasoning, "pitfalls": r.pitfalls, "measured": r.measured})
    .to_string()
}
