"""Model arguments of an ``openai:`` model: a JSON object after the spec, as for ``hf:`` and
``vllm:`` models (see :mod:`pytest_llmeval.backends.arguments`).

``--llm-model='openai:o3-mini{"token_limit_field": "max_completion_tokens"}'`` asks a reasoning
model with the token-limit field it wants; ``{"api": "completions"}`` sends untemplated prompts;
``{"loglikelihood": true}`` scores multiple choice by prompt log-probabilities on a server that
returns them; ``{"concurrency": 32}`` sets this model's requests in flight.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..arguments import arguments_of


class OpenAIArguments(BaseModel):
    """How one ``openai:`` model is asked. Every field is optional."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: ``max_completion_tokens`` for reasoning models on the OpenAI API, else ``max_tokens``.
    token_limit_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    #: ``chat`` (the server applies the chat template) or ``completions`` (the prompt as it is).
    api: Literal["chat", "completions"] = "chat"
    #: Multiple choice by prompt log-probabilities (None: where the server is known to give them).
    loglikelihood: bool | None = None
    #: Requests in flight to this model (None: --llm-concurrency).
    concurrency: int | None = Field(default=None, ge=1)


def split_target(target: str) -> tuple[str, OpenAIArguments]:
    """An ``openai:`` spec's model name and its arguments (the defaults when there are none)."""
    return arguments_of(target, OpenAIArguments, "docs/backends-openai.md")
