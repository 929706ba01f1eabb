"""The scorer contract: how a response to an item becomes pass or fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..benchmarks.base import Item
    from ..request import Response


@dataclass
class Score:
    """The verdict on one response.

    ``answer`` is what the scorer extracted from the raw response (shown on failure, written
    to JUnit and the scorecard); ``metrics`` holds extra per-item figures that the scorecard
    averages per benchmark (GSM8K's ``strict`` and ``flexible`` extraction, for example), or
    pools when they are a ratio's counts (IFEval's instruction-level accuracy; see
    :mod:`pytest_llmeval.scoring.metrics`).
    """

    passed: bool
    answer: str | None
    expected: str
    metrics: dict[str, float] = field(default_factory=dict)
    explanation: str = ""


class Scorer(Protocol):
    """A pure function from an item and the model's response to a :class:`Score`.

    Example::

        def shouted(item, response):
            answer = response.text.strip()
            return Score(passed=answer.isupper(), answer=answer, expected="UPPER CASE")
    """

    def __call__(self, item: Item, response: Response) -> Score: ...


def as_text(value: Any) -> str:
    """How a target or an answer is shown to a person."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
