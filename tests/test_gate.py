"""The CI gate: pinning, loading thresholds files, verdicts and their messages, and its noise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate_cards import BASELINE, BFCL, GSM8K, MMLU, MODEL, TRUTHFULQA, flip, outcomes, scorecard, thresholds_for
from pytest_llmeval.gate import (
    SCHEMA,
    GateResult,
    ThresholdsError,
    check_scorecard,
    detection_rate,
    false_alarm_rate,
    load_thresholds,
    parse_thresholds,
    pin,
    write_thresholds,
)

# --- pinning ------------------------------------------------------------------------------------

def test_pin_writes_scores_counts_and_item_outcomes_but_not_the_baseline():
    run = flip(outcomes(24, 40), to_fail=[])
    run["test-0039"] = "error"
    run["test-0038"] = "skipped"
    card = scorecard({GSM8K: run}, baseline={(BASELINE, "reasoning", "gsm8k"): outcomes(30, 40)})
    document = pin(card)
    assert document["schema"] == SCHEMA
    assert document["settings"] == {"alpha": 0.05, "max_error_rate": 0.05, "correction": "holm", "floors": {},
                                    "min_comparable": 0.8}
    assert document["models"] == [{"name": MODEL, "backend": "transformers", "description": "transformers (GGUF, cpu)"}]
    assert document["capabilities"] == [{"model": MODEL, "capability": "reasoning", "score": 0.631579, "n": 38,
                                         "passed": 24, "failed": 14, "errors": 1}]
    [bench] = document["benchmarks"]
    assert bench["benchmark"] == "gsm8k" and bench["n"] == 38
    # Errored and skipped items are not outcomes of the model: left out.
    assert len(bench["items"]) == 38 and "test-0039" not in bench["items"] and "test-0038" not in bench["items"]
    assert bench["items"]["test-0000"] == {"outcome": 1, "fingerprint": "fp-gsm8k[test-0000]"}
    assert bench["items"]["test-0030"] == {"outcome": 0, "fingerprint": "fp-gsm8k[test-0030]"}


def test_pin_keeps_the_users_settings_and_round_trips_through_the_file(tmp_path):
    path = tmp_path / "llm-thresholds.json"
    write_thresholds(pin(scorecard({GSM8K: outcomes(24, 40)}), settings={"alpha": 0.01, "floors": {"reasoning": 0.2}}),
                     path)
    loaded = load_thresholds(path)
    assert loaded.settings.alpha == 0.01
    assert dict(loaded.settings.floors) == {"reasoning": 0.2}
    # Re-pinning from a new run keeps what the user set.
    again = pin(scorecard({GSM8K: outcomes(20, 40)}), settings=loaded.settings)
    assert again["settings"]["floors"] == {"reasoning": 0.2} and again["settings"]["alpha"] == 0.01
    assert loaded.source == str(path)
    assert loaded.items_for(MODEL, "reasoning")["gsm8k[test-0000]"].outcome == 1
    assert path.read_text().endswith("\n")


# --- loading: errors a CI log reader understands ----------------------------------------------

def write(tmp_path, document: Any, name: str = "llm-thresholds.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_bad_score_names_the_file_the_row_and_the_field(tmp_path, monkeypatch):
    rows = [{"model": MODEL, "capability": c, "score": 0.5, "n": 10} for c in ("general", "reasoning")]
    rows.append({"model": MODEL, "capability": "safety", "score": "abc", "n": 10})
    write(tmp_path, {"schema": SCHEMA, "capabilities": rows})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ThresholdsError) as info:
        load_thresholds("llm-thresholds.json")
    assert str(info.value) == "llm-thresholds.json: capabilities[2].score: expected a number between 0 and 1, got 'abc'"


@pytest.mark.parametrize(
    "document,message",
    [
        ({"capabilities": [{"model": MODEL, "capability": "general", "score": 1.5, "n": 10}]},
         "capabilities[0].score: expected a number between 0 and 1, got 1.5"),
        ({"capabilities": [{"model": MODEL, "capability": "general", "score": 0.5}]},
         "capabilities[0].n: missing"),
        ({"capabilities": [{"model": MODEL, "capability": "general", "score": 0.5, "n": -3}]},
         "capabilities[0].n: expected a whole number >= 0, got -3"),
        ({"capabilities": [{"model": "", "capability": "general", "score": 0.5, "n": 3}]},
         "capabilities[0].model: expected a non-empty string, got ''"),
        ({"benchmarks": [{"model": MODEL, "capability": "reasoning", "benchmark": "gsm8k", "score": 0.5, "n": 2,
                          "items": {"test-0001": 1, "test-0002": "yes"}}]},
         "benchmarks[0].items['test-0002']: expected 1 (passed) or 0 (failed), got 'yes'"),
        ({"settings": {"alpha": 0}}, "settings.alpha: expected a number above 0 and at most 1, got 0"),
        ({"settings": {"alpha": 1}}, "settings.alpha: expected a number above 0 and below 1, got 1"),
        ({"settings": {"floors": {"reasoning": "high"}}},
         "settings.floors.reasoning: expected a number between 0 and 1, got 'high'"),
        ({"settings": {"floor": {"reasoning": 0.2}}},
         "settings.floor: unknown setting; known: alpha, max_error_rate, correction, floors, min_comparable"),
        ({"settings": {"correction": "bonferroni"}},
         "settings.correction: expected 'holm' or 'none', got 'bonferroni'"),
        ({"schema": "pytest-llmeval/scorecard/1"},
         "schema: expected 'pytest-llmeval/thresholds/2' or 'pytest-llmeval/thresholds/1', got 'pytest-llmeval/scorecard/1'"),
        ({"capabilities": [{"model": MODEL, "capability": "general", "score": 0.5, "n": 4},
                           {"model": MODEL, "capability": "general", "score": 0.6, "n": 4}]},
         "capabilities[1]: the same row as capabilities[0]"),
        ({"capabilities": {"general": 0.5}}, "capabilities: expected a list, got {'general': 0.5}"),
    ],
)
def test_bad_fields_are_named(tmp_path, document, message):
    path = write(tmp_path, document)
    with pytest.raises(ThresholdsError) as info:
        load_thresholds(path)
    assert str(info.value) == f"{path}: {message}"


def test_missing_file_and_broken_json(tmp_path):
    with pytest.raises(ThresholdsError) as info:
        load_thresholds(tmp_path / "nope.json")
    assert str(info.value) == (f"{tmp_path / 'nope.json'}: no such file; write it from a run with "
                               f"`pytest --llm-pin --llm-thresholds={tmp_path / 'nope.json'}`")
    path = write(tmp_path, '{"capabilities": [\n  {"model": "x",}\n]}')
    with pytest.raises(ThresholdsError) as info:
        load_thresholds(path)
    assert str(info.value) == f"{path}: not valid JSON: Expecting property name enclosed in double quotes at line 2 column 17"
    path = write(tmp_path, "[1, 2]")
    with pytest.raises(ThresholdsError, match=r"expected a JSON object at the top, got list"):
        load_thresholds(path)


# --- verdicts -----------------------------------------------------------------------------------

def test_a_rerun_with_the_same_outcomes_passes():
    runs = {GSM8K: outcomes(24, 40), MMLU: outcomes(10, 40)}
    result = check_scorecard(thresholds_for(runs), scorecard(runs))
    assert result.passed
    assert [(v.name, v.status) for v in result.verdicts] == [
        (f"{MODEL}::general", "pass"), (f"{MODEL}::reasoning", "pass"),
        (f"{MODEL}::general::mmlu", "pass"), (f"{MODEL}::reasoning::gsm8k", "pass")]
    assert all(v.fails() is None for v in result.verdicts)
    assert result.messages() == []
    assert result.verdicts[1].message == (
        f"{MODEL} / reasoning: score 0.600 (n=40), pinned 0.600 (n=40); one-sided McNemar exact test on 40 paired"
        " items (0 pass->fail, 0 fail->pass): p = 1.000 (1.000 after Holm correction over 2 checks)")
    assert result.summary() == "llmeval gate passed against llm-thresholds.json, alpha 0.05"


def test_a_regression_fails_with_the_items_that_flipped():
    pinned = outcomes(24, 40)
    now = flip(pinned, to_fail=range(9), to_pass=[30])
    result = check_scorecard(thresholds_for({GSM8K: pinned}, correction="none"), scorecard({GSM8K: now}))
    assert not result.passed
    capability, benchmark = result.verdicts
    assert capability.fails() == (
        f"{MODEL} / reasoning regressed: 0.600 -> 0.400 (-20.0 points, n=40 pinned, 40 now); one-sided McNemar exact"
        " test on 40 paired items: p = 0.011 < alpha 0.05\n"
        "  pass -> fail (9): gsm8k[test-0000], gsm8k[test-0001], gsm8k[test-0002], gsm8k[test-0003], gsm8k[test-0004],"
        " gsm8k[test-0005], gsm8k[test-0006], gsm8k[test-0007], gsm8k[test-0008]\n"
        "  fail -> pass (1): gsm8k[test-0030]"
    )
    # The benchmark verdict fails too (its own JUnit testcase) but the log does not say it twice.
    assert benchmark.status == "fail" and benchmark.fails().startswith(f"{MODEL} / reasoning / gsm8k regressed:")
    assert result.messages() == [capability.fails()]
    assert result.report().splitlines()[0] == (
        "llmeval gate FAILED (2 of 2 checks) against llm-thresholds.json, alpha 0.05")
    verdict = capability.to_dict()
    assert verdict["test"] == "mcnemar-exact" and verdict["n_paired"] == 40
    assert verdict["pass_to_fail"][:2] == ["gsm8k[test-0000]", "gsm8k[test-0001]"]
    assert verdict["fail_to_pass"] == ["gsm8k[test-0030]"]
    json.dumps(result.to_dict())


def test_holm_correction_is_stated_and_long_flip_lists_are_cut():
    pinned = {GSM8K: outcomes(30, 60), MMLU: outcomes(10, 40)}
    now = {GSM8K: flip(pinned[GSM8K], to_fail=range(25), to_pass=[40, 41, 42]), MMLU: pinned[MMLU]}
    result = check_scorecard(thresholds_for(pinned), scorecard(now))
    [failure] = result.messages()
    assert failure == (
        # p = (C(28,25) + C(28,26) + C(28,27) + 1) / 2^28 = 3683 / 268435456
        f"{MODEL} / reasoning regressed: 0.500 -> 0.133 (-36.7 points, n=60 pinned, 60 now); one-sided McNemar exact"
        " test on 60 paired items: p = 1.4e-05 (2.7e-05 after Holm correction over 2 checks) < alpha 0.05\n"
        "  pass -> fail (25): gsm8k[test-0000], gsm8k[test-0001], gsm8k[test-0002], gsm8k[test-0003], gsm8k[test-0004],"
        " gsm8k[test-0005], gsm8k[test-0006], gsm8k[test-0007], gsm8k[test-0008], gsm8k[test-0009] and 15 more\n"
        "  fail -> pass (3): gsm8k[test-0040], gsm8k[test-0041], gsm8k[test-0042]"
    )


def test_holm_can_clear_a_borderline_drop_that_a_lone_test_would_flag():
    pinned = {GSM8K: outcomes(24, 40), MMLU: outcomes(20, 40), TRUTHFULQA: outcomes(20, 40), BFCL: outcomes(9, 40)}
    now = {**pinned, GSM8K: flip(pinned[GSM8K], to_fail=range(6))}  # 6 pass->fail, none back: p = 1/64
    assert not check_scorecard(thresholds_for(pinned, correction="none"), scorecard(now)).passed
    # Four capabilities checked (their single benchmarks are the same tests): 4 x 1/64 = 0.0625 > 0.05.
    holm = check_scorecard(thresholds_for(pinned), scorecard(now))
    assert holm.passed
    reasoning = next(v for v in holm.verdicts if v.name == f"{MODEL}::reasoning")
    assert reasoning.p_adjusted == pytest.approx(4 / 64)
    assert reasoning.tests_in_family == 4


def test_the_unpaired_test_is_used_when_no_items_are_shared():
    document = pin(scorecard({GSM8K: outcomes(120, 200)}))
    for row in document["benchmarks"]:
        row["items"] = {}  # a hand-written file: scores and counts only
    document["settings"]["correction"] = "none"
    thresholds = parse_thresholds(document, "llm-thresholds.json")
    result = check_scorecard(thresholds, scorecard({GSM8K: outcomes(95, 200)}))
    assert result.messages() == [
        f"{MODEL} / reasoning regressed: 0.600 -> 0.475 (-12.5 points, n=200 pinned, 200 now); one-sided two-proportion"
        " z-test (no item in common with the pinned run): p = 0.0061 < alpha 0.05"
    ]
    assert result.verdicts[0].comparison is not None and result.verdicts[0].comparison.test == "two-proportion-z"


def test_too_many_errors_fail_the_gate_whatever_the_score():
    pinned = outcomes(24, 40)
    now = dict(pinned)
    for i in range(28, 40):
        now[f"test-{i:04d}"] = "error"
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}))
    assert result.messages() == [
        f"{MODEL} / reasoning: 12 of 40 items errored (30.0%), above the allowed 5.0%: the backend is failing, not"
        " the model"
    ]


def test_floors_fail_a_low_score_even_without_a_regression():
    run = {GSM8K: outcomes(6, 40), MMLU: outcomes(30, 40)}
    thresholds = thresholds_for(run, floors={"reasoning": 0.2, "mmlu": 0.8})
    result = check_scorecard(thresholds, scorecard(run))
    assert result.messages() == [
        f"{MODEL} / reasoning: score 0.150 (6 of 40) is below the floor 0.200 set in llm-thresholds.json",
        f"{MODEL} / general / mmlu: score 0.750 (30 of 40) is below the floor 0.800 set in llm-thresholds.json",
    ]


def test_missing_and_new_capabilities_are_reported_without_failing():
    pinned = {GSM8K: outcomes(24, 40), TRUTHFULQA: outcomes(20, 40)}
    now = {GSM8K: outcomes(24, 40), MMLU: outcomes(10, 40)}
    result = check_scorecard(thresholds_for(pinned), scorecard(now))
    assert result.passed
    assert result.messages() == [
        f"warning: {MODEL} / hallucination: pinned in llm-thresholds.json (score 0.500, n=40) but not in this run",
        f"note: {MODEL} / general: not pinned in llm-thresholds.json (score 0.250, n=40); `--llm-pin` adds it",
        f"note: {MODEL} / general / mmlu: not pinned in llm-thresholds.json (score 0.250, n=40); `--llm-pin` adds it",
    ]
    assert [v.status for v in result.warnings()] == ["missing"]
    assert result.summary() == "llmeval gate passed against llm-thresholds.json, alpha 0.05, 1 pinned but not run"


def test_a_run_that_has_none_of_the_pinned_rows_fails_instead_of_passing_unchecked():
    pinned = {GSM8K: outcomes(24, 40), MMLU: outcomes(10, 40)}
    thresholds = thresholds_for(pinned)
    renamed = {("renamed-model", c, b): results for (_, c, b), results in pinned.items()}
    other_suite = {TRUTHFULQA: outcomes(20, 40)}
    for run, had in [(renamed, "renamed-model (general, reasoning)"), (other_suite, f"{MODEL} (hallucination)")]:
        result = check_scorecard(thresholds, scorecard(run))
        assert not result.passed and result.failures() == []
        assert result.messages()[0] == (
            f"nothing pinned in llm-thresholds.json was run, so nothing was compared: it pins {MODEL} (general,"
            f" reasoning); this run had {had}. Run the pinned models and suites (--llm-model, --llm-suite), or re-pin"
            " with `pytest --llm-pin --llm-thresholds=llm-thresholds.json` if they changed on purpose")
        assert result.summary() == ("llmeval gate FAILED (nothing pinned was run) against llm-thresholds.json,"
                                    " alpha 0.05, 2 pinned but not run")
        assert result.to_dict()["passed"] is False
    # One pinned row run is enough: the rest are the warnings of a subset run.
    assert check_scorecard(thresholds, scorecard({GSM8K: pinned[GSM8K], **other_suite})).passed


def test_nothing_pinned_and_a_failed_floor_are_both_said():
    thresholds = thresholds_for({GSM8K: outcomes(24, 40)}, floors={"hallucination": 0.9})
    result = check_scorecard(thresholds, scorecard({TRUTHFULQA: outcomes(20, 40)}))
    assert result.summary() == ("llmeval gate FAILED (1 of 2 checks; nothing pinned was run) against"
                                " llm-thresholds.json, alpha 0.05, 1 pinned but not run")
    assert result.messages()[0].startswith("nothing pinned in llm-thresholds.json was run")


def test_a_file_that_pins_nothing_checks_only_its_floors_and_fails_without_them():
    run = scorecard({GSM8K: outcomes(24, 40)})
    empty = parse_thresholds({"schema": SCHEMA, "capabilities": [], "benchmarks": []}, "llm-thresholds.json")
    result = check_scorecard(empty, run)
    assert not result.passed
    assert result.messages()[0] == (
        f"llm-thresholds.json pins no model and sets no floor for this run, so nothing was checked; this run had"
        f" {MODEL} (reasoning). Pin a good run with `pytest --llm-pin --llm-thresholds=llm-thresholds.json` and"
        " commit the file")
    assert result.summary() == "llmeval gate FAILED (nothing to check) against llm-thresholds.json, alpha 0.05"
    # A floor for another capability checks nothing either; one that applies is a gate of floors.
    elsewhere = parse_thresholds({"schema": SCHEMA, "settings": {"floors": {"safety": 0.5}}}, "llm-thresholds.json")
    assert not check_scorecard(elsewhere, run).passed
    floors = parse_thresholds({"schema": SCHEMA, "settings": {"floors": {"reasoning": 0.5}}}, "llm-thresholds.json")
    assert check_scorecard(floors, run).passed
    too_high = parse_thresholds({"schema": SCHEMA, "settings": {"floors": {"gsm8k": 0.7}}}, "llm-thresholds.json")
    assert check_scorecard(too_high, run).messages() == [
        f"{MODEL} / reasoning / gsm8k: score 0.600 (24 of 40) is below the floor 0.700 set in llm-thresholds.json",
        f"note: {MODEL} / reasoning: not pinned in llm-thresholds.json (score 0.600, n=40); `--llm-pin` adds it"]


def test_pinned_rows_of_a_model_that_is_now_the_baseline_were_not_compared():
    thresholds = parse_thresholds(pin(scorecard({(BASELINE, "reasoning", "gsm8k"): outcomes(24, 40)})))
    result = check_scorecard(thresholds, scorecard({GSM8K: outcomes(24, 40)},
                                                   baseline={(BASELINE, "reasoning", "gsm8k"): outcomes(24, 40)}))
    assert not result.passed
    assert result.messages()[0].startswith(f"nothing pinned in thresholds was run, so nothing was compared: it pins"
                                           f" {BASELINE} (reasoning); this run had {MODEL} (reasoning).")


def test_an_improvement_never_fails():
    pinned = outcomes(10, 40)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: flip(pinned, to_pass=range(10, 30))}))
    assert result.passed


def test_the_baseline_is_neither_pinned_nor_gated():
    baseline_run = {(BASELINE, "reasoning", "gsm8k"): outcomes(30, 40)}
    thresholds = parse_thresholds(pin(scorecard({GSM8K: outcomes(24, 40)}, baseline=baseline_run)))
    assert {p.model for p in thresholds.capabilities + thresholds.benchmarks} == {MODEL}
    worse_baseline = {(BASELINE, "reasoning", "gsm8k"): outcomes(0, 40)}
    result = check_scorecard(thresholds, scorecard({GSM8K: outcomes(24, 40)}, baseline=worse_baseline))
    assert result.passed and {v.model for v in result.verdicts} == {MODEL}


def test_gate_section_for_the_scorecard():
    pinned = outcomes(24, 40)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: flip(pinned, to_fail=range(12))}))
    section = result.to_dict()
    assert isinstance(result, GateResult)
    assert section["passed"] is False
    assert section["thresholds"] == "llm-thresholds.json"
    assert [v["status"] for v in section["verdicts"]] == ["fail", "fail"]
    assert section["messages"] == result.messages()


# --- noise: how often the gate fires on a rerun, and how often it catches a real drop -------------

@pytest.mark.parametrize("p,n,resample", [(0.6, 200, 1.0), (0.6, 200, 0.16), (0.3, 100, 1.0), (0.87, 400, 0.3)])
def test_false_alarms_stay_at_or_below_alpha(p, n, resample):
    trials = 1500
    rate = false_alarm_rate(p, n, alpha=0.05, trials=trials, seed=3, resample=resample)
    # The exact test keeps the rate at or below alpha; allow three Monte Carlo standard errors.
    assert rate <= 0.05 + 3 * (0.05 * 0.95 / trials) ** 0.5


def test_a_deterministic_rerun_never_fires():
    assert false_alarm_rate(0.6, 200, trials=300, resample=0.0) == 0.0


def test_a_ten_point_drop_at_n200_is_caught():
    # Rerun noise as measured for greedy decoding (PEERS: GSM8K sd 0.0037 over 50 runs, about 16 % of
    # items re-drawn per run).
    assert detection_rate(0.6, 0.10, 200, trials=1000, seed=5, resample=0.16) >= 0.9
    # Pairing is what buys the power: with nothing shared the same drop is caught far less often.
    unpaired = detection_rate(0.6, 0.10, 200, trials=1000, seed=5, resample=0.16, paired=False)
    assert unpaired < 0.85


def test_the_unpaired_fallback_also_keeps_false_alarms_near_alpha():
    assert false_alarm_rate(0.6, 200, trials=1500, seed=4, resample=1.0, paired=False) <= 0.05 + 0.017


def test_simulation_rejects_nonsense():
    with pytest.raises(ValueError):
        false_alarm_rate(1.2, 100)
    with pytest.raises(ValueError):
        detection_rate(0.5, 0.1, 0)
