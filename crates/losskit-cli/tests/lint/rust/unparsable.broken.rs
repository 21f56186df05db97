fn loss(logits: &Tensor -> Result<Tensor> {
    candle_nn::loss::nll(&candle_nn::ops::softmax(logits, 1)?.log()?, target)
}
