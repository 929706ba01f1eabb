"""OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, ``transformers serve``).

Requests go out concurrently. To a plain ``http://`` server (vLLM, TGI, Ollama on a local or
in-cluster address) the backend posts the JSON itself over pooled keep-alive HTTP/1.1
connections (``_DirectPoster``); ``https://`` URLs (the OpenAI API) and proxied ones go through
the ``openai`` package's ``AsyncOpenAI`` client, with the package's own retries off. Either way
this backend retries itself so that it can share what it learns between requests, and
classifies failures the same way on both paths. The number in flight is an AIMD window: it
halves when the server answers 429 (once per burst), grows by one after a window's worth of
successes, never leaves ``1..concurrency``, and is not cut for 5xx (an overloaded server says so with 429, a broken
one should not slow the healthy requests). A 429's ``Retry-After`` (seconds or an HTTP date)
pauses every new request until then; other retries wait a jittered exponential backoff. A
request that still fails after ``max_retries`` retries comes back as a ``Response`` whose
``error`` names the status and the server's message; the API key never appears in it.

Example::

    backend = OpenAIBackend("gpt-4o-mini")                      # key from LLMEVAL_API_KEY
    local = OpenAIBackend("llama3", base_url="http://127.0.0.1:11434/v1", concurrency=32)
    for i, response in local.run(requests, progress=lambda n: None):
        print(i, response.text or response.error)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import os
import queue
import random
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from ..request import Request, Response, ToolCall
from .base import BackendError, Progress

__all__ = ["DEFAULT_BASE_URL", "KEY_VARIABLES", "OpenAIBackend", "api_key_from_env"]

#: Where requests go when no base URL is given.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Environment variables that may hold the API key, in order of preference.
KEY_VARIABLES = ("LLMEVAL_API_KEY", "OPENAI_API_KEY")
#: Sent as the key to servers that need none (the ``openai`` client refuses an empty key).
_NO_KEY = "no-key"
#: HTTP statuses worth retrying: rate limits, timeouts, conflicts and server errors.
_RETRYABLE = frozenset({408, 409, 425, 429})
_DONE = object()


def api_key_from_env() -> str | None:
    """The API key from ``LLMEVAL_API_KEY``, else ``OPENAI_API_KEY``, else None."""
    for name in KEY_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise BackendError("the openai backend needs the openai package: pip install openai") from exc
    return openai


class OpenAIBackend:
    """A model behind the OpenAI API or an OpenAI-compatible server; see the module docstring.

    ``api="chat"`` posts to ``/chat/completions`` (``Request.messages``, or the prompt as one
    user message); ``api="completions"`` posts the prompt text to ``/completions``.
    ``timeout`` bounds each attempt in seconds. The backoff and the ``Retry-After`` cap are
    class attributes (``backoff_base``, ``backoff_cap``, ``retry_after_cap``) so that tests
    and impatient users can shorten them.
    """

    name = "openai"
    #: First retry waits about this long (seconds); each later one twice as long, jittered.
    backoff_base: float = 0.5
    #: No backoff wait is longer than this (seconds).
    backoff_cap: float = 30.0
    #: A server's Retry-After is honoured up to this many seconds.
    retry_after_cap: float = 120.0
    #: Plain-HTTP servers get the backend's own HTTP/1.1 client (``_DirectPoster``); False uses openai's.
    fast_http: bool = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api: Literal["chat", "completions"] = "chat",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
    ) -> None:
        if importlib.util.find_spec("openai") is None:
            raise BackendError("the openai backend needs the openai package: pip install openai")
        if api not in ("chat", "completions"):
            raise BackendError(f"api must be 'chat' or 'completions', not {api!r}")
        if concurrency < 1:
            raise BackendError(f"concurrency must be at least 1, not {concurrency}")
        if not timeout > 0:
            raise BackendError(f"timeout must be a positive number of seconds, not {timeout}")
        if max_retries < 0:
            raise BackendError(f"max_retries must be 0 or more, not {max_retries}")
        key = api_key if api_key is not None else api_key_from_env()
        if key and not _header_safe(key):  # the message must not quote it
            raise BackendError("the API key has characters an HTTP header cannot carry (spaces, line breaks, "
                               "non-ASCII); check where it was copied from")
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise BackendError(f"base URL must start with http:// or https://, not {self.base_url!r}")
        self.api = api
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise BackendError(
                f"no API key for the OpenAI API: set {' or '.join(KEY_VARIABLES)} in the environment")
        self._api_key = key or None
        self._window = _Window(concurrency)
        self._random = random.Random()

    def __repr__(self) -> str:  # explicit, so that no debugging aid ever prints the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, api={self.api!r})"

    # -- Backend protocol -----------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """Backend, model, base URL and API: what decides the answers (never the key)."""
        return {"backend": "openai", "model": self.model, "base_url": self.base_url, "api": self.api}

    def describe(self) -> str:
        """E.g. ``openai-compatible server at http://127.0.0.1:8000/v1 (chat, concurrency 8)``."""
        where = "OpenAI API" if self.base_url == DEFAULT_BASE_URL else "openai-compatible server"
        return f"{where} at {self.base_url} ({self.api}, concurrency {self.concurrency})"

    def supports(self, request: Request) -> bool:
        """Generation only: servers rarely return prompt log-probabilities."""
        return request.kind == "generate"

    @property
    def window(self) -> int:
        """How many requests may be in flight now (shrinks on 429, regrows on success)."""
        return self._window.limit

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        """Send ``requests`` concurrently; yield ``(index, response)`` as each one finishes.

        A plain generator: the requests run on an event loop in a background thread, so this
        works where no loop runs (a pytest test) and where one does. Leaving the loop early
        cancels what is still in flight.
        """
        if not requests:
            return
        openai = _import_openai()
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        loop = asyncio.new_event_loop()
        main: asyncio.Task[None] = loop.create_task(self._run_all(openai, requests, results))

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(main)
            except BaseException:  # read back from the task in the caller's thread
                pass
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                results.put(_DONE)

        thread = threading.Thread(target=serve, name="llmeval-openai", daemon=True)
        thread.start()
        finished = 0
        try:
            while finished < len(requests):
                try:
                    item = results.get(timeout=1.0)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
                if item is _DONE:
                    error = main.exception() if main.done() and not main.cancelled() else None
                    raise BackendError(f"openai backend stopped early: {error!r}") from error
                finished += 1
                progress(1)
                yield item
        finally:
            if not main.done():
                with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing to cancel
                    loop.call_soon_threadsafe(main.cancel)
            thread.join(30.0)

    def close(self) -> None:
        """Nothing to release: each ``run`` opens and closes its own connections."""

    def check(self) -> None:
        """Fail fast with a clear :class:`BackendError` when the server cannot be used at all.

        Asks ``GET /models`` once: no connection, or a rejected key (401/403), raises; any
        other answer (some servers lack ``/models``) counts as reachable.
        """
        openai = _import_openai()
        client = openai.OpenAI(api_key=self._api_key or _NO_KEY, base_url=self.base_url, max_retries=0,
                               timeout=min(self.timeout, 10.0))
        try:
            client.get("/models", cast_to=_httpx_for(openai).Response)
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise BackendError(self._redact(
                    f"{self.base_url} refused the API key (HTTP {exc.status_code}): {_openai_message(exc)}; "
                    f"check {' or '.join(KEY_VARIABLES)}")) from None
        except openai.APIConnectionError as exc:
            raise BackendError(self._redact(
                f"cannot reach {self.base_url}: {_cause(exc)}; is the server running and is the URL right?")) from None
        finally:
            client.close()

    # -- the event loop side --------------------------------------------------------------

    async def _run_all(self, openai: Any, requests: Sequence[Request], results: queue.SimpleQueue[Any]) -> None:
        poster = self._poster(openai)
        # Each run gets its own window (its waiters belong to this loop), starting from the
        # limit the previous run learned: a server's rate limit outlives one batch.
        window = self._window = _Window(self.concurrency, limit=self._window.limit)
        # Tasks exist only for a bounded stretch ahead of the window, so a huge suite costs
        # no memory up front, yet requests waiting out a backoff do not block fresh ones.
        live = asyncio.Semaphore(max(4 * self.concurrency, 64))
        tasks: set[asyncio.Task[None]] = set()
        try:
            for index, request in enumerate(requests):
                await live.acquire()
                task = asyncio.create_task(self._answer(poster, window, index, request, results))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: live.release())
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await poster.aclose()

    def _poster(self, openai: Any) -> _DirectPoster | _OpenAIPoster:
        """The backend's own HTTP client for plain http without a proxy; openai's for the rest."""
        key = self._api_key or _NO_KEY
        if self.fast_http and self.base_url.startswith("http://") and not _proxied(self.base_url):
            # Never more than ``concurrency`` requests in flight, so that many idle
            # connections are all a run can reuse; fewer would reconnect at every burst.
            return _DirectPoster(self.base_url, key, max_idle=self.concurrency)
        return _OpenAIPoster(openai, self.base_url, key, self.timeout)

    async def _answer(self, poster: _DirectPoster | _OpenAIPoster, window: _Window, index: int,
                      request: Request, results: queue.SimpleQueue[Any]) -> None:
        path, body = self._payload(request)
        where = self.base_url + path
        retries = 0
        while True:
            epoch = await window.acquire()
            # The last attempt's own time: what the server took, not the wait for a slot.
            started = time.perf_counter()
            try:
                response = await self._attempt(poster, path, where, body)
                failure = None
            except _Failure as exc:
                failure = exc
            except Exception as exc:  # a bug of ours or the client's: one item errors, not the run
                failure = _Failure(None, f"unexpected {type(exc).__name__}: {exc}", retryable=False)
            finally:
                window.release()
            latency = round(time.perf_counter() - started, 4)
            if failure is None:
                window.succeeded()
                response.meta.update(latency_s=latency, retries=retries)
                results.put((index, response))
                return
            if failure.status == 429:
                window.throttled(epoch, self._capped(failure.retry_after))
            if not failure.retryable or retries >= self.max_retries:
                how = f"gave up after {retries} {'retry' if retries == 1 else 'retries'}" if failure.retryable \
                    else "not retried"
                meta = {"backend": self.name, "latency_s": latency, "retries": retries}
                if failure.status is not None:
                    meta["status"] = failure.status
                results.put((index, Response(error=self._redact(f"{failure.text} ({how})"), meta=meta)))
                return
            wait = self._capped(failure.retry_after)
            retries += 1
            await asyncio.sleep(wait if wait is not None else self._backoff(retries))

    async def _attempt(self, poster: _DirectPoster | _OpenAIPoster, path: str, where: str,
                       body: dict[str, Any]) -> Response:
        try:
            data = await _within(self.timeout, poster.post(path, where, body))
        except asyncio.TimeoutError:
            raise _Failure(None, f"no answer from {where} within {self.timeout:g} s (timeout)") from None
        return self._parse(data, where)

    def _payload(self, request: Request) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": request.max_tokens,
                                "temperature": request.temperature}
        if request.stop:
            body["stop"] = list(request.stop)
        if self.api == "completions":
            # A chat-shaped request sent to a completions endpoint loses its chat template;
            # its contents are joined as plain text, which is what such an endpoint can take.
            body["prompt"] = request.prompt if request.prompt is not None else "\n\n".join(
                m.content for m in request.messages)
            return "/completions", body
        if request.messages:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            body["messages"] = [{"role": "user", "content": request.prompt}]
        if request.tools_json is not None:
            body["tools"] = request.tools
        return "/chat/completions", body

    def _parse(self, data: Any, where: str) -> Response:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise _Failure(None, f"response from {where} has no choices")
        choice = choices[0]
        calls: list[ToolCall] = []
        if self.api == "completions":
            text = choice.get("text") or ""
        else:
            message = choice.get("message") or {}
            text = _content_text(message.get("content"))
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                calls.append(ToolCall(name=str(function.get("name", "")), arguments=_arguments(function)))
            if not calls and isinstance(message.get("function_call"), dict):  # the pre-tools shape
                function = message["function_call"]
                calls.append(ToolCall(name=str(function.get("name", "")), arguments=_arguments(function)))
        meta: dict[str, Any] = {"backend": self.name, "finish_reason": choice.get("finish_reason")}
        usage = data.get("usage")
        if isinstance(usage, dict):
            for key in ("prompt_tokens", "completion_tokens"):
                if isinstance(usage.get(key), int):
                    meta[key] = usage[key]
        return Response(text=str(text), tool_calls=calls, meta=meta)

    def _backoff(self, retries: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (retries - 1))
        # "Equal jitter": at least half the ceiling, so retries never stampede back at once.
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _capped(self, seconds: float | None) -> float | None:
        return None if seconds is None else min(max(seconds, 0.0), self.retry_after_cap)

    def _redact(self, text: str) -> str:
        key = self._api_key
        if key and len(key) >= 4:
            text = text.replace(key, "[api key]")
        return text


