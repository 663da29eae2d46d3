"""Convs and FCs without bias before BatchNorm (the bias is redundant there), pooling before the ReLU
(they commute), He init drawn with torch.randn, cross-entropy via torch.nn.CrossEntropyLoss."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.MaxPool2d(2, 2), nn.ReLU(),
            nn.Conv2d(6, 16, 5), nn.MaxPool2d(2, 2), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x):
        return self.net(x)


class NetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 6, 5, bias=False), nn.BatchNorm2d(6), nn.MaxPool2d(2, 2), nn.ReLU(),
            nn.Conv2d(6, 16, 5, bias=False), nn.BatchNorm2d(16), nn.MaxPool2d(2, 2), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(400, 120, bias=False), nn.BatchNorm1d(120), nn.ReLU(),
            nn.Linear(120, 84, bias=False), nn.BatchNorm1d(84), nn.ReLU(),
            nn.Linear(84, 10))

    def forward(self, x):
        return self.net(x)


def init_weights(model):
    for m in model.modules():
        if type(m) in (nn.Conv2d, nn.Linear):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1] if isinstance(m, nn.Conv2d) else m.in_features
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()


_criterion = nn.CrossEntropyLoss()


def loss_fn(logits, targets):
    return _criterion(logits, targets)
