//! Learning to rank with graded relevance: ListNet over each query's candidate list, padded
//! lists masked.
use losskit::{ListInputs, ListNet, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let scores = [2.0f32, 0.5, -1.0, 0.3, 1.2, 0.0]; // [N = 2 queries, L = 3 items]
    let relevance = [3.0f32, 1.0, 0.0, 0.0, 2.0, 0.0];
    let mask = [true, true, true, true, true, false]; // the second list has two items
    let inputs = ListInputs::new(
        Tensor::new(&scores, &[2, 3])?,
        Tensor::new(&relevance, &[2, 3])?,
    )
    .with_mask(Tensor::new(&mask, &[2, 3])?);
    let mut grad = [0.0f32; 6];
    let v = ListNet::new().value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(v))
}
