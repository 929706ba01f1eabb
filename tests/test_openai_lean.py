"""The OpenAI backend's direct HTTP path for plain-http servers (``_DirectPoster``) and its window.

The fault-by-fault behaviour of both paths is in ``test_openai_backend.py``. Here: which path a
URL takes, the bytes the direct path sends, responses framed or split in awkward ways (from a
scripted socket server), connection reuse, keep-alive connections the server closed, error
texts identical to the openai client's, and the window's slot hand-over.
"""

from __future__ import annotations

import asyncio
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_llmeval.backends.base import BackendError
from pytest_llmeval.backends.openai_backend import OpenAIBackend, _DirectPoster, _OpenAIPoster, _Window
from pytest_llmeval.testing.server import FakeServer
from test_openai_backend import backend_for, collect, questions  # tests/ is on sys.path (rootdir import mode)

openai = pytest.importorskip("openai")

#: The pieces written for one request (each a separate write, a pause between), or None: close unanswered.
Script = Callable[[int, int], "list[bytes] | None"]
#: A last piece that closes the connection after the reply (without a ``Connection: close`` header).
HANG_UP = b""


def ok_body(text: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}).encode()


def answer(text: str = "hello", status: str = "200 OK", extra: bytes = b"") -> list[bytes]:
    body = ok_body(text)
    return [b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status.encode(), len(body), extra, body)]


