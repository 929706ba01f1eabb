"""Statistics: hand-computed cases, and scipy's implementations of the same tests."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard
from pytest_llmeval.stats import (
    format_p,
    mcnemar_exact,
    mcnemar_one_sided,
    paired_bootstrap,
    unpaired_one_sided,
    wilson_interval,
)


def exact_upper_tail(b: int, m: int) -> float:
    """P(B >= b), B ~ Binomial(m, 1/2), in exact rational arithmetic."""
    return float(Fraction(sum(math.comb(m, i) for i in range(b, m + 1)), 2**m))


# --- Wilson interval ----------------------------------------------------------------------------

def test_wilson_no_items_says_nothing():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_hand_computed():
    # p = 0.5, n = 100, z = 1.959964: centre 0.5, half-width z/(1+z^2/n) * sqrt(0.0025 + z^2/40000)
    z = 1.959963984540054
    half = z / (1 + z * z / 100) * math.sqrt(0.25 / 100 + z * z / 40000)
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.5 - half, abs=1e-12)
    assert high == pytest.approx(0.5 + half, abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)


def test_wilson_extremes_stay_inside_and_touch_the_bound():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.0 < high < 0.35
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.65 < low < 1.0


def test_wilson_narrows_with_n_and_widens_with_confidence():
    assert wilson_interval(35, 100)[1] - wilson_interval(35, 100)[0] < wilson_interval(7, 20)[1] - wilson_interval(7, 20)[0]
    w95 = wilson_interval(35, 100)
    w99 = wilson_interval(35, 100, confidence=0.99)
    assert w99[0] < w95[0] and w99[1] > w95[1]


@pytest.mark.parametrize("passed,n", [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(passed, n):
    with pytest.raises(ValueError):
        wilson_interval(passed, n)


def test_wilson_rejects_bad_confidence():
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence=1.0)


# --- McNemar ------------------------------------------------------------------------------------

def test_mcnemar_hand_computed():
    assert mcnemar_one_sided(5, 0) == 1 / 32
    assert mcnemar_exact(5, 0) == 2 / 32
    assert mcnemar_exact(0, 5) == 2 / 32
    # 12 pass->fail against 3 fail->pass: (C(15,12)+C(15,13)+C(15,14)+C(15,15)) / 2^15 = 576/32768
    assert mcnemar_one_sided(12, 3) == pytest.approx(576 / 32768, rel=1e-12)
    assert mcnemar_exact(12, 3) == pytest.approx(2 * 576 / 32768, rel=1e-12)


def test_mcnemar_no_discordant_pairs_is_no_evidence():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_one_sided(0, 0) == 1.0


def test_mcnemar_one_sided_direction():
    # More fail->pass than pass->fail: the new model is not worse.
    assert mcnemar_one_sided(0, 5) == 1.0
    assert mcnemar_one_sided(3, 12) > 0.99
    assert mcnemar_exact(7, 7) == 1.0


@pytest.mark.parametrize("b,c", [(1, 0), (3, 4), (10, 2), (30, 17), (60, 100), (250, 180), (0, 40), (900, 820)])
def test_mcnemar_against_exact_rationals(b, c):
    m = b + c
    assert mcnemar_one_sided(b, c) == pytest.approx(exact_upper_tail(b, m), rel=1e-9, abs=1e-300)
    expected_two = min(1.0, 2 * float(Fraction(sum(math.comb(m, i) for i in range(min(b, c) + 1)), 2**m)))
    assert mcnemar_exact(b, c) == pytest.approx(expected_two, rel=1e-9, abs=1e-300)


def test_mcnemar_far_tail_and_large_counts():
    # 3000 discordant items all one way: p = 2^-3000 underflows to 0, and that is fine.
    assert mcnemar_one_sided(3000, 0) == 0.0
    # Big, balanced: close to one half, computed without exact integers.
    assert mcnemar_one_sided(50_000, 50_000) == pytest.approx(0.5 + 0.5 * float(Fraction(math.comb(100_000, 50_000), 2**100_000)),
                                                              rel=1e-6)


def test_mcnemar_rejects_negative():
    with pytest.raises(ValueError):
        mcnemar_one_sided(-1, 3)


def test_mcnemar_against_scipy():
    from scipy import stats
    for b, c in [(0, 1), (4, 1), (12, 3), (20, 25), (41, 19), (130, 95), (5, 60)]:
        n = b + c
        assert mcnemar_one_sided(b, c) == pytest.approx(stats.binomtest(b, n, 0.5, alternative="greater").pvalue,
                                                        rel=1e-9)
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, n, 0.5).pvalue, rel=1e-9)


# --- unpaired -----------------------------------------------------------------------------------

def test_unpaired_hand_computed():
    # pooled 0.45; se = sqrt(0.45*0.55*(2/100)) = 0.070356; z = 0.1/0.070356 = 1.42134
    assert unpaired_one_sided(0.5, 100, 0.4, 100) == pytest.approx(0.077614, abs=1e-5)


def test_unpaired_direction_and_degenerate_cases():
    assert unpaired_one_sided(0.4, 100, 0.5, 100) > 0.9
    assert unpaired_one_sided(0.5, 100, 0.5, 100) == pytest.approx(0.5)
    assert unpaired_one_sided(1.0, 50, 1.0, 50) == 1.0
    assert unpaired_one_sided(0.5, 0, 0.1, 50) == 1.0
    with pytest.raises(ValueError):
        unpaired_one_sided(1.5, 10, 0.5, 10)


def test_unpaired_against_scipy():
    from scipy import stats
    for p1, n1, p2, n2 in [(0.6, 200, 0.5, 200), (0.35, 40, 0.2, 50), (0.9, 1319, 0.87, 1319)]:
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        assert unpaired_one_sided(p1, n1, p2, n2) == pytest.approx(stats.norm.sf(z), rel=1e-9)


# --- bootstrap ----------------------------------------------------------------------------------

def test_paired_bootstrap_identical_runs_have_zero_width():
    assert paired_bootstrap([1, 0, 1, 1], [1, 0, 1, 1]) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_brackets_the_difference_and_is_seeded():
    old = [1] * 60 + [0] * 40
    new = [1] * 45 + [0] * 15 + [1] * 5 + [0] * 35  # 15 pass->fail, 5 fail->pass: -0.10
    difference, low, high = paired_bootstrap(old, new, trials=3000, seed=1)
    assert difference == pytest.approx(-0.10)
    assert low < -0.10 < high < 0.0
    # Normal approximation of the paired difference: sd = sqrt((b+c)/n - d^2) / sqrt(n) = 0.0436
    assert high - low == pytest.approx(2 * 1.96 * 0.0436, rel=0.15)
    assert paired_bootstrap(old, new, trials=3000, seed=1) == (difference, low, high)


def test_paired_bootstrap_needs_pairs():
    with pytest.raises(ValueError):
        paired_bootstrap([1, 0], [1])


def test_format_p():
    assert [format_p(p) for p in (1.0, 0.0123, 0.00123, 0.0000123)] == ["1.000", "0.012", "0.0012", "1.2e-05"]


# --- comparisons with the baseline ---------------------------------------------------------------

def test_baseline_comparisons_pair_on_the_items_both_scored():
    def item(model, benchmark, number, outcome):
        capability = "reasoning" if benchmark in ("gsm8k", "humaneval") else "general"
        return ItemOutcome(model=model, capability=capability, benchmark=benchmark, item=f"q{number}", outcome=outcome)

    mine = ["passed", "failed", "failed", "failed", "passed", "error"]
    theirs = ["passed", "passed", "passed", "passed", "failed", "passed"]
    items = [item("small", "gsm8k", i, o) for i, o in enumerate(mine)]
    items += [item("gpt-3.5-turbo", "gsm8k", i, o) for i, o in enumerate(theirs)]
    items += [item("small", "humaneval", 0, "passed"), item("gpt-3.5-turbo", "humaneval", 0, "skipped")]
    items += [item("small", "mmlu", 0, "passed")]  # the baseline did not run mmlu
    card = Scorecard.build(items, [ModelInfo("small"), ModelInfo("gpt-3.5-turbo", role="baseline")])
    rows = [c.to_json() for c in card.comparisons]
    # Paired on q0..q4 (q5 errored for the model, humaneval was skipped by the baseline):
    # the model alone is right on 1 item, the baseline alone on 3.
    assert rows == [
        {"model": "small", "baseline": "gpt-3.5-turbo", "capability": "reasoning", "benchmark": None, "n_paired": 5,
         "score": 0.4, "baseline_score": 0.8, "difference": pytest.approx(-0.4), "test": "mcnemar-exact",
         "p_value": 0.625, "only_model_right": 1, "only_baseline_right": 3},
        {"model": "small", "baseline": "gpt-3.5-turbo", "capability": "reasoning", "benchmark": "gsm8k", "n_paired": 5,
         "score": 0.4, "baseline_score": 0.8, "difference": pytest.approx(-0.4), "test": "mcnemar-exact",
         "p_value": 0.625, "only_model_right": 1, "only_baseline_right": 3},
    ]
    assert mcnemar_exact(1, 3) == 0.625  # 2 * (1 + 4) / 16


def test_exact_and_floating_paths_agree_where_they_meet():
    from pytest_llmeval import stats

    for b, c in [(520, 480), (560, 440), (700, 300), (3, 9)]:
        m = b + c
        assert m <= stats.EXACT_UP_TO
        exact = mcnemar_one_sided(b, c)
        saved = stats.EXACT_UP_TO
        try:
            stats.EXACT_UP_TO = 0
            assert mcnemar_one_sided(b, c) == pytest.approx(exact, rel=1e-9)
        finally:
            stats.EXACT_UP_TO = saved
