"""What happened to one benchmark item on one model: the unit every count is made of."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..stats import wilson_interval

Outcome = Literal["passed", "failed", "error", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")


@dataclass(frozen=True)
class ItemOutcome:
    """One benchmark item on one model, as its test report said.

    ``item`` is the item's id within ``benchmark`` (stable across data edits); ``fingerprint``
    hashes what was asked and what was expected, so a pinned gate notices an item whose
    content changed. ``samples`` holds one 1/0 per sample when the item was asked several
    times (``--llm-repeats``), empty otherwise. ``truncated`` says the reply was cut off by
    the token limit.
    """

    model: str
    capability: str
    benchmark: str
    item: str
    outcome: Outcome
    subset: str | None = None
    answer: str | None = None
    expected: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    fingerprint: str | None = None
    samples: tuple[int, ...] = ()
    truncated: bool = False
    #: How the answer was made when not by the plugin's zero-shot prompt (the run's few-shot
    #: protocol, "5-shot (multi-turn)", or a recording's own: "recorded, 8-shot chain of
    #: thought"), else None.
    protocol: str | None = None

    @property
    def key(self) -> str:
        """``"benchmark[item]"``, the spelling of the item's test id."""
        return f"{self.benchmark}[{self.item}]"

    @property
    def scored(self) -> bool:
        """Whether the model answered and the answer was scored (passed or failed)."""
        return self.outcome in ("passed", "failed")

    @property
    def pass_fraction(self) -> float | None:
        """The share of samples that passed (1.0 or 0.0 for a single sample); None if unscored."""
        if not self.scored:
            return None
        if self.samples:
            return sum(self.samples) / len(self.samples)
        return 1.0 if self.outcome == "passed" else 0.0

    def to_json(self) -> dict[str, Any]:
        """The scorecard's ``items`` row (optional keys only when they say something)."""
        row: dict[str, Any] = {"model": self.model, "capability": self.capability, "benchmark": self.benchmark,
                               "item": self.item, "subset": self.subset, "outcome": self.outcome,
                               "answer": self.answer, "expected": self.expected}
        if self.metrics:
            row["metrics"] = dict(self.metrics)
        if self.fingerprint is not None:
            row["fingerprint"] = self.fingerprint
        if self.samples:
            row["samples"] = list(self.samples)
        if self.truncated:
            row["truncated"] = True
        if self.protocol is not None:
            row["protocol"] = self.protocol
        return row

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> ItemOutcome:
        """Read an ``items`` row back (a scorecard file of an earlier run or of a shard)."""
        outcome = row["outcome"]
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        return cls(model=str(row["model"]), capability=str(row["capability"]), benchmark=str(row["benchmark"]),
                   item=str(row["item"]), outcome=outcome, subset=row.get("subset"), answer=row.get("answer"),
                   expected=row.get("expected"), metrics={k: float(v) for k, v in (row.get("metrics") or {}).items()},
                   fingerprint=row.get("fingerprint"), samples=tuple(int(s) for s in row.get("samples") or ()),
                   truncated=bool(row.get("truncated", False)), protocol=row.get("protocol"))


@dataclass(frozen=True)
class Tally:
    """Counts of a group of items and its score with a 95% Wilson interval.

    ``total`` = passed + failed + errors (skipped items were never asked); ``score`` =
    passed / (passed + failed), None when nothing was scored.
    """

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    truncated: int = 0

    @classmethod
    def of(cls, outcomes: Iterable[ItemOutcome]) -> Tally:
        counts = dict.fromkeys(OUTCOMES, 0)
        truncated = 0
        for o in outcomes:
            counts[o.outcome] += 1
            truncated += o.truncated
        return cls(counts["passed"], counts["failed"], counts["error"], counts["skipped"], truncated)

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def total(self) -> int:
        return self.scored + self.errors

    @property
    def score(self) -> float | None:
        return self.passed / self.scored if self.scored else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of ``score``, None when nothing was scored."""
        return wilson_interval(self.passed, self.scored) if self.scored else None

    def to_json(self) -> dict[str, Any]:
        interval = self.interval
        row: dict[str, Any] = {"passed": self.passed, "failed": self.failed, "errors": self.errors,
                               "skipped": self.skipped, "total": self.total, "score": self.score,
                               "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None}
        if self.truncated:
            row["truncated"] = self.truncated
        return row
