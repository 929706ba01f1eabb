"""Sampling that honours the request: its temperature and top_p, and a generator of its own.

Every sampled request draws from its own seeded ``torch.Generator``, so its text does not
depend on which other requests shared its batch, and the same request (same prompt, item,
sample index and seed) gives the same text again. The seed comes from :func:`request_seed`: from
the request's whole identity when it names a ``seed``, so that the K samples of an item
(``--llm-repeats``, ``Request.sample`` 0..K-1) are K different draws; from the operating
system when it names none, so that ``--llm-cache=refresh`` draws anew.

Example::

    sampler = RowSampler(temperature=0.8, top_p=0.95, seed=request_seed(request))
    token = sampler(logits[row])    # one token id
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from ...request import Request

#: Seeds are 63-bit: ``torch.Generator.manual_seed`` takes any of them on every platform.
SEED_BITS = 63


def request_seed(request: Request) -> int:
    """The generator seed of a sampled request: a hash of its identity (seed, sample index, item,
    prompt, settings) when ``request.seed`` is set, else a fresh random number."""
    if request.seed is None:
        return secrets.randbits(SEED_BITS)
    digest = hashlib.sha256(json.dumps(request.identity(), sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


class RowSampler:
    """Draws one row's tokens: softmax of logits / temperature, cut to the smallest set of tokens
    whose probability reaches ``top_p`` (nucleus sampling; Holtzman et al., 2020), with the
    row's own generator."""

    def __init__(self, temperature: float, top_p: float | None, seed: int) -> None:
        if temperature <= 0:
            raise ValueError("a RowSampler needs temperature > 0 (0 is greedy decoding)")
        self.temperature = temperature
        self.top_p = 1.0 if top_p is None else top_p
        self.seed = seed
        #: Made on the device of the first logits it draws from (with a model spread over several
        #: GPUs, the logits are on the last one), then kept.
        self.generator: Any = None

    def __call__(self, logits: Any) -> int:
        """One token id drawn from a row of logits (shape ``(vocabulary,)``)."""
        import torch

        if self.generator is None:
            self.generator = torch.Generator(device=logits.device)
            self.generator.manual_seed(self.seed)
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            ordered, order = probs.sort(descending=True)
            # A token stays when the tokens before it hold less than top_p: the first always does.
            ordered[(ordered.cumsum(-1) - ordered) >= self.top_p] = 0.0
            probs = torch.zeros_like(probs).scatter(-1, order, ordered)
        return int(torch.multinomial(probs, 1, generator=self.generator))


def row_samplers(requests: Sequence[Request]) -> list[RowSampler | None]:
    """One sampler per sampled request, None for a greedy one (temperature 0)."""
    return [RowSampler(r.temperature, r.top_p, request_seed(r)) if r.temperature > 0 else None for r in requests]


def sampling_processor(samplers: Sequence[RowSampler | None]) -> Any:
    """A ``transformers`` logits processor for greedy ``generate`` that makes each row with a
    sampler take that sampler's token (every other logit set to -inf), so one batched
    ``generate`` call samples each row from its own generator; rows without one stay greedy."""
    return _processor_class()(list(samplers))


@functools.cache
def _processor_class() -> Any:
    import torch
    from transformers import LogitsProcessor

    class SeededSampling(LogitsProcessor):  # type: ignore[misc]
        def __init__(self, samplers: list[RowSampler | None]) -> None:
            self.samplers = samplers

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for row, sampler in enumerate(self.samplers):
                if sampler is not None:
                    token = sampler(scores[row])
                    scores[row] = -torch.inf
                    scores[row, token] = 0.0
            return scores

    return SeededSampling
