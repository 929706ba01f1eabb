"""Each model against the baseline, paired on the items both scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..stats import mcnemar_exact
from .outcomes import ItemOutcome

PAIRED_TEST = "mcnemar-exact"


@dataclass(frozen=True)
class Comparison:
    """A model and a baseline on the ``n_paired`` items of a capability (or one benchmark) that
    both scored: their scores on those items, the difference (model minus baseline) and the
    two-sided exact McNemar p-value over the items only one of them got right."""

    model: str
    baseline: str
    capability: str
    benchmark: str | None
    n_paired: int
    score: float
    baseline_score: float
    p_value: float
    only_model_right: int
    only_baseline_right: int
    test: str = PAIRED_TEST

    @property
    def difference(self) -> float:
        return self.score - self.baseline_score

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "baseline": self.baseline, "capability": self.capability,
                "benchmark": self.benchmark, "n_paired": self.n_paired, "score": self.score,
                "baseline_score": self.baseline_score, "difference": self.difference, "test": self.test,
                "p_value": self.p_value, "only_model_right": self.only_model_right,
                "only_baseline_right": self.only_baseline_right}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Comparison:
        return cls(model=row["model"], baseline=row["baseline"], capability=row["capability"],
                   benchmark=row.get("benchmark"), n_paired=int(row["n_paired"]), score=float(row["score"]),
                   baseline_score=float(row["baseline_score"]), p_value=float(row["p_value"]),
                   only_model_right=int(row["only_model_right"]), only_baseline_right=int(row["only_baseline_right"]),
                   test=row.get("test", PAIRED_TEST))


def compare(model: str, baseline: str, outcomes: Sequence[ItemOutcome],
            groups: Sequence[tuple[str, str | None]]) -> list[Comparison]:
    """``model`` against ``baseline`` in each (capability, benchmark or None) group where they
    share at least one scored item. Items are matched by benchmark and id."""
    theirs = {(o.benchmark, o.item): o.outcome == "passed" for o in outcomes if o.model == baseline and o.scored}
    pairs = [(o.capability, o.benchmark, o.outcome == "passed", theirs[(o.benchmark, o.item)])
             for o in outcomes if o.model == model and o.scored and (o.benchmark, o.item) in theirs]
    found = []
    for capability, benchmark in groups:
        common = [(a, b) for cap, bench, a, b in pairs if cap == capability and benchmark in (None, bench)]
        if common:
            found.append(_comparison(model, baseline, capability, benchmark, common))
    return found


def _comparison(model: str, baseline: str, capability: str, benchmark: str | None,
                common: list[tuple[bool, bool]]) -> Comparison:
    only_model = sum(1 for a, b in common if a and not b)
    only_baseline = sum(1 for a, b in common if b and not a)
    return Comparison(model=model, baseline=baseline, capability=capability, benchmark=benchmark,
                      n_paired=len(common), score=sum(a for a, _ in common) / len(common),
                      baseline_score=sum(b for _, b in common) / len(common),
                      p_value=mcnemar_exact(only_model, only_baseline), only_model_right=only_model,
                      only_baseline_right=only_baseline)
