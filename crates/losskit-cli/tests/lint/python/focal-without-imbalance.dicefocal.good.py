from monai.losses import DiceFocalLoss

# Tumour masks: a few hundred foreground voxels in a 128^3 volume.
loss_function = DiceFocalLoss(sigmoid=True, batch=True)


def step(model, opt, image, mask):
    loss = loss_function(model(image), mask)
    opt.zero_grad()
    loss.backward()
    opt.step()
