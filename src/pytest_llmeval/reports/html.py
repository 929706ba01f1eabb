"""The scorecard as one standalone HTML page: the gate verdict, a chart, then the tables.

No scripts, no fonts, no stylesheets from elsewhere: the file opens the same from a CI artifact,
an e-mail or a laptop offline. Every piece of text from the scorecard is escaped. The page
follows the reader's colour scheme (``prefers-color-scheme``: light or dark). The chart is
:mod:`pytest_llmeval.reports.chart`; the tables are :mod:`pytest_llmeval.reports.tables`, the
same as the Markdown report's.

Example::

    Path("scorecard.html").write_text(render_html(card), encoding="utf-8")
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from ..scorecard import Scorecard
from .cells import Notes, as_scorecard, model_details, ordered_models
from .chart import chart_caption, render_svg_chart
from .tables import Table, gate_summary, scorecard_tables

__all__ = ["render_html"]


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join("<td>" + "<br>".join(_e(line) for line in cell) + "</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return f"<h2>{_e(table.title)}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n{note}"


# Colours are variables so that one rule set serves both schemes; the chart's SVG attributes
# are fallbacks that these rules override.
_STYLE = """
:root { color-scheme: light dark; --fg: #1f1f1f; --bg: #ffffff; --muted: #555555; --border: #cccccc;
  --head: #f3f3f3; --grid: #dddddd; --axis: #333333; --whisker: #222222; --pass-bg: #e8f5e9;
  --pass-border: #81c784; --fail-bg: #ffebee; --fail-border: #e57373; --none-bg: #f5f5f5; --none-border: #bbbbbb; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #161616; --muted: #b4b4b4; --border: #4a4a4a; --head: #262626; --grid: #3a3a3a;
    --axis: #c8c8c8; --whisker: #f0f0f0; --pass-bg: #16301b; --pass-border: #3f8f4f; --fail-bg: #3a1618;
    --fail-border: #b4474d; --none-bg: #242424; --none-border: #555555; }
}
body { font-family: system-ui, sans-serif; margin: 2rem; color: var(--fg); background: var(--bg); max-width: 90rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid var(--border); padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: var(--head); }
.gate { padding: 0.6rem 1rem; border-radius: 4px; margin: 1rem 0; }
.gate.passed { background: var(--pass-bg); border: 1px solid var(--pass-border); }
.gate.failed { background: var(--fail-bg); border: 1px solid var(--fail-border); }
.gate.none { background: var(--none-bg); border: 1px solid var(--none-border); }
pre { white-space: pre-wrap; font-size: 0.85rem; }
.note, figcaption { color: var(--muted); font-size: 0.85rem; }
figure.chart { margin: 1rem 0; }
svg.llmeval-chart { max-width: 100%; height: auto; }
svg.llmeval-chart text { fill: var(--fg); }
svg.llmeval-chart .grid { stroke: var(--grid); }
svg.llmeval-chart .axis { stroke: var(--axis); }
svg.llmeval-chart .ci { stroke: var(--whisker); }
svg.llmeval-chart .hatch-ground { fill: var(--bg); }
svg.llmeval-chart .bar-label.missing { font-style: italic; }
"""


def render_html(scorecard: Scorecard | Mapping[str, Any]) -> str:
    """The scorecard as a standalone HTML page: gate verdict, models, chart, then the tables.
    A JSON document is read with :meth:`Scorecard.from_json` first."""
    card = as_scorecard(scorecard)
    models = ordered_models(card)
    headline, failures, others = gate_summary(card)
    state = "none" if not card.gate else ("passed" if card.gate.get("passed", True) else "failed")
    title = "LLM scorecard: " + ", ".join(m.name for m in models) if models else "LLM scorecard"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="gate {state}"><strong>{_e(headline)}</strong>',
    ]
    if failures:
        parts.append("<pre>" + _e("\n".join(failures)) + "</pre>")
    if others:
        parts.append("<ul>" + "".join(f"<li>{_e(m)}</li>" for m in others) + "</ul>")
    parts.append("</div>")
    if models:
        parts.append('<ul class="models">' + "".join(
            f"<li><strong>{_e(m.name)}</strong> {_e(model_details(m))}</li>" for m in models) + "</ul>")
    if not card.capabilities:
        parts.append("<p>No benchmark item ran.</p>")
    else:
        notes = Notes()
        parts += ['<figure class="chart">', render_svg_chart(card, notes),
                  f"<figcaption>{_e(chart_caption(notes))}</figcaption></figure>"]
        parts.extend(_html_table(table) for table in scorecard_tables(card))
    if card.created:
        parts.append(f'<p class="note">pytest-llmeval, {_e(card.created)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
