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
from .scorecard import ItemOutcome, ModelInfo


@dataclass
class RunRecord:
    """What a process learnt outside any test: the baseline's outcomes (scored ahead of the
    tests, not tests themselves) and how long answering ahead took."""

    baseline_outcomes: list[ItemOutcome] = field(default_factory=list)
    prefetch_seconds: float | None = None
    #: Which backend served each model, and how (the header a serial run prints after answering;
    #: under xdist, gathered from the workers and printed in the summary).
    header: list[str] = field(default_factory=list)
    #: Under xdist, on the controller: how each model was served, as the workers that built its
    #: backend described it (the controller builds none).
    served: dict[str, ModelInfo] = field(default_factory=dict)


OPTIONS = pytest.StashKey[RunOptions]()
EVALUATOR = pytest.StashKey[Evaluator]()
RECORD = pytest.StashKey[RunRecord]()
