"""The HTTP layer of the OpenAI-compatible backend: JSON over aiohttp to one server.

aiohttp does the HTTP: pooled keep-alive HTTP/1.1 connections (at most ``connections``),
chunked and gzip/deflate bodies, TLS (certificates from the system store, or
``SSL_CERT_FILE``/``SSL_CERT_DIR``), proxies (``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``,
resolved once per run with aiohttp's own reading of the environment), and a total timeout per
attempt. Two things are ours, because no library does them for a POST:

- A request sent on a pooled connection that the server had already closed (its keep-alive
  timeout ran out just then) is sent again, once, on another connection, as browsers do; it
  does not count as a retry. A fresh connection that fails is a failure.
- Every outcome becomes data or a :class:`~.policy.Failure` with a message that names the URL,
  so the backend's retry policy and error texts do not depend on the library's exceptions.

Redirects are reported (``HTTP 307 from ...``), not followed: a POST silently re-sent
elsewhere is a surprise, and OpenAI-compatible servers do not redirect their API.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import json
import re
import ssl
from collections.abc import Mapping
from types import SimpleNamespace, TracebackType
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from .policy import Failure, error_body, server_message, status_failure

__all__ = ["Exchange", "Transport", "user_agent"]

#: Status, reason phrase, headers (case-insensitive) and body of one HTTP answer.
Exchange = tuple[int, str, Mapping[str, str], bytes]


@functools.lru_cache(maxsize=1)
def user_agent() -> str:
    """``pytest-llmeval/VERSION`` (the installed distribution's version)."""
    try:
        return f"pytest-llmeval/{importlib.metadata.version('pytest-llmeval')}"
    except importlib.metadata.PackageNotFoundError:
        return "pytest-llmeval"


async def _mark_reused(session: aiohttp.ClientSession, context: SimpleNamespace, params: object) -> None:
    context.trace_request_ctx.reused = True


class Transport:
    """Sends requests to the server at ``base_url`` over one aiohttp session; use it inside a running loop.

    Example::

        async with Transport("http://127.0.0.1:8000/v1", "no-key", connections=8, timeout=60) as transport:
            data = await transport.post_json("/chat/completions", {"model": "m", "messages": [...]})

    ``post_json`` returns the decoded JSON of a 2xx answer and raises :class:`~.policy.Failure`
    for everything else (non-2xx, timeout, connection failure, a body that is not JSON).
    """

    def __init__(self, base_url: str, api_key: str, *, connections: int, timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.connections = connections
        self._api_key = api_key
        self._urls: dict[str, URL] = {}
        self._session: aiohttp.ClientSession | None = None
        self._proxy: URL | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None

    async def __aenter__(self) -> Transport:
        self.open()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def open(self) -> None:
        """Create the session (inside the running loop); proxies and certificates are read from the environment now."""
        # A context made now honours SSL_CERT_FILE as set at this moment; aiohttp's default
        # one is made when aiohttp is imported.
        tls: ssl.SSLContext | bool = ssl.create_default_context() if self.base_url.startswith("https://") else True
        connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, ssl=tls)
        trace = aiohttp.TraceConfig()
        trace.on_connection_reuseconn.append(_mark_reused)
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json",
                   "Accept": "application/json", "User-Agent": user_agent()}
        # trust_env=False: aiohttp would look up ~/.netrc on every request (in a thread) and could
        # replace the bearer key with a netrc password; the proxy is looked up once instead.
        self._session = aiohttp.ClientSession(connector=connector, headers=headers, trust_env=False,
                                              timeout=aiohttp.ClientTimeout(total=self.timeout),
                                              trace_configs=[trace])
        try:
            self._proxy, self._proxy_auth = get_env_proxy_for_url(URL(self.base_url))
        except LookupError:  # no proxy for this URL (none set, or NO_PROXY names its host)
            self._proxy, self._proxy_auth = None, None

    async def aclose(self) -> None:
        """Close the session and its connections (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def where(self, path: str) -> str:
        """The URL of ``path``: ``base_url + path``, or ``path`` itself when it is a whole URL
        (for a server's endpoints outside the API's base, such as vLLM's ``/tokenize``)."""
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    async def post_json(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> Any:
        """POST ``body`` as compact JSON to :meth:`where` ``(path)``; the answer's decoded JSON.

        ``timeout`` (seconds) bounds this attempt instead of the transport's own. Raises
        :class:`~.policy.Failure` for any answer but a 2xx with a JSON body.
        """
        where = self.where(path)
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        status, reason, headers, content = await self.exchange("POST", path, payload, timeout=timeout)
        if not 200 <= status < 300:
            raise status_failure(status, where, server_message(error_body(content), reason), headers)
        try:
            return json.loads(content)
        except ValueError as exc:
            raise Failure(None, f"malformed JSON from {where}: {exc}") from None

    async def exchange(self, method: str, path: str, payload: bytes | None = None, *,
                       timeout: float | None = None) -> Exchange:
        """One request, whatever the status: ``(status, reason, headers, body)``; Failure when no answer came.

        ``timeout`` (seconds) bounds this attempt instead of the transport's own.
        """
        session = self._session
        if session is None:
            raise RuntimeError("Transport used before open() or after aclose()")
        where = self.where(path)
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(where)
        budget = self.timeout if timeout is None else timeout
        # Passed only when given: aiohttp takes ``timeout=None`` for "no timeout at all".
        limit: dict[str, Any] = {} if timeout is None else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        resent = False
        while True:
            sent = SimpleNamespace(reused=False)
            try:
                async with session.request(method, url, data=payload, allow_redirects=False, proxy=self._proxy,
                                           proxy_auth=self._proxy_auth, trace_request_ctx=sent,
                                           **limit) as response:
                    content = await response.read()
                    return response.status, response.reason or "", response.headers, content
            except asyncio.TimeoutError:
                raise Failure(None, f"no answer from {where} within {budget:g} s (timeout)", timed_out=True) from None
            except aiohttp.ClientError as exc:
                # Once, as browsers do: a server that drops every request must not see it many times.
                if sent.reused and not resent and _unanswered(exc):
                    resent = True
                    continue
                cause = _cause(exc)
                raise Failure(None, f"connection to {where} failed: {cause}", cause=cause) from None


def _unanswered(exc: aiohttp.ClientError) -> bool:
    """Whether the server closed the connection before a byte of the answer (so sending again is safe)."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return isinstance(exc.message, str)  # otherwise it is the part of the answer that came
    return isinstance(exc, aiohttp.ClientOSError) and not isinstance(exc, aiohttp.ClientConnectorError)


def _cause(exc: aiohttp.ClientError) -> str:
    """What went wrong, in words that do not depend on the aiohttp version."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return (f"TLS certificate not trusted ({exc.certificate_error}); if the server uses a private CA, "
                f"set SSL_CERT_FILE to its certificate")
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        return f"{type(error).__name__}: {error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        if isinstance(exc.message, str):
            return "server closed the connection before answering (ServerDisconnectedError)"
        return "server closed the connection mid-answer (ServerDisconnectedError)"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _payload_cause(exc)
    if isinstance(exc, aiohttp.ClientResponseError):  # the answer is not HTTP aiohttp can parse
        return f"invalid response: {_one_line(exc.message)}"
    text = _one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _payload_cause(exc: aiohttp.ClientPayloadError) -> str:
    """A body that broke off (with the byte counts when the library says them) or could not be decoded."""
    detail = _one_line(str(exc))
    counts = re.search(r"received (\d+) of (\d+) bytes", detail)
    if counts:
        return f"server closed the connection mid-body ({counts[1]} of {counts[2]} bytes)"
    if "encod" in detail.lower() or "decompress" in detail.lower():
        return f"invalid response: {detail}"
    return f"server closed the connection mid-body ({detail})"


def _one_line(text: object) -> str:
    """A library's message on one line: its lines joined, caret-only pointer lines left out."""
    lines = (line.strip() for line in str(text).splitlines())
    return " ".join(line for line in lines if line.strip("^ "))
