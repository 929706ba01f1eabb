"""GSM8K: grade-school math word problems (reasoning).

Zero-shot with the chat template; the model is asked to end with ``#### N``. Two extractions
are reported: *strict* (the number after ``####``, GSM8K's own format) and *flexible* (the
answer as instruct models state it: "The answer is **18**.", a boxed number, else the last
number). An item passes on the flexible extraction; the scorecard shows both rates.
"""

from __future__ import annotations

from ..scoring import scorers
from ..shipped import shipped
from .base import Benchmark
from .data import Row

PROMPT = (
    "Solve the following math problem step by step. "
    "On the last line, write the final answer as '#### <number>'.\n\n{question}"
)


def _target(row: Row) -> str:
    return str(row["answer"]).rsplit("####", 1)[-1].strip().replace(",", "")


def benchmarks() -> list[Benchmark]:
    return [
        Benchmark(
            "gsm8k",
            capability="reasoning",
            data=shipped("gsm8k/test.jsonl.gz"),
            prompt=PROMPT,
            target=_target,
            scorer=scorers.number(),
            max_tokens=256,
            description="GSM8K test (1,319 problems), zero-shot chain of thought, strict and flexible extraction",
        )
    ]
