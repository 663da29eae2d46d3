"""Notebooks as the course's students write them, after the course's starter (github.com/eleg5491/hw2_cnn_on_cifar):
argparse at the top, made to work in a notebook with `parse_args(args=[])` (or a `class args:` holder), the
network's options as flags (`--width`, `--bn`), constants read from `args`, CIFAR-10 downloaded and the
training loop run at top level, the filters plotted. Each builder returns the notebook and, for the tests,
the (code cell, line) of statements that matter."""
from __future__ import annotations

import nbformat

IMPORTS = """from __future__ import print_function
import argparse
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets, transforms
from torch.autograd import Variable
import matplotlib.pyplot as plt
%matplotlib inline"""

ARGPARSE = """# Training settings (in a notebook argparse cannot read the command line: parse an empty one)
parser = argparse.ArgumentParser(description='ELEG5491 A2 Image Classification on CIFAR-10')
parser.add_argument('--batch-size', type=int, default=64, metavar='N')
parser.add_argument('--epochs', type=int, default=10, metavar='N')
parser.add_argument('--lr', type=float, default=0.001, metavar='LR')
parser.add_argument('--momentum', type=float, default=0.9, metavar='M')
parser.add_argument('--width', type=int, default=1, help='multiplies every hidden width (GPU experiment)')
parser.add_argument('--bn', action='store_true', default=False, help='BatchNorm after each conv and FC')
parser.add_argument('--no-cuda', action='store_true', default=False)
parser.add_argument('--seed', type=int, default=1, metavar='S')
args = parser.parse_args(args=[])
args.cuda = not args.no_cuda and torch.cuda.is_available()
torch.manual_seed(args.seed)"""

CLASS_ARGS = """class args:
    batch_size = 64
    epochs = 10
    lr = 0.001
    momentum = 0.9
    width = 1
    bn = False
    cuda = torch.cuda.is_available()
    seed = 1
torch.manual_seed(args.seed)"""

DATA = """transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
trainset = datasets.CIFAR10(root='./data', train=True, download=True, transform=transform)
train_loader = torch.utils.data.DataLoader(trainset, batch_size=args.batch_size, shuffle=True, num_workers=2)
testset = datasets.CIFAR10(root='./data', train=False, download=True, transform=transform)
test_loader = torch.utils.data.DataLoader(testset, batch_size=1000, shuffle=False, num_workers=2)
classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')"""

WIDTHS = """in_conv1_width = 6 * args.width
in_conv2_width = 16 * args.width
fc1_width = 120 * args.width
fc2_width = 84 * args.width"""

NET = """class Net(nn.Module):
    def __init__(self, bn=args.bn):
        super(Net, self).__init__()
        self.bn = bn
        self.conv1 = nn.Conv2d(3, in_conv1_width, kernel_size=5)
        self.conv2 = nn.Conv2d(in_conv1_width, in_conv2_width, kernel_size=5)
        self.fc1 = nn.Linear(in_conv2_width * 5 * 5, fc1_width)
        self.fc2 = nn.Linear(fc1_width, fc2_width)
        self.fc3 = nn.Linear(fc2_width, 10)
        if bn:
            self.bn1 = nn.BatchNorm2d(in_conv1_width)
            self.bn2 = nn.BatchNorm2d(in_conv2_width)
            self.bn3 = nn.BatchNorm1d(fc1_width)
            self.bn4 = nn.BatchNorm1d(fc2_width)

    def forward(self, x):
        x = self.conv1(x)
        if self.bn:
            x = self.bn1(x)
        x = F.max_pool2d(F.relu(x), 2)
        x = self.conv2(x)
        if self.bn:
            x = self.bn2(x)
        x = F.max_pool2d(F.relu(x), 2)
        x = x.view(-1, in_conv2_width * 5 * 5)
        x = self.fc1(x)
        if self.bn:
            x = self.bn3(x)
        x = F.relu(x)
        x = self.fc2(x)
        if self.bn:
            x = self.bn4(x)
        x = F.relu(x)
        return self.fc3(x)"""

INIT = """def init_weights(model):
    # He et al.: Var[w] = 2 / n_l with n_l = k * k * c (fan-in)
    for m in model.modules():
        if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
            n = m.weight.data[0].numel()
            m.weight.data.normal_(0, math.sqrt(2. / n))
            m.bias.data.zero_()"""

LOSS = """def loss_fn(output, target):
    return F.cross_entropy(output, target)"""

TRAIN = """model = Net()
if args.cuda:
    model.cuda()
optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=5e-4)

def train(epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = Variable(data), Variable(target)
        optimizer.zero_grad()
        loss = loss_fn(model(data), target)
        loss.backward()
        optimizer.step()

def test(epoch):
    model.eval()
    correct = 0
    for data, target in test_loader:
        pred = model(Variable(data)).data.max(1)[1]
        correct += pred.eq(target).sum()
    return 100. * correct / len(test_loader.dataset)"""

LOOP = """history = []
for epoch in range(1, args.epochs + 1):
    train(epoch)
    history.append(test(epoch))"""

PLOT = """plt.plot(history)
filters = model.conv1.weight.data.numpy()
fig, axes = plt.subplots(1, 6)
for i, ax in enumerate(axes):
    ax.imshow((filters[i].transpose(1, 2, 0) + 1) / 2)
plt.show()"""

NETBN = """# Problem 5.3: the same network with its --bn flag on
def NetBN(): return Net(bn=True)"""


def notebook(cells: list[str], markdown: dict[int, str] | None = None) -> nbformat.NotebookNode:
    """Code cells in order, with markdown cells before the code cells named in `markdown` (by index)."""
    nb = nbformat.v4.new_notebook()
    for i, code in enumerate(cells):
        if markdown and i in markdown:
            nb.cells.append(nbformat.v4.new_markdown_cell(markdown[i]))
        nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


def course_notebook(settings: str = "argparse", netbn: bool = True, extra: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The starter's notebook, completed: code cells 1 imports, 2 settings (argparse or `class args:`), 3 data,
    4 widths, 5 Net, 6 init_weights, 7 loss_fn, 8 model and train/test, 9 the training loop, 10 plots,
    11 NetBN (when `netbn`), then `extra` cells."""
    cells = [IMPORTS, ARGPARSE if settings == "argparse" else CLASS_ARGS, DATA, WIDTHS, NET, INIT, LOSS, TRAIN, LOOP,
             PLOT] + ([NETBN] if netbn else []) + list(extra)
    return notebook(cells, markdown={0: "# ELEG 5491 homework 2, Problem 5", 4: "## 5.1 The network",
                                     8: "## Training (10 epochs on the GPU)"})
