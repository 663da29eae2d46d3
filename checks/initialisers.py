"""Whether the starting weights of a graded training run are a fresh random initialisation: drawn anew for
every construction seed, and distributed as an initialiser, layer by layer.

A network that starts from stored weights gains what it never learned under the grader's protocol, and
zeroing its last layer hides that from an accuracy test (it starts at chance). What stored weights cannot
hide: a random initialisation draws every weight independently, so networks built with different seeds
share nothing, and every draw follows the initialiser's distribution. Three tests per conv/linear layer,
on its weights drawn under D construction seeds (D, out, in[, k, k]):

- identical draws: two seeds give the same weights (stored weights, a constant initialisation);
- a shared component: a one-way analysis of variance with the weight's position as the group and the seeds
  as the repetitions. Independent draws give F = MS_between / MS_within ~ F(n - 1, n (D - 1)); stored
  weights plus per-seed noise give F ~ 1 + D Var[stored] / Var[noise], far above it;
- the distribution of each draw (weights and biases), by Kolmogorov-Smirnov: against PyTorch's default
  initialisation (`default_bound`, derived below) or the handout's N(0, 0.01^2), or, for a network
  initialised by the student's `init_weights`, against the draws 5.2.1 measured (two-sample).

Every test of one verdict together rejects a correct initialisation with probability at most
1 - coverage (Bonferroni). Pure numpy/scipy, no torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

HANDOUT_STD = 0.01  # "Gaussian distributed with zero mean and 0.01 std": the course code's default (handout, 5)
COVERAGE = 0.999  # a correct initialisation passes all tests of one verdict with at least this probability


@dataclass(frozen=True)
class LayerDraws:
    """One conv or linear layer of networks built under D construction seeds."""

    name: str  # "conv 1", "FC 120"
    weights: np.ndarray  # (D, out, in[, k, k])
    biases: np.ndarray | None  # (D, out), None when the layer has none

    @property
    def fan_in(self) -> int:
        """Inputs per output unit: in * k * k (torch's _calculate_fan_in_and_fan_out)."""
        return int(np.prod(self.weights.shape[2:]))


def default_bound(fan_in: int) -> float:
    """Half-width b of PyTorch's default initialisation of nn.Conv2d and nn.Linear, U(-b, b) for weights
    and biases alike. Their reset_parameters call init.kaiming_uniform_(weight, a=sqrt(5)), which draws
    U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan_in) and gain = calculate_gain("leaky_relu", a)
    = sqrt(2 / (1 + a^2)) = sqrt(2 / 6) = 1 / sqrt(3); so bound = 1 / sqrt(fan_in). The bias is drawn from
    U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)) directly. (tests/checks/test_initialisers.py samples real
    torch layers against this.)"""
    return 1.0 / math.sqrt(fan_in)


def default_init_pvalue(values: np.ndarray, fan_in: int, bound=default_bound) -> float:
    """Kolmogorov-Smirnov p-value of `values` (one draw of a layer's weights or biases) under the union of
    PyTorch's default U(-b, b) and the handout's N(0, 0.01^2): the larger of the two, so that a draw of
    either passes with the test's coverage. `bound`: the formula of b (a wrong one can be shown to fail)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    b = bound(fan_in)
    uniform = stats.kstest(x, stats.uniform(loc=-b, scale=2 * b).cdf).pvalue
    normal = stats.kstest(x, stats.norm(loc=0.0, scale=HANDOUT_STD).cdf).pvalue
    return float(max(uniform, normal))


def same_distribution_pvalue(values: np.ndarray, reference: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov p-value: `values` drawn from the distribution `reference` was drawn
    from. Two constant samples of the same value (zero biases) pass."""
    x, r = np.asarray(values, np.float64).ravel(), np.asarray(reference, np.float64).ravel()
    if np.ptp(x) == 0 and np.ptp(r) == 0:
        return 1.0 if x[0] == r[0] else 0.0
    return float(stats.ks_2samp(x, r).pvalue)


def one_way_f(draws: np.ndarray) -> tuple[float, int, int]:
    """(F, df1, df2) of a one-way analysis of variance of (D, n) draws: n groups (positions in the layer)
    of D repetitions (seeds). MS_between = D * sum_i (mean_i - mean)^2 / (n - 1) and
    MS_within = sum_{d,i} (w_di - mean_i)^2 / (n (D - 1)); independent draws give F ~ F(n - 1, n (D - 1))
    (exactly for normal weights; for uniform ones, whose kurtosis is lower, the test is conservative)."""
    w = np.asarray(draws, dtype=np.float64).reshape(draws.shape[0], -1)  # (D, n)
    d, n = w.shape
    means = w.mean(axis=0)  # (n,)
    between = d * float(np.sum((means - means.mean()) ** 2)) / (n - 1)
    within = float(np.sum((w - means) ** 2)) / (n * (d - 1))
    return (between / within if within > 0 else math.inf), n - 1, n * (d - 1)


def shared_share(f: float, d: int) -> float:
    """The share of the variance that every draw shares (intraclass correlation) implied by F."""
    return max(0.0, (f - 1) / (f + d - 1)) if math.isfinite(f) else 1.0


def fresh_problems(layers: list[LayerDraws], seeds: list[int], reference: list[LayerDraws] | None = None,
                   coverage: float = COVERAGE, f_test=one_way_f) -> list[str]:
    """Why `layers` (draws under `seeds`, the first one the run's) are not a fresh random initialisation;
    [] when they are. `reference`: the layers as 5.2.1 measured the same initialisation (init_weights),
    compared two-sample; None: PyTorch's default initialisation or the handout's N(0, 0.01^2)."""
    if not layers:
        return ["the network has no conv or linear layer"]
    draws = len(seeds)
    if draws < 2 or any(layer.weights.shape[0] != draws for layer in layers):
        return [f"the starting weights were not reported for each of the {draws} construction seeds"]
    if reference is not None and len(reference) != len(layers):
        return [f"{len(layers)} conv/linear layers start the run, but init_weights initialised {len(reference)} "
                f"in 5.2.1: the network that trains is not the one measured there"]
    tests = len(layers) * (1 + 2 * draws)  # per layer: the shared component, and every draw's weights and biases
    alpha = (1.0 - coverage) / tests
    problems: list[str] = []
    for i, layer in enumerate(layers):
        w = layer.weights.reshape(draws, -1)  # (D, n)
        same = [(a, b) for a in range(draws) for b in range(a + 1, draws) if np.array_equal(w[a], w[b])]
        if same:
            zero = " (all zero)" if not w[same[0][0]].any() else ""
            problems.append(f"{layer.name}: the same weights{zero} for construction seeds "
                            f"{seeds[same[0][0]]} and {seeds[same[0][1]]}")
            continue
        f, df1, df2 = f_test(layer.weights)
        p = float(stats.f.sf(f, df1, df2)) if math.isfinite(f) else 0.0
        if p < alpha:
            problems.append(f"{layer.name}: {shared_share(f, draws):.0%} of the weights' variance is the same for "
                            f"every construction seed (F = {f:.3g} on ({df1}, {df2}) degrees of freedom, p = {p:.2g}): "
                            f"fixed weights with noise added, not independent random draws")
            continue
        problem = _distribution_problem(layer, seeds, reference[i] if reference is not None else None, alpha)
        if problem:
            problems.append(problem)
    return problems


def _distribution_problem(layer: LayerDraws, seeds: list[int], reference: LayerDraws | None, alpha: float) -> str:
    for part, values, ref in (("weights", layer.weights, reference.weights if reference else None),
                              ("biases", layer.biases, reference.biases if reference else None)):
        if values is None or (reference is not None and ref is None):
            continue
        for d, seed in enumerate(seeds):
            x = values[d]
            p = default_init_pvalue(x, layer.fan_in) if reference is None else same_distribution_pvalue(x, ref)
            if p >= alpha:
                continue
            std = float(np.std(x))
            which = "of the run's starting network" if d == 0 else f"built with construction seed {seed}"
            if reference is None:
                b = default_bound(layer.fan_in)
                return (f"{layer.name}: the {part} {which} are not PyTorch's default initialisation U(-{b:.3g}, "
                        f"{b:.3g}) (std {b / math.sqrt(3):.3g}) nor the handout's N(0, {HANDOUT_STD}^2): "
                        f"std {std:.3g}, mean {float(np.mean(x)):.2g} (Kolmogorov-Smirnov p = {p:.2g})")
            return (f"{layer.name}: the {part} {which} are not distributed as init_weights drew them in 5.2.1: "
                    f"std {std:.3g} against {float(np.std(ref)):.3g} there (two-sample Kolmogorov-Smirnov p = {p:.2g})")
    return ""
