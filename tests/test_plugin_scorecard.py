"""The scorecard written by ``--llm-scorecard``: its fields (docs/scorecard.md), counts that agree
with pytest's own summary, and 95% Wilson intervals."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import pytest

from conftest import INNER_CONFTEST, SUITE, Project

ORACLE = "--llm-model=script:oracle"
OUTCOME_KEYS = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}

#: A user benchmark whose items can never run (they would execute model-written code, which
#: this run does not allow): the scorecard's ``skipped`` column.
SKIPPING_BENCHMARK = """
from pytest_llmeval import Benchmark, scorers


class CodeBenchmark(Benchmark):
    executes_code = True


test_code = CodeBenchmark("codegen", capability="coding", data=[{"q": "a"}, {"q": "b"}, {"q": "c"}],
                          prompt="Write {q}.", target="q", scorer=scorers.includes())
"""


def wilson(passed: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The 95% Wilson score interval, written out independently of the plugin's stats module."""
    p = passed / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return (centre - spread) / scale, (centre + spread) / scale


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(r[key] for r in rows) for key in ("passed", "failed", "errors", "skipped")}


def pytest_counts(result: pytest.RunResult) -> dict[str, int]:
    seen = result.parseoutcomes()
    return {key: seen.get(key, 0) for key in ("passed", "failed", "errors", "skipped")}


def test_the_json_scorecard_has_the_documented_fields(project: Project) -> None:
    result = project.run(*SUITE, ORACLE, "--llm-model=script:wrong", "--llm-scorecard=card.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"scorecard written to {project.path / 'card.json'}"])
    card = project.scorecard()
    assert card["schema"] == "pytest-llmeval/scorecard/1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", card["created"])
    assert {"models", "capabilities", "benchmarks", "items", "comparisons", "published", "gate", "run"} <= set(card)
    assert card["run"]["suites"] == ["gsm8k", "mmlu"]
    assert card["run"]["limit"] == 5
    assert "--llm-scorecard=card.json" in card["run"]["args"]

    models = {m["name"]: m for m in card["models"]}
    assert set(models) == {"oracle", "wrong"}
    assert models["oracle"] == {"name": "oracle", "backend": "script", "description": "scripted backend (oracle)",
                                "role": "candidate"}

    count_fields = {"passed", "failed", "errors", "skipped", "total", "score", "ci_low", "ci_high"}
    assert len(card["capabilities"]) == 4
    for row in card["capabilities"]:
        assert {"model", "capability"} | count_fields <= set(row)
    assert len(card["benchmarks"]) == 4
    for row in card["benchmarks"]:
        assert {"model", "capability", "benchmark", "metrics", "subsets"} | count_fields <= set(row)
    gsm8k = next(r for r in card["benchmarks"] if r["benchmark"] == "gsm8k" and r["model"] == "oracle")
    assert gsm8k["metrics"] == {"flexible": 1.0, "strict": 1.0}
    wrong = next(r for r in card["benchmarks"] if r["benchmark"] == "gsm8k" and r["model"] == "wrong")
    assert wrong["metrics"] == {"flexible": 0.0, "strict": 0.0}

    assert len(card["items"]) == 20
    for row in card["items"]:
        assert {"model", "capability", "benchmark", "item", "subset", "outcome", "answer", "expected"} <= set(row)
    right = [r for r in card["items"] if r["model"] == "oracle" and r["benchmark"] == "gsm8k"]
    assert all(r["outcome"] == "passed" and r["answer"] == r["expected"] for r in right)
    wrong_items = [r for r in card["items"] if r["model"] == "wrong" and r["benchmark"] == "gsm8k"]
    assert all(r["outcome"] == "failed" and r["answer"] == "123456789" for r in wrong_items)
    # The item ids are those of the failed tests.
    for row in wrong_items:
        result.stdout.fnmatch_lines([f"FAILED llmeval::gsm8k[[]{row['item']}-wrong[]]*"])


def test_every_count_agrees_with_pytests_summary(project: Project) -> None:
    project.pytester.makepyfile(test_code=SKIPPING_BENCHMARK, test_plain="def test_ordinary():\n    pass\n")
    result = project.run(*SUITE, ORACLE, "--llm-model=script:flaky", "--llm-max-error-rate=1",
                         "--llm-scorecard=card.json", "-rA")
    card = project.scorecard()
    expected = pytest_counts(result)
    expected["passed"] -= 1  # the ordinary test is no benchmark item
    # oracle: 10 right and 3 skipped; flaky: every third request fails, the rest are wrong; 3 skipped.
    assert expected == {"passed": 10, "failed": 7, "errors": 3, "skipped": 6}
    assert totals(card["capabilities"]) == expected
    assert totals(card["benchmarks"]) == expected
    by_outcome = Counter(OUTCOME_KEYS[r["outcome"]] for r in card["items"])
    assert {k: by_outcome.get(k, 0) for k in expected} == expected
    for row in card["capabilities"] + card["benchmarks"]:
        assert row["total"] == row["passed"] + row["failed"] + row["errors"]
        answered = row["passed"] + row["failed"]
        assert row["score"] == (row["passed"] / answered if answered else None)
    coding = [r for r in card["capabilities"] if r["capability"] == "coding"]
    assert {(r["model"], r["skipped"], r["total"], r["score"]) for r in coding} == {("oracle", 3, 0, None), ("flaky", 3, 0, None)}
    # Each item's outcome is the one pytest reported for its test.
    for row in card["items"]:
        if row["benchmark"] in ("gsm8k", "mmlu"):
            word = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}[row["outcome"]]
            node_id = f"llmeval::{row['benchmark']}[{row['item']}-{row['model']}]"
            assert any(line.startswith(f"{word} {node_id}") for line in result.outlines), node_id


