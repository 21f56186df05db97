from monai.losses import DiceLoss

loss_fn = DiceLoss(sigmoid=True)


def step(model, x, mask):
    return loss_fn(model(x), mask)
