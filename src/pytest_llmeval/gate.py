"""The CI gate: pinned thresholds, and the verdict of a run against them.

A run's scorecard is pinned into a thresholds file the user commits (:func:`pin`,
:func:`write_thresholds`); a later run is judged against it (:func:`load_thresholds`,
:func:`evaluate`). A capability fails the gate when it regressed beyond what noise explains
(a one-sided test on the items both runs scored, at the user's significance level), when it
falls under an absolute floor, or when too many of its items errored. See ``docs/gate.md``.

Example::

    thresholds = load_thresholds("llm-thresholds.json")
    result = evaluate(thresholds, scorecard)
    if not result.passed:
        print(result.report())
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stats import format_p, mcnemar_one_sided, unpaired_one_sided

__all__ = [
    "SCHEMA",
    "Comparison",
    "GateResult",
    "Pinned",
    "Settings",
    "Thresholds",
    "ThresholdsError",
    "Verdict",
    "compare_outcomes",
    "detection_rate",
    "evaluate",
    "false_alarm_rate",
    "load_thresholds",
    "parse_thresholds",
    "pin",
    "write_thresholds",
]

SCHEMA = "pytest-llmeval/thresholds/1"
DEFAULT_ALPHA = 0.05
DEFAULT_MAX_ERROR_RATE = 0.05
CORRECTIONS = ("holm", "none")
#: Flipped items listed by name in a failure message before "and N more".
MAX_LISTED_FLIPS = 10

PAIRED_TEST = "mcnemar-exact"
UNPAIRED_TEST = "two-proportion-z"
_TEST_WORDS = {
    PAIRED_TEST: "one-sided McNemar exact test",
    UNPAIRED_TEST: "one-sided two-proportion z-test",
}

PathLike = str | Path


class ThresholdsError(Exception):
    """A thresholds file that cannot be used; the message names the file and the field."""


# ---------------------------------------------------------------------------------------------
# The thresholds document


@dataclass(frozen=True)
class Settings:
    """How the gate decides. ``floors`` maps a capability or benchmark name to a minimum score."""

    alpha: float = DEFAULT_ALPHA
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    #: "holm" keeps the chance of any false alarm in a run at or below ``alpha`` however many
    #: capabilities and benchmarks are checked; "none" tests each one at ``alpha``.
    correction: str = "holm"
    floors: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "max_error_rate": self.max_error_rate,
            "correction": self.correction,
            "floors": dict(sorted(self.floors.items())),
        }


@dataclass(frozen=True)
class Pinned:
    """One pinned row: a model's result on a capability, or on one benchmark of it.

    ``items`` (benchmark rows only) maps item id to 1 (passed) or 0 (failed); errored and
    skipped items are left out.
    """

    model: str
    capability: str
    benchmark: str | None
    score: float | None
    n: int
    errors: int = 0
    items: Mapping[str, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.model, self.capability, self.benchmark)


@dataclass(frozen=True)
class Thresholds:
    """A loaded thresholds file. ``source`` is the path as the user gave it (for messages)."""

    settings: Settings
    capabilities: tuple[Pinned, ...]
    benchmarks: tuple[Pinned, ...]
    source: str = "thresholds"

    def items_for(self, model: str, capability: str, benchmark: str | None = None) -> dict[str, int]:
        """Pinned per-item outcomes keyed ``"benchmark[item]"``, for a capability or one benchmark."""
        found: dict[str, int] = {}
        for row in self.benchmarks:
            if row.model == model and row.capability == capability and benchmark in (None, row.benchmark):
                for item, outcome in row.items.items():
                    found[_item_key(str(row.benchmark), item)] = outcome
        return found


def _item_key(benchmark: str, item: str) -> str:
    # The same spelling as the test's node id ("llmeval::gsm8k[test-0042]"), so it can be grepped.
    return f"{benchmark}[{item}]"


def _baseline_models(scorecard: Mapping[str, Any]) -> set[str]:
    return {m["name"] for m in scorecard.get("models", []) if m.get("role") == "baseline"}


def _counts(row: Mapping[str, Any]) -> tuple[int, int, int]:
    return int(row.get("passed", 0)), int(row.get("failed", 0)), int(row.get("errors", 0))


def _outcomes(scorecard: Mapping[str, Any]) -> dict[tuple[str, str, str], dict[str, int]]:
    """Per (model, capability, benchmark): item id -> 1/0, scored items only."""
    found: dict[tuple[str, str, str], dict[str, int]] = {}
    for item in scorecard.get("items", []):
        outcome = item.get("outcome")
        if outcome not in ("passed", "failed"):
            continue
        key = (item["model"], item["capability"], item["benchmark"])
        found.setdefault(key, {})[str(item["item"])] = 1 if outcome == "passed" else 0
    return found


def pin(scorecard: Mapping[str, Any], *, settings: Settings | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the thresholds document from a run's scorecard.

    Pins every model except the baseline (a live GPT baseline drifting is not the user's
    regression): per capability and per benchmark the score, ``n`` (scored items) and
    errors, and per benchmark the item outcomes that a later paired test needs. Pass the
    ``settings`` of an existing file to keep the user's alpha and floors when re-pinning.

    Example::

        write_thresholds(pin(scorecard, settings=old.settings), "llm-thresholds.json")
    """
    if settings is None:
        chosen = Settings()
    elif isinstance(settings, Settings):
        chosen = settings
    else:
        chosen = _parse_settings({"settings": dict(settings)}, "settings")
    excluded = _baseline_models(scorecard)
    outcomes = _outcomes(scorecard)

    def row(source: Mapping[str, Any], with_benchmark: bool) -> dict[str, Any]:
        passed, failed, errors = _counts(source)
        n = passed + failed
        pinned: dict[str, Any] = {"model": source["model"], "capability": source["capability"]}
        if with_benchmark:
            pinned["benchmark"] = source["benchmark"]
        pinned.update({"score": round(passed / n, 6) if n else None, "n": n, "passed": passed,
                       "failed": failed, "errors": errors})
        if with_benchmark:
            items = outcomes.get((source["model"], source["capability"], source["benchmark"]), {})
            pinned["items"] = dict(sorted(items.items()))
        return pinned

    capabilities = [row(r, False) for r in scorecard.get("capabilities", []) if r["model"] not in excluded]
    benchmarks = [row(r, True) for r in scorecard.get("benchmarks", []) if r["model"] not in excluded]
    models = [{k: m[k] for k in ("name", "backend", "description") if k in m}
              for m in scorecard.get("models", []) if m.get("name") not in excluded]
    return {
        "schema": SCHEMA,
        "created": scorecard.get("created"),
        "models": models,
        "settings": chosen.to_dict(),
        "capabilities": sorted(capabilities, key=lambda r: (r["model"], r["capability"])),
        "benchmarks": sorted(benchmarks, key=lambda r: (r["model"], r["capability"], r["benchmark"])),
    }


