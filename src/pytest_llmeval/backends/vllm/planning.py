"""How to start vLLM for a model on this machine: dtype, parallelism, context, tool calls, the command.

Decided from the visible GPUs (``nvidia-smi``, restricted by ``CUDA_VISIBLE_DEVICES``), the
size of the model's weights on disk and its config, unless the model's arguments say otherwise:

- dtype: bfloat16 on GPUs, float32 on a CPU (as the transformers backend does);
- tensor parallel size: the fewest GPUs, in powers of two that divide the attention heads,
  whose memory (times ``gpu_memory_utilization``, default 0.9) holds the weights in that
  dtype plus a fifth for the KV cache; pipeline stages only when all of them are not enough
  in powers of two (e.g. 6 GPUs: tensor parallel 2 x pipeline 3);
- a model too big for every visible GPU together is refused before anything starts, with the
  memory it needs and the memory there is;
- tool calls: the parser known for the model's family (``TOOL_PARSERS``), else none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import BackendError
from .arguments import VLLMArguments

__all__ = ["KV_HEADROOM", "TOOL_PARSERS", "Gpus", "ServerPlan", "plan", "tool_parser_for", "visible_gpus",
           "weights_bytes"]

#: Memory for the KV cache and activations on top of the weights, as a fraction of the weights.
KV_HEADROOM = 0.2
#: vLLM tool-call parsers for model families, matched in order against the model's name and
#: ``model_type``: (substring, parser). SmolLM2 writes Hermes-style ``<tool_call>`` blocks.
TOOL_PARSERS: tuple[tuple[str, str], ...] = (
    ("smollm", "hermes"), ("qwen", "hermes"), ("hermes", "hermes"),
    ("llama-3", "llama3_json"), ("llama3", "llama3_json"),
    ("mistral", "mistral"), ("mixtral", "mistral"),
)
_BYTES_PER_PARAMETER = {"float32": 4, "bfloat16": 2, "float16": 2}
_GIB = 2**30


@dataclass(frozen=True)
class Gpus:
    """The GPUs this process may use: how many, and the memory of the smallest (bytes)."""

    count: int = 0
    memory: int = 0


def visible_gpus() -> Gpus:
    """The visible NVIDIA GPUs (``nvidia-smi``), as ``CUDA_VISIBLE_DEVICES`` restricts them; none without a driver."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return Gpus()
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return Gpus()
    try:
        out = subprocess.run([tool, "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return Gpus()
    sizes = {}
    for line in out.splitlines():
        index, _, mib = line.partition(",")
        if index.strip().isdigit() and mib.strip().isdigit():
            sizes[index.strip()] = int(mib.strip()) * 2**20
    if visible is not None:
        sizes = {i: size for i, size in sizes.items() if i in {v.strip() for v in visible.split(",")}}
    return Gpus(len(sizes), min(sizes.values())) if sizes else Gpus()


def weights_bytes(model: str) -> int | None:
    """The size of a local model directory's weight files, or None (a hub id, or no weights found)."""
    path = Path(model)
    if not path.is_dir():
        return None
    total = sum(f.stat().st_size for f in path.iterdir() if f.suffix in (".safetensors", ".bin", ".pt", ".pth"))
    return total or None


def _config(model: str) -> dict[str, Any]:
    try:
        data = json.loads((Path(model) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def tool_parser_for(model: str, config: dict[str, Any] | None = None) -> str | None:
    """The vLLM tool-call parser known for the model's family (by name, then ``model_type``), or None."""
    names = [Path(model).name.lower(), model.lower(), str((config or {}).get("model_type", "")).lower()]
    for needle, parser in TOOL_PARSERS:
        if any(needle in name for name in names):
            return parser
    return None


@dataclass(frozen=True)
class ServerPlan:
    """What the server is started with; ``identity()`` is the part that can change answers."""

    model: str
    dtype: str
    tensor_parallel_size: int
    pipeline_parallel_size: int
    device: str
    max_model_len: int | None
    gpu_memory_utilization: float | None
    quantization: str | None
    tool_call_parser: str | None
    extra_args: tuple[str, ...]
    concurrency: int

    def identity(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dtype": self.dtype, "max_model_len": self.max_model_len,
                                "tensor_parallel_size": self.tensor_parallel_size,
                                "pipeline_parallel_size": self.pipeline_parallel_size,
                                "quantization": self.quantization, "tool_call_parser": self.tool_call_parser,
                                "extra_args": list(self.extra_args) or None}
        return {key: value for key, value in data.items() if value is not None}

    def flags(self, served_name: str, port: int) -> list[str]:
        """The ``vllm serve`` flags (after the module name) for this plan on ``port``."""
        flags = ["--model", self.model, "--served-model-name", served_name, "--host", "127.0.0.1",
                 "--port", str(port), "--dtype", self.dtype,
                 "--tensor-parallel-size", str(self.tensor_parallel_size),
                 "--pipeline-parallel-size", str(self.pipeline_parallel_size)]
        if self.max_model_len is not None:
            flags += ["--max-model-len", str(self.max_model_len)]
        if self.gpu_memory_utilization is not None:
            flags += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        if self.quantization is not None:
            flags += ["--quantization", self.quantization]
        if self.tool_call_parser is not None:
            flags += ["--enable-auto-tool-choice", "--tool-call-parser", self.tool_call_parser]
        return flags + list(self.extra_args)

    def describe(self) -> str:
        parallel = f"tensor parallel {self.tensor_parallel_size}"
        if self.pipeline_parallel_size > 1:
            parallel += f" x pipeline {self.pipeline_parallel_size}"
        tools = f"tool calls: {self.tool_call_parser}" if self.tool_call_parser else "tools described in the prompt"
        return f"{self.device}, {self.dtype}, {parallel}, {tools}"


def plan(model: str, arguments: VLLMArguments, gpus: Gpus, size: int | None = None) -> ServerPlan:
    """The :class:`ServerPlan` for ``model`` on ``gpus`` (``size``: its weights' bytes on disk; default
    :func:`weights_bytes`).

    Raises :class:`BackendError` when the model cannot fit the visible GPUs, saying how much
    memory it needs and how much there is.
    """
    config = _config(model)
    size = size if size is not None else weights_bytes(model)
    on_gpu = gpus.count > 0
    dtype = arguments.dtype if arguments.dtype != "auto" else ("bfloat16" if on_gpu else "float32")
    if size is None and arguments.parameters_b is not None:  # not on disk yet: the alias's size
        size = int(arguments.parameters_b * 1e9 * (4 if dtype == "float32" else 2))
    utilization = (arguments.gpu_memory_utilization or 0.9) if on_gpu else None
    tp, pp = arguments.tensor_parallel_size, arguments.pipeline_parallel_size
    if on_gpu and (tp is None or pp is None):
        auto_tp, auto_pp = _parallelism(_needed_bytes(config, dtype, size), gpus, utilization or 0.9,
                                        int(config.get("num_attention_heads") or 0), model)
        tp, pp = tp or auto_tp, pp or auto_pp
    parser = arguments.tool_call_parser if arguments.tool_call_parser is not None else tool_parser_for(model, config)
    return ServerPlan(model=model, dtype=dtype, tensor_parallel_size=tp or 1, pipeline_parallel_size=pp or 1,
                      device="GPU" if on_gpu else "CPU", max_model_len=arguments.max_model_len,
                      gpu_memory_utilization=utilization, quantization=arguments.quantization,
                      tool_call_parser=None if parser == "none" else parser, extra_args=tuple(arguments.extra_args),
                      concurrency=arguments.concurrency or (256 if on_gpu else 16))


def _needed_bytes(config: dict[str, Any], dtype: str, size: int | None) -> int | None:
    """Weights in ``dtype`` plus :data:`KV_HEADROOM`, from their size on disk and the dtype they were saved in."""
    if size is None:
        return None
    stored = _BYTES_PER_PARAMETER.get(str(config.get("torch_dtype") or config.get("dtype") or "bfloat16"), 2)
    return int(size / stored * _BYTES_PER_PARAMETER[dtype] * (1 + KV_HEADROOM))


def _parallelism(needed: int | None, gpus: Gpus, utilization: float, heads: int, model: str) -> tuple[int, int]:
    """(tensor, pipeline) sizes: the fewest GPUs in powers of two that hold ``needed`` bytes, else
    pipeline stages of the widest tensor parallelism that the visible GPUs allow."""
    usable = gpus.memory * utilization
    # Tensor parallelism splits attention heads: a size must divide their number (0: not known yet).
    sizes = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= gpus.count and (heads == 0 or heads % n == 0)] or [1]
    if needed is None:
        return 1, 1
    for tp in sizes:
        if tp * usable >= needed:
            return tp, 1
    for tp in reversed(sizes):  # pipeline stages of the widest tensor parallelism that fits the GPUs
        pp = -(-needed // int(tp * usable)) if usable else gpus.count + 1
        if tp * pp <= gpus.count:
            return tp, pp
    raise BackendError(
        f"vllm:{model} needs about {needed / _GIB:.0f} GiB of GPU memory (weights in this dtype + "
        f"{KV_HEADROOM:.0%} for the KV cache), but the {gpus.count} visible GPU(s) offer "
        f"{gpus.count * usable / _GIB:.0f} GiB at gpu_memory_utilization {utilization:g}: use more GPUs, a "
        f"quantized checkpoint ({{\"quantization\": \"awq\"}}), or set tensor_parallel_size/pipeline_parallel_size "
        f"yourself (docs/vllm.md)")


def default_python() -> str:
    """The Python that runs vLLM: ``$LLMEVAL_VLLM_PYTHON``, else this interpreter."""
    return os.environ.get("LLMEVAL_VLLM_PYTHON") or sys.executable
