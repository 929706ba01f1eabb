"""OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, ``transformers serve``).

Requests go out concurrently through the ``openai`` package's ``AsyncOpenAI`` client, with the
package's own retries off: this backend retries itself so that it can share what it learns
between requests. The number in flight is an AIMD window: it halves when the server answers
429 (once per burst), grows by one after a window's worth of successes, never leaves
``1..concurrency``, and is not cut for 5xx (an overloaded server says so with 429, a broken
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
    #: Plain-HTTP servers get a lean keep-alive transport (see ``_LeanTransport``); False uses httpx's.
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
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise BackendError(f"base URL must start with http:// or https://, not {self.base_url!r}")
        self.api = api
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        key = api_key if api_key is not None else api_key_from_env()
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
                    f"{self.base_url} refused the API key (HTTP {exc.status_code}): {_server_message(exc)}; "
                    f"check {' or '.join(KEY_VARIABLES)}")) from None
        except openai.APIConnectionError as exc:
            raise BackendError(self._redact(
                f"cannot reach {self.base_url}: {_cause(exc)}; is the server running and is the URL right?")) from None
        finally:
            client.close()

    # -- the event loop side --------------------------------------------------------------

    async def _run_all(self, openai: Any, requests: Sequence[Request], results: queue.SimpleQueue[Any]) -> None:
        httpx = _httpx_for(openai)
        http_client = None
        if self.fast_http and self.base_url.startswith("http://") and not _proxied(self.base_url):
            http_client = httpx.AsyncClient(transport=_lean_transport(httpx), timeout=self.timeout)
        client = openai.AsyncOpenAI(api_key=self._api_key or _NO_KEY, base_url=self.base_url, max_retries=0,
                                    timeout=self.timeout, http_client=http_client)
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
                task = asyncio.create_task(self._answer(openai, httpx, client, window, index, request, results))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: live.release())
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _answer(self, openai: Any, httpx: Any, client: Any, window: _Window, index: int,
                      request: Request, results: queue.SimpleQueue[Any]) -> None:
        path, body = self._payload(request)
        retries = 0
        while True:
            epoch = await window.acquire()
            # The last attempt's own time: what the server took, not the wait for a slot.
            started = time.perf_counter()
            try:
                response = await self._attempt(openai, httpx, client, path, body)
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

    async def _attempt(self, openai: Any, httpx: Any, client: Any, path: str, body: dict[str, Any]) -> Response:
        where = self.base_url + path
        try:
            raw = await _within(self.timeout, client.post(path, cast_to=httpx.Response, body=body))
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise _Failure(None, f"no answer from {where} within {self.timeout:g} s (timeout)") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            raise _Failure(status, f"HTTP {status} from {where}: {_server_message(exc)}",
                           retryable=status in _RETRYABLE or status >= 500,
                           retry_after=_retry_after(exc.response.headers)) from None
        except openai.APIConnectionError as exc:
            raise _Failure(None, f"connection to {where} failed: {_cause(exc)}") from None
        try:
            data = json.loads(raw.content)
        except ValueError as exc:
            raise _Failure(None, f"malformed JSON from {where}: {exc}") from None
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
        loop = asyncio.get_running_loop()
        while True:
            pause = self._resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.active < self.limit:
                self.active += 1
                return self._epoch
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

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
        free = self.limit - self.active
        for waiter in list(self._waiters):
            if free <= 0:
                break
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


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


def _server_message(exc: Any) -> str:
    """The server's own words from an error response (OpenAI's ``error.message``, FastAPI's ``detail``)."""
    body = exc.body
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
    return getattr(exc.response, "reason_phrase", "") or "no message"


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


# -- a lean HTTP/1.1 transport ----------------------------------------------------------------
#
# Why: httpx's connection pool scans every pooled connection on each request and costs about
# 1.4 ms of CPU per request; with the openai client's own work on top, 32 requests in flight
# against a 50 ms server keep a core busy and the run takes 1.5-1.7x the ideal time on two
# cores. This transport speaks plain HTTP/1.1 over asyncio streams with a keep-alive pool and
# costs a fraction of that. It serves http:// URLs only (local and in-cluster servers, where
# high concurrency matters); https (the OpenAI API) keeps httpx's transport and its TLS.

_MAX_BODY = 64 * 1024 * 1024
_MAX_IDLE = 64
_SKIP_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection", b"accept-encoding"})
_transport_classes: dict[str, type] = {}


def _lean_transport(httpx: Any) -> Any:
    cls = _transport_classes.get(httpx.__name__)
    if cls is None:
        cls = _transport_classes[httpx.__name__] = _make_transport_class(httpx)
    return cls()


