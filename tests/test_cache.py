"""The response cache and its key, directly: the key covers everything that decides an answer
and nothing secret; the store keeps successes only, honours its modes, survives concurrent
writers, and rebuilds an unreadable file with a warning."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval import cache as cache_module
from pytest_llmeval.cache import CacheWarning, ResponseCache, request_key
from pytest_llmeval.request import Message, Request, Response, ToolCall

BACKEND = {"backend": "openai", "model": "gpt-4", "base_url": "http://127.0.0.1:8000/v1", "api": "chat"}
REQUEST = Request(messages=(Message("system", "Be brief."), Message("user", "What is 2+3?")), max_tokens=16)


def key(backend: dict[str, Any] | None = None, request: Request | None = None) -> str:
    return request_key(BACKEND if backend is None else backend, REQUEST if request is None else request)


# -- the key ------------------------------------------------------------------------------------


def test_the_key_is_a_stable_hash() -> None:
    assert key() == key()
    assert len(key()) == 64 and int(key(), 16) >= 0
    # The same identity built in another order is the same key.
    assert key(dict(reversed(list(BACKEND.items())))) == key()
    # An equal request built separately is the same key.
    twin = Request(messages=(Message("system", "Be brief."), Message("user", "What is 2+3?")), max_tokens=16)
    assert key(request=twin) == key()


@pytest.mark.parametrize(
    "change",
    [{"backend": "transformers"}, {"model": "gpt-4o"}, {"base_url": "http://127.0.0.1:9000/v1"}, {"api": "completions"},
     {"revision": "abc123"}, {"weights": "gguf:0123456789abcdef"}],
    ids=lambda change: next(iter(change)),
)
def test_the_key_changes_with_every_field_of_the_backend_identity(change: dict[str, str]) -> None:
    assert key({**BACKEND, **change}) != key()


@pytest.mark.parametrize(
    "changed",
    [
        dataclasses.replace(REQUEST, messages=(Message("system", "Be brief."), Message("user", "What is 2+4?"))),
        dataclasses.replace(REQUEST, messages=(Message("user", "Be brief."), Message("user", "What is 2+3?"))),
        dataclasses.replace(REQUEST, messages=(Message("user", "What is 2+3?"),)),
        dataclasses.replace(REQUEST, messages=(), prompt="What is 2+3?"),
        dataclasses.replace(REQUEST, prompt="Q: What is 2+3?\nA:"),
        dataclasses.replace(REQUEST, kind="loglikelihood", choices=("4", "5")),
        dataclasses.replace(REQUEST, max_tokens=17),
        dataclasses.replace(REQUEST, temperature=0.7),
        dataclasses.replace(REQUEST, stop=("\n",)),
        dataclasses.replace(REQUEST, tools_json='[{"type": "function", "function": {"name": "add"}}]'),
    ],
    ids=["content", "role", "messages", "prompt-instead", "prompt-too", "kind", "max_tokens", "temperature", "stop", "tools"],
)
def test_the_key_changes_with_every_field_of_the_request(changed: Request) -> None:
    assert key(request=changed) != key()


def test_every_request_field_is_part_of_its_identity() -> None:
    # A new Request field must reach the key: this fails until identity() carries it.
    assert set(REQUEST.identity()) == {f.name for f in dataclasses.fields(Request)}


def test_choices_are_ordered_in_the_key() -> None:
    a = dataclasses.replace(REQUEST, kind="loglikelihood", choices=("A", "B"))
    b = dataclasses.replace(REQUEST, kind="loglikelihood", choices=("B", "A"))
    assert key(request=a) != key(request=b)


def test_a_new_key_version_invalidates_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = key()
    monkeypatch.setattr(cache_module, "KEY_VERSION", cache_module.KEY_VERSION + 1)
    assert key() != before


def test_no_secret_enters_the_key_or_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pytest_llmeval.backends.openai import OpenAIBackend

    canary = "sk-canary-5f1d3e0c9b7a4e21"
    monkeypatch.setenv("LLMEVAL_API_KEY", canary)
    from_env = OpenAIBackend("gpt-4", base_url="http://127.0.0.1:9/v1")
    given = OpenAIBackend("gpt-4", base_url="http://127.0.0.1:9/v1", api_key="sk-another-key-entirely")
    monkeypatch.delenv("LLMEVAL_API_KEY")
    keyless = OpenAIBackend("gpt-4", base_url="http://127.0.0.1:9/v1")
    assert canary not in repr(from_env.identity())
    assert request_key(from_env.identity(), REQUEST) == request_key(given.identity(), REQUEST)
    assert request_key(from_env.identity(), REQUEST) == request_key(keyless.identity(), REQUEST)
    store = ResponseCache(tmp_path)
    store.put(request_key(from_env.identity(), REQUEST), Response(text="5"))
    store.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


def _fake_model_dir(path: Path, weights: bytes) -> Path:
    path.mkdir(exist_ok=True)
    (path / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_the_key_changes_with_the_weights_of_a_gguf_file(tmp_path: Path) -> None:
    from pytest_llmeval.backends.transformers import TransformersBackend

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\x01" * 1000)
    before = TransformersBackend("gguf", str(gguf)).identity()
    gguf.write_bytes(b"GGUF" + b"\x02" * 1000)
    assert TransformersBackend("gguf", str(gguf)).identity() != before


def test_the_key_changes_with_the_weights_of_a_model_directory(tmp_path: Path) -> None:
    from pytest_llmeval.backends.transformers import TransformersBackend

    model = _fake_model_dir(tmp_path / "my-model", b"\x01" * 4096)
    before = TransformersBackend("hf", str(model)).identity()
    _fake_model_dir(model, b"\x02" * 4096)  # fine-tuned further: same architecture, new weights
    assert TransformersBackend("hf", str(model)).identity() != before


# -- the store ----------------------------------------------------------------------------------


def test_a_put_response_comes_back_marked_as_cached(tmp_path: Path) -> None:
    store = ResponseCache(tmp_path / "c")
    assert store.get("k") is None
    original = Response(text="5", choice_logprobs=[-0.1, -2.0], tool_calls=[ToolCall("add", '{"a": 2}')],
                        meta={"backend": "openai", "latency_s": 0.25})
    store.put("k", original)
    got = store.get("k")
    assert got is not None
    assert (got.text, got.choice_logprobs, got.tool_calls, got.error) == ("5", [-0.1, -2.0], [ToolCall("add", '{"a": 2}')], None)
    assert got.meta == {"backend": "openai", "latency_s": 0.25, "cached": True}
    assert "cached" not in original.meta
    assert (store.hits, store.misses) == (1, 1)
    store.close()


def test_responses_persist_across_runs(tmp_path: Path) -> None:
    first = ResponseCache(tmp_path)
    first.put("k", Response(text="kept"))
    first.close()
    second = ResponseCache(tmp_path)
    got = second.get("k")
    assert got is not None and got.text == "kept"
    second.close()


def test_errors_are_not_cached(tmp_path: Path) -> None:
    store = ResponseCache(tmp_path)
    store.put("k", Response(error="HTTP 503"))
    assert store.get("k") is None
    store.close()


def test_a_later_answer_replaces_an_earlier_one(tmp_path: Path) -> None:
    store = ResponseCache(tmp_path)
    store.put("k", Response(text="old"))
    store.put("k", Response(text="new"))
    got = store.get("k")
    assert got is not None and got.text == "new"
    store.close()


def test_off_neither_reads_nor_writes(tmp_path: Path) -> None:
    on = ResponseCache(tmp_path / "on")
    on.put("k", Response(text="5"))
    on.close()
    off = ResponseCache(tmp_path / "on", mode="off")
    assert off.get("k") is None
    off.put("other", Response(text="6"))
    off.close()
    nothing = ResponseCache(tmp_path / "never", mode="off")
    nothing.put("k", Response(text="5"))
    assert nothing.get("k") is None
    nothing.close()
    assert not (tmp_path / "never").exists()
    check = ResponseCache(tmp_path / "on")
    assert check.get("other") is None
    check.close()


def test_refresh_ignores_what_is_stored_but_rewrites_it(tmp_path: Path) -> None:
    on = ResponseCache(tmp_path)
    on.put("k", Response(text="old"))
    on.close()
    refresh = ResponseCache(tmp_path, mode="refresh")
    assert refresh.get("k") is None
    refresh.put("k", Response(text="new"))
    refresh.close()
    again = ResponseCache(tmp_path)
    got = again.get("k")
    assert got is not None and got.text == "new"
    again.close()


def test_the_directory_gets_a_readme_and_a_gitignore(tmp_path: Path) -> None:
    store = ResponseCache(tmp_path / "cache")
    store.put("k", Response(text="5"))
    store.close()
    assert "Safe to delete" in (tmp_path / "cache" / "README.md").read_text()
    assert (tmp_path / "cache" / ".gitignore").read_text().strip().endswith("*")


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    store = ResponseCache(tmp_path)
    store.put("k", Response(text="5"))
    store.close()
    db = sqlite3.connect(tmp_path / "responses.sqlite3")
    db.execute("UPDATE responses SET response = ? WHERE key = ?", ("{not json", "k"))
    db.commit()
    db.close()
    store = ResponseCache(tmp_path)
    assert store.get("k") is None
    store.put("k", Response(text="5 again"))
    got = store.get("k")
    assert got is not None and got.text == "5 again"
    store.close()


@pytest.mark.parametrize("damage", [b"garbage, not SQLite " * 200, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_an_unreadable_file_is_moved_aside_and_rebuilt_with_a_warning(tmp_path: Path, damage: bytes) -> None:
    (tmp_path / "responses.sqlite3").write_bytes(damage)
    store = ResponseCache(tmp_path)
    with pytest.warns(CacheWarning, match="is unreadable .*moved it to responses.sqlite3.corrupt-"):
        assert store.get("k") is None
    store.put("k", Response(text="5"))
    got = store.get("k")
    assert got is not None and got.text == "5"
    store.close()
    aside = list(tmp_path.glob("responses.sqlite3.corrupt-*"))
    assert aside and aside[0].read_bytes() == damage


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    # Two stores on one file, as two xdist workers have, each written from several threads.
    stores = [ResponseCache(tmp_path), ResponseCache(tmp_path)]
    errors: list[BaseException] = []

    def write(worker: int, thread: int) -> None:
        try:
            for i in range(40):
                stores[worker].put(f"{worker}-{thread}-{i}", Response(text=str(i)))
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w, t)) for w in range(2) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for store in stores:
        store.close()
    reader = ResponseCache(tmp_path)
    missing = [f"{w}-{t}-{i}" for w in range(2) for t in range(4) for i in range(40) if reader.get(f"{w}-{t}-{i}") is None]
    assert missing == []
    reader.close()


def test_identity_is_the_dataclass_fields_so_existing_cache_keys_stay_valid() -> None:
    # identity() is written out by hand for speed; it must serialise exactly as asdict() did.
    request = Request(messages=(Message("system", "s"), Message("user", "u")), choices=("A", "B"), kind="loglikelihood",
                      stop=("\n",), tools_json='{"x":1}', max_tokens=7, temperature=0.5)
    expected = dataclasses.asdict(request)
    expected["messages"] = [[m.role, m.content] for m in request.messages]
    assert json.dumps(request.identity(), sort_keys=True) == json.dumps(expected, sort_keys=True)
