"""What a benchmark is: rows of data, a prompt, a target, a scorer, a capability.

A user's own benchmark is a :class:`Benchmark` assigned to a ``test_*`` name in a test file::

    from pytest_llmeval import Benchmark, scorers

    test_capitals = Benchmark(
        name="capitals",
        capability="geography",
        data="capitals.jsonl",                 # relative to this test file
        prompt="What is the capital of {country}? Answer with the city only.",
        target="capital",                      # a field of each row, or a callable
        scorer=scorers.includes(),
    )

Built-in benchmarks are instances (or small subclasses) of the same class.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..request import Message, Request
from ..scoring.base import Score, Scorer, as_text
from .data import DatasetError, DataSource, Row, describe_source, load_rows

PromptSpec = Union[str, Callable[[Row], str | Sequence[Message] | Request]]
TargetSpec = Union[str, Callable[[Row], Any]]


@dataclass(frozen=True, eq=False)
class Item:
    """One benchmark item: one collected test per model.

    ``requests`` lists what to ask, in order of preference: the engine sends the first one
    the model's backend supports (multiple choice prefers log-likelihood, then generation).
    """

    benchmark: Benchmark
    id: str
    requests: tuple[Request, ...]
    target: Any
    row: Row = field(repr=False)
    #: A finer group inside the benchmark for the scorecard (a needle length, an XSTest label).
    subset: str | None = None

    @property
    def capability(self) -> str:
        return self.benchmark.capability

    def score(self, response: Any) -> Score:
        return self.benchmark.scorer(self, response)


class Benchmark:
    """A set of items scored the same way, counted under one capability.

    Parameters are keyword-only past ``name``; see the module docstring for an example.
    ``prompt`` is a ``str.format`` template over the row's fields, or a callable returning the
    user message text, a list of messages, or a whole :class:`Request`. ``target`` is a field
    name or a callable. ``system`` adds a system message. ``max_tokens`` bounds generation.
    ``id_field`` names a row field to use in test ids instead of the row's position.
    """

    def __init__(
        self,
        name: str,
        *,
        capability: str,
        data: DataSource,
        prompt: PromptSpec,
        target: TargetSpec,
        scorer: Scorer,
        system: str | None = None,
        max_tokens: int = 256,
        stop: Sequence[str] = (),
        split: str = "test",
        id_field: str | None = None,
        description: str = "",
    ) -> None:
        if not name or any(c not in _ID_CHARS for c in name):
            raise ValueError(f"benchmark name {name!r} must be non-empty and use only letters, digits, '_', '-' and '.'")
        if not capability:
            raise ValueError(f"benchmark {name!r} needs a capability name")
        self.name = name
        self.capability = capability
        self.data = data
        self.prompt = prompt
        self.target = target
        self.scorer = scorer
        self.system = system
        self.max_tokens = max_tokens
        self.stop = tuple(stop)
        self.split = split
        self.id_field = id_field
        self.description = description

    #: Whether scoring runs model-written code: such items are skipped unless the user allowed
    #: code execution (``--llm-allow-code-execution``), before anything is inferred.
    executes_code: bool = False

    def __repr__(self) -> str:
        return f"<Benchmark {self.name} ({self.capability})>"

    def each(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate a test to run once per item, with your own assertions::

            @capitals.each
            def test_one_word(llm_item, llm_response):
                assert len(llm_response.text.split()) == 1

        Responses are answered in batches ahead of the tests, like built-in items.
        """
        import pytest

        return pytest.mark.llmeval_benchmark(self)(function)

    # -- turning data into items -------------------------------------------------------------

    def rows(self, base_dir: Path | None = None) -> list[Row]:
        """All rows, in a fixed order. Subclasses that generate items override this."""
        return load_rows(self.data, base_dir, self.split)

    def items(self, base_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The benchmark's items; with ``limit``, a seeded sample that is the same every run."""
        rows = self.rows(base_dir)
        indices = sample_indices(self.name, len(rows), limit)
        width = max(4, len(str(len(rows) - 1)))
        source = describe_source(self.data)
        return [self.make_item(rows[i], i, width, source) for i in indices]

    def make_item(self, row: Row, index: int, width: int, source: str) -> Item:
        line = row.pop("__line__", None)
        try:
            requests = self.make_requests(row)
            target = self.target(row) if callable(self.target) else _field(row, self.target)
        except DatasetError:
            raise
        except _MissingField as exc:
            raise DatasetError(source, f"row has no field {exc.args[0]!r} (fields: {', '.join(sorted(row)) or 'none'})",
                               line=line if line is not None else index + 1, field=exc.args[0]) from None
        except Exception as exc:
            raise DatasetError(source, f"row {index} could not be turned into an item: {type(exc).__name__}: {exc}",
                               line=line) from None
        default_id = f"{self.split}-{index:0{width}d}"
        item_id = default_id if self.id_field is None else _safe_id(as_text(_field(row, self.id_field)))
        return Item(self, item_id, requests, target, row, self.subset(row))

    def make_requests(self, row: Row) -> tuple[Request, ...]:
        """What to ask for one row, most preferred first. Multiple choice overrides this."""
        return (self.generate_request(row),)

    def subset(self, row: Row) -> str | None:
        """The row's subset for the scorecard; none by default."""
        return None

    def messages(self, row: Row) -> tuple[Message, ...]:
        prompt = self.prompt(row) if callable(self.prompt) else _format(self.prompt, row)
        if isinstance(prompt, Request):
            raise TypeError("prompt returned a Request where messages were expected")
        if isinstance(prompt, str):
            prompt = (Message("user", prompt),)
        messages = tuple(prompt)
        if self.system is not None:
            messages = (Message("system", self.system), *messages)
        return messages

    def generate_request(self, row: Row) -> Request:
        if callable(self.prompt):
            made = self.prompt(row)
            if isinstance(made, Request):
                return made
        return Request(messages=self.messages(row), max_tokens=self.max_tokens, stop=self.stop)


_ID_CHARS = set(string.ascii_letters + string.digits + "_-.")


class _MissingField(KeyError):
    pass


class _Row(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> Any:
        raise _MissingField(key)


def _format(template: str, row: Mapping[str, Any]) -> str:
    return template.format_map(_Row(row))


def _field(row: Mapping[str, Any], name: str) -> Any:
    if name not in row:
        raise _MissingField(name)
    return row[name]


def _safe_id(text: str) -> str:
    return "".join(c if c in _ID_CHARS else "_" for c in text)[:80] or "_"


def sample_indices(name: str, total: int, limit: int | None) -> list[int]:
    """A deterministic sample of ``limit`` row positions out of ``total``, in order.

    Seeded by the benchmark's name, so the same items are chosen on every run and machine, and
    a larger limit keeps every item of a smaller one only by chance (it is a fresh sample).
    """
    if limit is None or limit >= total:
        return list(range(total))
    return sorted(random.Random(f"pytest-llmeval:{name}").sample(range(total), limit))
