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

from .cli import main, parse_fault
from .fake_server import MAX_BODY, MAX_HEAD, MAX_HITS, Answer, FakeServer
from .faults import Fault, FaultKind, Hit, Rule, every, first_tries, http_date

__all__ = [
    "MAX_BODY", "MAX_HEAD", "MAX_HITS", "Answer", "FakeServer", "Fault", "FaultKind", "Hit", "Rule", "every",
    "first_tries", "http_date", "main", "parse_fault",
]
