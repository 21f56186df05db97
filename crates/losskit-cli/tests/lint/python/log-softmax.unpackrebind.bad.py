import torch
import torch.nn.functional as F


def picked_log_prob(logits, onehot):
    # Names rebound by an unpacking of their own values: the log still reads a softmax.
    probs, mask = F.softmax(logits, dim=1), onehot
    probs, mask = (probs * mask).sum(1), mask
    return torch.log(probs)
