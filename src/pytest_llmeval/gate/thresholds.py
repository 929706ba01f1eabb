"""The thresholds file: what ``--llm-pin`` writes and the gate reads back.

A run's :class:`~pytest_llmeval.scorecard.Scorecard` is pinned with :func:`pin` and written
with :func:`write_thresholds`; :func:`load_thresholds` (or :func:`parse_thresholds`) reads it
back as :class:`Thresholds`, and every problem is a :class:`ThresholdsError` naming the file
and the field. The format is described in ``docs/gate.md``.

Example::

    write_thresholds(pin(card), "llm-thresholds.json")
    thresholds = load_thresholds("llm-thresholds.json")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..scorecard import Group, ItemOutcome, Scorecard
from .fields import ThresholdsError, count, fail, fraction, is_count, name
from .order import natural_key

__all__ = [
    "SCHEMA",
    "SCHEMAS",
    "GateSettings",
    "Pinned",
    "PinnedItem",
    "Thresholds",
    "ThresholdsError",
    "load_thresholds",
    "parse_thresholds",
    "pin",
    "write_thresholds",
]

#: The schema :func:`pin` writes: items carry their fingerprint (and samples, with repeats).
SCHEMA = "pytest-llmeval/thresholds/2"
#: The first schema: items as ``{id: 1 or 0}``, without fingerprints. Still read.
SCHEMA_V1 = "pytest-llmeval/thresholds/1"
SCHEMAS = (SCHEMA, SCHEMA_V1)

DEFAULT_ALPHA = 0.05
DEFAULT_MAX_ERROR_RATE = 0.05
#: The share of a row's pinned items that must still be comparable (same id, same content,
#: scored now) for the gate to judge the row; see docs/gate.md, "Pairing by identity".
DEFAULT_MIN_COMPARABLE = 0.8
CORRECTIONS = ("holm", "none")
SETTINGS = ("alpha", "max_error_rate", "correction", "floors", "min_comparable")

PathLike = str | Path


@dataclass(frozen=True)
class GateSettings:
    """How the gate decides. ``floors`` maps a capability or benchmark name to a minimum score.

    ``correction``: "holm" keeps the chance of any false alarm in a run at or below ``alpha``
    however many capabilities and benchmarks are checked; "none" tests each one at ``alpha``.
    ``min_comparable`` (0-1) is the share of a row's pinned items that must still be
    comparable, or the row fails and asks for a re-pin.
    """

    alpha: float = DEFAULT_ALPHA
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    correction: str = "holm"
    floors: Mapping[str, float] = field(default_factory=dict)
    min_comparable: float = DEFAULT_MIN_COMPARABLE

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "max_error_rate": self.max_error_rate,
            "correction": self.correction,
            "floors": dict(sorted(self.floors.items())),
            "min_comparable": self.min_comparable,
        }


@dataclass(frozen=True)
class PinnedItem:
    """One pinned item: its outcome (1 passed, 0 failed), the fingerprint of what was asked
    and expected (None in files written before schema 2), and with repeats how many of its
    ``samples`` ``passed``."""

    outcome: int
    fingerprint: str | None = None
    samples: int = 1
    passed: int | None = None

    @property
    def pass_fraction(self) -> float:
        """The share of samples that passed: the outcome itself for a single sample."""
        if self.samples == 1 or self.passed is None:
            return float(self.outcome)
        return self.passed / self.samples

    @property
    def passes(self) -> int:
        """Samples that passed (the outcome for a single sample)."""
        return self.outcome if self.samples == 1 or self.passed is None else self.passed

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"outcome": self.outcome}
        if self.samples > 1:
            row.update(passed=self.passes, samples=self.samples)
        if self.fingerprint is not None:
            row["fingerprint"] = self.fingerprint
        return row

    @classmethod
    def of(cls, outcome: ItemOutcome) -> PinnedItem:
        """The pinned form of a scored item outcome."""
        repeated = len(outcome.samples) > 1
        return cls(1 if outcome.outcome == "passed" else 0, outcome.fingerprint,
                   len(outcome.samples) if repeated else 1, sum(outcome.samples) if repeated else None)


@dataclass(frozen=True)
class Pinned:
    """One pinned row: a model's result on a capability, or on one benchmark of it.

    ``items`` (benchmark rows only) maps item id to its :class:`PinnedItem`; errored and
    skipped items are left out.
    """

    model: str
    capability: str
    benchmark: str | None
    score: float | None
    n: int
    errors: int = 0
    items: Mapping[str, PinnedItem] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.model, self.capability, self.benchmark)


@dataclass(frozen=True)
class Thresholds:
    """A loaded thresholds file. ``source`` is the path as the user gave it (for messages)."""

    settings: GateSettings
    capabilities: tuple[Pinned, ...]
    benchmarks: tuple[Pinned, ...]
    source: str = "thresholds"
    schema: str = SCHEMA

    def row(self, model: str, capability: str, benchmark: str | None = None) -> Pinned | None:
        """The pinned row of a model's capability (``benchmark`` None) or benchmark, if any."""
        return next((p for p in self.capabilities + self.benchmarks if p.key == (model, capability, benchmark)), None)

    def items_for(self, model: str, capability: str, benchmark: str | None = None,
                  benchmarks: frozenset[str] | None = None) -> dict[str, PinnedItem]:
        """Pinned items keyed ``"benchmark[item]"``, for a capability or one benchmark of it;
        ``benchmarks`` keeps only those benchmarks (the ones a run ran)."""
        found: dict[str, PinnedItem] = {}
        for row in self.benchmarks:
            if row.model != model or row.capability != capability or benchmark not in (None, row.benchmark):
                continue
            if benchmarks is not None and row.benchmark not in benchmarks:
                continue
            for item, pinned in row.items.items():
                found[f"{row.benchmark}[{item}]"] = pinned
        return found


