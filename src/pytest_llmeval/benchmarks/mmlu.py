"""MMLU: 14,042 four-option questions in 57 subjects (general knowledge).

Zero-shot by default. The published figures (GPT-4 86.4, GPT-3.5 70.0) are 5-shot, with the
examples taken from the subject's own questions: ``--llm-protocol=survey`` (or
``mmlu=5-shot``) asks each question after five solved questions of its subject. Only the test
split is shipped, so the five are a seeded pool of that subject's test questions (285 in all),
which are then not evaluated.
"""

from __future__ import annotations

from ..shipped import shipped
from .data import Row
from .fewshot import FewShot
from .multiple_choice import MultipleChoice, format_options

#: The published figures' protocol: five solved questions of the item's own subject.
FEWSHOT = FewShot(group="subject", survey=5)


def _prompt(row: Row) -> str:
    subject = str(row.get("subject", "")).replace("_", " ")
    return (
        f"The following is a multiple choice question about {subject}.\n\n"
        f"{row['question']}\n{format_options(row['choices'])}\n\n"
        "Answer with the letter of the correct option."
    )


def benchmarks() -> list[MultipleChoice]:
    return [
        MultipleChoice(
            "mmlu",
            capability="general",
            data=shipped("mmlu/test.jsonl.gz"),
            prompt=_prompt,
            target="answer",
            description="MMLU test (14,042 questions), zero-shot, letter log-likelihood or extraction",
            fewshot=FEWSHOT,
        )
    ]
