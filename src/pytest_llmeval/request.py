"""What the plugin asks a model, and what comes back.

A :class:`Request` is plain, hashable data: everything that decides the model's answer is in
it, so its :meth:`Request.identity` (together with the backend's identity) is the response
cache key. A :class:`Response` is what a backend returns for it; a backend that could not
answer returns one with ``error`` set instead of raising, so one bad item never sinks a batch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

RequestKind = Literal["generate", "loglikelihood"]


@dataclass(frozen=True)
class Message:
    """One chat message (OpenAI shape)."""

    role: str
    content: str


@dataclass(frozen=True)
class Request:
    """One thing to ask a model.

    ``kind="generate"``: produce text for ``messages`` (chat) or ``prompt`` (plain completion).
    ``kind="loglikelihood"``: score each of ``choices`` as a continuation of the prompt; the
    response's ``choice_logprobs`` holds one total log-probability per choice.

    Example::

        Request(messages=(Message("user", "What is 2+3?"),), max_tokens=16)
    """

    messages: tuple[Message, ...] = ()
    prompt: str | None = None
    kind: RequestKind = "generate"
    choices: tuple[str, ...] = ()
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    #: OpenAI ``tools`` definitions as a canonical JSON string (hashable), or None.
    tools_json: str | None = None
    #: Nucleus sampling mass (None: the backend's default, i.e. 1.0).
    top_p: float | None = None
    #: Sampling seed for backends that take one (None: none sent).
    seed: int | None = None
    #: Which of an item's repeated samples this is (0-based; ``--llm-repeats``).
    sample: int = 0
    #: The benchmark item this request asks, as ``"benchmark[item-id]"`` (None outside benchmarks).
    #: Part of the identity, so two items never share a sampled answer, and recorded outputs
    #: made with another prompt are found by item.
    item: str | None = None

    def __post_init__(self) -> None:
        if not self.messages and self.prompt is None:
            raise ValueError("a Request needs messages or a prompt")
        if self.kind == "loglikelihood" and not self.choices:
            raise ValueError("a loglikelihood Request needs choices")

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        return None if self.tools_json is None else json.loads(self.tools_json)

    def identity(self) -> dict[str, Any]:
        """Every field that can change the answer, as JSON-ready data."""
        return {"messages": [[m.role, m.content] for m in self.messages], "prompt": self.prompt, "kind": self.kind,
                "choices": list(self.choices), "max_tokens": self.max_tokens, "temperature": self.temperature,
                "stop": list(self.stop), "tools_json": self.tools_json, "top_p": self.top_p, "seed": self.seed,
                "sample": self.sample, "item": self.item}

    def for_item(self, key: str) -> Request:
        """This request as asked for the item ``key``: ``replace(self, item=key)``, without
        checking the fields again (they were checked when it was made). Collection stamps every
        request of every item, 28,000 for MMLU, so this is the fast path."""
        stamped = object.__new__(Request)
        stamped.__dict__.update(self.__dict__)
        stamped.__dict__["item"] = key
        return stamped

    def continued(self, answer: str, question: str) -> Request:
        """The next turn of a chat: this request's messages, the model's ``answer`` to them, and
        the user's next ``question``; every other field (generation settings, item, sample) kept.

        Raises ValueError for a plain-completion request (it has no turns).
        """
        if not self.messages:
            raise ValueError("only a chat request (with messages) has a next turn")
        return replace(self, messages=(*self.messages, Message("assistant", answer), Message("user", question)))

    def text(self) -> str:
        """The prompt as a person would read it (for failure reports)."""
        if self.prompt is not None and not self.messages:
            return self.prompt
        return "\n".join(f"[{m.role}] {m.content}" for m in self.messages)


@dataclass
class ToolCall:
    """A function call the model asked for."""

    name: str
    arguments: str  # JSON text as the model produced it


@dataclass
class Response:
    """A backend's answer to one :class:`Request`.

    Exactly one of ``text``/``choice_logprobs`` is filled for a success; ``error`` is set
    (and the rest may be empty) when the backend could not answer after its retries; ``skip``
    is set instead when the backend can never answer this request (no recording of it): the
    item is skipped with that reason, never scored.
    """

    text: str = ""
    choice_logprobs: list[float] | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: str | None = None
    #: Where the answer came from and what it cost: backend, latency_s, tokens, cached; a
    #: recording made with another prompt than the plugin's names it in ``meta["protocol"]``.
    meta: dict[str, Any] = field(default_factory=dict)
    #: A reasoning trace the backend returned apart from the answer (``reasoning_content``), or
    #: the one separated from ``text`` by response normalisation.
    reasoning: str | None = None
    #: Why generation stopped, as the backend says it: "stop", "length" (cut by the token limit),
    #: "tool_calls"; None when unknown.
    finish_reason: str | None = None
    #: Why this request can never be answered by this backend (the item is skipped), or None.
    skip: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.skip is None

    @property
    def truncated(self) -> bool:
        """Whether the reply was cut off by the token limit."""
        return self.finish_reason == "length"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["meta"] = {k: v for k, v in self.meta.items() if k != "cached"}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Response:
        calls = [ToolCall(**c) for c in data.get("tool_calls") or []]
        return cls(
            text=data.get("text", ""),
            choice_logprobs=data.get("choice_logprobs"),
            tool_calls=calls,
            error=data.get("error"),
            meta=dict(data.get("meta") or {}),
            reasoning=data.get("reasoning"),
            finish_reason=data.get("finish_reason"),
            skip=data.get("skip"),
        )
