from monai.losses import DiceLoss

loss_fn = DiceLoss(sigmoid=True)


def step(model, opt, x, mask):
    loss = loss_fn(model(x), mask)
    opt.zero_grad()
    loss.backward()
    opt.step()
