"""Local weights through transformers: batched generation (greedy or seeded sampling) and
log-likelihood scoring of choices.

Nothing heavy is imported until the model is first needed: ``identity()`` is computed from
files on disk (:mod:`.identity`), so a fully cached rerun never loads the weights, nor, with a
CPU build of torch, imports torch at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...request import Request, Response
from ..base import BackendError, Progress
from .arguments import ModelArguments
from .generation import Generation
from .identity import weights_identity
from .loading import DEFAULT_MODEL_CACHE, LoadedModel, Placement, convert_gguf, load, placement
from .loglikelihood import score_choices
from .runtime import accelerator, import_torch, library_versions


class TransformersBackend:
    """A causal LM from a local directory, a hub id, or a GGUF file.

    ``arguments`` say how to load it (dtype, placement, quantization, ...; see
    :class:`~.arguments.ModelArguments`); ``threads`` is how many compute threads torch may use.

    Example::

        backend = TransformersBackend("gguf", "/models/model.Q4_1.gguf", batch_size=8)
        for index, response in backend.run(requests, progress=lambda n: None):
            ...
        model = backend.loaded().model
    """

    name = "transformers"

    def __init__(
        self,
        scheme: str,
        target: str,
        *,
        arguments: ModelArguments | None = None,
        batch_size: int = 16,
        max_batch_tokens: int = 16384,
        model_cache: Path = DEFAULT_MODEL_CACHE,
        threads: int | None = None,
    ) -> None:
        self.scheme = scheme
        self.target = target
        self.arguments = arguments or ModelArguments()
        self.batch_size = max(1, batch_size)
        self.max_batch_tokens = max_batch_tokens
        self.model_cache = model_cache
        self.threads = threads
        self._placement: Placement | None = None
        self._identity: dict[str, Any] | None = None
        self._loaded: LoadedModel | None = None

    # -- identity without loading -------------------------------------------------------------

    def placement(self) -> Placement:
        """Device kind, dtype and device map this backend loads with (resolved once, without loading)."""
        if self._placement is None:
            self._placement = placement(self.arguments, accelerator())
        return self._placement

    def identity(self) -> dict[str, Any]:
        """Backend, model, a fingerprint of every file that shapes the answers (weights, config,
        generation config, tokenizer, special tokens, chat template), dtype, device kind, the
        model arguments that change answers and the decoding libraries' versions."""
        if self._identity is None:
            path = Path(self.target)
            if self.scheme == "gguf" and not path.is_file():
                raise BackendError(f"GGUF file not found: {self.target}")
            where = self.placement()
            identity: dict[str, Any] = {
                "backend": "transformers", "model": path.name if path.exists() else self.target,
                "weights": weights_identity(self.scheme, self.target, self.arguments.revision),
                "dtype": where.dtype, "device": where.device,
                "libraries": library_versions(quantized=self.arguments.quantization is not None)}
            if self.arguments.answer_changing():
                identity["arguments"] = self.arguments.answer_changing()
            self._identity = identity
        return self._identity

    def describe(self) -> str:
        where = {"gguf": "GGUF file", "hf": "model directory" if Path(self.target).is_dir() else "hub id"}[self.scheme]
        settings = self.placement()
        text = f"transformers ({where} {self.target}; batch {self.batch_size}, {settings.dtype} on {settings.device}"
        if settings.device_map is not None:
            text += f", device_map {settings.device_map}"
        if self.arguments.quantization:
            text += f", {self.arguments.quantization} quantized"
        if self._loaded is not None:
            text += f", loaded in {self._loaded.seconds:.1f}s from {self._loaded.source}"
        return text + ")"

    def supports(self, request: Request) -> bool:
        # Tools (function calling) are answered through the benchmark's text prompt format.
        return request.kind in ("generate", "loglikelihood")

    def check(self) -> None:
        self.loaded()

    def close(self) -> None:
        self._loaded = None

    # -- loading ------------------------------------------------------------------------------

    def loaded(self) -> LoadedModel:
        """The model in memory: model, tokenizer, where it was read from. Loaded on the first call
        (quiet threads, GGUF conversion, the memory check, ``from_pretrained``); raises
        :class:`BackendError` saying what to do when it cannot be."""
        if self._loaded is not None:
            return self._loaded
        started = time.perf_counter()
        import_torch(self.threads)
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # the plugin's own progress line says enough
        directory: Path | str = self.target
        source = "model directory" if Path(self.target).is_dir() else "hub"
        if self.scheme == "gguf":
            directory, source = self._convert()
        model, tokenizer = load(self.target, str(directory), self.placement(), self.arguments)
        self._loaded = LoadedModel(model, tokenizer, str(directory), source, time.perf_counter() - started)
        return self._loaded

    def converted_directory(self) -> Path:
        """A GGUF model's converted safetensors directory (converted now if it is not yet)."""
        if self.scheme != "gguf":
            raise BackendError(f"{self.target} is not a GGUF file: it has no converted directory")
        return self._convert()[0]

    def _convert(self) -> tuple[Path, str]:
        import_torch(self.threads)
        try:
            return convert_gguf(Path(self.target), self.model_cache)
        except BackendError:
            raise
        except Exception as exc:  # an unreadable file, an architecture transformers cannot dequantize, ...
            raise BackendError(f"cannot convert GGUF file {self.target!r}: {type(exc).__name__}: {exc}") from None

    # -- inference ----------------------------------------------------------------------------

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        loaded = self.loaded()
        generate = [i for i, r in enumerate(requests) if r.kind == "generate"]
        choose = [i for i, r in enumerate(requests) if r.kind == "loglikelihood"]
        if choose:
            yield from score_choices(loaded, requests, choose, progress, batch_size=self.batch_size,
                                     max_batch_tokens=self.max_batch_tokens, name=self.name)
        if generate:
            generation = Generation(loaded, batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens, name=self.name)
            yield from generation.run(requests, generate, progress)
