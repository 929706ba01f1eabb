"""The plugin's own benchmarks and backends, registered through the same hooks as anyone's."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from .backends.base import Backend
    from .benchmarks.base import Benchmark
    from .registry import ModelSpec

#: Built-in benchmark modules (under pytest_llmeval.benchmarks), each with ``benchmarks()``.
BENCHMARK_MODULES = (
    "mmlu",
    "ifbench",
    "alpaca_eval",
    "mtbench",
    "gsm8k",
    "humaneval",
    "needle",
    "bfcl",
    "truthfulqa",
    "xstest",
    "harmbench",
)

#: The survey's capability categories, in the order the scorecard lists them.
CAPABILITIES = ("general", "reasoning", "long_context", "agent", "hallucination", "safety")


def _transformers(spec: ModelSpec, config: pytest.Config) -> Backend:
    import os

    from .backends.base import BackendError
    from .backends.transformers_backend import TransformersBackend
    from .registry import EMBEDDED_PLACEHOLDER, ModelSpecError, embedded_model_file
    from .session import settings_of

    target = spec.target
    if target.startswith(EMBEDDED_PLACEHOLDER):
        try:
            target = str(embedded_model_file())
        except ModelSpecError as exc:
            raise BackendError(str(exc)) from None
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    return TransformersBackend(spec.scheme, target, batch_size=settings_of(config).batch_size, threads=threads)


def _openai(spec: ModelSpec, config: pytest.Config) -> Backend:
    from .backends.openai_backend import OpenAIBackend
    from .options import api_key
    from .session import settings_of

    settings = settings_of(config)
    return OpenAIBackend(spec.target, base_url=settings.base_url, api_key=api_key(),
                         concurrency=settings.concurrency, timeout=settings.timeout)


def _recorded(spec: ModelSpec, config: pytest.Config) -> Backend:
    from .backends.recorded import RecordedBackend

    return RecordedBackend(spec.target, base_dir=config.rootpath)


class BuiltinPlugin:
    """Registered as ``llmeval-builtin``; a conftest can unregister or add to it."""

    @pytest.hookimpl
    def pytest_llmeval_benchmarks(self, config: pytest.Config) -> list[Benchmark]:
        found: list[Benchmark] = []
        for name in BENCHMARK_MODULES:
            module = importlib.import_module(f"pytest_llmeval.benchmarks.{name}")
            found.extend(module.benchmarks())
        return found

    @pytest.hookimpl
    def pytest_llmeval_backends(self, config: pytest.Config) -> dict[str, Callable[[ModelSpec, pytest.Config], Any]]:
        return {"hf": _transformers, "gguf": _transformers, "openai": _openai, "recorded": _recorded}
