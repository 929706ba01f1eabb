"""Answering generation requests with a loaded model: the continuous-batch decoder where it
applies, ``model.generate`` in length-sorted batches elsewhere; each answer with its finish reason.

Greedy and sampled requests both go through :func:`~.decoding.decode_stream` for models whose
generation config adds no logits processor and whose layers all use full attention (greedy in
one stream with the fast vocabulary head, sampled in another without it); for other models
``generate`` runs greedily with :func:`~.sampling.sampling_processor` drawing each sampled
row's token from its own generator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from ...request import Request, Response
from ..base import Progress
from .decoding import decode_stream, eos_ids, plain_greedy, stop_checker
from .loading import LoadedModel
from .sampling import row_samplers, sampling_processor


def render(tokenizer: Any, request: Request) -> str:
    """The request's text as the model reads it: the chat template applied to its messages
    (with the generation prompt), the messages joined by blank lines when the tokenizer has no
    template, or the plain prompt."""
    if not request.messages:
        return request.prompt or ""
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    if tokenizer.chat_template:
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest of the ``stop`` strings (all of it when none occurs)."""
    cut = len(text)
    for s in stop:
        position = text.find(s)
        if position != -1:
            cut = min(cut, position)
    return text[:cut]


def finish_reason(tokens: Sequence[int], max_tokens: int, ends: set[int], text: str, stop: Sequence[str]) -> str:
    """Why generation stopped, in OpenAI's words: "stop" at an end-of-sequence token or a stop
    string, "length" when the row used its whole ``max_tokens`` budget without either."""
    if (tokens and tokens[-1] in ends) or any(s in text for s in stop):
        return "stop"
    return "length" if len(tokens) >= max_tokens else "stop"


