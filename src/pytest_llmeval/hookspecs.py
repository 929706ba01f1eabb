"""Hooks through which backends, benchmarks and reporters plug in.

The plugin's own backends, benchmarks and reporters are registered through these same hooks
(see ``builtin.py``); a ``conftest.py`` or an installed plugin adds its own the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .backends.base import BackendFactory
    from .benchmarks.base import Benchmark


def pytest_llmeval_benchmarks(config: pytest.Config) -> list[Benchmark]:
    """Return benchmarks that ``--llm-suite`` can select (by name, capability or ``capabilities``).

    Example ``conftest.py``::

        from pytest_llmeval import Benchmark, scorers

        def pytest_llmeval_benchmarks(config):
            return [Benchmark("capitals", capability="geography", data="capitals.jsonl",
                              prompt="Capital of {country}?", target="capital",
                              scorer=scorers.includes())]
    """
    return []


def pytest_llmeval_backends(config: pytest.Config) -> dict[str, BackendFactory]:
    """Return backend factories by scheme: ``--llm-model=SCHEME:TARGET`` calls ``factory(spec, context)``
    with the resolved :class:`~pytest_llmeval.registry.ModelSpec` and a
    :class:`~pytest_llmeval.backends.base.BackendContext` (the run's backend settings).

    Example ``conftest.py``::

        def pytest_llmeval_backends(config):
            return {"echo": lambda spec, context: EchoBackend(spec.target)}

    after which ``pytest --llm-model=echo:anything`` uses it.
    """
    return {}


@pytest.hookspec(firstresult=False)
def pytest_llmeval_scorecard(config: pytest.Config, scorecard: dict[str, Any]) -> None:
    """Called once at the end of a run with the finished scorecard (the JSON document).

    Example ``conftest.py`` that posts it to a dashboard of your own::

        def pytest_llmeval_scorecard(config, scorecard):
            for row in scorecard["capabilities"]:
                print(row["model"], row["capability"], row["score"])
    """
