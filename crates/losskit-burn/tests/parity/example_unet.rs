//! The example `bce_dice_unet` in a short form: 40 steps, and the loss goes down.

#[path = "../../examples/bce_dice_unet.rs"]
#[allow(dead_code)]
mod bce_dice_unet;

#[test]
fn the_bce_dice_unet_learns() -> losskit_burn::Result<()> {
    let history = bce_dice_unet::train(40, false)?;
    let first = history[..8].iter().sum::<f64>() / 8.0;
    let last = history[history.len() - 8..].iter().sum::<f64>() / 8.0;
    assert!(history.iter().all(|v| v.is_finite()));
    assert!(
        last < first * 0.8,
        "first eight steps {first}, last eight {last}"
    );
    Ok(())
}

#[test]
fn the_builder_is_burn_nns_shape() -> losskit_burn::Result<()> {
    use losskit_burn::losses::{Focal, FocalLossConfig};
    let built = FocalLossConfig::new()
        .with_gamma(3.0)
        .with_alpha(0.5)
        .with_reduction(losskit_burn::ReductionMode::Sum);
    let literal = Focal {
        gamma: 3.0,
        alpha: 0.5,
        reduction: losskit_burn::ReductionMode::Sum,
        ..Default::default()
    };
    assert_eq!(built, literal);
    assert_eq!(built.init()?.config(), &literal);
    // A parameter out of its range fails at init, in the core's words.
    let err = FocalLossConfig::new().with_gamma(-1.0).init().unwrap_err();
    assert!(err.message().contains("gamma"), "{err}");
    Ok(())
}
