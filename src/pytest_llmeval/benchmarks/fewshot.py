"""Few-shot prompting: solved examples shown before each item's question.

A benchmark that offers few-shot prompting says where its examples come from and how their
answers read with a :class:`FewShot`; how many are shown is the benchmark's ``num_fewshot``
or the run's ``--llm-protocol``::

    Benchmark("capitals", ..., num_fewshot=3, fewshot=FewShot(group="continent"))

**Where the examples come from.** ``FewShot(data=...)`` names the benchmark's own few-shot
split (a file, ``hf:OWNER/NAME`` with ``split``, or rows); without it they are a fixed, seeded
*pool* of the benchmark's own rows, and those rows are never evaluated: the pool is chosen by
item identity (a hash of the seed and each row's item id, never its position), before
``--llm-limit`` samples the items, so a limited run, a full run and a run on an edited data
file never ask a question that is also an example. Any item whose content equals an example's
is left out too (MMLU's test split holds identical pairs). With ``group``, each item's
examples are the K drawn from the rows of its own group (MMLU: of its subject). Every item of
a group gets the same K examples, in the same order.

**How they are shown.** Each example is the benchmark's own prompt for that row followed by
its answer (:meth:`~pytest_llmeval.benchmarks.base.Benchmark.fewshot_answer`: the target, or
``FewShot.answer(row)`` for worked solutions). ``style="multi-turn"`` (the default, for chat
models) sends each example as a user message and an assistant reply before the item's own
user message; ``style="one-message"`` puts them all in the item's user message, each example's
prompt followed by ``answer_prefix`` and its answer, separated by blank lines. A system
message stays first either way.

Changing the protocol changes every request, and with it the response cache key and each
item's fingerprint: a pinned gate sees the items as changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal, cast

from ..request import Message, Request
from .data import DataSource, Row

__all__ = [
    "CHAT_STYLES",
    "NO_EXAMPLES",
    "ChatStyle",
    "Example",
    "Examples",
    "FewShot",
    "Protocol",
    "draw_pool",
    "example_turns",
    "group_of",
    "parse_protocol",
    "protocol_label",
    "with_examples",
]

ChatStyle = Literal["multi-turn", "one-message"]
CHAT_STYLES: tuple[ChatStyle, ...] = ("multi-turn", "one-message")
_STYLE_WORDS: dict[str, str] = {"multi-turn": "multi-turn", "one-message": "one message"}


@dataclass(frozen=True)
class FewShot:
    """Where a benchmark's few-shot examples come from and how they read (see the module docstring).

    ``data``: the benchmark's few-shot split (``split`` is read for ``hf:`` sources); None draws
    a seeded pool of the benchmark's own rows, which are then not evaluated. ``group``: a row
    field; each item's examples come from rows with the same value. ``answer``: the example's
    reply from its row (default: the target as text). ``chain_of_thought``: the answers are
    worked solutions (the protocol's label says so). ``style``: the default chat formatting.
    ``answer_prefix``: what precedes an answer in the one-message style. ``survey``: the number
    of examples of the published figures' protocol, used by ``--llm-protocol=survey`` (None:
    the published figures are zero-shot, or there are none). ``seed`` chooses the pool.
    """

    data: DataSource | None = None
    split: str = "train"
    group: str | None = None
    answer: Callable[[Row], str] | None = None
    chain_of_thought: bool = False
    style: ChatStyle = "multi-turn"
    answer_prefix: str = "Answer: "
    survey: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.style not in CHAT_STYLES:
            raise ValueError(f"FewShot style must be one of {', '.join(CHAT_STYLES)}, got {self.style!r}")
        if self.survey is not None and (not isinstance(self.survey, int) or self.survey < 0):
            raise ValueError(f"FewShot survey must be a number of examples (0 or more), got {self.survey!r}")


@dataclass(frozen=True)
class Example:
    """One solved example: the benchmark's prompt for its row, and the answer shown after it."""

    prompt: str
    answer: str


@dataclass(frozen=True)
class Examples:
    """The examples of a benchmark's run: per value of the ``group`` field (the key None without
    groups), and the positions of the rows that must not be evaluated (the pool's rows, and any
    row equal to an example)."""

    by_group: Mapping[str | None, tuple[Example, ...]] = field(default_factory=dict)
    excluded: frozenset[int] = frozenset()
    group: str | None = None

    def of(self, row: Row) -> tuple[Example, ...]:
        """The examples shown before this row's question (none in a zero-shot run)."""
        if not self.by_group:
            return ()
        return self.by_group.get(group_of(row, self.group), ())


#: A zero-shot run: no examples, nothing excluded.
NO_EXAMPLES = Examples()


