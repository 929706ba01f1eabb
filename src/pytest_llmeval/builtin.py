"""The plugin's own benchmarks and backends, registered through the same hooks as anyone's."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .backends.base import Backend, BackendContext, BackendFactory
    from .benchmarks.base import Benchmark
    from .registry import ModelSpec

#: Built-in benchmark modules (under pytest_llmeval.benchmarks), each with ``benchmarks()``.
BENCHMARK_MODULES = (
    "mmlu",
    "ifbench",
    "ifeval",
    "alpaca_eval",
    "mtbench",
    "gsm8k",
    "humaneval",
    "needle",
    "bfcl",
    "truthfulqa",
    "halueval",
    "xstest",
    "harmbench",
)

#: The survey's capability categories, in the order the scorecard lists them.
CAPABILITIES = ("general", "reasoning", "long_context", "agent", "hallucination", "safety")


def transformers_backend(spec: ModelSpec, context: BackendContext) -> Backend:
    """``hf:DIR_OR_HUB_ID`` and ``gguf:FILE``, each optionally followed by model arguments as a
    JSON object (``hf:./m{"dtype": "bfloat16"}``; see docs/model-arguments.md)."""
    from .backends.base import BackendError
    from .backends.transformers import TransformersBackend, split_target
    from .registry import EMBEDDED_PLACEHOLDER, ModelSpecError, embedded_model_file

    target, arguments = split_target(spec.target)
    if target.startswith(EMBEDDED_PLACEHOLDER):
        try:
            target = str(embedded_model_file())
        except ModelSpecError as exc:
            raise BackendError(str(exc)) from None
    return TransformersBackend(spec.scheme, target, arguments=arguments, batch_size=arguments.batch_size or context.batch_size,
                               threads=context.threads)


def openai_backend(spec: ModelSpec, context: BackendContext) -> Backend:
    """``openai:MODEL``, optionally followed by model arguments as a JSON object
    (``openai:o3-mini{"token_limit_field": "max_completion_tokens"}``; see docs/backends-openai.md)."""
    from .backends.openai import OpenAIBackend
    from .backends.openai.arguments import split_target
    from .options import api_key

    model, arguments = split_target(spec.target)
    facts = context.cache_dir / "servers.json" if context.cache_dir is not None else None
    return OpenAIBackend(model, base_url=context.base_url, api_key=api_key(), api=arguments.api,
                         concurrency=arguments.concurrency or context.concurrency, timeout=context.timeout,
                         token_limit_field=arguments.token_limit_field, loglikelihood=arguments.loglikelihood,
                         facts_file=facts)


def vllm_backend(spec: ModelSpec, context: BackendContext) -> Backend:
    """``vllm:DIR_OR_HUB_ID``, optionally followed by model arguments as a JSON object
    (``vllm:./m{"dtype": "bfloat16"}``; see docs/vllm.md). The server's state and logs go under
    the response cache's folder (``vllm/``), else under ``~/.cache/pytest-llmeval/vllm``."""
    from pathlib import Path

    from .backends.vllm import VLLMBackend, split_target

    target, arguments = split_target(spec.target)
    served = spec.alias.served_name if spec.alias is not None and spec.alias.served_name else (
        Path(target).name if Path(target).is_dir() else target)
    state = (context.cache_dir or Path.home() / ".cache" / "pytest-llmeval") / "vllm"
    return VLLMBackend(target, arguments, name=served, state_dir=state, timeout=context.timeout)


def recorded_backend(spec: ModelSpec, context: BackendContext) -> Backend:
    from .backends.recorded import RecordedBackend

    return RecordedBackend(spec.target, base_dir=context.root)


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
    def pytest_llmeval_backends(self, config: pytest.Config) -> dict[str, BackendFactory]:
        return {"hf": transformers_backend, "gguf": transformers_backend, "openai": openai_backend,
                "vllm": vllm_backend, "recorded": recorded_backend}