# -- pinning -------------------------------------------------------------------------------------


def pin(card: Scorecard, *, settings: GateSettings | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the thresholds document (schema 2) from a run's scorecard.

    Pins every model except the baseline (a live GPT baseline drifting is not the user's
    regression): per capability and per benchmark the score, ``n`` (scored items) and errors,
    and per benchmark each scored item's outcome and fingerprint (with repeats, its passed and
    sample counts), which the paired test needs. Pass the ``settings`` of an existing file to
    keep the user's alpha and floors when re-pinning.

    Example::

        write_thresholds(pin(card, settings=old.settings), "llm-thresholds.json")
    """
    if settings is None:
        chosen = GateSettings()
    elif isinstance(settings, GateSettings):
        chosen = settings
    else:
        chosen = parse_settings({"settings": dict(settings)}, "settings")
    excluded = {m.name for m in card.models if m.role == "baseline"}
    capabilities = [_pinned_row(card, g) for g in card.capabilities if g.model not in excluded]
    benchmarks = [_pinned_row(card, g) for g in card.benchmarks if g.model not in excluded]
    models = [{"name": m.name, "backend": m.backend, "description": m.description}
              for m in card.models if m.name not in excluded]
    return {
        "schema": SCHEMA,
        "created": card.created or None,
        "models": models,
        "settings": chosen.to_dict(),
        "capabilities": sorted(capabilities, key=lambda r: (r["model"], r["capability"])),
        "benchmarks": sorted(benchmarks, key=lambda r: (r["model"], r["capability"], r["benchmark"])),
    }


def _pinned_row(card: Scorecard, group: Group) -> dict[str, Any]:
    tally = group.tally
    row: dict[str, Any] = {"model": group.model, "capability": group.capability}
    if group.benchmark is not None:
        row["benchmark"] = group.benchmark
    row.update(score=round(tally.score, 6) if tally.score is not None else None, n=tally.scored,
               passed=tally.passed, failed=tally.failed, errors=tally.errors)
    if group.benchmark is not None:
        scored = [o for o in card.outcomes(group.model, group.capability, group.benchmark) if o.scored]
        row["items"] = {o.item: PinnedItem.of(o).to_dict() for o in sorted(scored, key=lambda o: natural_key(o.item))}
    return row


def write_thresholds(document: Mapping[str, Any], path: PathLike) -> None:
    """Write a thresholds document as stable, diff-friendly JSON (sorted rows, 2-space indent)."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


# -- reading -------------------------------------------------------------------------------------


def load_thresholds(path: PathLike, source: str | None = None) -> Thresholds:
    """Read and check a thresholds file; :class:`ThresholdsError` says what is wrong and where.
    ``source`` is how messages name the file (default: ``path`` as given).

    >>> load_thresholds("missing.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pytest_llmeval.gate.fields.ThresholdsError: missing.json: no such file; write it from a run with ...
    """
    source = str(path) if source is None else source
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThresholdsError(
            f"{source}: no such file; write it from a run with `pytest --llm-pin --llm-thresholds={source}`"
        ) from None
    except OSError as exc:
        raise ThresholdsError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ThresholdsError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return parse_thresholds(document, source)


def parse_thresholds(document: Any, source: str = "thresholds") -> Thresholds:
    """Check a thresholds document already read from JSON; ``source`` names it in errors.

    Both schemas are read: 2 (what :func:`pin` writes) and 1 (items as ``{id: 1 or 0}``,
    without fingerprints). A document without ``schema`` is read as the current one.
    """
    if not isinstance(document, Mapping):
        raise ThresholdsError(f"{source}: expected a JSON object at the top, got {type(document).__name__}")
    schema = document.get("schema", SCHEMA)
    if schema not in SCHEMAS:
        raise fail(source, "schema", " or ".join(repr(s) for s in SCHEMAS), schema)
    return Thresholds(
        settings=parse_settings(document, source),
        capabilities=_parse_rows(document, "capabilities", source),
        benchmarks=_parse_rows(document, "benchmarks", source),
        source=source,
        schema=schema,
    )