class _Failure(Exception):
    """One failed attempt, classified: HTTP status (None: no HTTP answer), text, retry advice."""

    def __init__(self, status: int | None, text: str, *, retryable: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.retryable = retryable
        self.retry_after = retry_after


class _Window:
    """The AIMD concurrency window shared by every request of one run.

    ``limit`` requests may be in flight. A 429 halves it, but only once per burst: requests
    sent before the last cut (an older ``epoch``) report the same overload and are ignored.
    ``limit`` successes in a row add one. A Retry-After holds every acquirer until it passes.
    A freed slot is handed straight to the oldest waiter (``_wake`` counts it in ``active``),
    so a release wakes exactly as many waiters as there are free slots and none wakes in vain.
    """

    def __init__(self, maximum: int, limit: int | None = None) -> None:
        self.maximum = maximum
        self.limit = maximum if limit is None else max(1, min(limit, maximum))
        self.active = 0
        self._streak = 0
        self._epoch = 0
        self._resume_at = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot and out any Retry-After pause; returns the epoch it was got in."""
        await self._pause()
        if self.active < self.limit:  # slots are handed to waiters at once, so none is waiting
            self.active += 1
            return self._epoch
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
            # A 429's Retry-After may have arrived while this request waited; it holds the slot meanwhile.
            await self._pause()
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # the slot was handed over: pass it on
                self.release()
            raise
        return self._epoch

    async def _pause(self) -> None:
        while (pause := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(pause)

    def release(self) -> None:
        self.active -= 1
        self._wake()

    def succeeded(self) -> None:
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0
            self._wake()

    def throttled(self, epoch: int, retry_after: float | None) -> None:
        self._streak = 0
        if retry_after:
            self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
        if epoch == self._epoch:
            self.limit = max(1, self.limit // 2)
            self._epoch += 1

    def _wake(self) -> None:
        """Hand free slots to the oldest waiters; cancelled ones are dropped on the way."""
        waiters = self._waiters
        while self.active < self.limit and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)


async def _within(seconds: float, awaitable: Any) -> Any:
    """``await awaitable`` for at most ``seconds``; TimeoutError past that."""
    if hasattr(asyncio, "timeout"):  # 3.11+: no extra task per request, unlike wait_for
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or a date."""
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


def _openai_message(exc: Any) -> str:
    """The server's words from an ``openai.APIStatusError`` (its ``body`` is the JSON's ``error``, or the text)."""
    return _server_message(exc.body, getattr(exc.response, "reason_phrase", ""))


def _server_message(body: Any, reason: str) -> str:
    """The server's own words from an error response (OpenAI's ``error.message``, FastAPI's ``detail``)."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                value = value["message"]
            if isinstance(value, str) and value:
                return value[:500]
        return json.dumps(body)[:500]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return reason or "no message"


def _status_failure(status: int, where: str, message: str, headers: Any) -> _Failure:
    """A non-2xx answer, classified: 408/409/425/429 and 5xx are worth retrying, other 4xx are not."""
    return _Failure(status, f"HTTP {status} from {where}: {message}",
                    retryable=status in _RETRYABLE or status >= 500, retry_after=_retry_after(headers))


def _decoded(content: bytes, where: str) -> Any:
    try:
        return json.loads(content)
    except ValueError as exc:
        raise _Failure(None, f"malformed JSON from {where}: {exc}") from None


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    text = str(cause) or str(exc)
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # content parts
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def _arguments(function: dict[str, Any]) -> str:
    arguments = function.get("arguments", "")
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _httpx_for(openai: Any) -> Any:
    """The HTTP library this ``openai`` is built on (httpx2 for openai 3, httpx before)."""
    if hasattr(openai, "DefaultHttpx2Client"):
        import httpx2

        return httpx2
    import httpx

    return httpx


def _proxied(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (then httpx's transport is used)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return "http" in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def _header_safe(key: str) -> bool:
    """Whether ``key`` can go in an Authorization header as it is (printable ASCII, no spaces)."""
    return all("!" <= char <= "~" for char in key)


@functools.lru_cache(maxsize=1)
def _user_agent() -> str:
    try:
        return f"pytest-llmeval/{importlib.metadata.version('pytest-llmeval')}"
    except importlib.metadata.PackageNotFoundError:
        return "pytest-llmeval"


class _OpenAIPoster:
    """Posts through the ``openai`` package's client: https and proxied URLs (TLS, proxies, the real API)."""

    def __init__(self, openai: Any, base_url: str, api_key: str, timeout: float) -> None:
        self._openai = openai
        self._response_class = _httpx_for(openai).Response
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    async def post(self, path: str, where: str, body: dict[str, Any]) -> Any:
        """The answer's JSON; a ``_Failure`` (or TimeoutError) as the direct path would raise it."""
        openai = self._openai
        try:
            raw = await self._client.post(path, cast_to=self._response_class, body=body)
        except openai.APITimeoutError:
            raise asyncio.TimeoutError from None
        except openai.APIStatusError as exc:
            raise _status_failure(exc.status_code, where, _openai_message(exc), exc.response.headers) from None
        except openai.APIConnectionError as exc:
            raise _Failure(None, f"connection to {where} failed: {_cause(exc)}") from None
        return _decoded(raw.content, where)

    async def aclose(self) -> None:
        await self._client.close()


# -- the direct path for plain-HTTP servers -------------------------------------------------------
#
# Why: against a fast local server the openai client's request building (a deep copy of the
# options, URL parsing, header merging, pydantic) and httpx's connection pool cost about 1 ms of
# CPU per request, three times what the HTTP exchange needs; at 128 requests in flight on two
# cores that, not the server, sets the pace. The backend already classifies errors and parses
# the JSON itself, so for http:// it writes the POST over a pooled asyncio connection directly.
# https (the OpenAI API) keeps the openai client and its TLS; so does a URL behind a proxy.

_MAX_BODY = 64 * 1024 * 1024
#: Longest response head (status line and headers) read, in bytes.
_MAX_HEAD = 1024 * 1024


class _BrokenResponse(Exception):
    """The server closed the connection early or answered something that is not HTTP/1.1."""


class _DirectPoster:
    """POSTs JSON to one plain-http server over keep-alive HTTP/1.1 connections, at most ``max_idle`` kept."""

    def __init__(self, base_url: str, api_key: str, *, max_idle: int) -> None:
        parts = urlsplit(base_url)
        self._address = (parts.hostname or "", parts.port or 80)
        self._max_idle = max_idle
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._prefix = quote(parts.path, safe="/%:@!$&'()*+,;=~").encode("ascii")
        host = parts.netloc.rpartition("@")[2]
        # Everything after the request line up to the body's length, the same for every request.
        self._fixed = (f"Host: {host}\r\nAuthorization: Bearer {api_key}\r\n"
                       f"Content-Type: application/json\r\nAccept: application/json\r\n"
                       f"Accept-Encoding: identity\r\nUser-Agent: {_user_agent()}\r\n"
                       f"Content-Length: ").encode("ascii")

    async def post(self, path: str, where: str, body: dict[str, Any]) -> Any:
        """The answer's JSON; a ``_Failure`` classified as the openai path classifies it."""
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        request = b"".join((b"POST ", self._prefix, path.encode("ascii"), b" HTTP/1.1\r\n", self._fixed,
                            str(len(payload)).encode("ascii"), b"\r\n\r\n", payload))
        try:
            status, reason, headers, content = await self._exchange(request)
        except _BrokenResponse as exc:
            raise _Failure(None, f"connection to {where} failed: {exc}") from None
        except OSError as exc:  # refused, unreachable, unknown host
            raise _Failure(None, f"connection to {where} failed: {type(exc).__name__}: {exc}") from None
        if not 200 <= status < 300:
            raise _status_failure(status, where, _server_message(_error_body(content), reason), headers)
        return _decoded(content, where)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def _exchange(self, request: bytes) -> tuple[int, str, dict[str, str], bytes]:
        """Status, reason, headers (lower-case names) and body; the connection goes back to the pool."""
        reader, writer, head = await self._send(request)
        try:
            status, reason, headers, reusable, framing = _response_head(head)
            content = await _read_body(reader, framing)
        except asyncio.IncompleteReadError as exc:
            writer.close()
            got = f" ({len(exc.partial)} of {exc.expected} bytes)" if exc.expected else ""
            raise _BrokenResponse(f"server closed the connection mid-body{got}") from None
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            writer.close()
            raise _BrokenResponse(f"invalid response: {exc!r}") from None
        except BaseException:  # cancelled (a timeout): the rest of the answer must not reach the next request
            writer.close()
            raise
        if reusable and framing != "eof" and len(self._idle) < self._max_idle:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return status, reason, headers, content

    async def _send(self, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        """Write ``request`` and read the response head.

        A pooled connection that the server closed while it sat idle (its keep-alive timeout
        ran out) fails before a single byte comes back; then the request goes again on another
        connection, as every HTTP client does. A fresh connection that fails is an error.
        """
        while True:
            reader, writer, reused = await self._connection()
            try:
                writer.write(request)
                return reader, writer, await reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                writer.close()
                if reused and not getattr(exc, "partial", b""):
                    continue
                raise _BrokenResponse(f"server closed the connection before answering ({type(exc).__name__})") \
                    from None
            except asyncio.LimitOverrunError:
                writer.close()
                raise _BrokenResponse("response head too large") from None
            except BaseException:
                writer.close()
                raise

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """The most recently used idle connection still open, else a new one; and whether it was pooled."""
        idle = self._idle
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(*self._address, limit=_MAX_HEAD)
        return reader, writer, False


def _error_body(content: bytes) -> Any:
    """An error response's body as openai's client reads it: the JSON's ``error`` member, the JSON, or the text."""
    text = content.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text
    return body.get("error", body) if isinstance(body, dict) else body


def _response_head(head: bytes) -> tuple[int, str, dict[str, str], bool, int | str]:
    """Status, reason, headers, whether the connection may be reused, and how the body is framed.

    The framing is a byte count, ``"chunked"``, or ``"eof"`` (the body runs until the server closes).
    """
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(code)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    reusable = (version == "HTTP/1.1" and connection != "close") or connection == "keep-alive"
    framing: int | str
    if status in (204, 304) or 100 <= status < 200:
        framing = 0
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        framing = "chunked"
    elif "content-length" in headers:
        framing = int(headers["content-length"])
        if not 0 <= framing <= _MAX_BODY:
            raise ValueError(f"bad or too large Content-Length {framing}")
    else:
        framing = "eof"
    return status, reason, headers, reusable, framing


async def _read_body(reader: asyncio.StreamReader, framing: int | str) -> bytes:
    if framing == "chunked":
        return await _read_chunked(reader)
    if framing == "eof":
        body = await reader.read(_MAX_BODY + 1)
        chunks = [body]
        total = len(body)
        while body and total <= _MAX_BODY:
            body = await reader.read(_MAX_BODY + 1 - total)
            chunks.append(body)
            total += len(body)
        if total > _MAX_BODY:
            raise ValueError("response body too large")
        return b"".join(chunks)
    assert isinstance(framing, int)
    return await reader.readexactly(framing) if framing else b""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A ``Transfer-Encoding: chunked`` body: sized chunks (extensions ignored), then trailers."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > _MAX_BODY:
            raise ValueError("chunked response body too large")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
