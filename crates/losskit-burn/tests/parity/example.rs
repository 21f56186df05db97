//! The example `focal_imbalanced_mlp` in a short form: 60 steps, and the loss goes down.

#[path = "../../examples/focal_imbalanced_mlp.rs"]
#[allow(dead_code)]
mod focal_imbalanced_mlp;

#[test]
fn the_focal_mlp_learns() -> losskit_burn::Result<()> {
    let history = focal_imbalanced_mlp::train(60, false)?;
    let first = history[..10].iter().sum::<f64>() / 10.0;
    let last = history[history.len() - 10..].iter().sum::<f64>() / 10.0;
    assert!(history.iter().all(|v| v.is_finite()));
    assert!(
        last < first * 0.8,
        "first ten steps {first}, last ten {last}"
    );
    Ok(())
}