def batches(indices: list[int], lengths: dict[int, int], batch_size: int, max_batch_tokens: int) -> Iterator[list[int]]:
    """Longest first, cut by count and by padded tokens, so padding stays small and memory bounded."""
    order = sorted(indices, key=lambda i: -lengths[i])
    batch: list[int] = []
    for index in order:
        longest = lengths[batch[0]] if batch else lengths[index]
        if batch and (len(batch) >= batch_size or longest * (len(batch) + 1) > max_batch_tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


class Generation:
    """Generation requests of one run, answered with ``loaded``'s model and tokenizer."""

    def __init__(self, loaded: LoadedModel, *, batch_size: int, max_batch_tokens: int, name: str = "transformers") -> None:
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.name = name
        self.ends = eos_ids(self.model, self.tokenizer)

    def run(self, requests: Sequence[Request], indices: list[int], progress: Progress) -> Iterator[tuple[int, Response]]:
        """Answer ``requests[i]`` for each ``i`` in ``indices``; yield ``(i, response)`` as each is done."""
        tok = self.tokenizer
        encoded = {i: tok(render(tok, requests[i]), add_special_tokens=False)["input_ids"] for i in indices}
        if not plain_greedy(self.model):
            yield from self._generate(requests, indices, encoded, progress)
            return
        greedy = [i for i in indices if requests[i].temperature <= 0]
        sampled = [i for i in indices if requests[i].temperature > 0]
        for group in (greedy, sampled):
            if group:
                yield from self._stream(requests, group, encoded, progress)

    def response(self, request: Request, tokens: list[int], meta: dict[str, Any]) -> Response:
        """The response for a row's new tokens (an end-of-sequence token, if last, not part of the text)."""
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        reason = finish_reason(tokens, request.max_tokens, self.ends, text, request.stop)
        completion = len(tokens) - (1 if tokens and tokens[-1] in self.ends else 0)
        return Response(text=cut_at_stop(text, request.stop), finish_reason=reason,
                        meta={"backend": self.name, **meta, "completion_tokens": completion})

    def _stream(self, requests: Sequence[Request], indices: list[int], encoded: dict[int, list[int]],
                progress: Progress) -> Iterator[tuple[int, Response]]:
        """Through :func:`decode_stream`: one batch that refills as rows finish, each answer
        yielded (and so cached) the moment its row ends."""
        tok, model = self.tokenizer, self.model
        started = time.perf_counter()
        answered: set[int] = set()
        samplers = row_samplers([requests[i] for i in indices])
        sampled = any(s is not None for s in samplers)
        try:
            for n, new in decode_stream(
                model, [encoded[i] for i in indices],
                max_new_tokens=[requests[i].max_tokens for i in indices], eos_ids=self.ends,
                batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens,
                stopped=[stop_checker(tok, requests[i].stop) for i in indices], pad_id=tok.pad_token_id,
                refill=max(1, self.batch_size // 2), samplers=samplers if sampled else None,
            ):
                i = indices[n]
                answered.add(i)
                yield i, self.response(requests[i], new, {
                    "decoding": f"{'seeded sampling' if sampled else 'greedy'}, continuous batch", "batch": self.batch_size,
                    "elapsed_s": round(time.perf_counter() - started, 3), "prompt_tokens": len(encoded[i])})
                progress(1)
        except Exception as exc:
            failed = [i for i in indices if i not in answered]
            for i in failed:
                yield i, Response(error=f"generation failed: {type(exc).__name__}: {exc}", meta={"backend": self.name})
            progress(len(failed))

    def _generate(self, requests: Sequence[Request], indices: list[int], encoded: dict[int, list[int]],
                  progress: Progress) -> Iterator[tuple[int, Response]]:
        """Through ``model.generate``: one call per length-sorted batch of requests with the same
        token budget and stop strings; sampled rows draw through :func:`sampling_processor`."""
        lengths = {i: len(encoded[i]) + requests[i].max_tokens for i in indices}
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in indices:
            groups.setdefault((requests[i].max_tokens, requests[i].stop), []).append(i)
        for members in groups.values():
            for batch in batches(members, lengths, self.batch_size, self.max_batch_tokens):
                yield from self._generate_batch(requests, batch, encoded)
                progress(len(batch))

    def _generate_batch(self, requests: Sequence[Request], batch: list[int],
                        encoded: dict[int, list[int]]) -> Iterator[tuple[int, Response]]:
        import torch

        tok, model = self.tokenizer, self.model
        first = requests[batch[0]]
        started = time.perf_counter()
        inputs = tok.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt").to(model.device)
        kwargs: dict[str, Any] = {"max_new_tokens": first.max_tokens, "pad_token_id": tok.pad_token_id, "do_sample": False,
                                  "temperature": None, "top_p": None, "top_k": None}
        samplers = row_samplers([requests[i] for i in batch])
        if any(s is not None for s in samplers):
            kwargs["logits_processor"] = [sampling_processor(samplers)]
        if first.stop:
            kwargs.update(stop_strings=list(first.stop), tokenizer=tok)
        try:
            with torch.inference_mode():
                output = model.generate(**inputs, **kwargs)
        except Exception as exc:
            for i in batch:
                yield i, Response(error=f"generation failed: {type(exc).__name__}: {exc}", meta={"backend": self.name})
            return
        elapsed = round(time.perf_counter() - started, 4)
        width = inputs["input_ids"].shape[1]
        for row, i in enumerate(batch):
            tokens = self._row_tokens(output[row, width:].tolist())
            yield i, self.response(requests[i], tokens, {"latency_s": elapsed, "batch": len(batch), "prompt_tokens": len(encoded[i])})

    def _row_tokens(self, new: list[int]) -> list[int]:
        """A row of ``generate``'s output without what follows its end: up to and including the
        first end-of-sequence token, else without the padding of a row that stopped early."""
        for position, token in enumerate(new):
            if token in self.ends:
                return new[: position + 1]
        pad = self.tokenizer.pad_token_id
        while new and new[-1] == pad:
            new = new[:-1]
        return new
