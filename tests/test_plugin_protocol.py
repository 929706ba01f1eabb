"""``--llm-protocol``: the survey's protocols on the built-in benchmarks, per benchmark or for the
run, as every report shows them; zero-shot rows claim none; the published column says which
figures share the run's protocol; a changed protocol is new inference and changed items."""

from __future__ import annotations

import json

import pytest

from conftest import SUITE, Project

ORACLE = (*SUITE, "--llm-model=script:oracle", "--llm-scorecard=card.json", "--llm-scorecard=card.md")
GSM8K_8_SHOT = "8-shot chain of thought (multi-turn)"
MMLU_5_SHOT = "5-shot (multi-turn)"


def rows(card: dict, kind: str) -> dict[str, dict]:
    key = "benchmark" if kind == "benchmarks" else "capability"
    return {r[key]: r for r in card[kind] if r["model"] == "oracle"}


def test_survey_asks_mmlu_5_shot_and_gsm8k_8_shot_and_every_report_says_so(project: Project) -> None:
    result = project.run(*ORACLE, "--llm-protocol=survey", "--llm-baseline=recorded:gpt-4")
    assert result.ret == 0, result.stdout.str()
    card = project.scorecard()
    benchmarks = rows(card, "benchmarks")
    assert (benchmarks["gsm8k"]["passed"], benchmarks["mmlu"]["passed"]) == (5, 5)  # the oracle knows few-shot items
    assert (benchmarks["gsm8k"]["protocol"], benchmarks["mmlu"]["protocol"]) == (GSM8K_8_SHOT, MMLU_5_SHOT)
    assert (rows(card, "capabilities")["reasoning"]["protocol"], rows(card, "capabilities")["general"]["protocol"]) \
        == (GSM8K_8_SHOT, MMLU_5_SHOT)
    assert {r["protocol"] for r in card["items"] if r["model"] == "oracle"} == {GSM8K_8_SHOT, MMLU_5_SHOT}
    # The recorded baseline keeps its own protocol.
    baseline = {r["benchmark"]: r for r in card["benchmarks"] if r["model"] == "recorded:gpt-4"}
    assert baseline["gsm8k"]["protocol"] == "recorded, 8-shot chain of thought (Faithful-CoT's COT prompt)"
    published = {p["benchmark"]: p for p in card["published"] if p["model"] == "recorded:gpt-4"}
    assert (published["mmlu"]["same_protocol"], published["mmlu"]["run_protocol"]) == (True, "5-shot")
    assert (published["gsm8k"]["same_protocol"], published["gsm8k"]["run_protocol"]) == \
        (False, "8-shot chain of thought")
    result.stdout.fnmatch_lines([f"*answers made with another protocol than the plugin's zero-shot prompt: {GSM8K_8_SHOT}",
                                 "*gpt-4 * mmlu * MMLU 5-shot accuracy * same protocol (5-shot)",
                                 "*gpt-4 * gsm8k * different protocol: 5-shot chain of thought (this run: 8-shot chain of "
                                 "thought)"])
    markdown = (project.path / "card.md").read_text(encoding="utf-8")
    assert f"protocol: {MMLU_5_SHOT}" in markdown and "same protocol (5-shot)" in markdown


def test_zero_shot_rows_claim_no_protocol_and_published_figures_say_they_differ(project: Project) -> None:
    result = project.run(*ORACLE, "--llm-baseline=recorded:gpt-4")
    assert result.ret == 0, result.stdout.str()
    card = project.scorecard()
    assert not any("protocol" in r for r in card["benchmarks"] + card["capabilities"] + card["items"]
                   if r["model"] == "oracle")
    published = {p["benchmark"]: p for p in card["published"] if p["model"] == "recorded:gpt-4"}
    assert (published["mmlu"]["same_protocol"], published["mmlu"]["run_protocol"]) == (False, "0-shot")
    result.stdout.fnmatch_lines(["*gpt-4 * mmlu * different protocol: 5-shot (this run: 0-shot)"])


def test_a_benchmark_value_beats_the_run_value_and_sets_the_chat_style(project: Project) -> None:
    result = project.run(*ORACLE, "--llm-protocol=2-shot", "--llm-protocol=mmlu=zero-shot",
                         "--llm-protocol=gsm8k=3-shot:one-message")
    assert result.ret == 0, result.stdout.str()
    benchmarks = rows(project.scorecard(), "benchmarks")
    assert benchmarks["gsm8k"]["protocol"] == "3-shot chain of thought (one message)"
    assert "protocol" not in benchmarks["mmlu"]


