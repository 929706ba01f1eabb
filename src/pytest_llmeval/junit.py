"""JUnit XML: the one module that touches pytest's ``_pytest.junitxml``.

Two things, both on pytest's own ``LogXML`` object (``--junitxml``):

- Per-item properties (model, capability, answer, ...) are testcase ``<property>`` elements,
  which the xunit1 family allows and xunit2's schema forbids: files written with this plugin
  use xunit1 so that they stay valid for the family they declare (:class:`JUnitPlugin`).
- One testcase per model and capability (and its gate verdict), for dashboards to chart
  (:func:`add_capability_testcases`).

Hook order relied on: :class:`JUnitPlugin` sets the family in a ``trylast``
``pytest_sessionstart``, after ``LogXML`` was created in ``pytest_configure`` and before any
report; the capability testcases are added from the scorecard plugin's ``tryfirst``
``pytest_sessionfinish``, which runs before ``LogXML``'s own ``pytest_sessionfinish`` writes
the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from . import properties
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

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        xml = _log_xml(session.config)
        if xml is not None:
            xml.family = "xunit1"


def add_capability_testcases(config: pytest.Config, card: Scorecard, gate: GateResult | None) -> None:
    """One JUnit testcase per model and capability, failed when its gate verdict failed."""
    xml = _log_xml(config)
    if xml is None:
        return
    verdicts = {v.name: v for v in gate.verdicts} if gate is not None else {}
    for group in card.capabilities:
        name = f"{group.model}::{group.capability}"
        verdict = verdicts.get(name)
        failure = verdict.fails() if verdict is not None else None
        tally = group.tally.to_json()
        props: list[tuple[str, object]] = [(properties.MODEL, group.model), (properties.CAPABILITY, group.capability)]
        props += [(properties.PREFIX + k, "" if tally[k] is None else f"{tally[k]:.4f}" if isinstance(tally[k], float)
                   else str(tally[k])) for k in ("score", "ci_low", "ci_high", "passed", "failed", "errors", "skipped", "total")]
        if verdict is not None:
            props.append((properties.VERDICT, verdict.status))
        nodeid = f"llmeval::scorecard::{name}"
        location = ("llmeval", None, name)
        call = pytest.TestReport(nodeid, location, {}, "failed" if failure else "passed", failure, "call", user_properties=props)
        teardown = pytest.TestReport(nodeid, location, {}, "passed", None, "teardown", user_properties=props)
        xml.pytest_runtest_logreport(call)
        xml.pytest_runtest_logreport(teardown)
