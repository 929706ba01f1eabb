"""Benchmark items as pytest items: one test per item and model.

Built-in suites (``--llm-suite``) are collected under a virtual ``llmeval`` collector, so their
ids read ``llmeval::gsm8k[janet-s-ducks-1a2b3c4d5e]``; a :class:`Benchmark` assigned to a
``test_*`` name in a test module is collected in that module
(``test_geo.py::capitals[france-a58b6c6617]``); a test decorated with ``benchmark.each`` is
parametrized with one :class:`Bound` per item and model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import pytest

from . import properties
from .benchmarks.base import Benchmark, Item
from .evaluation import Evaluation, Evaluator
from .request import Request, Response
from .scoring.base import Score, as_text
from .scoring.normalize import UNCLOSED_REASONING

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

#: The node id of the collector of ``--llm-suite`` items, and the file that reports (JUnit's
#: ``file`` attribute) give for them and for the scorecard's capability testcases: they come from
#: no file of the project.
SUITE_NODE = "llmeval"


class Bound:
    """A benchmark item together with the model that answers it (a ``benchmark.each`` parameter)."""

    def __init__(self, model: str, item: Item) -> None:
        self.model = model
        self.item = item

    def __repr__(self) -> str:
        return f"{self.item.benchmark.name}[{self.item.id}] on {self.model}"


def bound_of(node: pytest.Item) -> Bound | None:
    """The item and model a collected test answers: a benchmark item, or a ``benchmark.each``
    test; None for any other test."""
    if isinstance(node, BenchmarkItem):
        return node.bound
    callspec = getattr(node, "callspec", None)
    value = callspec.params.get("llm_item") if callspec is not None else None
    return value if isinstance(value, Bound) else None


def item_name(benchmark: str, item: Item, model: str, several_models: bool) -> str:
    """The test name: ``gsm8k[<id>]``, with ``-<model>`` when several models run side by side."""
    suffix = f"-{model}" if several_models else ""
    return f"{benchmark}[{item.id}{suffix}]"


def identity_properties(model: str, item: Item, benchmark: str | None = None) -> properties.Properties:
    """The properties that name an item on a model (``benchmark`` overrides the row name)."""
    return properties.identity_properties(model, item.capability, benchmark or item.benchmark.name, item.id, item.subset)


def add_fingerprint(node: pytest.Item, item: Item) -> None:
    """Put the item's content fingerprint on its report (done as it runs: hashing every
    collected item would slow down collecting large benchmarks)."""
    if not any(k == properties.FINGERPRINT for k, _ in node.user_properties):
        node.user_properties.append((properties.FINGERPRINT, item.fingerprint))


class WrongAnswer(AssertionError):
    """The model answered, and the answer is wrong: a failed item."""

    def __init__(self, score: Score) -> None:
        super().__init__(score.explanation or f"expected {score.expected!r}, got {score.answer!r}")
        self.score = score


def backend_failure(message: str) -> None:
    """Error the current test with ``message`` alone: the cause, not a traceback of the plugin."""
    pytest.fail(f"backend error: {message}", pytrace=False)


def settle(result: Evaluation) -> Score:
    """The score of an evaluation, or the test's skip or error when there is none."""
    if result.skipped is not None:
        pytest.skip(result.skipped)
    if result.error is not None:
        backend_failure(result.error)
    assert result.score is not None
    return result.score


class BenchmarkItem(pytest.Item):
    """One benchmark item answered by one model, scored by the benchmark's scorer."""

    def __init__(self, *, item: Item, model: str, evaluator: Evaluator, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bound = Bound(model, item)
        self.evaluator = evaluator
        self.result: Evaluation | None = None
        self.user_properties.extend(identity_properties(model, item))

    @property
    def item(self) -> Item:
        return self.bound.item

    @property
    def model(self) -> str:
        return self.bound.model

    def setup(self) -> None:
        # Answering and scoring happen here, so that a backend, judge or scorer failure is an
        # errored item and never a wrong answer.
        if self.evaluator.options.keeps_items:
            add_fingerprint(self, self.item)
        self.result = self.evaluator.evaluate(self.model, self.item)
        score = settle(self.result)
        response = self.result.response
        self.user_properties.extend(properties.outcome_properties(
            answer=score.answer, expected=score.expected, passed=score.passed, metrics=score.metrics,
            explanation=score.explanation,
            samples=self.result.samples, sample_answers=self.result.sample_answers,
            reasoning=response.reasoning if response else None, truncated=bool(response and response.truncated),
            protocol=self.item.protocol_of(response)))

    def runtest(self) -> None:
        assert self.result is not None and self.result.score is not None
        if not self.result.score.passed:
            raise WrongAnswer(self.result.score)

    def repr_failure(self, excinfo: ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, WrongAnswer) and self.result is not None:
            return describe_wrong_answer(self.result.request, self.result.response, excinfo.value.score)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.item.benchmark.name} {self.item.id} ({self.model})"

    @cached_property
    def location(self) -> tuple[str, int | None, str]:
        # pytest makes the path relative to the rootdir: "." for a suite item, whose path is the
        # rootdir. Such an item comes from no file of the project: it names its collector.
        if isinstance(self.parent, SuiteCollector):
            return SUITE_NODE, None, self.reportinfo()[2]
        return super().location


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
    if response is not None and response.truncated:
        limit = request.max_tokens if request is not None else "?"
        lines.append(f"cut off: the reply reached the token limit ({limit} tokens); raise it with --llm-max-tokens")
    if response is not None and response.meta.get(UNCLOSED_REASONING):
        lines.append("no final answer: the reasoning trace never closed (usually cut off by the token limit)")
    lines += ["", "--- prompt ---", clip(prompt)]
    if response is not None and response.reasoning:
        lines += ["--- reasoning trace ---", clip(response.reasoning)]
    lines += ["--- raw response ---" if not (response and response.reasoning) else "--- final answer ---", clip(raw)]
    return "\n".join(lines)