def write_thresholds(document: Mapping[str, Any], path: PathLike) -> None:
    """Write a thresholds document as stable, diff-friendly JSON (sorted rows, 2-space indent)."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def load_thresholds(path: PathLike) -> Thresholds:
    """Read and check a thresholds file; :class:`ThresholdsError` says what is wrong and where.

    >>> load_thresholds("missing.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pytest_llmeval.gate.ThresholdsError: missing.json: no such file; write it from a run with ...
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThresholdsError(
            f"{source}: no such file; write it from a run with `pytest --llm-pin --llm-thresholds={source}`"
        ) from None
    except OSError as exc:
        raise ThresholdsError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ThresholdsError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return parse_thresholds(document, source)


def _fail(source: str, where: str, expected: str, value: Any) -> ThresholdsError:
    return ThresholdsError(f"{source}: {where}: expected {expected}, got {value!r}")


def _is_number(value: Any) -> bool:
    # bool is an int in Python, but `true` is never meant as a score in a JSON file.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fraction(source: str, where: str, value: Any, *, open_low: bool = False) -> float:
    low_ok = value > 0 if open_low and _is_number(value) else _is_number(value) and value >= 0
    if not (_is_number(value) and low_ok and value <= 1):
        expected = "a number above 0 and at most 1" if open_low else "a number between 0 and 1"
        raise _fail(source, where, expected, value)
    return float(value)


def _count(source: str, where: str, value: Any) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise _fail(source, where, "a whole number >= 0", value)
    return value


def _name(source: str, where: str, value: Any) -> str:
    if not (isinstance(value, str) and value.strip()):
        raise _fail(source, where, "a non-empty string", value)
    return value


def _parse_settings(document: Mapping[str, Any], source: str) -> Settings:
    raw = document.get("settings", {})
    if not isinstance(raw, Mapping):
        raise _fail(source, "settings", "an object", raw)
    known = ("alpha", "max_error_rate", "correction", "floors")
    for key in raw:
        if key not in known:
            raise ThresholdsError(f"{source}: settings.{key}: unknown setting; known: {', '.join(known)}")
    alpha = DEFAULT_ALPHA
    if "alpha" in raw:
        alpha = _fraction(source, "settings.alpha", raw["alpha"], open_low=True)
        if alpha >= 1:
            raise _fail(source, "settings.alpha", "a number above 0 and below 1", raw["alpha"])
    max_error_rate = DEFAULT_MAX_ERROR_RATE
    if "max_error_rate" in raw:
        max_error_rate = _fraction(source, "settings.max_error_rate", raw["max_error_rate"])
    correction = raw.get("correction", "holm")
    if correction not in CORRECTIONS:
        raise _fail(source, "settings.correction", " or ".join(repr(c) for c in CORRECTIONS), correction)
    floors_raw = raw.get("floors", {})
    if not isinstance(floors_raw, Mapping):
        raise _fail(source, "settings.floors", 'an object such as {"reasoning": 0.2}', floors_raw)
    floors = {str(k): _fraction(source, f"settings.floors.{k}", v) for k, v in floors_raw.items()}
    return Settings(alpha=alpha, max_error_rate=max_error_rate, correction=correction, floors=floors)


def _parse_rows(document: Mapping[str, Any], section: str, source: str) -> tuple[Pinned, ...]:
    raw = document.get(section, [])
    if not isinstance(raw, list):
        raise _fail(source, section, "a list", raw)
    with_benchmark = section == "benchmarks"
    rows: list[Pinned] = []
    seen: dict[tuple[str, str, str | None], int] = {}
    for index, entry in enumerate(raw):
        where = f"{section}[{index}]"
        if not isinstance(entry, Mapping):
            raise _fail(source, where, "an object", entry)
        for required in ("model", "capability", "n") + (("benchmark",) if with_benchmark else ()):
            if required not in entry:
                raise ThresholdsError(f"{source}: {where}.{required}: missing")
        model = _name(source, f"{where}.model", entry["model"])
        capability = _name(source, f"{where}.capability", entry["capability"])
        benchmark = _name(source, f"{where}.benchmark", entry["benchmark"]) if with_benchmark else None
        n = _count(source, f"{where}.n", entry["n"])
        score_raw = entry.get("score")
        score = None if score_raw is None else _fraction(source, f"{where}.score", score_raw)
        if score is not None and n == 0:
            raise _fail(source, f"{where}.n", "at least 1 when a score is given", n)
        errors = _count(source, f"{where}.errors", entry.get("errors", 0))
        items: dict[str, int] = {}
        items_raw = entry.get("items", {}) if with_benchmark else {}
        if not isinstance(items_raw, Mapping):
            raise _fail(source, f"{where}.items", 'an object mapping item id to 1 or 0, such as {"test-0001": 1}',
                        items_raw)
        for item, outcome in items_raw.items():
            if outcome not in (0, 1) or (not isinstance(outcome, (int, bool))):
                raise _fail(source, f"{where}.items[{item!r}]", "1 (passed) or 0 (failed)", outcome)
            items[str(item)] = int(outcome)
        pinned = Pinned(model, capability, benchmark, score, n, errors, items)
        if pinned.key in seen:
            raise ThresholdsError(f"{source}: {where}: the same row as {section}[{seen[pinned.key]}]")
        seen[pinned.key] = index
        rows.append(pinned)
    return tuple(rows)


def parse_thresholds(document: Any, source: str = "thresholds") -> Thresholds:
    """Check a thresholds document already read from JSON; ``source`` names it in errors."""
    if not isinstance(document, Mapping):
        raise ThresholdsError(f"{source}: expected a JSON object at the top, got {type(document).__name__}")
    schema = document.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise _fail(source, "schema", repr(SCHEMA), schema)
    return Thresholds(
        settings=_parse_settings(document, source),
        capabilities=_parse_rows(document, "capabilities", source),
        benchmarks=_parse_rows(document, "benchmarks", source),
        source=source,
    )


# ---------------------------------------------------------------------------------------------
# Comparing two runs


@dataclass(frozen=True)
class Comparison:
    """A one-sided test that the new run is worse than the pinned one.

    For the paired test, ``old_score``/``new_score`` are on the ``n_paired`` items both runs
    scored and the flips name those items; for the unpaired fallback they are the overall scores.
    """

    test: str
    p_value: float
    old_score: float
    new_score: float
    n_paired: int = 0
    flipped_to_fail: tuple[str, ...] = ()
    flipped_to_pass: tuple[str, ...] = ()

    @property
    def worse(self) -> bool:
        return self.new_score < self.old_score


def compare_outcomes(
    old: Mapping[str, int],
    new: Mapping[str, int],
    *,
    old_score: float | None = None,
    old_n: int = 0,
    new_score: float | None = None,
    new_n: int = 0,
) -> Comparison | None:
    """Compare a pinned run with a new one, paired on the items both scored.

    Uses the one-sided McNemar exact test on the items in both ``old`` and ``new`` (item id
    -> 1/0); with no item in common, the one-sided two-proportion z-test on the overall
    scores. ``None`` when there is nothing to compare.
    """
    common = sorted(set(old) & set(new))
    if common:
        to_fail = tuple(k for k in common if old[k] and not new[k])
        to_pass = tuple(k for k in common if new[k] and not old[k])
        k = len(common)
        return Comparison(
            test=PAIRED_TEST,
            p_value=mcnemar_one_sided(len(to_fail), len(to_pass)),
            old_score=sum(old[i] for i in common) / k,
            new_score=sum(new[i] for i in common) / k,
            n_paired=k,
            flipped_to_fail=to_fail,
            flipped_to_pass=to_pass,
        )
    if old_score is None or new_score is None or old_n == 0 or new_n == 0:
        return None
    return Comparison(test=UNPAIRED_TEST, p_value=unpaired_one_sided(old_score, old_n, new_score, new_n),
                      old_score=old_score, new_score=new_score)


def _holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


# ---------------------------------------------------------------------------------------------
# Verdicts


def _listing(items: tuple[str, ...]) -> str:
    shown = ", ".join(items[:MAX_LISTED_FLIPS])
    more = len(items) - MAX_LISTED_FLIPS
    return f"{shown} and {more} more" if more > 0 else shown


@dataclass
class Verdict:
    """The gate's finding on one model and capability (``benchmark is None``) or one benchmark.

    ``status`` is "pass", "fail", "missing" (pinned but not run: a warning) or "new" (run
    but not pinned: a note). :meth:`fails` gives the failure message, or ``None``.
    """

    model: str
    capability: str
    benchmark: str | None
    status: str
    source: str
    alpha: float
    score: float | None = None
    n: int = 0
    errors: int = 0
    total: int = 0
    pinned: Pinned | None = None
    comparison: Comparison | None = None
    p_adjusted: float | None = None
    tests_in_family: int = 1
    #: For a benchmark that is its capability's only one: the capability verdict runs the same
    #: test, so this one neither counts twice in the Holm family nor repeats its message.
    same_test_as: Verdict | None = None
    #: (kind, message) per failed check; kind is "error-rate", "floor" or "regression".
    checks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [text for _, text in self.checks]

    @property
    def label(self) -> str:
        parts = [self.model, self.capability] + ([self.benchmark] if self.benchmark else [])
        return " / ".join(parts)

    @property
    def name(self) -> str:
        """A stable test-like name, e.g. ``smollm2-135m-instruct::reasoning::gsm8k``."""
        return "::".join([self.model, self.capability] + ([self.benchmark] if self.benchmark else []))

    def fails(self) -> str | None:
        """The failure message (several lines when several checks failed), or ``None``."""
        return "\n".join(self.problems) if self.problems else None

    @property
    def message(self) -> str:
        """One readable account of this verdict, whatever its status."""
        failure = self.fails()
        if failure:
            return failure
        now = "no scored items" if self.score is None else f"score {self.score:.3f} (n={self.n})"
        if self.status == "missing":
            pinned = self.pinned
            was = "" if pinned is None or pinned.score is None else f" (score {pinned.score:.3f}, n={pinned.n})"
            return f"{self.label}: pinned in {self.source}{was} but not in this run"
        if self.status == "new":
            was = "no scored items" if self.score is None else f"score {self.score:.3f}, n={self.n}"
            return f"{self.label}: not pinned in {self.source} ({was}); `--llm-pin` adds it"
        if self.comparison is None:
            return f"{self.label}: {now}; nothing pinned to compare with"
        c = self.comparison
        text = f"{self.label}: {now}, pinned {self._pinned_text()}; {_TEST_WORDS[c.test]}"
        if c.test == PAIRED_TEST:
            text += (f" on {c.n_paired} paired items ({len(c.flipped_to_fail)} pass->fail,"
                     f" {len(c.flipped_to_pass)} fail->pass)")
        return text + f": {self._p_text()}"

    def _pinned_text(self) -> str:
        pinned = self.pinned
        if pinned is None or pinned.score is None:
            return "no score"
        return f"{pinned.score:.3f} (n={pinned.n})"

    def _p_text(self) -> str:
        assert self.comparison is not None
        text = f"p = {format_p(self.comparison.p_value)}"
        if self.p_adjusted is not None and self.tests_in_family > 1:
            text += f" ({format_p(self.p_adjusted)} after Holm correction over {self.tests_in_family} checks)"
        return text

    def _regression_problem(self) -> str:
        c = self.comparison
        assert c is not None and self.pinned is not None and self.pinned.score is not None
        assert self.score is not None
        delta = (self.score - self.pinned.score) * 100
        lines = [
            f"{self.label} regressed: {self.pinned.score:.3f} -> {self.score:.3f} ({delta:+.1f} points,"
            f" n={self.pinned.n} pinned, {self.n} now); "
            + (f"{_TEST_WORDS[c.test]} on {c.n_paired} paired items" if c.test == PAIRED_TEST
               else f"{_TEST_WORDS[c.test]} (no item in common with the pinned run)")
            + f": {self._p_text()} < alpha {self.alpha:g}"
        ]
        if c.flipped_to_fail:
            lines.append(f"  pass -> fail ({len(c.flipped_to_fail)}): {_listing(c.flipped_to_fail)}")
        if c.flipped_to_pass:
            lines.append(f"  fail -> pass ({len(c.flipped_to_pass)}): {_listing(c.flipped_to_pass)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as it goes into the scorecard's ``gate.verdicts``."""
        c = self.comparison
        pinned = self.pinned
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
            "message": self.message,
        }


@dataclass
class GateResult:
    """All verdicts of one run. ``passed`` is what the exit status follows."""

    verdicts: list[Verdict]
    settings: Settings
    source: str

    @property
    def passed(self) -> bool:
        return not self.failures()

    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "fail"]

    def warnings(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "missing"]

    def notes(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "new"]

    def messages(self) -> list[str]:
        """Failures, then warnings ("warning: ..."), then notes ("note: ...").

        A regression already reported for a capability is not repeated for its only benchmark.
        """
        failures = []
        for v in self.failures():
            texts = [text for kind, text in v.checks if not (kind == "regression" and v.same_test_as is not None)]
            if texts:
                failures.append("\n".join(texts))
        return (failures + [f"warning: {v.message}" for v in self.warnings()]
                + [f"note: {v.message}" for v in self.notes()])

    def summary(self) -> str:
        """One line for the terminal summary."""
        checked = sum(1 for v in self.verdicts if v.status in ("pass", "fail", "new"))
        failed = len(self.failures())
        head = "passed" if not failed else f"FAILED ({failed} of {checked} checks)"
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


