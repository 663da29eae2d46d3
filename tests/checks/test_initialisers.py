"""The fresh-start tests of checks/initialisers.py: PyTorch's default initialisation is what real torch layers
draw (and wrong formulas for it are rejected); the analysis of variance rejects independent draws at its
nominal rate (and a wrong formula for F does not); stored weights, with and without per-seed noise, are
found; correct initialisations of the handout's networks pass, and an init_weights unlike its 5.2.1 draws
does not."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy import stats

from checks.initialisers import (LayerDraws, default_bound, default_init_pvalue, fresh_problems, one_way_f,
                                 same_distribution_pvalue)
from solutions.cnn import Net, NetBN

# the handout's conv and FC layers: (name, constructor)
HANDOUT_LAYERS = (("conv 1", lambda: nn.Conv2d(3, 6, 5)), ("conv 2", lambda: nn.Conv2d(6, 16, 5)),
                  ("FC 120", lambda: nn.Linear(400, 120)), ("FC 84", lambda: nn.Linear(120, 84)),
                  ("FC 10", lambda: nn.Linear(84, 10)))
SEEDS = [0, 100_003, 200_006, 300_009]  # the run's seed 0 and the grader's further construction seeds


def draws_of(build, seeds: list[int], init=None) -> list[LayerDraws]:
    """The conv/linear layers of build() under each seed (after init, when given), as the start phase
    exports them."""
    nets = []
    for s in seeds:
        torch.manual_seed(s)
        net = build()
        if init is not None:
            init(net)
        nets.append([m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    out, convs = [], 0
    for i, first in enumerate(nets[0]):
        convs += isinstance(first, nn.Conv2d)
        name = f"conv {convs}" if isinstance(first, nn.Conv2d) else f"FC {first.out_features}"
        w = np.stack([layers[i].weight.detach().double().numpy() for layers in nets])
        b = np.stack([layers[i].bias.detach().double().numpy() for layers in nets]) if first.bias is not None else None
        out.append(LayerDraws(name, w, b))
    return out


# ----- PyTorch's default initialisation ------------------------------------------------------------------
WRONG_BOUNDS = {  # plausible wrong derivations of torch's default
    "kaiming_uniform_ with a=0: sqrt(6 / fan_in)": lambda f: math.sqrt(6 / f),
    "variance 1 / fan_in: sqrt(3 / fan_in)": lambda f: math.sqrt(3 / f),
    "1 / fan_in": lambda f: 1 / f,
}


@pytest.mark.parametrize("name,build", HANDOUT_LAYERS)
def test_default_bound_is_what_torch_layers_draw_and_wrong_formulas_are_rejected(name, build):
    """Seed 0, 200 real layers of each of the handout's shapes, the weights of the first 20 (9,000 to
    960,000) and the biases of all (1,200 to 24,000): the derived U(-1/sqrt(fan_in), 1/sqrt(fan_in)) passes
    Kolmogorov-Smirnov at p > 1e-3; each wrong formula is rejected at p < 1e-6 (a verdict rejects below
    about 2e-5: coverage 0.999 over 45 tests)."""
    torch.manual_seed(0)
    layers = [build() for _ in range(200)]
    fan_in = int(np.prod(layers[0].weight.shape[1:]))
    weights = np.concatenate([m.weight.detach().double().numpy().ravel() for m in layers[:20]])
    biases = np.concatenate([m.bias.detach().double().numpy().ravel() for m in layers])
    for values in (weights, biases):
        assert default_init_pvalue(values, fan_in) > 1e-3, name
        for wrong, bound in WRONG_BOUNDS.items():
            assert default_init_pvalue(values, fan_in, bound=bound) < 1e-6, f"{name}: {wrong} was not rejected"


def test_handouts_gaussian_passes_as_a_default():
    """Seed 0, one draw of conv 1 (450 weights) from N(0, 0.01^2): the handout's default passes; N(0, 0.02^2)
    is neither initialisation."""
    rng = np.random.default_rng(0)
    assert default_init_pvalue(rng.normal(0, 0.01, 450), fan_in=75) > 1e-3
    assert default_init_pvalue(rng.normal(0, 0.02, 450), fan_in=75) < 1e-6


# ----- the analysis of variance --------------------------------------------------------------------------
def rejection_rate_is_nominal(f_test, rng: np.random.Generator, repetitions: int = 400, alpha: float = 0.05) -> bool:
    """Whether `f_test` rejects independent N(0, 1) draws (4 seeds x 450 weights, conv 1's size) at level
    alpha as often as it should: within the binomial 99.9% interval of the count."""
    rejections = 0
    for _ in range(repetitions):
        f, df1, df2 = f_test(rng.standard_normal((4, 450)))
        rejections += stats.f.sf(f, df1, df2) < alpha
    low, high = stats.binom.interval(0.999, repetitions, alpha)
    return low <= rejections <= high


def test_one_way_f_rejects_independent_draws_at_its_nominal_rate_and_a_wrong_formula_does_not():
    """Seed 0, 400 repetitions at alpha 0.05: the count of rejections lies in the binomial 99.9% interval
    [6, 35]. F without the factor D in MS_between (about 1/4 of the right value) never rejects, and fails
    the same check."""
    assert rejection_rate_is_nominal(one_way_f, np.random.default_rng(0))

    def without_factor_d(draws):
        f, df1, df2 = one_way_f(draws)
        return f / draws.shape[0], df1, df2

    assert not rejection_rate_is_nominal(without_factor_d, np.random.default_rng(0))


def test_uniform_draws_are_rejected_no_more_often_than_normal_ones():
    """Seed 1, 400 repetitions of 4 x 450 U(-1, 1) draws at alpha 0.05: at most the binomial 99.9% upper
    bound of rejections (the test is conservative for the lighter tails of a uniform initialisation)."""
    rng = np.random.default_rng(1)
    rejections = sum(stats.f.sf(*one_way_f(rng.uniform(-1, 1, (4, 450)))) < 0.05 for _ in range(400))
    assert rejections <= stats.binom.interval(0.999, 400, 0.05)[1]


# ----- verdicts on whole networks ------------------------------------------------------------------------
@pytest.mark.parametrize("network", [Net, NetBN])
def test_default_initialised_networks_pass_for_every_seed_set(network):
    """8 sets of 4 construction seeds (k, k + 100003, ...; k = 0..7): every one passes (a verdict's coverage
    is 0.999, so 8 verdicts all pass with probability >= 0.992; these seeds are fixed). An F that is 10% too
    large (a wrong formula) rejects them."""
    sets = [[k + s for s in SEEDS] for k in range(8)]
    assert all(fresh_problems(draws_of(network, seeds), seeds) == [] for seeds in sets)

    def inflated(draws):
        f, df1, df2 = one_way_f(draws)
        return 1.1 * f, df1, df2

    assert fresh_problems(draws_of(network, SEEDS), SEEDS, f_test=inflated)


@pytest.mark.parametrize("init", [
    lambda m: [nn.init.kaiming_normal_(x.weight, nonlinearity="relu") for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))],
    lambda m: [nn.init.kaiming_uniform_(x.weight, nonlinearity="relu") for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))],
    lambda m: [nn.init.kaiming_normal_(x.weight, mode="fan_out") for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))],
    lambda m: [nn.init.normal_(x.weight, 0, 0.01) for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))],
], ids=["he_normal", "he_uniform", "he_fan_out", "handout_gaussian"])
def test_init_weights_passes_against_its_own_5_2_1_draws(init):
    """The start (4 seeds) against 5.2.1's 8 draws (seeds 1000-1007) of the same init_weights: passes, also
    for initialisations 5.2.1 fails (N(0, 0.01^2)): the run is judged by the pass mark, not here."""
    reference = draws_of(Net, list(range(1000, 1008)), init)
    assert fresh_problems(draws_of(Net, SEEDS, init), SEEDS, reference) == []


def test_init_weights_unlike_its_5_2_1_draws_is_found():
    """He init in 5.2.1's draws, N(0, 0.01^2) at the start (an init_weights that tells the phases apart):
    every layer's run weights fail the two-sample test."""
    he = lambda m: [nn.init.kaiming_normal_(x.weight) for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))]  # noqa: E731
    small = lambda m: [nn.init.normal_(x.weight, 0, 0.01) for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))]  # noqa: E731
    problems = fresh_problems(draws_of(Net, SEEDS, small), SEEDS, draws_of(Net, list(range(1000, 1008)), he))
    assert len(problems) == 5 and all("not distributed as init_weights drew them in 5.2.1" in p for p in problems)
    assert "of the run's starting network" in problems[0]


