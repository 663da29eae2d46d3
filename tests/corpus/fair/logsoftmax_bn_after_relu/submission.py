# The style of the PyTorch MNIST example the course starter grew from: pooling before the ReLU, a
# log_softmax at the end of forward with nll_loss as the loss, BatchNorm after each ReLU, the optimisers
# named as torch names them (RMSprop), Adam with decoupled weight decay (AdamW), and min-char-rnn's BPTT,
# which clips every gradient to [-5, 5] before returning it.
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return F.log_softmax(x, dim=1)


class NetBN(nn.Module):
    def __init__(self):
        super(NetBN, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=5)
        self.conv1_bn = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.conv2_bn = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc1_bn = nn.BatchNorm1d(120)
        self.fc2 = nn.Linear(120, 84)
        self.fc2_bn = nn.BatchNorm1d(84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1_bn(F.relu(self.conv1(x))), 2)
        x = F.max_pool2d(self.conv2_bn(F.relu(self.conv2(x))), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = self.fc1_bn(F.relu(self.fc1(x)))
        x = self.fc2_bn(F.relu(self.fc2(x)))
        return F.log_softmax(self.fc3(x), dim=1)


def init_weights(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
            fan_in = m.weight.data[0].numel()
            m.weight.data.normal_(0, np.sqrt(2.0 / fan_in))
            m.bias.data.zero_()


def loss_fn(output, target):
    return F.nll_loss(output, target)


class Adam(torch.optim.Optimizer):
    """Adam with decoupled weight decay, as in Loshchilov & Hutter."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super(Adam, self).__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad.data
                state = self.state[p]
                if len(state) == 0:
                    state['step'] = 0
                    state['exp_avg'] = torch.zeros_like(p.data)
                    state['exp_avg_sq'] = torch.zeros_like(p.data)
                state['step'] += 1
                p.data.mul_(1 - group['lr'] * group['weight_decay'])
                state['exp_avg'].mul_(beta1).add_(grad, alpha=1 - beta1)
                state['exp_avg_sq'].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                m_hat = state['exp_avg'] / (1 - beta1 ** state['step'])
                v_hat = state['exp_avg_sq'] / (1 - beta2 ** state['step'])
                p.data.addcdiv_(m_hat, v_hat.sqrt().add_(group['eps']), value=-group['lr'])


class RMSprop(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super(RMSprop, self).__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                                   momentum=momentum, centered=centered))

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if group['weight_decay'] != 0:
                    grad = grad.add(p.data, alpha=group['weight_decay'])
                state = self.state[p]
                if len(state) == 0:
                    state['square_avg'] = torch.zeros_like(p.data)
                    state['momentum_buffer'] = torch.zeros_like(p.data)
                square_avg = state['square_avg']
                square_avg.mul_(group['alpha']).addcmul_(grad, grad, value=1 - group['alpha'])
                avg = square_avg.sqrt().add_(group['eps'])
                if group['momentum'] > 0:
                    buf = state['momentum_buffer']
                    buf.mul_(group['momentum']).addcdiv_(grad, avg)
                    p.data.add_(buf, alpha=-group['lr'])
                else:
                    p.data.addcdiv_(grad, avg, value=-group['lr'])


def bptt_gradients(params, xs, ys, h0):
    Wxh, Whh, bh = params['W_xh'], params['W_hh'], params['b_h']
    Why, by = params['W_hz'], params['b_z']
    hs, ps = {}, {}
    hs[-1] = np.copy(h0)
    for t in range(len(xs)):
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys_t = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys_t - np.max(ys_t)) / np.sum(np.exp(ys_t - np.max(ys_t)))
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(xs))):
        dy = np.copy(ps[t])
        dy[ys[t]] -= 1
        dWhy += np.outer(dy, hs[t])
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.outer(dhraw, xs[t])
        dWhh += np.outer(dhraw, hs[t - 1])
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)  # mitigate exploding gradients
    return {'W_xh': dWxh, 'W_hh': dWhh, 'b_h': dbh, 'W_hz': dWhy, 'b_z': dby}
