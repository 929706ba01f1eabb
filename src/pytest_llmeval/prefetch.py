"""Answering ahead of the tests: what to ask, the judge's second stage, and the baseline.

Before the first test runs, every selected item's request goes to the engine in one go, so that
backends batch (local weights) or overlap (servers) them; each test then reads its answer.
Judged benchmarks take a second stage: once the answers are in, the judge's prompts are
gathered and answered the same way. The baseline answers the same items and is scored here,
outside any test (it is a column of the scorecard, not a test of the run).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import pytest

from .benchmarks.base import Item
from .evaluation import Evaluator
from .items import bound_of
from .models import JUDGE
from .progress import Progress
from .state import RunRecord
from .xdist import run_id, worker_slot


class PrefetchPlugin:
    """Registered in every process that runs tests (xdist workers too)."""

    def __init__(self, config: pytest.Config, evaluator: Evaluator, record: RunRecord) -> None:
        self.config = config
        self.evaluator = evaluator
        self.models = evaluator.models
        self.record = record

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        from .sandbox import code_execution

        # Scoring (the baseline's here, each item's in its test) may run model-written code only
        # inside this run's loop, and only when the user allowed it.
        with code_execution(self.evaluator.options.allow_code_execution):
            collection_failed = session.testsfailed and not self.config.option.continue_on_collection_errors
            if not self.config.option.collectonly and not collection_failed:
                self.prefetch(session.items)
            return (yield)

    def wanted(self, nodes: Sequence[pytest.Item]) -> tuple[list[tuple[str, Item]], list[Item]]:
        """The (model, item) pairs to answer, the baseline's included, and the distinct items."""
        wanted = [(bound.model, bound.item) for bound in map(bound_of, nodes) if bound is not None]
        unique = list({id(item): item for _, item in wanted}.values())
        if self.models.baseline is not None:
            wanted += [(self.models.baseline.name, item) for item in unique]
        return [(m, i) for m, i in wanted if self.evaluator.why_skipped(m, i) is None], unique

    def prefetch(self, nodes: Sequence[pytest.Item]) -> None:
        wanted, unique = self.wanted(nodes)
        if not wanted:
            return
        worker, workers = worker_slot(self.config)
        engine = self.models.engine
        engine.run_id = run_id(self.config)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        progress = None
        if reporter is not None and worker == 0:
            progress = Progress(reporter, self.config.get_terminal_writer(), reporter.isatty())
        engine.progress = progress
        started = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.answer(wanted, unique, worker, workers)
        finally:
            if progress is not None:
                progress.close()
            engine.progress = None
        for message in caught:
            # Raised outside any test: handed to pytest, so they appear in its warnings summary.
            self.config.hook.pytest_warning_recorded.call_historic(
                kwargs={"warning_message": message, "when": "runtest", "nodeid": "", "location": None})
        self.record.prefetch_seconds = time.perf_counter() - started
        self.record.header = self.models.header_lines()
        if reporter is not None and workers == 1:
            for line in self.record.header:
                reporter.write_line(line)

    def answer(self, wanted: list[tuple[str, Item]], unique: list[Item], worker: int, workers: int) -> None:
        """Every answer, then the judge's verdicts, then the baseline's outcomes (this worker's share)."""
        engine = self.models.engine
        repeats = range(self.evaluator.options.repeats)
        engine.prefetch([(model, item.sample(k)) for model, item in wanted for k in repeats], worker, workers)
        for turn in range(1, 1 + max((len(item.followups) for _, item in wanted), default=0)):
            engine.prefetch([(model, (request,)) for model, item in wanted if len(item.followups) >= turn
                             for request in self.evaluator.next_turns(model, item, turn)], worker, workers)
        judge_requests = [(JUDGE, (request,)) for model, item in wanted
                          for request in self.evaluator.judge_requests(model, item)]
        if judge_requests and self.models.judge is not None:
            engine.prefetch(judge_requests, worker, workers)
        baseline = self.models.baseline
        if baseline is not None:
            # Each worker scores its own share of the baseline's items; answers come from the cache.
            self.record.baseline_outcomes.extend(self.evaluator.outcome(baseline.name, item)
                                                 for index, item in enumerate(unique) if index % workers == worker)
