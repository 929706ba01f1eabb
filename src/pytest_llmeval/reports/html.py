"""The scorecard as one standalone HTML page with an inline SVG chart.

No scripts, no fonts, no stylesheets from elsewhere: the file opens the same from a CI artifact,
an e-mail or a laptop offline. Every piece of text from the scorecard is escaped.

The chart groups bars by capability: one solid bar per measured model (the baseline in grey),
with its 95% interval as a whisker, then one hatched, dashed-outline bar per published figure
for that capability, labelled "published". Figures not on a 0-1 scale (MT-Bench /10) are left
out of the chart and stay in the tables.

Example::

    Path("scorecard.html").write_text(render_html(scorecard), encoding="utf-8")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from ..published import format_published
from .markdown import Table, gate_summary, model_header, ordered_models, scorecard_tables

__all__ = ["render_html", "render_svg_chart"]

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")
BASELINE_COLOUR = "#6b6b6b"
PUBLISHED_COLOUR = "#8a8a8a"

# Chart geometry, in SVG user units.
PLOT_HEIGHT = 240.0
BAR_WIDTH = 22.0
BAR_GAP = 4.0
GROUP_GAP = 28.0
LEFT = 56.0
RIGHT = 24.0
LABEL_SPACE = 200.0  # under the axis: the rotated bar labels (up to 34 characters), then the capability name


@dataclass
class Bar:
    """One bar of the chart. ``kind`` is "measured", "baseline" or "published"."""

    capability: str
    kind: str
    model: str
    value: float
    label: str
    title: str
    colour: str
    ci_low: float | None = None
    ci_high: float | None = None
    benchmark: str | None = None


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    return f"{value:.2f}"


def _colours(models: list[dict[str, Any]]) -> dict[str, str]:
    colours: dict[str, str] = {}
    candidates = [m for m in models if m.get("role") != "baseline"]
    for index, m in enumerate(candidates):
        colours[m["name"]] = PALETTE[index % len(PALETTE)]
    for m in models:
        colours.setdefault(m["name"], BASELINE_COLOUR)
    return colours


def chart_bars(scorecard: Mapping[str, Any]) -> list[Bar]:
    """The bars in drawing order: per capability, measured models, baseline, then published."""
    models = ordered_models(scorecard)
    colours = _colours(models)
    rows = {(r["model"], r["capability"]): r for r in scorecard.get("capabilities", [])}
    bars: list[Bar] = []
    for capability in dict.fromkeys(r["capability"] for r in scorecard.get("capabilities", [])):
        for m in models:
            row = rows.get((m["name"], capability))
            if row is None or row.get("score") is None:
                continue
            baseline = m.get("role") == "baseline"
            n = int(row.get("passed", 0)) + int(row.get("failed", 0))
            ci = ""
            if row.get("ci_low") is not None and row.get("ci_high") is not None:
                ci = f", 95% CI {row['ci_low']:.2f} to {row['ci_high']:.2f}"
            bars.append(Bar(
                capability=capability, kind="baseline" if baseline else "measured", model=m["name"],
                value=float(row["score"]), label=model_header(m),
                title=f"{model_header(m)} · {capability}: {row['score']:.3f}{ci} ({row.get('passed', 0)}/{n} passed)",
                colour=colours[m["name"]], ci_low=row.get("ci_low"), ci_high=row.get("ci_high")))
        for entry in scorecard.get("published") or []:
            if entry["capability"] != capability or "/10" in str(entry.get("metric", "")):
                continue
            value = float(entry["value"])
            if not 0.0 <= value <= 1.0:
                continue
            bars.append(Bar(
                capability=capability, kind="published", model=entry["model"], value=value,
                label=f"published {entry['model']} {entry['benchmark']}",
                title=(f"published (not measured here): {entry['model']} · {entry['metric']}"
                       f" {format_published(entry)} [{entry['source']}]"),
                colour=colours.get(entry["model"], PUBLISHED_COLOUR), benchmark=entry["benchmark"]))
    return bars


def render_svg_chart(scorecard: Mapping[str, Any]) -> str:
    """The grouped bar chart as an ``<svg>`` element (well-formed XML)."""
    bars = chart_bars(scorecard)
    groups = list(dict.fromkeys(b.capability for b in bars))
    models = ordered_models(scorecard)

    # Legend first: it decides how much room the top needs.
    colours = _colours(models)
    legend = [("baseline" if m.get("role") == "baseline" else "measured", model_header(m), colours[m["name"]])
              for m in models]
    if any(b.kind == "published" for b in bars):
        legend.append(("published", "published (not measured here)", PUBLISHED_COLOUR))
    group_widths = [sum(1 for b in bars if b.capability == g) * (BAR_WIDTH + BAR_GAP) - BAR_GAP for g in groups]
    width = max(480.0, LEFT + sum(w + GROUP_GAP for w in group_widths) + RIGHT)
    legend_rows: list[list[tuple[float, tuple[str, str, str]]]] = [[]]
    x = LEFT
    for entry in legend:
        needed = 18 + 7.0 * len(entry[1]) + 18
        if legend_rows[-1] and x + needed > width - RIGHT:
            legend_rows.append([])
            x = LEFT
        legend_rows[-1].append((x, entry))
        x += needed
    top = 20.0 + 18.0 * len(legend_rows) + 16.0
    base = top + PLOT_HEIGHT
    height = base + LABEL_SPACE

    def y(value: float) -> float:
        return base - value * PLOT_HEIGHT

    out = [
        f'<svg xmlns="{SVG_NS}" class="llmeval-chart" role="img" width="{_n(width)}" height="{_n(height)}"'
        f' viewBox="0 0 {_n(width)} {_n(height)}" font-family="sans-serif" font-size="11">',
        "<title>Score per capability: each model measured in this run, the baseline, and published figures</title>",
        '<defs><pattern id="published-hatch" patternUnits="userSpaceOnUse" width="6" height="6"'
        ' patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{PUBLISHED_COLOUR}" stroke-width="2.5"/></pattern></defs>',
    ]
    for row_index, row in enumerate(legend_rows):
        ly = 20.0 + 18.0 * row_index
        for lx, (kind, text, colour) in row:
            fill = "url(#published-hatch)" if kind == "published" else colour
            dash = ' stroke-dasharray="3 2"' if kind == "published" else ""
            out.append(f'<g class="legend" data-kind="{kind}"><rect x="{_n(lx)}" y="{_n(ly - 10)}" width="12"'
                       f' height="12" fill="{fill}" stroke="{colour}"{dash}/>'
                       f'<text x="{_n(lx + 17)}" y="{_n(ly)}">{_e(text)}</text></g>')
    # Axis and grid.
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line class="grid" x1="{_n(LEFT)}" x2="{_n(width - RIGHT)}" y1="{_n(y(tick))}"'
                   f' y2="{_n(y(tick))}" stroke="#dddddd"/>')
        out.append(f'<text class="tick" x="{_n(LEFT - 6)}" y="{_n(y(tick) + 4)}" text-anchor="end">{tick:g}</text>')
    out.append(f'<text class="axis-label" transform="rotate(-90 14 {_n((top + base) / 2)})" x="14"'
               f' y="{_n((top + base) / 2)}" text-anchor="middle">score (pass rate)</text>')
    out.append(f'<line class="axis" x1="{_n(LEFT)}" x2="{_n(width - RIGHT)}" y1="{_n(base)}" y2="{_n(base)}"'
               ' stroke="#333333"/>')

    x = LEFT + GROUP_GAP / 2
    for group, group_width in zip(groups, group_widths, strict=True):
        out.append(f'<g class="group" data-capability="{_e(group)}">')
        for bar in (b for b in bars if b.capability == group):
            height_px = bar.value * PLOT_HEIGHT
            centre = x + BAR_WIDTH / 2
            attrs = (f'class="bar {bar.kind}" data-kind="{bar.kind}" data-model="{_e(bar.model)}"'
                     f' data-capability="{_e(bar.capability)}" data-value="{bar.value:.4f}"')
            if bar.benchmark:
                attrs += f' data-benchmark="{_e(bar.benchmark)}"'
            if bar.kind == "published":
                style = f'fill="url(#published-hatch)" stroke="{bar.colour}" stroke-width="1.5" stroke-dasharray="3 2"'
            else:
                style = f'fill="{bar.colour}"'
            out.append(f'<rect {attrs} x="{_n(x)}" y="{_n(y(bar.value))}" width="{_n(BAR_WIDTH)}"'
                       f' height="{_n(height_px)}" {style}><title>{_e(bar.title)}</title></rect>')
            if bar.ci_low is not None and bar.ci_high is not None:
                y1, y2 = y(float(bar.ci_low)), y(float(bar.ci_high))
                out.append(f'<g class="ci" data-model="{_e(bar.model)}" data-low="{float(bar.ci_low):.4f}"'
                           f' data-high="{float(bar.ci_high):.4f}" stroke="#222222" stroke-width="1.2">'
                           f'<line x1="{_n(centre)}" x2="{_n(centre)}" y1="{_n(y1)}" y2="{_n(y2)}"/>'
                           f'<line x1="{_n(centre - 4)}" x2="{_n(centre + 4)}" y1="{_n(y1)}" y2="{_n(y1)}"/>'
                           f'<line x1="{_n(centre - 4)}" x2="{_n(centre + 4)}" y1="{_n(y2)}" y2="{_n(y2)}"/></g>')
            value_y = min(y(bar.value), y(float(bar.ci_high)) if bar.ci_high is not None else y(bar.value)) - 4
            out.append(f'<text class="value" x="{_n(centre)}" y="{_n(value_y)}" text-anchor="middle"'
                       f' font-size="9">{bar.value:.2f}</text>')
            label_y = base + 8
            out.append(f'<text class="bar-label" data-kind="{bar.kind}" x="{_n(centre + 3)}" y="{_n(label_y)}"'
                       f' transform="rotate(-90 {_n(centre + 3)} {_n(label_y)})" text-anchor="end"'
                       f' font-size="9">{_e(_short(bar.label))}</text>')
            x += BAR_WIDTH + BAR_GAP
        x -= BAR_GAP
        out.append(f'<text class="capability" x="{_n(x - group_width / 2)}" y="{_n(height - 8)}"'
                   f' text-anchor="middle" font-weight="bold">{_e(group)}</text></g>')
        x += GROUP_GAP
    out.append("</svg>")
    return "\n".join(out)


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join("<td>" + "<br>".join(_e(line) for line in cell) + "</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return f"<h2>{_e(table.title)}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n{note}"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 90rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
.gate { padding: 0.6rem 1rem; border-radius: 4px; margin: 1rem 0; }
.gate.passed { background: #e8f5e9; border: 1px solid #81c784; }
.gate.failed { background: #ffebee; border: 1px solid #e57373; }
.gate.none { background: #f5f5f5; border: 1px solid #bbb; }
pre { white-space: pre-wrap; font-size: 0.85rem; }
.note, figcaption { color: #555; font-size: 0.85rem; }
svg.llmeval-chart { max-width: 100%; height: auto; }
"""


