use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{backend::Backend, Int, Tensor};

// The classes are imbalanced: 900 / 90 / 10 samples.
fn loss<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let ce = CrossEntropyLossConfig::new().init(&logits.device());
    ce.forward(logits, targets)
}
