"""The gate with repeats: the one-sided sign-flip test on per-item pass fractions, how the
gate uses and says it, and its false alarms and power under per-item noise."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate_cards import GSM8K, MODEL, scorecard, thresholds_for
from pytest_llmeval.gate import (
    Pair,
    check_scorecard,
    compare_pairs,
    comparison,
    detection_rate,
    false_alarm_rate,
    permutation,
    sign_flip_exact,
    sign_flip_normal,
    sign_flip_one_sided,
)
from pytest_llmeval.stats import mcnemar_one_sided


def enumerated(differences: list[int]) -> float:
    """The sign-flip p-value by listing every sign assignment (the definition)."""
    observed = sum(differences)
    assignments = list(itertools.product((1, -1), repeat=len(differences)))
    at_most = sum(1 for signs in assignments if sum(s * abs(d) for s, d in zip(signs, differences, strict=True)) <= observed)
    return at_most / len(assignments)


@given(st.lists(st.integers(min_value=-7, max_value=7), max_size=11))
def test_the_exact_test_is_the_share_of_sign_assignments_at_or_below_the_observed_sum(differences: list[int]):
    assert sign_flip_exact(differences) == pytest.approx(enumerated(differences), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_the_exact_test_never_fires_more_often_than_alpha_under_random_signs(seed: int):
    # Its size, exactly: over every sign assignment of fixed magnitudes (what "no change" means
    # for the test), the share with p <= alpha is at most alpha.
    rng = random.Random(seed)
    magnitudes = [rng.randint(1, 5) for _ in range(12)]
    for alpha in (0.01, 0.05, 0.1):
        fired = sum(sign_flip_exact([s * m for s, m in zip(signs, magnitudes, strict=True)]) <= alpha
                    for signs in itertools.product((1, -1), repeat=len(magnitudes)))
        assert fired / 2 ** len(magnitudes) <= alpha


@pytest.mark.parametrize("zeros", [0, 7])
def test_with_one_sample_an_item_the_sign_flip_test_is_mcnemar(zeros: int):
    for b, c in itertools.product(range(26), repeat=2):
        assert sign_flip_exact([-1] * b + [1] * c + [0] * zeros) == pytest.approx(mcnemar_one_sided(b, c), rel=1e-12)


@pytest.mark.parametrize("n", [300, 800])
def test_the_normal_approximation_is_close_to_the_exact_test_at_large_n(n: int):
    rng = random.Random(n)
    for shift in (0.0, 0.15, 0.3):
        # K = 5 on both sides; the new run a little worse the larger the shift.
        differences = [rng.randint(0, 5) - rng.randint(0, 5) - (rng.random() < shift) for _ in range(n)]
        assert sign_flip_normal(differences) == pytest.approx(sign_flip_exact(differences), abs=0.005)


def test_the_exact_test_gives_way_to_the_approximation_only_beyond_its_size_limit(monkeypatch: pytest.MonkeyPatch):
    differences = [-2, -1, 3, -4, 0, -1, -5, 2]
    assert sign_flip_one_sided(differences) == sign_flip_exact(differences)
    monkeypatch.setattr(permutation, "EXACT_LIMIT_BITS", 10)
    assert sign_flip_one_sided(differences) == sign_flip_normal(differences)


def test_no_difference_is_no_evidence_and_fractions_are_refused():
    assert sign_flip_exact([]) == sign_flip_exact([0, 0]) == sign_flip_normal([0]) == 1.0
    with pytest.raises(ValueError, match="differences must be integers"):
        sign_flip_one_sided([0.5, -0.2])  # type: ignore[list-item]


# --- choosing the test --------------------------------------------------------------------------


def test_one_sample_an_item_keeps_mcnemar_and_repeats_use_the_sign_flip_test():
    single = [Pair(f"b[{i}]", 1, 1, 0 if i < 6 else 1, 1) for i in range(20)]
    assert compare_pairs(single).test == "mcnemar-exact"  # type: ignore[union-attr]
    repeated = [Pair(f"b[{i}]", 5, 5, 1 if i < 6 else 5, 5) for i in range(20)]
    found = compare_pairs(repeated)
    assert found is not None and found.test == "sign-flip-exact" and found.p_value == 2**-6
    assert (found.old_score, found.new_score) == (1.0, 1 - 6 * 0.8 / 20)


def test_different_sample_counts_are_compared_on_exact_fractions():
    # Pinned with one sample, now five: 1 -> 3/5 is -2/5, 0 -> 1/5 is +1/5 (scale 5).
    pairs = [Pair("b[1]", 1, 1, 3, 5), Pair("b[2]", 0, 1, 1, 5), Pair("b[3]", 1, 3, 0, 5)]
    found = compare_pairs(pairs)
    assert found is not None and found.p_value == sign_flip_exact([-6, 3, -5])  # scale 15


def test_a_very_large_comparison_uses_the_normal_approximation(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(comparison, "EXACT_LIMIT_BITS", 100)
    pairs = [Pair(f"b[{i}]", 4, 5, 2 if i % 3 == 0 else 4, 5) for i in range(90)]
    found = compare_pairs(pairs)
    assert found is not None and found.test == "sign-flip-normal"
    assert found.p_value == sign_flip_normal([-2 if i % 3 == 0 else 0 for i in range(90)])


# --- what the gate says ---------------------------------------------------------------------------


def repeated(passes: list[int], k: int = 5) -> dict[str, tuple[int, ...]]:
    return {f"test-{i:04d}": tuple([1] * p + [0] * (k - p)) for i, p in enumerate(passes)}


def test_a_drop_in_pass_fractions_fails_with_the_items_that_went_down():
    pinned = repeated([5] * 10 + [0] * 10)
    # Six items now pass 3 of 5 times: each still passes by majority, so only the fractions show it.
    now = repeated([3] * 6 + [5] * 4 + [0] * 10)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}))
    assert not result.passed
    assert result.messages() == [
        f"{MODEL} / reasoning regressed: mean pass fraction 0.500 -> 0.380 (-12.0 points, n=20 pinned, 20 now);"
        " one-sided exact sign-flip test of per-item pass fractions on 20 paired items: p = 0.016 < alpha 0.05\n"
        "  lower (6): gsm8k[test-0000] 5/5->3/5, gsm8k[test-0001] 5/5->3/5, gsm8k[test-0002] 5/5->3/5,"
        " gsm8k[test-0003] 5/5->3/5, gsm8k[test-0004] 5/5->3/5, gsm8k[test-0005] 5/5->3/5"
    ]
    verdict = result.verdicts[0].to_dict()
    assert verdict["test"] == "sign-flip-exact" and verdict["pass_to_fail"][0] == "gsm8k[test-0000]"


def test_a_rerun_with_the_same_fractions_passes_and_says_which_test_it_ran():
    pinned = repeated([5, 4, 3, 2, 1, 0] * 4)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: pinned}))
    assert result.passed and result.messages() == []
    assert result.verdicts[0].message == (
        f"{MODEL} / reasoning: score 0.500 (n=24), pinned 0.500 (n=24); one-sided exact sign-flip test of per-item pass"
        " fractions on 24 paired items (0 lower, 0 higher): p = 1.000")


# --- noise: false alarms and power with repeats -------------------------------------------------


@pytest.mark.parametrize("p,concentration,repeats", [(0.6, 1.0, 5), (0.3, 4.0, 3), (0.87, 0.19, 5)])
def test_false_alarms_with_repeats_stay_at_or_below_alpha(p: float, concentration: float, repeats: int):
    # The size of the test does not depend on n; 60 items keep the simulation quick.
    trials = 1000
    rate = false_alarm_rate(p, 60, trials=trials, seed=11, repeats=repeats, concentration=concentration)
    assert rate <= 0.05 + 3 * (0.05 * 0.95 / trials) ** 0.5


def test_repeats_buy_power_against_per_item_noise():
    # n = 200 items at p = 0.6, spread as Beta(0.6, 0.4): docs/gate.md gives 0.899 (K = 5) and
    # 0.341 (K = 1) for a 5-point drop, and 1.000 (K = 5) for a 10-point drop, from 4000 trials.
    five = detection_rate(0.6, 0.05, 200, trials=300, seed=2, repeats=5, concentration=1.0)
    one = detection_rate(0.6, 0.05, 200, trials=300, seed=2, repeats=1, concentration=1.0)
    assert five >= 0.8 and one <= 0.45
    assert detection_rate(0.6, 0.10, 200, trials=200, seed=3, repeats=5, concentration=1.0) >= 0.98


@pytest.mark.parametrize("kwargs,message", [
    ({"repeats": 5}, "repeats > 1 needs per-item noise"),
    ({"repeats": 0, "concentration": 1.0}, "n, trials and repeats must be >= 1"),
    ({"concentration": 0.0}, "concentration must be above 0"),
    ({"repeats": 5, "concentration": 1.0, "paired": False}, "the unpaired fallback compares single outcomes"),
])
def test_the_simulation_refuses_what_it_cannot_model(kwargs: dict[str, object], message: str):
    with pytest.raises(ValueError, match=message):
        false_alarm_rate(0.6, 100, trials=10, **kwargs)  # type: ignore[arg-type]
