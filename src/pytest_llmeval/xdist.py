"""pytest-xdist support: which worker this is, and the channel that carries what workers
learnt outside tests (the baseline's outcomes) to the controller.

Test outcomes need no channel: they ride on the test reports, which xdist already forwards.
The controller side is registered only when xdist is installed; nothing is written by workers.
"""

from __future__ import annotations

from typing import Any

import pytest

from .scorecard import ItemOutcome, ModelInfo
from .state import EVALUATOR, RECORD

#: The ``workeroutput`` keys of the baseline's outcomes, of the worker's header lines and of the
#: models whose backend it built (how each was served).
BASELINE_KEY = "llmeval_baseline"
HEADER_KEY = "llmeval_header"
SERVED_KEY = "llmeval_served"


def worker_slot(config: pytest.Config) -> tuple[int, int]:
    """(this worker's index, number of workers) under xdist, else (0, 1)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return 0, 1
    return int(str(workerinput["workerid"]).removeprefix("gw")), int(workerinput["workercount"])


def run_id(config: pytest.Config) -> str:
    """The same for every process of one run (xdist's ``testrunuid``), else ``"local"``."""
    return str(getattr(config, "workerinput", {}).get("testrunuid", "local"))


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class WorkerChannel:
    """On a worker: hand the baseline's outcomes to the controller at the end."""

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        record = session.config.stash.get(RECORD, None)
        if output is not None and record is not None:
            output[BASELINE_KEY] = [o.to_json() for o in record.baseline_outcomes]
            output[HEADER_KEY] = list(record.header)
            evaluator = session.config.stash.get(EVALUATOR, None)
            if evaluator is not None:
                output[SERVED_KEY] = [info.to_json() for info in evaluator.models.info(built_only=True)]


class ControllerChannel:
    """On the controller: take each worker's baseline outcomes as it goes down."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        record = self.config.stash.get(RECORD, None)
        if record is not None:
            output = getattr(node, "workeroutput", {})
            record.baseline_outcomes.extend(ItemOutcome.from_json(row) for row in output.get(BASELINE_KEY, []))
            record.header.extend(line for line in output.get(HEADER_KEY, []) if line not in record.header)
            for row in output.get(SERVED_KEY, []):
                record.served.setdefault(str(row["name"]), ModelInfo.from_json(row))