class RawServer(socketserver.ThreadingTCPServer):
    """A loopback HTTP server that answers with scripted bytes, for framing and connection tests.

    ``script(connection, number)`` gives the reply to the ``number``-th request (1-based) on the
    ``connection``-th connection. It records each request's head and body as received.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.script = script
        self.connections = 0
        self.received: list[tuple[bytes, bytes]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> RawServer:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _RawHandler(socketserver.BaseRequestHandler):
    server: RawServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.lock:
            self.server.connections += 1
            connection = self.server.connections
        reader = sock.makefile("rb")
        number = 0
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = reader.read(length)
            number += 1
            with self.server.lock:
                self.server.received.append((head, body))
            pieces = self.server.script(connection, number)
            if pieces is None:
                return
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(0.01)
            if pieces[-1] == HANG_UP or any(b"Connection: close" in piece for piece in pieces):
                return


def run_raw(script: Script, n: int = 1, **kwargs: object) -> tuple[RawServer, dict[int, object]]:
    kwargs.setdefault("concurrency", 1)
    with RawServer(script) as srv:
        out = collect(backend_for(srv, **kwargs), questions(n))  # type: ignore[arg-type]
    return srv, out  # type: ignore[return-value]


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    yield


# -- which path ----------------------------------------------------------------------------------

def poster_for(url: str) -> object:
    poster = OpenAIBackend("m", base_url=url, api_key="sk-test")._poster(openai)
    asyncio.run(poster.aclose())
    return poster


def test_plain_http_goes_direct_and_https_or_a_proxy_through_openai(
        no_proxy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(poster_for("http://127.0.0.1:8000/v1"), _DirectPoster)
    assert isinstance(poster_for("https://api.example.com/v1"), _OpenAIPoster)
    monkeypatch.setattr(OpenAIBackend, "fast_http", False)
    assert isinstance(poster_for("http://127.0.0.1:8000/v1"), _OpenAIPoster)
    monkeypatch.setattr(OpenAIBackend, "fast_http", True)
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    assert isinstance(poster_for("http://10.1.2.3:8000/v1"), _OpenAIPoster)


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it() -> None:
    with pytest.raises(BackendError, match="characters an HTTP header cannot carry") as caught:
        OpenAIBackend("m", base_url="http://127.0.0.1:8000/v1", api_key="sk-secret\r\nX-Evil: 1")
    assert "sk-secret" not in str(caught.value)


# -- what goes out ---------------------------------------------------------------------------------

def test_the_request_is_a_minimal_http11_post_with_compact_json(no_proxy: None) -> None:
    srv, out = run_raw(lambda conn, number: answer("hi"), api_key="sk-test-key")
    assert out[0].ok and out[0].text == "hi"  # type: ignore[attr-defined]
    head, body = srv.received[0]
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
    assert headers["Host"] == f"127.0.0.1:{srv.server_address[1]}"
    assert headers["Authorization"] == "Bearer sk-test-key"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("pytest-llmeval")
    assert int(headers["Content-Length"]) == len(body)
    assert body == json.dumps(json.loads(body), separators=(",", ":")).encode()  # compact
    assert json.loads(body)["messages"] == [{"role": "user", "content": "question 0"}]


# -- how answers come back -------------------------------------------------------------------------

def test_a_response_split_across_reads_is_reassembled(no_proxy: None) -> None:
    whole = answer("split in four")[0]
    head_end = whole.index(b"\r\n\r\n")
    pieces = [whole[:20], whole[20:head_end + 1], whole[head_end + 1:head_end + 30], whole[head_end + 30:]]
    _, out = run_raw(lambda conn, number: pieces)
    assert out[0].text == "split in four"  # type: ignore[attr-defined]


def test_a_chunked_response_split_mid_chunk_with_extensions_and_trailers(no_proxy: None) -> None:
    body = ok_body("chunky " * 30)
    chunks = b"".join(b"%x;name=v\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50]) for i in range(0, len(body), 50))
    stream = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
              + b"0\r\nX-Checksum: none\r\n\r\n")
    pieces = [stream[i:i + 37] for i in range(0, len(stream), 37)]  # cuts through sizes and data
    srv, out = run_raw(lambda conn, number: pieces, n=3)
    assert all(r.text == "chunky " * 30 for r in out.values())  # type: ignore[attr-defined]
    assert srv.connections == 1  # a chunked answer leaves the connection usable


def test_a_body_without_length_runs_to_the_close_and_the_connection_is_not_reused(no_proxy: None) -> None:
    body = ok_body("until eof")
    srv, out = run_raw(lambda conn, number: [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body], n=2)
    assert [r.text for r in out.values()] == ["until eof", "until eof"]  # type: ignore[attr-defined]
    assert srv.connections == 2


def test_connections_are_reused(no_proxy: None) -> None:
    with FakeServer(latency=0.01) as srv:
        out = collect(backend_for(srv, concurrency=4), questions(40))
    assert all(r.ok for r in out.values())
    assert srv.connections <= 4


def test_the_pool_keeps_a_connection_for_every_request_in_flight(no_proxy: None) -> None:
    # Two bursts of 80 at once: every connection of the first is kept for the second (an
    # earlier version kept at most 64 idle, so each burst past that reconnected).
    async def bursts(url: str) -> None:
        poster = OpenAIBackend("m", base_url=url, concurrency=80)._poster(openai)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        try:
            for _ in range(2):
                await asyncio.gather(*(poster.post("/chat/completions", url, body) for _ in range(80)))
        finally:
            await poster.aclose()

    with FakeServer(latency=0.02) as srv:
        asyncio.run(asyncio.wait_for(bursts(srv.base_url), 30))
    assert srv.requests == 160 and srv.connections == 80


@pytest.mark.parametrize("when", ["right after answering", "on the next request"])
def test_a_keep_alive_connection_the_server_closed_is_replaced_transparently(when: str, no_proxy: None) -> None:
    def script(connection: int, number: int) -> list[bytes] | None:
        if when == "right after answering":
            return [*answer(f"answer {connection}"), HANG_UP]
        # The idle connection timed out on the server just as the second request came.
        return None if (connection, number) == (1, 2) else answer(f"answer {connection}")

    srv, out = run_raw(script, n=2, max_retries=0)
    assert [r.text for r in out.values()] == ["answer 1", "answer 2"]  # type: ignore[attr-defined]
    assert all(r.meta["retries"] == 0 for r in out.values())  # type: ignore[attr-defined]
    assert srv.connections == 2


def test_a_fresh_connection_closed_unanswered_is_a_retryable_failure(no_proxy: None) -> None:
    srv, out = run_raw(lambda conn, number: None, max_retries=1)
    error = out[0].error or ""  # type: ignore[attr-defined]
    assert error.startswith(f"connection to {srv.base_url}/chat/completions failed: server closed the connection")
    assert error.endswith("(gave up after 1 retry)")
    assert len(srv.received) == 2


def test_a_garbled_response_head_is_a_retryable_failure(no_proxy: None) -> None:
    srv, out = run_raw(lambda conn, number: [b"SPDY/3 200 OK\r\n\r\n"], max_retries=1)
    assert "failed: invalid response" in (out[0].error or "")  # type: ignore[attr-defined]
    assert len(srv.received) == 2


def test_retry_after_ms_is_honoured(no_proxy: None) -> None:
    def script(connection: int, number: int) -> list[bytes]:
        if connection == 1 and number == 1:
            return answer(status="429 Too Many Requests", extra=b"retry-after-ms: 400\r\n")
        return answer("late")
    started = time.monotonic()
    _, out = run_raw(script)
    assert out[0].text == "late" and time.monotonic() - started >= 0.4  # type: ignore[attr-defined]


# -- the same error texts as the openai client -------------------------------------------------

ERRORS = {
    "openai-shaped": b"503 Service Unavailable", "fastapi-detail": b"422 Unprocessable Entity",
    "plain-text": b"400 Bad Request", "empty": b"404 Not Found", "error-string": b"418 I'm a teapot",
    "json-list": b"500 Internal Server Error", "401": b"401 Unauthorized",
    "malformed": b"200 OK", "no-choices": b"200 OK", "not-an-object": b"200 OK",
}
BODIES = {
    "openai-shaped": b'{"error": {"message": "overloaded", "type": "server_error"}}',
    "fastapi-detail": b'{"detail": "field max_tokens: must be positive"}',
    "plain-text": b"  nope, not like that \n", "empty": b"", "error-string": b'{"error": "short and stout"}',
    "json-list": b"[1, 2]", "401": b'{"error": {"message": "Incorrect API key provided: sk-canary-1234."}}',
    "malformed": b'{"choices": [{"ind', "no-choices": b'{"choices": []}',
    "not-an-object": b"[]",
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_read_exactly_as_through_the_openai_client(case: str, no_proxy: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    body = BODIES[case]
    reply = [b"HTTP/1.1 %s\r\nLocation: /elsewhere\r\nContent-Length: %d\r\n\r\n%s" % (ERRORS[case], len(body), body)]
    errors = []
    for direct in (True, False):
        monkeypatch.setattr(OpenAIBackend, "fast_http", direct)
        with RawServer(lambda conn, number: reply) as srv:
            backend = backend_for(srv, max_retries=0, api_key="sk-canary-1234")
            response = collect(backend, questions(1))[0]
            errors.append((response.error.replace(srv.base_url, "URL") if response.error else None,
                           response.meta.get("status")))
    assert errors[0] == errors[1]
    assert errors[0][0] is not None and "sk-canary-1234" not in errors[0][0]


def test_a_redirect_is_reported_not_followed(no_proxy: None) -> None:
    # As the lean transport before it; openai's own transport (https) follows redirects.
    reply = [b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2/chat/completions\r\nContent-Length: 0\r\n\r\n"]
    srv, out = run_raw(lambda conn, number: reply)
    assert out[0].error == f"HTTP 307 from {srv.base_url}/chat/completions: Temporary Redirect (not retried)"  # type: ignore[attr-defined]
    assert len(srv.received) == 1


# -- the window ------------------------------------------------------------------------------------

def test_the_window_hands_slots_to_the_oldest_live_waiter() -> None:
    async def scenario() -> None:
        window = _Window(1)
        await window.acquire()
        order: list[str] = []

        async def take(name: str) -> None:
            await window.acquire()
            order.append(name)

        a, b, _c, d = (asyncio.create_task(take(name)) for name in "abcd")
        await asyncio.sleep(0)
        a.cancel()  # cancelled while waiting: skipped
        await asyncio.sleep(0)
        window.release()  # the slot goes to b ...
        b.cancel()  # ... which is cancelled before it runs, and passes it on to c
        await asyncio.sleep(0.01)
        assert order == ["c"] and window.active == 1 and not d.done()
        window.release()
        await asyncio.sleep(0.01)
        assert order == ["c", "d"] and window.active == 1 and not window._waiters
        window.release()
        assert window.active == 0

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_releases_wake_no_more_waiters_than_free_slots() -> None:
    async def scenario() -> None:
        window = _Window(2)
        await window.acquire()
        await window.acquire()
        waiting = [asyncio.create_task(window.acquire()) for _ in range(5)]
        await asyncio.sleep(0)
        window.release()
        window.release()
        await asyncio.sleep(0.01)
        assert sum(t.done() for t in waiting) == 2 and window.active == 2 and len(window._waiters) == 3
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_a_request_woken_during_a_retry_after_pause_waits_it_out() -> None:
    async def scenario() -> float:
        window = _Window(1)
        epoch = await window.acquire()
        waiter = asyncio.create_task(window.acquire())
        await asyncio.sleep(0)
        started = time.monotonic()
        window.release()  # hands the slot over, then the 429 that came with it pauses everyone
        window.throttled(epoch, 0.3)
        await waiter
        return time.monotonic() - started

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) >= 0.29
