"""Verification of Problem 5.2 (He initialization): Eqs. 3 and 4 proved, Eq. 5 tested by simulation.

(a) Symbolic proofs with sympy / sympy.stats:
    - Eq. 3, Var[w x] = Var[w] E[x^2] for independent zero-mean w: for concrete distributions of
      w and x, and for arbitrary distributions (symbolic moments) with y a sum of n terms;
    - Eq. 4, E[ReLU(y)^2] = Var[y]/2: exact for symmetric zero-mean y (normal, uniform, Laplace),
      and shown to FAIL for y not symmetric about zero (exponential, shifted normal).
(b) Monte Carlo: the per-layer variance of deep ReLU networks (fully connected or convolutional)
    sampled with He or N(0, 0.01^2) weights against the prediction of Eq. 5, taken from
    ``solutions.he_init.predicted_variance`` or from any formula a caller passes (so a wrong formula
    can be shown to fail).  Eq. 5 holds exactly in expectation at finite width (see the solution's
    derivation), so the per-layer Monte Carlo mean is an unbiased estimate of the prediction and is
    tested with a z-test built from its standard error over independent networks.
(c) A PNG plot of the depth profiles for the instructor's page of reference checks (grader/reference/page.py).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np
import sympy as sp
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sympy.stats import E, Exponential, Laplace, Normal, Uniform, density, variance
from sympy.stats.rv import RandomSymbol
from torch import nn

from checks.verdict import ProofResult
from solutions import he_init as ref

Kind = Literal["fc", "conv"]
Init = Literal["he", "small"]
VarianceFormula = Callable[[float, Sequence[float], Sequence[float]], float]

SMALL_STD = 0.01  # the handout's default initialization, N(0, 0.01^2)

# ---------------------------------------------------------------------------------------------
# (a) symbolic proofs
# ---------------------------------------------------------------------------------------------

_sigma, _a, _b, _lam, _mu = sp.symbols("sigma a b lambda mu", positive=True)


def relu_second_moment(y: RandomSymbol) -> sp.Expr:
    """E[ReLU(y)^2] = int_0^inf z^2 p_y(z) dz, from the density sympy.stats gives for y."""
    z = sp.Symbol("z", positive=True)  # positive: Abs(z) in Laplace-type densities simplifies
    return sp.integrate(z**2 * density(y)(z), (z, 0, sp.oo))


def eq4_difference(y: RandomSymbol) -> sp.Expr:
    """E[ReLU(y)^2] - Var[y]/2, simplified: 0 exactly when Eq. 4 holds for this y."""
    return sp.simplify(relu_second_moment(y) - variance(y) / 2)


def prove_eq4(y: RandomSymbol, label: str) -> ProofResult:
    """Eq. 4 holds for y when the difference simplifies to exactly 0."""
    difference = eq4_difference(y)
    return ProofResult(
        f"Eq. 4 for {label}",
        difference == 0,
        f"sympy: integrate(z**2 * density(y)(z), (z, 0, oo)) - variance(y)/2 simplifies to {difference}",
    )


def eq4_counterexample(y: RandomSymbol, label: str, at: dict[sp.Symbol, float]) -> ProofResult:
    """Eq. 4 must FAIL for y not symmetric about zero: passes when the difference is nonzero at ``at``."""
    difference = eq4_difference(y)
    value = float(difference.subs(at).evalf())
    return ProofResult(
        f"Eq. 4 fails for {label} (needs y symmetric about zero)",
        difference != 0 and abs(value) > 1e-12,
        f"sympy: E[ReLU(y)^2] - Var[y]/2 = {difference}; at {at} it is {value:.6g} != 0",
    )


def prove_eq3(w: RandomSymbol, x: RandomSymbol, label: str) -> ProofResult:
    """Eq. 3 per term: Var[w x] - Var[w] E[x^2] simplifies to 0 for independent w, x with E[w] = 0."""
    mean_w = sp.simplify(E(w))
    difference = sp.simplify(variance(w * x) - variance(w) * E(x**2))
    return ProofResult(
        f"Eq. 3 for {label}",
        mean_w == 0 and difference == 0,
        f"sympy.stats with independent w, x: E[w] = {mean_w}; Var[w x] - Var[w] E[x^2] simplifies to {difference}",
    )


def _moment_expectation(expr: sp.Expr, w: Sequence[sp.Symbol], x: Sequence[sp.Symbol],
                        m_w: Callable[[int], sp.Expr], m_x: Callable[[int], sp.Expr]) -> sp.Expr:
    """E[polynomial] for mutually independent w_i (moments m_w(k)) and x_i (moments m_x(k))."""
    total = sp.Integer(0)
    for monomial, coefficient in sp.Poly(sp.expand(expr), *w, *x).terms():
        term = coefficient
        for power in monomial[: len(w)]:
            term *= m_w(power)  # independence: the expectation of the product factorizes
        for power in monomial[len(w):]:
            term *= m_x(power)
        total += term
    return total


def prove_eq3_general(max_terms: int = 4) -> ProofResult:
    """Eq. 2-3 for ANY distributions with finite second moments, via symbolic moments.

    w_i i.i.d. with E[w] = 0 and E[w^2] = s_w; x_i i.i.d. with E[x] = m_1, E[x^2] = m_2 (m_1 free,
    x_l = ReLU(.) has a nonzero mean).  1. For n = 1..max_terms expand Var[sum w_i x_i] and reduce
    it with E[prod] = prod E (independence).  2. For symbolic n: Var[y] = n Var[w x] + n(n-1)
    Cov(w_1 x_1, w_2 x_2), both computed with the same expectation operator.  3. Compare each with
    n Var[w] E[x^2] = n s_w m_2.
    """
    n = sp.Symbol("n", positive=True, integer=True)
    s_w, m_1, m_2 = sp.symbols("s_w m_1 m_2")
    m_w = lambda k: {0: sp.Integer(1), 1: sp.Integer(0), 2: s_w}[k]  # noqa: E731
    m_x = lambda k: {0: sp.Integer(1), 1: m_1, 2: m_2}[k]  # noqa: E731
    failures = []
    for terms in range(1, max_terms + 1):
        w = sp.symbols(f"w1:{terms + 1}")
        x = sp.symbols(f"x1:{terms + 1}")
        y = sum(wi * xi for wi, xi in zip(w, x))
        var_y = _moment_expectation(y**2, w, x, m_w, m_x) - _moment_expectation(y, w, x, m_w, m_x) ** 2
        if sp.simplify(var_y - terms * s_w * m_2) != 0:
            failures.append(terms)
    w2, x2 = sp.symbols("w1:3"), sp.symbols("x1:3")
    expect = lambda e: _moment_expectation(e, w2, x2, m_w, m_x)  # noqa: E731
    var_term = expect((w2[0] * x2[0]) ** 2) - expect(w2[0] * x2[0]) ** 2
    covariance = expect(w2[0] * x2[0] * w2[1] * x2[1]) - expect(w2[0] * x2[0]) * expect(w2[1] * x2[1])
    var_w = m_w(2) - m_w(1) ** 2
    symbolic = sp.simplify(n * var_term + n * (n - 1) * covariance - n * var_w * m_x(2))
    return ProofResult(
        "Eq. 3 for any distributions (symbolic moments)",
        not failures and symbolic == 0,
        f"E[w]=0, E[w^2]=s_w, E[x]=m_1, E[x^2]=m_2, independence: Var[sum_i w_i x_i] - n Var[w] E[x^2] "
        f"is 0 for n = 1..{max_terms} (failures: {failures or 'none'}); for symbolic n, "
        f"n Var[w x] + n(n-1) Cov - n Var[w] E[x^2] = {symbolic} (Cov = {covariance})",
    )


def symbolic_proofs() -> list[ProofResult]:
    return [
        prove_eq3_general(),
        prove_eq3(Normal("w", 0, _sigma), Exponential("x", _lam), "w ~ Normal(0, sigma), x ~ Exponential(lambda)"),
        prove_eq3(Laplace("w", 0, _b), Uniform("x", 0, _a), "w ~ Laplace(0, b), x ~ Uniform(0, a)"),
        prove_eq4(Normal("y", 0, _sigma), "y ~ Normal(0, sigma)"),
        prove_eq4(Uniform("y", -_a, _a), "y ~ Uniform(-a, a)"),
        prove_eq4(Laplace("y", 0, _b), "y ~ Laplace(0, b)"),
        eq4_counterexample(Exponential("y", _lam), "y ~ Exponential(lambda)", {_lam: 1.0}),
        eq4_counterexample(Normal("y", _mu, _sigma), "y ~ Normal(mu, sigma)", {_mu: 1.0, _sigma: 1.0}),
    ]


# ---------------------------------------------------------------------------------------------
# (b) Monte Carlo depth profiles
# ---------------------------------------------------------------------------------------------

_CONV_KERNEL = 3
_CONV_SIZE = 8  # spatial side of the conv inputs


@dataclass(frozen=True)
class DepthProfile:
    """Per-layer Monte Carlo estimate of Var[y_l] = E[y_l^2] (zero-mean pre-activations)."""

    kind: Kind
    init: Init
    depth: int
    width: int  # features (fc) or channels (conv)
    n_samples: int  # independent networks, each with its own weights and inputs
    batch: int  # inputs per network
    seed: int
    fan_ins: tuple[int, ...]  # n_l per layer
    weight_vars: tuple[float, ...]  # Var[w_l] the initializer targets, per layer
    input_second_moment: float  # E[x_1^2] of the network input
    variance: np.ndarray  # [depth] mean over networks of the per-network mean of y_l^2
    std_error: np.ndarray  # [depth] standard error of that mean (std over networks / sqrt(n_samples))


def _stacked_layers(kind: Kind, width: int, depth: int, n_samples: int) -> list[nn.Conv2d]:
    """``depth`` real Conv2d layers, each holding ``n_samples`` independent networks as groups.

    Group g of a layer only sees channels g*width..(g+1)*width-1, so every group is a separate
    network and the fan-in an initializer reads off the weight is that of one network:
    width for 'fc' (a 1x1 conv on 1x1 maps is exactly a width x width linear layer) and
    width*3*3 for 'conv' (circular padding: every output sums over exactly that many inputs).
    One big layer instead of n_samples small ones keeps the simulation fast.
    """
    channels = n_samples * width
    # skip_init: the default uniform initialization would be overwritten anyway
    if kind == "fc":
        return [nn.utils.skip_init(nn.Conv2d, channels, channels, 1, groups=n_samples) for _ in range(depth)]
    if kind == "conv":
        return [
            nn.utils.skip_init(nn.Conv2d, channels, channels, _CONV_KERNEL, padding=_CONV_KERNEL // 2,
                               padding_mode="circular", groups=n_samples)
            for _ in range(depth)
        ]
    raise ValueError(f"kind must be 'fc' or 'conv', got {kind!r}")


@torch.no_grad()
def _init_small(model: nn.Module) -> None:
    """The handout's default: weights N(0, 0.01^2), biases 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.weight.normal_(0.0, SMALL_STD)
            if module.bias is not None:
                module.bias.zero_()


