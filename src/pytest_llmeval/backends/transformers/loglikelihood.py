"""Multiple choice by log-likelihood: the total log-probability of each choice after the prompt.

When every choice is one token (letters, the common case) one forward pass of the prompt
scores them all, with logits computed for the last position only; otherwise prompt + choice
sequences are scored one item at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ...request import Request, Response
from ..base import Progress
from .decoding import accepts_logits_to_keep
from .generation import batches, render
from .loading import LoadedModel


def score_choices(loaded: LoadedModel, requests: Sequence[Request], indices: list[int], progress: Progress, *,
                  batch_size: int, max_batch_tokens: int, name: str = "transformers") -> Iterator[tuple[int, Response]]:
    """Answer the log-likelihood ``requests[i]`` for each ``i`` in ``indices``: each response's
    ``choice_logprobs`` holds one total log-probability (natural log) per choice."""
    tok = loaded.tokenizer
    contexts = {i: tok(render(tok, requests[i]), add_special_tokens=False)["input_ids"] for i in indices}
    choice_ids = {i: [tok(c, add_special_tokens=False)["input_ids"] for c in requests[i].choices] for i in indices}
    single = [i for i in indices if all(len(c) == 1 for c in choice_ids[i])]
    chosen = set(single)
    lengths = {i: len(contexts[i]) for i in single}
    for batch in batches(single, lengths, batch_size, max_batch_tokens):
        rows = _one_pass(loaded.model, tok, [contexts[i] for i in batch], [choice_ids[i] for i in batch])
        for i, values in zip(batch, rows, strict=True):
            yield i, Response(choice_logprobs=values, meta={"backend": name, "method": "one pass"})
        progress(len(batch))
    for i in indices:
        if i not in chosen:
            values = _per_choice(loaded.model, tok, contexts[i], choice_ids[i])
            yield i, Response(choice_logprobs=values, meta={"backend": name, "method": "per choice"})
            progress(1)


def _one_pass(model: Any, tok: Any, contexts: list[list[int]], choices: list[list[list[int]]]) -> list[list[float]]:
    """Each row's single-token choices scored from the prompt's last position."""
    import torch

    inputs = tok.pad({"input_ids": contexts}, return_tensors="pt").to(model.device)
    # logits_to_keep=1 where the model takes it: the vocabulary projection of the other positions
    # is most of a scoring pass's cost, and only the last one is read.
    keep = {"logits_to_keep": 1} if accepts_logits_to_keep(model) else {}
    with torch.inference_mode():
        logits = model(**inputs, **keep).logits[:, -1, :].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return [[float(logprobs[row, c[0]]) for c in row_choices] for row, row_choices in enumerate(choices)]


def _per_choice(model: Any, tok: Any, context: list[int], choices: list[list[int]]) -> list[float]:
    """Each choice scored by its own sequence, prompt + choice, summing its tokens' log-probabilities."""
    import torch

    inputs = tok.pad({"input_ids": [context + c for c in choices]}, return_tensors="pt").to(model.device)
    with torch.inference_mode():
        logprobs = torch.log_softmax(model(**inputs).logits.float(), dim=-1)
    width = inputs["input_ids"].shape[1]
    values = []
    for row, c in enumerate(choices):
        start = width - len(c)  # left padding: the choice is the tail of the row
        positions = range(start - 1, width - 1)
        values.append(float(sum(logprobs[row, p, t] for p, t in zip(positions, c, strict=False))))
    return values
