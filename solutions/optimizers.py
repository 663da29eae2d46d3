"""Problem 5.4 (optional): Adam and RMSProp written by hand, with the constructor arguments and defaults of
`torch.optim.Adam` and `torch.optim.RMSprop`, so that their trajectories match the library's.

Adam (Kingma & Ba 2015), per parameter p with gradient g at step t:
    g <- g + weight_decay * p                     (L2 penalty, as torch.optim.Adam does it)
    m <- beta1 * m + (1 - beta1) * g
    v <- beta2 * v + (1 - beta2) * g^2
    m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)     (bias correction)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)

RMSProp (Tieleman & Hinton 2012), per parameter:
    g <- g + weight_decay * p
    s <- alpha * s + (1 - alpha) * g^2
    denom = sqrt(s - mean_g^2) + eps  if centered (mean_g <- alpha * mean_g + (1 - alpha) * g)  else sqrt(s) + eps
    buf <- momentum * buf + g / denom; p <- p - lr * buf      if momentum > 0
    p <- p - lr * g / denom                                   otherwise
"""
from __future__ import annotations

import math

import torch
from torch.optim import Optimizer


class _PerParameter(Optimizer):
    """The loop every optimiser here shares: closure, groups, parameters with a gradient, L2 penalty;
    subclasses write only the per-parameter update."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if group["weight_decay"] == 0 else p.grad.add(p, alpha=group["weight_decay"])
                self._update(p, g, self.state[p], group)
        return loss

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError


class Adam(_PerParameter):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or weight_decay < 0:
            raise ValueError(f"invalid Adam hyperparameters: lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["m"] = torch.zeros_like(p)
            state["v"] = torch.zeros_like(p)
            if group["amsgrad"]:
                state["v_max"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        state["m"].mul_(beta1).add_(g, alpha=1 - beta1)
        state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        v = state["v"]
        if group["amsgrad"]:
            torch.maximum(state["v_max"], v, out=state["v_max"])
            v = state["v_max"]
        # Same operation order as the library so that float32 trajectories agree to rounding.
        step_size = group["lr"] / (1 - beta1 ** t)
        denom = (v.sqrt() / math.sqrt(1 - beta2 ** t)).add_(group["eps"])
        p.addcdiv_(state["m"], denom, value=-step_size)


class RMSProp(_PerParameter):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False) -> None:
        if lr < 0 or eps < 0 or not 0 <= alpha or weight_decay < 0 or momentum < 0:
            raise ValueError(f"invalid RMSProp hyperparameters: lr={lr}, alpha={alpha}, eps={eps}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _update(self, p, g, state, group):
        alpha = group["alpha"]
        if not state:
            state["square_avg"] = torch.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p)
        square_avg = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"].lerp_(g, 1 - alpha)
            denom = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(group["eps"])
        else:
            denom = square_avg.sqrt().add_(group["eps"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"].mul_(group["momentum"]).addcdiv_(g, denom)
            p.add_(buf, alpha=-group["lr"])
        else:
            p.addcdiv_(g, denom, value=-group["lr"])
