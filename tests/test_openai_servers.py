"""The OpenAI-compatible backend against servers as they are: tool-call support missing, a
context window to respect, facts that identify what is served, prompt log-probabilities.

All against the project's FakeServer playing vLLM (see pytest_llmeval.testing.fake_model).
Timeouts that back off are in test_openai_backend.py with the other faults.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmeval.backends.openai import OpenAIBackend
from pytest_llmeval.backends.openai.context import CHARS_PER_TOKEN
from pytest_llmeval.backends.openai.facts import RememberedFacts, ServerFacts
from pytest_llmeval.backends.vllm import free_port
from pytest_llmeval.cache import request_key
from pytest_llmeval.request import Message, Request
from pytest_llmeval.testing.fake_model import TOOLS_REFUSED, token_ids
from pytest_llmeval.testing.server import FakeServer
from test_openai_backend import backend_for, collect

pytest.importorskip("aiohttp")

TOOLS = json.dumps([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])


def tool_request(i: int) -> Request:
    system = Message("system", "You can call get_weather(city). Answer with [get_weather(city='...')].")
    return Request(messages=(system, Message("user", f"weather in city {i}?")), max_tokens=32, tools_json=TOOLS)


# -- tool calls on a server started without them ---------------------------------------------------

def test_tools_refused_by_the_server_fall_back_to_the_prompt_once() -> None:
    answers = {f"weather in city {i}?": f"[get_weather(city='c{i}')]" for i in range(6)}
    with FakeServer(tools=False, answer=answers) as srv:
        backend = backend_for(srv, concurrency=1)
        out = collect(backend, [tool_request(i) for i in range(6)])
    assert [out[i].text for i in range(6)] == [f"[get_weather(city='c{i}')]" for i in range(6)]
    assert all(r.ok and r.meta["tools"].startswith("described in the prompt") for r in out.values())
    # One refusal: after it, no request carries tools; the run's header says why, once.
    assert srv.outcomes["400"] == 1 and srv.requests == 7
    assert [("tools" in hit.body) for hit in srv.hits] == [True] + [False] * 6
    assert TOOLS_REFUSED in backend.describe() and backend.describe().count("refused") == 1


def test_requests_without_tools_are_unaffected_by_a_refusal() -> None:
    with FakeServer(tools=False) as srv:
        backend = backend_for(srv)
        out = collect(backend, [tool_request(0), Request(messages=(Message("user", "hello"),), max_tokens=8)])
    assert out[1].text == "hello" and "tools" not in out[1].meta


def test_other_400s_are_not_taken_for_a_tool_refusal() -> None:
    from pytest_llmeval.testing.server import Fault

    with FakeServer(faults=lambda hit: Fault.http(400, "temperature must be >= 0")) as srv:
        backend = backend_for(srv)
        out = collect(backend, [tool_request(0)])
    assert "temperature must be >= 0 (not retried)" in (out[0].error or "")
    assert backend.tools_refused is None and srv.requests == 1


# -- the context window ----------------------------------------------------------------------------

def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


@pytest.mark.parametrize("tokenize", [True, False], ids=["counted", "estimated"])
def test_requests_longer_than_max_model_len_are_skipped_unsent(tokenize: bool) -> None:
    # The fake tokenizer makes one token per word; "w123 " is 5 characters a token, so without
    # /tokenize only prompts past 8 characters a token of the window are clearly over.
    fits = Request(messages=(Message("user", words(20)),), max_tokens=16)
    over = Request(messages=(Message("user", words(600)),), max_tokens=16)
    clearly_over = Request(messages=(Message("user", words(3000)),), max_tokens=16)
    with FakeServer(max_model_len=512, tokenize=tokenize) as srv:
        backend = backend_for(srv)
        backend.check()
        out = collect(backend, [fits, over, clearly_over])
    assert out[0].ok and out[0].text == words(20)
    assert out[2].skip is not None and "> the server's max_model_len 512" in out[2].skip
    if tokenize:
        assert out[1].skip == ("the request needs 602 prompt tokens + 16 to generate = 618 tokens > the server's "
                               "max_model_len 512 (counted by the server's /tokenize); serve the model with a longer "
                               "context to run it")
        assert srv.requests == 1  # only the one that fits was sent
    else:
        assert f"{CHARS_PER_TOKEN} per token at most: the server has no /tokenize" in (out[2].skip or "")
        # Not clearly over by the estimate: sent, and the server's own refusal becomes the skip.
        assert out[1].skip is not None and "maximum context length is 512 tokens" in out[1].skip
        assert srv.requests == 2


def test_short_requests_are_never_counted() -> None:
    with FakeServer(max_model_len=4096, tokenize=True) as srv:
        backend = backend_for(srv)
        backend.check()
        collect(backend, [Request(messages=(Message("user", words(50)),), max_tokens=64) for _ in range(5)])
    assert srv.tokenize_requests == 0


def test_a_server_without_max_model_len_is_asked_everything() -> None:
    with FakeServer(tokenize=True) as srv:
        backend = backend_for(srv)
        backend.check()
        out = collect(backend, [Request(messages=(Message("user", words(5000)),), max_tokens=16)])
    assert out[0].ok and srv.tokenize_requests == 0


def test_skips_are_described() -> None:
    with FakeServer(max_model_len=300) as srv:
        backend = backend_for(srv)
        backend.check()
        assert "max_model_len 300" in backend.describe()


# -- the server's facts in the identity ------------------------------------------------------------

def key_of(backend: OpenAIBackend) -> str:
    return request_key(backend.identity(), Request(prompt="2+2?"))


def test_a_restart_with_another_configuration_changes_the_key(tmp_path: Path) -> None:
    # vLLM's system_fingerprint hashes its configuration (dtype included): restarted in
    # bfloat16 under the same name, its answers are asked again, not replayed.
    keys, port = [], free_port()
    for fingerprint in ("vllm-0.32.0-aaaa1111", "vllm-0.32.0-aaaa1111", "vllm-0.32.0-bbbb2222"):
        with FakeServer(owned_by="vllm", fingerprint=fingerprint, version="0.32.0", root="/models/m", port=port) as srv:
            keys.append(key_of(backend_for(srv, facts_file=tmp_path / "servers.json")))
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize(("field", "values"), [
    ("root", ("/models/a", "/models/b")),
    ("max_model_len", (2048, 4096)),
    ("version", ("0.31.0", "0.32.0")),
    ("fingerprint", ("fp_1", "fp_2")),
])
def test_each_reported_fact_is_part_of_the_identity(field: str, values: tuple[object, object]) -> None:
    keys = []
    for value in values:
        with FakeServer(owned_by="vllm", **{field: value}) as srv:  # type: ignore[arg-type]
            backend = backend_for(srv)
            keys.append(key_of(backend))
            assert backend.identity()["server"][field] == value
    assert keys[0] != keys[1]


def test_unstable_fields_are_not_part_of_the_identity() -> None:
    # FakeServer stamps "created" with the time of each listing, as vLLM does.
    with FakeServer(owned_by="vllm", root="/m") as srv:
        first = key_of(backend_for(srv))
        import time

        time.sleep(1.1)
        assert key_of(backend_for(srv)) == first


def test_a_cached_rerun_with_the_server_gone_uses_the_remembered_facts(tmp_path: Path) -> None:
    store = tmp_path / "servers.json"
    with FakeServer(owned_by="vllm", fingerprint="fp_1", max_model_len=2048) as srv:
        url = srv.base_url
        live = backend_for(srv, facts_file=store)
        key = key_of(live)
        assert live.facts().reached
    gone = OpenAIBackend("fake-model", base_url=url, facts_file=store, timeout=5)
    assert key_of(gone) == key and not gone.facts().reached
    assert gone.supports(Request(prompt="x", kind="loglikelihood", choices=("A", "B")))  # still vLLM
    assert RememberedFacts(store).get(url, "fake-model") == ServerFacts(
        owned_by="vllm", max_model_len=2048, fingerprint="fp_1")
    # Never reached and nothing remembered: no facts, no error.
    assert OpenAIBackend("m", base_url=f"http://127.0.0.1:{free_port()}/v1").identity().get("server") is None


def test_the_openai_api_is_never_probed() -> None:
    backend = OpenAIBackend("gpt-4o", api_key="sk-test")
    backend.probe_timeout = 0.01  # would fail at once if it were tried
    assert backend.identity() == {"backend": "openai", "model": "gpt-4o", "base_url": "https://api.openai.com/v1",
                                  "api": "chat"}


def test_a_plain_server_keys_on_its_fingerprint_only_where_it_sends_one() -> None:
    with FakeServer() as srv:
        assert "server" not in backend_for(srv).identity()
    with FakeServer(fingerprint="b4567-abcdef") as srv:
        assert backend_for(srv).identity()["server"] == {"fingerprint": "b4567-abcdef"}


# -- multiple choice by log-likelihood ---------------------------------------------------------------

def question(i: int) -> Request:
    return Request(messages=(Message("user", f"Question {i}: pick one. Answer:"),), kind="loglikelihood",
                   choices=("A", "B", "C", "D"), max_tokens=1)


def test_choices_are_scored_by_prompt_logprobs_on_vllm() -> None:
    favourite = {i: "ABCD"[i % 4] for i in range(8)}
    prompt_ids = {tuple(token_ids(f"<user> Question {i}: pick one. Answer: <assistant>")): i for i in range(8)}

    def logprob(context: list[int], token: int) -> float:
        i = prompt_ids.get(tuple(context))
        if i is None:
            return -2.0  # a token of the prompt itself
        return -0.25 if token == token_ids(favourite[i])[0] else -3.0

    with FakeServer(owned_by="vllm", tokenize=True, logprob=logprob) as srv:  # type: ignore[arg-type]
        backend = backend_for(srv)
        assert backend.supports(question(0))
        out = collect(backend, [question(i) for i in range(8)])
    for i, response in out.items():
        assert response.ok and response.choice_logprobs is not None
        assert "ABCD"[max(range(4), key=lambda c: response.choice_logprobs[c])] == favourite[i]
        assert sorted(response.choice_logprobs) == [-3.0, -3.0, -3.0, -0.25]
    # Per item one prompt to tokenize and one scoring request; each letter tokenized once per run.
    scoring = [hit for hit in srv.hits if hit.body.get("echo")]
    assert len(scoring) == 8 and all(len(hit.body["prompt"]) == 4 for hit in scoring)
    assert srv.tokenize_requests == 8 + 4


@pytest.mark.parametrize(("kwargs", "scored"), [
    ({"owned_by": "vllm"}, True), ({}, False), ({"owned_by": "sglang"}, False)])
def test_log_likelihood_is_offered_only_where_the_server_is_vllm(kwargs: dict[str, str], scored: bool) -> None:
    with FakeServer(**kwargs) as srv:  # type: ignore[arg-type]
        assert backend_for(srv).supports(question(0)) is scored
        assert backend_for(srv, loglikelihood=True).supports(question(0))
        assert not backend_for(srv, loglikelihood=False).supports(question(0))


def test_a_server_without_prompt_logprobs_errors_the_item_with_the_cause() -> None:
    with FakeServer(owned_by="vllm", tokenize=False) as srv:
        out = collect(backend_for(srv, max_retries=0), [question(0)])
    assert "tokenize" in (out[0].error or "")
