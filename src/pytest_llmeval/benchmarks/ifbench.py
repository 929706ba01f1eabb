"""IFBench: prompts with verifiable output constraints (general).

Each item is one IFBench test prompt (AllenAI, 2025) with one or two constraints such as
"include exactly 2 numbers" or "write each word on a new line"; the checkers live in
:mod:`pytest_llmeval.scoring.instructions`. An item passes when every constraint is followed
in *strict* mode; the scorecard also reports *loose* prompt-level accuracy and, as IFBench's
evaluation does, instruction-level accuracy: constraints followed over constraints given, pooled
over all the items scored (strict and loose; see :mod:`pytest_llmeval.scoring.metrics`).

Prompts whose constraints are not all implemented are left out (listed by
:func:`unsupported_rows`; see docs/benchmarks-reasoning-context.md).
"""

from __future__ import annotations

from pathlib import Path

from ..request import Response
from ..scoring.base import Score
from ..scoring.instructions import UNSUPPORTED, clean_kwargs, evaluate, supported
from ..shipped import shipped
from .base import Benchmark, Item
from .data import DataSource, Row, load_rows


def _ids(row: Row) -> list[str]:
    return list(row["instruction_id_list"])


def _expected(row: Row) -> str:
    return "follows: " + ", ".join(_ids(row))


def score_ifbench(item: Item, response: Response) -> Score:
    """Strict pass when every constraint holds; metrics carry ``strict`` and ``loose`` (prompt level,
    1 or 0) and the instruction-level share and counts that the scorecard pools (see
    :meth:`pytest_llmeval.scoring.instructions.Evaluation.instruction_metrics`)."""
    row = item.row
    ids = _ids(row)
    result = evaluate(ids, [clean_kwargs(k) for k in row["kwargs"]], response.text)
    return Score(
        passed=result.all_strict,
        answer=f"{sum(result.strict)}/{len(ids)} constraints followed",
        expected=_expected(row),
        metrics={
            "strict": float(result.all_strict),
            "loose": float(result.all_loose),
            **result.instruction_metrics(),
        },
        explanation=result.missed_text(),
    )


def _unsupported_ids(row: Row) -> list[str]:
    return [i for i in _ids(row) if not supported(i)]


class IFBench(Benchmark):
    """IFBench test prompts whose constraints all have checkers (strict prompt-level pass)."""

    def __init__(self, data: DataSource | None = None, *, max_tokens: int = 1024) -> None:
        super().__init__(
            "ifbench",
            capability="general",
            data=data if data is not None else shipped("ifbench/IFBench_test.jsonl.gz"),
            prompt="{prompt}",
            target=_expected,
            scorer=score_ifbench,
            max_tokens=max_tokens,
            id_field="item_id",
            description="IFBench test prompts with verifiable constraints, strict prompt-level accuracy "
                        f"(constraint types without a checker left out: {', '.join(sorted(UNSUPPORTED))})",
        )

    def rows(self, base_dir: Path | None = None) -> list[Row]:
        rows = []
        for row in load_rows(self.data, base_dir, self.split):
            if _unsupported_ids(row):
                continue
            row["item_id"] = f"key-{int(row['key']):03d}" if str(row.get("key", "")).isdigit() else str(row.get("key"))
            rows.append(row)
        return rows


def unsupported_rows(data: DataSource | None = None) -> list[tuple[str, list[str]]]:
    """The prompts left out, as (key, instruction ids without a checker)."""
    source = data if data is not None else shipped("ifbench/IFBench_test.jsonl.gz")
    return [(str(row.get("key")), missing) for row in load_rows(source) if (missing := _unsupported_ids(row))]


def benchmarks() -> list[Benchmark]:
    return [IFBench()]
