"""The scorecard: per model, capability and benchmark, built once from item outcomes.

Every count comes from a pytest report (see :mod:`pytest_llmeval.properties`), so the scorecard
always agrees with pytest's own summary, also under xdist. The statistics, the gate and the
renderers all read this one object; :meth:`Scorecard.to_json` is the document written by
``--llm-scorecard=PATH.json`` (see docs/scorecard.md for every field) and handed to the
``pytest_llmeval_scorecard`` hook, and :meth:`Scorecard.from_json` reads one back.

Example::

    card = Scorecard.build(outcomes, models=[ModelInfo("llama", "transformers", "...")])
    print(card.capability("llama", "reasoning").tally.score)
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..scoring.metrics import aggregate_metrics
from ..stats import clustered_mean_interval
from .comparisons import Comparison, compare
from .outcomes import ItemOutcome, Tally

SCHEMA = "pytest-llmeval/scorecard/1"
Role = Literal["candidate", "baseline"]


class ScorecardError(ValueError):
    """A scorecard document that cannot be read; the message names the field."""


@dataclass(frozen=True)
class ModelInfo:
    """A model of the run: its name, which backend served it and how, and its role."""

    name: str
    backend: str = "?"
    description: str = ""
    role: Role = "candidate"
    #: How a recorded or baseline model's answers were made, when not by the plugin's own prompt
    #: ("recorded, 8-shot chain of thought"); shown next to its numbers.
    protocol: str | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"name": self.name, "backend": self.backend, "description": self.description,
                               "role": self.role}
        if self.protocol is not None:
            row["protocol"] = self.protocol
        return row

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> ModelInfo:
        role = row.get("role", "candidate")
        return cls(name=str(row["name"]), backend=str(row.get("backend", "?")),
                   description=str(row.get("description", "")), role="baseline" if role == "baseline" else "candidate",
                   protocol=row.get("protocol"))


@dataclass(frozen=True)
class SampleSummary:
    """A group's items asked K times: the mean of the per-item pass fractions and its 95%
    interval with items as clusters (see :func:`pytest_llmeval.stats.clustered_mean_interval`)."""

    k: int
    mean: float
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, outcomes: Sequence[ItemOutcome]) -> SampleSummary | None:
        fractions = [f for o in outcomes if (f := o.pass_fraction) is not None]
        k = max((len(o.samples) for o in outcomes), default=0)
        if k < 2 or not fractions:
            return None
        return cls(k, *clustered_mean_interval(fractions))

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class Group:
    """The tally of one model on a capability (``benchmark`` None), a benchmark, or one subset
    of a benchmark; ``metrics`` are the figures of the items' per-item metrics (means, and
    pooled ratios such as IFEval's instruction-level accuracy: see
    :func:`pytest_llmeval.scoring.metrics.aggregate_metrics`)."""

    model: str
    capability: str
    benchmark: str | None
    tally: Tally
    metrics: Mapping[str, float] = field(default_factory=dict)
    subsets: tuple[Group, ...] = ()
    subset: str | None = None
    #: How the group's answers were made when not by the plugin's zero-shot prompts (a few-shot
    #: run, a recording): the items' protocol when they share one, "mixed: A; B" when they
    #: differ, None when all are the plugin's zero-shot prompt.
    protocol: str | None = None
    #: With repeats: the mean over samples and its item-clustered interval.
    samples: SampleSummary | None = None

    @classmethod
    def of(cls, model: str, capability: str, benchmark: str | None, outcomes: Sequence[ItemOutcome],
           subset: str | None = None) -> Group:
        subsets: tuple[Group, ...] = ()
        if benchmark is not None and subset is None:
            by_subset: dict[str, list[ItemOutcome]] = defaultdict(list)
            for o in outcomes:
                if o.subset is not None:
                    by_subset[o.subset].append(o)
            subsets = tuple(cls.of(model, capability, benchmark, group, name) for name, group in sorted(by_subset.items()))
        return cls(model, capability, benchmark, Tally.of(outcomes), aggregate_metrics(o.metrics for o in outcomes), subsets, subset,
                   protocol_of(outcomes), SampleSummary.of(outcomes))

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {} if self.protocol is None else {"protocol": self.protocol}
        if self.samples is not None:
            extra["samples"] = self.samples.to_json()
        if self.subset is not None:
            return {"subset": self.subset, **self.tally.to_json(), "metrics": dict(self.metrics), **extra}
        row: dict[str, Any] = {"model": self.model, "capability": self.capability}
        if self.benchmark is None:
            return {**row, **self.tally.to_json(), **extra}
        return {**row, "benchmark": self.benchmark, **self.tally.to_json(), "metrics": dict(self.metrics),
                "subsets": [s.to_json() for s in self.subsets], **extra}


def protocol_of(outcomes: Iterable[ItemOutcome]) -> str | None:
    """The protocol a group's answers were made with (see :attr:`Group.protocol`)."""
    found = list(dict.fromkeys(o.protocol for o in outcomes if o.scored))
    if not found or found == [None]:
        return None
    if len(found) == 1:
        return found[0]
    return "mixed: " + "; ".join(p or "the plugin's prompt" for p in found)


