"""Gathers item outcomes from reports, and at the end writes the scorecard, prints it, and
decides the exit status. Lives only in the process that sees every report (never an xdist
worker), as pytest's junitxml does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import scorecard as sc
from .options import Settings
from .reports.terminal import render_table


class ScorecardReporter:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.outcomes: dict[str, sc.ItemOutcome] = {}
        self.other_failures = 0
        self.document: dict[str, Any] | None = None
        self.messages: list[str] = []
        self.written: list[Path] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = sc.ItemOutcome.from_report(report)
        if outcome is not None:
            previous = self.outcomes.get(report.nodeid)
            # A teardown error after a verdict still counts the item once, as pytest shows it last.
            if previous is None or outcome.outcome == "error" or report.when == "call":
                self.outcomes[report.nodeid] = outcome
        elif report.failed and not any(k == sc.PROP + "benchmark" for k, _ in report.user_properties):
            self.other_failures += 1

    def models(self) -> list[dict[str, Any]]:
        from .session import EVAL_SESSION

        evaluator = self.config.stash.get(EVAL_SESSION, None)
        seen = {o.model for o in self.outcomes.values()}
        rows = []
        if evaluator is not None:
            for spec in evaluator.specs:
                handle = evaluator._engine.models.get(spec.name) if evaluator._engine else None
                backend = handle._backend.name if handle is not None and handle._backend is not None else spec.scheme
                description = handle.describe() if handle is not None and handle._backend is not None else f"{spec.scheme}:{spec.target}"
                rows.append({"name": spec.name, "backend": backend, "description": description, "role": "candidate"})
        known = {r["name"] for r in rows}
        rows += [{"name": m, "backend": "?", "description": "reported by a worker", "role": "candidate"} for m in sorted(seen - known)]
        return rows

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.outcomes:
            return
        run = {"suites": list(self.settings.suites), "limit": self.settings.limit,
               "args": [a for a in self.config.invocation_params.args if "key" not in a.lower()]}
        self.document = sc.build(self.outcomes.values(), self.models(), run)
        self.config.hook.pytest_llmeval_scorecard(config=self.config, scorecard=self.document)
        self._decide_exit(session)
        self._write()

    def _decide_exit(self, session: pytest.Session) -> None:
        total = len(self.outcomes)
        errors = sum(1 for o in self.outcomes.values() if o.outcome == "error")
        error_rate = errors / total if total else 0.0
        failed_run = False
        if errors and error_rate > self.settings.max_error_rate:
            self.messages.append(
                f"{errors} of {total} benchmark items errored ({error_rate:.1%}), above the allowed "
                f"{self.settings.max_error_rate:.1%} (--llm-max-error-rate): the backend is failing, not the model"
            )
            failed_run = True
        if self.document is not None and self.document.get("gate") and not self.document["gate"].get("passed", True):
            failed_run = True
        # Wrong answers are measurements, not a broken build: only the gate, backend errors beyond
        # the allowed rate, and ordinary tests decide the exit status.
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED and not failed_run and self.other_failures == 0:
            session.exitstatus = pytest.ExitCode.OK
        elif failed_run and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self) -> None:
        assert self.document is not None
        for path in self.settings.scorecards:
            path.parent.mkdir(parents=True, exist_ok=True)
            suffix = path.suffix.lower()
            if suffix == ".json":
                text = json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"
            elif suffix == ".md":
                from .reports.markdown import render_markdown

                text = render_markdown(self.document)
            else:
                from .reports.html import render_html

                text = render_html(self.document)
            path.write_text(text, encoding="utf-8")
            self.written.append(path)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.document is None:
            return
        tr = terminalreporter
        tr.write_sep("=", "llmeval scorecard")
        for line in render_table(self.document):
            tr.write_line(line)
        from .session import EVAL_SESSION

        evaluator = self.config.stash.get(EVAL_SESSION, None)
        if evaluator is not None and evaluator._engine is not None:
            stats = evaluator._engine.stats()
            extra = f" in {evaluator.prefetch_seconds:.1f}s" if evaluator.prefetch_seconds else ""
            tr.write_line(f"responses: {stats['cache_hits']} from cache, {stats['inference_requests']} inferred{extra}"
                          f" (cache: {self.settings.cache_dir}, {self.settings.cache_mode})")
        for path in self.written:
            tr.write_line(f"scorecard written to {path}")
        for message in self.messages:
            tr.write_line(f"FAILED: {message}", red=True, bold=True)
        if self.settings.thresholds is None:
            tr.write_line("no thresholds pinned: add --llm-thresholds=llm-thresholds.json --llm-pin to pin this run, "
                          "then gate CI with --llm-thresholds=llm-thresholds.json")
