"""Pins pair by identity: items are matched by name and content, never by position; what was
added, removed or changed since the pin is counted and said; a pin that no longer describes the
run fails with what to do; files of the first schema still load."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate_cards import GSM8K, MMLU, MODEL, flip, outcomes, scorecard, thresholds_for
from pytest_llmeval.gate import (
    SCHEMA,
    SCHEMA_V1,
    PinnedItem,
    ThresholdsError,
    check_scorecard,
    natural_key,
    pair_items,
    parse_thresholds,
    pin,
)
from pytest_llmeval.scorecard import ItemOutcome

MTBENCH = (MODEL, "general", "mtbench")


def without(results: dict[str, Any], *indices: int) -> dict[str, Any]:
    return {k: v for k, v in results.items() if k not in {f"test-{i:04d}" for i in indices}}


def test_a_removed_row_does_not_shift_the_pairing_and_the_five_flips_fail_the_run():
    pinned = outcomes(24, 40)
    now = without(flip(pinned, to_fail=range(5)), 30)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}))
    assert not result.passed
    assert result.messages() == [
        f"{MODEL} / reasoning regressed: 0.600 -> 0.487 (-11.3 points, n=40 pinned, 39 now); one-sided McNemar exact"
        " test on 39 paired items: p = 0.031 < alpha 0.05\n"
        "  pass -> fail (5): gsm8k[test-0000], gsm8k[test-0001], gsm8k[test-0002], gsm8k[test-0003], gsm8k[test-0004]\n"
        "  1 removed since the pin; 39 of 40 pinned items compared"
    ]
    capability = result.verdicts[0]
    assert capability.pairing is not None and capability.to_dict()["items"] == {
        "pinned": 40, "kept": 39, "compared": 39, "added": 0, "removed": 1, "changed": 0, "unscored": 0, "unchecked": 0}


def test_an_item_whose_content_changed_is_not_compared_as_if_unchanged():
    pinned = outcomes(24, 40)
    # Items 0-2 now ask something else (another fingerprint) and fail: not a regression of the model.
    now = flip(pinned, to_fail=range(3))
    changed = {f"gsm8k[test-{i:04d}]": f"edited-{i}" for i in range(3)}
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}, fingerprints=changed))
    assert result.passed
    [verdict] = [v for v in result.verdicts if v.benchmark == "gsm8k"]
    assert verdict.comparison is not None and verdict.comparison.n_paired == 37
    assert verdict.comparison.flipped_to_fail == ()
    assert result.messages() == [
        f"note: {MODEL} / reasoning / gsm8k: 3 changed since the pin; 37 of 40 pinned items compared"
        " (pinned in llm-thresholds.json)"]


@pytest.mark.parametrize("change,said", [
    ("added", "2 added since the pin; 40 of 40 pinned items compared"),
    ("removed", "2 removed since the pin; 38 of 40 pinned items compared"),
    ("changed", "2 changed since the pin; 38 of 40 pinned items compared"),
    ("all", "2 added, 2 removed, 2 changed since the pin; 36 of 40 pinned items compared"),
])
def test_every_kind_of_change_since_the_pin_is_counted_and_said(change: str, said: str):
    pinned = outcomes(24, 40)
    now = dict(pinned)
    fingerprints: dict[str, str] = {}
    if change in ("added", "all"):
        now.update({"test-0100": "passed", "test-0101": "failed"})
    if change in ("removed", "all"):
        now = without(now, 38, 39)
    if change in ("changed", "all"):
        fingerprints = {"gsm8k[test-0010]": "edited", "gsm8k[test-0020]": "edited"}
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}, fingerprints=fingerprints))
    assert result.passed
    assert result.messages() == [f"note: {MODEL} / reasoning / gsm8k: {said} (pinned in llm-thresholds.json)"]
    # The verdict's own account says it too.
    assert result.verdicts[0].message.endswith(f"; {said}")


def test_ids_that_now_name_other_questions_fail_and_ask_for_a_re_pin():
    # Positional ids after a row was deleted: from row 11 on, each id names the next question.
    pinned = outcomes(24, 40)
    relabelled = {f"gsm8k[test-{i:04d}]": f"fp-gsm8k[test-{i + 1:04d}]" for i in range(11, 40)}
    now = flip(pinned, to_fail=range(20, 24), to_pass=range(30, 34))
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}, fingerprints=relabelled))
    assert not result.passed
    assert result.messages() == [
        f"{MODEL} / reasoning: only 11 of 40 pinned items are still the same items in this run (28%), below"
        " settings.min_comparable 80% in llm-thresholds.json: 29 changed since the pin (what is asked or expected"
        " differs). If the data changed on purpose, re-pin with `pytest --llm-pin --llm-thresholds=llm-thresholds.json`;"
        " otherwise run the items that were pinned"
    ]
    # Its only benchmark fails too (its JUnit testcase), without saying it twice.
    assert [v.checks for v in result.verdicts] == [("comparability",), ("comparability",)]


def test_min_comparable_is_a_setting_of_the_file():
    pinned = outcomes(24, 40)
    now = without(pinned, *range(10))  # a quarter of the pinned items left the data file
    assert not check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now})).passed
    assert check_scorecard(thresholds_for({GSM8K: pinned}, min_comparable=0.7), scorecard({GSM8K: now})).passed


def test_a_smaller_limit_than_the_pin_is_named_as_a_cause():
    pinned = outcomes(24, 40)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: without(pinned, *range(20, 40))}))
    assert result.messages()[0].startswith(
        f"{MODEL} / reasoning: only 20 of 40 pinned items are still the same items in this run (50%), below"
        " settings.min_comparable 80% in llm-thresholds.json: 20 not in this run (removed from the data, or left out"
        " by --llm-limit).")


def test_items_that_errored_now_are_left_to_the_error_checks():
    pinned = outcomes(24, 40)
    now = dict(pinned)
    for i in range(30, 40):
        now[f"test-{i:04d}"] = "error"
    result = check_scorecard(thresholds_for({GSM8K: pinned}, max_error_rate=0.5), scorecard({GSM8K: now}))
    assert result.passed and result.messages() == []
    assert result.verdicts[0].message.endswith("; 10 not scored in this run; 30 of 40 pinned items compared")


def test_a_row_with_nothing_scored_now_says_why_nothing_was_compared():
    pinned = outcomes(24, 40)
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: dict.fromkeys(pinned, "skipped")}))
    assert result.passed
    assert result.verdicts[0].message == (
        f"{MODEL} / reasoning: no scored items; none of the 40 pinned items could be compared (40 not scored in this"
        " run; 0 of 40 pinned items compared)")


def test_a_capability_compares_only_the_benchmarks_that_ran():
    pinned = {GSM8K: outcomes(24, 40), MMLU: outcomes(20, 40), MTBENCH: outcomes(10, 20)}
    result = check_scorecard(thresholds_for(pinned), scorecard({GSM8K: pinned[GSM8K], MMLU: pinned[MMLU]}))
    assert result.passed
    general = next(v for v in result.verdicts if v.name == f"{MODEL}::general")
    assert general.pairing is not None and (general.pairing.pinned, general.pairing.removed) == (40, 0)
    assert result.messages() == [
        f"warning: {MODEL} / general / mtbench: pinned in llm-thresholds.json (score 0.500, n=20) but not in this run"]


def test_items_are_paired_by_name_and_fingerprint():
    pinned = {"b[1]": PinnedItem(1, "x"), "b[2]": PinnedItem(1, "y"), "b[3]": PinnedItem(0, None), "b[4]": PinnedItem(1, "w")}
    now = [ItemOutcome("m", "c", "b", "1", "failed", fingerprint="x"),
           ItemOutcome("m", "c", "b", "2", "failed", fingerprint="y2"),
           ItemOutcome("m", "c", "b", "3", "passed", fingerprint="z"),
           ItemOutcome("m", "c", "b", "4", "skipped", fingerprint="w"),
           ItemOutcome("m", "c", "b", "5", "passed", fingerprint="v")]
    pairing = pair_items(pinned, now)
    assert [(p.key, p.old_passed, p.new_passed, p.checked) for p in pairing.pairs] == [
        ("b[1]", 1, 0, True), ("b[3]", 0, 1, False)]
    assert (pairing.added, pairing.removed, pairing.changed, pairing.unscored, pairing.unchecked) == (1, 0, 1, 1, 1)
    assert pairing.kept == 3 and pairing.comparable == 0.75


# --- the file ---------------------------------------------------------------------------------


def test_a_schema_1_file_loads_and_the_gate_says_fingerprints_are_unknown():
    pinned = outcomes(24, 40)
    document = pin(scorecard({GSM8K: pinned}))
    document["schema"] = SCHEMA_V1
    del document["settings"]["min_comparable"]  # unknown to schema 1: the default applies
    for row in document["benchmarks"]:
        row["items"] = {item: value["outcome"] for item, value in row["items"].items()}
    thresholds = parse_thresholds(json.loads(json.dumps(document)), "llm-thresholds.json")
    assert thresholds.schema == SCHEMA_V1
    assert thresholds.benchmarks[0].items["test-0000"] == PinnedItem(1, None)
    result = check_scorecard(thresholds, scorecard({GSM8K: flip(pinned, to_fail=range(5))}))
    assert not result.passed
    assert result.messages()[-1] == (
        "note: 40 paired items were matched by id alone: llm-thresholds.json was written before pytest-llmeval stored"
        " item fingerprints (schema 1), so an item whose question or expected answer changed would be compared as if"
        " unchanged. Re-pin with `pytest --llm-pin --llm-thresholds=llm-thresholds.json` to store them")


def test_pin_writes_schema_2_with_fingerprints_samples_and_natural_order():
    run = {f"q{i}": "passed" for i in (10, 2, 1)} | {"q3": (1, 0, 1, 1, 0)}
    document = pin(scorecard({GSM8K: run}))
    assert document["schema"] == SCHEMA
    [bench] = document["benchmarks"]
    assert list(bench["items"]) == ["q1", "q2", "q3", "q10"]
    assert bench["items"]["q3"] == {"outcome": 1, "passed": 3, "samples": 5, "fingerprint": "fp-gsm8k[q3]"}
    loaded = parse_thresholds(json.loads(json.dumps(document)))
    assert loaded.benchmarks[0].items["q3"] == PinnedItem(1, "fp-gsm8k[q3]", 5, 3)
    assert loaded.benchmarks[0].items["q3"].pass_fraction == 0.6


def test_flips_are_listed_in_natural_order():
    pinned = {f"{i}": "passed" for i in range(1, 13)} | {f"f{i}": "failed" for i in range(12)}
    now = {**pinned, **{f"{i}": "failed" for i in (2, 10, 11, 1, 9, 3)}}
    result = check_scorecard(thresholds_for({GSM8K: pinned}), scorecard({GSM8K: now}))
    assert result.verdicts[0].comparison is not None
    assert result.verdicts[0].comparison.flipped_to_fail == (
        "gsm8k[1]", "gsm8k[2]", "gsm8k[3]", "gsm8k[9]", "gsm8k[10]", "gsm8k[11]")


@pytest.mark.parametrize("names,ordered", [
    (["xstest[10]", "xstest[2]", "xstest[1]"], ["xstest[1]", "xstest[2]", "xstest[10]"]),
    (["b[q10-a]", "b[q9-b]", "a[q100]"], ["a[q100]", "b[q9-b]", "b[q10-a]"]),
    (["x[7]", "x[007]", "x[a]", "x[6b]"], ["x[6b]", "x[007]", "x[7]", "x[a]"]),
    (["test-0010", "test-0002"], ["test-0002", "test-0010"]),
])
def test_natural_order(names: list[str], ordered: list[str]):
    assert sorted(names, key=natural_key) == ordered


@pytest.mark.parametrize("items,message", [
    ({"q1": {"outcome": 2}}, "benchmarks[0].items['q1'].outcome: expected 1 (passed) or 0 (failed), got 2"),
    ({"q1": {"fingerprint": "ab"}}, "benchmarks[0].items['q1'].outcome: expected 1 (passed) or 0 (failed), got None"),
    ({"q1": {"outcome": 1, "fingerprint": 7}}, "benchmarks[0].items['q1'].fingerprint: expected a non-empty string, got 7"),
    ({"q1": {"outcome": 1, "samples": 0}}, "benchmarks[0].items['q1'].samples: expected a whole number >= 1, got 0"),
    ({"q1": {"outcome": 1, "samples": 5}},
     "benchmarks[0].items['q1'].passed: expected a whole number from 0 to samples (5), got None"),
    ({"q1": {"outcome": 1, "samples": 5, "passed": 6}},
     "benchmarks[0].items['q1'].passed: expected a whole number from 0 to samples (5), got 6"),
    (["q1"], "benchmarks[0].items: expected an object mapping item id to its outcome, such as"
             " {\"q-17\": {\"outcome\": 1}}, got ['q1']"),
])
def test_bad_items_are_named(items: Any, message: str):
    document = {"schema": SCHEMA, "benchmarks": [{"model": MODEL, "capability": "reasoning", "benchmark": "gsm8k",
                                                  "score": 0.5, "n": 2, "items": items}]}
    with pytest.raises(ThresholdsError) as info:
        parse_thresholds(document, "llm-thresholds.json")
    assert str(info.value) == f"llm-thresholds.json: {message}"


@pytest.mark.parametrize("value", [-0.1, 1.5, "high", None])
def test_a_bad_min_comparable_is_named(value: Any):
    with pytest.raises(ThresholdsError) as info:
        parse_thresholds({"settings": {"min_comparable": value}}, "llm-thresholds.json")
    assert str(info.value) == f"llm-thresholds.json: settings.min_comparable: expected a number between 0 and 1, got {value!r}"
