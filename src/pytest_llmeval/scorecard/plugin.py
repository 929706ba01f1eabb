"""The scorecard at the end of a run: gathered from the reports, built once, gated or pinned,
written, printed, and turned into the exit status.

A shard of a run split across machines (``--llm-shard=I/N``) writes its scorecard and leaves
the gate and the error rate to the merge; a merge (``--llm-merge``) runs no test and takes the
shards' outcomes instead of reports (see :mod:`.merge`), then goes the same way as any run.

Registered only in the process that sees every report (never an xdist worker), as pytest's
junitxml is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from .. import properties
from ..items import CompactFailure, compact_line, one_line
from ..options import RunOptions, outcome_settings, scorecard_baseline
from ..state import RECORD
from .card import ModelInfo, Scorecard, ScorecardError
from .outcomes import ItemOutcome

if TYPE_CHECKING:
    from ..gate import GateResult, Thresholds
    from .merge import Shard


class ScorecardPlugin:
    """Outcomes in, scorecard out. ``card`` is the finished scorecard after the session."""

    def __init__(self, config: pytest.Config, options: RunOptions, models_info: Any) -> None:
        self.config = config
        self.options = options
        self.models_info = models_info  # () -> list[ModelInfo]; the models are known only at the end
        self.outcomes: dict[str, ItemOutcome] = {}
        self.other_failures = 0
        self.card: Scorecard | None = None
        self.gate: GateResult | None = None
        self.messages: list[str] = []
        self.notes: list[str] = []
        self.written: list[Path] = []
        self.thresholds = self._load_thresholds()
        self.shards = self._read_shards()
        self.earlier = self._read_earlier_baseline()

    def _load_thresholds(self) -> Thresholds | None:
        """Read the thresholds file at start, so a malformed one stops the run before any inference."""
        path = self.options.thresholds
        if path is None or self.options.pin or self.options.shard is not None:
            return None
        from ..gate import ThresholdsError, load_thresholds

        if not path.exists():
            raise pytest.UsageError(f"--llm-thresholds: {path} does not exist. Create it from a good run with "
                                    f"--llm-thresholds={path} --llm-pin, and commit it.")
        try:
            return load_thresholds(path, shown_path(path, self.config.rootpath))
        except ThresholdsError as exc:
            raise pytest.UsageError(f"--llm-thresholds: {exc}") from None

    def _read_earlier_baseline(self) -> tuple[Path, str, Scorecard] | None:
        """With ``--llm-baseline=CARD.json`` (or ``CARD.json#MODEL``): the file, the model of it
        that is the baseline, and the scorecard; read at start, so a missing or broken file, or
        one whose model must be named, stops the run before any inference."""
        found = scorecard_baseline(self.options.baseline)
        if found is None:
            return None
        text, chosen = found
        path = Path(text) if Path(text).is_absolute() else self.config.rootpath / text
        earlier = read_scorecard(path, "--llm-baseline")
        models = list(earlier.candidates)
        if not models:
            raise pytest.UsageError(f"--llm-baseline: {path} holds no model under test")
        if chosen is None and len(models) > 1:
            raise pytest.UsageError(f"--llm-baseline: {path} holds {len(models)} models under test "
                                    f"({', '.join(models)}): name one, as --llm-baseline={text}#{models[0]}")
        if chosen is not None and chosen not in models:
            raise pytest.UsageError(f"--llm-baseline: {path} has no model under test named {chosen!r} "
                                    f"(it has {', '.join(models)})")
        return path, chosen or models[0], earlier

    def _read_shards(self) -> list[Shard]:
        """With ``--llm-merge``: the shards, checked at start; their candidates' outcomes stand in
        for the reports of the tests that a run over all items would have had."""
        if not self.options.merge:
            return []
        from .merge import MergeError, merged_note, read_shards

        try:
            shards = read_shards(self.options.merge)
        except MergeError as exc:
            raise pytest.UsageError(f"--llm-merge: {exc}") from None
        baselines = {m.name for m in shards[0].card.models if m.role == "baseline"}
        for shard in shards:
            for index, outcome in enumerate(shard.card.items):
                if outcome.model not in baselines:
                    self.outcomes[f"{shard.path}::{index}"] = outcome
        self.notes.append(merged_note(shards))
        return shards

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if properties.is_wrong_answer(report) and not isinstance(report.longrepr, CompactFailure):
            # Any object with toterminal() is a valid longrepr (pytest's TerminalRepr protocol).
            report.longrepr = cast(Any, CompactFailure(compact_line(report), str(report.longrepr),
                                                       verbose=self.config.get_verbosity() >= 1))
        outcome = properties.outcome_from_report(report)
        if outcome is not None:
            previous = self.outcomes.get(report.nodeid)
            # A teardown error after a verdict still counts the item once, as pytest shows it last.
            if previous is None or outcome.outcome == "error" or report.when == "call":
                self.outcomes[report.nodeid] = outcome
        elif report.failed and not properties.is_benchmark_report(report):
            self.other_failures += 1

    # -- building ------------------------------------------------------------------------------

    def _baseline(self) -> tuple[list[ItemOutcome], list[ModelInfo]]:
        """The baseline's outcomes on the items the models under test ran (it is a comparison,
        not a run of its own), from this run or from an earlier run's scorecard file."""
        record = self.config.stash.get(RECORD, None)
        outcomes = list(record.baseline_outcomes) if record is not None else []
        infos: list[ModelInfo] = []
        if self.earlier is not None:
            path, model, earlier = self.earlier
            name = f"{model} ({path.name})"
            outcomes += [ItemOutcome.from_json({**o.to_json(), "model": name}) for o in earlier.outcomes(model)]
            infos.append(ModelInfo(name, "scorecard file", f"outcomes from {path}", "baseline"))
        ran = {(o.benchmark, o.item) for o in self.outcomes.values()}
        return [o for o in outcomes if (o.benchmark, o.item) in ran], infos

    def build(self, complete: bool = True) -> Scorecard:
        """The run's scorecard (a merge's: the shards' items); ``complete`` says, for a shard,
        whether its run went to the end. The published figures are marked with whether they share
        the protocol the models under test were asked with."""
        from ..published import mark_protocols, published_for

        if self.shards:
            from .merge import merge_shards

            card = merge_shards(self.shards, self.options.args)
        else:
            baseline, extra = self._baseline()
            models = [*self.models_info(), *extra]
            card = Scorecard.build([*self.outcomes.values(), *baseline], models, self._run(complete))
        labels: dict[str, list[str | None]] = {}
        own: dict[tuple[str, str], str | None] = {}
        for group in card.benchmarks:
            if not group.benchmark or group.subset is not None or not group.tally.scored:
                continue  # nothing measured: no protocol to compare a published figure with
            own[(group.model, group.benchmark)] = group.protocol
            if group.model in card.candidates:
                labels.setdefault(group.benchmark, []).append(group.protocol)
        published = published_for([m.name for m in card.models], sorted({g.benchmark for g in card.benchmarks if g.benchmark}))
        return card.with_published(mark_protocols(published, labels, own))

    def _run(self, complete: bool) -> dict[str, Any]:
        """The scorecard's ``run``: suites, limit, command line, the settings that decide outcomes,
        and for a shard which one it is (see :func:`.merge.shard_run`)."""
        run = {"suites": list(self.options.suites), "limit": self.options.limit, "args": list(self.options.args),
               "settings": outcome_settings(self.options)}
        if self.options.shard is not None:
            from .merge import shard_run

            run["shard"] = shard_run(*self.options.shard, complete=complete, failed_tests=self.other_failures)
        return run

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        shard = self.options.shard
        if not self.outcomes and shard is None:
            if self.options.scorecards:
                # Asked for: an empty scorecard says so, instead of a file that is missing.
                self._write(self.build())
            return
        stopped = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR) or bool(
            session.shouldstop or session.shouldfail)
        card = self.build(complete=not stopped)
        card = self._gate_or_pin(card)
        self.card = card
        self.config.hook.pytest_llmeval_scorecard(config=self.config, scorecard=card.to_json())
        self._decide_exit(session)
        self._write(card)
        if shard is not None:
            # A shard's capability rows are partial: its merge adds the run's to its own JUnit file.
            self.notes.append(f"shard {shard[0]}/{shard[1]} of the run: the gate and the error rate are decided when "
                              f"every shard's scorecard JSON is merged: pytest --llm-merge='shard-*.json' "
                              f"[--llm-thresholds=PATH] (docs/shards.md)")
            return
        from ..junit import add_capability_testcases

        add_capability_testcases(self.config, card, self.gate)

    def _gate_or_pin(self, card: Scorecard) -> Scorecard:
        from ..gate import ThresholdsError, check_scorecard, load_thresholds, pin, write_thresholds

        path = self.options.thresholds
        if path is not None and self.options.pin:
            previous = None
            if path.exists():
                try:
                    previous = load_thresholds(path).settings
                except ThresholdsError:
                    previous = None  # a broken file is replaced, with the default settings
            path.parent.mkdir(parents=True, exist_ok=True)
            write_thresholds(pin(card, settings=previous), path)
            shown = shown_path(path, self.config.rootpath)
            self.notes.append(f"thresholds pinned to {shown}: commit it, and gate CI with --llm-thresholds={shown}")
        elif self.thresholds is not None:
            self.gate = check_scorecard(self.thresholds, card)
            return card.with_gate(self.gate.to_dict())
        return card

    def _error_rate_message(self) -> str | None:
        total = len(self.outcomes)
        errors = sum(1 for o in self.outcomes.values() if o.outcome == "error")
        error_rate = errors / total if total else 0.0
        if not errors or error_rate <= self.options.max_error_rate:
            return None
        return (f"{errors} of {total} benchmark items errored ({error_rate:.1%}), above the allowed "
                f"{self.options.max_error_rate:.1%} (--llm-max-error-rate): the backend is failing, not the model")

    def _decide_exit(self, session: pytest.Session) -> None:
        # A shard leaves the error rate to its merge: the rate is the whole run's.
        failures: list[str | None] = [] if self.options.shard is not None else [self._error_rate_message()]
        if self.shards:
            from .merge import failed_tests_message

            failures.append(failed_tests_message(self.shards))
        self.messages += [m for m in failures if m is not None]
        failed_run = bool(self.messages) or (self.gate is not None and not self.gate.passed)
        if self.shards:
            # A merge ran no test ("no tests collected"): its exit status is the verdict on the
            # shards' outcomes, unless the merge itself was interrupted.
            if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED if failed_run else pytest.ExitCode.OK
            return
        if self.options.shard is not None and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK  # an empty share is still a shard, with its (empty) file
        # Wrong answers are measurements, not a broken build: only the gate, backend errors beyond
        # the allowed rate, and ordinary tests decide the exit status.
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED and not failed_run and self.other_failures == 0:
            session.exitstatus = pytest.ExitCode.OK
        elif failed_run and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self, card: Scorecard) -> None:
        for path in self.options.scorecards:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(card, path.suffix.lower()), encoding="utf-8")
            self.written.append(path)

    # -- the terminal ---------------------------------------------------------------------------

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.card is None:
            for path in self.written:
                terminalreporter.write_line(f"llmeval: no benchmark item ran; an empty scorecard was written to {path}")
            return
        from ..reports.terminal import render_table

        tr = terminalreporter
        tr.write_sep("=", "llmeval scorecard")
        record = self.config.stash.get(RECORD, None)
        if record is not None and self.config.pluginmanager.hasplugin("dsession"):
            for line in record.header:  # under xdist the workers' headers were not shown
                tr.write_line(line)
        for line in render_table(self.card):
            tr.write_line(line)
        stats = self.stats_line()
        if stats:
            tr.write_line(stats)
        wrong = self.wrong_answers_line()
        if wrong:
            tr.write_line(wrong)
        for path in self.written:
            tr.write_line(f"scorecard written to {path}")
        for line in self.notes:
            tr.write_line(line)
        if self.gate is not None:
            tr.write_sep("=", "llmeval gate", red=not self.gate.passed, green=self.gate.passed)
            tr.write_line(self.gate.summary())
            for message in self.gate.messages():
                is_failure = not message.startswith(("warning", "note"))
                tr.write_line(message, red=is_failure and not self.gate.passed)
        for message in self.messages:
            tr.write_line(f"FAILED: {message}", red=True, bold=True)
        if self.options.thresholds is None and self.options.shard is None:
            tr.write_line("no thresholds pinned: add --llm-thresholds=llm-thresholds.json --llm-pin to pin this run, "
                          "then gate CI with --llm-thresholds=llm-thresholds.json")

    def wrong_answers_line(self) -> str | None:
        """How many wrong answers, and of which kind (shown one line each unless ``-v``)."""
        failed = [o for o in self.outcomes.values() if o.outcome == "failed"]
        if not failed:
            return None
        # A benchmark.each test's own assertion has no expected answer: a failed check.
        checks = sum(1 for o in failed if o.expected is None)
        cut = sum(1 for o in failed if o.expected is not None and o.truncated)
        silent = sum(1 for o in failed if o.expected is not None and not o.truncated and not o.answer)
        kinds = [f"{len(failed) - checks - silent - cut} wrong", f"{silent} without an answer", f"{cut} cut off"]
        if checks:
            kinds.append(f"{checks} failed checks of your own")
        more = "" if self.config.get_verbosity() >= 1 else "; -v shows each prompt and response"
        if self.shards:
            more = "; each shard's run shows their prompts and responses"
        return f"wrong answers: {len(failed)} ({', '.join(kinds)}){more}"

    def stats_line(self) -> str | None:
        """How many responses came from the cache and how many were inferred (this process)."""
        from ..state import EVALUATOR

        evaluator = self.config.stash.get(EVALUATOR, None)
        if evaluator is None or not evaluator.models.engine_started:
            return None
        stats = evaluator.models.engine.stats()
        record = self.config.stash.get(RECORD, None)
        took = f" in {record.prefetch_seconds:.1f}s" if record is not None and record.prefetch_seconds else ""
        line = f"responses: {stats['cache_hits']} from cache, {stats['inferred']} inferred"
        if stats["replayed"]:
            line += f", {stats['replayed']} replayed from recordings"
        for label, (count, error) in stats["failed"].items():
            line += f", {count} failed for {label} (first: {one_line(error, 160)})"
        return f"{line}{took} (cache: {self.options.cache_dir}, {self.options.cache_mode})"


