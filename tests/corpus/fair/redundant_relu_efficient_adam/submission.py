# The style of the PyTorch CIFAR-10 tutorial: layers as attributes, one pooling module reused, and a
# ReLU after every pooling "to be safe" (max-pooling a ReLU output is already non-negative, so the extra
# ReLU changes nothing). Adam in the Adam paper's efficient form (epsilon added before the bias correction,
# Algorithm 1's footnote) and RMSProp with epsilon inside the square root, as TensorFlow writes it.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.relu(self.pool(F.relu(self.conv1(x))))
        x = F.relu(self.pool(F.relu(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class NetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 6, 5), nn.BatchNorm2d(6)
        self.conv2, self.bn2 = nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1, self.bn3 = nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120)
        self.fc2, self.bn4 = nn.Linear(120, 84), nn.BatchNorm1d(84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = F.relu(self.bn3(self.fc1(x)))
        x = F.relu(self.bn4(self.fc2(x)))
        return self.fc3(x)


def init_weights(net):
    for layer in net.modules():
        if type(layer) in (nn.Conv2d, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.constant_(layer.bias, 0)


criterion = nn.CrossEntropyLoss()


def loss_fn(logits, targets):
    return criterion(logits, targets)


class Adam(torch.optim.Optimizer):
    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p
                state = self.state[p]
                if not state:
                    state["t"], state["m"], state["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                state["t"] += 1
                t = state["t"]
                state["m"] = beta1 * state["m"] + (1 - beta1) * g
                state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
                alpha_t = group["lr"] * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                p -= alpha_t * state["m"] / (state["v"].sqrt() + group["eps"])


class RMSProp(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, rho, eps, mu, wd = (group[k] for k in ("lr", "alpha", "eps", "momentum", "weight_decay"))
            for p in filter(lambda q: q.grad is not None, group["params"]):
                grad = p.grad.add(p, alpha=wd) if wd else p.grad
                ms = self.state[p].setdefault("ms", torch.zeros_like(p))
                ms.mul_(rho).add_((1 - rho) * grad * grad)
                update = grad / (ms + eps).sqrt()  # TensorFlow's RMSProp: epsilon inside the square root
                if mu:
                    update = self.state[p].setdefault("mom", torch.zeros_like(p)).mul_(mu).add_(update)
                p.sub_(lr * update)
