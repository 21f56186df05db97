import torch
import torch.nn as nn


class Critic(nn.Module):
    def __init__(self, n_in, act):
        super().__init__()
        self.fc = nn.Linear(n_in, 1)
        self.act = act

    def forward(self, x):
        return self.act(self.fc(x))


critic = Critic(8, act=torch.relu)
criterion = nn.BCELoss()


def step(x, y):
    return criterion(torch.clamp(critic(x), 0, 1), y)
