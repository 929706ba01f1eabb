"""The scorecard as GitHub-flavoured Markdown, ready for ``$GITHUB_STEP_SUMMARY``.

Also home of the format-neutral tables (:func:`scorecard_tables`) that the HTML report renders
too, so that both reports always say the same thing.

Example::

    Path(os.environ["GITHUB_STEP_SUMMARY"]).write_text(render_markdown(scorecard))
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..published import format_published
from ..stats import format_p, wilson_interval

__all__ = ["Table", "render_markdown", "scorecard_tables"]

PUBLISHED_HEADER = "published (not measured here)"
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


def ordered_models(scorecard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Models that have rows, in scorecard order, the baseline(s) last."""
    with_rows = {r["model"] for r in scorecard.get("capabilities", [])}
    models = [dict(m) for m in scorecard.get("models", []) if m.get("name") in with_rows]
    named = {m["name"] for m in models}
    models += [{"name": name, "role": "candidate"} for name in dict.fromkeys(r["model"] for r in
               scorecard.get("capabilities", [])) if name not in named]
    return sorted(models, key=lambda m: m.get("role") == "baseline")


def model_header(model: Mapping[str, Any]) -> str:
    return f"{model['name']} (baseline)" if model.get("role") == "baseline" else str(model["name"])


def score_lines(row: Mapping[str, Any] | None) -> list[str]:
    """``["0.350 (0.22 to 0.50)", "14/40 passed, 2 errored"]`` for a scorecard row."""
    if row is None:
        return ["—"]
    passed, failed = int(row.get("passed", 0)), int(row.get("failed", 0))
    errors, skipped = int(row.get("errors", 0)), int(row.get("skipped", 0))
    n = passed + failed
    counts = f"{passed}/{n} passed"
    if errors:
        counts += f", {errors} errored"
    if skipped:
        counts += f", {skipped} skipped"
    score = row.get("score")
    if score is None or n == 0:
        return ["no score", counts]
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        low, high = wilson_interval(passed, n)
    return [f"{score:.3f} ({low:.2f} to {high:.2f})", counts]


def comparison_lines(row: Mapping[str, Any] | None) -> list[str]:
    """``["-20.0 points, p = 0.012", "McNemar exact, 40 paired items (3 right only for the model, ...)"]``."""
    if row is None or row.get("difference") is None:
        return ["—"]
    text = f"{row['difference'] * 100:+.1f} points"
    if row.get("p_value") is not None:
        text += f", p = {format_p(row['p_value'])}"
    test = _TEST_NAMES.get(str(row.get("test")), str(row.get("test") or "no test"))
    detail = f"{test}, {row.get('n_paired', 0)} paired items"
    if row.get("only_model_right") is not None and row.get("only_baseline_right") is not None:
        detail += f" ({row['only_model_right']} right only for the model, {row['only_baseline_right']} only for the baseline)"
    return [text, detail]


def published_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    if not entries:
        return ["—"]
    return [f"{e['model']}: {e['metric']} {format_published(e)} [{e['source']}]" for e in entries]


def _comparison_pairs(scorecard: Mapping[str, Any]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((c["model"], c["baseline"]) for c in scorecard.get("comparisons") or []))


def _verdicts(scorecard: Mapping[str, Any]) -> dict[tuple[str, str, str | None], Mapping[str, Any]]:
    gate = scorecard.get("gate") or {}
    return {(v["model"], v["capability"], v.get("benchmark")): v for v in gate.get("verdicts", [])}


def _gate_cell(verdicts: Mapping[tuple[str, str, str | None], Mapping[str, Any]], models: list[dict[str, Any]],
               capability: str, benchmark: str | None) -> list[str]:
    lines = []
    for m in models:
        v = verdicts.get((m["name"], capability, benchmark))
        if v is not None:
            p = f", p = {format_p(v['p_value'])}" if v.get("p_value") is not None else ""
            lines.append(f"{_STATUS_MARK.get(v['status'], '')} {m['name']}: {v['status']}{p}".strip())
    return lines or ["—"]


