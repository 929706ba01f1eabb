"""AlpacaEval 1.0 (general): 805 instructions, the model's answer judged against text-davinci-003's.

The judge (``--llm-judge``, GPT-4 by default) sees the instruction and both outputs in
AlpacaEval's ``alpaca_eval_gpt4`` prompt, in an order randomised per instruction, and ranks
them. An item passes when the judge prefers the model's output. The benchmark's
``win_rate`` metric counts a draw (an output identical to the reference) as half a win, as
AlpacaEval does, so its mean is comparable with the published leaderboard figures.

The reference outputs are the text-davinci-003 outputs that the published GPT-4 verdicts were
given on (``output_1`` of AlpacaEval's annotation files).
"""

from __future__ import annotations

from ..scoring.judge import PairwiseJudge
from ..shipped import shipped
from .base import Benchmark
from .data import Row

DATA = shipped("alpaca_eval/alpaca_eval.jsonl.gz")


class AlpacaEval(Benchmark):
    """The AlpacaEval 1.0 evaluation set, one item per instruction, grouped by source dataset."""

    def __init__(self) -> None:
        super().__init__(
            "alpaca_eval",
            capability="general",
            data=DATA,
            prompt="{instruction}",
            target="reference",
            scorer=PairwiseJudge(),
            # Long answers are normal here; a cut-off answer would lose to the reference.
            max_tokens=2048,
            description="AlpacaEval 1.0: pairwise preference against text-davinci-003, judged by --llm-judge",
        )

    def subset(self, row: Row) -> str | None:
        return str(row.get("dataset") or "") or None


def benchmarks() -> list[Benchmark]:
    """The built-in AlpacaEval benchmark."""
    return [AlpacaEval()]
