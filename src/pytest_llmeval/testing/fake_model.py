"""The pretend model behind :class:`~pytest_llmeval.testing.server.FakeServer`'s vLLM-like endpoints.

What a test needs of a served model besides its replies: a tokenizer (one token per word, so a
test can count), a chat template (``<role> content`` per message, then ``<assistant>``), prompt
log-probabilities (``echo`` with ``logprobs``, from a function the test gives), the refusals of
a server started without tool-call support or asked for more than its context window, in
vLLM's words. Pure functions of the request body; the server does the HTTP.

Example::

    token_ids("The answer is C")        # [id("The"), id("answer"), id("is"), id("C")]
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["TOOLS_REFUSED", "LogProb", "choices_answer", "context_refusal", "default_logprob", "prompt_tokens", "render",
           "token_ids", "tokenize_answer"]

#: vLLM's answer to ``tools`` with ``tool_choice: auto`` when started without a tool-call parser.
TOOLS_REFUSED = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'

#: The log-probability of ``token`` after ``context`` (token ids), as the fake model gives it.
LogProb = Callable[[Sequence[int], int], float]


def token_ids(text: str) -> list[int]:
    """One id per whitespace-separated word, stable across runs (CRC-32 of the word, from 1000 up)."""
    return [1000 + zlib.crc32(word.encode()) % 100_000 for word in text.split()]


def render(messages: Sequence[Any]) -> str:
    """The fake chat template: ``<role> content`` for each message, then ``<assistant>``."""
    parts = [f"<{m.get('role', 'user')}> {_content(m.get('content'))}" for m in messages if isinstance(m, dict)]
    return " ".join([*parts, "<assistant>"])


def _content(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def default_logprob(context: Sequence[int], token: int) -> float:
    """A deterministic log-probability in [-5, -0.5] that depends on the context and the token."""
    return -0.5 - (zlib.crc32(f"{len(context)}:{context[-1] if context else 0}:{token}".encode()) % 10) / 2


def tokenize_answer(body: dict[str, Any], max_model_len: int | None) -> dict[str, Any]:
    """``POST /tokenize``: ``messages`` rendered by the template (and ``tools`` as text), or ``prompt``."""
    if isinstance(body.get("messages"), list):
        text = render(body["messages"])
        if body.get("tools"):
            text += " " + " ".join(str(t) for t in body["tools"])
    else:
        text = str(body.get("prompt", ""))
    tokens = token_ids(text)
    return {"count": len(tokens), "max_model_len": max_model_len, "tokens": tokens}


def prompt_tokens(body: dict[str, Any], chat: bool) -> int:
    """How many tokens the fake model reads for a completion request."""
    if chat:
        text = render(body.get("messages") or [])
        if body.get("tools"):
            text += " " + " ".join(str(t) for t in body["tools"])
        return len(token_ids(text))
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        return max((len(p) if isinstance(p, list) else len(token_ids(str(p))) for p in prompt), default=0)
    return len(token_ids(str(prompt)))


def context_refusal(body: dict[str, Any], chat: bool, max_model_len: int | None) -> str | None:
    """vLLM's 400 message when the prompt and ``max_tokens`` exceed ``max_model_len``, else None."""
    if max_model_len is None:
        return None
    prompt = prompt_tokens(body, chat)
    wanted = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
    if prompt + wanted <= max_model_len:
        return None
    return (f"This model's maximum context length is {max_model_len} tokens. However, you requested "
            f"{prompt + wanted} tokens ({prompt} in the messages, {wanted} in the completion). Please reduce "
            f"the length of the messages or completion.")


def choices_answer(body: dict[str, Any], model: str, logprob: LogProb) -> dict[str, Any] | None:
    """A completions answer with the prompt's log-probabilities, for token-id prompts sent with
    ``echo`` and ``logprobs``; None for any other completions request."""
    prompts = body.get("prompt")
    if not (body.get("echo") and body.get("logprobs") is not None and isinstance(prompts, list) and prompts
            and all(isinstance(p, list) for p in prompts)):
        return None
    answers = []
    for index, prompt in enumerate(prompts):
        values: list[float | None] = [None] + [logprob(prompt[:i], prompt[i]) for i in range(1, len(prompt))]
        values.append(-1.0)  # the one generated token
        answers.append({"index": index, "text": " x", "finish_reason": "length",
                        "logprobs": {"token_logprobs": values, "tokens": [str(t) for t in [*prompt, 0]]}})
    return {"id": "fake-choices", "object": "text_completion", "model": model, "choices": answers,
            "usage": {"prompt_tokens": sum(len(p) for p in prompts), "completion_tokens": len(prompts)}}
