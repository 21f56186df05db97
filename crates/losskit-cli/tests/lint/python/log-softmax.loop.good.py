import torch
import torch.nn.functional as F


def entropy_bonus(logits):
    total = 0.0
    for row in F.log_softmax(logits, dim=1):
        total = total - torch.sum(row.exp() * row)
    for scale in torch.linspace(0.1, 1.0, 10):
        total = total + torch.log(scale)
    return total
