"""Benchmark items as pytest items: one test per item and model.

Built-in suites (``--llm-suite``) are collected under a virtual ``llmeval`` collector, so their
ids read ``llmeval::gsm8k[test-0042]``; a :class:`Benchmark` assigned to a ``test_*`` name in a
test module is collected in that module (``test_geo.py::capitals[test-0003]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .benchmarks.base import Benchmark, Item
from .request import Request, Response
from .scoring.base import Score, as_text

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from .session import EvalSession

#: The prefix of every property the plugin puts on a report (JUnit <property> elements too).
PROP = "llm_"


def backend_failure(message: str) -> None:
    """Error the current item with ``message`` alone: the cause, not a traceback of the plugin."""
    pytest.fail(f"backend error: {message}", pytrace=False)


class WrongAnswer(AssertionError):
    """The model answered, and the answer is wrong: a failed item."""

    def __init__(self, score: Score) -> None:
        super().__init__(score.explanation or f"expected {score.expected!r}, got {score.answer!r}")
        self.score = score


def item_name(benchmark: str, item: Item, model: str, several_models: bool) -> str:
    suffix = f"-{model}" if several_models else ""
    return f"{benchmark}[{item.id}{suffix}]"


def identity_properties(model: str, item: Item, benchmark: str | None = None) -> list[tuple[str, object]]:
    props: list[tuple[str, object]] = [
        (PROP + "model", model),
        (PROP + "capability", item.capability),
        (PROP + "benchmark", benchmark or item.benchmark.name),
        (PROP + "item", item.id),
    ]
    if item.subset is not None:
        props.append((PROP + "subset", item.subset))
    return props


def outcome_properties(score: Score) -> list[tuple[str, object]]:
    props: list[tuple[str, object]] = [
        (PROP + "answer", "" if score.answer is None else score.answer),
        (PROP + "expected", score.expected),
        (PROP + "score", "1" if score.passed else "0"),
    ]
    props.extend((f"{PROP}metric_{k}", f"{v:g}") for k, v in sorted(score.metrics.items()))
    return props


def check_response(response: Response, model: str) -> None:
    """Turn an unusable response into the right outcome: skip (nothing to replay) or error."""
    if response.ok:
        return
    if response.skip is not None:
        pytest.skip(response.skip)
    backend_failure(f"{model}: {response.error}")


class BenchmarkItem(pytest.Item):
    """One benchmark item answered by one model, scored by the benchmark's scorer."""

    def __init__(self, *, item: Item, model: str, evaluator: EvalSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.model = model
        self.evaluator = evaluator
        self.request: Request | None = None
        self.response: Response | None = None
        self.score: Score | None = None
        self.user_properties.extend(identity_properties(model, item))

    def setup(self) -> None:
        # Answering and scoring happen here, so that a backend, judge or scorer failure is an
        # errored item and never a wrong answer.
        self.request, self.response, self.score = self.evaluator.evaluate(self.model, self.item)
        self.user_properties.extend(outcome_properties(self.score))

    def runtest(self) -> None:
        assert self.score is not None
        if not self.score.passed:
            raise WrongAnswer(self.score)

    def repr_failure(self, excinfo: ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, WrongAnswer):
            return describe_wrong_answer(self.request, self.response, excinfo.value.score)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.item.benchmark.name} {self.item.id} ({self.model})"


def describe_wrong_answer(request: Request | None, response: Response | None, score: Score) -> str:
    """What a person needs to judge a failure: the prompt, the raw response, what was extracted."""
    prompt = request.text() if request is not None else "?"
    if response is not None and response.choice_logprobs is not None and request is not None:
        raw = ", ".join(f"{c}: {lp:.3f}" for c, lp in zip(request.choices, response.choice_logprobs, strict=False))
        raw = f"log-likelihood of each choice: {raw}"
    else:
        raw = response.text if response is not None else "?"
    lines = [
        f"expected: {score.expected}",
        f"extracted answer: {as_text(score.answer) if score.answer is not None else '(none found)'}",
    ]
    if score.explanation:
        lines.append(f"why: {score.explanation}")
    lines += ["", "--- prompt ---", _clip(prompt), "--- raw response ---", _clip(raw)]
    return "\n".join(lines)


def _clip(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


class SuiteCollector(pytest.Collector):
    """The built-in items selected by ``--llm-suite``, under one virtual node named ``llmeval``."""

    def __init__(self, *, benchmarks: Sequence[Benchmark], evaluator: EvalSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.benchmarks = benchmarks
        self.evaluator = evaluator

    def collect(self) -> Iterable[pytest.Item]:
        for benchmark in self.benchmarks:
            yield from self.evaluator.make_items(self, benchmark, None)

