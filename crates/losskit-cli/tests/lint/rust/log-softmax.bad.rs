use burn::tensor::{activation, backend::Backend, Tensor};

fn log_probs<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    activation::softmax(x, 1).log()
}