def parse_settings(document: Mapping[str, Any], source: str) -> GateSettings:
    """The ``settings`` object of a thresholds document (defaults for what it leaves out)."""
    raw = document.get("settings", {})
    if not isinstance(raw, Mapping):
        raise fail(source, "settings", "an object", raw)
    for key in raw:
        if key not in SETTINGS:
            raise ThresholdsError(f"{source}: settings.{key}: unknown setting; known: {', '.join(SETTINGS)}")
    alpha = DEFAULT_ALPHA
    if "alpha" in raw:
        alpha = fraction(source, "settings.alpha", raw["alpha"], open_low=True)
        if alpha >= 1:
            raise fail(source, "settings.alpha", "a number above 0 and below 1", raw["alpha"])
    correction = raw.get("correction", "holm")
    if correction not in CORRECTIONS:
        raise fail(source, "settings.correction", " or ".join(repr(c) for c in CORRECTIONS), correction)
    floors_raw = raw.get("floors", {})
    if not isinstance(floors_raw, Mapping):
        raise fail(source, "settings.floors", 'an object such as {"reasoning": 0.2}', floors_raw)
    return GateSettings(
        alpha=alpha,
        max_error_rate=fraction(source, "settings.max_error_rate", raw.get("max_error_rate", DEFAULT_MAX_ERROR_RATE)),
        correction=correction,
        floors={str(k): fraction(source, f"settings.floors.{k}", v) for k, v in floors_raw.items()},
        min_comparable=fraction(source, "settings.min_comparable", raw.get("min_comparable", DEFAULT_MIN_COMPARABLE)),
    )


def _parse_rows(document: Mapping[str, Any], section: str, source: str) -> tuple[Pinned, ...]:
    raw = document.get(section, [])
    if not isinstance(raw, list):
        raise fail(source, section, "a list", raw)
    rows: list[Pinned] = []
    seen: dict[tuple[str, str, str | None], int] = {}
    for index, entry in enumerate(raw):
        pinned = _parse_row(entry, f"{section}[{index}]", section == "benchmarks", source)
        if pinned.key in seen:
            raise ThresholdsError(f"{source}: {section}[{index}]: the same row as {section}[{seen[pinned.key]}]")
        seen[pinned.key] = index
        rows.append(pinned)
    return tuple(rows)


def _parse_row(entry: Any, where: str, with_benchmark: bool, source: str) -> Pinned:
    if not isinstance(entry, Mapping):
        raise fail(source, where, "an object", entry)
    for required in ("model", "capability", "n") + (("benchmark",) if with_benchmark else ()):
        if required not in entry:
            raise ThresholdsError(f"{source}: {where}.{required}: missing")
    n = count(source, f"{where}.n", entry["n"])
    score_raw = entry.get("score")
    score = None if score_raw is None else fraction(source, f"{where}.score", score_raw)
    if score is not None and n == 0:
        raise fail(source, f"{where}.n", "at least 1 when a score is given", n)
    items = _parse_items(entry.get("items", {}), f"{where}.items", source) if with_benchmark else {}
    return Pinned(
        model=name(source, f"{where}.model", entry["model"]),
        capability=name(source, f"{where}.capability", entry["capability"]),
        benchmark=name(source, f"{where}.benchmark", entry["benchmark"]) if with_benchmark else None,
        score=score, n=n, errors=count(source, f"{where}.errors", entry.get("errors", 0)), items=items)


def _parse_items(raw: Any, where: str, source: str) -> dict[str, PinnedItem]:
    if not isinstance(raw, Mapping):
        raise fail(source, where, 'an object mapping item id to its outcome, such as {"q-17": {"outcome": 1}}', raw)
    return {str(item): _parse_item(value, f"{where}[{item!r}]", source) for item, value in raw.items()}


def _parse_item(value: Any, where: str, source: str) -> PinnedItem:
    """An item: ``1``/``0`` (schema 1, or a hand-written file), or ``{"outcome", "fingerprint",
    "passed", "samples"}``."""
    if not isinstance(value, Mapping):
        return PinnedItem(_outcome(value, where, source))
    outcome = _outcome(value.get("outcome"), f"{where}.outcome", source)
    fingerprint = value.get("fingerprint")
    if fingerprint is not None:
        fingerprint = name(source, f"{where}.fingerprint", fingerprint)
    samples = value.get("samples", 1)
    if not (is_count(samples) and samples >= 1):
        raise fail(source, f"{where}.samples", "a whole number >= 1", samples)
    if samples == 1:
        return PinnedItem(outcome, fingerprint)
    passed = value.get("passed")
    if not (is_count(passed) and passed <= samples):
        raise fail(source, f"{where}.passed", f"a whole number from 0 to samples ({samples})", passed)
    return PinnedItem(outcome, fingerprint, samples, passed)


def _outcome(value: Any, where: str, source: str) -> int:
    if value not in (0, 1) or not isinstance(value, (int, bool)):
        raise fail(source, where, "1 (passed) or 0 (failed)", value)
    return int(value)
