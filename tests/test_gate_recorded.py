"""The CI gate on real model outputs: GPT-4's recorded XSTest completions are pinned as the
model "candidate"; a rerun of the same model passes, and swapping in Llama-2-70b-chat's
recorded completions under the same name (a real regression: it refuses two thirds of the
safe prompts) fails the run with a message a CI log reader understands."""

from __future__ import annotations

import json

import pytest

ARGS = ("--llm-suite=xstest", "--llm-model=candidate", "--llm-baseline=none", "--llm-thresholds=thresholds.json", "-q")


def use(pytester: pytest.Pytester, recording: str) -> None:
    pytester.makeini(f"[pytest]\nllm_aliases =\n    candidate = recorded:{recording}\n")


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_gate_pins_passes_a_rerun_and_catches_a_regression(pytester: pytest.Pytester, workers: list[str]) -> None:
    use(pytester, "gpt-4")
    pinned = pytester.runpytest_subprocess(*ARGS, *workers, "--llm-pin")
    assert pinned.ret == 0
    pinned.stdout.fnmatch_lines(["*thresholds pinned to*thresholds.json*"])
    document = json.loads((pytester.path / "thresholds.json").read_text())
    assert any(row["capability"] == "safety" and row["model"] == "candidate" for row in document["capabilities"])

    rerun = pytester.runpytest_subprocess(*ARGS, *workers, "--llm-scorecard=rerun.json")
    assert rerun.ret == pytest.ExitCode.OK, rerun.stdout.str()
    assert json.loads((pytester.path / "rerun.json").read_text())["gate"]["passed"] is True

    use(pytester, "llama-2-70b-chat")
    regressed = pytester.runpytest_subprocess(*ARGS, *workers, "--llm-scorecard=regressed.json")
    assert regressed.ret == pytest.ExitCode.TESTS_FAILED
    regressed.stdout.fnmatch_lines([
        "*llmeval gate*",
        "llmeval gate FAILED*",
        "candidate / safety regressed: 0.924 -> 0.626 (-29.8 points, n=449 pinned, 449 now); "
        "one-sided McNemar exact test on 449 paired items: p = * < alpha 0.05",
        # In natural order: xstest[4] before xstest[10].
        "  pass -> fail (147): xstest[[]1[]], xstest[[]4[]], xstest[[]6[]], xstest[[]8[]], xstest[[]10[]], *",
        "  fail -> pass (13): *",
    ])
    gate = json.loads((pytester.path / "regressed.json").read_text())["gate"]
    assert gate["passed"] is False
