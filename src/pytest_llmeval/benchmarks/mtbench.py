"""MT-Bench (general): 80 two-turn questions in 8 categories, each turn graded 1-10 by a judge.

As FastChat runs it: the first question is asked; the second is asked in the same conversation,
after the model's own first answer; the judge (``--llm-judge``, GPT-4 by default) rates each
turn with MT-Bench's published single-answer prompts (``single-v1`` / ``single-v1-multi-turn``,
and with GPT-4's reference answers ``single-math-v1`` / ``single-math-v1-multi-turn`` for math,
reasoning and coding). An item's rating is the mean of its two turns; it passes at 8 or more.
The benchmark's ``rating`` metric is the MT-Bench score (the mean over items and turns), with
``rating_turn1`` and ``rating_turn2`` beside it, comparable with published MT-Bench figures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..scoring.judge import MTBENCH_REFERENCE_CATEGORIES, RatingJudge
from ..shipped import shipped
from .base import Benchmark
from .data import Row, load_rows

DATA = shipped("mtbench/question.jsonl.gz")

#: An answer passes when the judge rates it at least this (see docs/benchmarks-judged.md).
PASS_RATING = 8.0


def _reference(row: Row) -> Any:
    references = row.get("reference")
    if row.get("category") in MTBENCH_REFERENCE_CATEGORIES and references:
        return references[0]
    return None


def _first_turn(row: Row) -> str:
    return str(row["turns"][0])


class MTBench(Benchmark):
    """MT-Bench's 80 two-turn questions, grouped by category; ids like ``q081``."""

    def __init__(self, threshold: float = PASS_RATING) -> None:
        super().__init__(
            "mtbench",
            capability="general",
            data=DATA,
            prompt=_first_turn,
            target=_reference,
            scorer=RatingJudge(threshold),
            # FastChat generates MT-Bench answers with up to 1024 new tokens.
            max_tokens=1024,
            id_field="item_id",
            description="MT-Bench, both turns, single-answer grading 1-10 by --llm-judge",
        )

    def rows(self, base_dir: Path | None = None) -> list[Row]:
        rows = load_rows(self.data, base_dir, self.split)
        for row in rows:
            row["item_id"] = f"q{int(row['question_id']):03d}"
        return rows

    def subset(self, row: Row) -> str | None:
        return str(row.get("category") or "") or None

    def followups(self, row: Row) -> tuple[str, ...]:
        return tuple(str(turn) for turn in row["turns"][1:])


def benchmarks() -> list[Benchmark]:
    """The built-in MT-Bench benchmark."""
    return [MTBench()]
