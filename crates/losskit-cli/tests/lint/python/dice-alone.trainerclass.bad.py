from nnunet.training.loss_functions.dice_loss import SoftDiceLoss
from nnunet.training.network_training.nnUNetTrainer import nnUNetTrainer


class TrainerDiceOnly(nnUNetTrainer):
    def __init__(self, plans_file, fold):
        super().__init__(plans_file, fold)
        self.loss = SoftDiceLoss(batch_dice=True, smooth=1e-5, do_bg=False)
