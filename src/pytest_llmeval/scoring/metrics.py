"""How per-item metrics become a group's figures: means, and pooled ratios.

A scorer's ``Score.metrics`` are per-item numbers. The scorecard gives each benchmark (and
subset, and baseline cell) one figure per metric with :func:`aggregate_metrics`: the mean over
the items that report it, which is right for a per-item 1/0 or a per-item rating. A *pooled
ratio* is different: IFEval's instruction-level accuracy counts instructions, not prompts, so a
group's figure is the instructions followed over all its prompts divided by the number of
instructions of all its prompts (Zhou et al. 2023, arXiv 2311.07911; the reference
implementation's ``instruction_correct / instruction_total``), not the mean of per-prompt
shares. Each item carries the ratio's counts (:meth:`PooledRatio.item_metrics`), so any set of
items (a ``--llm-limit`` sample, one shard, the merge of all shards, the items a baseline shares
with the model) gives sum(numerator) / sum(denominator) over exactly those items, which never
exceeds 1 when each numerator is at most its denominator.

Example::

    metrics = [INSTRUCTION_STRICT.item_metrics(2, 2), INSTRUCTION_STRICT.item_metrics(0, 1)]
    aggregate_metrics(metrics)  # {"instruction_strict": 0.666...} (2 of 3 instructions)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PooledRatio:
    """A metric whose group figure is ``sum(numerator) / sum(denominator)`` over the group's items.

    Per item, ``name`` is the item's own ratio (at most 1), ``numerator`` and ``denominator``
    its counts; at group level only ``name`` is a figure (the counts are its ingredients).
    """

    name: str
    numerator: str
    denominator: str

    def item_metrics(self, numerator: int, denominator: int) -> dict[str, float]:
        """One item's metrics for this ratio: its own share and both counts.

        Raises ValueError unless ``0 <= numerator <= denominator`` and ``denominator > 0``."""
        if denominator <= 0 or not 0 <= numerator <= denominator:
            raise ValueError(f"{self.name}: expected 0 <= {self.numerator} <= {self.denominator} and "
                             f"{self.denominator} > 0, got {numerator} and {denominator}")
        return {self.name: numerator / denominator, self.numerator: float(numerator),
                self.denominator: float(denominator)}


#: IFEval's and IFBench's instruction-level accuracy, strict and loose: instructions followed over
#: instructions given, counted over all prompts of the group.
INSTRUCTION_STRICT = PooledRatio("instruction_strict", "instructions_followed_strict", "instructions")
INSTRUCTION_LOOSE = PooledRatio("instruction_loose", "instructions_followed_loose", "instructions")

#: Every metric the scorecard pools instead of averaging.
POOLED_RATIOS: tuple[PooledRatio, ...] = (INSTRUCTION_STRICT, INSTRUCTION_LOOSE)


def aggregate_metrics(per_item: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """A group's figure for each metric its items report, sorted by name.

    A pooled ratio (:data:`POOLED_RATIOS`) whose counts the items carry is sum(numerator) /
    sum(denominator) over the items carrying both, and its counts are left out; every other
    metric is the mean over the items that report it (also a pooled ratio's own value when no
    item carries its counts, as in a scorecard written before the counts existed).
    """
    rows = list(per_item)
    values: dict[str, list[float]] = defaultdict(list)
    for metrics in rows:
        for name, value in metrics.items():
            values[name].append(value)
    figures = {name: sum(v) / len(v) for name, v in values.items()}
    for ratio in POOLED_RATIOS:
        counts = [(m[ratio.numerator], m[ratio.denominator]) for m in rows
                  if ratio.numerator in m and ratio.denominator in m]
        total = sum(d for _, d in counts)
        if total > 0:
            figures[ratio.name] = sum(n for n, _ in counts) / total
            figures.pop(ratio.numerator, None)
            figures.pop(ratio.denominator, None)
    return dict(sorted(figures.items()))