def _floor_for(settings: Settings, capability: str, benchmark: str | None) -> float | None:
    name = benchmark if benchmark is not None else capability
    return settings.floors.get(name)


def evaluate(thresholds: Thresholds, scorecard: Mapping[str, Any]) -> GateResult:
    """Judge a run's scorecard against pinned thresholds.

    One verdict per model and capability and per model and benchmark of the run (the baseline
    model excluded), plus one per pinned row the run lacks. A row fails when:

    - it regressed: the one-sided paired test (McNemar exact on the items both runs scored;
      the unpaired z-test when none are shared) gives p below alpha, after Holm correction
      over all the run's checks unless ``correction`` is "none", and the score went down;
    - its score is below a floor set for its capability (or benchmark);
    - (capability rows) more than ``max_error_rate`` of its items errored.
    """
    settings = thresholds.settings
    source = thresholds.source
    excluded = _baseline_models(scorecard)
    outcomes = _outcomes(scorecard)
    pinned_rows = {p.key: p for p in thresholds.capabilities + thresholds.benchmarks}
    verdicts: list[Verdict] = []
    seen: set[tuple[str, str, str | None]] = set()

    rows: list[tuple[Mapping[str, Any], str | None]] = [
        (r, None) for r in scorecard.get("capabilities", [])
    ] + [(r, r["benchmark"]) for r in scorecard.get("benchmarks", [])]
    for row, benchmark in rows:
        model, capability = row["model"], row["capability"]
        if model in excluded:
            continue
        key = (model, capability, benchmark)
        seen.add(key)
        passed, failed, errors = _counts(row)
        n = passed + failed
        verdict = Verdict(model=model, capability=capability, benchmark=benchmark, status="pass", source=source,
                          alpha=settings.alpha, score=passed / n if n else None, n=n, errors=errors,
                          total=n + errors, pinned=pinned_rows.get(key))
        if verdict.pinned is None:
            verdict.status = "new"
        elif verdict.pinned.score is not None and verdict.score is not None:
            if benchmark is None:
                new_items = {_item_key(b, i): o for (m, c, b), items in outcomes.items()
                             if m == model and c == capability for i, o in items.items()}
            else:
                new_items = {_item_key(benchmark, i): o
                             for i, o in outcomes.get((model, capability, benchmark), {}).items()}
            verdict.comparison = compare_outcomes(
                thresholds.items_for(model, capability, benchmark), new_items,
                old_score=verdict.pinned.score, old_n=verdict.pinned.n, new_score=verdict.score, new_n=n)
        verdicts.append(verdict)

    by_capability = {(v.model, v.capability): v for v in verdicts if v.benchmark is None}
    benchmark_counts: dict[tuple[str, str], int] = {}
    for v in verdicts:
        if v.benchmark is not None:
            benchmark_counts[(v.model, v.capability)] = benchmark_counts.get((v.model, v.capability), 0) + 1
    for v in verdicts:
        parent = by_capability.get((v.model, v.capability))
        if (v.benchmark is not None and parent is not None and benchmark_counts[(v.model, v.capability)] == 1
                and v.comparison is not None and v.comparison == parent.comparison):
            v.same_test_as = parent

    tested = [v for v in verdicts if v.comparison is not None and v.same_test_as is None]
    raw = [v.comparison.p_value for v in tested if v.comparison is not None]
    adjusted = _holm(raw) if settings.correction == "holm" else raw
    for verdict, p_adj in zip(tested, adjusted, strict=True):
        verdict.p_adjusted = p_adj
        verdict.tests_in_family = len(tested) if settings.correction == "holm" else 1
    for verdict in verdicts:
        if verdict.same_test_as is not None:
            verdict.p_adjusted = verdict.same_test_as.p_adjusted
            verdict.tests_in_family = verdict.same_test_as.tests_in_family

    for verdict in verdicts:
        _judge(verdict, settings, source)

    for key, pinned in pinned_rows.items():
        if key in seen or pinned.model in excluded:
            continue
        # A benchmark row is only news when its capability ran; otherwise its capability says it.
        capability_key = (pinned.model, pinned.capability, None)
        if pinned.benchmark is not None and capability_key not in seen and capability_key in pinned_rows:
            continue
        verdicts.append(Verdict(model=pinned.model, capability=pinned.capability, benchmark=pinned.benchmark,
                                status="missing", source=source, alpha=settings.alpha, pinned=pinned))
    return GateResult(verdicts=verdicts, settings=settings, source=source)


