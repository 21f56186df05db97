from torchvision.ops import sigmoid_focal_loss

# Foreground anchors are about 1 in 1000: a heavily imbalanced problem.


def step(model, x, y):
    return sigmoid_focal_loss(model(x), y, alpha=0.25, gamma=2.0, reduction="sum")
