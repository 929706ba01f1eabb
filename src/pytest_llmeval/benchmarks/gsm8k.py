"""GSM8K: grade-school math word problems (reasoning).

Zero-shot with the chat template; the model is asked to end with ``#### N``. Two extractions
are reported: *strict* (the number after ``####``, GSM8K's own format) and *flexible* (the
answer as instruct models state it: "The answer is **18**.", a boxed number, else the last
number). An item passes on the flexible extraction; the scorecard shows both rates.

``--llm-protocol=survey`` (or ``gsm8k=8-shot``) asks each problem after eight solved ones,
8-shot chain of thought: each example is the plugin's prompt for a problem and GSM8K's own
reference solution (:func:`worked_solution`: its ``<<48/2=24>>`` calculator annotations
removed, its ``#### N`` last line kept, as the prompt asks). Only the test split is shipped,
so the eight are a seeded pool of test problems, which are then not evaluated (1,311 remain).
"""

from __future__ import annotations

import re

from ..scoring import scorers
from ..shipped import shipped
from .base import Benchmark
from .data import Row
from .fewshot import FewShot

PROMPT = (
    "Solve the following math problem step by step. "
    "On the last line, write the final answer as '#### <number>'.\n\n{question}"
)


_CALCULATOR = re.compile(r"<<[^<>]*>>")


def _target(row: Row) -> str:
    return str(row["answer"]).rsplit("####", 1)[-1].strip().replace(",", "")


def worked_solution(row: Row) -> str:
    """A problem's reference solution as a few-shot answer: GSM8K's calculator annotations
    removed, its final ``#### N`` line kept.

    >>> worked_solution({"answer": "She sold 48/2 = <<48/2=24>>24 clips.\n#### 24"})
    'She sold 48/2 = 24 clips.\n#### 24'
    """
    return _CALCULATOR.sub("", str(row["answer"])).strip()


#: The survey's protocol: eight worked solutions before the problem (chain of thought).
FEWSHOT = FewShot(answer=worked_solution, chain_of_thought=True, survey=8)


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
            fewshot=FEWSHOT,
        )
    ]
