"""Model arguments of a local (transformers) model: a JSON object after the spec.

``--llm-model='hf:/models/llama-2-13b-chat{"dtype": "bfloat16", "device_map": "auto"}'`` or, in
``llm_aliases``, ``llama13 = hf:/models/llama-2-13b-chat{"quantization": "4bit"}``. The object is
read by ``json`` and checked field by field against :class:`ModelArguments` (pydantic, strict:
a JSON string is never taken for a number or a boolean, an unknown key is an error that lists
the known ones). See docs/model-arguments.md.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..arguments import arguments_of, validate

#: ``device_map`` strings transformers and accelerate accept besides a device name.
PLACEMENTS = ("auto", "balanced", "balanced_low_0", "sequential")
_DEVICE = re.compile(r"^(cpu|mps|disk|cuda(:\d+)?)$")
#: A memory budget as accelerate writes it: bytes, or a number with a unit (``"20GiB"``, ``"500MB"``).
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(GIB|MIB|KIB|GB|MB|KB)$", re.IGNORECASE)


class ModelArguments(BaseModel):
    """How a local model is loaded. Every field is optional; the defaults suit the machine.

    Fields that can change an answer (``dtype``, ``quantization``, ``trust_remote_code``,
    ``revision``) are part of the model's cache identity; placement and batching are not.

    Example::

        ModelArguments.model_validate({"dtype": "bfloat16", "max_memory": {"0": "70GiB", "1": "70GiB"}})
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: Weights' dtype; "auto": bfloat16 on a GPU, float32 on a CPU.
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    #: Where the layers go: "auto" (default on a GPU: spread over the visible GPUs), "balanced",
    #: "balanced_low_0", "sequential", a device ("cpu", "cuda", "cuda:1"), or a map of module name
    #: to device. None: "auto" on a GPU, the CPU otherwise.
    device_map: str | dict[str, str | int] | None = None
    #: Most memory per device for ``device_map`` placements: keys "0", "1", ... (GPUs), "cpu",
    #: "disk"; values bytes or sizes such as "70GiB". Naming "cpu" allows offloading to it.
    max_memory: dict[str, int | str] | None = None
    #: 4- or 8-bit weights through bitsandbytes (which must be installed; GPUs).
    quantization: Literal["4bit", "8bit"] | None = None
    #: Run the model repository's own Python code (off unless you trust its authors).
    trust_remote_code: bool = False
    #: A hub branch, tag or commit (hub ids only).
    revision: str | None = None
    #: Rows decoding at once for this model (default: ``--llm-batch-size``).
    batch_size: int | None = Field(default=None, ge=1)

    @field_validator("device_map")
    @classmethod
    def _known_placement(cls, value: str | dict[str, str | int] | None) -> str | dict[str, str | int] | None:
        if isinstance(value, str) and value not in PLACEMENTS and not _DEVICE.match(value):
            raise ValueError(f"must be one of {', '.join(PLACEMENTS)}, a device (cpu, cuda, cuda:N) or an object "
                             f"of module name to device; got {value!r}")
        return value

    @field_validator("max_memory")
    @classmethod
    def _known_budgets(cls, value: dict[str, int | str] | None) -> dict[str, int | str] | None:
        for device, size in (value or {}).items():
            if not (device.isdigit() or device in ("cpu", "disk", "mps")):
                raise ValueError(f"key {device!r} is not a device: use GPU numbers (\"0\", \"1\", ...), \"cpu\" or \"disk\"")
            if (isinstance(size, int) and size <= 0) or (isinstance(size, str) and not _SIZE.match(size.strip())):
                raise ValueError(f"{device}: {size!r} is not a size: use bytes or a number with a unit, e.g. \"20GiB\"")
        return value

    def answer_changing(self) -> dict[str, Any]:
        """The fields that can change an answer and differ from their defaults (for the cache identity)."""
        changing = {"quantization": self.quantization, "trust_remote_code": self.trust_remote_code, "revision": self.revision}
        return {name: value for name, value in changing.items() if value != ModelArguments.model_fields[name].default}

    def memory_budgets(self) -> dict[int | str, int | str] | None:
        """``max_memory`` keyed as transformers wants it (GPU numbers as ints), or None."""
        if self.max_memory is None:
            return None
        return {int(k) if k.isdigit() else k: v for k, v in self.max_memory.items()}


def split_target(target: str) -> tuple[str, ModelArguments]:
    """A spec's target and its model arguments: ``"/m{\\"dtype\\": \\"bfloat16\\"}"`` ->
    ``("/m", ModelArguments(dtype="bfloat16"))``; a target without an object gets the defaults.
    Raises :class:`BackendError` naming the spec, the argument and what is allowed."""
    return arguments_of(target, ModelArguments, "docs/model-arguments.md")


def parse_arguments(data: dict[str, Any], where: str = "the model") -> ModelArguments:
    """Check a JSON object against :class:`ModelArguments`; one :class:`BackendError` lists every problem."""
    return validate(ModelArguments, data, where, "docs/model-arguments.md")


