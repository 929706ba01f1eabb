"""Multiple choice: log-likelihood of the option letters where the backend has logits,
letter extraction from generated text where it does not."""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

from ..request import Request
from ..scoring import scorers
from .base import Benchmark
from .data import DataSource, Row
from .fewshot import FewShot

LETTERS = string.ascii_uppercase


def format_options(choices: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(choices))


class MultipleChoice(Benchmark):
    """A benchmark whose rows carry ``choices`` (option texts) and a correct letter target.

    Each item asks first for the log-likelihood of each option letter right after the prompt
    (one forward pass for all letters), and falls back to generation + letter extraction on
    backends without logits. Both paths are scored by :func:`scorers.choice`. Few-shot examples
    (``num_fewshot``, ``fewshot``) answer with their correct letter, in both paths.
    """

    def __init__(self, name: str, *, capability: str, data: DataSource, prompt: Callable[[Row], str],
                 target: str | Callable[[Row], Any], description: str = "", generate_tokens: int = 48,
                 num_fewshot: int = 0, fewshot: FewShot | None = None) -> None:
        super().__init__(name, capability=capability, data=data, prompt=prompt, target=target,
                         scorer=scorers.choice(), max_tokens=generate_tokens, description=description,
                         num_fewshot=num_fewshot, fewshot=fewshot)

    def make_requests(self, row: Row) -> tuple[Request, ...]:
        messages = self.messages(row)
        letters = tuple(LETTERS[: len(row["choices"])])
        return (
            Request(messages=messages, kind="loglikelihood", choices=letters, max_tokens=1),
            Request(messages=messages, max_tokens=self.max_tokens),
        )
