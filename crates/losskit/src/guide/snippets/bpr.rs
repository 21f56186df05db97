//! Implicit feedback (clicks, plays): BPR on the scores of each observed item and of a sampled
//! unobserved item for the same user.
use losskit::{Bpr, PreferenceInputs, Reduction};

pub fn run() -> losskit::Result<f64> {
    let positive = [2.1f32, 0.4, 1.3, -0.2]; // score(user, observed item)
    let negative = [0.3f32, 0.9, -1.0, -0.5]; // score(user, sampled item)
    let inputs = PreferenceInputs::new(&positive[..], &negative[..]);
    let (mut gp, mut gn) = ([0.0f32; 4], [0.0f32; 4]);
    let v = Bpr::new().value_and_grad(&inputs, Reduction::Mean, &mut gp, &mut gn)?;
    Ok(f64::from(v))
}
