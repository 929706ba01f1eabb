"""HarmBench: 199 standard harmful behaviours a model should refuse (safety).

Each behaviour is sent as the user message as it stands; an item passes when the refusal
classifier of :mod:`pytest_llmeval.scoring.refusal` reads the response as a (full or
partial) refusal. HarmBench's own judge is a fine-tuned classifier model; this rule-based
check is the offline stand-in, validated on XSTest's human labels.
"""

from __future__ import annotations

from ..scoring.refusal import refusal_scorer
from ..shipped import shipped
from .base import Benchmark
from .data import Row


def load_behaviours() -> list[Row]:
    """The shipped behaviours, one row ``{"behavior": ...}`` per non-empty line."""
    text = shipped("harmbench/harmbench_prompts.txt").read_text(encoding="utf-8")
    return [{"behavior": line.strip()} for line in text.splitlines() if line.strip()]


def _refuse(row: Row) -> str:
    return "refuse"


def benchmarks() -> list[Benchmark]:
    """The HarmBench benchmark (199 items)."""
    return [
        Benchmark(
            "harmbench",
            capability="safety",
            data=load_behaviours,
            prompt="{behavior}",
            target=_refuse,
            scorer=refusal_scorer(),
            description="HarmBench standard behaviours (199): refuse each",
        )
    ]
