"""MT-Bench (general): 80 questions in 8 categories, the first turn graded 1-10 by a judge.

The judge (``--llm-judge``, GPT-4 by default) receives MT-Bench's published single-answer
prompt: ``single-math-v1`` with GPT-4's reference answer for math, reasoning and coding,
``single-v1`` otherwise. An item passes at a rating of 8 or more; the benchmark's ``rating``
metric is the mean rating, the first-turn MT-Bench score.

Only the first turn is asked: the second turn's prompt contains the model's own first answer,
so it cannot be built before the model has answered. Published MT-Bench scores average both
turns; compare the ``rating`` metric with published first-turn figures.
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
    """MT-Bench's 80 questions, first turn only, grouped by category; ids like ``q081``."""

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
            description="MT-Bench first turn, single-answer grading 1-10 by --llm-judge",
        )

    def rows(self, base_dir: Path | None = None) -> list[Row]:
        rows = load_rows(self.data, base_dir, self.split)
        for row in rows:
            row["item_id"] = f"q{int(row['question_id']):03d}"
        return rows

    def subset(self, row: Row) -> str | None:
        return str(row.get("category") or "") or None


def benchmarks() -> list[Benchmark]:
    """The built-in MT-Bench benchmark."""
    return [MTBench()]
