"""vllm: against a real vLLM (the CPU build) serving the embedded model: slow, and only where vLLM is.

vLLM lives in an environment of its own (docs/vllm.md); ``LLMEVAL_VLLM_PYTHON`` names its
python, else these tests are skipped saying so. One server serves the whole module: the plugin
runs below join it (same command, same state folder) instead of starting their own. The first
start on a machine compiles for about 5 minutes; later ones take about 80 s.

    LLMEVAL_VLLM_PYTHON=/work/vllm-venv/bin/python python -m pytest -m slow tests/test_vllm_real.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project
from pytest_llmeval.backends.openai import OpenAIBackend
from pytest_llmeval.backends.vllm import VLLMArguments, VLLMBackend
from pytest_llmeval.request import Message, Request

VLLM_PYTHON = os.environ.get("LLMEVAL_VLLM_PYTHON")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not VLLM_PYTHON, reason="vLLM is not installed here: set LLMEVAL_VLLM_PYTHON to the python of an "
                                               "environment with vLLM (docs/vllm.md)"),
]

#: The model's arguments, as the plugin runs below spell them: the same command joins one server.
ARGUMENTS = {"max_model_len": 2048, "env": {"VLLM_CPU_KVCACHE_SPACE": "1"}}


def embedded_directory() -> Path:
    """The embedded model converted to a directory by the transformers backend (converted now if missing)."""
    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.registry import embedded_model_file

    return TransformersBackend("gguf", str(embedded_model_file())).converted_directory()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vllm-run") / "cache"


@pytest.fixture(scope="module")
def served(cache_dir: Path) -> Iterator[VLLMBackend]:
    directory = embedded_directory()
    backend = VLLMBackend(str(directory), VLLMArguments.model_validate(ARGUMENTS), name=directory.name,
                          state_dir=cache_dir / "vllm", timeout=600)
    backend.check()
    yield backend
    backend.close()


def test_the_server_reports_what_it_serves(served: VLLMBackend) -> None:
    identity = served.identity()
    assert identity["backend"] == "vllm" and identity["dtype"] == "float32" and identity["max_model_len"] == 2048
    assert identity["vllm"].startswith("0.")
    described = served.describe()
    assert "tool calls: hermes" in described and "multiple choice by log-likelihood" in described
    assert "max_model_len 2048" in described


def test_multiple_choice_by_log_likelihood_gives_the_local_backends_letters(served: VLLMBackend) -> None:
    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.benchmarks import mmlu

    requests = [item.requests[0] for item in mmlu.benchmarks()[0].items(limit=10)]
    remote = dict(served.run(requests, lambda n: None))
    local = dict(TransformersBackend("hf", served.target).run(requests, lambda n: None))
    for i in range(len(requests)):
        ours, theirs = remote[i].choice_logprobs, local[i].choice_logprobs
        assert ours is not None and theirs is not None, remote[i].error
        assert max(range(4), key=ours.__getitem__) == max(range(4), key=theirs.__getitem__)
        assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-3


def test_tool_definitions_reach_a_server_with_a_parser(served: VLLMBackend) -> None:
    from pytest_llmeval.benchmarks import bfcl

    requests = [item.requests[-1] for item in bfcl.benchmarks()[0].items(limit=3)]
    assert all(r.tools_json for r in requests)
    out = dict(served.run(requests, lambda n: None))
    assert all(r.ok and "tools" not in r.meta for r in out.values()), [r.error for r in out.values()]
    assert served.client is not None and served.client.tools_refused is None


def test_a_request_longer_than_the_context_is_skipped_unsent(served: VLLMBackend) -> None:
    long = Request(messages=(Message("user", "word " * 2500),), max_tokens=16)
    out = dict(served.run([long], lambda n: None))
    assert out[0].skip is not None and "> the server's max_model_len 2048 (counted by the server's /tokenize)" in out[0].skip


def test_a_restart_in_bfloat16_under_the_same_name_is_not_replayed(served: VLLMBackend, tmp_path: Path) -> None:
    # What a server a user runs reports: vLLM hashes its configuration (dtype included) into
    # system_fingerprint, which the OpenAI-compatible backend puts in the cache key.
    assert served.server is not None and served.server.state is not None
    float32 = OpenAIBackend(served.served_name, base_url=served.server.state.base_url, api_key="no-key")
    first = float32.identity()["server"]
    assert OpenAIBackend(served.served_name, base_url=served.server.state.base_url, api_key="no-key").identity()[
        "server"] == first  # stable while the server runs
    bfloat16 = VLLMBackend(served.target, VLLMArguments.model_validate({**ARGUMENTS, "dtype": "bfloat16"}),
                           name=served.served_name, state_dir=tmp_path / "vllm", timeout=600)
    bfloat16.check()
    try:
        assert bfloat16.server is not None and bfloat16.server.state is not None
        other = OpenAIBackend(served.served_name, base_url=bfloat16.server.state.base_url, api_key="no-key")
        second = other.identity()["server"]
    finally:
        bfloat16.close()
    assert first["fingerprint"].startswith("vllm-") and second["fingerprint"] != first["fingerprint"]
    assert {k: v for k, v in second.items() if k != "fingerprint"} == {k: v for k, v in first.items() if k != "fingerprint"}


def test_the_plugin_runs_a_suite_on_the_managed_server(project: Project, served: VLLMBackend, cache_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert VLLM_PYTHON is not None
    monkeypatch.setenv("LLMEVAL_VLLM_PYTHON", VLLM_PYTHON)
    spec = f"vllm:{served.target}{json.dumps(ARGUMENTS)}"
    result = project.run(f"--llm-model={spec}", "--llm-suite=gsm8k", "--llm-suite=mmlu", "--llm-suite=bfcl",
                         "--llm-limit=2", f"--llm-cache-dir={cache_dir}", "--llm-scorecard=card.json", subprocess=True)
    card = project.scorecard()
    assert sum(row["errors"] for row in card["benchmarks"]) == 0, result.stdout.str()[-3000:]
    assert sum(row["total"] for row in card["benchmarks"]) >= 6
    result.stdout.fnmatch_lines(["*vLLM 0.* server for * at http://127.0.0.1:*/v1 (CPU, float32*log: *.log)"])
    # It joined the module's server: still the one start, still running for the module.
    assert served.server is not None and served.server.state is not None
    assert len(list((cache_dir / "vllm").glob("*/server-*.log"))) == 1
