"""Local weights through transformers: batched, length-sorted, greedy generation and
log-likelihood scoring of choices.

Nothing heavy is imported until the model is first needed: ``identity()`` is computed from
files on disk, so a fully cached rerun never loads the weights at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..request import Request, Response
from .base import BackendError, Progress
from .greedy import accepts_logits_to_keep, eos_ids, greedy_stream, plain_greedy, stop_checker

#: Converted GGUF weights are kept here so the second load takes seconds, not half a minute.
DEFAULT_MODEL_CACHE = Path(os.environ.get("LLMEVAL_MODEL_CACHE", Path.home() / ".cache" / "pytest-llmeval" / "models"))

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def file_fingerprint(path: Path) -> str:
    """A content hash of a weights file: the whole file below 256 MB; above, its size, head, tail
    and modification time (hashing 100 GB on every run is not an option)."""
    stat = path.stat()
    size = stat.st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        if size <= 256 * 2**20:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
        else:
            digest.update(handle.read(8 * 2**20))
            handle.seek(-8 * 2**20, os.SEEK_END)
            digest.update(handle.read())
            digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def directory_fingerprint(path: Path) -> str:
    """Identity of a model directory: its config and tokenizer, and a fingerprint of each weight file."""
    digest = hashlib.sha256()
    for child in sorted(path.iterdir()):
        if child.name == "config.json" or child.name.endswith(("tokenizer.json", "tokenizer_config.json")):
            digest.update(child.name.encode() + child.read_bytes())
        elif child.suffix in _WEIGHT_SUFFIXES:
            digest.update(f"{child.name}:{file_fingerprint(child)}".encode())
    return digest.hexdigest()[:16]


class TransformersBackend:
    """A causal LM from a local directory, a hub id, or a GGUF file.

    Example::

        backend = TransformersBackend("gguf", "/models/model.Q4_1.gguf", batch_size=8)
    """

    name = "transformers"

    def __init__(
        self,
        scheme: str,
        target: str,
        *,
        batch_size: int = 16,
        max_batch_tokens: int = 16384,
        device: str | None = None,
        dtype: str = "auto",
        model_cache: Path = DEFAULT_MODEL_CACHE,
        threads: int | None = None,
    ) -> None:
        self.scheme = scheme
        self.target = target
        self.batch_size = max(1, batch_size)
        self.max_batch_tokens = max_batch_tokens
        self.device_name = device
        self.dtype_name = dtype
        self.model_cache = model_cache
        self.threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._identity: dict[str, Any] | None = None
        self.load_seconds: float | None = None
        self.loaded_from: str | None = None

    # -- identity without loading -------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            path = Path(self.target)
            if self.scheme == "gguf":
                if not path.is_file():
                    raise BackendError(f"GGUF file not found: {self.target}")
                weights = f"gguf:{file_fingerprint(path)}"
            elif path.is_dir():
                weights = f"dir:{directory_fingerprint(path)}"
            else:
                weights = f"hub:{self.target}@{_hub_revision(self.target)}"
            self._identity = {"backend": "transformers", "model": path.name if path.exists() else self.target,
                              "weights": weights, "dtype": self.dtype_name}
        return self._identity

    def describe(self) -> str:
        where = {"gguf": "GGUF file", "hf": "model directory" if Path(self.target).is_dir() else "hub id"}[self.scheme]
        text = f"transformers ({where} {self.target}; batch {self.batch_size}, greedy"
        if self._model is not None:
            text += f", {self._model.device}, {str(self._model.dtype).replace('torch.', '')}"
            if self.load_seconds is not None:
                text += f", loaded in {self.load_seconds:.1f}s from {self.loaded_from}"
        return text + ")"

    def supports(self, request: Request) -> bool:
        # Tools (function calling) are answered through the benchmark's text prompt format.
        return request.kind in ("generate", "loglikelihood")

    def check(self) -> None:
        self.load()

    def close(self) -> None:
        self._model = None
        self._tokenizer = None

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> None:
        if self._model is not None:
            return
        started = time.perf_counter()
        try:
            import torch
            import transformers
        except ImportError as exc:  # pragma: no cover - core dependencies
            raise BackendError(f"the transformers backend needs torch and transformers: {exc}") from None
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # the plugin's own progress line says enough
        if self.threads:
            # Several processes (xdist workers) each using every core slow each other down
            # many times over; each gets its share instead.
            torch.set_num_threads(self.threads)
        try:
            if self.scheme == "gguf":
                directory = self._converted_gguf()
            else:
                directory = self.target
                self.loaded_from = "directory" if Path(self.target).is_dir() else "hub"
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
            self._model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=self._dtype())
        except OSError as exc:
            raise BackendError(f"cannot load model {self.target!r}: {exc}") from None
        self._model.to(self._device())
        self._model.eval()
        tok = self._tokenizer
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self.load_seconds = time.perf_counter() - started

    def _device(self) -> str:
        if self.device_name:
            return self.device_name
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _dtype(self) -> Any:
        import torch

        if self.dtype_name == "auto":
            return torch.bfloat16 if self._device().startswith("cuda") else torch.float32
        return getattr(torch, self.dtype_name)

    def _converted_gguf(self) -> str:
        """A GGUF file dequantized once into a safetensors directory under the model cache.

        A GGUF-loaded model is marked quantized and refuses ``save_pretrained``, so its state
        dict is copied into a fresh model of the same class, which saves normally.
        """
        import transformers

        source = Path(self.target)
        out = self.model_cache / f"{source.stem}-{file_fingerprint(source)}"
        if (out / "config.json").exists():
            self.loaded_from = f"converted cache {out}"
            _drop_quantization_config(out / "config.json")  # converted by an older version
            return str(out)
        self.loaded_from = "GGUF (first load converts it; later loads use the cache)"
        tokenizer = transformers.AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        quantized = transformers.AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        config = quantized.config
        if hasattr(config, "quantization_config"):  # the weights are dequantized: a plain model now
            del config.quantization_config
        fresh = transformers.AutoModelForCausalLM.from_config(config)
        fresh.load_state_dict(quantized.state_dict())
        fresh.generation_config = quantized.generation_config
        staging = out.with_name(out.name + f".tmp{os.getpid()}")
        fresh.save_pretrained(staging)
        _drop_quantization_config(staging / "config.json")
        tokenizer.save_pretrained(staging)
        (staging / "pytest-llmeval.json").write_text(json.dumps({"converted_from": str(source)}))
        try:
            staging.rename(out)
        except OSError:  # another process converted it first
            shutil.rmtree(staging, ignore_errors=True)
        return str(out)

    # -- inference ----------------------------------------------------------------------------

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        self.load()
        generate = [i for i, r in enumerate(requests) if r.kind == "generate"]
        choose = [i for i, r in enumerate(requests) if r.kind == "loglikelihood"]
        if choose:
            yield from self._loglikelihood(requests, choose, progress)
        if generate:
            yield from self._generate(requests, generate, progress)

    def _render(self, request: Request) -> str:
        if not request.messages:
            return request.prompt or ""
        tok = self._tokenizer
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if tok.chat_template:
            return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def _batches(self, indices: list[int], lengths: dict[int, int]) -> Iterator[list[int]]:
        """Longest first, cut by count and by padded tokens, so padding stays small and memory bounded."""
        order = sorted(indices, key=lambda i: -lengths[i])
        batch: list[int] = []
        for index in order:
            longest = lengths[batch[0]] if batch else lengths[index]
            if batch and (len(batch) >= self.batch_size or longest * (len(batch) + 1) > self.max_batch_tokens):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    def _generate(self, requests: Sequence[Request], indices: list[int], progress: Progress) -> Iterator[tuple[int, Response]]:
        import torch

        tok, model = self._tokenizer, self._model
        texts = {i: self._render(requests[i]) for i in indices}
        encoded = {i: tok(texts[i], add_special_tokens=False)["input_ids"] for i in indices}
        if plain_greedy(model):
            greedy = [i for i in indices if requests[i].temperature <= 0]
            if greedy:
                yield from self._generate_greedy(requests, greedy, encoded, progress)
            indices = [i for i in indices if requests[i].temperature > 0]
        lengths = {i: len(encoded[i]) + requests[i].max_tokens for i in indices}
        # One generate() call per batch needs one setting for the batch: group by settings first.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in indices:
            r = requests[i]
            groups.setdefault((r.max_tokens, r.temperature, r.stop), []).append(i)
        for (max_tokens, temperature, stop), members in groups.items():
            for batch in self._batches(members, lengths):
                started = time.perf_counter()
                inputs = tok.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt").to(model.device)
                kwargs: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": tok.pad_token_id}
                if temperature > 0:
                    kwargs.update(do_sample=True, temperature=temperature)
                else:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                if stop:
                    kwargs.update(stop_strings=list(stop), tokenizer=tok)
                try:
                    with torch.inference_mode():
                        output = model.generate(**inputs, **kwargs)
                except Exception as exc:
                    for i in batch:
                        yield i, Response(error=f"generation failed: {type(exc).__name__}: {exc}", meta={"backend": self.name})
                    progress(len(batch))
                    continue
                elapsed = time.perf_counter() - started
                width = inputs["input_ids"].shape[1]
                for row, i in enumerate(batch):
                    new = output[row, width:]
                    new_tokens = int((new != tok.pad_token_id).sum())
                    text = tok.decode(new, skip_special_tokens=True)
                    yield i, Response(text=_cut_at_stop(text, stop), meta={
                        "backend": self.name, "latency_s": round(elapsed, 4), "batch": len(batch),
                        "prompt_tokens": len(encoded[i]), "completion_tokens": new_tokens})
                progress(len(batch))

    def _generate_greedy(self, requests: Sequence[Request], indices: list[int], encoded: dict[int, list[int]],
                         progress: Progress) -> Iterator[tuple[int, Response]]:
        """Greedy requests through :func:`greedy_stream`: one batch that refills as rows finish,
        each answer yielded (and so cached) the moment its row ends."""
        tok, model = self._tokenizer, self._model
        started = time.perf_counter()
        answered: set[int] = set()
        ends = eos_ids(model, tok)
        try:
            for n, new in greedy_stream(
                model, [encoded[i] for i in indices],
                max_new_tokens=[requests[i].max_tokens for i in indices], eos_ids=ends,
                batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens,
                stopped=[stop_checker(tok, requests[i].stop) for i in indices], pad_id=tok.pad_token_id,
                refill=max(1, self.batch_size // 2),
            ):
                i = indices[n]
                answered.add(i)
                text = tok.decode(new, skip_special_tokens=True)
                yield i, Response(text=_cut_at_stop(text, requests[i].stop), meta={
                    "backend": self.name, "decoding": "greedy, continuous batch", "batch": self.batch_size,
                    "elapsed_s": round(time.perf_counter() - started, 3), "prompt_tokens": len(encoded[i]),
                    "completion_tokens": len(new) - (1 if new and new[-1] in ends else 0)})
                progress(1)
        except Exception as exc:
            failed = [i for i in indices if i not in answered]
            for i in failed:
                yield i, Response(error=f"generation failed: {type(exc).__name__}: {exc}", meta={"backend": self.name})
            progress(len(failed))

    def _loglikelihood(self, requests: Sequence[Request], indices: list[int], progress: Progress) -> Iterator[tuple[int, Response]]:
        """Total log-probability of each choice after the prompt.

        When every choice is one token (letters, the common case) one forward pass of the prompt
        scores them all; otherwise prompt + choice sequences are scored in batches.
        """
        import torch

        tok, model = self._tokenizer, self._model
        contexts = {i: tok(self._render(requests[i]), add_special_tokens=False)["input_ids"] for i in indices}
        choice_ids = {i: [tok(c, add_special_tokens=False)["input_ids"] for c in requests[i].choices] for i in indices}
        single = [i for i in indices if all(len(c) == 1 for c in choice_ids[i])]
        multi = [i for i in indices if i not in set(single)]
        lengths = {i: len(contexts[i]) for i in single}
        for batch in self._batches(single, lengths):
            inputs = tok.pad({"input_ids": [contexts[i] for i in batch]}, return_tensors="pt").to(model.device)
            with torch.inference_mode():
                logits = model(**inputs, **_last_logits_only(model)).logits[:, -1, :].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            for row, i in enumerate(batch):
                values = [float(logprobs[row, c[0]]) for c in choice_ids[i]]
                yield i, Response(choice_logprobs=values, meta={"backend": self.name, "method": "one pass"})
            progress(len(batch))
        for i in multi:
            sequences = [contexts[i] + c for c in choice_ids[i]]
            inputs = tok.pad({"input_ids": sequences}, return_tensors="pt").to(model.device)
            with torch.inference_mode():
                logprobs = torch.log_softmax(model(**inputs).logits.float(), dim=-1)
            width = inputs["input_ids"].shape[1]
            values = []
            for row, c in enumerate(choice_ids[i]):
                start = width - len(c)  # left padding: the choice is the tail of the row
                positions = range(start - 1, width - 1)
                values.append(float(sum(logprobs[row, p, t] for p, t in zip(positions, c, strict=False))))
            yield i, Response(choice_logprobs=values, meta={"backend": self.name, "method": "per choice"})
            progress(1)


def _drop_quantization_config(config_file: Path) -> None:
    """Remove the GGUF ``quantization_config`` that ``save_pretrained`` writes even for dequantized
    weights: with it, other tools (lm-eval, ``transformers serve``) refuse the directory."""
    config = json.loads(config_file.read_text())
    if "quantization_config" not in config:
        return
    del config["quantization_config"]
    staging = config_file.with_name(f"config.json.tmp{os.getpid()}")
    staging.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(staging, config_file)  # atomic: another worker may be reading it


def _last_logits_only(model: Any) -> dict[str, int]:
    """``logits_to_keep=1`` where the model takes it: the vocabulary projection of the other
    positions is most of a scoring pass's cost, and only the last one is read."""
    return {"logits_to_keep": 1} if accepts_logits_to_keep(model) else {}


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cut = len(text)
    for s in stop:
        position = text.find(s)
        if position != -1:
            cut = min(cut, position)
    return text[:cut]


def _hub_revision(hub_id: str) -> str:
    """The commit of a hub model as the local hub cache has it, else 'main' (offline-safe)."""
    cache = Path(os.environ.get("HF_HUB_CACHE", Path.home() / ".cache" / "huggingface" / "hub"))
    ref = cache / f"models--{hub_id.replace('/', '--')}" / "refs" / "main"
    return ref.read_text().strip() if ref.is_file() else "main"
