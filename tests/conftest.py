"""Shared helpers for the integration tests: an inner pytest project (``pytester``) whose
conftest registers the scripted backend, so that every option, outcome, file and exit status a
user sees can be checked in seconds without a real model.

Each inner project gets ``llm_baseline = none`` (the baseline has its own tests) and a log file
in ``LLMEVAL_SCRIPT_LOG`` with one line per request the scripted backend answered, which is how
the tests count inference.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The tests import torch themselves (before the backend could quiet its threads): quiet them
# here, so that the suite shares a busy machine well (see pytest_llmeval.backends.transformers.runtime).
for _name, _value in (("OMP_WAIT_POLICY", "PASSIVE"), ("GOMP_SPINCOUNT", "0"), ("KMP_BLOCKTIME", "0")):
    os.environ.setdefault(_name, _value)

#: The inner project's conftest. The oracle is given the items this run collected (instead of
#: loading all 15,000 built-in rows to look answers up); ``LLMEVAL_KILL_AFTER=N`` makes the
#: process SIGKILL itself after N answers, as an OOM kill or a pulled plug would, and
#: ``LLMEVAL_SLOW=SECONDS`` makes every answer take that long, as a real model's would, and
#: ``LLMEVAL_BARRIER=DIR:N`` holds each process's first answer until N processes are ready.
INNER_CONFTEST = '''
import os
import signal
import time

import pytest

from pytest_llmeval.items import bound_of
from pytest_llmeval.testing.scripted import ScriptedBackend

COLLECTED = []  # the items this run collected, for the oracle


class Collected:
    def items(self):
        return COLLECTED


ANSWERED = [0]  # in this process, over every model
MET = [False]


def meet_the_other_workers():
    # LLMEVAL_BARRIER=DIR:N: wait until N processes have started answering, so that xdist
    # workers begin their work at the same moment (as on an idle machine) and the test is exact.
    if MET[0] or not os.environ.get("LLMEVAL_BARRIER"):
        return
    MET[0] = True
    directory, count = os.environ["LLMEVAL_BARRIER"].rsplit(":", 1)
    open(os.path.join(directory, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(directory)) < int(count) and time.monotonic() < deadline:
        time.sleep(0.02)


class Scripted(ScriptedBackend):
    def _answer(self, request):
        if os.environ.get("LLMEVAL_SLOW"):
            time.sleep(float(os.environ["LLMEVAL_SLOW"]))
        return super()._answer(request)

    def run(self, requests, progress):
        meet_the_other_workers()
        after = os.environ.get("LLMEVAL_KILL_AFTER")
        for pair in super().run(requests, progress):
            yield pair  # the engine caches the answer before asking for the next one
            ANSWERED[0] += 1
            if after and ANSWERED[0] >= int(after):
                os.kill(os.getpid(), signal.SIGKILL)


def make_backend(spec, context):
    return Scripted(spec.target, [Collected()])


def pytest_llmeval_backends(config):
    return {"script": make_backend}


def pytest_collection_modifyitems(config, items):
    COLLECTED[:] = [bound.item for bound in map(bound_of, items) if bound is not None]
'''

#: Hypothesis' plugin is switched off in inner runs only for speed: it imports all of
#: hypothesis at the end of every session, seconds on a busy CI machine.
INNER_INI = """
[pytest]
addopts = -p no:hypothesispytest
llm_baseline = none
"""

#: The two spine benchmarks (GSM8K for reasoning, MMLU for general), five items each: ten items
#: whose right answers the scripted oracle knows. (``capabilities`` takes every built-in one.)
SUITE = ("--llm-suite=gsm8k", "--llm-suite=mmlu", "--llm-limit=5")


def builtin_capabilities() -> dict[str, str]:
    """Built-in benchmark name -> capability, as the plugin registers them."""
    import importlib

    from pytest_llmeval.builtin import BENCHMARK_MODULES

    found = {}
    for name in BENCHMARK_MODULES:
        for bench in importlib.import_module(f"pytest_llmeval.benchmarks.{name}").benchmarks():
            found[bench.name] = bench.capability
    return found


class Project:
    """An inner pytest project with the scripted backend, and what its runs left behind."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.log = pytester.path / "inference.log"

    def run(self, *args: str, subprocess: bool = False) -> pytest.RunResult:
        """Run the inner session: in this process (fast) unless it needs a clean one."""
        if subprocess:
            return self.pytester.runpytest_subprocess(*args, timeout=180)
        return self.pytester.runpytest(*args)

    def inferences(self) -> int:
        """How many requests the scripted backend has answered so far, over every run."""
        if not self.log.exists():
            return 0
        return len(self.log.read_text(encoding="utf-8").splitlines())

    def cached(self) -> int:
        """How many responses the cache file holds."""
        if not self.cache_file.exists():
            return 0
        db = sqlite3.connect(self.cache_file)
        try:
            return int(db.execute("SELECT count(*) FROM responses").fetchone()[0])
        finally:
            db.close()

    @property
    def cache_dir(self) -> Path:
        return self.path / ".llmeval-cache"

    @property
    def cache_file(self) -> Path:
        return self.cache_dir / "responses.sqlite3"

    def scorecard(self, name: str = "card.json") -> dict[str, Any]:
        return json.loads((self.path / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for name in ("LLMEVAL_BASE_URL", "LLMEVAL_API_KEY", "OPENAI_API_KEY", "LLMEVAL_KILL_AFTER", "LLMEVAL_SLOW", "LLMEVAL_BARRIER"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makeini(INNER_INI)
    made = Project(pytester)
    monkeypatch.setenv("LLMEVAL_SCRIPT_LOG", str(made.log))
    yield made


def item_outcomes(card: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """(model, benchmark, item) -> outcome, from a scorecard document."""
    return {(r["model"], r["benchmark"], r["item"]): r["outcome"] for r in card["items"]}


def counts(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The outcome counts of scorecard rows, keyed by the given fields (for comparing two runs)."""
    return {tuple(r[k] for k in keys): (r["passed"], r["failed"], r["errors"], r["skipped"], r["total"]) for r in rows}
