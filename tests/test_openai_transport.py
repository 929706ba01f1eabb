"""The OpenAI backend's HTTP layer (aiohttp, through ``backends/openai/transport.py``) against real servers.

What the client must get right comes from the library; these tests check that it does, end to
end: proxies from the environment (an HTTP proxy, ``NO_PROXY``, an HTTPS proxy's ``CONNECT``
tunnel), TLS with a certificate trusted through ``SSL_CERT_FILE`` (made by the ``openssl``
command), redirects reported and not followed, gzip and chunked bodies, and keep-alive
connections the server closes. Two servers: the project's FakeServer (h11), and ``RawServer``
here, which parses requests with h11 but answers with scripted bytes, so responses can be
framed, split or broken in ways no well-behaved server would.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h11
import pytest

from pytest_llmeval.backends.base import BackendError
from pytest_llmeval.backends.openai import OpenAIBackend
from pytest_llmeval.request import Response
from pytest_llmeval.testing.server import FakeServer, Fault
from test_openai_backend import backend_for, collect, questions  # tests/ is on sys.path (rootdir import mode)

pytest.importorskip("aiohttp")

#: The pieces written for one request (each a separate write, a pause between), or None: close unanswered.
Script = Callable[[int, int], "list[bytes] | None"]
#: A last piece that closes the connection after the reply (without a ``Connection: close`` header).
HANG_UP = b""
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test here depends on the machine's proxy settings; the proxy tests set their own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield


def ok_body(text: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}).encode()


def answer(text: str = "hello", status: str = "200 OK", extra: bytes = b"", body: bytes | None = None) -> list[bytes]:
    body = ok_body(text) if body is None else body
    return [b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status.encode(), len(body), extra, body)]


@dataclass
class Received:
    """One request as RawServer read it (through h11)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class RawServer(socketserver.ThreadingTCPServer):
    """A loopback HTTP server that reads requests with h11 and answers with scripted bytes.

    ``script(connection, number)`` gives the reply to the ``number``-th request (1-based) on the
    ``connection``-th connection. It records each request as received.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.script = script
        self.connections = 0
        self.received: list[Received] = []
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
        with self.server.lock:
            self.server.connections += 1
            connection = self.server.connections
        leftover = b""
        number = 0
        while True:
            received, leftover = self._read_request(leftover)
            if received is None:
                return
            number += 1
            with self.server.lock:
                self.server.received.append(received)
            pieces = self.server.script(connection, number)
            if pieces is None:
                return
            for piece in pieces:
                self.request.sendall(piece)
                time.sleep(0.01)
            if pieces[-1] == HANG_UP or any(b"Connection: close" in piece for piece in pieces):
                return

    def _read_request(self, leftover: bytes) -> tuple[Received | None, bytes]:
        """The next request (None when the client closed) and the bytes read past it."""
        conn = h11.Connection(h11.SERVER)
        if leftover:  # (an empty string would tell h11 the client closed)
            conn.receive_data(leftover)
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(self.request.recv(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                headers = {name.decode(): value.decode() for name, value in request.headers}
                return Received(request.method.decode(), request.target.decode(), headers, body), conn.trailing_data[0]
            else:
                return None, b""


def run_raw(script: Script, n: int = 1, **kwargs: object) -> tuple[RawServer, dict[int, Response]]:
    kwargs.setdefault("concurrency", 1)
    with RawServer(script) as srv:
        out = collect(backend_for(srv, **kwargs), questions(n))  # type: ignore[arg-type]
    return srv, out


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it() -> None:
    with pytest.raises(BackendError, match="characters an HTTP header cannot carry") as caught:
        OpenAIBackend("m", base_url="http://127.0.0.1:8000/v1", api_key="sk-secret\r\nX-Evil: 1")
    assert "sk-secret" not in str(caught.value)


# -- what goes out ---------------------------------------------------------------------------------

def test_the_request_is_an_http11_post_with_compact_json() -> None:
    srv, out = run_raw(lambda conn, number: answer("hi"), api_key="sk-test-key")
    assert out[0].ok and out[0].text == "hi"
    request = srv.received[0]
    assert (request.method, request.target) == ("POST", "/v1/chat/completions")
    assert request.headers["host"] == f"127.0.0.1:{srv.server_address[1]}"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("pytest-llmeval")
    assert "gzip" in request.headers["accept-encoding"]
    assert int(request.headers["content-length"]) == len(request.body)
    assert request.body == json.dumps(json.loads(request.body), separators=(",", ":")).encode()  # compact
    assert json.loads(request.body)["messages"] == [{"role": "user", "content": "question 0"}]


# -- how answers come back -------------------------------------------------------------------------

def test_a_response_split_across_reads_is_reassembled() -> None:
    whole = answer("split in four")[0]
    head_end = whole.index(b"\r\n\r\n")
    pieces = [whole[:20], whole[20:head_end + 1], whole[head_end + 1:head_end + 30], whole[head_end + 30:]]
    _, out = run_raw(lambda conn, number: pieces)
    assert out[0].text == "split in four"


def test_a_chunked_response_split_mid_chunk_with_extensions_and_trailers() -> None:
    body = ok_body("chunky " * 30)
    chunks = b"".join(b"%x;name=v\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50]) for i in range(0, len(body), 50))
    stream = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
              + b"0\r\nX-Checksum: none\r\n\r\n")
    pieces = [stream[i:i + 37] for i in range(0, len(stream), 37)]  # cuts through sizes and data
    srv, out = run_raw(lambda conn, number: pieces, n=3)
    assert all(r.text == "chunky " * 30 for r in out.values())
    assert srv.connections == 1  # a chunked answer leaves the connection usable


def test_a_body_without_length_runs_to_the_close_and_the_connection_is_not_reused() -> None:
    body = ok_body("until eof")
    srv, out = run_raw(lambda conn, number: [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body], n=2)
    assert [r.text for r in out.values()] == ["until eof", "until eof"]
    assert srv.connections == 2


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_gzip_answers_are_decompressed(chunked: bool) -> None:
    long = "compressible " * 100
    with FakeServer(answer=lambda prompt: long + prompt, gzip=True, chunked=chunked) as srv:
        out = collect(backend_for(srv, concurrency=2), questions(4))
    assert [out[i].text for i in range(4)] == [long + f"question {i}" for i in range(4)]
    assert all("gzip" in hit.headers["accept-encoding"] for hit in srv.hits)


def test_a_scripted_gzip_body_is_read_and_a_corrupt_one_is_an_invalid_response() -> None:
    packed = gzip.compress(ok_body("from gzip"))
    _, out = run_raw(lambda conn, number: answer(body=packed, extra=b"Content-Encoding: gzip\r\n"))
    assert out[0].text == "from gzip"
    corrupt = packed[:10] + bytes(len(packed) - 10)
    _, out = run_raw(lambda conn, number: answer(body=corrupt, extra=b"Content-Encoding: gzip\r\n"), max_retries=1)
    error = out[0].error or ""
    assert error.startswith("connection to ") and "failed: invalid response: " in error
    assert error.endswith("(gave up after 1 retry)")


def test_connections_are_reused() -> None:
    with FakeServer(latency=0.01) as srv:
        out = collect(backend_for(srv, concurrency=4), questions(40))
    assert all(r.ok for r in out.values())
    assert srv.connections <= 4


def test_the_pool_keeps_a_connection_for_every_request_in_flight() -> None:
    # 160 requests, 80 at a time: every connection of the first 80 is reused (an earlier
    # version kept at most 64 idle, so each burst past that reconnected).
    with FakeServer(latency=0.3) as srv:  # long enough for all 80 to be in flight at once on a busy machine
        backend = backend_for(srv, concurrency=80)
        asyncio.run(asyncio.wait_for(backend.run_async(questions(160), lambda i, r: None), 30))
    assert srv.requests == 160 and srv.connections == 80 and srv.max_in_flight == 80


# -- connections the server closes ------------------------------------------------------------------

@pytest.mark.parametrize("when", ["right after answering", "on the next request"])
def test_a_keep_alive_connection_the_server_closed_is_replaced_transparently(when: str) -> None:
    def script(connection: int, number: int) -> list[bytes] | None:
        if when == "right after answering":
            return [*answer(f"answer {connection}"), HANG_UP]
        # The idle connection timed out on the server just as the second request came.
        return None if (connection, number) == (1, 2) else answer(f"answer {connection}")

    srv, out = run_raw(script, n=2, max_retries=0)
    assert [r.text for r in out.values()] == ["answer 1", "answer 2"]
    assert all(r.meta["retries"] == 0 for r in out.values())
    assert srv.connections == 2


def test_connections_closed_by_the_servers_idle_timeout_are_replaced() -> None:
    # A 429's Retry-After holds every request for 0.4 s; the server closes connections idle for
    # 0.1 s meanwhile (as uvicorn's --timeout-keep-alive does), so the requests after the pause
    # must find fresh connections without losing an answer or counting a retry.
    with FakeServer(latency=0.01, idle_timeout=0.1, faults={3: Fault.rate_limit(retry_after=0.4)}) as srv:
        out = collect(backend_for(srv, concurrency=2, max_retries=1), questions(12))
    assert [out[i].text for i in range(12)] == [f"question {i}" for i in range(12)]
    assert sum(r.meta["retries"] for r in out.values()) == 1
    assert srv.connections > 2


def test_a_fresh_connection_closed_unanswered_is_a_retryable_failure() -> None:
    srv, out = run_raw(lambda conn, number: None, max_retries=1)
    error = out[0].error or ""
    assert error == (f"connection to {srv.base_url}/chat/completions failed: server closed the connection "
                     f"before answering (ServerDisconnectedError) (gave up after 1 retry)")
    assert len(srv.received) == 2


def test_a_garbled_response_head_is_a_retryable_failure() -> None:
    srv, out = run_raw(lambda conn, number: [b"SPDY/3 200 OK\r\n\r\n"], max_retries=1)
    error = out[0].error or ""
    assert error.startswith(f"connection to {srv.base_url}/chat/completions failed: invalid response: ")
    assert "SPDY/3 200 OK" in error and "\n" not in error
    assert len(srv.received) == 2


def test_retry_after_ms_is_honoured() -> None:
    def script(connection: int, number: int) -> list[bytes]:
        if connection == 1 and number == 1:
            return answer(status="429 Too Many Requests", extra=b"retry-after-ms: 400\r\n")
        return answer("late")
    started = time.monotonic()
    _, out = run_raw(script)
    assert out[0].text == "late" and time.monotonic() - started >= 0.4


# -- error texts, word for word ----------------------------------------------------------------------

ERRORS = {  # case: (status line, body, the item's error with the base URL as "URL", meta status)
    "openai-shaped": (b"503 Service Unavailable", b'{"error": {"message": "overloaded", "type": "server_error"}}',
                      "HTTP 503 from URL/chat/completions: overloaded (gave up after 0 retries)", 503),
    "fastapi-detail": (b"422 Unprocessable Entity", b'{"detail": "field max_tokens: must be positive"}',
                       "HTTP 422 from URL/chat/completions: field max_tokens: must be positive (not retried)", 422),
    "plain-text": (b"400 Bad Request", b"  nope, not like that \n",
                   "HTTP 400 from URL/chat/completions: nope, not like that (not retried)", 400),
    "empty": (b"404 Not Found", b"", "HTTP 404 from URL/chat/completions: Not Found (not retried)", 404),
    "error-string": (b"418 I'm a teapot", b'{"error": "short and stout"}',
                     "HTTP 418 from URL/chat/completions: short and stout (not retried)", 418),
    "json-list": (b"500 Internal Server Error", b"[1, 2]",
                  "HTTP 500 from URL/chat/completions: Internal Server Error (gave up after 0 retries)", 500),
    "401": (b"401 Unauthorized", b'{"error": {"message": "Incorrect API key provided: sk-canary-1234."}}',
            "HTTP 401 from URL/chat/completions: Incorrect API key provided: [api key]. (not retried)", 401),
    "malformed": (b"200 OK", b'{"choices": [{"ind',
                  "malformed JSON from URL/chat/completions: Unterminated string starting at: line 1 column 15 "
                  "(char 14) (gave up after 0 retries)", None),
    "no-choices": (b"200 OK", b'{"choices": []}',
                   "response from URL/chat/completions has no choices (gave up after 0 retries)", None),
    "not-an-object": (b"200 OK", b"[]", "response from URL/chat/completions has no choices (gave up after 0 retries)",
                      None),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_read_as_they_always_have(case: str) -> None:
    # The texts the backend gave through the openai client and its own HTTP client before aiohttp.
    status_line, body, expected, status = ERRORS[case]
    reply = [b"HTTP/1.1 %s\r\nLocation: /elsewhere\r\nContent-Length: %d\r\n\r\n%s" % (status_line, len(body), body)]
    with RawServer(lambda conn, number: reply) as srv:
        response = collect(backend_for(srv, max_retries=0, api_key="sk-canary-1234"), questions(1))[0]
    assert (response.error or "").replace(srv.base_url, "URL") == expected
    assert response.meta.get("status") == status


# -- redirects -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_reported_not_followed(status: int) -> None:
    with FakeServer() as target, FakeServer(faults=lambda hit: Fault.redirect(target.base_url + "/chat/completions",
                                                                              status)) as srv:
        out = collect(backend_for(srv), questions(1))
    phrase = {301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
              308: "Permanent Redirect"}[status]
    assert out[0].error == f"HTTP {status} from {srv.base_url}/chat/completions: {phrase} (not retried)"
    assert srv.requests == 1 and target.requests == 0


# -- proxies from the environment ------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_an_http_proxy_from_the_environment_is_used(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as proxy, FakeServer() as origin:
        monkeypatch.setenv(variable, proxy.url)
        out = collect(backend_for(origin), questions(2))
    assert all(r.ok for r in out.values())
    assert origin.requests == 0 and proxy.requests == 2
    assert {hit.target for hit in proxy.hits} == {f"{origin.base_url}/chat/completions"}  # absolute-form: a proxy request


def test_no_proxy_sends_a_host_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as proxy, FakeServer() as origin:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        out = collect(backend_for(origin), questions(2))
    assert all(r.ok for r in out.values())
    assert proxy.requests == 0 and origin.requests == 2
    assert {hit.target for hit in origin.hits} == {"/v1/chat/completions"}


# -- TLS -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by the ``openssl`` command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=pytest-llmeval test",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_server(certificate: tuple[Path, Path], **kwargs: object) -> FakeServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return FakeServer(tls=context, **kwargs)  # type: ignore[arg-type]


def test_https_with_a_certificate_trusted_through_ssl_cert_file(
        certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with tls_server(certificate, chunked=True, gzip=True) as srv:
        assert srv.base_url.startswith("https://127.0.0.1:")
        backend = backend_for(srv, concurrency=3)
        backend.check()
        checked = srv.connections
        out = collect(backend, questions(9))
    assert [out[i].text for i in range(9)] == [f"question {i}" for i in range(9)]
    assert checked == 1 and srv.connections - checked <= 3


def test_an_untrusted_certificate_is_reported_with_what_to_do(
        certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-roots.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    with tls_server(certificate) as srv:
        backend = backend_for(srv, max_retries=0)
        with pytest.raises(BackendError) as caught:
            backend.check()
        out = collect(backend, questions(1))
    assert str(caught.value).startswith(f"cannot reach {srv.base_url}: TLS certificate not trusted (")
    assert "set SSL_CERT_FILE to its certificate; is the server running" in str(caught.value)
    assert (out[0].error or "").startswith(f"connection to {srv.base_url}/chat/completions failed: TLS certificate "
                                           f"not trusted (")
    assert srv.requests == 0


def test_https_through_a_proxy_tunnel(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with FakeServer() as proxy, tls_server(certificate) as origin:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        out = collect(backend_for(origin, concurrency=2), questions(4))
    assert all(r.ok for r in out.values())
    assert origin.requests == 4 and proxy.requests == 0
    assert 1 <= proxy.tunnels <= 2  # CONNECT tunnels, reused like any connection