def test_the_ini_value_is_used_and_a_run_value_passes_over_benchmarks_without_examples(project: Project) -> None:
    project.pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest\nllm_baseline = none\nllm_protocol = 4-shot\n")
    result = project.run("--llm-suite=mmlu", "--llm-suite=xstest", "--llm-limit=2", "--llm-model=script:oracle",
                         "--llm-scorecard=card.json")
    assert result.ret in (0, 1), result.stdout.str()
    benchmarks = rows(project.scorecard(), "benchmarks")
    assert benchmarks["mmlu"]["protocol"] == "4-shot (multi-turn)" and "protocol" not in benchmarks["xstest"]


@pytest.mark.parametrize(("value", "message"), [
    ("--llm-protocol=xstest=5-shot", "*--llm-protocol=xstest=5-shot: benchmark 'xstest' offers no few-shot examples*"),
    ("--llm-protocol=mmlu=five", "*--llm-protocol*expected zero-shot, K-shot (such as 5-shot) or survey*"),
])
def test_a_protocol_that_cannot_apply_stops_the_run_saying_why(project: Project, value: str, message: str) -> None:
    result = project.run("--llm-suite=xstest", "--llm-suite=mmlu", "--llm-limit=2", "--llm-model=script:oracle", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert project.inferences() == 0


def test_changing_the_protocol_is_new_inference_and_changed_items_for_the_gate(project: Project) -> None:
    pin = project.run(*ORACLE, "--llm-thresholds=pins.json", "--llm-pin")
    assert pin.ret == 0, pin.stdout.str()
    before = project.inferences()
    again = project.run(*ORACLE, "--llm-thresholds=pins.json")
    assert again.ret == 0 and project.inferences() == before  # same protocol: all cached
    survey = project.run(*ORACLE, "--llm-thresholds=pins.json", "--llm-protocol=survey")
    assert project.inferences() > before, survey.stdout.str()
    verdicts = {v["benchmark"]: v for v in project.scorecard()["gate"]["verdicts"] if v["benchmark"]}
    pins = json.loads((project.path / "pins.json").read_text(encoding="utf-8"))
    assert pins and all(v["items"]["compared"] == 0 for v in verdicts.values())
    for name in ("gsm8k", "mmlu"):
        items = verdicts[name]["items"]
        assert items["changed"] + items["removed"] == items["pinned"] == 5  # every pinned item: asked otherwise


USER_BENCHMARK = '''
from pytest_llmeval import Benchmark, FewShot, scorers

ROWS = [{"question": f"What is {i} plus {i}?", "answer": str(2 * i), "kind": "even" if i % 2 else "odd"}
        for i in range(12)]

test_sums = Benchmark("sums", capability="arithmetic", data=ROWS, prompt="{question}", target="answer",
                      scorer=scorers.number(), num_fewshot=2, fewshot=FewShot(group="kind"))

checks = Benchmark("checks", capability="arithmetic", data=ROWS, prompt="{question}", target="answer",
                   scorer=scorers.number(), fewshot=FewShot())


@checks.each
def test_the_examples_come_first(llm_item, llm_response):
    messages = llm_item.requests[0].messages
    assert [m.role for m in messages] == ["user", "assistant"] * 3 + ["user"]
'''


def test_a_users_benchmark_and_its_each_tests_are_asked_and_labelled_few_shot(project: Project) -> None:
    project.pytester.makepyfile(test_user=USER_BENCHMARK)
    result = project.run("--llm-model=script:oracle", "--llm-scorecard=card.json", "--llm-protocol=checks=3-shot")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=(12 - 2 * 2) + (12 - 3))
    benchmarks = rows(project.scorecard(), "benchmarks")
    assert benchmarks["sums"]["protocol"] == "2-shot (multi-turn)"
    assert benchmarks["checks/test_the_examples_come_first"]["protocol"] == "3-shot (multi-turn)"


def test_a_group_too_small_is_a_collection_error_naming_the_field(project: Project) -> None:
    project.pytester.makepyfile(test_user=USER_BENCHMARK.replace("num_fewshot=2", "num_fewshot=7"))
    result = project.run("--llm-model=script:oracle")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*benchmark 'sums': <list of rows>, field 'kind': 7-shot prompting needs 7 different "
                                 "rows with kind = 'odd' to draw examples from, found 6*"])
