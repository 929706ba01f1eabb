"""The scorecard's chart: an inline SVG of grouped bars, one group per capability, under its name.

In each group: one solid bar per model under test, coloured per model, with its 95% interval
as a whisker; the baseline in grey, on the items the models also answered (see
:mod:`pytest_llmeval.reports.pairing`: a baseline that shares no item with them gets a label
"no common items" in its place instead of a bar); then one hatched, dashed-outline bar per
published figure, labelled "published". Figures not on a 0-1 scale (MT-Bench /10) stay in the
tables. Groups wrap onto further rows instead of shrinking, so that labels keep their size
(``MAX_WIDTH``). Answers made with another protocol than the plugin's prompt carry a mark
("(a)") in their bar's label, explained under the chart.

Colours are SVG attributes, overridden by the HTML page's stylesheet for a dark colour scheme.
For tools and tests: each bar is a ``rect`` with ``class="bar KIND"`` and ``data-kind``,
``data-model``, ``data-capability``, ``data-value`` (and ``data-benchmark`` for published
bars, ``data-paired`` for a baseline on paired items); each whisker a ``g class="ci"`` with
``data-model``, ``data-capability``, ``data-low`` and ``data-high``.

Example::

    notes = Notes()
    svg = render_svg_chart(card, notes)   # then print notes.lines() under it
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from ..published import format_published, protocol_note
from ..scorecard import ModelInfo, Scorecard, Tally
from .cells import Notes, capability_names, model_header, ordered_models
from .pairing import Pairings

__all__ = ["PLOT_HEIGHT", "Bar", "chart_bars", "chart_caption", "render_svg_chart"]

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")
BASELINE_COLOUR = "#6b6b6b"
PUBLISHED_COLOUR = "#8a8a8a"

# Geometry, in SVG user units (CSS pixels when the chart is shown at its own size).
PLOT_HEIGHT = 240.0
BAR_WIDTH = 22.0
BAR_GAP = 4.0
GROUP_GAP = 28.0
LEFT = 56.0
RIGHT = 24.0
MAX_WIDTH = 1000.0  # a row of groups never grows wider than this (unless one group alone is)
TITLE_BAND = 24.0  # the top of each row: the capability names, over their groups
ROW_TOP = 20.0  # then, above each plot, room for the value labels of full bars
ROW_GAP = 12.0  # between the bar labels of a row and the names of the next one
FONT = 12.0  # legend, ticks, capability names
SMALL_FONT = 10.0  # bar labels and values: the smallest text on the chart
CHAR_WIDTH = 0.62  # a generous average advance of a sans-serif character, in em (bold capability names)


@dataclass
class Bar:
    """One slot of a group. ``kind`` is "measured", "baseline" or "published"; ``value`` is None
    for a slot with a label and no bar (a baseline with no common items)."""

    capability: str
    kind: str
    model: str
    value: float | None
    label: str
    title: str
    colour: str
    ci_low: float | None = None
    ci_high: float | None = None
    benchmark: str | None = None
    paired: int | None = None


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    return f"{value:.2f}"


def _colours(models: list[ModelInfo]) -> dict[str, str]:
    candidates = [m.name for m in models if m.role != "baseline"]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(candidates)}
    return {m.name: colours.get(m.name, BASELINE_COLOUR) for m in models}


def _measured(capability: str, kind: str, m: ModelInfo, tally: Tally, colour: str, mark: str, detail: str = "") -> Bar:
    interval = tally.interval or (0.0, 1.0)
    score = tally.score or 0.0
    title = (f"{model_header(m)} · {capability}: {score:.3f}, 95% CI {interval[0]:.2f} to {interval[1]:.2f}"
             f" ({tally.passed}/{tally.scored} passed{detail})")
    return Bar(capability, kind, m.name, score, model_header(m) + mark, title, colour, interval[0], interval[1])


def _model_bars(card: Scorecard, pairings: Pairings, capability: str, m: ModelInfo, colour: str, notes: Notes) -> list[Bar]:
    if m.role != "baseline":
        group = card.capability(m.name, capability)
        if group is None or group.tally.score is None:
            return []
        mark = notes.mark(group.protocol)
        return [_measured(capability, "measured", m, group.tally, colour, mark, mark and f"; {group.protocol}")]
    cell = pairings.cell(m.name, capability)
    if cell.kind == "unscored":
        return []
    if cell.shown is None:
        words = "no common items" if cell.kind == "different" else "paired per model, see tables"
        return [Bar(capability, "baseline", m.name, None, f"{m.name}: {words}",
                    f"{model_header(m)} · {capability}: {words} with the models under test", colour)]
    mark = notes.mark(cell.protocol)
    paired = cell.shown.scored if cell.kind == "paired" else None
    detail = (f" on the {paired} items the models also answered" if paired else "") + (mark and f"; {cell.protocol}")
    bar = _measured(capability, "baseline", m, cell.shown, colour, mark, detail)
    if paired:
        bar.label = f"{model_header(m)}, n={paired}{mark}"
        bar.paired = paired
    return [bar]


def chart_bars(card: Scorecard, notes: Notes | None = None) -> list[Bar]:
    """The slots in drawing order: per capability, the models under test, the baseline, then
    published figures. ``notes`` collects the protocol marks used in the labels."""
    notes = notes if notes is not None else Notes()
    models = ordered_models(card)
    colours = _colours(models)
    pairings = Pairings(card)
    bars: list[Bar] = []
    for capability in capability_names(card):
        for m in models:
            bars += _model_bars(card, pairings, capability, m, colours[m.name], notes)
        for entry in card.published:
            value = float(entry["value"])
            if entry["capability"] != capability or "/10" in str(entry.get("metric", "")) or not 0.0 <= value <= 1.0:
                continue
            bars.append(Bar(
                capability=capability, kind="published", model=entry["model"], value=value,
                label=f"published {entry['model']} {entry['benchmark']}",
                title=(f"published (not measured here): {entry['model']} · {entry['metric']}"
                       f" {format_published(entry)} [{entry['source']}]"
                       + (f"; {note}" if (note := protocol_note(entry)) else "")),
                colour=colours.get(entry["model"], PUBLISHED_COLOUR), benchmark=entry["benchmark"]))
    return bars


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Group:
    name: str
    bars: list[Bar]
    width: float
    row: int = 0
    x: float = 0.0


def _layout(bars: list[Bar]) -> tuple[list[_Group], float]:
    """Groups placed left to right, wrapping onto a new row past ``MAX_WIDTH``; and the width."""
    groups = []
    for name in dict.fromkeys(b.capability for b in bars):
        mine = [b for b in bars if b.capability == name]
        label = len(_short(name, 40)) * CHAR_WIDTH * FONT
        groups.append(_Group(name, mine, max(len(mine) * (BAR_WIDTH + BAR_GAP) - BAR_GAP, label)))
    row, x, right = 0, LEFT + GROUP_GAP / 2, 0.0
    for g in groups:
        if x > LEFT + GROUP_GAP / 2 and x + g.width + RIGHT > MAX_WIDTH:
            row, x = row + 1, LEFT + GROUP_GAP / 2
        g.row, g.x = row, x
        x += g.width + GROUP_GAP
        right = max(right, x - GROUP_GAP / 2)
    return groups, max(480.0, right + RIGHT)


def label_space(bars: list[Bar]) -> float:
    """Room under each axis for the longest rotated bar label (at most 34 characters)."""
    longest = max((len(_short(b.label)) for b in bars), default=0)
    return 8 + longest * CHAR_WIDTH * SMALL_FONT + 4


def _legend(models: list[ModelInfo], bars: list[Bar], width: float, notes: Notes) -> list[list[tuple[float, str, str, str]]]:
    """Legend rows of (x, kind, text, colour); a model's protocol is marked after its name."""
    colours = _colours(models)
    entries = [("baseline" if m.role == "baseline" else "measured", model_header(m) + notes.mark(m.protocol), colours[m.name])
               for m in models]
    if any(b.kind == "published" for b in bars):
        entries.append(("published", "published (not measured here)", PUBLISHED_COLOUR))
    rows: list[list[tuple[float, str, str, str]]] = [[]]
    x = LEFT
    for kind, text, colour in entries:
        needed = 18 + CHAR_WIDTH * FONT * len(text) + 18
        if rows[-1] and x + needed > width - RIGHT:
            rows.append([])
            x = LEFT
        rows[-1].append((x, kind, text, colour))
        x += needed
    return rows