@dataclass(frozen=True)
class Scorecard:
    """Everything a run measured. Build it with :meth:`build`; never mutate it (``with_*``
    methods return a new one)."""

    items: tuple[ItemOutcome, ...]
    models: tuple[ModelInfo, ...]
    capabilities: tuple[Group, ...]
    benchmarks: tuple[Group, ...]
    comparisons: tuple[Comparison, ...] = ()
    published: tuple[Mapping[str, Any], ...] = ()
    run: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    gate: Mapping[str, Any] | None = None

    @classmethod
    def build(cls, outcomes: Iterable[ItemOutcome], models: Sequence[ModelInfo] = (), run: Mapping[str, Any] | None = None,
              *, published: Sequence[Mapping[str, Any]] = (), created: str | None = None) -> Scorecard:
        """Group the outcomes per model, capability, benchmark and subset, and compare every
        candidate with every baseline. Models without a :class:`ModelInfo` are candidates."""
        items = tuple(sorted(outcomes, key=lambda o: (o.model, o.capability, o.benchmark, o.item)))
        known = {m.name for m in models}
        infos = tuple(models) + tuple(ModelInfo(name) for name in dict.fromkeys(o.model for o in items) if name not in known)
        by_capability: dict[tuple[str, str], list[ItemOutcome]] = defaultdict(list)
        by_benchmark: dict[tuple[str, str, str], list[ItemOutcome]] = defaultdict(list)
        for o in items:
            by_capability[(o.model, o.capability)].append(o)
            by_benchmark[(o.model, o.capability, o.benchmark)].append(o)
        capabilities = tuple(Group.of(m, c, None, group) for (m, c), group in by_capability.items())
        benchmarks = tuple(Group.of(m, c, b, group) for (m, c, b), group in by_benchmark.items())
        groups = list(dict.fromkeys([(g.capability, None) for g in capabilities]
                                    + [(g.capability, g.benchmark) for g in benchmarks]))
        roles = {m.name: m.role for m in infos}
        comparisons = tuple(c for model in dict.fromkeys(o.model for o in items) if roles.get(model) != "baseline"
                            for baseline in (m.name for m in infos if m.role == "baseline")
                            for c in compare(model, baseline, items, groups))
        stamp = created or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(items, infos, capabilities, benchmarks, comparisons, tuple(published), dict(run or {}), stamp)

    # -- reading -----------------------------------------------------------------------------

    @property
    def candidates(self) -> list[str]:
        """Models under test (not baselines) that have results, in order."""
        with_rows = {g.model for g in self.capabilities}
        return [m.name for m in self.models if m.role != "baseline" and m.name in with_rows]

    @property
    def baselines(self) -> list[str]:
        with_rows = {g.model for g in self.capabilities}
        return [m.name for m in self.models if m.role == "baseline" and m.name in with_rows]

    def model(self, name: str) -> ModelInfo | None:
        return next((m for m in self.models if m.name == name), None)

    def capability(self, model: str, capability: str) -> Group | None:
        return next((g for g in self.capabilities if g.model == model and g.capability == capability), None)

    def benchmark(self, model: str, benchmark: str) -> Group | None:
        return next((g for g in self.benchmarks if g.model == model and g.benchmark == benchmark), None)

    def outcomes(self, model: str, capability: str | None = None, benchmark: str | None = None) -> list[ItemOutcome]:
        """A model's items, optionally of one capability and/or one benchmark."""
        return [o for o in self.items if o.model == model and capability in (None, o.capability)
                and benchmark in (None, o.benchmark)]

    # -- changing ----------------------------------------------------------------------------

    def with_gate(self, gate: Mapping[str, Any] | None) -> Scorecard:
        return replace(self, gate=gate)

    def with_published(self, published: Sequence[Mapping[str, Any]]) -> Scorecard:
        return replace(self, published=tuple(published))

    # -- the JSON document -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The scorecard document (``"schema": "pytest-llmeval/scorecard/1"``)."""
        return {
            "schema": SCHEMA,
            "created": self.created,
            "run": dict(self.run),
            "models": [m.to_json() for m in self.models],
            "capabilities": [g.to_json() for g in self.capabilities],
            "benchmarks": [g.to_json() for g in self.benchmarks],
            "items": [o.to_json() for o in self.items],
            "comparisons": [c.to_json() for c in self.comparisons],
            "published": [dict(p) for p in self.published],
            "gate": None if self.gate is None else dict(self.gate),
        }

    @classmethod
    def from_json(cls, document: Any, source: str = "scorecard") -> Scorecard:
        """Rebuild a scorecard from its document: counts are recomputed from the ``items``, so a
        document and the scorecard read back from it always agree. Raises :class:`ScorecardError`
        naming ``source`` and the field when the document is not a scorecard."""
        if not isinstance(document, Mapping):
            raise ScorecardError(f"{source}: expected a JSON object, got {type(document).__name__}")
        if document.get("schema", SCHEMA) != SCHEMA:
            raise ScorecardError(f"{source}: schema: expected {SCHEMA!r}, got {document.get('schema')!r}")
        try:
            items = [ItemOutcome.from_json(row) for row in document.get("items") or []]
            models = [ModelInfo.from_json(row) for row in document.get("models") or []]
        except (KeyError, TypeError, ValueError) as exc:
            raise ScorecardError(f"{source}: items/models: not a scorecard row ({type(exc).__name__}: {exc})") from None
        return cls.build(items, models, document.get("run") or {}, published=document.get("published") or (),
                         created=document.get("created")).with_gate(document.get("gate"))
