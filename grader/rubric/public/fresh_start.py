"""Problem 5, the graded training runs: whether a run starts from a fresh random initialisation
(checks.initialisers), PyTorch's default one for Net() (5.1.3) and NetBN() (5.3.2), and the one the
student's init_weights draws, as 5.2.1 measured it, for 5.2.2. A run from stored weights earns nothing."""
from __future__ import annotations

from checks.initialisers import fresh_problems
from grader.evidence.draws import read_layer_draws
from grader.evidence.training import RunObservation
from grader.sandbox import protocol as P

MAX_LISTED = 2  # layers named in the feedback; the rest are counted


def initialiser(variant: str) -> str:
    """The initialisation a run of `variant` must start from, in words."""
    return ("the initialisation init_weights drew in 5.2.1" if P.VARIANTS[variant].init else
            "PyTorch's default initialisation (or the handout's N(0, 0.01^2))")


def start_problem(ctx, variant: str, obs: RunObservation) -> str:
    """Why the run of `variant` does not start from a fresh draw of its initialisation; "" when it does, or
    when no starting networks were observed (a run whose start failed has failed already)."""
    if obs.start_error:
        return f"its starting weights could not be read ({obs.start_error})"
    if obs.start_layers is None:
        return ""
    reference = None
    if P.VARIANTS[variant].init:
        o = ctx.probe(P.INIT)
        if not o.ok:
            return f"init_weights failed when 5.2.1 measured it ({o.error}), so its distribution is unknown"
        try:
            reference = read_layer_draws(o, int(o.data.get("draws", 0)), P.init_weight, P.init_bias)
        except (ValueError, TypeError) as e:
            return f"the layers 5.2.1 measured could not be read ({e})"
    problems = fresh_problems(obs.start_layers, obs.start_seeds, reference)
    more = f"; {len(problems) - MAX_LISTED} more layers likewise" if len(problems) > MAX_LISTED else ""
    return "; ".join(problems[:MAX_LISTED]) + more
