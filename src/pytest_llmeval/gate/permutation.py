"""The one-sided paired sign-flip (permutation) test, for items asked several times.

With ``--llm-repeats=K`` each item has a pass fraction in each run, and the gate tests the
per-item differences ``d_i = new_i - old_i``. If the model did not change, an item's two runs
are exchangeable (its K samples now and its K samples then come from the same model), so each
``d_i`` is as likely to be ``+|d_i|`` as ``-|d_i|``. The p-value is the share of the ``2^m``
sign assignments of the ``m`` non-zero differences whose sum is at most the observed sum: the
paired permutation test of Fisher (1935, *The Design of Experiments*, section 21) and Pitman
(1937, "Significance tests which may be applied to samples from any populations", JRSS
Suppl. 4, 119-130). Exact, with no assumption on the shape of the differences.

With one sample an item, the differences are -1, 0 and +1 and the test is exactly the
one-sided McNemar test (the number of +1 among the ``m`` flips is Binomial(m, 1/2)).

The differences are given as integers: scale pass fractions by a common denominator (with K
samples on both sides, ``passed_new - passed_old``).

Example::

    >>> sign_flip_one_sided([-1, -1, -1, -1, -1])          # five items each down by one sample
    0.03125
    >>> sign_flip_one_sided([-3, -2, -2, -1, 1, 0, -1])  # 4 of the 64 sign choices sum to -8 or less
    0.0625
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from statistics import NormalDist

__all__ = ["EXACT_LIMIT_BITS", "exact_size", "sign_flip_exact", "sign_flip_normal", "sign_flip_one_sided"]

#: Above this size (bits of the generating polynomial, about (sum |d_i|) x (m + 2)) the exact
#: distribution takes more than about 0.3 s, and :func:`sign_flip_one_sided` uses the normal
#: approximation. n = 1,319 items with K = 5 stays exact; it is reached at a few thousand items.
EXACT_LIMIT_BITS = 4_000_000


def _check(differences: Sequence[int]) -> list[int]:
    if any(not isinstance(d, int) or isinstance(d, bool) for d in differences):
        raise ValueError("differences must be integers: scale pass fractions by a common denominator")
    return [d for d in differences if d]


def exact_size(differences: Sequence[int]) -> int:
    """Bits of the generating polynomial :func:`sign_flip_exact` builds (its cost)."""
    nonzero = [d for d in differences if d]
    return (sum(abs(d) for d in nonzero) + 1) * (len(nonzero) + 2)


def sign_flip_exact(differences: Sequence[int]) -> float:
    """Exact one-sided p-value: P(sum of ``+-|d_i|`` <= sum of ``d_i``), signs fair coins.

    Counts the sign assignments with the generating polynomial ``prod (1 + y^|d_i|)`` (the
    coefficient of ``y^s`` counts the subsets of items kept positive whose ``|d_i|`` sum to
    ``s``), evaluated in one Python integer with a digit of ``m + 2`` bits per coefficient,
    which no count can overflow (every count is at most ``2^m``). No differences, or only
    zeros, give 1.0.
    """
    nonzero = _check(differences)
    m = len(nonzero)
    if m == 0:
        return 1.0
    width = m + 2
    poly = 1
    for size, times in Counter(abs(d) for d in nonzero).items():
        poly *= (1 + (1 << (size * width))) ** times
    # The sum of d_i is 2 * (sum of the positive ones) - sum |d_i|, so "sum <= observed" is
    # "positive part <= observed positive part": the coefficients of y^0 ... y^observed.
    observed = sum(d for d in nonzero if d > 0)
    low = poly & ((1 << ((observed + 1) * width)) - 1)
    # The digit sum of a number in base B is the number itself modulo B - 1 (casting out
    # nines); it never reaches B - 1 here, since it is at most 2^m.
    below = low % ((1 << width) - 1)
    return below / (1 << m)


def sign_flip_normal(differences: Sequence[int]) -> float:
    """The normal approximation of :func:`sign_flip_exact` for large item counts.

    Under random signs the sum has mean 0 and variance ``sum d_i^2`` (each term is
    ``+-|d_i|``); the sum moves in steps of ``2g`` (``g`` the greatest common divisor of the
    ``|d_i|``), hence the continuity correction ``+g``.
    """
    nonzero = _check(differences)
    if not nonzero:
        return 1.0
    spread = math.sqrt(sum(d * d for d in nonzero))
    step = math.gcd(*(abs(d) for d in nonzero))
    return NormalDist().cdf((sum(nonzero) + step) / spread)


def sign_flip_one_sided(differences: Sequence[int]) -> float:
    """One-sided paired sign-flip test that the differences lean negative (new worse).

    Exact (:func:`sign_flip_exact`) up to :data:`EXACT_LIMIT_BITS`, else
    :func:`sign_flip_normal`. Raises ValueError on a difference that is not an integer.
    """
    if exact_size(_check(differences)) <= EXACT_LIMIT_BITS:
        return sign_flip_exact(differences)
    return sign_flip_normal(differences)
