"""Small statistical helpers shared by the checks and the rubric: confidence bounds with stated
coverage. Pure numpy/scipy, no torch."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def two_sided_z(coverage: float, tests: int = 1) -> float:
    """z such that `tests` two-sided normal intervals all hold with probability >= coverage (Bonferroni)."""
    alpha = (1.0 - coverage) / tests
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def variance_ratio_bound(samples: np.ndarray, target_var: float, z: float) -> tuple[float, float]:
    """(ratio, half-width): ratio = sample variance / target variance about zero mean, and z standard
    errors of that ratio. The standard error of a sample second moment m2 = mean(w^2) is
    sqrt((E[w^4] - m2^2) / n), estimated from the sample itself, so the bound holds for normal and uniform
    initialisations alike."""
    w = np.asarray(samples, dtype=np.float64).ravel()
    n = w.size
    m2 = float(np.mean(w ** 2))
    m4 = float(np.mean(w ** 4))
    se = math.sqrt(max(m4 - m2 ** 2, 0.0) / n)
    return m2 / target_var, z * se / target_var


def mean_bound(samples: np.ndarray, z: float) -> tuple[float, float]:
    """(sample mean, z standard errors)."""
    w = np.asarray(samples, dtype=np.float64).ravel()
    return float(w.mean()), z * float(w.std(ddof=1)) / math.sqrt(w.size)


def lower_prediction_bound(values: list[float] | np.ndarray, coverage: float) -> float:
    """One-sided lower bound that a new draw from the same normal population exceeds with probability
    `coverage`, from n observed draws: mean - t_{coverage, n-1} * sd * sqrt(1 + 1/n)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n < 2:
        raise ValueError("need at least two values")
    t = float(stats.t.ppf(coverage, df=n - 1))
    return float(v.mean() - t * v.std(ddof=1) * math.sqrt(1 + 1 / n))
