import torch
import torch.nn.functional as F


def policy_loss(logits, actions, returns, eps=1e-8):
    probs = F.softmax(logits, dim=1)
    chosen = torch.log(probs.gather(1, actions) + eps)
    clamped = torch.log(probs.clamp(min=eps))
    onehot = F.one_hot(actions.squeeze(1), logits.shape[1])
    picked = (probs * onehot).sum(1).log()
    return -(chosen.squeeze(1) * returns).mean() - clamped.mean() - picked.mean()
