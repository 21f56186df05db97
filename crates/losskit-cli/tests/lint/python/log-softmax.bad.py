import torch


def log_probs(x):
    return torch.log(torch.softmax(x, dim=-1))


def log_probs_method(x):
    return x.softmax(dim=-1).log()