@torch.no_grad()
def monte_carlo_depth_profile(
    kind: Kind,
    init: Init,
    depth: int = 10,
    width: int = 64,
    n_samples: int = 400,
    seed: int = 0,
    batch: int = 4,
) -> DepthProfile:
    """Sample ``n_samples`` independent ReLU networks (y_l = W_l x_l, x_{l+1} = ReLU(y_l)).

    The forward pass runs in float32 (torch's float64 grouped convolutions are ~50x slower on CPU;
    even the smallest variance here, ~1e-25, is far inside float32's range), statistics in float64.

    Weights come from ``solutions.he_init.init_weights`` for 'he' and N(0, 0.01^2) for 'small',
    biases are 0; each network gets ``batch`` fresh N(0, 1) inputs.  Its statistic for layer l is the
    mean of y_l^2 over its inputs and units; the statistics are i.i.d. over networks with mean Var[y_l].
    """
    if init not in ("he", "small"):
        raise ValueError(f"init must be 'he' or 'small', got {init!r}")
    layers = _stacked_layers(kind, width, depth, n_samples)
    model = nn.Sequential(*layers)
    initialize = ref.init_weights if init == "he" else _init_small
    fan_ins = tuple(ref.fan_in(layer) for layer in layers)
    weight_vars = tuple(ref.he_weight_variance(f) if init == "he" else SMALL_STD**2 for f in fan_ins)
    side = 1 if kind == "fc" else _CONV_SIZE
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG state untouched
        torch.manual_seed(seed)
        initialize(model)
        x = torch.randn(batch, n_samples * width, side, side)  # [B, S*width, H, W]
    statistics = torch.empty(depth, n_samples, dtype=torch.float64)  # [layers, networks]
    for index, layer in enumerate(layers):
        y = layer(x)  # [B, S*width, H, W]
        per_network = y.double().reshape(batch, n_samples, -1)  # [B, S, width*H*W]
        statistics[index] = per_network.pow(2).mean(dim=(0, 2))  # [S]
        x = torch.relu(y)
    mean = statistics.mean(dim=1).numpy()  # [depth]
    std_error = (statistics.std(dim=1) / math.sqrt(n_samples)).numpy()  # [depth]
    return DepthProfile(kind, init, depth, width, n_samples, batch, seed, fan_ins, weight_vars, 1.0, mean, std_error)