def _defs() -> str:
    return ('<defs><pattern id="published-hatch" patternUnits="userSpaceOnUse" width="6" height="6"'
            ' patternTransform="rotate(45)"><rect class="hatch-ground" width="6" height="6" fill="#ffffff"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{PUBLISHED_COLOUR}" stroke-width="2.5"/></pattern></defs>')


def _axes(width: float, top: float) -> list[str]:
    base = top + PLOT_HEIGHT
    out = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = base - tick * PLOT_HEIGHT
        out.append(f'<line class="grid" x1="{_n(LEFT)}" x2="{_n(width - RIGHT)}" y1="{_n(y)}" y2="{_n(y)}" stroke="#dddddd"/>')
        out.append(f'<text class="tick" x="{_n(LEFT - 6)}" y="{_n(y + 4)}" text-anchor="end">{tick:g}</text>')
    middle = (top + base) / 2
    out.append(f'<text class="axis-label" transform="rotate(-90 14 {_n(middle)})" x="14" y="{_n(middle)}"'
               ' text-anchor="middle">score (pass rate)</text>')
    out.append(f'<line class="axis" x1="{_n(LEFT)}" x2="{_n(width - RIGHT)}" y1="{_n(base)}" y2="{_n(base)}" stroke="#333333"/>')
    return out


