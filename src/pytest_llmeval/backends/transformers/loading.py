"""Getting a local model into memory: GGUF conversion, dtype and placement, model arguments.

:func:`load` checks that the model fits (:mod:`.memory`) and then loads it with the arguments
the user gave (:class:`~.arguments.ModelArguments`); a GGUF file is first dequantized once
into a safetensors directory under the model cache (:func:`convert_gguf`), which later loads
(and other tools) read directly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import BackendError
from . import memory
from .arguments import ModelArguments
from .identity import file_fingerprint, hub_snapshot

#: Held while a model loads or converts: ``from_pretrained`` builds models under process-wide
#: switches (an empty-weights context, a default device), so two models loading at once in two
#: threads (the engine answers several models in parallel) corrupt each other's weights.
LOADING = threading.RLock()

#: Converted GGUF weights are kept here so the second load takes seconds, not half a minute.
DEFAULT_MODEL_CACHE = Path(os.environ.get("LLMEVAL_MODEL_CACHE", Path.home() / ".cache" / "pytest-llmeval" / "models"))


@dataclass(frozen=True)
class Placement:
    """Where and how the weights go, resolved for this machine from the model arguments."""

    #: "cuda" or "cpu": the kind of device the model computes on.
    device: str
    #: The weights' dtype name ("float32", "bfloat16", "float16").
    dtype: str
    #: What ``from_pretrained`` gets as ``device_map`` (None: load on the CPU, as is).
    device_map: str | dict[str, str | int] | None


def placement(arguments: ModelArguments, device: str) -> Placement:
    """Defaults for the machine: on a GPU bfloat16 spread over the visible GPUs
    (``device_map="auto"``); on a CPU float32, unsharded."""
    dtype = arguments.dtype if arguments.dtype != "auto" else ("bfloat16" if device == "cuda" else "float32")
    device_map = arguments.device_map if arguments.device_map is not None else ("auto" if device == "cuda" else None)
    return Placement(device, dtype, device_map)


@dataclass(frozen=True)
class LoadedModel:
    """A model in memory, as :meth:`TransformersBackend.loaded` hands it out (perf scripts and
    tests read the model and tokenizer from here)."""

    #: The ``transformers`` causal LM, in eval mode.
    model: Any
    #: Its tokenizer: left padding, a pad token set.
    tokenizer: Any
    #: What the weights were read from: a directory (a GGUF file's converted one) or a hub id.
    directory: str
    #: Where that came from, in words ("converted cache /...", "model directory", "hub").
    source: str
    #: Seconds the load took (conversion included).
    seconds: float


def converted_directory(gguf_file: Path, model_cache: Path = DEFAULT_MODEL_CACHE) -> Path:
    """Where :func:`convert_gguf` keeps the safetensors directory of a GGUF file (it may not exist yet)."""
    return model_cache / f"{gguf_file.stem}-{file_fingerprint(gguf_file)}"


def convert_gguf(gguf_file: Path, model_cache: Path = DEFAULT_MODEL_CACHE) -> tuple[Path, str]:
    """The GGUF file dequantized once into a safetensors directory; returns it and how it was had.

    A GGUF-loaded model is marked quantized and refuses ``save_pretrained``, so its state dict
    is copied into a fresh model of the same class, which saves normally. Several processes may
    convert at once: each writes a staging directory and the first rename wins.
    """
    out = converted_directory(gguf_file, model_cache)
    if (out / "config.json").exists():
        drop_quantization_config(out / "config.json")  # converted by an older version
        return out, f"converted cache {out}"
    parameters = memory.parameter_count(gguf_file)
    if parameters is not None:  # dequantized float32 weights, held twice while they are copied
        memory.check_fits(f"converting {gguf_file.name}", memory.conversion_fit(parameters))
    import transformers

    with LOADING:
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        quantized = transformers.AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        config = quantized.config
        if hasattr(config, "quantization_config"):  # the weights are dequantized: a plain model now
            del config.quantization_config
        fresh = transformers.AutoModelForCausalLM.from_config(config)
        fresh.load_state_dict(quantized.state_dict())
        fresh.generation_config = quantized.generation_config
    staging = out.with_name(out.name + f".tmp{os.getpid()}")
    fresh.save_pretrained(staging)
    drop_quantization_config(staging / "config.json")
    tokenizer.save_pretrained(staging)
    (staging / "pytest-llmeval.json").write_text(json.dumps({"converted_from": str(gguf_file)}))
    try:
        staging.rename(out)
    except OSError:  # another process converted it first
        shutil.rmtree(staging, ignore_errors=True)
    return out, "GGUF (first load converts it; later loads use the cache)"


def drop_quantization_config(config_file: Path) -> None:
    """Remove the GGUF ``quantization_config`` that ``save_pretrained`` writes even for dequantized
    weights: with it, other tools (lm-eval, ``transformers serve``) refuse the directory."""
    config = json.loads(config_file.read_text())
    if "quantization_config" not in config:
        return
    del config["quantization_config"]
    staging = config_file.with_name(f"config.json.tmp{os.getpid()}")
    staging.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(staging, config_file)  # atomic: another worker may be reading it


def check_memory(name: str, source: str, where: Placement, arguments: ModelArguments) -> None:
    """Refuse (:class:`BackendError`) a model whose weights need more memory than it may use."""
    budget = memory.available_bytes(where.device, arguments)
    local = Path(source) if Path(source).exists() else hub_snapshot(source, arguments.revision)
    parameters = memory.parameter_count(local) if local is not None else None
    if budget is None or parameters is None:
        return
    memory.check_fits(name, memory.load_fit(parameters, where.dtype, arguments.quantization, *budget))


def pretrained_arguments(where: Placement, arguments: ModelArguments) -> dict[str, Any]:
    """The keyword arguments of ``AutoModelForCausalLM.from_pretrained`` for these settings."""
    import torch

    kwargs: dict[str, Any] = {"dtype": getattr(torch, where.dtype), "trust_remote_code": arguments.trust_remote_code}
    if arguments.revision is not None:
        kwargs["revision"] = arguments.revision
    if where.device_map is not None:
        kwargs["device_map"] = where.device_map
    if arguments.max_memory is not None:
        kwargs["max_memory"] = arguments.memory_budgets()
    if arguments.quantization is not None:
        kwargs["quantization_config"] = quantization_config(arguments.quantization, kwargs["dtype"])
    return kwargs


def quantization_config(kind: str, compute_dtype: Any) -> Any:
    """A bitsandbytes configuration for "4bit" or "8bit"; :class:`BackendError` when it is not installed."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackendError(f"the model argument \"quantization\": \"{kind}\" needs the bitsandbytes package: "
                           "pip install bitsandbytes (it quantizes on GPUs), or remove the argument")
    from transformers import BitsAndBytesConfig

    if kind == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=compute_dtype)
    return BitsAndBytesConfig(load_in_8bit=True)


def load(name: str, source: str, where: Placement, arguments: ModelArguments) -> tuple[Any, Any]:
    """(model, tokenizer) from a directory or hub id, checked to fit first; the tokenizer pads on the left."""
    check_memory(name, source, where, arguments)
    import transformers

    kwargs = pretrained_arguments(where, arguments)
    try:
        with LOADING:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                source, trust_remote_code=arguments.trust_remote_code, revision=arguments.revision)
            model: Any = transformers.AutoModelForCausalLM.from_pretrained(source, **kwargs)
            if where.device_map is None:
                model.to(where.device)
    except Exception as exc:  # whatever it is, this model cannot be used: say so, keep the run going
        hint = (" If you trust the model's own code, add {\"trust_remote_code\": true} after the spec."
                if "trust_remote_code" in str(exc) and not arguments.trust_remote_code else "")
        raise BackendError(f"cannot load model {name!r}: {type(exc).__name__}: {exc}{hint}") from None
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
