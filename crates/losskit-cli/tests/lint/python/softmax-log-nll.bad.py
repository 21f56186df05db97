import torch
import torch.nn.functional as F


def loss_fn(logits, target):
    probs = F.softmax(logits, dim=1)
    log_probs = torch.log(probs)
    return F.nll_loss(log_probs, target)