def scorecard_tables(scorecard: Mapping[str, Any]) -> list[Table]:
    """The capability table, the benchmark table and (when there are any) the subset table."""
    models = ordered_models(scorecard)
    pairs = _comparison_pairs(scorecard)
    verdicts = _verdicts(scorecard)
    published = list(scorecard.get("published") or [])
    comparisons = {(c["model"], c["baseline"], c["capability"], c.get("benchmark")): c
                   for c in scorecard.get("comparisons") or []}
    caps = {(r["model"], r["capability"]): r for r in scorecard.get("capabilities", [])}
    benches = {(r["model"], r["capability"], r["benchmark"]): r for r in scorecard.get("benchmarks", [])}

    def header(first: list[str]) -> list[str]:
        cols = first + [model_header(m) for m in models]
        cols += [f"{model} vs {baseline}" for model, baseline in pairs]
        if verdicts:
            cols.append("gate")
        if published:
            cols.append(PUBLISHED_HEADER)
        return cols

    capability_table = Table(
        "Capabilities", header(["capability"]),
        note="Scores are pass rates (passed / (passed + failed)) with 95% Wilson intervals. Differences come from a "
             "paired test on the items both models answered. Published figures are other people's measurements "
             "with other prompts and harnesses, shown for orientation and never mixed with this run's.")
    for capability in dict.fromkeys(r["capability"] for r in scorecard.get("capabilities", [])):
        row = [[capability]] + [score_lines(caps.get((m["name"], capability))) for m in models]
        row += [comparison_lines(comparisons.get((a, b, capability, None))) for a, b in pairs]
        if verdicts:
            row.append(_gate_cell(verdicts, models, capability, None))
        if published:
            row.append(published_lines([p for p in published if p["capability"] == capability]))
        capability_table.rows.append(row)

    benchmark_table = Table("Benchmarks", header(["benchmark", "capability"]))
    names = dict.fromkeys((r["benchmark"], r["capability"]) for r in scorecard.get("benchmarks", []))
    for benchmark, capability in names:
        row = [[benchmark], [capability]]
        for m in models:
            found = benches.get((m["name"], capability, benchmark))
            lines = score_lines(found)
            metrics = (found or {}).get("metrics") or {}
            if metrics:
                lines.append(" · ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
            row.append(lines)
        row += [comparison_lines(comparisons.get((a, b, capability, benchmark))) for a, b in pairs]
        if verdicts:
            row.append(_gate_cell(verdicts, models, capability, benchmark))
        if published:
            row.append(published_lines([p for p in published if p["benchmark"] == benchmark]))
        benchmark_table.rows.append(row)
    tables = [capability_table, benchmark_table]

    subset_table = Table("Subsets", ["benchmark", "subset"] + [model_header(m) for m in models])
    for benchmark, capability in names:
        subsets: dict[str, None] = {}
        for m in models:
            for s in (benches.get((m["name"], capability, benchmark)) or {}).get("subsets") or []:
                subsets.setdefault(s["subset"], None)
        for subset in subsets:
            row = [[benchmark], [subset]]
            for m in models:
                rows = (benches.get((m["name"], capability, benchmark)) or {}).get("subsets") or []
                row.append(score_lines(next((s for s in rows if s["subset"] == subset), None)))
            subset_table.rows.append(row)
    if subset_table.rows:
        tables.append(subset_table)
    return tables


def gate_summary(scorecard: Mapping[str, Any]) -> tuple[str, list[str], list[str]]:
    """(headline, failure messages, other messages) of the scorecard's gate section."""
    gate = scorecard.get("gate")
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
    checked = sum(1 for v in verdicts if v.get("status") in ("pass", "fail", "new"))
    if gate.get("passed", True):
        headline = f"Gate: ✅ passed ({checked} checks{against})"
    else:
        headline = f"Gate: ❌ failed ({failed} of {checked} checks{against})"
    return headline, failures, others


def _md(text: str) -> str:
    # Table cells: no raw HTML, no pipes, no newlines.
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    lines = [f"### {table.title}", ""]
    lines.append("| " + " | ".join(_md(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join("<br>".join(_md(line) for line in cell) for cell in row) + " |")
    if table.note:
        lines += ["", f"_{_md(table.note)}_"]
    return [*lines, ""]


def render_markdown(scorecard: Mapping[str, Any]) -> str:
    """The scorecard as Markdown: gate verdict first, then capabilities, benchmarks and subsets."""
    models = ordered_models(scorecard)
    headline, failures, others = gate_summary(scorecard)
    lines = ["## LLM scorecard", "", f"**{_md(headline)}**", ""]
    if failures:
        # A fenced block keeps the flipped-item lists aligned; fences cannot be broken out of
        # by a longer run of backticks than any in the text.
        longest = max((len(run) for m in failures for run in re.findall(r"`+", m)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += [fence + "text", *failures, fence, ""]
    for message in others:
        lines.append(f"- {_md(message)}")
    if others:
        lines.append("")
    if models:
        lines.append("Models:")
        for m in models:
            role = m.get("role") or "candidate"
            description = f": {m['description']}" if m.get("description") else ""
            lines.append(f"- **{_md(str(m['name']))}** ({_md(role)}){_md(description)}")
        lines.append("")
    if not scorecard.get("capabilities"):
        lines += ["_No benchmark item ran._", ""]
    else:
        for table in scorecard_tables(scorecard):
            lines += _md_table(table)
    if scorecard.get("created"):
        lines.append(f"<sub>pytest-llmeval, {_md(str(scorecard['created']))}</sub>")
    return "\n".join(lines).rstrip("\n") + "\n"
