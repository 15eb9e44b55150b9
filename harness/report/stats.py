"""The statistics behind the ablation table: t-intervals and standard errors, arm-vs-baseline tests
(unpaired, and paired by seed), Holm, the smallest p a test can give, the minimum detectable effect,
and marginal effects.

Everything here takes plain sequences of floats (one value per seed) and returns plain numbers,
so each result can be checked against a hand computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, product
from typing import Sequence

SMALL_N = 5  # below this many seeds in either arm (or pairs), significance comes from a permutation test
POWER = 0.8  # the chance of detecting an effect that the minimum detectable effect is computed for
EXACT_LIMIT = 50_000  # most label assignments enumerated exactly; above it, a seeded Monte-Carlo test
RESAMPLES = 9_999


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval and standard error (``lo``/``hi``/``se`` are NaN when they
    cannot be estimated)."""

    mean: float
    lo: float
    hi: float
    n: int
    se: float = math.nan


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
    se = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + ci / 2, n - 1)) * se
    return Interval(mean, mean - half, mean + half, n, se)


def welch_interval(terms: Sequence[tuple[float, Sequence[float]]], ci: float = 0.95) -> Interval:
    """CI of a linear contrast Σ wᵢ·mean(groupᵢ) of independent groups, Welch–Satterthwaite df.

    ``terms`` is a list of (weight, values). NaN bounds if any group has fewer than two values.
    """
    from scipy import stats

    estimate = math.fsum(w * math.fsum(v) / len(v) for w, v in terms)
    if any(len(v) < 2 for _, v in terms):
        return Interval(estimate, math.nan, math.nan, sum(len(v) for _, v in terms))
    var = math.fsum(_variance_parts(terms))
    n = sum(len(v) for _, v in terms)
    if var == 0:
        return Interval(estimate, estimate, estimate, n, 0.0)
    half = float(stats.t.ppf(0.5 + ci / 2, welch_df(terms))) * math.sqrt(var)
    return Interval(estimate, estimate - half, estimate + half, n, math.sqrt(var))


def welch_df(terms: Sequence[tuple[float, Sequence[float]]]) -> float:
    """The Welch–Satterthwaite degrees of freedom of a contrast of independent groups (NaN if they have no spread)."""
    parts = _variance_parts(terms)
    denominator = math.fsum(p * p / (len(v) - 1) for p, (_, v) in zip(parts, terms))
    return math.fsum(parts) ** 2 / denominator if denominator else math.nan


def _variance_parts(terms: Sequence[tuple[float, Sequence[float]]]) -> list[float]:
    """Each group's share wᵢ²·s²ᵢ/nᵢ of the contrast's variance."""
    return [w * w * _variance(v) / len(v) for w, v in terms]


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def compare(arm: Sequence[float], baseline: Sequence[float], ci: float = 0.95) -> Comparison:
    """``arm`` − ``baseline``: Welch's t-test, or a permutation test of the mean difference if n is small."""
    terms = [(1.0, arm), (-1.0, baseline)]
    delta = welch_interval(terms, ci)
    if min(len(arm), len(baseline)) >= SMALL_N:
        return Comparison(delta, t_p(delta, welch_df(terms)), "welch")
    p, test = permutation_p(arm, baseline)
    return Comparison(delta, p, test)


def t_p(delta: Interval, df: float) -> float:
    """The two-sided p of a t-test from the difference's interval and df: Welch's (as scipy's
    ``ttest_ind(equal_var=False)``) or the paired one (``ttest_rel``), without scipy's precision warning
    when seeds agree to the last digits."""
    from scipy import stats

    if delta.se == 0:
        return no_spread_p(delta)
    return float(2 * stats.t.sf(abs(delta.mean) / delta.se, df))


def no_spread_p(delta: Interval) -> float:
    """A t-test's p when the seeds show no spread at all (t is ±∞ or 0/0): 0 for a difference, 1 for none."""
    return 1.0 if delta.mean == 0 else 0.0


def smallest_p(n_arm: int, n_baseline: int) -> float:
    """The smallest two-sided p :func:`compare` can give with these many seeds, whatever the values.

    Welch's t-test (both arms >= ``SMALL_N``) can give any p > 0. The exact permutation test can give
    no less than (relabellings as extreme as the most extreme one) / (all relabellings): 2 / C(2n, n)
    with n seeds each (the observed split and its mirror), 1 / C(n₁ + n₂, n₁) otherwise; 3 vs 3
    seeds cannot go below 0.1.
    """
    if min(n_arm, n_baseline) >= SMALL_N:
        return 0.0
    splits = math.comb(n_arm + n_baseline, n_arm)
    return (2 if n_arm == n_baseline else 1) / splits


def smallest_paired_p(pairs: int) -> float:
    """The smallest two-sided p :func:`paired` can give with this many pairs: any p > 0 from ``SMALL_N``
    pairs on (the paired t-test), 2 / 2ⁿ below that (the sign-flip test's all-plus and all-minus signs)."""
    return 0.0 if pairs >= SMALL_N else 2 / 2**pairs


def detectable(arm: Sequence[float], baseline: Sequence[float], alpha: float, power: float = POWER) -> float:
    """The minimum detectable effect: the |Δ| a two-sided Welch test at level ``alpha`` would detect
    with probability ``power``, given these seeds' spread: (t₁₋α/₂ + t_power) · s.e.(Δ), on the
    Welch–Satterthwaite df. A planning figure, not a test. NaN if either arm has fewer than two values.
    """
    if min(len(arm), len(baseline)) < 2:
        return math.nan
    terms = [(1.0, arm), (-1.0, baseline)]
    se = welch_interval(terms).se
    return 0.0 if se == 0 else se * detectable_factor(welch_df(terms), alpha, power)


def detectable_factor(df: float, alpha: float, power: float = POWER) -> float:
    """t₁₋α/₂ + t_power on ``df`` degrees of freedom: the minimum detectable effect in standard errors."""
    from scipy import stats

    return float(stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df))


@dataclass(frozen=True)
class Paired:
    """An arm against the baseline on the seeds both ran: the mean of the per-seed differences with its
    t-interval, a two-sided p, and the correlation r of the two arms' values across those seeds."""

    delta: Interval
    p: float
    test: str  # "paired t" or "exact sign-flip"
    r: float


def paired(arm: dict, baseline: dict, ci: float = 0.95) -> Paired | None:
    """``arm`` − ``baseline`` seed by seed (each a {seed: value}); None if they share fewer than two seeds.

    The differences of distinct seeds are independent, so the paired t-test (or, below ``SMALL_N``
    pairs, the exact sign-flip test of their mean) is valid whenever the arms ran the same seeds; it
    gains power over :func:`compare` only when a seed's two runs are alike (r > 0), e.g. when they
    start from the same weights and draw the same data.
    """
    import numpy as np

    seeds = [s for s in arm if s in baseline]
    if len(seeds) < 2:
        return None
    a, b = np.array([arm[s] for s in seeds]), np.array([baseline[s] for s in seeds])
    differences = list(a - b)
    delta = t_interval(differences, ci)
    r = float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else math.nan
    if len(seeds) >= SMALL_N:
        return Paired(delta, t_p(delta, len(seeds) - 1), "paired t", r)
    observed = abs(delta.mean)
    flips = [abs(math.fsum(sign * d for sign, d in zip(signs, differences))) / len(differences)
             for signs in product((1, -1), repeat=len(differences))]
    p = sum(f >= observed - 1e-12 * max(1.0, observed) for f in flips) / len(flips)
    return Paired(delta, p, "exact sign-flip", r)


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
