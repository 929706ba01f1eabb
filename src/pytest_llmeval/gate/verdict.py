"""What the gate found, and how it says it: :class:`Verdict` per row, :class:`GateResult` per run.

Both are built whole by :func:`pytest_llmeval.gate.check_scorecard` and never change after;
every message is derived from their fields here, written for whoever reads the CI log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..stats import format_p
from .comparison import PAIRED_TEST, TEST_WORDS, UNPAIRED_TEST, Pair, Pairing, RunComparison
from .thresholds import SCHEMA_V1, GateSettings, Pinned

__all__ = ["CHECKS", "MAX_LISTED_FLIPS", "GateResult", "Status", "Verdict"]

#: Flipped items listed by name in a failure message before "and N more".
MAX_LISTED_FLIPS = 10
Status = Literal["pass", "fail", "missing", "new"]
#: The checks a verdict can fail, in the order their messages are given.
CHECKS = ("error-rate", "floor", "comparability", "regression")
#: Checks whose message a benchmark verdict leaves to its capability when it is the
#: capability's only benchmark (the same items, the same test).
SHARED_CHECKS = ("comparability", "regression")


@dataclass(frozen=True)
class Verdict:
    """The gate's finding on one model and capability (``benchmark is None``) or one benchmark.

    ``status`` is "pass", "fail", "missing" (pinned but not run: a warning) or "new" (run but
    not pinned: a note). ``checks`` names the failed checks (see :data:`CHECKS`); :meth:`fails`
    gives their message, or ``None``. ``pairing`` is how the pinned items met this run's,
    ``comparison`` the test on them; ``p_adjusted`` is the p-value after the Holm correction
    over ``tests_in_family`` checks. ``same_test_as`` names the capability verdict whose test
    this benchmark verdict shares (its capability's only benchmark): it neither counts twice
    in the Holm family nor repeats that message.
    """

    model: str
    capability: str
    benchmark: str | None
    status: Status
    source: str
    settings: GateSettings
    score: float | None = None
    n: int = 0
    errors: int = 0
    total: int = 0
    pinned: Pinned | None = None
    pairing: Pairing | None = None
    comparison: RunComparison | None = None
    p_adjusted: float | None = None
    tests_in_family: int = 1
    same_test_as: str | None = None
    floor: float | None = None
    checks: tuple[str, ...] = ()

    @property
    def alpha(self) -> float:
        return self.settings.alpha

    @property
    def label(self) -> str:
        """``"model / capability"`` or ``"model / capability / benchmark"``, for messages."""
        return " / ".join([self.model, self.capability] + ([self.benchmark] if self.benchmark else []))

    @property
    def name(self) -> str:
        """A stable test-like name, e.g. ``smollm2-135m-instruct::reasoning::gsm8k``."""
        return "::".join([self.model, self.capability] + ([self.benchmark] if self.benchmark else []))

    @property
    def problems(self) -> list[str]:
        """One message per failed check."""
        return [_CHECK_TEXT[kind](self) for kind in self.checks]

    def fails(self) -> str | None:
        """The failure message (several lines when several checks failed), or ``None``."""
        return "\n".join(self.problems) if self.checks else None

    @property
    def message(self) -> str:
        """One readable account of this verdict, whatever its status."""
        return self.fails() or _status_text(self)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as it goes into the scorecard's ``gate.verdicts``."""
        c, pinned = self.comparison, self.pinned
        return {
            "name": self.name,
            "model": self.model,
            "capability": self.capability,
            "benchmark": self.benchmark,
            "status": self.status,
            "score": self.score,
            "n": self.n,
            "errors": self.errors,
            "total": self.total,
            "pinned_score": None if pinned is None else pinned.score,
            "pinned_n": None if pinned is None else pinned.n,
            "test": None if c is None else c.test,
            "n_paired": None if c is None else c.n_paired,
            "p_value": None if c is None else c.p_value,
            "p_adjusted": self.p_adjusted,
            "pass_to_fail": [] if c is None else list(c.flipped_to_fail),
            "fail_to_pass": [] if c is None else list(c.flipped_to_pass),
            "items": None if self.pairing is None else self.pairing.to_dict(),
            "checks": list(self.checks),
            "message": self.message,
        }


# -- the texts -----------------------------------------------------------------------------------


def _status_text(v: Verdict) -> str:
    now = "no scored items" if v.score is None else f"score {v.score:.3f} (n={v.n})"
    if v.status == "missing":
        pinned = v.pinned
        was = "" if pinned is None or pinned.score is None else f" (score {pinned.score:.3f}, n={pinned.n})"
        return f"{v.label}: pinned in {v.source}{was} but not in this run"
    if v.status == "new":
        was = "no scored items" if v.score is None else f"score {v.score:.3f}, n={v.n}"
        return f"{v.label}: not pinned in {v.source} ({was}); `--llm-pin` adds it"
    c = v.comparison
    if c is None and v.pairing is not None and v.pairing.pinned:
        return f"{v.label}: {now}; none of the {v.pairing.pinned} pinned items could be compared ({identity_summary(v.pairing)})"
    if c is None:
        return f"{v.label}: {now}; nothing pinned to compare with"
    text = f"{v.label}: {now}, pinned {_pinned_text(v.pinned)}; {TEST_WORDS[c.test]}"
    if c.paired:
        down, up = ("pass->fail", "fail->pass") if c.test == PAIRED_TEST else ("lower", "higher")
        text += f" on {c.n_paired} paired items ({len(c.flipped_to_fail)} {down}, {len(c.flipped_to_pass)} {up})"
    identity = identity_summary(v.pairing)
    return text + f": {_p_text(v)}" + (f"; {identity}" if identity else "")


def _pinned_text(pinned: Pinned | None) -> str:
    if pinned is None or pinned.score is None:
        return "no score"
    return f"{pinned.score:.3f} (n={pinned.n})"


def _p_text(v: Verdict) -> str:
    assert v.comparison is not None
    text = f"p = {format_p(v.comparison.p_value)}"
    if v.p_adjusted is not None and v.tests_in_family > 1:
        text += f" ({format_p(v.p_adjusted)} after Holm correction over {v.tests_in_family} checks)"
    return text


def identity_summary(pairing: Pairing | None) -> str | None:
    """``"1 removed, 2 changed since the pin; 27 of 30 pinned items compared"``, or None when
    every pinned item was compared and none was added."""
    if pairing is None or not pairing.pinned or not (pairing.has_changes or pairing.unscored):
        return None
    changes = [f"{n} {word}" for n, word in
               ((pairing.added, "added"), (pairing.removed, "removed"), (pairing.changed, "changed")) if n]
    pieces = [", ".join(changes) + " since the pin"] if changes else []
    if pairing.unscored:
        pieces.append(f"{pairing.unscored} not scored in this run")
    pieces.append(f"{len(pairing.pairs)} of {pairing.pinned} pinned items compared")
    return "; ".join(pieces)


def _error_rate_text(v: Verdict) -> str:
    limit = v.settings.max_error_rate
    return (f"{v.label}: {v.errors} of {v.total} items errored ({v.errors / v.total:.1%}), above the allowed"
            f" {limit:.1%}: the backend is failing, not the model")


def _floor_text(v: Verdict) -> str:
    assert v.floor is not None
    if v.score is None:
        return f"{v.label}: no item was scored, so the floor {v.floor:.3f} set in {v.source} is not met"
    return (f"{v.label}: score {v.score:.3f} ({round(v.score * v.n)} of {v.n}) is below the floor {v.floor:.3f}"
            f" set in {v.source}")


def _comparability_text(v: Verdict) -> str:
    p = v.pairing
    assert p is not None
    why = [text for n, text in (
        (p.changed, f"{p.changed} changed since the pin (what is asked or expected differs)"),
        (p.removed, f"{p.removed} not in this run (removed from the data, or left out by --llm-limit)"),
    ) if n]
    return (f"{v.label}: only {p.kept} of {p.pinned} pinned items are still the same items in this run"
            f" ({p.comparable:.0%}), below settings.min_comparable {v.settings.min_comparable:.0%} in {v.source}:"
            f" {', '.join(why)}."
            f" If the data changed on purpose, re-pin with `pytest --llm-pin --llm-thresholds={v.source}`;"
            " otherwise run the items that were pinned")


def _regression_text(v: Verdict) -> str:
    c = v.comparison
    assert c is not None and v.pinned is not None and v.pinned.score is not None and v.score is not None
    how = (f"{TEST_WORDS[c.test]} on {c.n_paired} paired items" if c.paired
           else f"{TEST_WORDS[c.test]} (no item in common with the pinned run)")
    single = c.test in (PAIRED_TEST, UNPAIRED_TEST)
    # With repeats the test is on pass fractions, and so is the change it reports.
    old, new, what = (v.pinned.score, v.score, "") if single else (c.old_score, c.new_score, "mean pass fraction ")
    lines = [f"{v.label} regressed: {what}{old:.3f} -> {new:.3f} ({(new - old) * 100:+.1f} points,"
             f" n={v.pinned.n} pinned, {v.n} now); {how}: {_p_text(v)} < alpha {v.alpha:g}"]
    down, up = ("pass -> fail", "fail -> pass") if single else ("lower", "higher")
    pairs = {p.key: p for p in v.pairing.pairs} if v.pairing is not None else {}
    if c.flipped_to_fail:
        lines.append(f"  {down} ({len(c.flipped_to_fail)}): {_listing(c.flipped_to_fail, pairs)}")
    if c.flipped_to_pass:
        lines.append(f"  {up} ({len(c.flipped_to_pass)}): {_listing(c.flipped_to_pass, pairs)}")
    identity = identity_summary(v.pairing)
    if identity:
        lines.append(f"  {identity}")
    return "\n".join(lines)


def _listing(keys: tuple[str, ...], pairs: dict[str, Pair]) -> str:
    shown = ", ".join(_item_text(key, pairs.get(key)) for key in keys[:MAX_LISTED_FLIPS])
    more = len(keys) - MAX_LISTED_FLIPS
    return f"{shown} and {more} more" if more > 0 else shown


def _item_text(key: str, pair: Pair | None) -> str:
    if pair is None or not pair.repeated:
        return key
    return f"{key} {pair.old_passed}/{pair.old_samples}->{pair.new_passed}/{pair.new_samples}"


_CHECK_TEXT = {
    "error-rate": _error_rate_text,
    "floor": _floor_text,
    "comparability": _comparability_text,
    "regression": _regression_text,
}


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """All verdicts of one run. ``passed`` is what the exit status follows. ``schema`` is the
    thresholds file's (a schema-1 file has no item fingerprints, and the messages say so).
    ``pinned`` lists the (model, capability) pairs the file pins, whether or not they ran:
    when it pins some and none of them was in this run, or pins none and no floor applied,
    the gate compared nothing and fails (:meth:`nothing_checked`)."""

    verdicts: tuple[Verdict, ...]
    settings: GateSettings
    source: str
    schema: str = ""
    pinned: tuple[tuple[str, str], ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures() and self.nothing_checked() is None

    def nothing_checked(self) -> str | None:
        """The failure message when the gate compared nothing, else ``None``.

        A run that left out some pinned rows (``--llm-suite`` on a full pin) is judged on the
        rows it has; one that has none of them (another model name, other suites) was not
        judged at all, and must not pass as if it had been.
        """
        ran = [v for v in self.verdicts if v.status != "missing"]
        if any(v.pinned is not None for v in ran):
            return None
        had = _capabilities_text((v.model, v.capability) for v in ran if v.benchmark is None) or "no model under test"
        repin = f"`pytest --llm-pin --llm-thresholds={self.source}`"
        if self.pinned:
            return (f"nothing pinned in {self.source} was run, so nothing was compared: it pins"
                    f" {_capabilities_text(self.pinned)}; this run had {had}. Run the pinned models and suites"
                    f" (--llm-model, --llm-suite), or re-pin with {repin} if they changed on purpose")
        if any(v.floor is not None for v in ran):
            return None  # a file of floors only: the floors were checked
        return (f"{self.source} pins no model and sets no floor for this run, so nothing was checked;"
                f" this run had {had}. Pin a good run with {repin} and commit the file")

    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "fail"]

    def warnings(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "missing"]

    def notes(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "new"]

    def messages(self) -> list[str]:
        """Failures, then warnings ("warning: ..."), then notes ("note: ...").

        A regression (or too little to compare) already reported for a capability is not
        repeated for its only benchmark. The notes say which benchmarks' items were added,
        removed or changed since the pin, and when items were paired without fingerprints.
        """
        nothing = self.nothing_checked()
        failures = [] if nothing is None else [nothing]
        for v in self.failures():
            kinds = [k for k in v.checks if not (k in SHARED_CHECKS and v.same_test_as is not None)]
            if kinds:
                failures.append("\n".join(_CHECK_TEXT[k](v) for k in kinds))
        return (failures + [f"warning: {v.message}" for v in self.warnings()]
                + [f"note: {v.message}" for v in self.notes()]
                + [f"note: {text}" for text in self._identity_notes()])

    def _identity_notes(self) -> list[str]:
        # Per benchmark (where the items are), unless a failure message already said it.
        said = {v.name for v in self.verdicts if any(k in SHARED_CHECKS for k in v.checks)}
        notes = [f"{v.label}: {identity_summary(v.pairing)} (pinned in {self.source})" for v in self.verdicts
                 if v.benchmark is not None and v.pairing is not None and v.pairing.has_changes
                 and v.name not in said and v.same_test_as not in said]
        unchecked = sum(v.pairing.unchecked for v in self.verdicts if v.benchmark is not None and v.pairing)
        if unchecked:
            notes.append(_unchecked_note(unchecked, self.source, self.schema))
        return notes

    def summary(self) -> str:
        """One line for the terminal summary."""
        checked = sum(1 for v in self.verdicts if is_check(v.status, v.n))
        failed = len(self.failures())
        why = [f"{failed} of {checked} checks"] if failed else []
        if self.nothing_checked() is not None:
            why.append("nothing pinned was run" if self.pinned else "nothing to check")
        head = "passed" if not why else f"FAILED ({'; '.join(why)})"
        tail = f", {len(self.warnings())} pinned but not run" if self.warnings() else ""
        return f"llmeval gate {head} against {self.source}, alpha {self.settings.alpha:g}{tail}"

    def report(self) -> str:
        """The summary line followed by every message: what a CI log reader needs."""
        return "\n".join([self.summary(), *self.messages()])

    def to_dict(self) -> dict[str, Any]:
        """The scorecard's ``gate`` section."""
        return {
            "passed": self.passed,
            "thresholds": self.source,
            "settings": self.settings.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "messages": self.messages(),
        }


def is_check(status: str, scored: int) -> bool:
    """Whether a verdict of this status, on a row with ``scored`` items scored now, judged
    something: a failure, or a pass or a new row with scored items. A row with nothing scored
    judged nothing (JUnit skips it, and the summaries do not count it)."""
    return status == "fail" or (status in ("pass", "new") and scored > 0)


def _capabilities_text(pairs: Iterable[tuple[str, str]]) -> str:
    """``"model-a (general, reasoning), model-b (safety)"``: each model once, in first-seen order."""
    by_model: dict[str, list[str]] = {}
    for model, capability in pairs:
        if capability not in by_model.setdefault(model, []):
            by_model[model].append(capability)
    return ", ".join(f"{model} ({', '.join(sorted(caps))})" for model, caps in by_model.items())


def _unchecked_note(unchecked: int, source: str, schema: str) -> str:
    why = (f"{source} was written before pytest-llmeval stored item fingerprints (schema 1)" if schema == SCHEMA_V1
           else "an item fingerprint is missing in the pin or in this run")
    return (f"{unchecked} paired items were matched by id alone: {why}, so an item whose question or expected answer"
            f" changed would be compared as if unchanged. Re-pin with `pytest --llm-pin --llm-thresholds={source}`"
            " to store them")
