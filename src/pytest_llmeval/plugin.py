"""pytest entry point: options, hooks, and the plugin objects registered for a run.

Importing this module imports nothing heavy: torch, transformers, datasets and openai load
only inside the backend or loader that needs them, after benchmark items were collected.
The behaviour lives in plugin objects (see docs/architecture.md):

- :class:`~pytest_llmeval.collection.CollectionPlugin`: benchmarks into tests;
- :class:`~pytest_llmeval.prefetch.PrefetchPlugin`: answering ahead of the tests;
- :mod:`~pytest_llmeval.fixtures`: ``llm_item``, ``llm_response``, ``llm_model``;
- on the controller only, :class:`~pytest_llmeval.scorecard.plugin.ScorecardPlugin` (outcomes,
  scorecard, gate, reports, exit status) and :class:`~pytest_llmeval.junit.JUnitPlugin`;
- with xdist, the channels of :mod:`~pytest_llmeval.xdist`.
"""

from __future__ import annotations

import pytest

from . import hookspecs
from .options import addoption

#: Names under which the plugin objects are registered (a conftest may look them up).
PLUGIN_NAMES = ("llmeval-builtin", "llmeval-fixtures", "llmeval-collection", "llmeval-prefetch", "llmeval-outcomes",
                "llmeval-scorecard", "llmeval-junit", "llmeval-xdist")


def pytest_addoption(parser: pytest.Parser) -> None:
    addoption(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    from . import fixtures, state
    from .builtin import BuiltinPlugin
    from .collection import CollectionPlugin
    from .evaluation import Evaluator
    from .items import OutcomePolicy
    from .models import Models, ReplayWarning
    from .options import read_options
    from .prefetch import PrefetchPlugin
    from .threads import backend_context
    from .xdist import ControllerChannel, WorkerChannel, is_worker

    config.addinivalue_line("markers", "llmeval: a benchmark item (pytest-llmeval)")
    config.addinivalue_line("markers", "llmeval_benchmark(benchmark): parametrize a test over a benchmark's items")
    config.addinivalue_line("markers", "slow: slow tests, e.g. real-model runs (deselect with -m 'not slow')")
    manager = config.pluginmanager
    manager.register(BuiltinPlugin(), "llmeval-builtin")
    options = read_options(config)
    factories = {}
    for found in config.hook.pytest_llmeval_backends(config=config):
        factories.update(found)
    models = Models(options, factories, backend_context(config, options))
    for message in models.replay_warnings():
        config.issue_config_time_warning(ReplayWarning(message), stacklevel=2)
    evaluator = Evaluator(models, options)
    record = state.RunRecord()
    config.stash[state.OPTIONS] = options
    config.stash[state.EVALUATOR] = evaluator
    config.stash[state.RECORD] = record
    manager.register(fixtures, "llmeval-fixtures")
    manager.register(CollectionPlugin(config, options, evaluator), "llmeval-collection")
    manager.register(PrefetchPlugin(config, evaluator, record), "llmeval-prefetch")
    manager.register(OutcomePolicy(config), "llmeval-outcomes")
    if is_worker(config):
        manager.register(WorkerChannel(), "llmeval-xdist")
        return
    from .junit import JUnitPlugin
    from .scorecard.plugin import ScorecardPlugin

    manager.register(ScorecardPlugin(config, options, lambda: models.info(served=record.served)), "llmeval-scorecard")
    manager.register(JUnitPlugin(), "llmeval-junit")
    if manager.hasplugin("xdist"):
        manager.register(ControllerChannel(config), "llmeval-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    from . import state

    evaluator = config.stash.get(state.EVALUATOR, None)
    if evaluator is not None:
        evaluator.models.close()
    if state.EVALUATOR in config.stash:
        del config.stash[state.EVALUATOR]
    if state.OPTIONS in config.stash:
        del config.stash[state.OPTIONS]
    if state.RECORD in config.stash:
        del config.stash[state.RECORD]
    for name in PLUGIN_NAMES:
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)
