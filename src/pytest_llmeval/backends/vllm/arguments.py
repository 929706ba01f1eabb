"""Model arguments of a vLLM-managed model: a JSON object after the spec.

``--llm-model='vllm:/models/llama-2-70b-chat{"dtype": "bfloat16", "tensor_parallel_size": 8}'``, or in
``llm_aliases``: ``llama70 = vllm:meta-llama/Llama-2-70b-chat-hf{"max_model_len": 4096}``. The same
shape as the ``hf:`` models' arguments: the object starts at the first ``{`` from which the rest
of the target is one JSON object, is read by :mod:`json` and checked field by field against
:class:`VLLMArguments` (pydantic, strict: a string is never taken for a number, an unknown key
is an error that lists the known ones). Every field is optional; the defaults come from the
machine (see :mod:`.planning`). See docs/vllm.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...registry import ModelSpecError, split_arguments
from ..arguments import validate
from ..base import BackendError

__all__ = ["VLLMArguments", "parse_arguments", "split_target"]


class VLLMArguments(BaseModel):
    """How the plugin starts vLLM for one model, and how it talks to it.

    Fields that can change an answer (``dtype``, ``max_model_len``, the parallel sizes,
    ``quantization``, ``tool_call_parser``, ``extra_args``) are part of the cache identity, as the
    values the server actually gets; ``gpu_memory_utilization``, ``concurrency``, ``python``,
    ``env`` and ``startup_timeout`` are not.

    Example::

        VLLMArguments.model_validate({"dtype": "bfloat16", "tensor_parallel_size": 4})
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: Weights' dtype; "auto": bfloat16 on GPUs, float32 on a CPU (as the transformers backend).
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    #: The context window in tokens (default: the model's own, from its config).
    max_model_len: int | None = Field(default=None, ge=16)
    #: The model's parameters in billions, for planning before its weights are on disk (a hub id
    #: not yet downloaded); the registry's aliases set it. Not part of the identity.
    parameters_b: float | None = Field(default=None, gt=0.0)
    #: GPUs per pipeline stage (default: the fewest, in powers of two, that hold the weights).
    tensor_parallel_size: int | None = Field(default=None, ge=1)
    #: Pipeline stages (default: 1, more only when tensor parallelism alone cannot hold the model).
    pipeline_parallel_size: int | None = Field(default=None, ge=1)
    #: Fraction of each GPU's memory vLLM may take (default 0.9; GPUs only).
    gpu_memory_utilization: float | None = Field(default=None, gt=0.0, le=1.0)
    #: vLLM's ``--quantization`` (e.g. "awq", "gptq", "fp8"), for checkpoints made for it.
    quantization: str | None = None
    #: vLLM's ``--tool-call-parser`` ("hermes", "llama3_json", "mistral", ...); "none" serves
    #: without tool calls (the plugin then describes tools in the prompt). Default: the
    #: parser known for the model's family, else none.
    tool_call_parser: str | None = None
    #: More ``vllm serve`` flags, passed as they are (e.g. ["--enable-prefix-caching"]).
    extra_args: tuple[str, ...] = ()
    #: Environment variables for the server (e.g. {"VLLM_CPU_KVCACHE_SPACE": "4"}).
    env: dict[str, str] = Field(default_factory=dict)
    #: Requests in flight to the server (default: 256 on GPUs, 16 on a CPU; not --llm-concurrency,
    #: whose default suits remote APIs).
    concurrency: int | None = Field(default=None, ge=1)
    #: The Python that has vLLM installed (default: $LLMEVAL_VLLM_PYTHON, else this one).
    python: str | None = None
    #: Seconds to wait for the server to become ready (the first start on a CPU compiles for minutes).
    startup_timeout: float = Field(default=1800.0, gt=0.0)


def split_target(target: str) -> tuple[str, VLLMArguments]:
    """A ``vllm:`` spec's target and its arguments: ``'/m{"dtype": "bfloat16"}'`` ->
    ``("/m", VLLMArguments(dtype="bfloat16"))``; a target without an object gets the defaults.

    Raises :class:`BackendError` naming the spec, the argument and what is allowed.
    """
    try:
        bare, data = split_arguments(target, spec=f"vllm:{target}")
    except ModelSpecError as exc:
        raise BackendError(f"{exc} (see docs/vllm.md)") from None
    return bare, parse_arguments(data or {}, where=f"vllm:{bare}")


def parse_arguments(data: dict[str, Any], where: str = "the model") -> VLLMArguments:
    """Check a JSON object against :class:`VLLMArguments`; one :class:`BackendError` lists every problem."""
    if isinstance(data.get("extra_args"), list):  # JSON has lists, the frozen model keeps tuples
        data = {**data, "extra_args": tuple(data["extra_args"])}
    return validate(VLLMArguments, data, where, "docs/vllm.md")


