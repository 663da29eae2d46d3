# Layers declared in an unusual order (FC layers before the convs), nn.ReLU modules in a ModuleList,
# optional dropout after the hidden FCs, reshape instead of view, a manual He init through normal_,
# and a hand-written log-sum-exp loss.
import math

import torch
from torch import nn

from torch.nn import functional as F


class Net(nn.Module):
    def __init__(self, dropout=0.5):
        super().__init__()
        self.head = nn.ModuleList([nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)])
        self.body = nn.ModuleList([nn.Conv2d(3, 6, (5, 5), stride=1, padding=0), nn.Conv2d(6, 16, (5, 5))])
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        for conv in self.body:
            x = self.pool(self.act(conv(x)))
        x = x.reshape(-1, 16 * 5 * 5)
        x = self.drop(self.act(self.head[0](x)))
        x = self.drop(self.act(self.head[1](x)))
        return self.head[2](x)


class NetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(3, 6, 5), nn.BatchNorm2d(6)
        self.c2, self.n2 = nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16)
        self.f1, self.n3 = nn.Linear(400, 120), nn.BatchNorm1d(120)
        self.f2, self.n4 = nn.Linear(120, 84), nn.BatchNorm1d(84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.n1(self.c1(x))), 2)
        x = F.max_pool2d(torch.relu(self.n2(self.c2(x))), 2)
        x = x.flatten(start_dim=1)
        x = torch.relu(self.n3(self.f1(x)))
        x = torch.relu(self.n4(self.f2(x)))
        return self.f3(x)


def init_weights(model):
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
                fan_in = layer.weight[0].numel()
                layer.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
                layer.bias.fill_(0.0)


def loss_fn(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.view(-1, 1)).mean()
