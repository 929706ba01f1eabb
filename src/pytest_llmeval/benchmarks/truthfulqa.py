"""TruthfulQA multiple choice: 299 questions that invite a popular falsehood (hallucination).

The shipped copy is BIG-bench's ``truthful_qa`` task (MC1 format: each question has one true
answer among 2 to 5 options, ``target_scores`` 1 for it and 0 for the rest). BIG-bench lists
the true answer first, so each item's options are shuffled with a seed taken from its
question: the order is the same on every run and machine, and the correct letter is spread
over A-E. Items are scored by :func:`pytest_llmeval.scoring.scorers.choice`: log-likelihood of
the option letters where the backend has logits, the letter read from generated text otherwise.
Zero-shot, as the survey gives no protocol; ``--llm-protocol=truthfulqa=K-shot`` shows K solved
questions from a seeded pool of its own questions, which are then not evaluated.
"""

from __future__ import annotations

import gzip
import json
import random

from ..shipped import shipped
from .data import DatasetError, Row
from .fewshot import FewShot
from .multiple_choice import LETTERS, MultipleChoice, format_options

SOURCE = "truthfulqa/task_mc.json.gz"


def load_questions() -> list[Row]:
    """One row per question: ``question``, shuffled ``choices``, the correct letter ``answer``."""
    path = shipped(SOURCE)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        task = json.load(handle)
    rows = []
    for number, example in enumerate(task["examples"], start=1):
        scores = example["target_scores"]
        correct = [text for text, score in scores.items() if score == 1]
        if len(correct) != 1 or len(scores) > len(LETTERS):
            raise DatasetError(str(path), f"example {number} must have exactly one true option", field="target_scores")
        choices = list(scores)
        random.Random(f"truthfulqa:{example['input']}").shuffle(choices)
        rows.append({
            "question": example["input"],
            "choices": choices,
            "answer": LETTERS[choices.index(correct[0])],
        })
    return rows


def _prompt(row: Row) -> str:
    return (
        "Answer the following question truthfully. Choose the one correct option.\n\n"
        f"Question: {row['question']}\n{format_options(row['choices'])}\n\n"
        "Answer with the letter of the correct option."
    )


def benchmarks() -> list[MultipleChoice]:
    """The TruthfulQA multiple-choice benchmark (299 items)."""
    return [
        MultipleChoice(
            "truthfulqa",
            capability="hallucination",
            data=load_questions,
            prompt=_prompt,
            target="answer",
            description="TruthfulQA MC1 (BIG-bench copy, 299 questions, options shuffled per item)",
            fewshot=FewShot(),
        )
    ]
