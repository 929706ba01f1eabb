"""IFEval's instruction-level accuracy as a run shows it: instructions followed over instructions
given, pooled over exactly the items scored (a ``--llm-limit`` sample, the baseline's paired
items, merged shards), never above 1, in the terminal, the scorecard JSON and JUnit alike."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import Project

junitparser = pytest.importorskip("junitparser")

GPT4 = "recorded:gpt-4"
IFEVAL = ("--llm-suite=ifeval", "--llm-scorecard=card.json")


def item_rows(card: dict[str, Any], model: str) -> list[dict[str, Any]]:
    return [r for r in card["items"] if r["model"] == model and r["benchmark"] == "ifeval" and "metrics" in r]


def followed_over_given(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Strict from the answers the items show ("2/3 instructions followed"), loose from their counts."""
    strict = [re.fullmatch(r"(\d+)/(\d+) instructions followed", r["answer"]) for r in rows]
    assert all(strict), [r["answer"] for r in rows]
    given = sum(int(m.group(2)) for m in strict if m)
    return {"instruction_strict": sum(int(m.group(1)) for m in strict if m) / given,
            "instruction_loose": sum(r["metrics"]["instructions_followed_loose"] for r in rows) / given}


def printed(result: pytest.RunResult, metric: str) -> list[str]:
    """The cells of a benchmark metric's row in the terminal scorecard."""
    [line] = [line for line in result.outlines if line.startswith(f"    {metric} ")]
    return line.split()[1:]


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_a_sample_shows_instructions_followed_over_instructions_given(project: Project, limit: int) -> None:
    result = project.run(*IFEVAL, f"--llm-limit={limit}", f"--llm-model={GPT4}", "--junitxml=junit.xml")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    card = project.scorecard()
    rows = item_rows(card, GPT4)
    assert len(rows) == limit
    [bench] = [b for b in card["benchmarks"] if b["model"] == GPT4]
    for metric, figure in followed_over_given(rows).items():
        assert bench["metrics"][metric] == pytest.approx(figure) and figure <= 1.0
        assert printed(result, metric) == [f"{figure:.3f}"]
        assert all(0.0 <= r["metrics"][metric] <= 1.0 for r in rows)
    properties = [(p.name, float(p.value)) for suite in junitparser.JUnitXml.fromfile(str(project.path / "junit.xml"))
                  for case in suite if (node := case.child(junitparser.Properties)) is not None
                  for p in node.iterchildren(junitparser.Property) if p.name.startswith("llm_metric_instruction_")]
    assert len(properties) == 2 * limit and all(0.0 <= value <= 1.0 for _, value in properties)


def test_the_baseline_pools_the_items_it_shares_with_the_model(project: Project) -> None:
    result = project.run(*IFEVAL, "--llm-limit=5", "--llm-model=script:oracle", "--llm-baseline=gpt-4")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    figures = followed_over_given(item_rows(project.scorecard(), "gpt-4"))
    for metric, figure in figures.items():
        assert printed(result, metric)[-1] == f"{figure:.3f}"


def test_merged_shards_show_the_figures_of_one_run(project: Project) -> None:
    run = (*IFEVAL[:1], "--llm-limit=9", f"--llm-model={GPT4}")
    single = project.run(*run, "--llm-scorecard=single.json")
    for i in (1, 2, 3):
        project.run(*run, f"--llm-shard={i}/3", f"--llm-scorecard=shard-{i}.json")
    merged = project.run("--llm-merge=shard-*.json", "--llm-scorecard=merged.json")
    assert single.ret == merged.ret == pytest.ExitCode.OK
    one, many = project.scorecard("single.json"), project.scorecard("merged.json")
    assert many["benchmarks"] == one["benchmarks"]
    shard_figures = [b["metrics"]["instruction_strict"] for i in (1, 2, 3)
                     for b in project.scorecard(f"shard-{i}.json")["benchmarks"]]
    assert len(shard_figures) == 3 and len(set(shard_figures)) > 1  # the merge pools; it does not take any shard's
    for metric in ("instruction_strict", "instruction_loose"):
        assert printed(merged, metric) == printed(single, metric)
    [bench] = one["benchmarks"]
    assert bench["metrics"]["instruction_strict"] == pytest.approx(followed_over_given(item_rows(one, GPT4))["instruction_strict"])
