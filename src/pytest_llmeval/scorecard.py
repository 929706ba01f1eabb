"""The scorecard: per model, capability and benchmark, built from the test reports themselves.

Every count comes from a pytest report (the item's identity rides on ``user_properties``, which
pytest carries across xdist workers), so the scorecard always agrees with what pytest says.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .collection import PROP
from .stats import wilson_interval

SCHEMA = "pytest-llmeval/scorecard/1"
OUTCOMES = ("passed", "failed", "errors", "skipped")


@dataclass
class ItemOutcome:
    """What happened to one benchmark item on one model."""

    model: str
    capability: str
    benchmark: str
    item: str
    outcome: str  # passed | failed | error | skipped
    subset: str | None = None
    answer: str | None = None
    expected: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: pytest.TestReport) -> ItemOutcome | None:
        if report.when != "call" and report.passed:  # a setup or teardown that went fine says nothing
            return None
        props = {k: v for k, v in report.user_properties if isinstance(k, str) and k.startswith(PROP)}
        if PROP + "benchmark" not in props:
            return None
        if report.when == "call":
            outcome = "skipped" if report.skipped else ("passed" if report.passed else "failed")
        elif report.failed:
            outcome = "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            return None
        metrics = {k[len(PROP) + 7 :]: float(str(v)) for k, v in props.items() if k.startswith(PROP + "metric_")}
        return cls(
            model=str(props[PROP + "model"]),
            capability=str(props[PROP + "capability"]),
            benchmark=str(props[PROP + "benchmark"]),
            item=str(props[PROP + "item"]),
            outcome=outcome,
            subset=props.get(PROP + "subset"),  # type: ignore[arg-type]
            answer=props.get(PROP + "answer"),  # type: ignore[arg-type]
            expected=props.get(PROP + "expected"),  # type: ignore[arg-type]
            metrics=metrics,
        )


def count_row(outcomes: Iterable[ItemOutcome]) -> dict[str, Any]:
    """Counts, score and its 95% Wilson interval for a group of items."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for o in outcomes:
        counts["errors" if o.outcome == "error" else o.outcome] += 1
    answered = counts["passed"] + counts["failed"]
    low, high = wilson_interval(counts["passed"], answered)
    return {
        **counts,
        "total": answered + counts["errors"],
        "score": counts["passed"] / answered if answered else None,
        "ci_low": low if answered else None,
        "ci_high": high if answered else None,
    }


def _metrics(outcomes: list[ItemOutcome]) -> dict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        for name, value in o.metrics.items():
            sums[name].append(value)
    return {name: sum(values) / len(values) for name, values in sorted(sums.items())}


def build(outcomes: Iterable[ItemOutcome], models: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """The scorecard document (see docs/scorecard.md for every field)."""
    outcomes = sorted(outcomes, key=lambda o: (o.model, o.capability, o.benchmark, o.item))
    by_capability: dict[tuple[str, str], list[ItemOutcome]] = defaultdict(list)
    by_benchmark: dict[tuple[str, str, str], list[ItemOutcome]] = defaultdict(list)
    for o in outcomes:
        by_capability[(o.model, o.capability)].append(o)
        by_benchmark[(o.model, o.capability, o.benchmark)].append(o)
    capabilities = [{"model": m, "capability": c, **count_row(group)} for (m, c), group in by_capability.items()]
    benchmarks = []
    for (m, c, b), group in by_benchmark.items():
        row: dict[str, Any] = {"model": m, "capability": c, "benchmark": b, **count_row(group), "metrics": _metrics(group)}
        subsets: dict[str, list[ItemOutcome]] = defaultdict(list)
        for o in group:
            if o.subset is not None:
                subsets[o.subset].append(o)
        row["subsets"] = [{"subset": s, **count_row(g), "metrics": _metrics(g)} for s, g in sorted(subsets.items())]
        benchmarks.append(row)
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run": run,
        "models": models,
        "capabilities": capabilities,
        "benchmarks": benchmarks,
        "items": [
            {"model": o.model, "capability": o.capability, "benchmark": o.benchmark, "item": o.item,
             "subset": o.subset, "outcome": o.outcome, "answer": o.answer, "expected": o.expected}
            for o in outcomes
        ],
        "comparisons": [],
        "published": [],
        "gate": None,
    }
