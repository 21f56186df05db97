use burn::tensor::{activation, backend::Backend, Tensor};

fn log_probs<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    activation::log_softmax(x, 1)
}

fn log_rates<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    x.exp().log()
}
