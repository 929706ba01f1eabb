"""A small OpenAI-compatible HTTP server with fault injection, for tests and speed measurements.

It answers ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models`` on
127.0.0.1 only, after a fixed latency, with a deterministic answer (the prompt echoed back by
default), and misbehaves on request: HTTP errors (429 with or without ``Retry-After``, 5xx),
responses slower than the client's timeout, connections dropped mid-body, malformed JSON, empty
``choices``, and going down (refusing connections) for a while. It counts what it received and
the most requests it had in flight at once, so tests can check retry limits and concurrency.
It can also speak TLS (``tls=`` an ``ssl.SSLContext``), gzip its answers, frame them chunked,
close keep-alive connections after each answer or after an idle time, answer as a forward
proxy would be asked (absolute-form request targets), and redirect.

It is bounded: it stops by itself after ``lifetime`` seconds and answers at most
``max_requests`` completion requests. HTTP/1.1 is parsed and framed by ``h11``; the faults
that no well-behaved server would commit (a connection dropped mid-body, a truncated body)
are written past it, on purpose. It runs on asyncio in a background thread.

Example::

    from pytest_llmeval.testing.server import FakeServer, Fault

    with FakeServer(latency=0.05, faults={1: Fault.http(503)}) as srv:
        backend = OpenAIBackend("fake-model", base_url=srv.base_url)
        ...                  # the first request gets a 503, its retry the answer
        assert srv.requests == 2

From the command line (prints the base URL, then serves until ``--lifetime`` runs out)::

    python -m pytest_llmeval.testing.server --latency 0.05 --port 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import json
import signal
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import urlsplit

import h11

from . import fake_model
from .fake_model import LogProb

__all__ = ["Answer", "FakeServer", "Fault", "Hit", "Rule", "every", "first_tries", "http_date"]

FaultKind = Literal["http", "slow", "drop", "malformed", "empty", "down", "echo_key", "redirect"]

#: Largest request body accepted (bytes); bigger ones get 413. Keeps a stray client bounded.
MAX_BODY = 8 * 1024 * 1024
#: Largest request head (request line and headers) accepted, in bytes.
MAX_HEAD = 64 * 1024
#: ``hits`` keeps the first this many requests (the counters count them all).
MAX_HITS = 20_000

_ERROR_TYPES = {429: "rate_limit_exceeded", 401: "invalid_request_error", 400: "invalid_request_error"}


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
        text = message or f"fake server error {status} ({_reason(status) or 'error'})"
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
#: What the server says for a prompt: text, or ``{"content": ..., "tool_calls": [{"name", "arguments"}]}``,
#: optionally with ``"finish_reason"`` (e.g. "length") and a separate trace (``"reasoning_content"``
#: or ``"reasoning"``) sent beside the content, as reasoning servers do.
Answer = str | dict[str, Any]


def first_tries(n: int, fault: Fault) -> Rule:
    """A rule: every distinct request gets ``fault`` on its first ``n`` tries, then an answer."""
    return lambda hit: fault if hit.attempt <= n else None


def every(n: int, fault: Fault) -> Rule:
    """A rule: every ``n``-th request received gets ``fault``."""
    return lambda hit: fault if hit.number % n == 0 else None


def _echo(prompt: str) -> Answer:
    return prompt


class FakeServer:
    """An OpenAI-compatible server on 127.0.0.1 for tests; see the module docstring.

    ``answer`` maps a prompt (the last chat message, or the completion prompt) to the reply:
    a function, or a mapping (a prompt it lacks gets an empty reply); by default the prompt
    is echoed. ``faults`` is a mapping from request number (1-based) to :class:`Fault`, or a
    :data:`Rule`. ``chunked=True`` frames answers with ``Transfer-Encoding: chunked`` (as some
    servers do for large bodies, in small chunks with a trailer); ``keep_alive=False`` closes the
    connection after each response, and ``idle_timeout`` closes a kept-alive connection that
    waited that many seconds for its next request (as uvicorn's ``--timeout-keep-alive`` does).
    ``gzip=True`` compresses answers for clients that accept it. ``tls`` (an
    ``ssl.SSLContext`` with the server's certificate loaded) serves HTTPS. With ``api_key``
    set, a request without that bearer key gets a 401 that quotes the key it did get (as
    careless servers do). Counters (read them from the test): ``requests`` (completion
    requests received), ``max_in_flight``, ``connections``, ``tunnels`` (``CONNECT`` requests
    relayed, when a client took the server for its HTTPS proxy), ``outcomes`` (a Counter: "ok",
    "429", "drop", ...), and ``hits`` (each :class:`Hit` in order, the first ``MAX_HITS``).

    It can also play vLLM (see :mod:`.fake_model` for the pretend tokenizer and template):
    ``owned_by``, ``root`` and ``max_model_len`` go into ``GET /v1/models``; ``version`` is served
    at ``GET /version``; ``fingerprint`` is every completion's ``system_fingerprint``;
    ``tokenize=True`` serves ``POST /tokenize`` and answers token-id prompts sent with ``echo``
    and ``logprobs`` with prompt log-probabilities (from ``logprob``); ``tools=False`` refuses
    requests with ``tools`` as a vLLM without a tool-call parser does (HTTP 400); with
    ``max_model_len`` set, a request longer than it gets vLLM's HTTP 400. ``tokenize_requests``
    counts ``/tokenize`` requests (``requests`` counts completions only).
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        answer: Callable[[str], Answer] | Mapping[str, Answer] | None = None,
        faults: Mapping[int, Fault] | Rule | None = None,
        model: str = "fake-model",
        port: int = 0,
        chunked: bool = False,
        keep_alive: bool = True,
        api_key: str | None = None,
        lifetime: float = 900.0,
        max_requests: int = 100_000,
        gzip: bool = False,
        idle_timeout: float | None = None,
        tls: ssl.SSLContext | None = None,
        owned_by: str = "pytest-llmeval",
        root: str | None = None,
        max_model_len: int | None = None,
        version: str | None = None,
        fingerprint: str | None = None,
        tools: bool = True,
        tokenize: bool = False,
        logprob: LogProb | None = None,
    ) -> None:
        self.owned_by = owned_by
        self.root = root
        self.max_model_len = max_model_len
        self.version = version
        self.fingerprint = fingerprint
        self.tools = tools
        self.tokenize = tokenize
        self.logprob: LogProb = logprob or fake_model.default_logprob
        self.tokenize_requests = 0
        self.latency = latency
        self.model = model
        self.port = port
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.gzip = gzip
        self.idle_timeout = idle_timeout
        self.tls = tls
        self.api_key = api_key
        self.lifetime = lifetime
        self.max_requests = max_requests
        if answer is None:
            self._answer: Callable[[str], Answer] = _echo
        elif isinstance(answer, Mapping):
            table = dict(answer)
            self._answer = lambda prompt: table.get(prompt, "")
        else:
            self._answer = answer
        if faults is None:
            self._rule: Rule = lambda hit: None
        elif isinstance(faults, Mapping):
            by_number = dict(faults)
            self._rule = lambda hit: by_number.get(hit.number)
        else:
            self._rule = faults
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.tunnels = 0
        self.outcomes: Counter[str] = Counter()
        self.hits: list[Hit] = []
        self._attempts: Counter[bytes] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopping = False
        self._error: BaseException | None = None
        self._done = threading.Event()

    # -- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls``)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL an OpenAI client takes: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    def start(self) -> FakeServer:
        """Bind a port and serve in a background thread; returns self once it accepts."""
        if self._thread is not None:
            raise RuntimeError("FakeServer already started")
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), name="fake-openai-server", daemon=True)
        self._thread.start()
        if not ready.wait(10.0):
            raise RuntimeError("FakeServer did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"FakeServer could not listen: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not self._done.is_set():
            with contextlib.suppress(RuntimeError):  # the loop already closed itself (lifetime ran out)
                loop.call_soon_threadsafe(self._shutdown)
        thread.join(10.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (its lifetime ran out, or :meth:`stop`)."""
        return self._done.wait(timeout)

    def go_down(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for ``seconds`` (from any thread)."""
        if self._loop is None:
            raise RuntimeError("FakeServer not started")
        self._loop.call_soon_threadsafe(self._go_down, seconds)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _main(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            ready.set()
            loop.close()
            self._done.set()
            return
        ready.set()
        loop.call_later(self.lifetime, self._shutdown)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
            self._done.set()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, limit=MAX_HEAD, reuse_address=True, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    def _drop_all(self) -> None:
        current = asyncio.current_task()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._handlers):
            if task is not current:
                task.cancel()

    def _shutdown(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_all()
        assert self._loop is not None
        self._loop.stop()

    def _go_down(self, seconds: float) -> None:
        if self._stopping:
            return
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_all()
        assert self._loop is not None
        self._loop.call_later(seconds, lambda: self._loop.create_task(self._come_back()) if self._loop else None)

    async def _come_back(self) -> None:
        # The old socket may linger briefly; the port is ours (SO_REUSEADDR), so retry a little.
        for _ in range(50):
            if self._stopping or self._server is not None:
                return
            try:
                await self._listen()
                return
            except OSError:
                await asyncio.sleep(0.05)

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        link = _Link(h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD), reader, writer)
        try:
            while not self._stopping:
                received = await self._receive(link)
                if received is None:
                    return
                request, body = received
                target = request.target.decode("latin-1")
                if request.method == b"CONNECT":  # taken for an HTTPS proxy
                    await self._tunnel(link, target)
                    return
                headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers}
                link.gzip = self.gzip and "gzip" in headers.get("accept-encoding", "")
                keep = await self._dispatch(request.method.decode("latin-1"), target, headers, body, link)
                if not keep or link.conn.our_state is not h11.DONE or link.conn.their_state is not h11.DONE:
                    return
                link.conn.start_next_cycle()
        except (ConnectionError, asyncio.CancelledError, h11.LocalProtocolError):
            return
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _receive(self, link: _Link) -> tuple[h11.Request, bytes] | None:
        """The next request and its body; None when the client left, idled out, or sent something not HTTP/1.1."""
        conn = link.conn
        request: h11.Request | None = None
        body: list[bytes] = []
        size = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await link.reply(exc.error_status_hint, _error_body(exc.error_status_hint, str(exc)), close=True)
                return None
            if event is h11.NEED_DATA:
                # A kept-alive connection waiting for its next request may idle out.
                idle = self.idle_timeout if conn.their_state is h11.IDLE and link.served else None
                try:
                    data = await asyncio.wait_for(link.reader.read(65536), idle)
                except asyncio.TimeoutError:
                    return None
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
                length = int(dict(event.headers).get(b"content-length", b"0") or 0)
                if length > MAX_BODY:
                    await link.reply(413, _error_body(413, "request body too large"), close=True)
                    return None
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_BODY:
                    await link.reply(413, _error_body(413, "request body too large"), close=True)
                    return None
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                link.served = True
                return request, b"".join(body)
            else:  # ConnectionClosed (or PAUSED after a request we did not finish): done
                return None

    async def _tunnel(self, link: _Link, authority: str) -> None:
        """Act as an HTTPS proxy for one ``CONNECT`` (to 127.0.0.1 only): relay bytes both ways until either side closes."""
        host, _, port = authority.rpartition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            await link.reply(403, _error_body(403, f"this test proxy tunnels to 127.0.0.1 only, not {authority}"), close=True)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError as exc:
            await link.reply(502, _error_body(502, f"cannot reach {authority}: {exc}"), close=True)
            return
        self.tunnels += 1
        self._writers.add(up_writer)
        link.writer.write(link.conn.send(h11.Response(status_code=200, headers=[], reason="Connection established"))
                          or b"")
        pending, _ = link.conn.trailing_data
        if pending:
            up_writer.write(pending)
        try:
            await asyncio.gather(_relay(link.reader, up_writer), _relay(up_reader, link.writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.close()

    async def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes, link: _Link) -> bool:
        # A client that takes this server for its proxy sends the whole URL (RFC 9112 section 3.2.2).
        path = (urlsplit(target).path if "://" in target else target).split("?", 1)[0]
        if method == "GET" and path == "/health":
            return await link.reply(200, {"status": "ok"})
        sent = headers.get("authorization", "")
        if self.api_key is not None and sent != f"Bearer {self.api_key}":
            self.outcomes["bad key"] += 1
            key = sent.removeprefix("Bearer ")
            return await link.reply(401, _error_body(401, f"Incorrect API key provided: {key}."))
        if method == "GET" and path == "/v1/models":
            entry: dict[str, Any] = {"id": self.model, "object": "model", "created": int(time.time()),
                                     "owned_by": self.owned_by}
            if self.root is not None:
                entry["root"] = self.root
            if self.max_model_len is not None:
                entry["max_model_len"] = self.max_model_len
            return await link.reply(200, {"object": "list", "data": [entry]})
        if method == "GET" and path == "/version" and self.version is not None:
            return await link.reply(200, {"version": self.version})
        if method == "POST" and path == "/tokenize" and self.tokenize:
            self.tokenize_requests += 1
            try:
                asked = json.loads(body)
            except ValueError:
                return await link.reply(400, _error_body(400, "request body is not JSON"))
            return await link.reply(200, fake_model.tokenize_answer(asked, self.max_model_len))
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            return await self._complete(path, target, headers, body, link)
        return await link.reply(404, _error_body(404, f"no route {method} {path}"))

    async def _complete(self, path: str, target: str, headers: dict[str, str], raw: bytes, link: _Link) -> bool:
        self.requests += 1
        number = self.requests
        if number > self.max_requests:
            self.outcomes["over budget"] += 1
            return await link.reply(503, _error_body(503, "fake server request budget used up"), close=True)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self.outcomes["bad request"] += 1
            return await link.reply(400, _error_body(400, "request body is not a JSON object"))
        chat = path.endswith("/chat/completions")
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        self._attempts[digest] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        hit = Hit(number=number, attempt=self._attempts[digest], path=path, body=body,
                  prompt=_prompt_of(body, chat), authorization=headers.get("authorization", ""),
                  in_flight=self.in_flight, received=time.monotonic(), target=target, headers=headers)
        if len(self.hits) < MAX_HITS:
            self.hits.append(hit)
        try:
            return await self._serve(hit, chat, link)
        finally:
            self.in_flight -= 1

    async def _serve(self, hit: Hit, chat: bool, link: _Link) -> bool:
        fault = self._rule(hit)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if fault is None:
            refusal = self._refusal(hit.body, chat)
            if refusal is not None:
                self.outcomes["400"] += 1
                return await link.reply(400, _error_body(400, refusal))
        if fault is None or fault.kind == "slow":
            if fault is not None and not await _slept_or_abandoned(fault.seconds, link):
                self.outcomes["abandoned"] += 1  # the client gave up: drop the work, as vLLM does
                return False
            try:
                payload = self._payload(hit, chat)
            except Exception as exc:  # a broken answer function is the test's bug: say so loudly
                self.outcomes["answer error"] += 1
                return await link.reply(500, _error_body(500, f"answer function failed: {exc!r}"))
            self.outcomes["ok" if fault is None else "slow"] += 1
            if self.chunked:
                return await link.reply_chunked(json.dumps(payload).encode(), close=not self.keep_alive)
            return await link.reply(200, payload, close=not self.keep_alive)
        self.outcomes[fault.kind if fault.kind != "http" else str(fault.status)] += 1
        return await self._misbehave(fault, hit, chat, link)

    async def _misbehave(self, fault: Fault, hit: Hit, chat: bool, link: _Link) -> bool:
        if fault.kind == "http":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return await link.reply(fault.status, _error_body(fault.status, fault.message), extra)
        if fault.kind == "echo_key":
            key = hit.authorization.removeprefix("Bearer ")
            return await link.reply(401, _error_body(401, f"Incorrect API key provided: {key}."))
        if fault.kind == "redirect":
            return await link.reply(fault.status, b"", {"Location": fault.message})
        if fault.kind == "malformed":
            return await link.reply(200, b'{"id": "fake", "object": "chat.completion", "choices": [{"ind')
        if fault.kind == "empty":
            return await link.reply(200, {"id": f"fake-{hit.number}", "object": "chat.completion",
                                          "created": int(time.time()), "model": self.model, "choices": []})
        if fault.kind == "drop":
            await link.drop_mid_body(json.dumps(self._payload(hit, chat)).encode())
            return False
        if fault.kind == "down":
            link.writer.transport.abort()
            self._go_down(fault.seconds)
            return False
        raise AssertionError(f"unknown fault kind {fault.kind!r}")

    def _refusal(self, body: dict[str, Any], chat: bool) -> str | None:
        """What a vLLM would refuse this request for (tools it cannot parse, a prompt past its context), or None."""
        if not self.tools and body.get("tools"):
            return fake_model.TOOLS_REFUSED
        return fake_model.context_refusal(body, chat, self.max_model_len)

    def _payload(self, hit: Hit, chat: bool) -> dict[str, Any]:
        if not chat and self.tokenize:
            scored = fake_model.choices_answer(hit.body, self.model, self.logprob)
            if scored is not None:
                return scored
        out = self._answer(hit.prompt)
        calls: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        if isinstance(out, dict):
            text = str(out.get("content") or "")
            calls = list(out.get("tool_calls") or [])
            extra = {key: out[key] for key in ("reasoning_content", "reasoning") if key in out}
        else:
            text = str(out)
        finish = out.get("finish_reason") if isinstance(out, dict) else None
        stops = hit.body.get("stop") or []
        for stop in [stops] if isinstance(stops, str) else stops:
            if stop and stop in text:
                text = text[: text.index(stop)]
        usage = {"prompt_tokens": len(hit.prompt.split()), "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice: dict[str, Any]
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": text, **extra}
            if calls:
                message["tool_calls"] = [
                    {"id": f"call_{hit.number}_{j}", "type": "function", "function": {
                        "name": c["name"],
                        "arguments": c["arguments"] if isinstance(c["arguments"], str) else json.dumps(c["arguments"]),
                    }} for j, c in enumerate(calls)]
            choice = {"index": 0, "message": message, "finish_reason": finish or ("tool_calls" if calls else "stop")}
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish or "stop"}
        answer = {"id": f"fake-{hit.number}", "object": "chat.completion" if chat else "text_completion",
                  "created": int(time.time()), "model": hit.body.get("model", self.model),
                  "choices": [choice], "usage": usage}
        if self.fingerprint is not None:
            answer["system_fingerprint"] = self.fingerprint
        return answer


async def _slept_or_abandoned(seconds: float, link: _Link) -> bool:
    """Wait ``seconds``; False as soon as the client closes the connection instead (it gave up)."""
    closed = asyncio.ensure_future(link.reader.read(1))  # clients here never pipeline: only EOF can come
    try:
        done, _ = await asyncio.wait([closed], timeout=seconds)
    finally:
        closed.cancel()
    return not done


def _prompt_of(body: dict[str, Any], chat: bool) -> str:
    if not chat:
        prompt = body.get("prompt", "")
        first = prompt[0] if isinstance(prompt, list) and prompt else prompt
        return " ".join(map(str, first)) if isinstance(first, list) else str(first)
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1], dict):
        return ""
    content = messages[-1].get("content") or ""
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": _ERROR_TYPES.get(status, "server_error"), "code": status}}


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Link:
    """One client connection: h11's state for it, its streams, and how to answer on it."""

    def __init__(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conn = conn
        self.reader = reader
        self.writer = writer
        #: Whether a request was read on it already (then it idles between requests).
        self.served = False
        #: Whether the current request accepts a gzip answer the server is set to give.
        self.gzip = False

    def _head(self, status: int, headers: list[tuple[str, str]], close: bool) -> bytes:
        headers = [("Content-Type", "application/json"), *headers]
        if close:
            headers.append(("Connection", "close"))
        return self.conn.send(h11.Response(status_code=status, headers=headers, reason=_reason(status))) or b""

    async def reply(self, status: int, payload: dict[str, Any] | bytes, extra: Mapping[str, str] | None = None,
                    close: bool = False) -> bool:
        """Write one response; returns whether the connection stays open."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = list((extra or {}).items())
        if self.gzip and body:
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        out = self._head(status, headers, close)
        if body:
            out += self.conn.send(h11.Data(data=body)) or b""
        self.writer.write(out + (self.conn.send(h11.EndOfMessage()) or b""))
        await self.writer.drain()
        return not close

    async def reply_chunked(self, body: bytes, close: bool) -> bool:
        """A 200 framed ``Transfer-Encoding: chunked`` in 64-byte chunks (so a client must reassemble them), with a trailer."""
        out = [self._head(200, [("Transfer-Encoding", "chunked")], close)]
        for start in range(0, len(body), 64):
            out.append(self.conn.send(h11.Data(data=body[start:start + 64])) or b"")
        out.append(self.conn.send(h11.EndOfMessage(headers=[("X-Trailer", "yes")])) or b"")
        self.writer.write(b"".join(out))
        await self.writer.drain()
        return not close

    async def drop_mid_body(self, body: bytes) -> None:
        """Announce ``body`` whole, send half of it, and drop the connection."""
        head = self._head(200, [("Content-Length", str(len(body)))], close=False)
        self.writer.write(head + (self.conn.send(h11.Data(data=body[: len(body) // 2])) or b""))
        await self.writer.drain()
        self.writer.transport.abort()


# -- command line ----------------------------------------------------------------------------

def parse_fault(spec: str) -> Fault:
    """A fault from its command-line spelling.

    ``429`` or ``429:SECONDS`` (Retry-After), any other status (``500``, ``503``),
    ``slow:SECONDS``, ``drop``, ``malformed``, ``empty``, ``down:SECONDS``.
    """
    kind, _, arg = spec.partition(":")
    try:
        if kind.isdigit():
            status = int(kind)
            if not 400 <= status <= 599:
                raise ValueError
            return Fault.http(status, retry_after=float(arg) if arg else None)
        if kind in ("slow", "down"):
            seconds = float(arg)
            return Fault.slow(seconds) if kind == "slow" else Fault.down(seconds)
        simple = {"drop": Fault.drop, "malformed": Fault.malformed, "empty": Fault.empty_choices}
        if kind in simple and not arg:
            return simple[kind]()
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"bad fault {spec!r}: use 429[:SECONDS], 500, 503, slow:SECONDS, drop, malformed, empty or down:SECONDS")


def _numbered(text: str) -> tuple[int, Fault]:
    number, sep, spec = text.partition("=")
    if not sep or not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: use N=FAULT, e.g. 3=503 or 5=slow:10")
    return int(number), parse_fault(spec)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until ``--lifetime`` runs out or Ctrl-C; prints the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_llmeval.testing.server",
        description="A fake OpenAI-compatible server on 127.0.0.1 (echoes prompts) with fault injection.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer (default 0)")
    parser.add_argument("--model", default="fake-model", help="model id listed by /v1/models (default fake-model)")
    parser.add_argument("--answer", default=None, metavar="TEXT", help="always answer TEXT (default: echo the prompt)")
    parser.add_argument("--fault", action="append", type=_numbered, default=[], metavar="N=FAULT",
                        help="request number N gets FAULT (repeatable), e.g. 3=503, 5=429:2, 7=slow:10")
    parser.add_argument("--fault-every", type=_numbered, default=None, metavar="K=FAULT",
                        help="every K-th request gets FAULT, e.g. 10=503")
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds (default 600)")
    parser.add_argument("--max-requests", type=int, default=100_000,
                        help="answer at most this many completion requests (default 100000)")
    args = parser.parse_args(argv)

    numbered: dict[int, Fault] = dict(args.fault)
    periodic: tuple[int, Fault] | None = args.fault_every

    def rule(hit: Hit) -> Fault | None:
        if hit.number in numbered:
            return numbered[hit.number]
        if periodic is not None and hit.number % periodic[0] == 0:
            return periodic[1]
        return None

    fixed = args.answer
    server = FakeServer(latency=args.latency, model=args.model, port=args.port, lifetime=args.lifetime,
                        max_requests=args.max_requests, faults=rule,
                        answer=None if fixed is None else (lambda prompt: fixed))
    server.start()

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # terminate() stops it as cleanly as Ctrl-C
    print(server.base_url, flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"served {server.requests} requests, at most {server.max_in_flight} at once: "
          f"{dict(server.outcomes)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
