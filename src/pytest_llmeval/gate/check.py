"""Judging a run's scorecard against pinned thresholds (:func:`check_scorecard`).

Each row of the run (a model's capability, or one benchmark of it) is measured against its
pinned row: items paired by identity, then tested; the p-values of all rows get the Holm
correction together; then each row's checks are decided and its :class:`Verdict` is built
whole. Pinned rows the run lacks become "missing" verdicts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..scorecard import Group, Scorecard
from .comparison import Pairing, RunComparison, compare_pairs, compare_unpaired, holm, pair_items
from .thresholds import GateSettings, Pinned, Thresholds
from .verdict import GateResult, Status, Verdict

__all__ = ["check_scorecard"]


@dataclass(frozen=True)
class _Measured:
    """A row of the run and what the pin says about it, before the verdict."""

    group: Group
    pinned: Pinned | None
    pairing: Pairing | None
    comparison: RunComparison | None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.group.model, self.group.capability, self.group.benchmark)

    @property
    def name(self) -> str:
        g = self.group
        return "::".join([g.model, g.capability] + ([g.benchmark] if g.benchmark else []))


def check_scorecard(thresholds: Thresholds, card: Scorecard) -> GateResult:
    """Judge a run's scorecard against pinned thresholds.

    One verdict per model and capability and per model and benchmark of the run (baseline
    models excluded), plus one per pinned row the run lacks. The run fails when none of the
    pinned rows is in it (or the file pins none and no floor applies): nothing was compared,
    see :meth:`GateResult.nothing_checked`. A row fails when:

    - it regressed: the one-sided paired test on the items paired by identity (McNemar exact
      with one sample an item, the sign-flip test on pass fractions with repeats; the unpaired
      z-test when the pin holds no items) gives p below alpha, after Holm correction over all
      the run's checks unless ``correction`` is "none", and the score on them went down;
    - too few of its pinned items are comparable (``min_comparable``): they changed, are
      missing, or were not scored now;
    - its score is below a floor set for its capability (or benchmark);
    - (capability rows) more than ``max_error_rate`` of its items errored.

    Example::

        result = check_scorecard(load_thresholds("llm-thresholds.json"), card)
        if not result.passed:
            print(result.report())
    """
    settings = thresholds.settings
    excluded = {m.name for m in card.models if m.role == "baseline"}
    groups = [g for g in (*card.capabilities, *card.benchmarks) if g.model not in excluded]
    rows = [_measure(thresholds, card, g) for g in groups]
    shared = _shared_tests(rows)
    adjusted = _adjust(rows, shared, settings)
    verdicts = [_verdict(row, thresholds, shared.get(row.name), adjusted.get(row.name)) for row in rows]
    verdicts += _missing(thresholds, {row.key for row in rows}, excluded)
    pinned = tuple(dict.fromkeys((p.model, p.capability) for p in thresholds.capabilities + thresholds.benchmarks))
    return GateResult(tuple(verdicts), settings, thresholds.source, thresholds.schema, pinned)


def _measure(thresholds: Thresholds, card: Scorecard, group: Group) -> _Measured:
    pinned = thresholds.row(group.model, group.capability, group.benchmark)
    if pinned is None:
        return _Measured(group, None, None, None)
    # A capability compares the pinned items of the benchmarks that ran; one that did not run
    # is reported as missing on its own row.
    ran = frozenset(g.benchmark for g in card.benchmarks
                    if g.model == group.model and g.capability == group.capability and g.benchmark)
    items = thresholds.items_for(group.model, group.capability, group.benchmark, ran)
    if not items:
        comparison = compare_unpaired(pinned.score, pinned.n, group.tally.score, group.tally.scored)
        return _Measured(group, pinned, None, comparison)
    pairing = pair_items(items, card.outcomes(group.model, group.capability, group.benchmark))
    return _Measured(group, pinned, pairing, compare_pairs(pairing.pairs))


def _shared_tests(rows: Sequence[_Measured]) -> dict[str, str]:
    """Benchmark row name -> capability row name, for a capability's only benchmark: the same
    items, hence the same test (counted once in the Holm family, said once)."""
    capabilities = {(r.group.model, r.group.capability): r for r in rows if r.group.benchmark is None}
    benchmarks = Counter((r.group.model, r.group.capability) for r in rows if r.group.benchmark is not None)
    shared = {}
    for row in rows:
        parent = capabilities.get((row.group.model, row.group.capability))
        if row.group.benchmark is None or parent is None or benchmarks[(row.group.model, row.group.capability)] != 1:
            continue
        if row.comparison is not None and row.comparison == parent.comparison and row.pairing == parent.pairing:
            shared[row.name] = parent.name
    return shared


def _adjust(rows: Sequence[_Measured], shared: Mapping[str, str], settings: GateSettings) -> dict[str, tuple[float, int]]:
    """Row name -> (adjusted p-value, size of the family it was adjusted in)."""
    tested = [r for r in rows if r.comparison is not None and r.name not in shared]
    raw = [r.comparison.p_value for r in tested if r.comparison is not None]
    holm_on = settings.correction == "holm"
    family = len(tested) if holm_on else 1
    adjusted = {r.name: (p, family) for r, p in zip(tested, holm(raw) if holm_on else raw, strict=True)}
    for name, parent in shared.items():
        adjusted[name] = adjusted[parent]
    return adjusted


def _failed_checks(row: _Measured, settings: GateSettings, p_adjusted: float | None) -> tuple[str, ...]:
    tally, benchmark = row.group.tally, row.group.benchmark
    floor = settings.floors.get(benchmark if benchmark is not None else row.group.capability)
    c, pairing = row.comparison, row.pairing
    failed = {
        "error-rate": benchmark is None and tally.total > 0 and tally.errors / tally.total > settings.max_error_rate,
        "floor": floor is not None and (tally.score is None or tally.score < floor),
        "comparability": pairing is not None and pairing.comparable < settings.min_comparable,
        "regression": c is not None and p_adjusted is not None and c.worse and p_adjusted < settings.alpha,
    }
    return tuple(kind for kind, yes in failed.items() if yes)


def _verdict(row: _Measured, thresholds: Thresholds, same_test_as: str | None,
             adjusted: tuple[float, int] | None) -> Verdict:
    settings, g = thresholds.settings, row.group
    p_adjusted, family = adjusted if adjusted is not None else (None, 1)
    checks = _failed_checks(row, settings, p_adjusted)
    status: Status = "fail" if checks else ("new" if row.pinned is None else "pass")
    return Verdict(
        model=g.model, capability=g.capability, benchmark=g.benchmark, status=status, source=thresholds.source,
        settings=settings, score=g.tally.score, n=g.tally.scored, errors=g.tally.errors, total=g.tally.total,
        pinned=row.pinned, pairing=row.pairing, comparison=row.comparison, p_adjusted=p_adjusted,
        tests_in_family=family, same_test_as=same_test_as,
        floor=settings.floors.get(g.benchmark if g.benchmark is not None else g.capability), checks=checks)


def _missing(thresholds: Thresholds, seen: set[tuple[str, str, str | None]], excluded: set[str]) -> list[Verdict]:
    pinned_keys = {p.key for p in thresholds.capabilities + thresholds.benchmarks}
    found = []
    for pinned in thresholds.capabilities + thresholds.benchmarks:
        if pinned.key in seen or pinned.model in excluded:
            continue
        # A benchmark row is only news when its capability ran; otherwise its capability says it.
        capability_key = (pinned.model, pinned.capability, None)
        if pinned.benchmark is not None and capability_key not in seen and capability_key in pinned_keys:
            continue
        found.append(Verdict(model=pinned.model, capability=pinned.capability, benchmark=pinned.benchmark,
                             status="missing", source=thresholds.source, settings=thresholds.settings, pinned=pinned))
    return found
