"""Reports written from the scorecard: Markdown for CI job summaries, a standalone HTML page."""

from .html import render_html
from .markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
