"""A request against the server's context window: skipped before it is sent when it cannot fit.

A server refuses a request whose prompt and token limit together exceed its context window
(vLLM's ``max_model_len``); asking anyway costs a round trip and turns the item into an error
that counts against the run. Instead the backend decides up front, in three steps:

1. :func:`surely_fits`: with byte-level tokenizers no token covers less than one byte of text,
   so the UTF-8 length of everything the model reads, plus an allowance for what a chat template
   adds, bounds the prompt's tokens from above; most requests end here, unasked.
2. Otherwise the server counts (vLLM's ``POST /tokenize``, with the chat template applied), and
   :func:`counted_skip` compares the exact count.
3. Without a ``/tokenize``, :func:`estimated_skip` skips only a request that is clearly over:
   at most :data:`CHARS_PER_TOKEN` characters per token (ordinary text averages about 4 in
   the common tokenizers), so the estimate counts too few tokens, never too many.

Every skip reason names the counts, the server's ``max_model_len`` and how it was counted.
"""

from __future__ import annotations

from ...request import Request

__all__ = ["CHARS_PER_TOKEN", "counted_skip", "estimated_skip", "prompt_text", "surely_fits"]

#: Most characters one token is assumed to cover when the server cannot count (a lower bound on tokens).
CHARS_PER_TOKEN = 8
#: Tokens a chat template may add: per message (role markers) and once (a default system prompt).
TEMPLATE_TOKENS_PER_MESSAGE = 16
TEMPLATE_TOKENS = 256


def prompt_text(request: Request) -> str:
    """Everything the model reads of ``request``: the messages or prompt, and the tool definitions."""
    parts = [m.content for m in request.messages] if request.messages else [request.prompt or ""]
    if request.tools_json is not None:
        parts.append(request.tools_json)
    return "\n".join(parts)


def surely_fits(request: Request, max_model_len: int) -> bool:
    """Whether ``request`` fits ``max_model_len`` tokens whatever the tokenizer (bytes + template allowance + max_tokens)."""
    bound = len(prompt_text(request).encode()) + TEMPLATE_TOKENS + TEMPLATE_TOKENS_PER_MESSAGE * len(request.messages)
    return bound + request.max_tokens <= max_model_len


def counted_skip(prompt_tokens: int, request: Request, max_model_len: int) -> str | None:
    """The skip reason when the server's count says ``request`` does not fit, else None."""
    total = prompt_tokens + request.max_tokens
    if total <= max_model_len:
        return None
    return (f"the request needs {prompt_tokens} prompt tokens + {request.max_tokens} to generate = {total} tokens "
            f"> the server's max_model_len {max_model_len} (counted by the server's /tokenize); "
            f"serve the model with a longer context to run it")


def estimated_skip(request: Request, max_model_len: int) -> str | None:
    """The skip reason when ``request`` is clearly over ``max_model_len`` by :data:`CHARS_PER_TOKEN`, else None."""
    characters = len(prompt_text(request))
    at_least = characters // CHARS_PER_TOKEN
    total = at_least + request.max_tokens
    if total <= max_model_len:
        return None
    return (f"the request needs at least {at_least} prompt tokens + {request.max_tokens} to generate = {total} "
            f"tokens > the server's max_model_len {max_model_len} (estimated from {characters} characters at "
            f"{CHARS_PER_TOKEN} per token at most: the server has no /tokenize); serve the model with a longer "
            f"context to run it")
