"""The scorecard as GitHub-flavoured Markdown, ready for ``$GITHUB_STEP_SUMMARY``.

The tables come from :mod:`pytest_llmeval.reports.tables`, which the HTML report renders too.

Example::

    Path(os.environ["GITHUB_STEP_SUMMARY"]).write_text(render_markdown(card))
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from ..scorecard import Scorecard
from .cells import as_scorecard, model_details, ordered_models
from .tables import Table, gate_summary, scorecard_tables

__all__ = ["render_markdown"]


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


def render_markdown(scorecard: Scorecard | Mapping[str, Any]) -> str:
    """The scorecard as Markdown: gate verdict first, then the models, capabilities, benchmarks
    and subsets. A JSON document is read with :meth:`Scorecard.from_json` first."""
    card = as_scorecard(scorecard)
    models = ordered_models(card)
    headline, failures, others = gate_summary(card)
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
            lines.append(f"- **{_md(m.name)}** {_md(model_details(m))}")
        lines.append("")
    if not card.capabilities:
        lines += ["_No benchmark item ran._", ""]
    else:
        for table in scorecard_tables(card):
            lines += _md_table(table)
    if card.created:
        lines.append(f"<sub>pytest-llmeval, {_md(card.created)}</sub>")
    return "\n".join(lines).rstrip("\n") + "\n"
