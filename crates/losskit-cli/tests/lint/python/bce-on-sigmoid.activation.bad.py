import torch
import torch.nn.functional as F


def head(x, w, act=None):
    y = x @ w
    return act(y) if act is not None else y


def step(x, w, target):
    p = head(x, w, act=torch.sigmoid)
    return F.binary_cross_entropy(p, target)
