import torch.nn.functional as F


def policy_loss(logits, actions, returns):
    logp = F.log_softmax(logits, dim=1).gather(1, actions)
    return -(logp.squeeze(1) * returns).mean()
