import torch
import torch.nn.functional as F


def picked_log_prob(logits, onehot):
    probs = F.softmax(logits, dim=1)
    probs = (probs * onehot).sum(1)
    logp = F.log_softmax(logits, dim=1)
    logp = (logp * onehot).sum(1)
    return logp, probs
