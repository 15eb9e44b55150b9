"""The table's statistics equal hand computations (t quantiles from a printed t-table)."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from ganx.report import stats

T975 = {2: 4.302652729911275, 4: 2.7764451051977987, 6: 2.4469118511449692}  # two-sided 95% t quantiles by df


def test_t_interval_is_mean_plus_minus_t_times_standard_error():
    iv = stats.t_interval([20.0, 22.0, 21.0])
    half = T975[2] * 1.0 / math.sqrt(3)  # sd of (20, 22, 21) is 1
    assert (iv.mean, iv.n) == (21.0, 3)
    assert (iv.lo, iv.hi) == pytest.approx((21 - half, 21 + half), rel=1e-9)


def test_one_seed_has_a_mean_but_no_interval():
    iv = stats.t_interval([3.5])
    assert iv.mean == 3.5 and math.isnan(iv.lo) and math.isnan(iv.hi)


def test_small_n_uses_an_exact_permutation_test_and_a_welch_interval():
    arm, baseline = [24.0, 25.0, 23.0], [20.0, 22.0, 21.0]
    result = stats.compare(arm, baseline)
    # Welch: both variances 1, n 3 -> se = sqrt(2/3), df = (2/3)^2 / (2 * (1/3)^2 / 2) = 4
    half = T975[4] * math.sqrt(2 / 3)
    assert result.delta.mean == 3.0
    assert (result.delta.lo, result.delta.hi) == pytest.approx((3 - half, 3 + half), rel=1e-9)
    # of the C(6,3) = 20 relabellings only the observed one and its mirror reach |Δ| >= 3
    pooled = arm + baseline
    gaps = [
        abs(sum(pooled[i] for i in c) / 3 - sum(pooled[i] for i in range(6) if i not in c) / 3)
        for c in combinations(range(6), 3)
    ]
    assert sum(g >= 3 for g in gaps) == 2
    assert result.p == pytest.approx(2 / 20) and result.test == "exact permutation"


def test_enough_seeds_use_welchs_t_test():
    from scipy.stats import t

    arm, baseline = [5.0, 6.0, 7.0, 8.0, 9.0], [1.0, 2.0, 4.0, 6.0, 7.0, 10.0]
    va, vb = 10 / 4, 56 / 5  # sample variances, by hand: sums of squared deviations 10 and 56
    se2 = va / 5 + vb / 6
    tstat = (7.0 - 5.0) / math.sqrt(se2)
    df = se2**2 / ((va / 5) ** 2 / 4 + (vb / 6) ** 2 / 5)
    result = stats.compare(arm, baseline)
    assert result.test == "welch"
    assert result.p == pytest.approx(2 * t.sf(tstat, df), rel=1e-10)
    assert result.delta.hi - 2.0 == pytest.approx(t.ppf(0.975, df) * math.sqrt(se2), rel=1e-10)


def test_permutation_falls_back_to_seeded_resampling_when_exact_is_too_big():
    arm, baseline = [0.1 * i for i in range(4)], [0.1 * i + 0.05 for i in range(40)]  # C(44, 4) > 50,000
    p, test = stats.permutation_p(arm, baseline)
    assert test == "permutation (9,999 resamples)"
    assert stats.permutation_p(arm, baseline) == (p, test) and 0 < p <= 1


def test_holm_steps_down_and_stays_monotone():
    # sorted: 0.01*4 = 0.04, 0.03*3 = 0.09, 0.04*2 = 0.08 -> raised to 0.09, 0.5*1 = 0.5
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([0.6, 0.9]) == [1.0, 1.0]


def test_marginal_effect_averages_over_the_other_factor():
    cells = {
        ("ns", "none"): [1.0, 2.0, 3.0],  # mean 2, var 1
        ("hinge", "none"): [4.0, 5.0, 6.0],  # mean 5, var 1
        ("ns", "sn"): [2.0, 2.0, 5.0],  # mean 3, var 3
        ("hinge", "sn"): [6.0, 8.0, 7.0],  # mean 7, var 1
    }
    effect = stats.marginal_effect(cells, 0, "hinge", "ns")
    # ((5 - 2) + (7 - 3)) / 2; var = (1/4) * (1 + 1 + 3 + 1) / 3 = 0.5; df = 0.5^2 / ((3 * (1/12)^2 + (1/4)^2) / 2) = 6
    assert effect.mean == pytest.approx(3.5)
    assert (effect.lo, effect.hi) == pytest.approx(
        (3.5 - T975[6] * math.sqrt(0.5), 3.5 + T975[6] * math.sqrt(0.5)), rel=1e-9
    )
    norm = stats.marginal_effect(cells, 1, "sn", "none")
    assert norm.mean == pytest.approx(((3 - 2) + (7 - 5)) / 2)


def test_marginal_effect_skips_settings_where_a_cell_is_missing():
    cells = {("a", "x"): [1.0, 2.0], ("b", "x"): [3.0, 4.0], ("b", "y"): [9.0, 9.5]}
    assert stats.marginal_effect(cells, 0, "b", "a").mean == pytest.approx(2.0)
    assert stats.marginal_effect({("b", "y"): [1.0]}, 0, "b", "a") is None


def test_standard_errors_are_sd_over_root_n():
    assert stats.t_interval([20.0, 22.0, 21.0]).se == pytest.approx(1 / math.sqrt(3))
    assert stats.compare([24.0, 25.0, 23.0], [20.0, 22.0, 21.0]).delta.se == pytest.approx(math.sqrt(2 / 3))


@pytest.mark.parametrize("n_arm, n_base", [(3, 3), (2, 4), (4, 4), (3, 2)])
def test_smallest_p_is_the_most_extreme_relabelling_of_the_permutation_test(n_arm, n_base):
    arm, base = [10.0 + i for i in range(n_arm)], [float(i) for i in range(n_base)]  # arm above every baseline seed
    assert stats.smallest_p(n_arm, n_base) == pytest.approx(stats.permutation_p(arm, base)[0])
    assert stats.smallest_p(3, 3) == pytest.approx(0.1) and stats.smallest_p(5, 6) == 0.0


def test_minimum_detectable_effect_is_t_quantiles_times_the_standard_error():
    from scipy.stats import t

    arm, base = [5.0, 6.0, 7.0, 8.0, 9.0], [1.0, 2.0, 4.0, 6.0, 7.0, 10.0]
    va, vb = 10 / 4, 56 / 5
    se2 = va / 5 + vb / 6
    df = se2**2 / ((va / 5) ** 2 / 4 + (vb / 6) ** 2 / 5)
    assert stats.detectable(arm, base, 0.05) == pytest.approx((t.ppf(0.975, df) + t.ppf(0.8, df)) * math.sqrt(se2))
    assert math.isnan(stats.detectable([1.0], base, 0.05))


def test_paired_comparison_equals_scipys_paired_t_test_and_an_exact_sign_flip_below_five_pairs():
    from scipy.stats import pearsonr, ttest_rel

    base = {0: 20.0, 1: 22.0, 2: 21.0, 3: 25.0, 4: 18.0, 5: 24.0}
    arm = {0: 21.0, 1: 24.0, 2: 22.5, 3: 26.0, 4: 20.5, 5: 25.5, 7: 40.0}  # seed 7 has no pair
    result = stats.paired(arm, base)
    a, b = [arm[s] for s in base], list(base.values())
    assert (result.test, result.delta.n) == ("paired t", 6)
    assert result.p == pytest.approx(ttest_rel(a, b).pvalue, rel=1e-10)
    assert result.r == pytest.approx(pearsonr(a, b)[0])
    small = stats.paired({0: 3.0, 1: 5.0, 2: 4.0}, {0: 1.0, 1: 2.0, 2: 3.0})  # differences 2, 3, 1: all positive
    assert small.test == "exact sign-flip" and small.p == pytest.approx(2 / 8)  # all + or all − of 2^3 flips
    assert stats.paired({0: 1.0}, {0: 2.0, 1: 3.0}) is None


def test_equal_differences_use_the_sign_flip_below_five_pairs_and_no_spread_is_decisive_above():
    three = stats.paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 1.0, 2: 2.0})  # every difference is +1
    assert (three.test, three.p) == ("exact sign-flip", pytest.approx(2 / 8))
    five = stats.paired({s: s + 1.0 for s in range(5)}, {s: float(s) for s in range(5)})
    assert (five.test, five.p) == ("paired t", 0.0)
    same = stats.compare([3.0] * 5, [3.0] * 5)
    assert (same.test, same.p) == ("welch", 1.0)


def test_seeds_that_agree_to_the_last_digits_give_scipys_p_without_its_precision_warning():
    import warnings

    from scipy.stats import ttest_ind

    same = [1.2804e-06 + i * 1e-22 for i in range(10)]  # a conditional arm's reverse KL: one value, up to rounding
    base = [0.01, 0.02, 0.005, 0.03, 0.01, 0.015, 0.02, 0.025, 0.01, 0.04]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ttest_ind(same, base, equal_var=False).pvalue
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's "catastrophic cancellation" RuntimeWarning would fail here
        found = stats.compare(same, base)
        paired = stats.paired(dict(enumerate(same)), dict(enumerate(base)))
    assert found.p == pytest.approx(expected, rel=1e-9)
    assert paired.p == pytest.approx(stats.compare([s - b for s, b in zip(same, base)], [0.0] * 10).p, rel=1e-9)
