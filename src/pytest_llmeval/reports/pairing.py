"""Like for like: which items a baseline's number covers when it stands beside the models.

A capability's row puts each model's score beside the baseline's, but the two only compare
when they were computed on the same items: a baseline recorded on AlpacaEval and a model that
answered MMLU and IFBench share a capability and no item. :func:`baseline_cell` decides, for
one row of a report (a capability, a benchmark or a subset), what the baseline's column shows:

========== ===================================================================================
kind       the baseline's column shows
========== ===================================================================================
same       its own tally: it scored exactly the items every model scored
paired     its tally on the items it shares with the models only (``n`` of them), when they
           share some but not all items
different  its own tally, plainly marked: it shares no scored item with any model ("other items only")
alone      its own tally: no model scored an item of the row, so nothing stands beside it
unscored   its own tally, which has no score (every item skipped or errored)
========== ===================================================================================

Items are matched by benchmark and id, as :func:`pytest_llmeval.scorecard.compare` matches
them, so a ``paired`` cell agrees with the row's paired comparison (same ``n``, same score).

Example::

    cell = baseline_cell(card, "gpt-3.5-turbo", "general")
    if cell.kind == "paired" and cell.shown is not None:
        print(f"{cell.shown.score:.3f} on {cell.shown.scored} paired items")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..scorecard import ItemOutcome, Scorecard, Tally
from ..scorecard.card import protocol_of
from ..scoring.metrics import aggregate_metrics

__all__ = ["BaselineCell", "CellKind", "Pairing", "Pairings", "baseline_cell"]

CellKind = Literal["same", "paired", "different", "alone", "unscored"]
Key = tuple[str, str]  # (benchmark, item id)


@dataclass(frozen=True)
class Pairing:
    """The baseline on the items it shares with one model: ``tally`` counts the baseline's
    outcomes on those items (``tally.scored`` of them); ``model_scored`` is how many items the
    model scored in the row."""

    model: str
    tally: Tally
    model_scored: int


@dataclass(frozen=True)
class BaselineCell:
    """What one baseline's column shows in one row (see the module docstring for ``kind``).

    ``models`` are the models under test that scored items of the row. ``own`` is the
    baseline's tally over all its items of the row. ``shown`` is the tally the
    column shows as a number, or None when it shows none (``different``, or ``paired`` with
    models that share different items: then ``pairings`` has one entry per model).
    ``metrics`` and ``protocol`` belong to the items of ``shown``.
    """

    baseline: str
    kind: CellKind
    own: Tally
    shown: Tally | None
    models: tuple[str, ...] = ()
    pairings: tuple[Pairing, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    protocol: str | None = None


class Pairings:
    """:func:`baseline_cell` for every row of one scorecard, from an index of its items built
    once (a report asks for a cell per row, model and format)."""

    def __init__(self, card: Scorecard) -> None:
        self.candidates = set(card.candidates)
        self.rows: dict[tuple[str, str], list[ItemOutcome]] = {}
        for o in card.items:
            self.rows.setdefault((o.capability, o.benchmark), []).append(o)

    def _items(self, capability: str, benchmark: str | None, subset: str | None) -> list[ItemOutcome]:
        found = [o for (c, b), group in self.rows.items() if c == capability and benchmark in (None, b) for o in group]
        return found if subset is None else [o for o in found if o.subset == subset]

    def cell(self, baseline: str, capability: str, benchmark: str | None = None, subset: str | None = None) -> BaselineCell:
        """The baseline's cell in the row of ``capability`` (whole capability when ``benchmark``
        is None; one subset of the benchmark when ``subset`` is given), beside every candidate."""
        row = self._items(capability, benchmark, subset)
        mine = [o for o in row if o.model == baseline]
        own = Tally.of(mine)
        scored = {(o.benchmark, o.item): o for o in mine if o.scored}
        models: dict[str, set[Key]] = {}
        for o in row:
            if o.scored and o.model in self.candidates:
                models.setdefault(o.model, set()).add((o.benchmark, o.item))

        def whole(kind: CellKind) -> BaselineCell:
            return BaselineCell(baseline, kind, own, own, tuple(models), metrics=aggregate_metrics(o.metrics for o in mine),
                                protocol=protocol_of(mine))

        if not scored:
            return whole("unscored")
        if not models:
            return whole("alone")
        if all(keys == set(scored) for keys in models.values()):
            return whole("same")
        shared = {model: keys & set(scored) for model, keys in models.items()}
        if not any(shared.values()):
            return BaselineCell(baseline, "different", own, None, tuple(models))
        pairings = tuple(Pairing(model, Tally.of(scored[k] for k in keys), len(models[model])) for model, keys in shared.items())
        distinct = {frozenset(keys) for keys in shared.values()}
        if len(distinct) > 1:
            return BaselineCell(baseline, "paired", own, None, tuple(models), pairings)
        common = [scored[k] for k in sorted(next(iter(distinct)))]
        return BaselineCell(baseline, "paired", own, Tally.of(common), tuple(models), pairings,
                            aggregate_metrics(o.metrics for o in common), protocol_of(common))


def baseline_cell(card: Scorecard, baseline: str, capability: str, benchmark: str | None = None,
                  subset: str | None = None) -> BaselineCell:
    """The baseline's cell in one row of ``card`` (see :meth:`Pairings.cell`; build a
    :class:`Pairings` once to ask for many rows)."""
    return Pairings(card).cell(baseline, capability, benchmark, subset)
