from monai.losses.dice import DiceCELoss

dice_loss_function = DiceCELoss(to_onehot_y=True, softmax=True)


def step(model, opt, x, y):
    loss_dice = dice_loss_function(model(x), y)
    opt.zero_grad()
    loss_dice.backward()
    opt.step()
