import torch


def log_probs(x):
    return torch.log_softmax(x, dim=-1)


def entropy_term(p):
    return torch.log(p + 1.0)
