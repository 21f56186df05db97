use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::tensor::{activation, backend::Backend, Int, Tensor};

fn loss<B: Backend>(logits: Tensor<B, 1>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let bce = BinaryCrossEntropyLossConfig::new().init(&logits.device());
    let probs = activation::sigmoid(logits);
    bce.forward(probs, targets)
}
