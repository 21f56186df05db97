import torch.nn.functional as F
from monai.losses import DiceLoss

dice = DiceLoss(sigmoid=True)


def step(model, x, mask):
    logits = model(x)
    return F.binary_cross_entropy_with_logits(logits, mask) + dice(logits, mask)
