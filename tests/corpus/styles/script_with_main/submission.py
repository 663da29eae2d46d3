# A student's training script: prints at import, a __main__ block with a training loop that must not run
# when graded, a width-multiplied network class, and the graded names defined from it.
import torch
import torch.nn as nn
import torch.nn.functional as F

print("loading my homework")
WIDTH = 1


class WideNet(nn.Module):
    def __init__(self, width=WIDTH, batch_norm=False):
        super().__init__()
        bn2 = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
        bn1 = (lambda c: nn.BatchNorm1d(c)) if batch_norm else (lambda c: nn.Identity())
        self.block1 = nn.Sequential(nn.Conv2d(3, 6 * width, 5), bn2(6 * width), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(6 * width, 16 * width, 5), bn2(16 * width), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Linear(16 * width * 25, 120 * width), bn1(120 * width), nn.ReLU(),
                                nn.Linear(120 * width, 84 * width), bn1(84 * width), nn.ReLU(),
                                nn.Linear(84 * width, 10))

    def forward(self, x):
        return self.fc(torch.flatten(self.block2(self.block1(x)), 1))


def Net():
    return WideNet()


def NetBN():
    return WideNet(batch_norm=True)


def init_weights(model):
    for name, p in model.named_parameters():
        if p.dim() > 1:
            nn.init.kaiming_normal_(p, nonlinearity="relu")
        elif name.endswith("bias"):
            nn.init.zeros_(p)


def loss_fn(logits, targets):
    return F.cross_entropy(logits, targets, reduction="mean")


if __name__ == "__main__":
    model = Net()
    init_weights(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    while True:  # would never end: grading must not run this
        x = torch.randn(4, 3, 32, 32)
        loss = loss_fn(model(x), torch.randint(0, 10, (4,)))
        opt.zero_grad(); loss.backward(); opt.step()
