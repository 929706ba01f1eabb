"""What a test scripts the fake server to do: faults, the requests rules decide on, and rules.

A :data:`Rule` sees each completion request as a :class:`Hit` and returns a :class:`Fault` (or
None: answer normally); :func:`first_tries` and :func:`every` make the common ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

from .link import reason_phrase

FaultKind = Literal["http", "slow", "drop", "malformed", "empty", "down", "echo_key", "redirect"]


def http_date(seconds_from_now: float) -> str:
    """An HTTP date ``seconds_from_now`` in the future, for a date-valued ``Retry-After``."""
    return formatdate(time.time() + seconds_from_now, usegmt=True)


@dataclass(frozen=True)
class Fault:
    """One way to misbehave on one request. Build them with the class methods.

    Example::

        Fault.rate_limit(retry_after=2)   # 429 with "Retry-After: 2"
        Fault.http(503)                   # 503 with an OpenAI-shaped error body
        Fault.slow(5.0)                   # answer, but only after 5 more seconds
        Fault.down(1.5)                   # drop this connection, refuse all for 1.5 s
    """

    kind: FaultKind
    status: int = 200
    retry_after: str | None = None
    seconds: float = 0.0
    message: str = ""

    @classmethod
    def http(cls, status: int, message: str | None = None, retry_after: float | str | None = None) -> Fault:
        """An HTTP error ``status`` with an OpenAI-shaped JSON error body.

        ``retry_after`` becomes the ``Retry-After`` header: a number of seconds, or a string
        sent as is (e.g. :func:`http_date`).
        """
        header = None
        if retry_after is not None:
            header = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        text = message or f"fake server error {status} ({reason_phrase(status) or 'error'})"
        return cls("http", status=status, retry_after=header, message=text)

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = None) -> Fault:
        """A 429, with ``Retry-After`` when ``retry_after`` is given."""
        return cls.http(429, "Rate limit reached for requests (fake server)", retry_after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds`` more (set it past the client's timeout).

        A client that gives up meanwhile (closes the connection) abandons the request: the
        server drops it, as vLLM does, and counts it under ``outcomes["abandoned"]``.
        """
        return cls("slow", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Send the status line, headers and half the body, then drop the connection."""
        return cls("drop")

    @classmethod
    def malformed(cls) -> Fault:
        """A 200 whose body is truncated, invalid JSON."""
        return cls("malformed")

    @classmethod
    def empty_choices(cls) -> Fault:
        """A 200 with a well-formed body whose ``choices`` list is empty."""
        return cls("empty")

    @classmethod
    def down(cls, seconds: float) -> Fault:
        """Drop this connection unanswered and refuse every connection for ``seconds``."""
        return cls("down", seconds=seconds)

    @classmethod
    def echo_key(cls) -> Fault:
        """A 401 whose message repeats the Authorization header it got (a careless server).

        For tests that check a client never shows the key, even when the server does.
        """
        return cls("echo_key", status=401)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Fault:
        """A redirect (``status`` 301/302/303/307/308) to ``location``, with an empty body."""
        return cls("redirect", status=status, message=location)


@dataclass(frozen=True)
class Hit:
    """One completion request as the server received it (what a fault rule decides on)."""

    #: 1-based count of completion requests received so far, this one included.
    number: int
    #: 1-based count of requests with exactly this body (a client's retries of one request).
    attempt: int
    path: str
    body: dict[str, Any]
    #: The last message's text (chat) or the prompt (completions).
    prompt: str
    authorization: str
    #: Completion requests in flight when this one arrived, itself included.
    in_flight: int
    #: ``time.monotonic()`` when it arrived.
    received: float
    #: The request target as sent: a path, or the whole URL when the client took the server for its proxy.
    target: str = ""
    #: The request's headers, names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)


#: Decides the fault (or None: answer normally) for each request.
Rule = Callable[[Hit], Fault | None]


def first_tries(n: int, fault: Fault) -> Rule:
    """A rule: every distinct request gets ``fault`` on its first ``n`` tries, then an answer."""
    return lambda hit: fault if hit.attempt <= n else None


def every(n: int, fault: Fault) -> Rule:
    """A rule: every ``n``-th request received gets ``fault``."""
    return lambda hit: fault if hit.number % n == 0 else None

