"""The report-property vocabulary: what a benchmark item's test report carries, written and read
in this one module.

Each benchmark item puts ``("llm_<name>", value)`` pairs on its ``user_properties``; pytest
serialises them across xdist workers and writes them into JUnit files as ``<property>``
elements, and the scorecard is rebuilt from them on the controller
(:func:`outcome_from_report`). Names: ``llm_model``, ``llm_capability``, ``llm_benchmark``,
``llm_item``, ``llm_subset``, ``llm_fingerprint``; after scoring ``llm_answer``,
``llm_expected``, ``llm_score``, ``llm_why`` (why a wrong answer is wrong), ``llm_metric_<name>``, ``llm_samples`` and ``llm_sample_<k>``
(with repeats: each sample's pass/fail and answer), ``llm_reasoning``,
``llm_truncated``, ``llm_protocol`` (how the answer was asked for when not zero-shot by the
plugin's prompt: the run's few-shot protocol, or a recording's own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from .scorecard import ItemOutcome, Outcome

#: The prefix of every property the plugin puts on a report.
PREFIX = "llm_"
MODEL = PREFIX + "model"
CAPABILITY = PREFIX + "capability"
BENCHMARK = PREFIX + "benchmark"
ITEM = PREFIX + "item"
SUBSET = PREFIX + "subset"
FINGERPRINT = PREFIX + "fingerprint"
ANSWER = PREFIX + "answer"
EXPECTED = PREFIX + "expected"
EXPLANATION = PREFIX + "why"
SCORE = PREFIX + "score"
METRIC = PREFIX + "metric_"
SAMPLES = PREFIX + "samples"
#: One per sample with repeats: ``llm_sample_0``, ``llm_sample_1``, ... hold each sample's answer.
SAMPLE = PREFIX + "sample_"
REASONING = PREFIX + "reasoning"
TRUNCATED = PREFIX + "truncated"
PROTOCOL = PREFIX + "protocol"
VERDICT = PREFIX + "verdict"

Properties = list[tuple[str, object]]


def identity_properties(model: str, capability: str, benchmark: str, item: str, subset: str | None = None,
                        fingerprint: str | None = None) -> Properties:
    """Who the item is: set when it is collected, so even a skipped item is counted."""
    props: Properties = [(MODEL, model), (CAPABILITY, capability), (BENCHMARK, benchmark), (ITEM, item)]
    if subset is not None:
        props.append((SUBSET, subset))
    if fingerprint is not None:
        props.append((FINGERPRINT, fingerprint))
    return props


def outcome_properties(*, answer: str | None, expected: str, passed: bool, metrics: Mapping[str, float],
                       explanation: str = "",
                       samples: Iterable[bool] = (), sample_answers: Iterable[str | None] = (),
                       reasoning: str | None = None, truncated: bool = False, protocol: str | None = None) -> Properties:
    """What scoring found: the extracted answer, the expected one, pass/fail and metrics; with
    repeats, one 1/0 per sample; the reasoning trace and whether the reply was cut off."""
    props: Properties = [(ANSWER, "" if answer is None else answer), (EXPECTED, expected), (SCORE, "1" if passed else "0")]
    props.extend((f"{METRIC}{k}", f"{v:g}") for k, v in sorted(metrics.items()))
    if explanation and not passed:
        props.append((EXPLANATION, explanation))
    drawn = "".join("1" if s else "0" for s in samples)
    if len(drawn) > 1:
        props.append((SAMPLES, drawn))
        props.extend((f"{SAMPLE}{index}", "" if text is None else text) for index, text in enumerate(sample_answers))
    if reasoning:
        props.append((REASONING, reasoning))
    if truncated:
        props.append((TRUNCATED, "1"))
    if protocol is not None:
        props.append((PROTOCOL, protocol))
    return props


def protocol_properties(protocol: str | None) -> Properties:
    """How a ``benchmark.each`` test's item was asked when not zero-shot (no reply of the
    plugin's says it there): ``[("llm_protocol", "5-shot (multi-turn)")]``, or nothing."""
    return [] if protocol is None else [(PROTOCOL, protocol)]


def is_benchmark_report(report: pytest.TestReport) -> bool:
    """Whether the report is of a benchmark item (it carries the item's identity)."""
    return any(k == BENCHMARK for k, _ in report.user_properties)


#: The report attribute that marks a wrong answer (it travels with the report across xdist).
WRONG_ANSWER = "llm_wrong_answer"


def mark_wrong_answer(report: pytest.TestReport) -> None:
    """Mark the report of a benchmark item whose answer was wrong (a failed assertion about the
    model's answer, not a broken test): a measurement, not a failure of the build."""
    setattr(report, WRONG_ANSWER, True)


def is_wrong_answer(report: pytest.TestReport) -> bool:
    return bool(getattr(report, WRONG_ANSWER, False))


def property_of(report: pytest.TestReport, name: str) -> object | None:
    """One property's value on a report, or None."""
    return next((v for k, v in report.user_properties if k == name), None)


def outcome_from_report(report: pytest.TestReport) -> ItemOutcome | None:
    """The item outcome a report says, or None when it says nothing new (not a benchmark item,
    or a setup/teardown that went fine)."""
    if report.when != "call" and report.passed:
        return None
    props: dict[str, Any] = {k: v for k, v in report.user_properties if isinstance(k, str) and k.startswith(PREFIX)}
    if BENCHMARK not in props:
        return None
    outcome: Outcome
    if report.when == "call":
        outcome = "skipped" if report.skipped else ("passed" if report.passed else "failed")
    elif report.failed:
        outcome = "error"
    elif report.skipped:
        outcome = "skipped"
    else:
        return None
    metrics = {k[len(METRIC):]: float(str(v)) for k, v in props.items() if k.startswith(METRIC)}
    samples = tuple(int(c) for c in str(props.get(SAMPLES, "")))
    return ItemOutcome(model=str(props[MODEL]), capability=str(props[CAPABILITY]), benchmark=str(props[BENCHMARK]),
                       item=str(props[ITEM]), outcome=outcome, subset=props.get(SUBSET), answer=props.get(ANSWER),
                       expected=props.get(EXPECTED), metrics=metrics, fingerprint=props.get(FINGERPRINT),
                       samples=samples if outcome in ("passed", "failed") else (),
                       truncated=str(props.get(TRUNCATED, "")) == "1", protocol=props.get(PROTOCOL))
