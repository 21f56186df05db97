//! Many classes with few samples each (face recognition, re-identification): ArcFace over
//! learned class centres (margin 28.6°, scale 64), which get gradients like the embeddings.
use losskit::{ArcFace, CentreInputs, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let embeddings = [1.0f32, 0.1, 0.2, 0.9, -0.8, 0.3]; // [N = 3, D = 2]
    let labels = [0i64, 1, 2];
    let centres = [1.0f32, 0.0, 0.0, 1.0, -1.0, 0.0]; // [C = 3, D = 2], trained with the model
    let inputs = CentreInputs::new(
        Tensor::new(&embeddings, &[3, 2])?,
        &labels,
        Tensor::new(&centres, &[3, 2])?,
    );
    let (mut grad_embeddings, mut grad_centres) = ([0.0f32; 6], [0.0f32; 6]);
    let loss = ArcFace::new(28.6, 64.0)?.value_and_grad(
        &inputs,
        Reduction::Mean,
        &mut grad_embeddings,
        &mut grad_centres,
    )?;
    Ok(f64::from(loss))
}
