"""The words of a scorecard cell, the same in every report (terminal, Markdown, HTML, chart).

A cell is a list of lines: the score with its 95% Wilson interval, then the counts (passed of
scored, and whatever else happened: errored, skipped, cut off by the token limit), then, for
answers not made with the plugin's own prompt, the protocol they were made with.

Example::

    score_lines(Tally(passed=14, failed=24, errors=2, truncated=1))
    # ['0.368 (0.23 to 0.53)', '14/38 passed, 2 errored, 1 cut off']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..scorecard import ModelInfo, Scorecard, Tally
from .pairing import BaselineCell

__all__ = [
    "Notes",
    "as_scorecard",
    "baseline_lines",
    "benchmark_names",
    "capability_names",
    "counts_extras",
    "model_details",
    "model_header",
    "ordered_models",
    "score_lines",
    "unpaired_extras",
    "whom",
]


def as_scorecard(scorecard: Scorecard | Mapping[str, Any]) -> Scorecard:
    """The typed scorecard; a scorecard JSON document (as written by ``--llm-scorecard=PATH.json``
    or handed to the ``pytest_llmeval_scorecard`` hook) is read with :meth:`Scorecard.from_json`,
    which raises :class:`~pytest_llmeval.scorecard.ScorecardError` naming the field when it is not one."""
    return scorecard if isinstance(scorecard, Scorecard) else Scorecard.from_json(scorecard)


def ordered_models(card: Scorecard) -> list[ModelInfo]:
    """The models that have rows, in the scorecard's order, the baseline(s) last."""
    with_rows = {g.model for g in card.capabilities}
    return sorted((m for m in card.models if m.name in with_rows), key=lambda m: m.role == "baseline")


def capability_names(card: Scorecard) -> list[str]:
    """The capabilities of the card's rows, in alphabetical order (every report lists them so)."""
    return sorted({g.capability for g in card.capabilities})


def benchmark_names(card: Scorecard) -> list[tuple[str, str]]:
    """``(benchmark, capability)`` of the card's benchmark rows, by capability then benchmark."""
    return sorted({(g.benchmark or "", g.capability) for g in card.benchmarks}, key=lambda pair: (pair[1], pair[0]))


def model_header(model: ModelInfo) -> str:
    """A model's column title: its name, and "(baseline)" for a baseline."""
    return f"{model.name} (baseline)" if model.role == "baseline" else model.name


def model_details(model: ModelInfo) -> str:
    """What the reports say after a model's name: ``"(baseline): recorded outputs (...); protocol:
    recorded, 8-shot chain of thought"``."""
    text = f"({model.role})"
    if model.description:
        text += f": {model.description}"
    if model.protocol:
        text += f"; protocol: {model.protocol}"
    return text


def counts_extras(tally: Tally) -> list[str]:
    """What else happened to a group's items, non-zero counts only: ``["2 errored", "798 skipped",
    "3 cut off"]`` (cut off: the reply hit the token limit)."""
    found = [(tally.errors, "errored"), (tally.skipped, "skipped"), (tally.truncated, "cut off")]
    return [f"{count} {word}" for count, word in found if count]


def score_lines(tally: Tally | None, protocol: str | None = None) -> list[str]:
    """``["0.350 (0.22 to 0.50)", "14/40 passed, 2 errored"]``, and ``"protocol: ..."`` when the
    answers were made with another protocol than the plugin's prompt; ``["—"]`` for no group."""
    if tally is None:
        return ["—"]
    counts = ", ".join([f"{tally.passed}/{tally.scored} passed", *counts_extras(tally)])
    interval = tally.interval
    lines = ["no score", counts] if tally.score is None or interval is None else \
        [f"{tally.score:.3f} ({interval[0]:.2f} to {interval[1]:.2f})", counts]
    return lines + protocol_lines(protocol)


def protocol_lines(protocol: str | None) -> list[str]:
    return [] if protocol is None else [f"protocol: {protocol}"]


def whom(models: Sequence[str]) -> str:
    """``"smollm2"`` or ``"the models"``: who the baseline's items are paired with."""
    return models[0] if len(models) == 1 else "the models"


def baseline_lines(cell: BaselineCell) -> list[str]:
    """The lines of a baseline's cell, saying on which items its number stands (see
    :mod:`pytest_llmeval.reports.pairing`)."""
    if cell.kind == "different":
        return [f"different items: none in common with {whom(cell.models)}",
                *score_lines(cell.own, cell.protocol)[:2],
                f"on {cell.own.scored} other items (see the benchmark rows): not compared"]
    if cell.kind != "paired":
        return score_lines(cell.own, cell.protocol)
    if cell.shown is None:
        return [f"{p.tally.passed / p.tally.scored:.3f} ({p.tally.passed}/{p.tally.scored} passed) on the items shared with {p.model}"
                if p.tally.scored else f"no items in common with {p.model}" for p in cell.pairings]
    lines = score_lines(cell.shown)
    lines[1] += f" on the {cell.shown.scored} paired items that {whom(cell.models)} also answered"
    lines[1] += "".join(f"; {extra}" for extra in unpaired_extras(cell))
    return lines + protocol_lines(cell.protocol)


def unpaired_extras(cell: BaselineCell) -> list[str]:
    """What happened to the baseline's other items of a paired row: ``["798 skipped"]`` (errored
    and skipped items are never paired, so a paired tally alone would hide them)."""
    return counts_extras(Tally(errors=cell.own.errors, skipped=cell.own.skipped))


class Notes:
    """Footnote marks for the protocols of a compact report (terminal, chart): the first protocol
    seen is ``"(a)"``, the next ``"(b)"``, and :meth:`lines` lists them."""

    def __init__(self) -> None:
        self.marks: dict[str, str] = {}

    def mark(self, protocol: str | None) -> str:
        """``" (a)"`` for a protocol (with its leading space), ``""`` for the plugin's own prompt."""
        if protocol is None:
            return ""
        if protocol not in self.marks:
            self.marks[protocol] = f"({_letters(len(self.marks))})"
        return f" {self.marks[protocol]}"

    def lines(self) -> list[str]:
        return [f"{mark} answers made with another protocol than the plugin's zero-shot prompt: {protocol}"
                for protocol, mark in self.marks.items()]


def _letters(index: int) -> str:
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("a") + rest) + text
    return text
