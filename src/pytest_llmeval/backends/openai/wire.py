"""The OpenAI wire format: the JSON body a request is sent as, and the response a server's
JSON answer is read into."""

from __future__ import annotations

import json
from typing import Any, Literal

from ...request import Request, Response, ToolCall
from .policy import Failure


def request_body(request: Request, model: str, api: Literal["chat", "completions"], token_limit_field: str,
                 tools: bool = True) -> tuple[str, dict[str, Any]]:
    """The path (``/chat/completions`` or ``/completions``) and JSON body sent for ``request``.

    ``top_p`` and ``seed`` are sent only when the request sets them; the token limit goes under
    ``token_limit_field``; ``tools=False`` leaves the request's tools out (a server that refused them).
    """
    body: dict[str, Any] = {"model": model, token_limit_field: request.max_tokens, "temperature": request.temperature}
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if api == "completions":
        # A chat-shaped request sent to a completions endpoint loses its chat template;
        # its contents are joined as plain text, which is what such an endpoint can take.
        body["prompt"] = request.prompt if request.prompt is not None else "\n\n".join(m.content for m in request.messages)
        return "/completions", body
    if request.messages:
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
    else:
        body["messages"] = [{"role": "user", "content": request.prompt}]
    if request.tools_json is not None and tools:
        body["tools"] = request.tools
    return "/chat/completions", body


def parse_reply(data: Any, where: str, api: Literal["chat", "completions"], backend: str) -> Response:
    """A :class:`Response` from a server's JSON answer; :class:`~.policy.Failure` when it has no choices.

    Reads the first choice's text (or message content and tool calls), ``finish_reason``, a
    reasoning trace the server returned apart (``reasoning_content``, or ``reasoning``), and the
    token counts of ``usage`` into ``meta``.
    """
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise Failure(None, f"response from {where} has no choices")
    choice = choices[0]
    calls: list[ToolCall] = []
    reasoning: str | None = None
    if api == "completions":
        text = choice.get("text") or ""
    else:
        message = choice.get("message") or {}
        text = content_text(message.get("content"))
        reasoning = reasoning_of(message)
        calls = tool_calls_of(message)
    finish = choice.get("finish_reason")
    finish_reason = finish if isinstance(finish, str) else None
    meta: dict[str, Any] = {"backend": backend, "finish_reason": finish_reason}
    usage = data.get("usage")
    if isinstance(usage, dict):
        for key in ("prompt_tokens", "completion_tokens"):
            if isinstance(usage.get(key), int):
                meta[key] = usage[key]
    return Response(text=str(text), tool_calls=calls, meta=meta, reasoning=reasoning, finish_reason=finish_reason)


def tool_calls_of(message: dict[str, Any]) -> list[ToolCall]:
    """The function calls of a chat message: ``tool_calls``, else the older ``function_call``."""
    calls = [ToolCall(name=str((call.get("function") or {}).get("name", "")), arguments=arguments_text(call.get("function") or {}))
             for call in message.get("tool_calls") or []]
    if not calls and isinstance(message.get("function_call"), dict):  # the pre-tools shape
        function = message["function_call"]
        calls.append(ToolCall(name=str(function.get("name", "")), arguments=arguments_text(function)))
    return calls


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # content parts
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def reasoning_of(message: dict[str, Any]) -> str | None:
    """The reasoning trace a server returned beside the answer (vLLM, DeepSeek: ``reasoning_content``; others ``reasoning``)."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def arguments_text(function: dict[str, Any]) -> str:
    arguments = function.get("arguments", "")
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
