"""This run against the pinned one: items paired by identity, and the one-sided tests.

:func:`pair_items` pairs a row's pinned items with this run's by their name
(``"benchmark[id]"``) and leaves out, counting them, the items whose fingerprint changed since
the pin (what was asked or expected differs), the pinned items this run lacks and those it did
not score. :func:`compare_pairs` tests the pairs: the one-sided exact McNemar test when every
item has one sample, the one-sided sign-flip test on per-item pass fractions with repeats
(:mod:`.permutation`); :func:`compare_unpaired` is the fallback for a pin without items.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..scorecard import ItemOutcome
from ..stats import mcnemar_one_sided, unpaired_one_sided
from .order import natural_key
from .permutation import EXACT_LIMIT_BITS, exact_size, sign_flip_exact, sign_flip_normal
from .thresholds import PinnedItem

__all__ = [
    "PAIRED_TEST",
    "REPEATS_TEST",
    "REPEATS_TEST_NORMAL",
    "TEST_WORDS",
    "UNPAIRED_TEST",
    "Pair",
    "Pairing",
    "RunComparison",
    "compare_pairs",
    "compare_unpaired",
    "holm",
    "pair_items",
]

PAIRED_TEST = "mcnemar-exact"
REPEATS_TEST = "sign-flip-exact"
REPEATS_TEST_NORMAL = "sign-flip-normal"
UNPAIRED_TEST = "two-proportion-z"
#: How each test is named in messages.
TEST_WORDS = {
    PAIRED_TEST: "one-sided McNemar exact test",
    REPEATS_TEST: "one-sided exact sign-flip test of per-item pass fractions",
    REPEATS_TEST_NORMAL: "one-sided sign-flip test of per-item pass fractions (normal approximation)",
    UNPAIRED_TEST: "one-sided two-proportion z-test",
}


@dataclass(frozen=True)
class Pair:
    """One item in both runs: how many of its samples passed then and now. ``checked`` says
    that both fingerprints were known (and equal); unchecked pairs are paired by name only."""

    key: str
    old_passed: int
    old_samples: int
    new_passed: int
    new_samples: int
    checked: bool = True

    @property
    def old_fraction(self) -> float:
        return self.old_passed / self.old_samples

    @property
    def new_fraction(self) -> float:
        return self.new_passed / self.new_samples

    @property
    def repeated(self) -> bool:
        return self.old_samples > 1 or self.new_samples > 1


@dataclass(frozen=True)
class Pairing:
    """A row's pinned items against this run's (see :func:`pair_items`).

    ``pinned`` counts the pinned items considered; of them ``pairs`` are compared, ``changed``
    have another fingerprint now, ``removed`` are not in this run, ``unscored`` errored or were
    skipped now. ``added`` counts items scored now that were not pinned.
    """

    pinned: int
    pairs: tuple[Pair, ...] = field(default=(), repr=False)
    added: int = 0
    removed: int = 0
    changed: int = 0
    unscored: int = 0

    @property
    def kept(self) -> int:
        """Pinned items this run still has, with the same content (scored now or not)."""
        return self.pinned - self.changed - self.removed

    @property
    def comparable(self) -> float:
        """The share of pinned items this run still has with the same content (1.0 when
        nothing was pinned per item). Items that errored now are left to the error checks."""
        return self.kept / self.pinned if self.pinned else 1.0

    @property
    def unchecked(self) -> int:
        """Pairs whose content could not be checked: a fingerprint is missing on one side."""
        return sum(1 for p in self.pairs if not p.checked)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"pinned": self.pinned, "kept": self.kept, "compared": len(self.pairs), "added": self.added,
                "removed": self.removed, "changed": self.changed, "unscored": self.unscored, "unchecked": self.unchecked}


def pair_items(pinned: Mapping[str, PinnedItem], now: Iterable[ItemOutcome]) -> Pairing:
    """Pair pinned items (keyed ``"benchmark[id]"``) with this run's outcomes by that name.

    An item whose fingerprint differs from the pinned one is not compared: the question or
    the expected answer changed, and its outcomes say nothing about the model. When either
    fingerprint is unknown (a schema-1 file), the item is paired by name alone and counted in
    :attr:`Pairing.unchecked`.
    """
    current = {o.key: o for o in now}
    pairs: list[Pair] = []
    removed = changed = unscored = 0
    for key in sorted(pinned, key=natural_key):
        old, new = pinned[key], current.get(key)
        if new is None:
            removed += 1
        elif old.fingerprint and new.fingerprint and old.fingerprint != new.fingerprint:
            changed += 1
        elif not new.scored:
            unscored += 1
        else:
            passed, samples = _passes(new)
            pairs.append(Pair(key, old.passes, old.samples, passed, samples,
                              checked=bool(old.fingerprint and new.fingerprint)))
    added = sum(1 for key, o in current.items() if o.scored and key not in pinned)
    return Pairing(len(pinned), tuple(pairs), added, removed, changed, unscored)


def _passes(outcome: ItemOutcome) -> tuple[int, int]:
    if len(outcome.samples) > 1:
        return sum(outcome.samples), len(outcome.samples)
    return (1 if outcome.outcome == "passed" else 0), 1


@dataclass(frozen=True)
class RunComparison:
    """A one-sided test that this run is worse than the pinned one.

    For the paired tests, ``old_score``/``new_score`` are the mean pass fractions on the
    ``n_paired`` items compared, and ``flipped_to_fail``/``flipped_to_pass`` name the items
    whose pass fraction went down/up (with one sample an item: the flips), in natural order.
    For the unpaired fallback they are the overall scores.
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

    @property
    def paired(self) -> bool:
        return self.test != UNPAIRED_TEST