def _judge(verdict: Verdict, settings: Settings, source: str) -> None:
    checks: list[tuple[str, str]] = []
    if verdict.benchmark is None and verdict.total and verdict.errors / verdict.total > settings.max_error_rate:
        checks.append(("error-rate",
            f"{verdict.label}: {verdict.errors} of {verdict.total} items errored"
            f" ({verdict.errors / verdict.total:.1%}), above the allowed {settings.max_error_rate:.1%}:"
            " the backend is failing, not the model"))
    floor = _floor_for(settings, verdict.capability, verdict.benchmark)
    if floor is not None:
        if verdict.score is None:
            checks.append(("floor", f"{verdict.label}: no item was scored, so the floor {floor:.3f} set in {source}"
                            " is not met"))
        elif verdict.score < floor:
            checks.append(("floor", f"{verdict.label}: score {verdict.score:.3f} ({round(verdict.score * verdict.n)}"
                                    f" of {verdict.n}) is below the floor {floor:.3f} set in {source}"))
    c = verdict.comparison
    if c is not None and verdict.p_adjusted is not None and c.worse and verdict.p_adjusted < settings.alpha:
        checks.append(("regression", verdict._regression_problem()))
    verdict.checks = checks
    if checks:
        verdict.status = "fail"


# ---------------------------------------------------------------------------------------------
# How noisy is the gate? Simulated reruns.


