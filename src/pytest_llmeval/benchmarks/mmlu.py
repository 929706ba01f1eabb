"""MMLU: 14,042 four-option questions in 57 subjects (general knowledge)."""

from __future__ import annotations

from ..shipped import shipped
from .data import Row
from .multiple_choice import MultipleChoice, format_options


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
        )
    ]
