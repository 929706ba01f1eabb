"""The scorecard: item outcomes, their tallies per model, capability and benchmark, and the
paired comparison with the baseline (see :class:`Scorecard`)."""

from .card import SCHEMA, Group, ModelInfo, SampleSummary, Scorecard, ScorecardError
from .comparisons import Comparison, compare
from .outcomes import OUTCOMES, ItemOutcome, Outcome, Tally

__all__ = [
    "OUTCOMES",
    "SCHEMA",
    "Comparison",
    "Group",
    "ItemOutcome",
    "ModelInfo",
    "Outcome",
    "SampleSummary",
    "Scorecard",
    "ScorecardError",
    "Tally",
    "compare",
]