def _make_transport_class(httpx: Any) -> type:
    class _LeanTransport(httpx.AsyncBaseTransport):  # type: ignore[misc]
        def __init__(self) -> None:
            self._idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

        async def handle_async_request(self, request: Any) -> Any:
            url = request.url
            address = (url.host, url.port or 80)
            body = await request.aread()
            lines = [request.method.encode() + b" " + url.raw_path + b" HTTP/1.1", b"Host: " + url.netloc]
            lines += [name + b": " + value for name, value in request.headers.raw
                      if name.lower() not in _SKIP_HEADERS]
            lines += [b"Content-Length: " + str(len(body)).encode(), b"Accept-Encoding: identity",
                      b"Connection: keep-alive"]
            data = b"\r\n".join(lines) + b"\r\n\r\n" + body
            while True:
                reader, writer, reused = await self._connect(address, request)
                try:
                    writer.write(data)
                    head = await reader.readuntil(b"\r\n\r\n")
                    break
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    writer.close()
                    # A pooled connection the server had closed while idle: once more, fresh.
                    if reused and not getattr(exc, "partial", b""):
                        continue
                    raise httpx.RemoteProtocolError(f"server closed the connection: {exc!r}",
                                                    request=request) from exc
                except asyncio.LimitOverrunError as exc:
                    writer.close()
                    raise httpx.RemoteProtocolError("response head too large", request=request) from exc
                except BaseException:
                    writer.close()
                    raise
            try:
                status, reason, headers, reusable, framing = _response_head(head, request.method)
                content = await _read_body(reader, framing)
            except asyncio.IncompleteReadError as exc:
                writer.close()
                got = f" ({len(exc.partial)} of {exc.expected} bytes)" if exc.expected else ""
                raise httpx.RemoteProtocolError(f"server closed the connection mid-body{got}",
                                                request=request) from exc
            except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
                writer.close()
                raise httpx.RemoteProtocolError(f"invalid response: {exc!r}", request=request) from exc
            except BaseException:
                writer.close()
                raise
            if reusable and framing != "eof":
                pool = self._idle.setdefault(address, [])
                if len(pool) < _MAX_IDLE:
                    pool.append((reader, writer))
                else:
                    writer.close()
            else:
                writer.close()
            return httpx.Response(status, headers=headers, content=content, request=request,
                                  extensions={"reason_phrase": reason, "http_version": b"HTTP/1.1"})

        async def _connect(self, address: tuple[str, int], request: Any) -> tuple[Any, Any, bool]:
            pool = self._idle.get(address)
            while pool:
                reader, writer = pool.pop()
                if not reader.at_eof() and not writer.is_closing():
                    return reader, writer, True
                writer.close()
            try:
                reader, writer = await asyncio.open_connection(address[0], address[1], limit=1024 * 1024)
            except OSError as exc:
                raise httpx.ConnectError(f"{exc}", request=request) from exc
            return reader, writer, False

        async def aclose(self) -> None:
            for pool in self._idle.values():
                for _, writer in pool:
                    writer.close()
            self._idle.clear()

    return _LeanTransport


def _response_head(head: bytes, method: str) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool, Any]:
    """Status, reason, headers, whether the connection may be reused, and how the body is framed."""
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    status = int(code)
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    connection = b""
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"bad header line {line[:80]!r}")
        value = value.strip()
        low = name.strip().lower()
        headers.append((name.strip(), value))
        if low == b"content-length":
            length = int(value)
        elif low == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif low == b"connection":
            connection = value.lower()
    reusable = (version == b"HTTP/1.1" and connection != b"close") or connection == b"keep-alive"
    framing: Any
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        framing = 0
    elif chunked:
        framing = "chunked"
    elif length is not None:
        if length > _MAX_BODY:
            raise ValueError(f"response body of {length} bytes is too large")
        framing = length
    else:
        framing = "eof"
    return status, reason, headers, reusable, framing


async def _read_body(reader: asyncio.StreamReader, framing: Any) -> bytes:
    if framing == "chunked":
        parts: list[bytes] = []
        size_so_far = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            size_so_far += size
            if size_so_far > _MAX_BODY:
                raise ValueError("chunked response body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if framing == "eof":
        data = await reader.read(_MAX_BODY + 1)
        chunks = [data]
        total = len(data)
        while data and total <= _MAX_BODY:
            data = await reader.read(_MAX_BODY + 1 - total)
            chunks.append(data)
            total += len(data)
        if total > _MAX_BODY:
            raise ValueError("response body too large")
        return b"".join(chunks)
    return await reader.readexactly(framing) if framing else b""
