"""IFEval: 541 prompts with verifiable instructions (general).

Each item is one prompt of IFEval (Zhou et al., 2023, "Instruction-Following Evaluation for
Large Language Models", arXiv 2311.07911) with one to three instructions such as "answer in
fewer than 300 words" or "do not use any commas". The prompt is sent as the only user
message; the checkers are IFEval's own rules (:mod:`pytest_llmeval.scoring.instructions`).

IFEval reports four accuracies, and so does this benchmark, as metrics whose scorecard figure
over the items scored is IFEval's definition:

- ``prompt_strict`` / ``prompt_loose``: 1 when every instruction of the prompt is followed
  (strict: the reply as it is; loose: any of eight lenient variants of it, as IFEval's
  ``test_instruction_following_loose`` defines them); the scorecard averages them;
- ``instruction_strict`` / ``instruction_loose``: the share of the prompt's instructions
  followed, with its counts (``instructions``, ``instructions_followed_strict``,
  ``instructions_followed_loose``); IFEval's instruction-level accuracy counts instructions,
  not prompts, so the scorecard pools them: instructions followed over instructions given, over
  all the items scored (:mod:`pytest_llmeval.scoring.metrics`).

An item passes on ``prompt_strict``.
"""

from __future__ import annotations

from pathlib import Path

from ..request import Response
from ..scoring.base import Score
from ..scoring.instructions import clean_kwargs, evaluate
from ..shipped import shipped
from .base import Benchmark, Item
from .data import DataSource, Row, load_rows

DATA = "ifeval/input_data.jsonl.gz"


def _ids(row: Row) -> list[str]:
    return list(row["instruction_id_list"])


def _expected(row: Row) -> str:
    return "follows: " + ", ".join(_ids(row))


def score_ifeval(item: Item, response: Response) -> Score:
    """Strict prompt-level pass; metrics carry IFEval's four accuracies (see the module docstring)."""
    row = item.row
    ids = _ids(row)
    kwargs = [clean_kwargs(k) for k in row["kwargs"]]
    result = evaluate(ids, kwargs, response.text)
    return Score(
        passed=result.all_strict,
        answer=f"{sum(result.strict)}/{len(ids)} instructions followed",
        expected=_expected(row),
        metrics={
            "prompt_strict": float(result.all_strict),
            "prompt_loose": float(result.all_loose),
            **result.instruction_metrics(),
        },
        explanation=result.missed_text(),
    )


class IFEval(Benchmark):
    """IFEval's 541 prompts, strict prompt-level pass; ids ``key-1000`` from IFEval's ``key``."""

    def __init__(self, data: DataSource | None = None, *, max_tokens: int = 1024) -> None:
        super().__init__(
            "ifeval",
            capability="general",
            data=data if data is not None else shipped(DATA),
            prompt="{prompt}",
            target=_expected,
            scorer=score_ifeval,
            max_tokens=max_tokens,
            id_field="item_id",
            description="IFEval (541 prompts with verifiable instructions), strict and loose accuracy, "
                        "prompt- and instruction-level",
        )

    def rows(self, base_dir: Path | None = None) -> list[Row]:
        rows = []
        for row in load_rows(self.data, base_dir, self.split):
            row["item_id"] = f"key-{row['key']}"
            rows.append(row)
        return rows


def benchmarks() -> list[Benchmark]:
    """The built-in IFEval benchmark."""
    return [IFEval()]
