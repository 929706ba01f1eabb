"""JUnit XML: the one module that touches pytest's ``_pytest.junitxml``.

Three things, all on pytest's own ``LogXML`` object (``--junitxml``):

- Per-item properties (model, capability, answer, ...) are testcase ``<property>`` elements,
  which the xunit1 family allows and xunit2's schema forbids: files written with this plugin
  use xunit1 so that they stay valid for the family they declare (:class:`JUnitPlugin`).
- One testcase per model and capability (and its gate verdict), for dashboards to chart
  (:func:`add_capability_testcases`): classname ``llmeval.scorecard.MODEL`` with the dots of
  the model's name made underscores (Jenkins-style reporters split a classname into packages
  at its dots; the ``llm_model`` property keeps the real name), skipped when none of its items
  was scored.
- A skip with no line number (a benchmark item skipped before inference points at the item,
  not at a line) reads ``PATH: reason``, where pytest writes ``PATH:None: reason``
  (:func:`drop_missing_line`, after ``LogXML`` wrote the report: a ``pytest_runtest_logreport``
  wrapper).

Hook order relied on: :class:`JUnitPlugin` sets the family in a ``trylast``
``pytest_sessionstart``, after ``LogXML`` was created in ``pytest_configure`` and before any
report; the capability testcases are added from the scorecard plugin's ``tryfirst``
``pytest_sessionfinish``, which runs before ``LogXML``'s own ``pytest_sessionfinish`` writes
the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pytest

from . import properties
from .items import SUITE_NODE
from .scorecard import Scorecard

if TYPE_CHECKING:
    from .gate import GateResult


def _log_xml(config: pytest.Config) -> Any:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest internals moved
        return None
    return config.stash.get(xml_key, None)


class JUnitPlugin:
    """Registered in the process that writes the JUnit file (never an xdist worker)."""

    def __init__(self) -> None:
        self.xml: Any = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.xml = _log_xml(session.config)
        if self.xml is not None:
            self.xml.family = "xunit1"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Any:
        result = yield  # by now pytest's LogXML has written the report's elements
        drop_missing_line(self.xml, report)
        return result


def drop_missing_line(xml: Any, report: pytest.TestReport) -> None:
    """Rewrite the ``<skipped>`` element pytest wrote for ``report``, a skip whose location has
    no line number, from ``PATH:None: reason`` to ``PATH: reason``."""
    longrepr = report.longrepr
    if xml is None or not report.skipped or not isinstance(longrepr, tuple) or longrepr[1] is not None \
            or hasattr(report, "wasxfail"):
        return
    wrong = f"{longrepr[0]}:None: "
    for node in reversed(getattr(xml.node_reporter(report), "nodes", [])):
        if node.tag == "skipped" and isinstance(node.text, str) and node.text.startswith(wrong):
            node.text = f"{longrepr[0]}: {node.text[len(wrong):]}"
            return


def scorecard_nodeid(model: str, capability: str) -> str:
    """The node id of a model's capability testcase, ``llmeval::scorecard::MODEL::CAPABILITY``,
    the model's dots made underscores: pytest writes the parts before the last as the testcase's
    classname, joined by dots, and reporters that read a classname's dots as packages (Jenkins)
    would cut ``gpt-3.5-turbo`` in two.

    >>> scorecard_nodeid("gpt-3.5-turbo", "reasoning")
    'llmeval::scorecard::gpt-3_5-turbo::reasoning'
    """
    return f"{SUITE_NODE}::scorecard::{model.replace('.', '_')}::{capability}"


def nothing_scored(tally: dict[str, Any]) -> str:
    """Why a capability (its tally's JSON form) has no score: ``"nothing scored: 1 item errored,
    2 items skipped"``."""
    counts = [f"{tally[k]} item{'s' * (tally[k] != 1)} {word}" for k, word in (("errors", "errored"), ("skipped", "skipped"))
              if tally[k]]
    return f"nothing scored: {', '.join(counts) or 'no items'}"


def add_capability_testcases(config: pytest.Config, card: Scorecard, gate: GateResult | None) -> None:
    """One JUnit testcase per model and capability: failed when its gate verdict failed, else
    skipped when none of its items was scored, else passed."""
    xml = _log_xml(config)
    if xml is None:
        return
    verdicts = {v.name: v for v in gate.verdicts} if gate is not None else {}
    for group in card.capabilities:
        name = f"{group.model}::{group.capability}"
        verdict = verdicts.get(name)
        tally = group.tally.to_json()
        props: list[tuple[str, object]] = [(properties.MODEL, group.model), (properties.CAPABILITY, group.capability)]
        props += [(properties.PREFIX + k, "" if tally[k] is None else f"{tally[k]:.4f}" if isinstance(tally[k], float)
                   else str(tally[k])) for k in ("score", "ci_low", "ci_high", "passed", "failed", "errors", "skipped", "total")]
        if verdict is not None:
            props.append((properties.VERDICT, verdict.status))
        nodeid = scorecard_nodeid(group.model, group.capability)
        location = (SUITE_NODE, None, name)
        failure = verdict.fails() if verdict is not None else None
        outcome: Literal["passed", "failed", "skipped"] = "failed" if failure else "passed"
        longrepr: Any = failure
        if failure is None and tally["score"] is None:
            # As a skip is reported: (where, line, reason); no line, as for a skipped item.
            outcome, longrepr = "skipped", (nodeid, None, nothing_scored(tally))
        call = pytest.TestReport(nodeid, location, {}, outcome, longrepr, "call", user_properties=props)
        xml.pytest_runtest_logreport(call)
        drop_missing_line(xml, call)
        xml.pytest_runtest_logreport(pytest.TestReport(nodeid, location, {}, "passed", None, "teardown", user_properties=props))
