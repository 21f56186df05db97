//! The example `nt_xent_embedding` in a short form: 40 steps, and the loss goes down.

#[path = "../../examples/nt_xent_embedding.rs"]
#[allow(dead_code)]
mod nt_xent_embedding;

#[test]
fn the_nt_xent_embedding_model_learns() -> candle_core::Result<()> {
    let history = nt_xent_embedding::train(40, false)?;
    let first = history[..5].iter().sum::<f64>() / 5.0;
    let last = history[history.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(history.iter().all(|v| v.is_finite()));
    assert!(
        last < first - 0.1,
        "first five steps {first}, last five {last}"
    );
    Ok(())
}