def test_rows_carry_the_95_percent_wilson_interval(project: Project) -> None:
    project.run(*SUITE, ORACLE, "--llm-model=script:wrong", "--llm-model=script:error", "--llm-max-error-rate=1",
                "--llm-scorecard=card.json")
    card = project.scorecard()
    rows = card["capabilities"] + card["benchmarks"]
    checked = 0
    for row in rows:
        answered = row["passed"] + row["failed"]
        if not answered:
            assert (row["score"], row["ci_low"], row["ci_high"]) == (None, None, None)
            continue
        low, high = wilson(row["passed"], answered)
        assert row["ci_low"] == pytest.approx(low, abs=1e-4)
        assert row["ci_high"] == pytest.approx(high, abs=1e-4)
        assert 0.0 <= row["ci_low"] <= row["score"] <= row["ci_high"] <= 1.0
        checked += 1
    assert checked == 8
    oracle = next(r for r in card["capabilities"] if r["model"] == "oracle" and r["capability"] == "reasoning")
    assert oracle["ci_low"] == pytest.approx(0.5655, abs=1e-4)
    assert oracle["ci_high"] == pytest.approx(1.0)
    outage = next(r for r in card["capabilities"] if r["model"] == "error" and r["capability"] == "reasoning")
    assert (outage["errors"], outage["total"], outage["score"]) == (5, 5, None)


def test_markdown_and_html_scorecards_are_written_where_asked(project: Project) -> None:
    project.pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest\nllm_baseline = none\n"
                             "llm_scorecard =\n    reports/card.md\n    reports/card.html\n")
    result = project.run(*SUITE, ORACLE)
    assert result.ret == 0
    markdown = (project.path / "reports" / "card.md").read_text(encoding="utf-8")
    html = (project.path / "reports" / "card.html").read_text(encoding="utf-8")
    assert "reasoning" in markdown and "gsm8k" in markdown
    assert "<html" in html.lower() and "reasoning" in html
    result.stdout.fnmatch_lines(["scorecard written to *card.md", "scorecard written to *card.html"])


def test_the_scorecard_hook_receives_the_document_once(project: Project) -> None:
    project.pytester.makeconftest(INNER_CONFTEST + "\n\nSEEN = []\n\n"
                                  "def pytest_llmeval_scorecard(config, scorecard):\n"
                                  "    SEEN.append(1)\n"
                                  "    print(f'HOOK {len(SEEN)} {len(scorecard[\"items\"])} {scorecard[\"schema\"]}')\n")
    result = project.run(*SUITE, ORACLE, "-s")
    result.stdout.fnmatch_lines(["*HOOK 1 10 pytest-llmeval/scorecard/1"])
    assert "HOOK 2" not in result.stdout.str()


def test_no_scorecard_printed_and_no_file_unless_asked_when_no_benchmark_item_ran(project: Project) -> None:
    project.pytester.makepyfile(test_plain="def test_ordinary():\n    pass\n")
    result = project.run()
    result.assert_outcomes(passed=1)
    assert not list(project.path.glob("*.json"))
    assert "llmeval:" not in result.stdout.str() and "llmeval scorecard" not in result.stdout.str()


def test_an_api_key_appears_in_no_artifact_and_no_output(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "sk-canary-0c8e6f1a2b3d4e5f"
    monkeypatch.setenv("LLMEVAL_API_KEY", canary)
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    result = project.run(*SUITE, ORACLE, "--llm-model=script:error", "--llm-max-error-rate=1",
                         "--llm-scorecard=card.json", "--llm-scorecard=card.md", "--llm-scorecard=card.html",
                         "--junitxml=junit.xml", "-rA")
    result.assert_outcomes(passed=10, errors=10)
    assert canary not in result.stdout.str() + result.stderr.str()
    written = [p for p in project.path.rglob("*") if p.is_file()]
    assert {"card.json", "card.md", "card.html", "junit.xml", "responses.sqlite3"} <= {p.name for p in written}
    for path in written:
        assert canary.encode() not in path.read_bytes(), path


def test_a_scorecard_asked_for_is_written_even_when_no_benchmark_item_ran(project: Project) -> None:
    project.pytester.makepyfile(test_ask="def test_ask(llm_model):\n    assert llm_model.generate('Say hello.')\n")
    result = project.run("--llm-model=script:echo", "--llm-scorecard=card.json")
    result.assert_outcomes(passed=1)
    card = project.scorecard()
    assert card["items"] == [] and card["capabilities"] == []
    assert [m["name"] for m in card["models"]] == ["echo"]
    result.stdout.fnmatch_lines(["llmeval: no benchmark item ran; an empty scorecard was written to *card.json"])
    assert "llmeval scorecard" not in result.stdout.str()
