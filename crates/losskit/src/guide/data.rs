//! What the data says: class counts, imbalance and weights from labels; the tails of
//! regression targets (robust scale, kurtosis, outlier share).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::weights::{Absent, ClassWeights, PosWeight, Scheme, DEFAULT_BETA};

use super::Task;

/// The imbalance ratio (largest class over smallest) from which class weights follow Cui et
/// al.'s effective number rather than inverse frequency: a long tail.
pub const LONG_TAIL: f64 = 10.0;

/// What a label file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// One 0/1 label per sample.
    Binary,
    /// Integer class indices.
    Classes,
    /// `[N, L]` 0/1 labels, several per sample.
    MultiLabel,
}

/// Class counts, the imbalance and the weights to pass, measured on labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelStats {
    /// What the labels are.
    pub kind: LabelKind,
    /// The number of labels read (samples, or samples × positions).
    pub samples: u64,
    /// Per class: its count ([`LabelKind::Classes`]); per label: its positives.
    pub counts: Vec<u64>,
    /// Per label: its negatives (empty for [`LabelKind::Classes`]).
    pub negatives: Vec<u64>,
    /// Largest over smallest count among the classes present (for binary and multi-label:
    /// the largest negatives-to-positives ratio, or its inverse, over the labels).
    pub imbalance: f64,
    /// Classes (or labels) with no sample (no positive): weight 0.
    pub absent: Vec<usize>,
    /// The weights to pass as [`weight_input`](Self::weight_input).
    pub weights: Vec<f64>,
    /// The loss input the weights go to: `weight` (class weights) or `pos_weight`.
    pub weight_input: &'static str,
    /// How they were computed: `inverse`, `effective` (β = 0.999, normalised) or `pos_weight`.
    pub scheme: &'static str,
}

impl LabelStats {
    /// Reads labels for `task` (binary: 0/1 of any shape; multiclass: non-negative integer
    /// classes of any shape; multi-label: `[N, L]` of 0/1), given as numbers (integral
    /// floats are accepted, as many label files store them).
    ///
    /// Class weights are scikit-learn's inverse frequency below an imbalance of
    /// [`LONG_TAIL`], Cui et al.'s effective-number weights (β = 0.999, normalised to sum to
    /// the number of classes) from there; binary and multi-label labels get `pos_weight` =
    /// negatives / positives, PyTorch's convention.
    ///
    /// # Errors
    /// [`Error::ConditionNotApplicable`] for a task without labels; [`Error::BadShape`] for
    /// no labels or multi-label labels that are not `[N, L]`; [`Error::InvalidValue`] for a
    /// label that is negative, not an integer, or not 0/1 where it must be;
    /// [`Error::ZeroCount`] for binary labels without a positive.
    pub fn from_labels(task: Task, values: &[f64], dims: &[usize]) -> Result<LabelStats> {
        let kind = match task {
            Task::Binary => LabelKind::Binary,
            Task::Multiclass => LabelKind::Classes,
            Task::MultiLabel => LabelKind::MultiLabel,
            _ => {
                return Err(Error::ConditionNotApplicable {
                    condition: "--labels",
                    task: task.name(),
                    applies_to: "binary, multiclass and multilabel",
                })
            }
        };
        let bad_shape = |expected| Error::BadShape {
            loss: "recommend",
            arg: "labels",
            actual: dims.to_vec(),
            expected,
        };
        if values.is_empty() {
            return Err(bad_shape("at least one label"));
        }
        if kind == LabelKind::MultiLabel && dims.len() != 2 {
            return Err(bad_shape("`[N, L]`: one row of 0/1 labels per sample"));
        }
        let (expected, max) = match kind {
            LabelKind::Classes => ("a class index: an integer >= 0", f64::from(u32::MAX)),
            _ => ("a label 0 or 1", 1.0),
        };
        for (i, &v) in values.iter().enumerate() {
            if !(v >= 0.0 && v <= max && v.fract() == 0.0) {
                return Err(Error::InvalidValue {
                    loss: "recommend",
                    arg: "labels",
                    index: unravel(i, dims),
                    value: v,
                    expected,
                });
            }
        }
        let samples = values.len() as u64;
        if kind == LabelKind::Classes {
            let classes: Vec<i64> = values.iter().map(|&v| v as i64).collect();
            let probe = ClassWeights::default()
                .absent(Absent::Zero)
                .from_labels(&classes, None)?;
            let counts = probe.counts().to_vec();
            let present: Vec<u64> = counts.iter().copied().filter(|&c| c > 0).collect();
            let imbalance = ratio(present.iter().copied().max(), present.iter().copied().min());
            let (weights, scheme) = if imbalance >= LONG_TAIL {
                let table = ClassWeights::new(Scheme::Effective { beta: DEFAULT_BETA })?
                    .normalize(true)
                    .absent(Absent::Zero)
                    .from_counts(&counts)?;
                (table.into_weights(), "effective")
            } else {
                (probe.into_weights(), "inverse")
            };
            let absent = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
            return Ok(LabelStats {
                kind,
                samples,
                counts,
                negatives: Vec::new(),
                imbalance,
                absent,
                weights,
                weight_input: "weight",
                scheme,
            });
        }
        let targets_dims = if kind == LabelKind::Binary {
            vec![values.len()]
        } else {
            dims.to_vec()
        };
        let absent_policy = if kind == LabelKind::Binary {
            Absent::Error
        } else {
            Absent::Zero
        };
        let table = PosWeight::new()
            .absent(absent_policy)
            .from_targets(Tensor::new(values, &targets_dims)?)?;
        let imbalance = table
            .positives()
            .iter()
            .zip(table.negatives())
            .filter(|(&p, _)| p > 0)
            .map(|(&p, &n)| ratio(Some(p.max(n)), Some(p.min(n))))
            .fold(1.0, f64::max);
        Ok(LabelStats {
            kind,
            samples: table.positives()[0] + table.negatives()[0],
            counts: table.positives().to_vec(),
            negatives: table.negatives().to_vec(),
            imbalance,
            absent: (0..table.num_labels())
                .filter(|&l| table.positives()[l] == 0)
                .collect(),
            weights: table.weights().to_vec(),
            weight_input: "pos_weight",
            scheme: "pos_weight",
        })
    }
}

