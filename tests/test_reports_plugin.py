"""What a user reads at the end of a run (``pytester``): the terminal scorecard and the files of
``--llm-scorecard``, with a baseline from an earlier run's scorecard, answers recorded with
another protocol, and replies cut off by the token limit."""

from __future__ import annotations

import re

import pytest

from conftest import INNER_CONFTEST, SUITE, Project

PROTOCOL = "recorded, 8-shot chain of thought"

#: A backend whose answers were recorded with another protocol than the plugin's prompt, every
#: one of them cut off by the token limit (as a recording made at a low max_tokens would be).
RECORDED_CONFTEST = INNER_CONFTEST + f'''

class Recorded(Scripted):
    def _answer(self, request):
        response = super()._answer(request)
        response.meta["protocol"] = "{PROTOCOL}"
        response.finish_reason = "length"
        return response


def pytest_llmeval_backends(config):
    return {{"script": make_backend, "recorded-elsewhere": lambda spec, context: Recorded(spec.target, [Collected()])}}
'''


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def table_line(result, first: str) -> list[str]:  # type: ignore[no-untyped-def]
    [line] = [line for line in result.outlines if line.strip().startswith(first + " ") or line.strip() == first]
    return cells(line)


def test_a_baseline_from_an_earlier_scorecard_shows_its_numbers_and_metrics(project: Project) -> None:
    first = project.run(*SUITE, "--llm-model=script:oracle", "--llm-scorecard=earlier.json")
    assert first.ret == 0
    result = project.run(*SUITE, "--llm-model=script:wrong", "--llm-baseline=earlier.json", "--llm-scorecard=card.md")
    assert result.ret == 0
    header = table_line(result, "capability")
    assert header == ["capability", "wrong", "oracle (earlier.json) (baseline)"]
    assert table_line(result, "reasoning") == ["reasoning", "0.000 [0.00-0.43] 0/5", "1.000 [0.57-1.00] 5/5"]
    # GSM8K's extraction metrics of the baseline, as the earlier run measured them.
    assert table_line(result, "strict") == ["strict", "0.000", "1.000"]
    assert table_line(result, "flexible") == ["flexible", "0.000", "1.000"]
    markdown = (project.path / "card.md").read_text(encoding="utf-8")
    assert "| gsm8k | reasoning | 0.000 (0.00 to 0.43)<br>0/5 passed<br>flexible 0.000 · strict 0.000 | " \
           "1.000 (0.57 to 1.00)<br>5/5 passed<br>flexible 1.000 · strict 1.000 |" in markdown


def test_a_baseline_scorecard_is_read_before_any_inference(project: Project) -> None:
    (project.path / "broken.json").write_text('{"x": 1', encoding="utf-8")
    for name, said in (("missing.json", "missing.json is not a readable scorecard JSON"),
                       ("broken.json", "broken.json is not a readable scorecard JSON")):
        result = project.run(*SUITE, "--llm-model=script:oracle", f"--llm-baseline={name}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert said in result.stderr.str()
    assert project.inferences() == 0


def test_a_baseline_scorecard_of_several_models_names_the_one_to_use(project: Project) -> None:
    first = project.run(*SUITE, "--llm-model=script:oracle", "--llm-model=script:wrong", "--llm-scorecard=two.json")
    assert first.ret == 0
    asked = project.inferences()
    vague = project.run(*SUITE, "--llm-model=script:wrong", "--llm-baseline=two.json")
    assert vague.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--llm-baseline: {project.path / 'two.json'} holds 2 models under test (oracle, wrong): name one, " \
           "as --llm-baseline=two.json#oracle" in vague.stderr.str()
    unknown = project.run(*SUITE, "--llm-model=script:wrong", "--llm-baseline=two.json#gpt-4")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    assert "has no model under test named 'gpt-4' (it has oracle, wrong)" in unknown.stderr.str()
    assert project.inferences() == asked
    chosen = project.run(*SUITE, "--llm-model=script:wrong", "--llm-baseline=two.json#oracle")
    assert chosen.ret == 0
    assert table_line(chosen, "capability") == ["capability", "wrong", "oracle (two.json) (baseline)"]
    assert table_line(chosen, "reasoning") == ["reasoning", "0.000 [0.00-0.43] 0/5", "1.000 [0.57-1.00] 5/5"]


def test_recorded_protocols_and_cut_off_replies_reach_every_report(project: Project) -> None:
    project.pytester.makeconftest(RECORDED_CONFTEST)
    result = project.run(*SUITE, "--llm-model=recorded-elsewhere:oracle", "--llm-scorecard=card.md",
                         "--llm-scorecard=card.html", "--llm-scorecard=card.json")
    assert result.ret == 0
    assert table_line(result, "reasoning") == ["reasoning", "1.000 [0.57-1.00] 5/5 (5 cut off) (a)"]
    result.stdout.fnmatch_lines([f"(a) answers made with another protocol than the plugin's zero-shot prompt: {PROTOCOL}"])
    markdown = (project.path / "card.md").read_text(encoding="utf-8")
    assert f"| reasoning | 1.000 (0.57 to 1.00)<br>5/5 passed, 5 cut off<br>protocol: {PROTOCOL} |" in markdown
    page = (project.path / "card.html").read_text(encoding="utf-8")
    assert f"5/5 passed, 5 cut off<br>protocol: {PROTOCOL}</td>" in page
    card = project.scorecard()
    reasoning = next(r for r in card["capabilities"] if r["capability"] == "reasoning")
    assert (reasoning["truncated"], reasoning["protocol"]) == (5, PROTOCOL)
