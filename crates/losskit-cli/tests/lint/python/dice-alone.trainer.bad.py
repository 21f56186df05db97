import monai
from ignite.engine import create_supervised_trainer


def build(net, opt, device):
    loss = monai.losses.DiceLoss(sigmoid=True)
    return create_supervised_trainer(net, opt, loss, device)


def build_monai(net, opt, loader, device):
    return monai.engines.SupervisedTrainer(
        device=device,
        max_epochs=5,
        train_data_loader=loader,
        network=net,
        optimizer=opt,
        loss_function=monai.losses.DiceLoss(to_onehot_y=True, softmax=True),
    )
