"""The OpenAI backend's own policy, without a server: retry classification, backoff, Retry-After, the AIMD window."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from pytest_llmeval.backends.openai.policy import (
    RETRYABLE_STATUSES,
    backoff_delay,
    capped,
    error_body,
    retry_after_seconds,
    server_message,
    status_failure,
)
from pytest_llmeval.backends.openai.window import Window
from pytest_llmeval.testing.server import http_date

# -- which failures are retried ----------------------------------------------------------------

@pytest.mark.parametrize("status", range(400, 600))
def test_every_status_is_classified(status: int) -> None:
    failure = status_failure(status, "URL", "why", {})
    assert failure.text == f"HTTP {status} from URL: why"
    assert failure.status == status
    assert failure.retryable == (status >= 500 or status in (408, 409, 425, 429))


def test_the_retryable_4xx_are_the_documented_ones() -> None:
    assert frozenset({408, 409, 425, 429}) == RETRYABLE_STATUSES


def test_a_failure_carries_the_servers_retry_after() -> None:
    assert status_failure(429, "URL", "slow down", {"retry-after": "3"}).retry_after == 3.0
    assert status_failure(503, "URL", "later", {}).retry_after is None


# -- Retry-After ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "2"}, 2.0),
    ({"retry-after": "0.5"}, 0.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
    ({}, None),
    ({"retry-after": ""}, None),
    ({"retry-after": "soon"}, None),
])
def test_retry_after_parsing(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


def test_retry_after_as_an_http_date() -> None:
    seconds = retry_after_seconds({"retry-after": http_date(30)})
    assert seconds is not None and 28 <= seconds <= 31
    past = retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert past is not None and past < 0 and capped(past, 120.0) == 0.0


@pytest.mark.parametrize(("seconds", "cap", "expected"), [(None, 5, None), (3, 5, 3), (30, 5, 5), (-2, 5, 0)])
def test_a_requested_wait_is_clipped(seconds: float | None, cap: float, expected: float | None) -> None:
    assert capped(seconds, cap) == expected


# -- backoff ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("retries", range(1, 12))
def test_backoff_doubles_with_equal_jitter_up_to_the_cap(retries: int) -> None:
    rng = random.Random(retries)
    ceiling = min(30.0, 0.5 * 2 ** (retries - 1))
    waits = [backoff_delay(retries, 0.5, 30.0, rng) for _ in range(200)]
    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert max(waits) - min(waits) > ceiling / 4  # jittered, not one value


# -- the server's words ----------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "reason", "message"), [
    (b'{"error": {"message": "overloaded"}}', "Service Unavailable", "overloaded"),
    (b'{"detail": "field max_tokens: must be positive"}', "", "field max_tokens: must be positive"),
    (b'{"error": "short and stout"}', "I'm a teapot", "short and stout"),
    (b'{"error": {"code": 7}}', "Bad Request", '{"code": 7}'),
    (b"  plain words \n", "Bad Request", "plain words"),
    (b"", "Not Found", "Not Found"),
    (b"", "", "no message"),
    (b"[1, 2]", "Internal Server Error", "Internal Server Error"),
    (b"x" * 600, "", "x" * 500),
    # http.server's error page, as a plain web server answers a POST it does not take
    (b'<!DOCTYPE HTML>\n<html lang="en">\n<head><meta charset="utf-8"><title>Error response</title>'
     b'<style>p {color: red}</style></head>\n<body><h1>Error response</h1>\n<p>Error code: 501</p>\n'
     b"<p>Message: Unsupported method (&#x27;POST&#x27;).</p></body></html>",
     "Not Implemented", "Error response Error code: 501 Message: Unsupported method ('POST')."),
    (b"<html><body>   </body></html>", "Bad Gateway", "Bad Gateway"),
    (b"a < b and <x> is text", "Bad Request", "a < b and <x> is text"),
])
def test_the_servers_message_is_found_in_every_shape(content: bytes, reason: str, message: str) -> None:
    assert server_message(error_body(content), reason) == message


# -- the window -------------------------------------------------------------------------------------

def test_the_window_hands_slots_to_the_oldest_live_waiter() -> None:
    async def scenario() -> None:
        window = Window(1)
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
        assert order == ["c", "d"] and window.active == 1 and window.waiting == 0
        window.release()
        assert window.active == 0

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_releases_wake_no_more_waiters_than_free_slots() -> None:
    async def scenario() -> None:
        window = Window(2)
        await window.acquire()
        await window.acquire()
        waiting = [asyncio.create_task(window.acquire()) for _ in range(5)]
        await asyncio.sleep(0)
        window.release()
        window.release()
        await asyncio.sleep(0.01)
        assert sum(t.done() for t in waiting) == 2 and window.active == 2 and window.waiting == 3
        state = window.state()
        assert (state.limit, state.maximum, state.in_flight, state.waiting) == (2, 2, 2, 3)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_a_request_woken_during_a_retry_after_pause_waits_it_out() -> None:
    async def scenario() -> float:
        window = Window(1)
        epoch = await window.acquire()
        waiter = asyncio.create_task(window.acquire())
        await asyncio.sleep(0)
        started = time.monotonic()
        window.release()  # hands the slot over, then the 429 that came with it pauses everyone
        window.throttled(epoch, 0.3)
        assert 0.2 < window.state().paused_s <= 0.3
        await waiter
        return time.monotonic() - started

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) >= 0.29


def test_a_burst_of_429s_halves_once_and_successes_regrow_it() -> None:
    window = Window(16)
    first_epoch = window.epoch
    for _ in range(10):  # ten 429s from requests sent before the cut: one overload
        window.throttled(first_epoch, None)
    assert window.limit == 8
    window.throttled(window.epoch, None)  # a 429 from a request sent after the cut: cut again
    assert window.limit == 4
    grown = []
    for _ in range(4 + 5 + 6):
        window.succeeded()
        grown.append(window.limit)
    assert grown[3] == 5 and grown[8] == 6 and grown[14] == 7  # one more after a window's worth in a row


@pytest.mark.parametrize("maximum", [1, 2, 3, 8, 33])
def test_the_limit_stays_within_one_and_the_maximum(maximum: int) -> None:
    window = Window(maximum, limit=maximum * 4)
    assert window.limit == maximum
    for _ in range(10):
        window.throttled(window.epoch, None)
    assert window.limit == 1
    for _ in range(maximum * maximum * 2):
        window.succeeded()
    assert window.limit == maximum
    assert Window(maximum, limit=0).limit == 1