def shown_path(path: Path, root: Path) -> str:
    """``path`` as a command line should give it: relative to ``root`` (the rootdir, which a
    relative ``--llm-thresholds`` is resolved against) when it lies under it, else as it is.
    An absolute path in a note is of no use in a committed CI file.

    >>> shown_path(Path("/repo/ci/llm-thresholds.json"), Path("/repo"))
    'ci/llm-thresholds.json'
    >>> shown_path(Path("/elsewhere/llm-thresholds.json"), Path("/repo"))
    '/elsewhere/llm-thresholds.json'
    """
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def render(card: Scorecard, suffix: str) -> str:
    """The scorecard as a file of that suffix: ``.json``, ``.md`` or ``.html``/``.htm``."""
    if suffix == ".json":
        return json.dumps(card.to_json(), indent=2, ensure_ascii=False) + "\n"
    if suffix == ".md":
        from ..reports.markdown import render_markdown

        return render_markdown(card)
    from ..reports.html import render_html

    return render_html(card)


def read_scorecard(path: Path, flag: str) -> Scorecard:
    """A scorecard JSON file, or a UsageError naming ``flag``, the file and what is wrong."""
    try:
        return Scorecard.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, ValueError) as exc:
        if isinstance(exc, ScorecardError):
            raise pytest.UsageError(f"{flag}: {exc}") from None
        raise pytest.UsageError(f"{flag}: {path} is not a readable scorecard JSON ({exc})") from None
