"""Shards without a pytest session: which shard a test falls in, the ``I/N`` value, and the
refusals of merging shards that do not make one run (each naming the files)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.collection import shard_of
from pytest_llmeval.options import shard_spec
from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard
from pytest_llmeval.scorecard.merge import MergeError, Shard, check_fit, merge_shards, read_shards, shard_files, shard_run

SETTINGS = {"models": ["cand"], "repeats": 1, "version": "0.1.0"}
MODELS = [ModelInfo("cand", "script", "scripted backend (noisy)"), ModelInfo("base", "script", "script:oracle", "baseline")]


@pytest.mark.parametrize(("text", "value"), [("1/1", (1, 1)), ("2/5", (2, 5)), ("5/5", (5, 5)), (" 3/4 ", (3, 4))])
def test_a_shard_is_i_of_n(text: str, value: tuple[int, int]) -> None:
    assert shard_spec(text) == value


@pytest.mark.parametrize("text", ["0/3", "4/3", "-1/3", "3", "1/", "/3", "a/b", "1/3/5", "1.5/3", ""])
def test_anything_else_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected I/N with 1 <= I <= N"):
        shard_spec(text)


@pytest.mark.parametrize("total", [2, 3, 7])
def test_the_shards_are_about_equal(total: int) -> None:
    keys = [f"gsm8k[item-{i}]" for i in range(7000)]
    sizes = Counter(shard_of(key, total) for key in keys)
    assert set(sizes) == set(range(1, total + 1))
    expected = len(keys) / total
    # Binomial spread: 4 standard deviations around n/N.
    spread = 4 * (len(keys) * (1 / total) * (1 - 1 / total)) ** 0.5
    assert all(abs(size - expected) < spread for size in sizes.values()), sizes


def test_the_shard_is_not_the_limit_samples_order() -> None:
    """--llm-limit keeps the items of lowest hash; the shard hash is salted apart from it, so the
    sample does not crowd into one shard."""
    import hashlib

    keys = [f"item-{i}" for i in range(3000)]
    lowest = sorted(keys, key=lambda k: hashlib.sha256(f"pytest-llmeval:gsm8k:{k}".encode()).digest())[:300]
    sizes = Counter(shard_of(f"gsm8k[{k}]", 3) for k in lowest)
    assert min(sizes.values()) > 60, sizes


# -- merging -----------------------------------------------------------------------------------


def outcome(item: str, model: str = "cand", result: str = "passed") -> ItemOutcome:
    return ItemOutcome(model=model, capability="reasoning", benchmark="gsm8k", item=item, outcome=result)  # type: ignore[arg-type]


def write_shard(path: Path, index: int, total: int, items: list[str], *, models: list[ModelInfo] = MODELS,
                settings: dict[str, Any] = SETTINGS, complete: bool = True, limit: int | None = 12) -> Path:
    outcomes = [outcome(i, m.name, "passed" if k % 2 else "failed") for k, i in enumerate(items) for m in models]
    run = {"suites": ["gsm8k"], "limit": limit, "args": [f"--llm-shard={index}/{total}"], "settings": settings,
           "shard": shard_run(index, total, complete=complete, failed_tests=0)}
    card = Scorecard.build(outcomes, models, run)
    path.write_text(json.dumps(card.to_json()), encoding="utf-8")
    return path


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    return [write_shard(tmp_path / f"shard-{i}.json", i, 3, [f"q{i}-{k}" for k in range(4)]) for i in (1, 2, 3)]


def refusal(paths: list[Path]) -> str:
    with pytest.raises(MergeError) as caught:
        read_shards(paths)
    return str(caught.value)


def test_three_fitting_shards_merge_into_their_union(three: list[Path]) -> None:
    shards = read_shards([three[2].parent / "shard-*.json"])
    assert [s.index for s in shards] == [1, 2, 3]
    card = merge_shards(shards, ["--llm-merge=shard-*.json"])
    assert sorted(o.key for o in card.items) == sorted(o.key for s in shards for o in s.card.items)
    assert len(card.items) == 24
    assert [c.model for c in card.comparisons] == ["cand", "cand"]  # the baseline's comparison is made on the union
    assert card.run["settings"] == SETTINGS and card.run["args"] == ["--llm-merge=shard-*.json"]
    assert [s["shard"] for s in card.run["shards"]] == ["1/3", "2/3", "3/3"]


def test_a_missing_shard_is_named(three: list[Path]) -> None:
    message = refusal([three[0], three[2]])
    assert message.startswith("shard 2/3 is missing (given: shard-1.json (1/3), shard-3.json (3/3))")
    assert refusal([three[0]]).startswith("shards 2/3, 3/3 are missing")


def test_a_shard_given_twice_names_both_files(three: list[Path], tmp_path: Path) -> None:
    again = tmp_path / "again"
    again.mkdir()
    copy = again / "shard-2.json"
    copy.write_bytes(three[1].read_bytes())
    message = refusal([*three, copy])
    assert message == f"shard 2/3 is given twice: {copy} and {three[1]}; merge one file per shard"


def test_the_same_file_named_twice_is_read_once(three: list[Path]) -> None:
    assert len(shard_files([three[0], three[0].parent / "shard-*.json", three[0]])) == 3


def test_shards_of_another_split_are_refused(three: list[Path], tmp_path: Path) -> None:
    other = write_shard(tmp_path / "half.json", 1, 2, ["x"])
    message = refusal([*three[1:], other])
    assert message == (f"{three[1]} is shard 2/3 but {other} is shard 1/2: merge the shards of one run (the same N)")


@pytest.mark.parametrize(("change", "named"), [
    ({"limit": 5}, "run.limit is 5 in shard-3.json and 12 in shard-1.json"),
    ({"settings": {**SETTINGS, "repeats": 3}}, "run.settings.repeats is 3 in shard-3.json and 1 in shard-1.json"),
    ({"settings": {**SETTINGS, "version": "0.2.0"}}, "run.settings.version is '0.2.0' in shard-3.json and '0.1.0' in shard-1.json"),
])
def test_shards_run_with_other_settings_are_refused(three: list[Path], change: dict[str, Any], named: str) -> None:
    kwargs = {"limit": change.get("limit", 12), "settings": change.get("settings", SETTINGS)}
    write_shard(three[2], 3, 3, ["z"], **kwargs)  # type: ignore[arg-type]
    message = refusal(three)
    assert message.startswith(f"{three[2]} was run with other settings than {three[0]}: {named}")


def test_shards_with_other_models_are_refused(three: list[Path]) -> None:
    write_shard(three[1], 2, 3, ["y"], models=MODELS[:1])  # the baseline was reachable on one machine only
    message = refusal(three)
    assert message.startswith(f"{three[1]} holds other models than {three[0]}: cand (candidate) in shard-2.json, "
                              f"cand (candidate), base (baseline) in shard-1.json")


def test_an_item_in_two_shards_is_refused(three: list[Path]) -> None:
    write_shard(three[2], 3, 3, ["q3-0", "q1-2"])
    message = refusal(three)
    assert message.startswith(f"{three[0]} and {three[2]} both hold gsm8k[q1-2] of base: shards of one run share no item")


def test_a_shard_that_stopped_early_is_refused(three: list[Path]) -> None:
    write_shard(three[1], 2, 3, ["y"], complete=False)
    assert refusal(three).startswith(f"{three[1]}: that shard's run stopped before its end")


def test_a_scorecard_of_a_whole_run_is_not_a_shard(three: list[Path], tmp_path: Path) -> None:
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(Scorecard.build([outcome("a")], MODELS, {"suites": []}).to_json()), encoding="utf-8")
    assert refusal([whole]).startswith(f"{whole} is not a shard's scorecard")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert refusal([broken]).startswith(f"{broken} is not a readable scorecard JSON")


def test_a_pattern_that_matches_nothing_is_named(tmp_path: Path) -> None:
    assert refusal([tmp_path / "shard-*.json"]).startswith(f"{tmp_path / 'shard-*.json'}: no such file")


def test_each_model_is_described_as_a_shard_that_served_it(three: list[Path]) -> None:
    served = ModelInfo("cand", "script", "scripted backend (noisy)")
    unbuilt = ModelInfo("cand", "script", "script:noisy")
    write_shard(three[0], 1, 3, ["q1-0"], models=[unbuilt, MODELS[1]])
    shards = [Shard.read(p) for p in three]
    check_fit(shards)
    assert merge_shards(shards).models[0] == served