def _prediction(profile: DepthProfile, formula: VarianceFormula) -> np.ndarray:
    """Per-layer prediction: Var[y_1] from Eq. 3 with the input's E[x^2], deeper layers from ``formula``."""
    var_y1 = profile.fan_ins[0] * profile.weight_vars[0] * profile.input_second_moment
    return np.array(
        [float(formula(var_y1, profile.fan_ins[1:l], profile.weight_vars[1:l])) for l in range(1, profile.depth + 1)]
    )


def check_depth_profile(
    kind: Kind,
    init: Init,
    depth: int = 10,
    width: int = 64,
    n_samples: int = 400,
    seed: int = 0,
    formula: VarianceFormula = ref.predicted_variance,
    z: float = 4.0,
    profile: DepthProfile | None = None,
) -> ProofResult:
    """Monte Carlo test of ``formula`` (default: Eq. 5 of the solution) at every layer.

    Pass when |MC mean - prediction| <= z * SE at every layer and the fitted log-variance slope per
    layer, (log m_L - log m_1)/(L-1), lies within z * (SE_L/m_L + SE_1/m_1)/(L-1) (delta method,
    union bound) of the predicted slope log((1/2) n Var[w]) (for the default formula).
    """
    if profile is None:
        profile = monte_carlo_depth_profile(kind, init, depth, width, n_samples, seed)
    predicted = _prediction(profile, formula)
    z_scores = (profile.variance - predicted) / profile.std_error
    worst = int(np.argmax(np.abs(z_scores)))
    layers_between = profile.depth - 1
    measured_slope = math.log(profile.variance[-1] / profile.variance[0]) / layers_between
    predicted_slope = math.log(predicted[-1] / predicted[0]) / layers_between
    relative_se = profile.std_error / profile.variance
    slope_tolerance = z * (relative_se[-1] + relative_se[0]) / layers_between
    passed = bool(np.all(np.abs(z_scores) <= z)) and abs(measured_slope - predicted_slope) <= slope_tolerance
    init_text = "He N(0, 2/fan_in)" if profile.init == "he" else f"N(0, {SMALL_STD}^2)"
    return ProofResult(
        f"Eq. 5 depth profile, {profile.kind}, {init_text} (Monte Carlo)",
        passed,
        f"{profile.n_samples} independent {profile.kind} ReLU networks, depth {profile.depth}, width "
        f"{profile.width}" + (f" channels, {_CONV_SIZE}x{_CONV_SIZE} maps, 3x3 circular conv" if profile.kind == "conv"
                              else " (1x1 grouped conv = linear layer)")
        + f", fan-in {profile.fan_ins[-1]}, {profile.batch} N(0,1) inputs each, float32 forward, seed {profile.seed}; "
        f"per layer, the mean over networks of mean(y_l^2) vs the formula ({getattr(formula, '__name__', 'formula')}); "
        f"tolerance z = {z} standard errors per layer: worst z = {z_scores[worst]:.2f} at layer {worst + 1} "
        f"(measured {profile.variance[worst]:.4g}, predicted {predicted[worst]:.4g}); log-variance slope per "
        f"layer {measured_slope:.4f} vs predicted {predicted_slope:.4f} (tolerance {slope_tolerance:.4f})",
    )


