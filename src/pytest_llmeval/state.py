"""What the plugin keeps in ``config.stash`` for the length of a run.

Set in ``pytest_configure`` (see :mod:`pytest_llmeval.plugin`), removed in
``pytest_unconfigure``. Fixtures and plugin objects reach the run's state only through these
keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .evaluation import Evaluator
from .options import RunOptions
from .scorecard import ItemOutcome


@dataclass
class RunRecord:
    """What a process learnt outside any test: the baseline's outcomes (scored ahead of the
    tests, not tests themselves) and how long answering ahead took."""

    baseline_outcomes: list[ItemOutcome] = field(default_factory=list)
    prefetch_seconds: float | None = None
    #: Which backend served each model, and how (the header a serial run prints after answering;
    #: under xdist, gathered from the workers and printed in the summary).
    header: list[str] = field(default_factory=list)


OPTIONS = pytest.StashKey[RunOptions]()
EVALUATOR = pytest.StashKey[Evaluator]()
RECORD = pytest.StashKey[RunRecord]()
