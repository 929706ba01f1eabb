"""The scorecard's tables, format-neutral: the Markdown and HTML reports both render these, so
that they always say the same thing.

Three tables: capabilities, benchmarks and (where a benchmark has them) subsets. Each has one
column per model; a baseline's column follows :mod:`pytest_llmeval.reports.pairing` (its number
stands on the items the models also answered, or says it does not). Then one column per model
compared with the baseline (the paired test), the gate's verdicts when a gate ran, and the
published figures, never mixed with the measured ones.

Example::

    for table in scorecard_tables(card):
        print(table.title, table.header)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..gate.verdict import is_check
from ..published import format_published, protocol_note
from ..scorecard import Comparison, Group, ModelInfo, Scorecard
from ..stats import format_p
from .cells import baseline_lines, benchmark_names, capability_names, model_header, ordered_models, score_lines
from .pairing import Pairings

__all__ = ["PUBLISHED_HEADER", "Table", "comparison_lines", "gate_summary", "published_lines", "scorecard_tables"]

PUBLISHED_HEADER = "published (not measured here)"
CAPABILITY_NOTE = (
    "Scores are pass rates (passed / (passed + failed)) with 95% Wilson intervals. A baseline's score stands on the "
    "items the models also answered: where they share only some items it is computed on those (\"paired items\"), "
    "and where they share none it is not shown (\"different items\"). Differences come from a paired test on the "
    "items both answered. Published figures are other people's measurements with other prompts and harnesses, "
    "shown for orientation and never mixed with this run's.")
_TEST_NAMES = {"mcnemar-exact": "McNemar exact", "paired-bootstrap": "paired bootstrap",
               "two-proportion-z": "two-proportion z"}
_STATUS_MARK = {"pass": "✅", "fail": "❌", "missing": "⚠️", "new": "🆕"}


@dataclass
class Table:
    """A table as plain text: ``rows[r][c]`` is a cell, a list of lines."""

    title: str
    header: list[str]
    rows: list[list[list[str]]] = field(default_factory=list)
    note: str = ""


def comparison_lines(c: Comparison | None) -> list[str]:
    """``["-20.0 points, p = 0.012", "McNemar exact, 40 paired items (3 right only for the model, ...)"]``."""
    if c is None:
        return ["—"]
    test = _TEST_NAMES.get(c.test, c.test)
    return [f"{c.difference * 100:+.1f} points, p = {format_p(c.p_value)}",
            f"{test}, {c.n_paired} paired items ({c.only_model_right} right only for the model, "
            f"{c.only_baseline_right} only for the baseline)"]


def published_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    if not entries:
        return ["—"]
    return [f"{e['model']}: {e['metric']} {format_published(e)} [{e['source']}]"
            + (f"; {note}" if (note := protocol_note(e)) else "") for e in entries]


class _Columns:
    """The columns every table shares, and the cells of one row."""

    def __init__(self, card: Scorecard) -> None:
        self.card = card
        self.pairings = Pairings(card)
        self.models = ordered_models(card)
        self.pairs = list(dict.fromkeys((c.model, c.baseline) for c in card.comparisons))
        self.comparisons = {(c.model, c.baseline, c.capability, c.benchmark): c for c in card.comparisons}
        gate = card.gate or {}
        self.verdicts = {(v["model"], v["capability"], v.get("benchmark")): v for v in gate.get("verdicts", [])}
        self.published = list(card.published)

    def header(self, first: list[str], *, extra: bool = True) -> list[str]:
        cols = first + [model_header(m) for m in self.models]
        if not extra:
            return cols
        cols += [f"{model} vs {baseline}" for model, baseline in self.pairs]
        if self.verdicts:
            cols.append("gate")
        if self.published:
            cols.append(PUBLISHED_HEADER)
        return cols

    def model_cell(self, m: ModelInfo, group: Group | None, capability: str, benchmark: str | None,
                   subset: str | None = None, *, metrics: bool = False) -> list[str]:
        if group is None:
            return ["—"]
        if m.role != "baseline":
            lines, values = score_lines(group.tally, group.protocol), group.metrics
        else:
            cell = self.pairings.cell(m.name, capability, benchmark, subset)
            lines, values = baseline_lines(cell), cell.metrics
        if metrics and values:
            lines = [*lines, " · ".join(f"{k} {v:.3f}" for k, v in values.items())]
        return lines

    def extra_cells(self, capability: str, benchmark: str | None, published: list[Mapping[str, Any]]) -> list[list[str]]:
        row = [comparison_lines(self.comparisons.get((a, b, capability, benchmark))) for a, b in self.pairs]
        if self.verdicts:
            lines = []
            for m in self.models:
                v = self.verdicts.get((m.name, capability, benchmark))
                if v is not None and not _judged(v):
                    lines.append(f"{m.name}: not scored")  # nothing to judge, as JUnit says
                elif v is not None:
                    p = f", p = {format_p(v['p_value'])}" if v.get("p_value") is not None else ""
                    lines.append(f"{_STATUS_MARK.get(v['status'], '')} {m.name}: {v['status']}{p}".strip())
            row.append(lines or ["—"])
        if self.published:
            row.append(published_lines(published))
        return row


def scorecard_tables(card: Scorecard) -> list[Table]:
    """The capability table, the benchmark table and (when there are any) the subset table."""
    cols = _Columns(card)
    capability_table = Table("Capabilities", cols.header(["capability"]), note=CAPABILITY_NOTE)
    for capability in capability_names(card):
        row = [[capability]] + [cols.model_cell(m, card.capability(m.name, capability), capability, None) for m in cols.models]
        row += cols.extra_cells(capability, None, [p for p in cols.published if p["capability"] == capability])
        capability_table.rows.append(row)

    benchmark_table = Table("Benchmarks", cols.header(["benchmark", "capability"]))
    subset_table = Table("Subsets", cols.header(["benchmark", "subset"], extra=False))
    for benchmark, capability in benchmark_names(card):
        groups = [card.benchmark(m.name, benchmark) for m in cols.models]
        row = [[benchmark], [capability]]
        row += [cols.model_cell(m, g, capability, benchmark, metrics=True) for m, g in zip(cols.models, groups, strict=True)]
        row += cols.extra_cells(capability, benchmark, [p for p in cols.published if p["benchmark"] == benchmark])
        benchmark_table.rows.append(row)
        for subset in dict.fromkeys(s.subset for g in groups if g is not None for s in g.subsets):
            found = [next((s for s in g.subsets if s.subset == subset), None) if g else None for g in groups]
            subset_table.rows.append([[benchmark], [subset or ""]] + [
                cols.model_cell(m, s, capability, benchmark, subset) for m, s in zip(cols.models, found, strict=True)])
    return [capability_table, benchmark_table] + ([subset_table] if subset_table.rows else [])


def _judged(verdict: Mapping[str, Any]) -> bool:
    """:func:`~pytest_llmeval.gate.verdict.is_check` of a verdict's JSON form."""
    return is_check(str(verdict.get("status")), int(verdict.get("n") or 0))


def gate_summary(card: Scorecard) -> tuple[str, list[str], list[str]]:
    """(headline, failure messages, other messages) of the scorecard's gate section."""
    gate = card.gate
    if not gate:
        return ("Gate: no thresholds. Pin this run with `pytest --llm-pin --llm-thresholds=llm-thresholds.json`, "
                "then gate CI with `--llm-thresholds=llm-thresholds.json`.", [], [])
    verdicts = gate.get("verdicts", [])
    # The gate's own messages: a regression is said once even when its benchmark fails with it.
    messages = list(gate.get("messages", []))
    failures = [m for m in messages if not m.startswith(("warning:", "note:"))]
    others = [m for m in messages if m.startswith(("warning:", "note:"))]
    failed = sum(1 for v in verdicts if v.get("status") == "fail") or len(failures)
    source = gate.get("thresholds")
    against = f" against {source}" if source else ""
    checked = sum(1 for v in verdicts if _judged(v))
    if gate.get("passed", True):
        return f"Gate: ✅ passed ({checked} checks{against})", failures, others
    return f"Gate: ❌ failed ({failed} of {checked} checks{against})", failures, others
