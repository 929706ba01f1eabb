"""Offline, the GPT baseline is measured from the built-in recordings: gpt-3.5-turbo in general and
reasoning, gpt-4 in general, reasoning and safety, paired with the model on the same items, and the
scorecard says which protocol a recording was made with."""

from __future__ import annotations

import pytest

from conftest import Project

SUITES = ("--llm-suite=gsm8k", "--llm-suite=alpaca_eval", "--llm-suite=ifeval", "--llm-suite=xstest",
          "--llm-limit=3", "--llm-model=script:oracle", "--llm-scorecard=card.json")


@pytest.mark.parametrize(("baseline", "measured", "reasoning_protocol"), [
    ("gpt-3.5-turbo", {"general", "reasoning"}, "recorded, zero-shot chain of thought, answer in \\boxed{} "
                                                 "(Re-Reading baseline)"),
    ("gpt-4", {"general", "reasoning", "safety"}, "recorded, 8-shot chain of thought (Faithful-CoT's COT prompt)"),
])
def test_the_baseline_is_measured_offline_from_recordings(project: Project, baseline: str, measured: set[str],
                                                          reasoning_protocol: str) -> None:
    result = project.run(*SUITES, f"--llm-baseline={baseline}")
    assert result.ret in (0, 1), result.stdout.str()  # the oracle fails IFEval and XSTest items: measurements
    result.stdout.fnmatch_lines(["*against the baseline*", f"  oracle vs {baseline}, reasoning: *"])
    card = project.scorecard()
    [model] = [m for m in card["models"] if m["role"] == "baseline"]
    assert model["name"] == baseline and model["backend"] == "recorded"
    rows = {r["capability"]: r for r in card["capabilities"] if r["model"] == baseline}
    scored = {capability for capability, r in rows.items() if r["passed"] + r["failed"] > 0}
    assert scored == measured
    assert rows["reasoning"]["protocol"] == reasoning_protocol
    benches = {r["benchmark"]: r for r in card["benchmarks"] if r["model"] == baseline}
    assert benches["alpaca_eval"]["skipped"] == 0  # judged by GPT-4's recorded verdicts
    assert "protocol" not in benches["alpaca_eval"]  # recorded with the plugin's own prompt
    compared = {c["capability"] for c in card["comparisons"] if c.get("baseline") == baseline}
    assert {"reasoning"} <= compared
    # The baseline's published GSM8K figure is compared with how its own recording was made,
    # not with how the model under test (zero-shot) was asked.
    [published] = [p for p in card["published"] if p["model"] == baseline and p["benchmark"] == "gsm8k"]
    assert published["run_protocol"] == ("0-shot chain of thought" if baseline == "gpt-3.5-turbo"
                                         else "8-shot chain of thought")


def test_sampling_a_recorded_model_warns_that_its_samples_are_one_reply(project: Project) -> None:
    result = project.run("--llm-suite=gsm8k", "--llm-limit=2", "--llm-model=recorded:gpt-4", "--llm-repeats=3",
                         "--llm-temperature=0.7")
    result.stdout.fnmatch_lines(["*ReplayWarning: recorded:gpt-4 replays one recorded reply per item, so "
                                 "--llm-repeats=3 and --llm-temperature change nothing of its answers*"])
    quiet = project.run("--llm-suite=gsm8k", "--llm-limit=2", "--llm-model=recorded:gpt-4")
    assert "ReplayWarning" not in quiet.stdout.str()