def _bar(bar: Bar, x: float, base: float) -> list[str]:
    centre, label_y = x + BAR_WIDTH / 2, base + 8
    label = (f'<text class="bar-label" data-kind="{bar.kind}" x="{_n(centre + 4)}" y="{_n(label_y)}"'
             f' transform="rotate(-90 {_n(centre + 4)} {_n(label_y)})" text-anchor="end"'
             f' font-size="{SMALL_FONT:g}">{_e(_short(bar.label))}<title>{_e(bar.title)}</title></text>')
    if bar.value is None:
        return [label.replace('class="bar-label"', 'class="bar-label missing"', 1)]
    y = base - bar.value * PLOT_HEIGHT
    attrs = (f'class="bar {bar.kind}" data-kind="{bar.kind}" data-model="{_e(bar.model)}"'
             f' data-capability="{_e(bar.capability)}" data-value="{bar.value:.4f}"')
    attrs += f' data-benchmark="{_e(bar.benchmark)}"' if bar.benchmark else ""
    attrs += f' data-paired="{bar.paired}"' if bar.paired else ""
    style = (f'fill="url(#published-hatch)" stroke="{bar.colour}" stroke-width="1.5" stroke-dasharray="3 2"'
             if bar.kind == "published" else f'fill="{bar.colour}"')
    out = [f'<rect {attrs} x="{_n(x)}" y="{_n(y)}" width="{_n(BAR_WIDTH)}" height="{_n(bar.value * PLOT_HEIGHT)}"'
           f' {style}><title>{_e(bar.title)}</title></rect>']
    top = y
    if bar.ci_low is not None and bar.ci_high is not None:
        y1, y2 = base - bar.ci_low * PLOT_HEIGHT, base - bar.ci_high * PLOT_HEIGHT
        top = min(y, y2)
        out.append(f'<g class="ci" data-model="{_e(bar.model)}" data-capability="{_e(bar.capability)}"'
                   f' data-low="{bar.ci_low:.4f}" data-high="{bar.ci_high:.4f}" stroke="#222222" stroke-width="1.2">'
                   f'<line x1="{_n(centre)}" x2="{_n(centre)}" y1="{_n(y1)}" y2="{_n(y2)}"/>'
                   f'<line x1="{_n(centre - 4)}" x2="{_n(centre + 4)}" y1="{_n(y1)}" y2="{_n(y1)}"/>'
                   f'<line x1="{_n(centre - 4)}" x2="{_n(centre + 4)}" y1="{_n(y2)}" y2="{_n(y2)}"/></g>')
    out.append(f'<text class="value" x="{_n(centre)}" y="{_n(top - 4)}" text-anchor="middle"'
               f' font-size="{SMALL_FONT:g}">{bar.value:.2f}</text>')
    return [*out, label]


