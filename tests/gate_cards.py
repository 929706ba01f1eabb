"""Scorecards for the gate's tests: item outcomes in, a typed :class:`Scorecard` out, as the
plugin builds it from the reports of a run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_llmeval.gate import Thresholds, parse_thresholds, pin
from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard

MODEL = "smollm2-135m-instruct"
BASELINE = "gpt-3.5-turbo"
#: item id -> passed | failed | error | skipped, or the item's samples (1/0 each) with repeats
Outcomes = dict[str, Any]


def outcomes(passed: int, total: int, *, first: int = 0) -> Outcomes:
    """``total`` items test-0000...; the first ``passed`` of them passed."""
    return {f"test-{i:04d}": "passed" if i - first < passed else "failed" for i in range(first, first + total)}


def flip(results: Outcomes, to_fail: range | list[int] = (), to_pass: range | list[int] = ()) -> Outcomes:
    changed = dict(results)
    for i in to_fail:
        changed[f"test-{i:04d}"] = "failed"
    for i in to_pass:
        changed[f"test-{i:04d}"] = "passed"
    return changed


def item(model: str, capability: str, benchmark: str, item_id: str, result: Any, fingerprint: str | None) -> ItemOutcome:
    """An item outcome as the plugin reports it; a tuple ``result`` is the item's samples."""
    samples = tuple(result) if isinstance(result, tuple) else ()
    outcome = result if not samples else ("passed" if 2 * sum(samples) >= len(samples) else "failed")
    return ItemOutcome(model, capability, benchmark, item_id, outcome, answer="42", expected="42",
                       fingerprint=fingerprint, samples=samples)


def scorecard(runs: Mapping[tuple[str, str, str], Outcomes], *, baseline: Mapping[tuple[str, str, str], Outcomes]
              | None = None, fingerprints: Mapping[str, str | None] | None = None) -> Scorecard:
    """The scorecard of a run with these item outcomes. Each item's fingerprint is
    ``fp-<benchmark>[<id>]`` unless ``fingerprints`` (keyed ``benchmark[id]``) says otherwise."""
    items = []
    for (model, capability, benchmark), results in list(runs.items()) + list((baseline or {}).items()):
        for item_id, result in results.items():
            key = f"{benchmark}[{item_id}]"
            fingerprint = (fingerprints or {}).get(key, f"fp-{key}")
            items.append(item(model, capability, benchmark, item_id, result, fingerprint))
    models = [ModelInfo(MODEL, "transformers", "transformers (GGUF, cpu)")]
    if baseline:
        models.append(ModelInfo(BASELINE, "recorded", "recorded outputs", "baseline"))
    return Scorecard.build(items, models, {"limit": 40}, created="2026-11-25T16:00:00Z")


def thresholds_for(runs: Mapping[tuple[str, str, str], Outcomes], **settings: Any) -> Thresholds:
    document = pin(scorecard(runs))
    document["settings"].update(settings)
    return parse_thresholds(json.loads(json.dumps(document)), "llm-thresholds.json")


GSM8K = (MODEL, "reasoning", "gsm8k")
MMLU = (MODEL, "general", "mmlu")
TRUTHFULQA = (MODEL, "hallucination", "truthfulqa")
BFCL = (MODEL, "agent", "bfcl_simple")
