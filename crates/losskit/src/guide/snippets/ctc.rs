//! Sequence labelling without alignments (speech, handwriting): CTC over log-softmax frames,
//! blank = class 0.
use losskit::{Ctc, CtcInputs, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    // T = 3 frames, N = 1, C = 3 classes (blank 0): a log_softmax output, time-major.
    let log_probs = [
        -0.2f64, -2.0, -2.5, // frame 0
        -1.9, -0.3, -2.2, // frame 1
        -0.4, -1.8, -1.5, // frame 2
    ];
    let targets = [1i64, 2]; // padded [N, S]
    let inputs = CtcInputs::new(
        Tensor::new(&log_probs, &[3, 1, 3])?,
        Tensor::new(&targets, &[1, 2])?,
        &[3i64][..],
        &[2i64][..],
    );
    let mut grad = [0.0; 9]; // ∂loss/∂log_probs (−occupancy)
    Ctc::default().value_and_grad(&inputs, Reduction::Mean, &mut grad)
}