fn ratio(max: Option<u64>, min: Option<u64>) -> f64 {
    match (max, min) {
        (Some(a), Some(b)) if b > 0 => a as f64 / b as f64,
        _ => 1.0,
    }
}

fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            index[k] = i % d;
            i /= d;
        }
    }
    index
}

/// The tails of regression targets, measured around their median: what a constant model's
/// residuals look like, the first estimate of what Huber's δ should be.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStats {
    /// How many targets.
    pub n: usize,
    /// Their median.
    pub median: f64,
    /// The robust scale: 1.4826 × the median absolute deviation (the standard deviation
    /// for Gaussian data, unmoved by outliers); the standard deviation if the MAD is 0.
    pub scale: f64,
    /// The standard deviation.
    pub std: f64,
    /// The excess kurtosis (0 for a Gaussian, larger for heavier tails).
    pub excess_kurtosis: f64,
    /// The share of targets more than 3 robust scales from the median (0.27% for a
    /// Gaussian).
    pub outlier_share: f64,
}

/// Outlier share above which the guide prefers MAE to Huber: the contamination is heavy.
pub const HEAVY_CONTAMINATION: f64 = 0.10;
/// Outlier share above which the tails are not Gaussian (a Gaussian has 0.27%).
pub const SOME_OUTLIERS: f64 = 0.01;
/// Huber's tuning constant: δ = 1.345 σ keeps 95% efficiency at the Gaussian.
pub const HUBER_K: f64 = 1.345;

