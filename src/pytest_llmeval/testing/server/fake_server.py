"""The fake server itself: :class:`FakeServer`, its asyncio loop in a background thread, and
how it routes, answers and misbehaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import h11

from .. import fake_model
from ..fake_model import LogProb
from .faults import Fault, Hit, Rule
from .link import Link, error_body, relay

#: Largest request body accepted (bytes); bigger ones get 413. Keeps a stray client bounded.
MAX_BODY = 8 * 1024 * 1024
#: Largest request head (request line and headers) accepted, in bytes.
MAX_HEAD = 64 * 1024
#: ``hits`` keeps the first this many requests (the counters count them all).
MAX_HITS = 20_000

#: What the server says for a prompt: text, or ``{"content": ..., "tool_calls": [{"name", "arguments"}]}``,
#: optionally with ``"finish_reason"`` (e.g. "length") and a separate trace (``"reasoning_content"``
#: or ``"reasoning"``) sent beside the content, as reasoning servers do.
Answer = str | dict[str, Any]


def _echo(prompt: str) -> Answer:
    return prompt


class FakeServer:
    """An OpenAI-compatible server on 127.0.0.1 for tests; see :mod:`pytest_llmeval.testing.server`.

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
        link = Link(h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD), reader, writer)
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

    async def _receive(self, link: Link) -> tuple[h11.Request, bytes] | None:
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
                    await link.reply(exc.error_status_hint, error_body(exc.error_status_hint, str(exc)), close=True)
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
                    await link.reply(413, error_body(413, "request body too large"), close=True)
                    return None
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_BODY:
                    await link.reply(413, error_body(413, "request body too large"), close=True)
                    return None
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                link.served = True
                return request, b"".join(body)
            else:  # ConnectionClosed (or PAUSED after a request we did not finish): done
                return None

    async def _tunnel(self, link: Link, authority: str) -> None:
        """Act as an HTTPS proxy for one ``CONNECT`` (to 127.0.0.1 only): relay bytes both ways until either side closes."""
        host, _, port = authority.rpartition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            await link.reply(403, error_body(403, f"this test proxy tunnels to 127.0.0.1 only, not {authority}"), close=True)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError as exc:
            await link.reply(502, error_body(502, f"cannot reach {authority}: {exc}"), close=True)
            return
        self.tunnels += 1
        self._writers.add(up_writer)
        link.writer.write(link.conn.send(h11.Response(status_code=200, headers=[], reason="Connection established"))
                          or b"")
        pending, _ = link.conn.trailing_data
        if pending:
            up_writer.write(pending)
        try:
            await asyncio.gather(relay(link.reader, up_writer), relay(up_reader, link.writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.close()

    async def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes, link: Link) -> bool:
        # A client that takes this server for its proxy sends the whole URL (RFC 9112 section 3.2.2).
        path = (urlsplit(target).path if "://" in target else target).split("?", 1)[0]
        if method == "GET" and path == "/health":
            return await link.reply(200, {"status": "ok"})
        sent = headers.get("authorization", "")
        if self.api_key is not None and sent != f"Bearer {self.api_key}":
            self.outcomes["bad key"] += 1
            key = sent.removeprefix("Bearer ")
            return await link.reply(401, error_body(401, f"Incorrect API key provided: {key}."))
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
                return await link.reply(400, error_body(400, "request body is not JSON"))
            return await link.reply(200, fake_model.tokenize_answer(asked, self.max_model_len))
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            return await self._complete(path, target, headers, body, link)
        return await link.reply(404, error_body(404, f"no route {method} {path}"))

    async def _complete(self, path: str, target: str, headers: dict[str, str], raw: bytes, link: Link) -> bool:
        self.requests += 1
        number = self.requests
        if number > self.max_requests:
            self.outcomes["over budget"] += 1
            return await link.reply(503, error_body(503, "fake server request budget used up"), close=True)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self.outcomes["bad request"] += 1
            return await link.reply(400, error_body(400, "request body is not a JSON object"))
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

    async def _serve(self, hit: Hit, chat: bool, link: Link) -> bool:
        fault = self._rule(hit)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if fault is None:
            refusal = self._refusal(hit.body, chat)
            if refusal is not None:
                self.outcomes["400"] += 1
                return await link.reply(400, error_body(400, refusal))
        if fault is None or fault.kind == "slow":
            if fault is not None and not await _slept_or_abandoned(fault.seconds, link):
                self.outcomes["abandoned"] += 1  # the client gave up: drop the work, as vLLM does
                return False
            try:
                payload = self._payload(hit, chat)
            except Exception as exc:  # a broken answer function is the test's bug: say so loudly
                self.outcomes["answer error"] += 1
                return await link.reply(500, error_body(500, f"answer function failed: {exc!r}"))
            self.outcomes["ok" if fault is None else "slow"] += 1
            if self.chunked:
                return await link.reply_chunked(json.dumps(payload).encode(), close=not self.keep_alive)
            return await link.reply(200, payload, close=not self.keep_alive)
        self.outcomes[fault.kind if fault.kind != "http" else str(fault.status)] += 1
        return await self._misbehave(fault, hit, chat, link)

    async def _misbehave(self, fault: Fault, hit: Hit, chat: bool, link: Link) -> bool:
        if fault.kind == "http":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return await link.reply(fault.status, error_body(fault.status, fault.message), extra)
        if fault.kind == "echo_key":
            key = hit.authorization.removeprefix("Bearer ")
            return await link.reply(401, error_body(401, f"Incorrect API key provided: {key}."))
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


async def _slept_or_abandoned(seconds: float, link: Link) -> bool:
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