def clip(text: str, limit: int = 4000) -> str:
    """``text``, cut to ``limit`` characters with a note of how much was left out."""
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


class SuiteCollector(pytest.Collector):
    """The built-in items selected by ``--llm-suite``, under one virtual node named ``llmeval``."""

    def __init__(self, *, benchmarks: Sequence[Benchmark], make_items: Callable[[pytest.Collector, Benchmark], list[pytest.Item]],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.benchmarks = benchmarks
        self.make_items = make_items

    def collect(self) -> Iterable[pytest.Item]:
        for benchmark in self.benchmarks:
            yield from self.make_items(self, benchmark)


@dataclass(frozen=True)
class SummaryLine:
    message: str


class CompactFailure:
    """A wrong answer as the terminal shows it: one line by default, everything under ``-v``.
    ``str()`` is the full text (what JUnit files and the HTML report carry)."""

    def __init__(self, line: str, detail: str, verbose: bool) -> None:
        self.line = line
        self.detail = detail
        self.verbose = verbose
        #: What pytest's short summary line quotes ("FAILED id - <message>").
        self.reprcrash = SummaryLine(line)

    def toterminal(self, out: Any) -> None:
        for text in (self.detail if self.verbose else self.line).splitlines():
            out.line(text)

    def __str__(self) -> str:
        return self.detail


def compact_line(report: pytest.TestReport) -> str:
    """The one line a wrong answer gets: what was expected and what was read."""
    expected = properties.property_of(report, properties.EXPECTED)
    if expected is None:  # a user's own assertion in a benchmark.each test
        lines = str(report.longrepr).strip().splitlines()
        return next((line[1:].strip() for line in lines if line.startswith("E ")), lines[-1] if lines else "failed")
    answer = properties.property_of(report, properties.ANSWER) or "(none found)"
    line = f"wrong answer: expected {one_line(expected)}, extracted {one_line(answer)}"
    why = properties.property_of(report, properties.EXPLANATION)
    if why:
        line += f"; {one_line(why, 120)}"
    if properties.property_of(report, properties.TRUNCATED):
        line += " (the reply was cut off by the token limit)"
    return line


def one_line(value: object, limit: int = 60) -> str:
    """``value`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OutcomePolicy:
    """How benchmark items' reports behave in the rest of pytest (every process).

    - A wrong answer is a measurement: it never counts towards ``-x``/``--maxfail``, which stop
      on broken tests and errored items only.
    - A skip decided before inference points at the item (``llmeval::humaneval``), not at the
      plugin's code, and folds with the others of its benchmark.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        bound = bound_of(item)
        if bound is None:
            return report
        if report.when == "call" and report.failed and call.excinfo is not None \
                and isinstance(call.excinfo.value, AssertionError):
            properties.mark_wrong_answer(report)
        elif report.skipped and isinstance(report.longrepr, tuple) and call.excinfo is not None:
            reason = str(report.longrepr[2])
            # No line: pytest then folds the skips of one benchmark into one summary line.
            report.longrepr = cast(Any, (item.nodeid.split("[", 1)[0], None, reason))
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Any:
        if not properties.is_wrong_answer(report):
            return (yield)
        # pytest's session counts failures towards --maxfail as it sees them; a wrong answer must not.
        saved = self.config.option.maxfail
        self.config.option.maxfail = 0
        try:
            return (yield)
        finally:
            self.config.option.maxfail = saved
            session = getattr(self, "session", None)
            if session is not None and session.testsfailed:
                session.testsfailed -= 1
            dsession = self.config.pluginmanager.get_plugin("dsession")
            if dsession is not None:  # xdist counts it after this hook: take it back in advance
                dsession.countfailures -= 1

    @pytest.hookimpl
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session
