"""The CI gate: pinned thresholds, and the verdict of a run against them.

A run's scorecard is pinned into a thresholds file the user commits (:func:`pin`,
:func:`write_thresholds`); a later run is judged against it (:func:`load_thresholds`,
:func:`check_scorecard`). A capability fails the gate when it regressed beyond what noise
explains (a one-sided paired test on the items both runs scored, paired by identity, at the
user's significance level), when too few pinned items are still comparable, when it falls
under an absolute floor, or when too many of its items errored. See ``docs/gate.md``.

Modules: :mod:`.thresholds` (the file), :mod:`.comparison` (pairing and the tests),
:mod:`.permutation` (the sign-flip test for repeats), :mod:`.check` (judging a scorecard),
:mod:`.verdict` (verdicts and their messages), :mod:`.power` (simulated false alarms and power).

Example::

    thresholds = load_thresholds("llm-thresholds.json")
    result = check_scorecard(thresholds, card)
    if not result.passed:
        print(result.report())
"""

from .check import check_scorecard
from .comparison import Pair, Pairing, RunComparison, compare_pairs, compare_unpaired, holm, pair_items
from .fields import ThresholdsError
from .order import natural_key
from .permutation import sign_flip_exact, sign_flip_normal, sign_flip_one_sided
from .power import detection_rate, false_alarm_rate
from .thresholds import (
    SCHEMA,
    SCHEMA_V1,
    GateSettings,
    Pinned,
    PinnedItem,
    Thresholds,
    load_thresholds,
    parse_thresholds,
    pin,
    write_thresholds,
)
from .verdict import GateResult, Verdict

__all__ = [
    "SCHEMA",
    "SCHEMA_V1",
    "GateResult",
    "GateSettings",
    "Pair",
    "Pairing",
    "Pinned",
    "PinnedItem",
    "RunComparison",
    "Thresholds",
    "ThresholdsError",
    "Verdict",
    "check_scorecard",
    "compare_pairs",
    "compare_unpaired",
    "detection_rate",
    "false_alarm_rate",
    "holm",
    "load_thresholds",
    "natural_key",
    "pair_items",
    "parse_thresholds",
    "pin",
    "sign_flip_exact",
    "sign_flip_normal",
    "sign_flip_one_sided",
    "write_thresholds",
]
