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
        self.baseline_outcomes: list[sc.ItemOutcome] = []
        self.other_failures = 0
        self.document: dict[str, Any] | None = None
        self.gate: Any = None
        self.messages: list[str] = []
        self.messages_info: list[str] = []
        self.written: list[Path] = []
        self.thresholds = self._load_thresholds()

    def _load_thresholds(self) -> Any:
        """Read the thresholds file at start, so a malformed one stops the run before any inference."""
        path = self.settings.thresholds
        if path is None or self.settings.pin:
            return None
        from .gate import ThresholdsError, load_thresholds

        if not path.exists():
            raise pytest.UsageError(f"--llm-thresholds: {path} does not exist. Create it from a good run with "
                                    f"--llm-thresholds={path} --llm-pin, and commit it.")
        try:
            return load_thresholds(path)
        except ThresholdsError as exc:
            raise pytest.UsageError(f"--llm-thresholds: {exc}") from None

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
            specs = [(spec, "candidate") for spec in evaluator.specs]
            if evaluator.baseline is not None:
                specs.append((evaluator.baseline, "baseline"))
            for spec, role in specs:
                handle = evaluator._engine.models.get(spec.name) if evaluator._engine else None
                live = handle is not None and handle._backend is not None
                rows.append({"name": spec.name, "backend": handle.backend.name if live else spec.scheme,  # type: ignore[union-attr]
                             "description": handle.describe() if live else f"{spec.scheme}:{spec.target}",  # type: ignore[union-attr]
                             "role": role})
        known = {r["name"] for r in rows}
        rows += [{"name": m, "backend": "?", "description": "reported by an xdist worker", "role": "candidate"}
                 for m in sorted(seen - known)]
        return rows

    def _baseline_outcomes(self) -> list[sc.ItemOutcome]:
        from .session import EVAL_SESSION

        evaluator = self.config.stash.get(EVAL_SESSION, None)
        outcomes = list(self.baseline_outcomes)
        if evaluator is not None:
            outcomes += evaluator.baseline_outcomes
        # Only the items the models under test ran: the baseline is a comparison, not a run of its own.
        ran = {(o.benchmark, o.item) for o in self.outcomes.values()}
        return [o for o in outcomes if (o.benchmark, o.item) in ran]

    def _baseline_from_file(self) -> tuple[list[sc.ItemOutcome], dict[str, Any] | None]:
        """``--llm-baseline=old-scorecard.json``: the first model of an earlier run's scorecard."""
        text = self.settings.baseline
        if not text or not text.endswith(".json"):
            return [], None
        path = Path(text) if Path(text).is_absolute() else self.config.rootpath / text
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            model = next(m["name"] for m in old["models"] if m.get("role") != "baseline")
            name = f"{model} ({path.name})"
            rows = [sc.ItemOutcome(model=name, capability=r["capability"], benchmark=r["benchmark"], item=r["item"],
                                   outcome=r["outcome"], subset=r.get("subset"), answer=r.get("answer"),
                                   expected=r.get("expected")) for r in old["items"] if r["model"] == model]
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            raise pytest.UsageError(f"--llm-baseline: {path} is not a readable scorecard JSON ({exc})") from None
        return rows, {"name": name, "backend": "scorecard file", "description": f"outcomes from {path}", "role": "baseline"}

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.outcomes:
            return
        run = {"suites": list(self.settings.suites), "limit": self.settings.limit,
               "args": [a for a in self.config.invocation_params.args if "key" not in a.lower()]}
        from .published import published_for
        from .stats import baseline_comparisons

        models = self.models()
        baseline = self._baseline_outcomes()
        from_file, file_model = self._baseline_from_file()
        if file_model is not None:
            models.append(file_model)
            baseline += from_file
        doc = sc.build([*self.outcomes.values(), *baseline], models, run)
        doc["comparisons"] = baseline_comparisons(doc)
        doc["published"] = published_for([m["name"] for m in models], sorted({b["benchmark"] for b in doc["benchmarks"]}))
        self.document = doc
        self._gate_and_pin(doc)
        self.config.hook.pytest_llmeval_scorecard(config=self.config, scorecard=doc)
        self._decide_exit(session)
        self._write()
        self._junit_verdicts()

    def _gate_and_pin(self, doc: dict[str, Any]) -> None:
        from .gate import evaluate, load_thresholds, pin, write_thresholds

        path = self.settings.thresholds
        if path is not None and self.settings.pin:
            previous = None
            if path.exists():
                try:
                    previous = load_thresholds(path).settings
                except Exception:
                    previous = None
            path.parent.mkdir(parents=True, exist_ok=True)
            write_thresholds(pin(doc, settings=previous), path)
            self.messages_info = [f"thresholds pinned to {path}: commit it, and gate CI with --llm-thresholds={path}"]
        elif self.thresholds is not None:
            self.gate = evaluate(self.thresholds, doc)
            doc["gate"] = self.gate.to_dict()

    def _junit_verdicts(self) -> None:
        """One JUnit testcase per model and capability (and gate verdict), for dashboards to chart."""
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - pytest internals moved
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None or self.document is None:
            return
        verdicts = {}
        if self.gate is not None:
            verdicts = {v.name: v for v in self.gate.verdicts}
        for row in self.document["capabilities"]:
            name = f"{row['model']}::{row['capability']}"
            verdict = verdicts.get(name)
            failure = verdict.fails() if verdict is not None else None
            props = [(sc.PROP + "model", row["model"]), (sc.PROP + "capability", row["capability"])]
            props += [(sc.PROP + k, "" if row[k] is None else f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k]))
                      for k in ("score", "ci_low", "ci_high", "passed", "failed", "errors", "skipped", "total")]
            if verdict is not None:
                props.append((sc.PROP + "verdict", verdict.status))
            nodeid = f"llmeval::scorecard::{name}"
            call = pytest.TestReport(nodeid, ("llmeval", None, name), {}, "failed" if failure else "passed", failure, "call",
                                     user_properties=props)
            teardown = pytest.TestReport(nodeid, ("llmeval", None, name), {}, "passed", None, "teardown", user_properties=props)
            xml.pytest_runtest_logreport(call)
            xml.pytest_runtest_logreport(teardown)

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
        if self.gate is not None and not self.gate.passed:
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
        for line in self.messages_info:
            tr.write_line(line)
        if self.gate is not None:
            tr.write_sep("=", "llmeval gate", red=not self.gate.passed, green=self.gate.passed)
            tr.write_line(self.gate.summary())
            for message in self.gate.messages():
                is_failure = not message.startswith(("warning", "note"))
                tr.write_line(message, red=is_failure and not self.gate.passed)
        for message in self.messages:
            tr.write_line(f"FAILED: {message}", red=True, bold=True)
        if self.settings.thresholds is None:
            tr.write_line("no thresholds pinned: add --llm-thresholds=llm-thresholds.json --llm-pin to pin this run, "
                          "then gate CI with --llm-thresholds=llm-thresholds.json")


class WorkerResults:
    """On the xdist controller: collect what workers computed outside tests (the baseline)."""

    def __init__(self, reporter: ScorecardReporter) -> None:
        self.reporter = reporter

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        for row in getattr(node, "workeroutput", {}).get("llmeval_baseline", []):
            self.reporter.baseline_outcomes.append(sc.ItemOutcome(**row))
