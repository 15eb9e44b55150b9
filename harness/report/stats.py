"""The statistics behind the ablation table: t-intervals, arm-vs-baseline tests, Holm, marginal effects.

Everything here takes plain sequences of floats (one value per seed) and returns plain numbers,
so each result can be checked against a hand computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

SMALL_N = 5  # below this many seeds in either arm, significance comes from a permutation test
EXACT_LIMIT = 50_000  # most label assignments enumerated exactly; above it, a seeded Monte-Carlo test
RESAMPLES = 9_999


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval (``lo``/``hi`` are NaN when it cannot be estimated)."""

    mean: float
    lo: float
    hi: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """An arm against the baseline: the difference of means, its Welch CI, and a two-sided p-value."""

    delta: Interval
    p: float
    test: str  # "welch", "exact permutation" or "permutation (9,999 resamples)"


def t_interval(values: Sequence[float], ci: float = 0.95) -> Interval:
    """Mean and two-sided t-interval over seeds (NaN bounds for a single seed)."""
    from scipy import stats

    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + ci / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def welch_interval(terms: Sequence[tuple[float, Sequence[float]]], ci: float = 0.95) -> Interval:
    """CI of a linear contrast Σ wᵢ·mean(groupᵢ) of independent groups, Welch–Satterthwaite df.

    ``terms`` is a list of (weight, values). NaN bounds if any group has fewer than two values.
    """
    from scipy import stats

    estimate = math.fsum(w * math.fsum(v) / len(v) for w, v in terms)
    if any(len(v) < 2 for _, v in terms):
        return Interval(estimate, math.nan, math.nan, sum(len(v) for _, v in terms))
    parts = [w * w * _variance(v) / len(v) for w, v in terms]
    var = math.fsum(parts)
    n = sum(len(v) for _, v in terms)
    if var == 0:
        return Interval(estimate, estimate, estimate, n)
    df = var**2 / math.fsum(p * p / (len(v) - 1) for p, (_, v) in zip(parts, terms))
    half = float(stats.t.ppf(0.5 + ci / 2, df)) * math.sqrt(var)
    return Interval(estimate, estimate - half, estimate + half, n)


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def compare(arm: Sequence[float], baseline: Sequence[float], ci: float = 0.95) -> Comparison:
    """``arm`` − ``baseline``: Welch's t-test, or a permutation test of the mean difference if n is small."""
    delta = welch_interval([(1.0, arm), (-1.0, baseline)], ci)
    if min(len(arm), len(baseline)) >= SMALL_N:
        from scipy import stats

        p = float(stats.ttest_ind(arm, baseline, equal_var=False).pvalue)
        return Comparison(delta, p if math.isfinite(p) else 1.0, "welch")
    p, test = permutation_p(arm, baseline)
    return Comparison(delta, p, test)


def permutation_p(a: Sequence[float], b: Sequence[float]) -> tuple[float, str]:
    """Two-sided p-value of |mean(a) − mean(b)| over relabellings of the pooled seeds.

    Exact (every assignment of labels, the observed one included) when there are at most
    ``EXACT_LIMIT`` of them; otherwise ``RESAMPLES`` seeded random relabellings (+1 smoothing).
    """
    pooled, k = list(a) + list(b), len(a)
    observed = abs(_mean_gap(pooled, range(k)))
    tolerance = 1e-12 * max(1.0, observed)
    if math.comb(len(pooled), k) <= EXACT_LIMIT:
        gaps = [abs(_mean_gap(pooled, chosen)) for chosen in combinations(range(len(pooled)), k)]
        return sum(g >= observed - tolerance for g in gaps) / len(gaps), "exact permutation"
    import numpy as np

    rng = np.random.default_rng(0)
    hits = sum(
        abs(_mean_gap(pooled, rng.permutation(len(pooled))[:k])) >= observed - tolerance for _ in range(RESAMPLES)
    )
    return (hits + 1) / (RESAMPLES + 1), f"permutation ({RESAMPLES:,} resamples)"


def _mean_gap(pooled: Sequence[float], chosen) -> float:
    chosen = set(int(i) for i in chosen)
    inside = [v for i, v in enumerate(pooled) if i in chosen]
    outside = [v for i, v in enumerate(pooled) if i not in chosen]
    return math.fsum(inside) / len(inside) - math.fsum(outside) / len(outside)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order (step-down, monotone, capped at 1)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def marginal_effect(
    cells: dict[tuple, Sequence[float]], factor: int, level, reference, ci: float = 0.95
) -> Interval | None:
    """Mean change when factor number ``factor`` goes from ``reference`` to ``level``, averaged over the others.

    ``cells`` maps a tuple of factor levels to the values (one per seed) of that grid cell. The
    effect is the average, over every setting of the other factors where both cells have values,
    of mean(cell at ``level``) − mean(cell at ``reference``); its CI treats that as one contrast
    of independent cell means (Welch–Satterthwaite). None if no setting has both cells.
    """
    pairs = []
    for key, values in cells.items():
        if key[factor] != level or not values:
            continue
        other = cells.get(key[:factor] + (reference,) + key[factor + 1 :])
        if other:
            pairs.append((values, other))
    if not pairs:
        return None
    weight = 1.0 / len(pairs)
    return welch_interval([term for on, off in pairs for term in ((weight, on), (-weight, off))], ci)
