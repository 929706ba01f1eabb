"""pytest entry point: options, hooks, and the plugin objects registered only when needed.

Importing this module imports nothing heavy: torch, transformers, datasets and openai load
only inside the backend or loader that needs them, after benchmark items were collected.
"""

from __future__ import annotations

import pytest

from . import hookspecs
from .options import addoption, read_settings
from .session import EVAL_SESSION, SETTINGS, EvalSession, llm_item, llm_model, llm_response

__all__ = ["llm_item", "llm_model", "llm_response"]  # fixtures, found by pytest in this module


def pytest_addoption(parser: pytest.Parser) -> None:
    addoption(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llmeval: a benchmark item (pytest-llmeval)")
    config.addinivalue_line("markers", "llmeval_benchmark(benchmark): parametrize a test over a benchmark's items")
    config.addinivalue_line("markers", "slow: slow tests, e.g. real-model runs (deselect with -m 'not slow')")
    from .builtin import BuiltinPlugin

    config.pluginmanager.register(BuiltinPlugin(), "llmeval-builtin")
    settings = read_settings(config)
    config.stash[SETTINGS] = settings
    evaluator = EvalSession(config, settings)
    config.stash[EVAL_SESSION] = evaluator
    config.pluginmanager.register(evaluator, "llmeval-session")
    if not hasattr(config, "workerinput"):  # the controller (or a plain run) sees every report
        from .reporter import ScorecardReporter

        reporter = ScorecardReporter(config, settings)
        config.pluginmanager.register(reporter, "llmeval-reporter")
        if config.pluginmanager.hasplugin("xdist"):
            from .reporter import WorkerResults

            config.pluginmanager.register(WorkerResults(reporter), "llmeval-xdist")
    else:
        config.pluginmanager.register(WorkerPublisher(evaluator), "llmeval-worker")


class WorkerPublisher:
    """On an xdist worker: hand the baseline's outcomes (scored here, not as tests) to the controller."""

    def __init__(self, evaluator: EvalSession) -> None:
        self.evaluator = evaluator

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from dataclasses import asdict

        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["llmeval_baseline"] = [asdict(o) for o in self.evaluator.baseline_outcomes]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Per-item properties (model, capability, answer, ...) are testcase <property> elements,
    which pytest's xunit1 family allows and its xunit2 schema forbids: JUnit files written with
    this plugin use xunit1 so that they stay valid for the family they declare."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover
        return
    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        xml.family = "xunit1"


def pytest_unconfigure(config: pytest.Config) -> None:
    evaluator = config.stash.get(EVAL_SESSION, None)
    if evaluator is not None:
        evaluator.close()
        del config.stash[EVAL_SESSION]
    for name in ("llmeval-xdist", "llmeval-worker", "llmeval-reporter", "llmeval-session", "llmeval-builtin"):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)
