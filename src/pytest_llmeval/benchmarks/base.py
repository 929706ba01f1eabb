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

import copy
import hashlib
import json
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Union

from ..request import Message, Request, Response
from ..scoring.base import Score, Scorer, as_text
from .data import LINE, DatasetError, DataSource, Row, describe_source, load_rows
from .fewshot import NO_EXAMPLES, Example, Examples, FewShot, Protocol, draw_pool, group_of, protocol_label, with_examples

PromptSpec = Union[str, Callable[[Row], str | Sequence[Message] | Request]]
TargetSpec = Union[str, Callable[[Row], Any]]


@dataclass(frozen=True, eq=False)
class Item:
    """One benchmark item: one collected test per model.

    ``id`` is stable and unique within its benchmark: the row's ``id_field`` value, else an id
    derived from the row's content (never its position), so editing, adding, removing or
    reordering other rows never changes it. ``requests`` lists what to ask, in order of
    preference: the engine sends the first one the model's backend supports (multiple choice
    prefers log-likelihood, then generation).
    """

    benchmark: Benchmark
    id: str
    requests: tuple[Request, ...]
    target: Any
    row: Row = field(repr=False)
    #: A finer group inside the benchmark for the scorecard (a needle length, an XSTest label).
    subset: str | None = None
    #: The capability the item counts under (the benchmark's, or the row's own).
    capability: str = ""
    #: The row's line in its file (its position in a Python list), for messages; None if unknown.
    line: int | None = None
    #: The user's later turns of a multi-turn item (MT-Bench's second question), asked each with
    #: the model's own earlier answers in the conversation.
    followups: tuple[str, ...] = ()
    #: How it is asked when not by the plain prompt: ``"5-shot (multi-turn)"``; None when zero-shot.
    protocol: str | None = None

    @property
    def key(self) -> str:
        """``"benchmark[id]"``: the item's name in gate messages, pins and requests."""
        return item_key(self.benchmark.name, self.id)

    @cached_property
    def fingerprint(self) -> str:
        """What was asked and what was expected, hashed (16 hex digits of SHA-256): a pinned gate
        compares an item only while this is unchanged. Generation settings count; the item's
        own name and sample index do not."""
        asked = [{k: v for k, v in r.identity().items() if k not in ("item", "sample")} for r in self.requests]
        blob = json.dumps({"asked": asked, "followups": list(self.followups), "expected": as_text(self.target)},
                          sort_keys=True, ensure_ascii=False,
                          default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def score(self, response: Any) -> Score:
        return self.benchmark.scorer(self, response)

    def protocol_of(self, response: Response | None) -> str | None:
        """How an answer to this item was made, when not by the plain zero-shot prompt: a
        recording's own protocol (``response.meta["protocol"]``), else the run's (:attr:`protocol`)."""
        recorded = response.meta.get("protocol") if response is not None else None
        return recorded or self.protocol

    def with_generation(self, **settings: Any) -> Item:
        """The item with generation settings (``temperature``, ``top_p``, ``seed``,
        ``max_tokens``) replaced in its generation requests."""
        if not settings:
            return self
        requests = tuple(replace(r, **settings) if r.kind == "generate" else r for r in self.requests)
        return replace(self, requests=requests)

    def sample(self, index: int) -> tuple[Request, ...]:
        """The requests of the item's ``index``-th sample (``--llm-repeats``): each generation
        request carries its sample index, so K samples are K requests, each cached. Scoring by
        log-likelihood draws nothing, so every sample shares its one request."""
        if index == 0:
            return self.requests
        return tuple(replace(r, sample=index) if r.kind == "generate" else r for r in self.requests)


def item_key(benchmark: str, item_id: str) -> str:
    """How an item is named across the run: ``item_key("gsm8k", "janet-s-ducks-1a2b3c4d5e")``
    is ``"gsm8k[janet-s-ducks-1a2b3c4d5e]"``, the spelling of its test id."""
    return f"{benchmark}[{item_id}]"


CapabilitySpec = Union[str, Callable[[Row], str]]


class Benchmark:
    """A set of items scored the same way, counted under one capability.

    Parameters are keyword-only past ``name``; see the module docstring for an example.
    ``prompt`` is a ``str.format`` template over the row's fields, or a callable returning the
    user message text, a list of messages, or a whole :class:`Request`. ``target`` is a field
    name or a callable. ``capability`` is a name, a ``str.format`` template over the row's
    fields (``"{topic}"``: one capability per value of the ``topic`` column), or a callable
    returning the row's capability name. ``system`` adds a system message. ``max_tokens``
    bounds generation; ``temperature``, ``top_p`` and ``seed`` set sampling for this benchmark
    (the run's ``--llm-temperature`` etc. override them). ``id_field`` names the row field that
    identifies each item (unique, stable across edits of the data); without it, ids derive
    from each row's content. ``num_fewshot`` solved examples precede each question, drawn and
    shown as ``fewshot`` says (:class:`~pytest_llmeval.benchmarks.fewshot.FewShot`; by default a
    seeded pool of the benchmark's own rows, which are then not evaluated); a benchmark with a
    ``fewshot`` can also be run few-shot by ``--llm-protocol``. See docs/writing-benchmarks.md.
    """

    #: Whether scoring runs model-written code: such items are skipped unless the user allowed
    #: code execution (``--llm-allow-code-execution``), before anything is inferred.
    executes_code: bool = False

    def __init__(
        self,
        name: str,
        *,
        capability: CapabilitySpec,
        data: DataSource,
        prompt: PromptSpec,
        target: TargetSpec,
        scorer: Scorer,
        system: str | None = None,
        max_tokens: int = 256,
        stop: Sequence[str] = (),
        split: str = "test",
        id_field: str | None = None,
        temperature: float = 0.0,
        top_p: float | None = None,
        seed: int | None = None,
        description: str = "",
        num_fewshot: int = 0,
        fewshot: FewShot | None = None,
    ) -> None:
        if not name or any(c not in _ID_CHARS for c in name):
            raise ValueError(f"benchmark name {name!r} must be non-empty and use only letters, digits, '_', '-' and '.'")
        if not (callable(capability) or (isinstance(capability, str) and capability.strip())):
            raise ValueError(f"benchmark {name!r}: capability must be a name such as 'reasoning', a template such as "
                             f"'{{topic}}', or a function of the row returning a name; got {capability!r}")
        check_generation(f"benchmark {name!r}", max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
        if not isinstance(num_fewshot, int) or isinstance(num_fewshot, bool) or num_fewshot < 0:
            raise ValueError(f"benchmark {name!r}: num_fewshot must be a whole number of examples (0 or more), "
                             f"got {num_fewshot!r}")
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
        self.temperature = temperature
        self.top_p = top_p
        #: The sampling seed sent with each request (``seed=``; subclasses may use ``seed`` for data).
        self.sampling_seed = seed
        self.description = description
        #: How many solved examples precede each question (0: zero-shot, the plain prompt).
        self.num_fewshot = num_fewshot
        #: Where the examples come from; None when the benchmark offers no few-shot prompting.
        self.fewshot = fewshot if fewshot is not None or num_fewshot == 0 else FewShot()

    def __repr__(self) -> str:
        return f"<Benchmark {self.name} ({self.capability_label})>"

    @property
    def capability_label(self) -> str:
        """The capability as a fixed name, or how it is chosen per row."""
        if callable(self.capability):
            return f"per row: {getattr(self.capability, '__name__', 'function')}()"
        return self.capability

    @property
    def fixed_capability(self) -> str | None:
        """The capability every item counts under, or None when it is chosen per row."""
        if callable(self.capability) or "{" in self.capability:
            return None
        return self.capability

    # -- few-shot prompting ----------------------------------------------------------------------

    @property
    def protocol(self) -> str | None:
        """How the items are asked when not zero-shot, as reports show it: ``"5-shot (multi-turn)"``."""
        if self.fewshot is None or self.num_fewshot == 0:
            return None
        return protocol_label(self.num_fewshot, self.fewshot.chain_of_thought, self.fewshot.style)

    def with_protocol(self, protocol: Protocol) -> Benchmark:
        """This benchmark asked as ``protocol`` says (``--llm-protocol``): a copy with the same name
        and item ids. ``survey`` takes the published figures' number of examples
        (``FewShot.survey``) and leaves a benchmark without one as it is. Raises
        :class:`ValueError` when examples are asked of a benchmark that has no ``fewshot``."""
        shots = protocol.shots
        if shots is None:
            if self.fewshot is None or self.fewshot.survey is None:
                return self
            shots = self.fewshot.survey
        if self.fewshot is None:
            if shots == 0:
                return self
            raise ValueError(f"benchmark {self.name!r} offers no few-shot examples (it was made without "
                             "fewshot=FewShot(...)): run it zero-shot")
        changed = copy.copy(self)
        changed.num_fewshot = shots
        if protocol.style is not None:
            changed.fewshot = replace(self.fewshot, style=protocol.style)
        return changed

    def fewshot_answer(self, row: Row) -> str:
        """The answer a few-shot example shows after its question: ``FewShot.answer(row)``, else
        the row's target as text. Override it for worked solutions."""
        if self.fewshot is not None and self.fewshot.answer is not None:
            return self.fewshot.answer(row)
        return as_text(self.target(row) if callable(self.target) else _field(row, self.target))

    def example(self, row: Row) -> Example:
        """A row as a solved example: the user message of the benchmark's prompt for it, and
        :meth:`fewshot_answer`. Raises TypeError when the prompt is not one user message."""
        messages = [m for m in self.messages(row) if m.role != "system"]
        if len(messages) != 1 or messages[0].role != "user":
            raise TypeError("few-shot examples need the benchmark's prompt to be one user message, got "
                            f"{[m.role for m in messages]}")
        return Example(messages[0].content, self.fewshot_answer(row))

    def examples(self, rows: list[Row], ids: list[str], base_dir: Path | None = None) -> Examples:
        """The few-shot examples of a run on ``rows`` (the benchmark's rows, ``ids`` their item
        ids) and the rows they take out of the evaluation; :data:`NO_EXAMPLES` when zero-shot.
        Raises :class:`DatasetError` naming the source, line and field when an example cannot be
        made or a group has fewer than ``num_fewshot`` different rows."""
        spec = self.fewshot
        if spec is None or self.num_fewshot == 0:
            return NO_EXAMPLES
        contents = [content_id(row) for row in rows]
        if spec.data is None:
            pool, keys, pool_contents, where = rows, ids, contents, describe_source(self.data)
        else:
            pool, where = load_rows(spec.data, base_dir, spec.split), describe_source(spec.data)
            for index, row in enumerate(pool):
                row.setdefault(LINE, index + 1)
            keys = pool_contents = [content_id(row) for row in pool]
        groups = [self._group(row, where) for row in pool]
        drawn = draw_pool(self.name, spec.seed, keys, groups, pool_contents, self.num_fewshot)
        needed = groups if spec.data is None else [self._group(row, describe_source(self.data)) for row in rows]
        for group in dict.fromkeys(needed):
            if len(drawn.get(group, ())) < self.num_fewshot:
                which = "" if group is None else f" with {spec.group} = {group!r}"
                raise DatasetError(where, f"{self.num_fewshot}-shot prompting needs {self.num_fewshot} different rows"
                                   f"{which} to draw examples from, found {len(drawn.get(group, ()))}: ask for fewer examples",
                                   field=spec.group)
        by_group = {group: tuple(self._example(pool[i], where) for i in positions) for group, positions in drawn.items()}
        taken = {pool_contents[i] for positions in drawn.values() for i in positions}
        return Examples(by_group, frozenset(i for i, c in enumerate(contents) if c in taken), spec.group)

    def _group(self, row: Row, where: str) -> str | None:
        group = self.fewshot.group if self.fewshot is not None else None
        try:
            return group_of(row, group)
        except KeyError:
            raise DatasetError(where, "row has no field named by fewshot=FewShot(group=...)", line=row.get(LINE),
                               field=group) from None

    def _example(self, row: Row, where: str) -> Example:
        try:
            return self.example(row)
        except _MissingField as exc:
            raise DatasetError(where, f"few-shot example row has no field {exc.args[0]!r}", line=row.get(LINE),
                               field=exc.args[0]) from None
        except Exception as exc:
            raise DatasetError(where, f"few-shot example could not be made from its row: {type(exc).__name__}: {exc}",
                               line=row.get(LINE)) from None

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
        """The benchmark's items; with ``limit``, a seeded sample that is the same every run.

        Raises :class:`DatasetError` (naming the file, the rows and the field) when two rows
        have the same id or a row lacks a field the benchmark needs.
        """
        rows = self.rows(base_dir)
        source = describe_source(self.data)
        ids = [self._checked_id(row, index, source) for index, row in enumerate(rows)]
        if self.id_field is None:
            ids = number_repeats(ids)
        else:
            _refuse_duplicates(ids, rows, source, self.id_field)
        for index, row in enumerate(rows):
            row.setdefault(LINE, index + 1)  # rows of a Python list: their position
        examples = self.examples(rows, ids, base_dir)
        # The examples' rows leave before the sample is drawn, so no --llm-limit ever asks them.
        kept = [i for i in range(len(rows)) if i not in examples.excluded]
        chosen = [kept[j] for j in sample_indices(self.name, [ids[i] for i in kept], limit)]
        return [self.make_item(rows[i], ids[i], source, examples.of(rows[i])) for i in chosen]

    def item_id(self, row: Row) -> str:
        """The row's item id: its ``id_field`` value made safe for test ids, else :func:`content_id`."""
        if self.id_field is None:
            return content_id(row)
        value = _field(row, self.id_field)
        if value is None or not as_text(value).strip():
            raise _EmptyId(self.id_field, value)
        return safe_id(as_text(value))

    def _checked_id(self, row: Row, index: int, source: str) -> str:
        try:
            return self.item_id(row)
        except _MissingField as exc:
            line = row.get(LINE, index + 1)
            raise DatasetError(source, f"row has no id field {exc.args[0]!r} named by id_field (fields: "
                               f"{', '.join(sorted(k for k in row if k != LINE)) or 'none'}); fix the data or id_field",
                               line=line, field=exc.args[0]) from None
        except _EmptyId as exc:
            name, value = exc.args
            raise DatasetError(source, f"the id field {name!r} named by id_field is {json.dumps(value)}: every row "
                               "needs an id of its own; fill it in, or leave id_field out to derive ids from content",
                               line=row.get(LINE, index + 1), field=name) from None

    def make_item(self, row: Row, item_id: str, source: str, examples: Sequence[Example] = ()) -> Item:
        """The item of one row; ``examples`` (few-shot) precede its question in every request."""
        line = row.pop(LINE, None)
        key = item_key(self.name, item_id)
        try:
            requests = tuple(r.for_item(key) for r in self.make_requests(row))
            if examples and self.fewshot is not None:
                style, prefix = self.fewshot.style, self.fewshot.answer_prefix
                requests = tuple(with_examples(r, examples, style, prefix) for r in requests)
            target = self.target(row) if callable(self.target) else _field(row, self.target)
            capability = self.capability_of(row)
        except DatasetError:
            raise
        except _MissingField as exc:
            raise DatasetError(source, f"row has no field {exc.args[0]!r} (fields: {', '.join(sorted(row)) or 'none'})",
                               line=line, field=exc.args[0]) from None
        except Exception as exc:
            raise DatasetError(source, f"item {item_id} could not be made from its row: {type(exc).__name__}: {exc}",
                               line=line) from None
        return Item(self, item_id, requests, target, row, self.subset(row), capability, line, self.followups(row),
                    self.protocol if examples else None)

    def capability_of(self, row: Row) -> str:
        """The capability one row counts under."""
        value = self.capability(row) if callable(self.capability) else _format(self.capability, row)
        if not isinstance(value, str) or not value.strip():
            raise TypeError(f"the capability of a row must be a non-empty string, got {value!r} "
                            f"(from capability={self.capability_label!r})")
        return value

    def make_requests(self, row: Row) -> tuple[Request, ...]:
        """What to ask for one row, most preferred first. Multiple choice overrides this."""
        return (self.generate_request(row),)

    def subset(self, row: Row) -> str | None:
        """The row's subset for the scorecard; none by default."""
        return None

    def followups(self, row: Row) -> tuple[str, ...]:
        """The user's later turns for a multi-turn item (none by default): each is asked after
        the model's answer to the turns before it, in one conversation."""
        return ()

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
        return Request(messages=self.messages(row), max_tokens=self.max_tokens, stop=self.stop,
                       temperature=self.temperature, top_p=self.top_p, seed=self.sampling_seed)


def check_generation(where: str, *, max_tokens: int | None = None, temperature: float | None = None,
                     top_p: float | None = None, seed: int | None = None) -> None:
    """Refuse generation settings no backend can honour, saying which and what is allowed."""
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"{where}: max_tokens must be a whole number of at least 1, got {max_tokens!r}")
    if temperature is not None and not (isinstance(temperature, (int, float)) and temperature >= 0):
        raise ValueError(f"{where}: temperature must be a number >= 0 (0 is greedy decoding), got {temperature!r}")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"{where}: top_p must be a number above 0 and at most 1, got {top_p!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"{where}: seed must be a whole number, got {seed!r}")


_ID_CHARS = set(string.ascii_letters + string.digits + "_-.")
_WORD = re.compile(r"[a-z0-9]+")
#: Fields whose first words name an item, most telling first.
_SLUG_FIELDS = ("question", "prompt", "instruction", "query", "input", "problem", "text")


class _MissingField(KeyError):
    pass


class _EmptyId(ValueError):
    """An ``id_field`` that is null or blank: ``args`` are the field's name and its value."""


class _Row(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> Any:
        raise _MissingField(key)


def _format(template: str, row: Mapping[str, Any]) -> str:
    return template.format_map(_Row(row))


def _field(row: Mapping[str, Any], name: str) -> Any:
    if name not in row:
        raise _MissingField(name)
    return row[name]


def safe_id(text: str) -> str:
    """``text`` made usable in a test id: letters, digits, ``_``, ``-`` and ``.``; others become ``_``."""
    return "".join(c if c in _ID_CHARS else "_" for c in text)[:80] or "_"


def content_id(row: Mapping[str, Any]) -> str:
    """An id derived from a row's content: the first words of its question (the first of
    :data:`_SLUG_FIELDS` it has, else its first text field in name order) and a hash of the
    whole row (40 bits of SHA-256 over its canonical JSON), e.g. ``janet-s-ducks-3f9a2c1b7e``.

    The same row always gets the same id, wherever it sits in the file and whatever the order
    of its columns.
    """
    content = {k: v for k, v in row.items() if k != LINE} if LINE in row else row
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:10]
    slug = "-".join(_WORD.findall(_slug_text(content)[:80].lower())[:3])[:24].strip("-")
    return f"{slug}-{digest}" if slug else digest


def _slug_text(content: Mapping[str, Any]) -> str:
    """The text whose first words name a row: its question, else its first text field by name
    (fields with no letter or digit name nothing)."""
    for name in _SLUG_FIELDS:
        value = content.get(name)
        if isinstance(value, str) and _WORD.search(value[:80].lower()):
            return value
    return next((value for _, value in sorted(content.items())
                 if isinstance(value, str) and _WORD.search(value[:80].lower())), "")


def number_repeats(ids: list[str]) -> list[str]:
    """Content-derived ids of identical rows, told apart by occurrence: the second copy of
    ``x`` is ``x-2``, the third ``x-3`` (MMLU's test split holds 27 such pairs). Stable under
    edits of other rows, since only identical rows are counted."""
    seen: dict[str, int] = {}
    numbered = []
    for item_id in ids:
        seen[item_id] = seen.get(item_id, 0) + 1
        numbered.append(item_id if seen[item_id] == 1 else f"{item_id}-{seen[item_id]}")
    return numbered


def _refuse_duplicates(ids: list[str], rows: list[Row], source: str, id_field: str) -> None:
    seen: dict[str, int] = {}
    for index, item_id in enumerate(ids):
        first = seen.setdefault(item_id, index)
        if first == index:
            continue
        lines = [rows[i].get(LINE, i + 1) for i in (first, index)]
        values = [as_text(rows[i].get(id_field)) for i in (first, index)]
        why = (f"field {id_field!r} holds {values[0]!r} and {values[1]!r}, the same id once made safe for test ids "
               "(letters, digits, '_', '-', '.'): every row needs its own id")
        raise DatasetError(source, f"rows {lines[0]} and {lines[1]} have the same item id {item_id!r}: {why}",
                           field=id_field)


def sample_indices(name: str, ids: Sequence[str], limit: int | None) -> list[int]:
    """Positions of a deterministic sample of ``limit`` items, in file order.

    Each item is ranked by a hash of the benchmark's name and its id, and the ``limit`` first
    are taken: the same items on every run and machine, and adding, removing or reordering
    other rows changes the sample by at most the rows concerned.
    """
    if limit is None or limit >= len(ids):
        return list(range(len(ids)))
    rank = sorted(range(len(ids)), key=lambda i: hashlib.sha256(f"pytest-llmeval:{name}:{ids[i]}".encode()).digest())
    return sorted(rank[:limit])
