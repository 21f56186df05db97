use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::tensor::{backend::Backend, Int, Tensor};

fn loss<B: Backend>(logits: Tensor<B, 1>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let bce = BinaryCrossEntropyLossConfig::new()
        .with_logits(true)
        .init(&logits.device());
    bce.forward(logits, targets)
}