def compare_pairs(pairs: Sequence[Pair]) -> RunComparison | None:
    """The paired test on ``pairs``; None when there are none.

    One sample an item on both sides: the one-sided exact McNemar test on the flips. Else the
    one-sided sign-flip test on the differences of pass fractions (exact up to
    :data:`~pytest_llmeval.gate.permutation.EXACT_LIMIT_BITS`, else its normal approximation).
    """
    if not pairs:
        return None
    ordered = sorted(pairs, key=lambda p: natural_key(p.key))
    down = tuple(p.key for p in ordered if p.new_fraction < p.old_fraction)
    up = tuple(p.key for p in ordered if p.new_fraction > p.old_fraction)
    if any(p.repeated for p in ordered):
        test, p_value = _sign_flip(ordered)
    else:
        test, p_value = PAIRED_TEST, mcnemar_one_sided(len(down), len(up))
    k = len(ordered)
    return RunComparison(test=test, p_value=p_value, old_score=sum(p.old_fraction for p in ordered) / k,
                         new_score=sum(p.new_fraction for p in ordered) / k, n_paired=k,
                         flipped_to_fail=down, flipped_to_pass=up)


def _sign_flip(pairs: Sequence[Pair]) -> tuple[str, float]:
    # Exact differences: every pass fraction over the common denominator of all sample counts.
    scale = math.lcm(*{p.old_samples for p in pairs}, *{p.new_samples for p in pairs})
    differences = [p.new_passed * (scale // p.new_samples) - p.old_passed * (scale // p.old_samples) for p in pairs]
    if exact_size(differences) <= EXACT_LIMIT_BITS:
        return REPEATS_TEST, sign_flip_exact(differences)
    return REPEATS_TEST_NORMAL, sign_flip_normal(differences)


def compare_unpaired(old_score: float | None, old_n: int, new_score: float | None, new_n: int) -> RunComparison | None:
    """The one-sided two-proportion z-test on overall scores, for a pin without items; None
    when either side has no score."""
    if old_score is None or new_score is None or old_n == 0 or new_n == 0:
        return None
    return RunComparison(test=UNPAIRED_TEST, p_value=unpaired_one_sided(old_score, old_n, new_score, new_n),
                         old_score=old_score, new_score=new_score)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (Holm 1979, "A simple sequentially
    rejective multiple test procedure", Scand. J. Statist. 6, 65-70).

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