def _handout_cnn() -> nn.Sequential:
    """The Problem 5 network: conv5(3->6), pool, conv5(6->16), pool, fc 400->120->84->10."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def eq6_ratios(model: nn.Module) -> list[tuple[str, float, int]]:
    """(layer name, sample Var[w] * fan_in / 2, number of weights) for every Conv2d/Linear."""
    return [
        (name, module.weight.double().var().item() * ref.fan_in(module) / 2, module.weight.numel())
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    ]


def check_init_weights(seed: int = 0, z: float = 4.0) -> ProofResult:
    """init_weights on the Problem 5 CNN: Var[w] * fan_in / 2 = 1 per layer (Eq. 6), biases 0.

    The sample variance of m normal weights has relative standard error sqrt(2/(m-1)).
    """
    model = _handout_cnn()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ref.init_weights(model)
    ratios = eq6_ratios(model)
    within = [abs(ratio - 1) <= z * math.sqrt(2 / (m - 1)) for _, ratio, m in ratios]
    biases_zero = all(
        module.bias is None or bool(torch.all(module.bias == 0))
        for module in model.modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    )
    shown = ", ".join(f"{name}: {ratio:.3f} (m={m})" for name, ratio, m in ratios)
    return ProofResult(
        "init_weights satisfies Eq. 6 on the Problem 5 CNN",
        all(within) and biases_zero,
        f"seed {seed}; sample Var[w]*fan_in/2 per layer {shown}; tolerance z = {z} relative standard "
        f"errors sqrt(2/(m-1)) of a normal sample variance; all biases zero: {biases_zero}",
    )


# ---------------------------------------------------------------------------------------------
# (c) plot
# ---------------------------------------------------------------------------------------------


def depth_profile_plot_png(
    he: DepthProfile | None = None,
    small: DepthProfile | None = None,
    formula: VarianceFormula = ref.predicted_variance,
) -> bytes:
    """PNG, two panels: Var[y_l] per layer on a log scale, He vs N(0, 0.01^2) init, Monte Carlo against the
    Eq. 5 prediction; and their ratio with error bars of 4 standard errors, where a correct formula stays at 1.
    Drawn on its own Figure (no pyplot, no global backend)."""
    he = he or monte_carlo_depth_profile("fc", "he", seed=0)
    small = small or monte_carlo_depth_profile("fc", "small", seed=1)
    figure = Figure(figsize=(10, 4.4), dpi=100)
    FigureCanvasAgg(figure)
    variance_axes, ratio_axes = figure.subplots(1, 2)
    for profile, color, label, shift in ((he, "#1f5fbf", "He init, N(0, 2/fan_in)", -0.1),
                                         (small, "#b3261e", f"handout default, N(0, {SMALL_STD}$^2$)", 0.1)):
        layers = np.arange(1, profile.depth + 1)
        predicted = _prediction(profile, formula)
        variance_axes.plot(layers, predicted, "--", color=color, linewidth=1.2, label=f"{label}: Eq. 5")
        variance_axes.plot(layers, profile.variance, "o", color=color, markersize=5, label=f"{label}: simulated")
        ratio_axes.errorbar(layers + shift, profile.variance / predicted, yerr=4 * profile.std_error / predicted, fmt="o",
                            color=color, capsize=4, markersize=5, label=label)
    variance_axes.set_yscale("log")
    variance_axes.set_title("Variance of the pre-activations per layer", fontsize=10, loc="left")
    variance_axes.set_xlabel("layer l")
    variance_axes.set_ylabel("Var[y_l] (log scale)")
    variance_axes.legend(fontsize=8, frameon=False)
    ratio_axes.axhline(1.0, color="#555555", linewidth=1)
    ratio_axes.set_title("Simulated / Eq. 5 (bars: 4 standard errors)", fontsize=10, loc="left")
    ratio_axes.set_xlabel("layer l")
    ratio_axes.set_ylabel("simulated / predicted")
    ratio_axes.legend(fontsize=8, frameon=False)
    for axes in (variance_axes, ratio_axes):
        axes.set_xticks(np.arange(1, he.depth + 1))
        axes.grid(True, color="#e3e3e3", linewidth=0.6)
    figure.suptitle(f"Eq. 5 checked by simulation: {he.n_samples} random {he.depth}-layer ReLU networks of width "
                    f"{he.width} per initialisation", fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def monte_carlo_checks() -> list[ProofResult]:
    # Different seeds for He and small init: with one seed the small-init networks would be exact
    # rescalings of the He ones (ReLU is positively homogeneous) and the two checks not independent.
    return [
        check_depth_profile("fc", "he", seed=0),
        check_depth_profile("fc", "small", seed=1),
        check_depth_profile("conv", "he", depth=6, width=8, n_samples=200, seed=2),
        check_depth_profile("conv", "small", depth=6, width=8, n_samples=200, seed=3),
        check_init_weights(),
    ]


def verify_all() -> list[ProofResult]:
    return symbolic_proofs() + monte_carlo_checks()