def render_svg_chart(scorecard: Scorecard, notes: Notes | None = None) -> str:
    """The grouped bar chart as an ``<svg>`` element (well-formed XML). ``notes`` collects the
    protocol marks its labels use, for the caption."""
    notes = notes if notes is not None else Notes()
    bars = chart_bars(scorecard, notes)
    groups, width = _layout(bars)
    legend = _legend(ordered_models(scorecard), bars, width, notes)
    first_top = 20.0 + 20.0 * len(legend)
    below = label_space(bars)
    row_height = TITLE_BAND + ROW_TOP + PLOT_HEIGHT + below + ROW_GAP
    height = first_top + row_height * (max((g.row for g in groups), default=0) + 1)
    out = [f'<svg xmlns="{SVG_NS}" class="llmeval-chart" role="img" width="{_n(width)}" height="{_n(height)}"'
           f' viewBox="0 0 {_n(width)} {_n(height)}" font-family="sans-serif" font-size="{FONT:g}">',
           "<title>Score per capability: each model measured in this run, the baseline, and published figures</title>",
           _defs()]
    for index, row in enumerate(legend):
        y = 20.0 + 20.0 * index
        for x, kind, text, colour in row:
            fill = "url(#published-hatch)" if kind == "published" else colour
            dash = ' stroke-dasharray="3 2"' if kind == "published" else ""
            out.append(f'<g class="legend" data-kind="{kind}"><rect x="{_n(x)}" y="{_n(y - 11)}" width="13" height="13"'
                       f' fill="{fill}" stroke="{colour}"{dash}/><text x="{_n(x + 18)}" y="{_n(y)}">{_e(text)}</text></g>')
    for index in range(max((g.row for g in groups), default=-1) + 1):
        start = first_top + index * row_height
        top = start + TITLE_BAND + ROW_TOP
        out.append(f'<g class="row" data-row="{index}">')
        out += _axes(width, top)
        for g in (g for g in groups if g.row == index):
            out.append(f'<g class="group" data-capability="{_e(g.name)}">')
            x = g.x + (g.width - (len(g.bars) * (BAR_WIDTH + BAR_GAP) - BAR_GAP)) / 2
            for bar in g.bars:
                out += _bar(bar, x, top + PLOT_HEIGHT)
                x += BAR_WIDTH + BAR_GAP
            out.append(f'<text class="capability" x="{_n(g.x + g.width / 2)}" y="{_n(start + TITLE_BAND - 6)}"'
                       f' text-anchor="middle" font-weight="bold">{_e(_short(g.name, 40))}</text></g>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def chart_caption(notes: Notes) -> str:
    """The words under the chart: what bars, whiskers and hatching mean, and the protocol marks."""
    words = ("Bars: pass rate per capability on this run's items, whiskers the 95% Wilson interval. A baseline's bar"
             " stands on the items the models also answered (n= when that is only some of its items; \"no common"
             " items\" when none). Hatched bars with a dashed outline are published figures from the sources named in"
             " the tables: other harnesses and prompts, not measured here. Figures on other scales (MT-Bench /10) are"
             " only in the tables.")
    return " ".join([words, *notes.lines()])
