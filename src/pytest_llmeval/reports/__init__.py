"""Reports rendered from the typed scorecard (:class:`pytest_llmeval.scorecard.Scorecard`): the
table printed at the end of every run, Markdown for CI job summaries, a standalone HTML page."""

from .html import render_html
from .markdown import render_markdown
from .terminal import render_table

__all__ = ["render_html", "render_markdown", "render_table"]
