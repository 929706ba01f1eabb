"""Multiple choice by log-likelihood through a server's prompt log-probabilities.

The local backend scores each choice as the total log-probability of its tokens right after
the prompt (the chat template applied, as for generation). A server that returns the
log-probabilities of its *prompt* tokens can do the same: the prompt's tokens come from the
server's own ``POST /tokenize`` (chat template applied, no special tokens added, as the local
backend tokenizes), each choice's tokens likewise, and one ``POST /completions`` with every
``context + choice`` as a token-id prompt, ``echo`` and ``logprobs`` returns each token's
log-probability given those before it (the legacy completions API's ``echo``, which vLLM
keeps). The choice's score is the sum over its own tokens: the same quantity the local backend
computes, from the same token ids.

Servers without ``/tokenize`` or without prompt log-probabilities (the OpenAI API among them)
cannot do this; the backend then answers multiple choice by generation, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .policy import Failure

__all__ = ["choice_logprobs", "choices_body", "token_ids"]


def choices_body(model: str, context: Sequence[int], choices: Sequence[Sequence[int]]) -> dict[str, Any]:
    """The ``/completions`` body that scores every choice after ``context`` (token ids) in one request."""
    return {"model": model, "prompt": [[*context, *choice] for choice in choices], "max_tokens": 1,
            "temperature": 0.0, "echo": True, "logprobs": 0}


def token_ids(data: Any, where: str) -> list[int]:
    """The ``tokens`` of a ``/tokenize`` answer; :class:`Failure` when it has none."""
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        raise Failure(None, f"response from {where} has no token ids", retryable=False)
    return tokens


def choice_logprobs(data: Any, context: int, choices: Sequence[Sequence[int]], where: str) -> list[float]:
    """Each choice's total log-probability from a :func:`choices_body` answer.

    ``context`` is the number of prompt tokens before each choice. The answer has one choice per
    prompt (ordered by ``index``), whose ``logprobs.token_logprobs`` start with the prompt's
    tokens (the first one has none). Raises :class:`Failure` when the server left them out.
    """
    answers = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(answers, list) or len(answers) != len(choices):
        raise Failure(None, f"response from {where} has {len(answers) if isinstance(answers, list) else 'no'} "
                            f"choices for {len(choices)} prompts")
    ordered = sorted(answers, key=lambda a: a.get("index", 0) if isinstance(a, dict) else 0)
    totals = []
    for answer, choice in zip(ordered, choices, strict=True):
        logprobs = answer.get("logprobs") if isinstance(answer, dict) else None
        values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        end = context + len(choice)
        if not isinstance(values, list) or len(values) < end or any(v is None for v in values[context:end]):
            raise Failure(None, f"response from {where} has no prompt log-probabilities (the server does not echo "
                                f"the prompt's logprobs)", retryable=False)
        totals.append(float(sum(values[context:end])))
    return totals
