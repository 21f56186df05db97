import monai
from ignite.engine import create_supervised_trainer


def build(net, opt, device):
    loss = monai.losses.DiceCELoss(to_onehot_y=True, softmax=True)
    return create_supervised_trainer(net, opt, loss, device)


class Evaluator:
    def __init__(self):
        # A metric kept by a class that is not a trainer.
        self.loss = monai.losses.DiceLoss(sigmoid=True)
