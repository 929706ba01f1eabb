"""The scorecard as printed at the end of every run: one compact line per capability, benchmark,
metric and subset, one column per model.

A cell reads ``0.368 [0.23-0.53] 14/38 (2 errored, 798 skipped)``: the score, its 95% Wilson
interval, passed of scored, and what else happened to the group's items. A baseline's cell
follows :mod:`pytest_llmeval.reports.pairing`: ``... 21/38 paired`` when it stands on only the
items the models also answered, ``0.800 [..] 4/5 other items only`` when it shares none. A mark such
as ``(a)`` points to the protocol the answers were made with, listed under the table.

Example::

    for line in render_table(card):
        print(line)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..published import protocol_note
from ..scorecard import Group, ModelInfo, Scorecard, Tally
from ..stats import format_p
from .cells import Notes, as_scorecard, benchmark_names, capability_names, counts_extras, model_header, ordered_models, unpaired_extras
from .pairing import BaselineCell, Pairings

__all__ = ["render_table"]

PAIRED_NOTE = ("paired: the baseline's score on only the items the models under test also answered (n = those items); "
               "the difference is tested below")
DIFFERENT_NOTE = ("other items only: the baseline answered none of the items the models answered in that row; "
                  "its score stands on its own items and is not compared with theirs")


def tally_cell(tally: Tally) -> str:
    """``"0.368 [0.23-0.53] 14/38 (2 errored, 1 cut off)"``, or ``"n/a (5 skipped)"`` when nothing was scored."""
    extras = counts_extras(tally)
    interval = tally.interval
    if tally.score is None or interval is None:
        return f"n/a ({', '.join(extras)})" if extras else "n/a"
    text = f"{tally.score:.3f} [{interval[0]:.2f}-{interval[1]:.2f}] {tally.passed}/{tally.scored}"
    return f"{text} ({', '.join(extras)})" if extras else text


class _Cells:
    """Cell text for every model of a row, remembering which notes the table needs."""

    def __init__(self, card: Scorecard) -> None:
        self.card = card
        self.pairings = Pairings(card)
        self.models = ordered_models(card)
        self.notes = Notes()
        self.kinds: set[str] = set()

    def baseline(self, m: ModelInfo, capability: str, benchmark: str | None, subset: str | None) -> BaselineCell:
        cell = self.pairings.cell(m.name, capability, benchmark, subset)
        self.kinds.add(cell.kind)
        return cell

    def row(self, groups: list[Group | None], capability: str, benchmark: str | None = None,
            subset: str | None = None) -> list[str]:
        cells = []
        for m, group in zip(self.models, groups, strict=True):
            if group is None:
                cells.append("-")
            elif m.role != "baseline":
                cells.append(tally_cell(group.tally) + self.notes.mark(group.protocol))
            else:
                cells.append(self.baseline_text(self.baseline(m, capability, benchmark, subset)))
        return cells

    def baseline_text(self, cell: BaselineCell) -> str:
        if cell.kind == "different":
            return f"{tally_cell(cell.own)} other items only{self.notes.mark(cell.protocol)}"
        if cell.kind != "paired":
            return tally_cell(cell.own) + self.notes.mark(cell.protocol)
        if cell.shown is None:
            return "; ".join(f"vs {p.model}: {p.tally.passed}/{p.tally.scored} paired" for p in cell.pairings)
        others = unpaired_extras(cell)
        extras = f" ({', '.join(others)})" if others else ""
        return f"{tally_cell(cell.shown)} paired{extras}{self.notes.mark(cell.protocol)}"

    def metrics(self, groups: list[Group | None], capability: str, benchmark: str) -> dict[str, list[str]]:
        values: list[Mapping[str, float]] = []
        for m, group in zip(self.models, groups, strict=True):
            if group is None:
                values.append({})
            elif m.role != "baseline":
                values.append(group.metrics)
            else:
                values.append(self.pairings.cell(m.name, capability, benchmark).metrics)
        names = sorted({k for v in values for k in v})
        return {name: ["-" if name not in v else f"{v[name]:.3f}" for v in values] for name in names}


def _table(card: Scorecard, cells: _Cells) -> list[list[str]]:
    models = cells.models
    rows: list[list[str]] = [["capability", *(model_header(m) + cells.notes.mark(m.protocol) for m in models)]]
    for cap in capability_names(card):
        rows.append([cap, *cells.row([card.capability(m.name, cap) for m in models], cap)])
    rows.append(["", *("" for _ in models)])
    rows.append(["benchmark", *("" for _ in models)])
    for bench, cap in benchmark_names(card):
        groups = [card.benchmark(m.name, bench) for m in models]
        rows.append([f"  {bench} ({cap})", *cells.row(groups, cap, bench)])
        for metric, values in cells.metrics(groups, cap, bench).items():
            rows.append([f"    {metric}", *values])
        for subset in dict.fromkeys(s.subset for g in groups if g is not None for s in g.subsets):
            found = [next((s for s in g.subsets if s.subset == subset), None) if g else None for g in groups]
            rows.append([f"    {subset}", *cells.row(found, cap, bench, subset)])
    return rows


def render_table(scorecard: Scorecard | Mapping[str, Any]) -> list[str]:
    """The lines of the terminal scorecard: capability rows, then benchmark rows with their
    metrics and subsets; then what its marks mean, the paired comparisons with the baseline
    and the published figures. Empty when no model has a row."""
    card = as_scorecard(scorecard)
    cells = _Cells(card)
    if not cells.models:
        return []
    rows = _table(card, cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    notes = ([PAIRED_NOTE] if "paired" in cells.kinds else []) + ([DIFFERENT_NOTE] if "different" in cells.kinds else [])
    notes += cells.notes.lines()
    if notes:
        lines += ["", *notes]
    comparisons = [c for c in card.comparisons if c.benchmark is None]
    if comparisons:
        lines += ["", "against the baseline (paired, on the items both answered):"]
        lines += [f"  {c.model} vs {c.baseline}, {c.capability}: {c.difference:+.3f} ({c.score:.3f} vs "
                  f"{c.baseline_score:.3f}, n={c.n_paired}, {c.test} p={format_p(c.p_value)})" for c in comparisons]
    if card.published:
        lines += ["", "published figures (the survey's sources; not measured here, not comparable like for like):"]
        lines += [f"  {p['model']:<20} {p['benchmark']:<12} {p['value']:.3f} {p['metric']} [{p['source']}]"
                  + (f"; {note}" if (note := protocol_note(p)) else "") for p in card.published]
    return lines
