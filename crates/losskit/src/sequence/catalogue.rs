//! The sequence family's catalogue entries.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Range, Role,
    STANDARD_REDUCTIONS,
};
use crate::evaluator;
use crate::sample::{log_probability_rows, Rng, Sample};

use super::ctc::eval_ctc;

const fn ints(name: &'static str, shape: &'static str) -> InputSpec {
    InputSpec {
        name,
        role: Role::Target,
        kind: InputKind::Index,
        required: true,
        shape,
    }
}

/// Frames and classes (blank 0 and labels 1..C) of the generated batches.
const T: usize = 12;
const C: usize = 6;
/// Longest target of the generated batches.
const S: usize = 4;

/// Log-softmax frames `[T, N, C]` and padded targets of 1 to 4 labels (repeats included)
/// whose last label is C − 1. Every third sample but the last uses 2 frames fewer: ragged
/// inputs, while the last sample reads its last frame's last class (where the NaN suite
/// puts a NaN).
fn sample_ctc(size: usize, rng: &mut Rng) -> Sample {
    let n = (size / (T * C)).max(1);
    let lp = log_probability_rows(rng, T * n, C);
    let mut targets = vec![0i64; n * S];
    let (mut il, mut tl) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let len = 1 + i % S;
        for j in 0..len {
            targets[i * S + j] = if j + 1 == len {
                C as i64 - 1
            } else {
                1 + rng.below(C as u64 - 1) as i64
            };
        }
        tl.push(len as i64);
        il.push(if i % 3 == 1 && i + 1 < n {
            T as i64 - 2
        } else {
            T as i64
        });
    }
    Sample::new()
        .float("log_probs", &[T, n, C], lp)
        .index("targets", &[n, S], targets)
        .index("input_lengths", &[n], il)
        .index("target_lengths", &[n], tl)
}

pub(crate) const CATALOGUE: &[LossInfo] = &[LossInfo {
    name: "ctc",
    family: Family::Sequence,
    summary: "connectionist temporal classification: −log p(target sequence) summed over its alignments to the frames",
    inputs: &[
        InputSpec {
            name: "log_probs",
            role: Role::Prediction,
            kind: InputKind::Float,
            required: true,
            shape: "[T, N, C]: per-frame log-probabilities (a log_softmax over C classes, the blank included)",
        },
        ints("targets", "[N, S] padded (read up to each target length) or [Σ target_lengths] concatenated, class indices other than `blank`"),
        ints("input_lengths", "[N]: frames of each sample, at most T"),
        ints("target_lengths", "[N]: labels of each target"),
    ],
    params: &[
        ParamSpec {
            name: "blank",
            kind: ParamKind::Int { default: 0, range: Range::NON_NEGATIVE },
            doc: "the class index of the blank (below C)",
        },
        ParamSpec {
            name: "zero_infinity",
            kind: ParamKind::Bool { default: false },
            doc: "an infeasible target (too few frames) gives 0 and a zero gradient instead of +inf",
        },
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_n = −log Σ_{π ∈ B⁻¹(target_n)} Π_{t < T_n} exp(log_probs[t, n, π_t]) (forward algorithm); mean = (1/N) Σ_n ℓ_n / max(target_length_n, 1), sum = Σ_n ℓ_n, none = [N]",
    gradient: "∂ℓ_n/∂log_probs[t, n, c] = −γ_t(c), minus the posterior probability that frame t emits c (forward-backward), 0 for t ≥ T_n; PyTorch returns exp(log_probs) − γ (the gradient on the logits through log_softmax), which equals this once propagated through the log_softmax",
    when_to_use: "sequence labelling without frame alignments: speech recognition, handwriting and OCR lines, any encoder whose T output frames must spell a shorter label sequence",
    pitfalls: &[
        "`log_probs` must be log-probabilities over the classes (apply log_softmax on the class axis) and time-major [T, N, C], not batch-major",
        "the gradient is the true one with respect to `log_probs`: PyTorch's differs by exp(log_probs) and only agrees after its log_softmax backward; feeding unnormalised scores gives a different loss from PyTorch's",
        "T_n must cover the target plus one blank between each pair of equal neighbours, or the loss is +inf: downsampling encoders run out of frames; `zero_infinity` zeroes those samples",
        "`mean` divides each sample by its target length before averaging (PyTorch's); `sum` does not",
    ],
    reference: "Graves et al. 2006; torch.nn.functional.ctc_loss (values; gradients compared through log_softmax)",
    eval: evaluator!(eval_ctc),
    sample: sample_ctc,
    plot: None,
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
}];