impl TargetStats {
    /// Measures `values`.
    ///
    /// # Errors
    /// [`Error::BadShape`] for fewer than two values; [`Error::InvalidValue`] for a
    /// non-finite one, or values that are all equal (no scale to measure).
    pub fn from_targets(values: &[f64]) -> Result<TargetStats> {
        if values.len() < 2 {
            return Err(Error::BadShape {
                loss: "recommend",
                arg: "targets",
                actual: vec![values.len()],
                expected: "at least two targets",
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidValue {
                loss: "recommend",
                arg: "targets",
                index: vec![i],
                value: values[i],
                expected: "a finite target",
            });
        }
        let n = values.len() as f64;
        let median = median(values.to_vec());
        let mad = median_abs(values, median);
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let m4 = values.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
        let std = m2.sqrt();
        if std == 0.0 {
            return Err(Error::InvalidValue {
                loss: "recommend",
                arg: "targets",
                index: vec![0],
                value: values[0],
                expected: "targets that are not all equal",
            });
        }
        let scale = if mad > 0.0 { 1.4826 * mad } else { std };
        let outliers = values
            .iter()
            .filter(|v| (*v - median).abs() > 3.0 * scale)
            .count();
        Ok(TargetStats {
            n: values.len(),
            median,
            scale,
            std,
            excess_kurtosis: m4 / (m2 * m2) - 3.0,
            outlier_share: outliers as f64 / n,
        })
    }

    /// Huber's δ for these tails: 1.345 robust scales.
    pub fn huber_delta(&self) -> f64 {
        HUBER_K * self.scale
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn median_abs(values: &[f64], center: f64) -> f64 {
    median(values.iter().map(|v| (v - center).abs()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Rng;

    #[test]
    fn class_labels_give_counts_imbalance_and_weights() {
        let mut labels = vec![0.0; 900];
        labels.extend(vec![1.0; 90]);
        labels.extend(vec![2.0; 10]);
        let s = LabelStats::from_labels(Task::Multiclass, &labels, &[1000]).unwrap();
        assert_eq!(s.counts, [900, 90, 10]);
        assert_eq!(s.imbalance, 90.0);
        assert_eq!((s.scheme, s.weight_input), ("effective", "weight"));
        assert!((s.weights.iter().sum::<f64>() - 3.0).abs() < 1e-12);
        assert!(s.weights[2] > s.weights[1] && s.weights[1] > s.weights[0]);
        let mild = LabelStats::from_labels(Task::Multiclass, &[0.0, 0.0, 1.0, 3.0], &[4]).unwrap();
        assert_eq!((mild.scheme, mild.absent.clone()), ("inverse", vec![2]));
        assert_eq!(mild.weights[2], 0.0);
    }

    #[test]
    fn binary_and_multilabel_labels_give_pos_weight() {
        let s = LabelStats::from_labels(Task::Binary, &[0.0, 0.0, 0.0, 1.0], &[4]).unwrap();
        assert_eq!((s.weights.clone(), s.imbalance), (vec![3.0], 3.0));
        let y = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let m = LabelStats::from_labels(Task::MultiLabel, &y, &[4, 2]).unwrap();
        assert_eq!(
            (m.counts.clone(), m.weights.clone()),
            (vec![1, 2], vec![3.0, 1.0])
        );
        assert_eq!((m.samples, m.imbalance), (4, 3.0));
    }

    #[test]
    fn bad_labels_are_named() {
        let e = LabelStats::from_labels(Task::Multiclass, &[0.0, -1.0], &[2]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "recommend: `labels` at [1] is -1, expected a class index: an integer >= 0"
        );
        let e = LabelStats::from_labels(Task::Multiclass, &[0.0, 0.0, 1.5], &[3]).unwrap_err();
        assert!(e.to_string().contains("at [2] is 1.5"), "{e}");
        assert!(LabelStats::from_labels(Task::Binary, &[0.0, 2.0], &[2]).is_err());
        assert!(LabelStats::from_labels(Task::Binary, &[0.0, 0.0], &[2]).is_err());
        assert!(LabelStats::from_labels(Task::MultiLabel, &[0.0, 1.0], &[2]).is_err());
        assert!(LabelStats::from_labels(Task::Regression, &[0.0], &[1]).is_err());
    }

    #[test]
    fn gaussian_targets_look_gaussian_and_contaminated_ones_do_not() {
        let mut rng = Rng::new(5);
        let y = rng.normals(20_000, 2.0);
        let s = TargetStats::from_targets(&y).unwrap();
        assert!((s.scale - 2.0).abs() < 0.1, "{s:?}");
        assert!(
            s.excess_kurtosis.abs() < 0.2 && s.outlier_share < SOME_OUTLIERS,
            "{s:?}"
        );
        assert!((s.huber_delta() - 2.69).abs() < 0.15);
        // 20% gross errors: the robust scale barely moves, the tails show.
        let mut z = y.clone();
        for v in z.iter_mut().step_by(5) {
            *v += 50.0;
        }
        let t = TargetStats::from_targets(&z).unwrap();
        assert!(
            t.outlier_share > HEAVY_CONTAMINATION && t.scale < 3.0,
            "{t:?}"
        );
        assert!(TargetStats::from_targets(&[1.0]).is_err());
        assert!(TargetStats::from_targets(&[1.0, 1.0]).is_err());
        assert!(TargetStats::from_targets(&[1.0, f64::NAN]).is_err());
    }
}