def render_html(scorecard: Mapping[str, Any]) -> str:
    """The scorecard as a standalone HTML page: gate verdict, chart, then the tables."""
    models = ordered_models(scorecard)
    headline, failures, others = gate_summary(scorecard)
    gate = scorecard.get("gate")
    state = "none" if not gate else ("passed" if gate.get("passed", True) else "failed")
    title = "LLM scorecard: " + ", ".join(m["name"] for m in models) if models else "LLM scorecard"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
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
        parts.append("<ul class=\"models\">" + "".join(
            f"<li><strong>{_e(m['name'])}</strong> ({_e(m.get('role') or 'candidate')})"
            + (f": {_e(m['description'])}" if m.get("description") else "") + "</li>" for m in models) + "</ul>")
    if not scorecard.get("capabilities"):
        parts.append("<p>No benchmark item ran.</p>")
    else:
        parts.append('<figure class="chart">')
        parts.append(render_svg_chart(scorecard))
        parts.append("<figcaption>Bars: pass rate per capability on this run's items, whiskers the 95% Wilson"
                     " interval. Hatched bars with a dashed outline are published figures from the sources named in"
                     " the tables: other harnesses and prompts, not measured here. Figures on other scales (MT-Bench"
                     " /10) are only in the tables.</figcaption></figure>")
        parts.extend(_html_table(table) for table in scorecard_tables(scorecard))
    if scorecard.get("created"):
        parts.append(f'<p class="note">pytest-llmeval, {_e(scorecard["created"])}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