def stored(noise: float):
    """Net() whose layers hold one fixed draw of the default initialisation (seed 12345: marginally a perfect
    initialisation) plus N(0, noise^2) from torch's seeded generator."""
    torch.manual_seed(12345)
    fixed = Net().state_dict()

    def build():
        net = Net()
        with torch.no_grad():
            for name, t in net.state_dict().items():
                t.copy_(fixed[name] + noise * torch.randn(t.shape))
        return net
    return build


def test_stored_weights_are_found_with_and_without_per_seed_noise():
    """Stored weights are the same for every seed; with noise of std 0.01 (15-35% of the weights' spread)
    89-98% of each layer's variance is shared by every seed, which the analysis of variance finds in every
    layer although each draw alone looks like a fresh initialisation."""
    same = fresh_problems(draws_of(stored(0.0), SEEDS), SEEDS)
    assert len(same) == 5 and all("the same weights for construction seeds 0 and 100003" in p for p in same)
    noisy = fresh_problems(draws_of(stored(0.01), SEEDS), SEEDS)
    assert len(noisy) == 5 and all("is the same for every construction seed" in p for p in noisy)


def test_zero_initialised_layers_are_named_as_such():
    zero = lambda m: [nn.init.zeros_(p) for p in m.parameters()]  # noqa: E731
    assert "the same weights (all zero)" in fresh_problems(draws_of(Net, SEEDS, zero), SEEDS)[0]


def test_zero_biases_match_zero_biases():
    assert same_distribution_pvalue(np.zeros(6), np.zeros(48)) == 1.0
    assert same_distribution_pvalue(np.full(6, 30.0), np.zeros(48)) == 0.0


def test_a_start_whose_layers_differ_from_5_2_1_is_refused():
    reference = draws_of(Net, list(range(1000, 1008)))
    assert "init_weights initialised 5 in 5.2.1" in fresh_problems(draws_of(Net, SEEDS)[:4], SEEDS, reference)[0]


def test_the_default_bound_derivation():
    """default_bound restates torch's kaiming_uniform_(a=sqrt(5)): sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(fan_in)."""
    for fan_in in (75, 150, 400, 120, 84):
        gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
        assert default_bound(fan_in) == pytest.approx(math.sqrt(3) * gain / math.sqrt(fan_in), rel=1e-12)
