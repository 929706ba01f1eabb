"""OpenAIBackend against the project's fault-injecting FakeServer (loopback only).

Every run goes through ``collect``, which fails the test instead of hanging when a run does not
finish in time. Backoffs are shortened on each backend so that retries cost milliseconds.
How the HTTP layer copes with framing, proxies, TLS, redirects and closed connections is in
``test_openai_transport.py``; the retry policy and the window alone in ``test_openai_policy.py``.

Throughput (``test_throughput_against_a_50ms_server``, printed with ``-s``; not asserted,
because shared CI machines are noisy): the CLI FakeServer in its own process, 50 ms latency;
wall time as a ratio to the ideal (items x latency / concurrency) and client CPU per item.
``perf/openai_concurrency.py`` compares with a bare aiohttp client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import Backend, BackendError
from pytest_llmeval.backends.openai import OpenAIBackend
from pytest_llmeval.request import Message, Request, Response, ToolCall
from pytest_llmeval.testing.server import FakeServer, Fault, Hit, first_tries, http_date, parse_fault

pytest.importorskip("aiohttp")

CANARY = "sk-canary-XYZ-7f3a9c1e"


def backend_for(server: FakeServer, **kwargs: object) -> OpenAIBackend:
    """A backend on ``server`` with millisecond backoffs."""
    kwargs.setdefault("timeout", 5.0)
    backend = OpenAIBackend("fake-model", base_url=server.base_url, **kwargs)  # type: ignore[arg-type]
    backend.backoff_base = 0.01
    backend.backoff_cap = 0.05
    return backend


def questions(n: int) -> list[Request]:
    return [Request(messages=(Message("user", f"question {i}"),), max_tokens=32) for i in range(n)]


def collect(backend: Backend, requests: Sequence[Request], limit: float = 30.0) -> dict[int, Response]:
    """Run ``backend`` to the end in a thread; fail (not hang) if it takes longer than ``limit``."""
    out: dict[int, Response] = {}
    progressed: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for index, response in backend.run(requests, progressed.append):
                assert index not in out, f"index {index} answered twice"
                out[index] = response
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"run did not finish within {limit} s ({len(out)}/{len(requests)} done)"
    if errors:
        raise errors[0]
    assert sorted(out) == list(range(len(requests))), "some requests got no response"
    assert sum(progressed) == len(requests)
    return out


# -- answers ----------------------------------------------------------------------------------

def test_chat_answers_come_back_for_the_right_index() -> None:
    answers = {f"question {i}": f"answer {i * i}" for i in range(20)}
    with FakeServer(latency=0.01, answer=answers) as srv:
        out = collect(backend_for(srv, concurrency=4), questions(20))
    assert {i: r.text for i, r in out.items()} == {i: f"answer {i * i}" for i in range(20)}
    assert all(r.ok for r in out.values())
    assert srv.requests == 20
    meta = out[3].meta
    assert meta["backend"] == "openai" and meta["retries"] == 0 and meta["latency_s"] >= 0.01
    assert meta["prompt_tokens"] == 2 and meta["completion_tokens"] == 2 and meta["finish_reason"] == "stop"


def test_request_fields_reach_the_server() -> None:
    request = Request(messages=(Message("system", "Be brief."), Message("user", "Say hi then STOP now")),
                      max_tokens=7, temperature=0.5, stop=("STOP",))
    with FakeServer() as srv:
        out = collect(backend_for(srv), [request])
    body = srv.hits[0].body
    assert srv.hits[0].path == "/v1/chat/completions"
    assert body["model"] == "fake-model" and body["max_tokens"] == 7 and body["temperature"] == 0.5
    assert body["stop"] == ["STOP"]
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Say hi then STOP now"}]
    assert not {"tools", "top_p", "seed", "max_completion_tokens"} & set(body)  # unset: not sent
    assert out[0].text == "Say hi then "  # the server cut at the stop string


@pytest.mark.parametrize("api", ["chat", "completions"])
@pytest.mark.parametrize(("fields", "sent"), [
    ({"top_p": 0.9}, {"top_p": 0.9}),
    ({"seed": 1234}, {"seed": 1234}),
    ({"top_p": 0.0, "seed": 0}, {"top_p": 0.0, "seed": 0}),  # falsy values are still sent
    ({"top_p": 1.0, "seed": 7, "temperature": 0.7}, {"top_p": 1.0, "seed": 7, "temperature": 0.7}),
])
def test_sampling_fields_are_sent_when_the_request_sets_them(api: str, fields: dict[str, float],
                                                             sent: dict[str, float]) -> None:
    with FakeServer() as srv:
        collect(backend_for(srv, api=api), [Request(prompt="roll a die", **fields)])  # type: ignore[arg-type]
    body = srv.hits[0].body
    assert {key: body[key] for key in sent} == sent


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_the_token_limit_goes_under_the_configured_field(api: str) -> None:
    with FakeServer() as srv:
        collect(backend_for(srv, api=api), [Request(prompt="p", max_tokens=11)])
        collect(backend_for(srv, api=api, token_limit_field="max_completion_tokens"), [Request(prompt="p", max_tokens=12)])
    classic, modern = (h.body for h in srv.hits)
    assert classic["max_tokens"] == 11 and "max_completion_tokens" not in classic
    assert modern["max_completion_tokens"] == 12 and "max_tokens" not in modern


def test_the_token_limit_field_is_part_of_the_identity_only_when_changed() -> None:
    classic = OpenAIBackend("m", base_url="http://127.0.0.1:8000/v1")
    modern = OpenAIBackend("m", base_url="http://127.0.0.1:8000/v1", token_limit_field="max_completion_tokens")
    assert "token_limit_field" not in classic.identity()  # cache keys made before the setting stay valid
    assert modern.identity() == {**classic.identity(), "token_limit_field": "max_completion_tokens"}


ANSWERS = {
    "plain": ("hello", {"text": "hello", "finish_reason": "stop", "reasoning": None}),
    "cut off": ({"content": "", "finish_reason": "length"}, {"text": "", "finish_reason": "length", "reasoning": None}),
    "reasoning_content": ({"content": "18", "reasoning_content": "9 + 9 = 18"},
                          {"text": "18", "finish_reason": "stop", "reasoning": "9 + 9 = 18"}),
    "reasoning": ({"content": "B", "reasoning": "A is wrong", "finish_reason": "stop"},
                  {"text": "B", "finish_reason": "stop", "reasoning": "A is wrong"}),
    "both, reasoning_content first": ({"content": "x", "reasoning_content": "one", "reasoning": "two"},
                                      {"text": "x", "finish_reason": "stop", "reasoning": "one"}),
    "empty trace": ({"content": "x", "reasoning_content": "", "reasoning": None},
                    {"text": "x", "finish_reason": "stop", "reasoning": None}),
    "tool call": ({"content": None, "tool_calls": [{"name": "f", "arguments": {}}]},
                  {"text": "", "finish_reason": "tool_calls", "reasoning": None}),
}


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_finish_reason_and_reasoning_are_kept(answer: tuple[object, dict[str, object]]) -> None:
    reply, expected = answer
    with FakeServer(answer=lambda prompt: reply) as srv:  # type: ignore[arg-type,return-value]
        response = collect(backend_for(srv), [Request(prompt="q")])[0]
    assert response.ok
    assert {"text": response.text, "finish_reason": response.finish_reason, "reasoning": response.reasoning} == expected
    assert response.meta["finish_reason"] == expected["finish_reason"]
    assert response.truncated == (expected["finish_reason"] == "length")


def test_completions_finish_reason_is_kept() -> None:
    with FakeServer(answer=lambda prompt: {"content": "once upon a", "finish_reason": "length"}) as srv:
        response = collect(backend_for(srv, api="completions"), [Request(prompt="q", max_tokens=3)])[0]
    assert response.text == "once upon a" and response.finish_reason == "length" and response.truncated
    assert response.reasoning is None


def test_prompt_alone_goes_as_one_user_message() -> None:
    with FakeServer() as srv:
        out = collect(backend_for(srv), [Request(prompt="2+2=")])
    assert srv.hits[0].body["messages"] == [{"role": "user", "content": "2+2="}]
    assert out[0].text == "2+2="


def test_completions_api_posts_the_prompt_text() -> None:
    with FakeServer(answer=lambda prompt: prompt.upper()) as srv:
        out = collect(backend_for(srv, api="completions"), [Request(prompt="once upon"),
                                                            Request(messages=(Message("user", "hi"),))])
    assert [h.path for h in srv.hits] == ["/v1/completions"] * 2
    assert {h.body["prompt"] for h in srv.hits} == {"once upon", "hi"}
    assert "messages" not in srv.hits[0].body
    assert out[0].text == "ONCE UPON" and out[1].text == "HI"


def test_tools_are_passed_through_and_tool_calls_mapped() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    request = Request(messages=(Message("user", "Weather in Paris?"),), tools_json=json.dumps(tools))
    calls = {"content": None, "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                                             {"name": "get_weather", "arguments": '{"city": "Lyon"}'}]}
    with FakeServer(answer=lambda prompt: calls) as srv:
        out = collect(backend_for(srv), [request])
    assert srv.hits[0].body["tools"] == tools
    assert out[0].tool_calls == [ToolCall("get_weather", '{"city": "Paris"}'),
                                 ToolCall("get_weather", '{"city": "Lyon"}')]
    assert out[0].text == "" and out[0].meta["finish_reason"] == "tool_calls" == out[0].finish_reason


def test_chunked_and_connection_close_responses_are_read_whole() -> None:
    long = "word " * 200  # several chunks
    with FakeServer(answer=lambda p: long + p, chunked=True, keep_alive=False) as srv:
        out = collect(backend_for(srv, concurrency=3), questions(6))
    assert all(r.text == long + f"question {i}" for i, r in out.items())
    assert srv.connections >= 6  # nothing was reused after the server said close


# -- faults -----------------------------------------------------------------------------------
#
# Only the slow fault gets a short timeout, and its slowness is far past it; every other fault
# gets a long one, so that a busy machine (a slow answer, not a fault) never turns one fault
# into another.

#: The timeout for the slow fault, which answers only after SLOW seconds.
SLOW_TIMEOUT, SLOW = 1.5, 60.0


def timeout_for(fault: Fault) -> float:
    return SLOW_TIMEOUT if fault.kind == "slow" else 30.0


TRANSIENT = {
    "429": Fault.rate_limit(),
    "429-retry-after": Fault.rate_limit(retry_after=0.05),
    "500": Fault.http(500),
    "502": Fault.http(502),
    "503": Fault.http(503),
    "slow-past-timeout": Fault.slow(SLOW),
    "dropped-mid-body": Fault.drop(),
    "malformed-json": Fault.malformed(),
    "empty-choices": Fault.empty_choices(),
}


@pytest.mark.parametrize("fault", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transient_fault_is_retried_to_an_answer(fault: Fault) -> None:
    with FakeServer(faults=first_tries(1, fault)) as srv:
        out = collect(backend_for(srv, concurrency=6, timeout=timeout_for(fault)), questions(6))
    assert [out[i].text for i in range(6)] == [f"question {i}" for i in range(6)]
    assert all(r.meta["retries"] == 1 for r in out.values())
    assert srv.requests == 12  # each question exactly twice: the fault, then the answer


PERSISTENT = {
    "429": (Fault.rate_limit(), ["HTTP 429", "Rate limit reached for requests (fake server)"]),
    "500": (Fault.http(500, "model worker crashed"), ["HTTP 500", "model worker crashed"]),
    "502": (Fault.http(502), ["HTTP 502", "fake server error 502 (Bad Gateway)"]),
    "503": (Fault.http(503, "overloaded, try later"), ["HTTP 503", "overloaded, try later"]),
    "dropped-mid-body": (Fault.drop(), ["connection to", "failed"]),
    "malformed-json": (Fault.malformed(), ["malformed JSON"]),
    "empty-choices": (Fault.empty_choices(), ["no choices"]),
}


@pytest.mark.parametrize(("fault", "words"), PERSISTENT.values(), ids=PERSISTENT.keys())
def test_a_persistent_fault_errors_with_its_cause_after_the_retry_limit(
        fault: Fault, words: list[str]) -> None:
    with FakeServer(faults=lambda hit: fault) as srv:
        out = collect(backend_for(srv, concurrency=3, timeout=timeout_for(fault), max_retries=2), questions(3))
    for response in out.values():
        assert not response.ok and response.text == ""
        for word in words:
            assert word in (response.error or "")
        assert "gave up after 2 retries" in (response.error or "")
        assert response.meta["retries"] == 2
    assert srv.requests == 9  # 3 questions x (1 try + 2 retries), not one more


def test_a_timed_out_request_gets_a_longer_budget_on_retry() -> None:
    # A server that drops an abandoned request starts it from zero (as vLLM does): the same
    # budget again would never be enough, so each retry after a timeout gets twice the last.
    # Margins a busy machine cannot eat: 1.0 s of work against 0.7 s, then against 1.4 s.
    with FakeServer(faults=lambda hit: Fault.slow(1.0)) as srv:
        out = collect(backend_for(srv, timeout=0.7, concurrency=2), questions(2))
    assert [out[i].text for i in range(2)] == ["question 0", "question 1"]
    assert all(r.meta["retries"] == 1 for r in out.values())
    assert srv.requests == 4


def test_the_budget_stops_growing_at_its_cap() -> None:
    with FakeServer(faults=lambda hit: Fault.slow(2.0)) as srv:
        backend = backend_for(srv, timeout=0.2, max_retries=3)
        backend.timeout_growth_cap = 2.0
        out = collect(backend, questions(1))
    assert "within 0.4 s (timeout)" in (out[0].error or "")  # 0.2, 0.4, 0.4, 0.4: not 1.6
    assert srv.requests == 4


def test_a_request_slower_than_every_budget_names_the_settings_to_change() -> None:
    with FakeServer(faults=lambda hit: Fault.slow(SLOW)) as srv:
        out = collect(backend_for(srv, timeout=0.3, concurrency=2, max_retries=2), questions(2))
    for response in out.values():
        assert response.error == (
            f"no answer from {srv.base_url}/chat/completions within 1.2 s (timeout) (gave up after 2 retries): "
            "the server is slower than the timeout allows at this load; raise --llm-timeout (now 0.3 s) or lower "
            "--llm-concurrency (now 2)")
        assert response.meta["retries"] == 2
    assert srv.requests == 6


def test_timeouts_lower_the_concurrency() -> None:
    # Latency grows with the requests in flight, as on a saturated server: at 8 at once every
    # request times out; the window halves and the retries, fewer at once, get through.
    with FakeServer(faults=lambda hit: Fault.slow(0.12 * hit.in_flight)) as srv:
        backend = backend_for(srv, timeout=0.6, concurrency=8)
        out = collect(backend, questions(8))
    assert all(r.ok for r in out.values())
    retried = [hit for hit in srv.hits if hit.attempt > 1]
    assert retried and max(hit.in_flight for hit in retried) <= 4


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_client_error_is_not_retried(status: int) -> None:
    with FakeServer(faults=lambda hit: Fault.http(status, f"you sent something wrong ({status})")) as srv:
        out = collect(backend_for(srv), questions(2))
    assert srv.requests == 2
    for response in out.values():
        assert response.error == (f"HTTP {status} from {srv.base_url}/chat/completions: "
                                  f"you sent something wrong ({status}) (not retried)")
        assert response.meta["status"] == status


def test_max_retries_zero_sends_each_request_once() -> None:
    with FakeServer(faults=lambda hit: Fault.http(503)) as srv:
        out = collect(backend_for(srv, max_retries=0), questions(4))
    assert srv.requests == 4
    assert all("gave up after 0 retries" in (r.error or "") for r in out.values())


def test_retry_after_in_seconds_is_honoured() -> None:
    with FakeServer(faults={1: Fault.rate_limit(retry_after=1)}) as srv:
        started = time.monotonic()
        out = collect(backend_for(srv), questions(1))
        elapsed = time.monotonic() - started
    assert out[0].text == "question 0" and out[0].meta["retries"] == 1
    assert elapsed >= 1.0
    assert srv.hits[1].received - srv.hits[0].received >= 1.0


def test_retry_after_as_an_http_date_is_honoured() -> None:
    # An HTTP date has whole seconds, so "3 s from now" may mean a little over 2 s.
    with FakeServer(faults=lambda hit: Fault.rate_limit(retry_after=http_date(3)) if hit.number == 1 else None) as srv:
        out = collect(backend_for(srv), questions(1))
    assert out[0].ok
    assert srv.hits[1].received - srv.hits[0].received >= 2.0


def test_retry_after_pauses_the_other_requests_too() -> None:
    with FakeServer(latency=0.02, faults={1: Fault.rate_limit(retry_after=0.6)}) as srv:
        collect(backend_for(srv, concurrency=1), questions(4))
    first = srv.hits[0].received
    assert all(h.received - first >= 0.55 for h in srv.hits[1:])


def test_a_huge_retry_after_is_capped() -> None:
    with FakeServer(faults={1: Fault.rate_limit(retry_after=3600)}) as srv:
        backend = backend_for(srv)
        backend.retry_after_cap = 0.2
        out = collect(backend, questions(1), limit=10)
    assert out[0].ok


# -- concurrency window -----------------------------------------------------------------------

def test_requests_in_flight_never_exceed_concurrency() -> None:
    with FakeServer(latency=0.03) as srv:
        collect(backend_for(srv, concurrency=3), questions(30))
    assert srv.max_in_flight == 3


def test_a_burst_of_429s_halves_the_window_once_and_it_regrows() -> None:
    # The first 8 requests (one full window) all get 429: one burst, one halving, to 4.
    with FakeServer(latency=0.05, faults=lambda hit: Fault.rate_limit() if hit.number <= 8 else None) as srv:
        backend = backend_for(srv, concurrency=8)
        out = collect(backend, questions(8))
    assert all(r.ok for r in out.values())
    retries = srv.hits[8:]
    assert max(h.in_flight for h in retries) <= 4  # the cut took effect for the retries
    assert backend.window == 5  # 4, then +1 after 4 successes in a row (8 successes in all)
    with FakeServer(latency=0.01) as srv2:
        backend.base_url = srv2.base_url
        collect(backend, questions(80))
    assert backend.window == 8  # grew back, and no further than the configured maximum
    assert srv2.max_in_flight <= 8


def test_5xx_does_not_shrink_the_window() -> None:
    with FakeServer(latency=0.02, faults=first_tries(1, Fault.http(503))) as srv:
        backend = backend_for(srv, concurrency=6)
        out = collect(backend, questions(12))
    assert all(r.ok for r in out.values())
    assert backend.window == 6


def test_the_window_never_drops_below_one() -> None:
    with FakeServer(faults=lambda hit: Fault.rate_limit()) as srv:
        backend = backend_for(srv, concurrency=4, max_retries=4)
        out = collect(backend, questions(4))
    assert backend.window == 1
    assert all("HTTP 429" in (r.error or "") for r in out.values())
    assert srv.requests == 20


# -- outages ----------------------------------------------------------------------------------

def test_a_server_that_goes_down_and_comes_back() -> None:
    with FakeServer(latency=0.02, faults={5: Fault.down(0.6)}) as srv:
        backend = backend_for(srv, concurrency=4, max_retries=8)
        backend.backoff_base, backend.backoff_cap = 0.1, 0.4
        out = collect(backend, questions(16))
    assert [out[i].text for i in range(16)] == [f"question {i}" for i in range(16)]
    assert srv.outcomes["down"] == 1
    assert any(r.meta["retries"] > 0 for r in out.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_errors_each_item_and_fails_check() -> None:
    backend = OpenAIBackend("m", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=1)
    backend.backoff_base = 0.01
    out = collect(backend, questions(3))
    for response in out.values():
        assert "connection to http://127.0.0.1:" in (response.error or "")
        assert "gave up after 1 retry" in (response.error or "")
    with pytest.raises(BackendError, match=r"cannot reach http://127\.0\.0\.1:.*is the server running"):
        backend.check()


def test_check_passes_on_a_live_server_and_reports_a_rejected_key() -> None:
    with FakeServer(api_key="sk-the-right-one") as srv:
        backend_for(srv, api_key="sk-the-right-one").check()
        wrong = backend_for(srv, api_key=CANARY)
        with pytest.raises(BackendError, match="refused the API key \\(HTTP 401\\)") as caught:
            wrong.check()
        out = collect(wrong, questions(2))
    assert CANARY not in str(caught.value) and "[api key]" in str(caught.value)
    assert all("HTTP 401" in (r.error or "") and "(not retried)" in (r.error or "") for r in out.values())
    assert all(CANARY not in (r.error or "") for r in out.values())


def test_leaving_the_loop_early_cancels_the_rest() -> None:
    with FakeServer(latency=0.2) as srv:
        backend = backend_for(srv, concurrency=2)
        started = time.monotonic()
        for _ in backend.run(questions(50), lambda n: None):
            break
        elapsed = time.monotonic() - started
    assert elapsed < 10
    assert not [t for t in threading.enumerate() if t.name == "llmeval-openai"]
    assert srv.requests < 50


def test_run_async_calls_back_once_per_request_on_the_callers_loop() -> None:
    done: dict[int, Response] = {}

    def on_done(index: int, response: Response) -> None:
        assert index not in done, f"index {index} answered twice"
        done[index] = response

    with FakeServer(latency=0.01, faults={2: Fault.http(503)}) as srv:
        backend = backend_for(srv, concurrency=3)
        asyncio.run(asyncio.wait_for(backend.run_async(questions(10), on_done), 30))
    assert {i: r.text for i, r in done.items()} == {i: f"question {i}" for i in range(10)}
    assert sum(r.meta["retries"] for r in done.values()) == 1
    assert srv.max_in_flight <= 3


def test_cancelling_run_async_stops_what_is_in_flight() -> None:
    async def scenario(backend: OpenAIBackend) -> list[int]:
        done: list[int] = []
        task = asyncio.create_task(backend.run_async(questions(40), lambda i, r: done.append(i)))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return done

    with FakeServer(latency=0.2) as srv:
        done = asyncio.run(asyncio.wait_for(scenario(backend_for(srv, concurrency=2)), 30))
        seen = srv.requests
        time.sleep(0.5)
        assert srv.requests == seen  # nothing more was sent after the cancel
    assert len(done) < 40 and seen < 40


def test_the_window_state_is_readable() -> None:
    with FakeServer(latency=0.02, faults={1: Fault.rate_limit(retry_after=0.05)}) as srv:
        backend = backend_for(srv, concurrency=6)
        assert backend.window_state.limit == backend.window_state.maximum == 6
        collect(backend, questions(1))
    state = backend.window_state
    assert state.maximum == 6 and state.limit == backend.window == 3  # halved, then one success of the 3 needed
    assert state.in_flight == 0 and state.waiting == 0 and state.paused_s == 0


def test_run_works_inside_a_running_event_loop() -> None:
    with FakeServer() as srv:
        backend = backend_for(srv)

        async def inside() -> list[tuple[int, Response]]:
            return list(backend.run(questions(3), lambda n: None))

        out = asyncio.run(asyncio.wait_for(inside(), 30))
    assert sorted(i for i, _ in out) == [0, 1, 2]


# -- the API key ------------------------------------------------------------------------------

def test_the_key_is_sent_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LLMEVAL_API_KEY", CANARY)
    faults = {1: Fault.echo_key(), 2: Fault.http(500, f"upstream said {CANARY}"), 3: Fault.drop(),
              4: Fault.slow(SLOW), 5: Fault.malformed()}
    with FakeServer(faults=faults) as srv:
        backend = backend_for(srv, timeout=SLOW_TIMEOUT, max_retries=0)
        out = collect(backend, [Request(prompt=f"p{i}") for i in range(6)])
        texts = [repr(backend), backend.describe(), json.dumps(backend.identity())]
    assert srv.hits[0].authorization == f"Bearer {CANARY}"
    errors = [r.error or "" for r in out.values()]
    assert sum(1 for e in errors if e) == 5
    assert any("Incorrect API key provided: [api key]" in e for e in errors)
    assert any("upstream said [api key]" in e for e in errors)
    for text in errors + texts + [json.dumps(r.to_json()) for r in out.values()]:
        assert CANARY not in text
        assert "canary" not in text


def test_key_precedence_and_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-one")
    monkeypatch.setenv("LLMEVAL_API_KEY", "sk-llmeval-one")
    with FakeServer() as srv:
        collect(backend_for(srv), questions(1))
        collect(backend_for(srv, api_key="sk-explicit"), questions(1))
        monkeypatch.delenv("LLMEVAL_API_KEY")
        collect(backend_for(srv), questions(1))
        monkeypatch.delenv("OPENAI_API_KEY")
        collect(backend_for(srv), questions(1))  # a local server needs no key
    assert [h.authorization for h in srv.hits] == [
        "Bearer sk-llmeval-one", "Bearer sk-explicit", "Bearer sk-openai-one", "Bearer no-key"]
    with pytest.raises(BackendError, match="no API key for the OpenAI API: set LLMEVAL_API_KEY or OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o")


# -- the protocol surface ---------------------------------------------------------------------

def test_identity_describe_supports() -> None:
    backend = OpenAIBackend("llama3", base_url="http://127.0.0.1:8000/v1/", api_key=CANARY, concurrency=8)
    assert isinstance(backend, Backend)
    assert backend.name == "openai"
    assert backend.identity() == {"backend": "openai", "model": "llama3",
                                  "base_url": "http://127.0.0.1:8000/v1", "api": "chat"}
    assert backend.describe() == "llama3 on the openai-compatible server at http://127.0.0.1:8000/v1 (chat, concurrency 8)"
    assert backend.supports(Request(prompt="x"))
    assert not backend.supports(Request(prompt="x", kind="loglikelihood", choices=("a", "b")))
    hosted = OpenAIBackend("gpt-4o", api_key="sk-test", api="completions", concurrency=4)
    assert hosted.describe() == "gpt-4o on the OpenAI API at https://api.openai.com/v1 (completions, concurrency 4)"
    assert list(hosted.run([], lambda n: None)) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"api": "responses"}, "api must be 'chat' or 'completions'"),
    ({"concurrency": 0}, "concurrency must be at least 1"),
    ({"timeout": 0}, "timeout must be a positive number"),
    ({"max_retries": -1}, "max_retries must be 0 or more"),
    ({"base_url": "localhost:8000"}, "base URL must start with http:// or https://"),
    ({"token_limit_field": "max_output_tokens"}, "token_limit_field must be 'max_tokens' or 'max_completion_tokens'"),
])
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BackendError, match=message):
        OpenAIBackend("m", api_key="k", **kwargs)  # type: ignore[arg-type]


# -- the fake server itself -------------------------------------------------------------------

def test_fake_server_lists_its_model_and_stops_by_itself() -> None:
    import urllib.request

    srv = FakeServer(model="tiny", lifetime=0.5).start()
    with urllib.request.urlopen(srv.base_url + "/models", timeout=5) as reply:
        assert json.load(reply)["data"][0]["id"] == "tiny"
    assert srv.wait(5.0), "the server outlived its lifetime"
    srv.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(srv.base_url + "/models", timeout=2)


def test_fake_server_request_budget() -> None:
    with FakeServer(max_requests=2) as srv:
        out = collect(backend_for(srv, max_retries=0), questions(4))
    assert sorted(r.ok for r in out.values()) == [False, False, True, True]
    assert srv.outcomes["over budget"] == 2


def test_fake_server_hits_count_attempts_per_request() -> None:
    seen: list[Hit] = []

    def rule(hit: Hit) -> Fault | None:
        seen.append(hit)
        return Fault.http(503) if hit.attempt <= 2 else None

    with FakeServer(faults=rule) as srv:
        collect(backend_for(srv), questions(2))
    assert sorted(h.attempt for h in seen) == [1, 1, 2, 2, 3, 3]
    assert srv.outcomes == {"503": 4, "ok": 2}


@pytest.mark.parametrize(("spec", "fault"), [
    ("503", Fault.http(503)), ("429:2", Fault.rate_limit(2)), ("slow:1.5", Fault.slow(1.5)),
    ("drop", Fault.drop()), ("malformed", Fault.malformed()), ("empty", Fault.empty_choices()),
    ("down:3", Fault.down(3)),
])
def test_fault_specs_from_the_command_line(spec: str, fault: Fault) -> None:
    parsed = parse_fault(spec)
    assert (parsed.kind, parsed.status, parsed.retry_after, parsed.seconds) == (
        fault.kind, fault.status, fault.retry_after, fault.seconds)


@pytest.mark.parametrize("spec", ["200", "slow", "explode", "drop:3", "429:soon"])
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(Exception, match="bad fault"):
        parse_fault(spec)


def start_cli_server(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "pytest_llmeval.testing.server", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url
    return proc, url


def test_throughput_against_a_50ms_server() -> None:
    """Measures wall time / ideal at concurrency 8 and 32; printed, not asserted (see module doc)."""
    proc, url = start_cli_server("--latency", "0.05", "--port", "0", "--lifetime", "120", "--fault", "3=503")
    try:
        for concurrency, n in ((8, 160), (32, 640)):
            backend = OpenAIBackend("fake-model", base_url=url, concurrency=concurrency)
            collect(backend, questions(concurrency))  # warm: imports, connections
            started, cpu = time.perf_counter(), time.process_time()
            out = collect(backend, questions(n), limit=120)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert all(r.ok for r in out.values())
            ideal = n * 0.05 / concurrency
            print(f"\nconcurrency {concurrency}: {n} items in {wall:.2f} s, ideal {ideal:.2f} s, "
                  f"ratio {wall / ideal:.2f}, client CPU {cpu / n * 1000:.2f} ms/item")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "503" in err  # the CLI's closing summary counts the injected fault


def test_openai_models_take_arguments_after_the_name() -> None:
    from pytest_llmeval.backends.base import BackendContext
    from pytest_llmeval.builtin import openai_backend
    from pytest_llmeval.registry import resolve

    context = BackendContext(root=Path("."), base_url="http://127.0.0.1:9/v1", concurrency=8)
    spec = resolve('openai:o3-mini{"token_limit_field": "max_completion_tokens", "concurrency": 3}')
    assert spec.name == "o3-mini"
    backend = openai_backend(spec, context)
    assert isinstance(backend, OpenAIBackend)
    assert (backend.model, backend.token_limit_field, backend.concurrency) == ("o3-mini", "max_completion_tokens", 3)
    _, body = backend.payload(Request(prompt="x", max_tokens=7))
    assert body["max_completion_tokens"] == 7 and "max_tokens" not in body
    with pytest.raises(BackendError, match=r"model arguments of o3-mini: 'token_limit' is not a model argument \(known: "
                                           r"token_limit_field, api, loglikelihood, concurrency\) \(see docs/backends-openai.md\)"):
        openai_backend(resolve('openai:o3-mini{"token_limit": 5}'), context)