def _simulate(p_old: float, p_new: float, n: int, alpha: float, trials: int, seed: int, resample: float,
              paired: bool) -> float:
    for name, value in (("p_old", p_old), ("p_new", p_new), ("resample", resample)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    if n < 1 or trials < 1:
        raise ValueError(f"n and trials must be >= 1, got n={n}, trials={trials}")
    rng = random.Random(seed)
    # The changed model moves each item towards the new rate: passing items fail (a drop) or
    # failing items pass (a gain) with the probability that gives exactly p_new on average.
    drop = (p_old - p_new) / p_old if p_new < p_old else 0.0
    gain = (p_new - p_old) / (1.0 - p_old) if p_new > p_old else 0.0
    fired = 0
    for _ in range(trials):
        to_fail = to_pass = old_total = new_total = 0
        for _ in range(n):
            old = rng.random() < p_old
            # Item-level noise: a fraction `resample` of items gets an independent new draw.
            new = (rng.random() < p_old) if rng.random() < resample else old
            if new and drop and rng.random() < drop:
                new = False
            elif not new and gain and rng.random() < gain:
                new = True
            old_total += old
            new_total += new
            to_fail += old and not new
            to_pass += new and not old
        p_value = (mcnemar_one_sided(to_fail, to_pass) if paired
                   else unpaired_one_sided(old_total / n, n, new_total / n, n))
        fired += new_total < old_total and p_value < alpha
    return fired / trials


def false_alarm_rate(p: float, n: int, alpha: float = DEFAULT_ALPHA, trials: int = 2000, seed: int = 0, *,
                     resample: float = 1.0, paired: bool = True) -> float:
    """How often the gate fires on a rerun of the same model (simulated; per check).

    Each of ``n`` items passes with probability ``p``; on the rerun a fraction ``resample``
    of items is drawn afresh (1.0: two independent runs, the noisiest case; 0.0: a
    deterministic rerun, which never fires). ``paired=False`` measures the unpaired fallback.
    Uses the gate's own tests and decision rule (p below alpha and the score went down).

    >>> false_alarm_rate(0.6, 200, trials=200) <= 0.05
    True
    """
    return _simulate(p, p, n, alpha, trials, seed, resample, paired)


def detection_rate(p: float, drop: float, n: int, alpha: float = DEFAULT_ALPHA, trials: int = 2000,
                   seed: int = 0, *, resample: float = 1.0, paired: bool = True) -> float:
    """How often the gate catches a real drop of ``drop`` (0.10 = 10 points) from ``p`` (its power).

    Same model of noise as :func:`false_alarm_rate`; the changed model fails each item its
    predecessor would have passed with the probability that lowers the rate by ``drop``.
    """
    return _simulate(p, p - drop, n, alpha, trials, seed, resample, paired)
