"""Will the model fit? The memory its weights need, against the memory it may use, before loading.

A model that does not fit does not fail on its own: transformers and accelerate offload the rest
to CPU RAM or disk, or the operating system swaps, and a run that should take minutes crawls for
days. So the backend refuses such a model up front with the two numbers and what to do instead.

Needed: parameters (counted from the safetensors headers or the GGUF tensor table, never by
loading) x bytes per parameter (dtype or quantization) x 1.2, the rule of thumb for inference
(weights plus about 20% for activations, the key/value cache and the framework; EleutherAI,
"Transformer Math 101", 2023). Available: free GPU memory on the GPUs the placement may use, or
available CPU RAM capped by the cgroup's memory limit; with ``max_memory`` the budgets given
there (naming "cpu" or "disk" there consents to offloading).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..base import BackendError
from .arguments import ModelArguments

#: Bytes per parameter of each weights dtype and quantization.
BYTES_PER_PARAMETER = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "8bit": 1.0, "4bit": 0.5}
#: Weights x this = memory needed for inference (EleutherAI, "Transformer Math 101").
INFERENCE_OVERHEAD = 1.2


@dataclass(frozen=True)
class Fit:
    """The memory a model needs and the memory it may use, in bytes."""

    needed: int
    available: int
    #: How ``needed`` was reckoned, in words ("0.13B parameters x 4 bytes in float32, plus 20% ...").
    reckoning: str
    #: What ``available`` counts, in words ("available CPU RAM", "free memory of 2 GPUs", "max_memory").
    where: str

    @property
    def fits(self) -> bool:
        return self.needed <= self.available


def load_fit(parameters: int, dtype: str, quantization: str | None, available: int, where: str) -> Fit:
    """The memory to run a model of ``parameters`` in the resolved ``dtype`` (or quantized)."""
    kind = quantization or dtype
    per = BYTES_PER_PARAMETER[kind]
    return Fit(int(parameters * per * INFERENCE_OVERHEAD), available,
               f"{parameters / 1e9:.2f}B parameters x {per:g} bytes in {kind}, plus 20% for activations and the key/value cache",
               where)


def conversion_fit(parameters: int) -> Fit:
    """The CPU RAM to dequantize a GGUF file: its float32 weights twice (the loaded model and the copy saved)."""
    return Fit(parameters * 8, cpu_available(),
               f"{parameters / 1e9:.2f}B parameters dequantized to float32, held twice while they are copied",
               "available CPU RAM")


def parameter_count(path: Path) -> int | None:
    """Parameters in a GGUF file or a model directory, from file headers; None when unknown."""
    if path.is_file() and path.suffix == ".gguf":
        import gguf

        return sum(int(tensor.n_elements) for tensor in gguf.GGUFReader(path).tensors)
    if not path.is_dir():
        return None
    tensors = sorted(path.glob("*.safetensors"))
    if tensors:
        from safetensors import safe_open

        total = 0
        for file in tensors:
            with safe_open(str(file), framework="np") as handle:
                total += sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys())  # noqa: SIM118
        return total
    pickled = [p for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth")]
    if not pickled:
        return None
    stored = _config_dtype(path / "config.json")
    return int(sum(p.stat().st_size for p in pickled) / BYTES_PER_PARAMETER.get(stored, 4.0))


def _config_dtype(config: Path) -> str:
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return "float32"
    return str(data.get("dtype") or data.get("torch_dtype") or "float32")


def cgroup_memory_left(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process's cgroup may still allocate (cgroup v2 ``memory.max`` - ``memory.current``), or None."""
    try:
        limit = (root / "memory.max").read_text().strip()
        used = int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def cpu_available() -> int:
    """Available CPU RAM in bytes (psutil), capped by the cgroup's limit."""
    import psutil

    available = int(psutil.virtual_memory().available)
    left = cgroup_memory_left()
    return available if left is None else min(available, left)


def available_bytes(device: str, arguments: ModelArguments) -> tuple[int, str] | None:
    """(bytes, what they count) that ``arguments`` let the model use on ``device`` ("cpu"/"cuda");
    None when the placement is the user's own (a device map object, "mps", "disk")."""
    placement = arguments.device_map
    if isinstance(placement, dict) or placement in ("mps", "disk"):
        return None
    budgets = arguments.memory_budgets()
    if budgets is not None:
        from accelerate.utils import get_max_memory

        return int(sum(get_max_memory(dict(budgets)).values())), "max_memory"
    if placement == "cpu" or device == "cpu":
        return cpu_available(), "available CPU RAM"
    from accelerate.utils import get_max_memory

    free = {k: v for k, v in get_max_memory().items() if isinstance(k, int)}
    if isinstance(placement, str) and placement.startswith("cuda"):
        index = int(placement.partition(":")[2] or 0)
        return int(free.get(index, 0)), f"free memory of GPU {index}"
    return int(sum(free.values())), f"free memory of {len(free)} GPU{'s' if len(free) != 1 else ''}"


def check_fits(name: str, fit: Fit) -> None:
    """Raise :class:`BackendError` when ``fit`` does not fit, with the figures and what to do."""
    if fit.fits:
        return
    raise BackendError(
        f"{name} needs about {_gb(fit.needed)} ({fit.reckoning}), but the {fit.where} is {_gb(fit.available)}: "
        "loading it would spill to disk or swap and crawl. Serve it with vLLM and point --llm-base-url at the server, "
        "quantize it ({\"quantization\": \"4bit\"} after the spec, with bitsandbytes installed), or "
        "place it yourself ({\"device_map\": \"auto\", \"max_memory\": {\"0\": \"70GiB\", \"cpu\": \"200GiB\"}}); "
        "see docs/model-arguments.md.")


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"
