"""How per-item metrics become a group's figures: means for per-item figures, sum / sum for pooled
ratios (IFEval's and IFBench's instruction-level accuracy) over whatever items a group holds: a
sample, a shard, the merge of all shards, the items a baseline shares with the model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard
from pytest_llmeval.scorecard.merge import merge_shards, read_shards, shard_run
from pytest_llmeval.scoring.metrics import INSTRUCTION_LOOSE, INSTRUCTION_STRICT, POOLED_RATIOS, PooledRatio, aggregate_metrics


def instruction_item(given: int, strict: int, loose: int) -> dict[str, float]:
    return {"prompt_strict": float(strict == given), **INSTRUCTION_STRICT.item_metrics(strict, given),
            **INSTRUCTION_LOOSE.item_metrics(loose, given)}


def random_items(seed: int, n: int) -> list[dict[str, float]]:
    """IFEval-like items: one to three instructions, some followed (loose at least strict)."""
    draw = random.Random(seed)
    rows = []
    for _ in range(n):
        given = draw.randint(1, 3)
        strict = draw.randint(0, given)
        rows.append(instruction_item(given, strict, draw.randint(strict, given)))
    return rows


def test_an_item_carries_its_own_share_and_both_counts() -> None:
    assert INSTRUCTION_STRICT.item_metrics(1, 3) == {"instruction_strict": 1 / 3, "instructions_followed_strict": 1.0,
                                                     "instructions": 3.0}
    assert INSTRUCTION_LOOSE.item_metrics(2, 2)["instruction_loose"] == 1.0


@pytest.mark.parametrize(("followed", "given"), [(3, 2), (-1, 2), (0, 0), (1, 0)])
def test_counts_that_make_no_ratio_are_refused_by_name(followed: int, given: int) -> None:
    with pytest.raises(ValueError, match=r"instruction_strict: expected 0 <= instructions_followed_strict <= instructions"):
        INSTRUCTION_STRICT.item_metrics(followed, given)


@pytest.mark.parametrize("seed", range(20))
def test_any_subset_gives_instructions_followed_over_instructions_given(seed: int) -> None:
    rows = random_items(seed, 60)
    draw = random.Random(seed + 1000)
    for size in (1, 2, 3, 7, 60):
        subset = draw.sample(rows, size)
        figures = aggregate_metrics(subset)
        given = sum(r["instructions"] for r in subset)
        assert figures["instruction_strict"] == sum(r["instructions_followed_strict"] for r in subset) / given
        assert figures["instruction_loose"] == sum(r["instructions_followed_loose"] for r in subset) / given
        assert 0.0 <= figures["instruction_strict"] <= figures["instruction_loose"] <= 1.0
        assert figures["prompt_strict"] == sum(r["prompt_strict"] for r in subset) / size


def test_the_pooled_ratio_is_not_the_mean_of_the_shares() -> None:
    # 2 of 2 followed and 0 of 1: 2 of 3 instructions (the mean of the shares would say 0.5).
    figures = aggregate_metrics([instruction_item(2, 2, 2), instruction_item(1, 0, 0)])
    assert figures["instruction_strict"] == pytest.approx(2 / 3)
    assert figures["prompt_strict"] == 0.5


def test_the_counts_are_ingredients_not_figures() -> None:
    figures = aggregate_metrics(random_items(1, 5))
    assert set(figures) == {"prompt_strict", "instruction_strict", "instruction_loose"}
    counts = {name for ratio in POOLED_RATIOS for name in (ratio.numerator, ratio.denominator)}
    assert counts == {"instructions", "instructions_followed_strict", "instructions_followed_loose"}


def test_other_metrics_are_means_over_the_items_that_report_them() -> None:
    assert aggregate_metrics([{"rating": 9.0, "rating_turn2": 6.0}, {"rating": 7.0}]) == {"rating": 8.0, "rating_turn2": 6.0}
    assert aggregate_metrics([]) == {}


def test_a_ratio_without_its_counts_is_averaged_as_it_was_written() -> None:
    # An item row of a scorecard written before the counts existed.
    assert aggregate_metrics([{"instruction_strict": 0.25}, {"instruction_strict": 0.75}]) == {"instruction_strict": 0.5}


def test_a_ratio_of_ones_own_is_pooled_by_the_same_rule() -> None:
    ratio = PooledRatio("recall", "found", "relevant")
    assert ratio.item_metrics(1, 4) == {"recall": 0.25, "found": 1.0, "relevant": 4.0}


# -- the scorecard: groups, baseline cells, JSON, shards ------------------------------------------


def outcomes(model: str, rows: list[dict[str, float]]) -> list[ItemOutcome]:
    return [ItemOutcome(model=model, capability="general", benchmark="ifeval", item=f"key-{k}",
                        outcome="passed" if r["prompt_strict"] else "failed", metrics=r)
            for k, r in enumerate(rows)]


def pooled(rows: list[dict[str, float]], name: str) -> float:
    ratio = next(r for r in POOLED_RATIOS if r.name == name)
    return sum(r[ratio.numerator] for r in rows) / sum(r[ratio.denominator] for r in rows)


@pytest.mark.parametrize("seed", range(5))
def test_the_scorecard_pools_per_benchmark_and_after_a_json_round_trip(seed: int) -> None:
    rows = random_items(seed, 9)
    card = Scorecard.build(outcomes("m", rows))
    again = Scorecard.from_json(json.loads(json.dumps(card.to_json())))
    for c in (card, again):
        group = c.benchmark("m", "ifeval")
        assert group is not None
        assert group.metrics["instruction_strict"] == pooled(rows, "instruction_strict") <= 1.0
        assert group.metrics["instruction_loose"] == pooled(rows, "instruction_loose") <= 1.0
    [bench] = card.to_json()["benchmarks"]
    assert set(bench["metrics"]) == {"prompt_strict", "instruction_strict", "instruction_loose"}
    assert all(row["metrics"]["instruction_strict"] <= 1.0 for row in card.to_json()["items"])


@pytest.mark.parametrize("seed", range(5))
def test_merged_shards_give_the_figures_of_one_run(tmp_path: Path, seed: int) -> None:
    rows = random_items(seed, 11)
    models = [ModelInfo("m")]
    single = Scorecard.build(outcomes("m", rows), models)
    everything = outcomes("m", rows)
    paths = []
    for index in (1, 2, 3):
        part = everything[index - 1::3]
        run = {"suites": ["ifeval"], "limit": 11, "settings": {}, "args": [], "shard": shard_run(index, 3, complete=True,
                                                                                                  failed_tests=0)}
        path = tmp_path / f"shard-{index}.json"
        path.write_text(json.dumps(Scorecard.build(part, models, run).to_json()), encoding="utf-8")
        paths.append(path)
    merged = merge_shards(read_shards(paths))
    assert [g.to_json() for g in merged.benchmarks] == [g.to_json() for g in single.benchmarks]
    group = merged.benchmark("m", "ifeval")
    assert group is not None and group.metrics["instruction_strict"] == pooled(rows, "instruction_strict")
