"""When a failed request is worth another try, and how long to wait first.

This is the part of the client that no HTTP library provides: aiohttp sends a request and
reports what came back; whether a 409 or a dropped connection deserves another attempt, how
long to back off, and what a ``Retry-After`` (seconds, ``retry-after-ms``, or an HTTP date)
asks for are decisions of the backend. The numbers follow the OpenAI client's conventions:
408, 409, 425, 429 and every 5xx are retried, other 4xx are not; the backoff doubles from
``base`` up to ``cap`` with "equal jitter" (between half and all of the ceiling), after
AWS's "Exponential Backoff and Jitter" (2015).
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["RETRYABLE_STATUSES", "Failure", "backoff_delay", "capped", "error_body", "refuses_tools",
           "retry_after_seconds", "server_message", "status_failure", "too_long"]

#: HTTP statuses worth retrying besides every 5xx: timeout, conflict, too early, rate limit.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


class Failure(Exception):
    """One failed attempt, classified.

    ``status`` is the HTTP status (None when no HTTP answer came: a refused or dropped
    connection, a timeout, a body that is not JSON); ``text`` the whole message an item's error
    starts with; ``cause`` the part after "failed: " for connection failures (what ``check()``
    quotes); ``retryable`` whether another attempt may help; ``retry_after`` the seconds the
    server asked for, or None; ``timed_out`` whether the attempt ran out of time (the next one
    gets a longer budget: a server that drops a request when its client gives up starts it
    again from zero).
    """

    def __init__(self, status: int | None, text: str, *, retryable: bool = True,
                 retry_after: float | None = None, cause: str | None = None, timed_out: bool = False) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.retryable = retryable
        self.retry_after = retry_after
        self.cause = cause
        self.timed_out = timed_out


def status_failure(status: int, where: str, message: str, headers: Mapping[str, str]) -> Failure:
    """A non-2xx answer from ``where``: 408/409/425/429 and 5xx retryable, other statuses not.

    Example: ``status_failure(503, url, "overloaded", {})`` reads ``HTTP 503 from URL: overloaded``.
    """
    return Failure(status, f"HTTP {status} from {where}: {message}",
                   retryable=status in RETRYABLE_STATUSES or status >= 500,
                   retry_after=retry_after_seconds(headers))


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked the client to wait, or None.

    ``retry-after-ms`` (OpenAI's, milliseconds) wins over ``Retry-After`` (RFC 9110 section
    10.2.3: seconds, or an HTTP date, read against the clock now). Header names are matched as
    given, so pass a case-insensitive mapping (aiohttp's headers are) or lower-case names.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000.0
        except ValueError:
            pass
    value = str(headers.get("retry-after") or "")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def backoff_delay(retries: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before retry number ``retries`` (1-based): ``min(cap, base * 2**(retries-1))``, equal-jittered.

    At least half the ceiling, so that retries never stampede back at once.
    """
    ceiling = min(cap, base * 2.0 ** (retries - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def capped(seconds: float | None, cap: float) -> float | None:
    """A server's requested wait clipped to ``0..cap`` seconds (None stays None)."""
    return None if seconds is None else min(max(seconds, 0.0), cap)


def error_body(content: bytes) -> Any:
    """An error response's body as the OpenAI client reads it: the JSON's ``error`` member, the JSON, or the text."""
    text = content.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text
    return body.get("error", body) if isinstance(body, dict) else body


def server_message(body: Any, reason: str) -> str:
    """The server's own words from an error body (OpenAI's ``error.message``, FastAPI's ``detail``), at most 500 characters.

    Falls back to the HTTP reason phrase, then to "no message".
    """
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                value = value["message"]
            if isinstance(value, str) and value:
                return value[:500]
        return json.dumps(body)[:500]
    if isinstance(body, str) and body.strip():
        text = body.strip()
        if _HTML.match(text):  # a web server's error page: its words, not its markup
            text = " ".join(html.unescape(_TAG.sub(" ", _HEAD.sub(" ", text))).split())
        return text[:500] or reason or "no message"
    return reason or "no message"


_HTML = re.compile(r"<(!doctype html|html|head|body)\b", re.IGNORECASE)
_HEAD = re.compile(r"<(head|script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


#: How servers word "this request needs tool-call support I was not started with": vLLM's
#: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
#: others' "tools are not supported", "tool_choice ... not supported".
_TOOLS_REFUSED = re.compile(r"tool[-_ ]?(choice|call|s\b)|function[-_ ]?call", re.IGNORECASE)
#: How servers word "the request is longer than my context window": vLLM's "This model's maximum
#: context length is N tokens", llama.cpp's "exceeds the available context size", TGI's
#: "`inputs` tokens + `max_new_tokens` must be <= N".
_TOO_LONG = re.compile(r"context (length|size|window)|max_model_len|must be <= \d+", re.IGNORECASE)


def refuses_tools(status: int | None, message: str) -> bool:
    """Whether an error answer says the server cannot take the request's ``tools`` (an HTTP 400 about tools)."""
    return status == 400 and bool(_TOOLS_REFUSED.search(message))


def too_long(status: int | None, message: str) -> bool:
    """Whether an error answer says the request does not fit the server's context window (HTTP 400 or 413)."""
    return status in (400, 413) and bool(_TOO_LONG.search(message))