def draw_pool(name: str, seed: int, keys: Sequence[str], groups: Sequence[str | None], contents: Sequence[str],
              shots: int) -> dict[str | None, list[int]]:
    """Positions of the ``shots`` examples of each group, in the order they are shown.

    Rows are ranked by SHA-256 of ``pytest-llmeval:fewshot:<name>:<seed>:<key>`` (``key``: the
    row's item id, or its content id for a separate split) and each group takes its first
    ``shots`` rows, skipping a row whose ``contents`` equals one already taken. The choice
    depends on the rows' identities only: reordering the data never changes it, and removing
    or adding a row changes it only when that row is, or ranks before, an example of its
    group. A group with fewer distinct rows gets fewer (the caller refuses that).
    """
    def rank(i: int) -> bytes:
        return hashlib.sha256(f"pytest-llmeval:fewshot:{name}:{seed}:{keys[i]}".encode()).digest()

    chosen: dict[str | None, list[int]] = {group: [] for group in groups}
    seen: dict[str | None, set[str]] = {group: set() for group in groups}
    for i in sorted(range(len(keys)), key=rank):
        group = groups[i]
        if len(chosen[group]) < shots and contents[i] not in seen[group]:
            chosen[group].append(i)
            seen[group].add(contents[i])
    return chosen


def with_examples(request: Request, examples: Sequence[Example], style: ChatStyle, answer_prefix: str = "Answer: ") -> Request:
    """``request`` with ``examples`` before its question (see the module docstring for the two
    styles). A request made of a plain ``prompt`` gets them as text before it. Raises
    :class:`ValueError` when its messages are not one user message after optional system ones."""
    if not examples:
        return request
    if not request.messages:
        assert request.prompt is not None
        return replace(request, prompt=_one_message(examples, request.prompt, answer_prefix))
    start = 0
    while start < len(request.messages) and request.messages[start].role == "system":
        start += 1
    head, rest = request.messages[:start], request.messages[start:]
    if len(rest) != 1 or rest[0].role != "user":
        raise ValueError("few-shot examples need the benchmark's prompt to be one user message (after an optional "
                         f"system message); this request has {[m.role for m in request.messages]}")
    question = rest[0].content
    if style == "one-message":
        shown = [Message("user", _one_message(examples, question, answer_prefix))]
    else:
        shown = [*example_turns(tuple(examples)), Message("user", question)]
    return replace(request, messages=(*head, *shown))


@lru_cache(maxsize=1024)
def example_turns(examples: tuple[Example, ...]) -> tuple[Message, ...]:
    """The examples as multi-turn chat: each a user message and the assistant's answer. Made
    once per set of examples (every item of a group shares them)."""
    return tuple(m for e in examples for m in (Message("user", e.prompt), Message("assistant", e.answer)))


def _one_message(examples: Sequence[Example], question: str, answer_prefix: str) -> str:
    return "\n\n".join([*(f"{e.prompt}\n{answer_prefix}{e.answer}" for e in examples), question])


def protocol_label(shots: int, chain_of_thought: bool, style: ChatStyle) -> str | None:
    """How a run's answers were asked for, as reports show it: ``"5-shot (multi-turn)"``,
    ``"8-shot chain of thought (one message)"``; None for zero-shot (the plugin's plain prompt)."""
    if shots == 0:
        return None
    kind = " chain of thought" if chain_of_thought else ""
    return f"{shots}-shot{kind} ({_STYLE_WORDS[style]})"


@dataclass(frozen=True)
class Protocol:
    """A run's choice of protocol for a benchmark (``--llm-protocol``): ``shots`` examples
    (None: the published figures' protocol, ``survey``) and optionally a chat ``style``."""

    shots: int | None
    style: ChatStyle | None = None

    def __str__(self) -> str:
        shots = "survey" if self.shots is None else "zero-shot" if self.shots == 0 else f"{self.shots}-shot"
        return shots if self.style is None else f"{shots}:{self.style}"


_SHOTS = re.compile(r"(\d+)-shot")


def parse_protocol(text: str) -> Protocol:
    """``"zero-shot"``, ``"5-shot"``, ``"survey"``, each optionally followed by ``":multi-turn"`` or
    ``":one-message"``; raises :class:`ValueError` saying what is allowed.

    >>> parse_protocol("5-shot:one-message")
    Protocol(shots=5, style='one-message')
    """
    shots_text, sep, style = text.strip().lower().partition(":")
    allowed = ("expected zero-shot, K-shot (such as 5-shot) or survey, optionally followed by ':multi-turn' or "
               f"':one-message', got {text!r}")
    shots: int | None
    if shots_text == "survey":
        shots = None
    elif shots_text == "zero-shot":
        shots = 0
    elif (match := _SHOTS.fullmatch(shots_text)) is not None:
        shots = int(match.group(1))
    else:
        raise ValueError(allowed)
    if sep and style not in CHAT_STYLES:
        raise ValueError(allowed)
    return Protocol(shots, cast(ChatStyle, style) if style else None)


def group_of(row: Row, group: str | None) -> str | None:
    """The row's value of the ``group`` field as text (None without groups); KeyError when absent."""
    if group is None:
        return None
    return str(row[group])
