from torchvision.ops import sigmoid_focal_loss


def step(model, x, y):
    return sigmoid_focal_loss(model(x), y, reduction="mean")
