"""Statistics for pass/fail scores: confidence intervals and tests between two runs.

Pure functions over counts, in plain Python: the sizes involved (a few thousand items) need
nothing faster, and the plugin stays importable without numpy or scipy.

Example::

    >>> [round(x, 3) for x in wilson_interval(14, 40)]     # 14 of 40 items passed
    [0.221, 0.505]
    >>> round(mcnemar_one_sided(b=12, c=3), 4)             # 12 pass->fail, 3 fail->pass
    0.0176
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import NormalDist

__all__ = [
    "clustered_mean_interval",
    "format_p",
    "mcnemar_exact",
    "mcnemar_one_sided",
    "paired_bootstrap",
    "pass_at_k",
    "unpaired_one_sided",
    "wilson_interval",
]

_LN2 = math.log(2.0)
#: Up to this many discordant pairs the binomial tail is summed in exact integers; beyond it,
#: in floating point (exact sums grow quadratically with the count).
EXACT_UP_TO = 1000


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(passed: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a pass rate of ``passed`` out of ``n``.

    Chosen over the normal ("Wald") interval because it stays inside [0, 1] and keeps its
    coverage at the small n and extreme rates that quick benchmark runs produce.
    ``n == 0`` says nothing about the rate, hence ``(0.0, 1.0)``.

    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    if n < 0 or passed < 0 or passed > n:
        raise ValueError(f"need 0 <= passed <= n, got passed={passed}, n={n}")
    z = _z(confidence)
    if n == 0:
        return (0.0, 1.0)
    p = passed / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    # The exact bounds at 0 and n are 0 and 1; rounding must not push them past.
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == n else min(1.0, centre + half)
    return (low, high)


def _half_cdf(k: int, m: int) -> float:
    """P(X <= k) for X ~ Binomial(m, 1/2), accurate in the far tail.

    Large m: sums the tail away from the centre, starting from its largest term, in floating
    point with the first term from log-gamma.
    """
    if k < 0:
        return 0.0
    if k >= m:
        return 1.0
    if m <= EXACT_UP_TO:
        # Exact integers, one correctly rounded division: hand-checkable values stay exact.
        return sum(math.comb(m, i) for i in range(k + 1)) / 2**m
    if 2 * k >= m:
        # Symmetry of p = 1/2: P(X <= k) = 1 - P(X <= m - k - 1), and that tail is the short one.
        return 1.0 - _half_cdf(m - k - 1, m)
    log_term = math.lgamma(m + 1) - math.lgamma(k + 1) - math.lgamma(m - k + 1) - m * _LN2
    term = math.exp(log_term)
    total = 0.0
    i = k
    while term > 0.0 and i >= 0:
        total += term
        if term < total * 1e-17:
            break
        # Ratio of consecutive binomial terms: C(m, i-1) / C(m, i) = i / (m - i + 1).
        term *= i / (m - i + 1)
        i -= 1
    return min(1.0, total)


def _check_counts(b: int, c: int) -> None:
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test on the discordant pairs of a paired comparison.

    ``b`` items passed in the first run and failed in the second; ``c`` the other way round.
    Under "no difference" each discordant item is a fair coin, so the p-value is the
    binomial probability of a split at least as uneven as ``b`` against ``c``.

    >>> mcnemar_exact(5, 0)
    0.0625
    """
    _check_counts(b, c)
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2.0 * _half_cdf(min(b, c), m))


def mcnemar_one_sided(b: int, c: int) -> float:
    """One-sided exact McNemar test that the second run is worse than the first.

    ``b`` counts pass->fail flips and ``c`` fail->pass flips; the p-value is P(B >= b) for
    B ~ Binomial(b + c, 1/2). No discordant items means no evidence: 1.0.

    >>> mcnemar_one_sided(5, 0)
    0.03125
    """
    _check_counts(b, c)
    m = b + c
    if m == 0:
        return 1.0
    # P(B >= b) = P(B <= c) by symmetry, which keeps the sum in the short tail.
    return _half_cdf(c, m)


def unpaired_one_sided(p_old: float, n_old: int, p_new: float, n_new: int) -> float:
    """One-sided two-proportion z-test (pooled variance) that ``p_new`` is below ``p_old``.

    For when per-item outcomes are missing, so that no pairing is possible. It ignores
    that two runs of one model on one item set are correlated, so it is conservative
    there and much less powerful than :func:`mcnemar_one_sided`. Returns 1.0 when either
    side has no items or both rates are 0 or both are 1 (nothing can be said).

    >>> round(unpaired_one_sided(0.5, 100, 0.4, 100), 4)
    0.0776
    """
    for name, value in (("p_old", p_old), ("p_new", p_new)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    if n_old < 0 or n_new < 0:
        raise ValueError(f"n must be >= 0, got n_old={n_old}, n_new={n_new}")
    if n_old == 0 or n_new == 0:
        return 1.0
    pooled = (p_old * n_old + p_new * n_new) / (n_old + n_new)
    variance = pooled * (1.0 - pooled) * (1.0 / n_old + 1.0 / n_new)
    if variance <= 0.0:
        return 1.0
    z = (p_old - p_new) / math.sqrt(variance)
    # Upper tail of the standard normal; erfc keeps precision for large z.
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def paired_bootstrap(
    old: Sequence[int],
    new: Sequence[int],
    *,
    trials: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap of the paired difference ``mean(new) - mean(old)``.

    ``old[i]`` and ``new[i]`` are the 1/0 outcomes of the same item in the two runs.
    Returns ``(difference, low, high)``. Resampling whole items keeps the pairing, which is
    what makes the interval narrow when the two runs mostly agree. Seeded: same input,
    same interval.

    >>> paired_bootstrap([1, 1, 0, 0], [1, 1, 0, 0])
    (0.0, 0.0, 0.0)
    """
    if len(old) != len(new):
        raise ValueError(f"paired outcomes need equal lengths, got {len(old)} and {len(new)}")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    n = len(old)
    if n == 0:
        return (0.0, 0.0, 0.0)
    # Only the per-item differences matter, and they take three values: resample those counts.
    differences = [int(b) - int(a) for a, b in zip(old, new, strict=True)]
    observed = sum(differences) / n
    values = (-1, 0, 1)
    weights = [differences.count(v) for v in values]
    rng = random.Random(seed)
    estimates = sorted(sum(rng.choices(values, weights, k=n)) / n for _ in range(trials))
    tail = (1.0 - confidence) / 2.0
    if not 0.0 < tail < 0.5:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    low = estimates[min(trials - 1, math.floor(tail * trials))]
    high = estimates[max(0, math.ceil((1.0 - tail) * trials) - 1)]
    return (observed, low, high)


def format_p(p: float) -> str:
    """A p-value as reports print it: 3 decimals, 4 below 0.01, scientific below 0.0001.

    >>> format_p(0.5), format_p(0.0042), format_p(0.0000123)
    ('0.500', '0.0042', '1.2e-05')
    """
    if p >= 0.01:
        return f"{p:.3f}"
    if p >= 0.0001:
        return f"{p:.4f}"
    return f"{p:.1e}"


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of pass@k for one item: the chance that at least one of ``k``
    samples drawn without replacement from ``n`` samples, ``c`` of them correct, is correct:
    ``1 - C(n - c, k) / C(n, k)``.

    Source: Chen et al. 2021, "Evaluating Large Language Models Trained on Code" (arXiv
    2107.03374), section 2.1; computed as their numerically stable product.

    >>> round(pass_at_k(5, 1, 1), 6), pass_at_k(5, 0, 3), pass_at_k(5, 3, 3)
    (0.2, 0.0, 1.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def clustered_mean_interval(fractions: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The mean of per-item scores and its interval, with items as clusters of samples.

    ``fractions[i]`` is the share of item i's samples that passed. Samples of one item are not
    independent (an item hard for the model is hard in every sample), so the standard error
    comes from the spread of the per-item means, not from the number of samples: ``se =
    sd(fractions) / sqrt(n)``, and the interval is ``mean ± z * se``, clipped to [0, 1]. With
    one sample per item this is the normal (Wald) interval of a pass rate.

    Source: E. Miller, "Adding Error Bars to Evals" (arXiv 2411.00640), section 2.2 on
    clustered standard errors and section 3 on resampling.

    Returns ``(mean, low, high)``; with no items ``(0.0, 0.0, 1.0)``.

    >>> [round(x, 3) for x in clustered_mean_interval([1.0, 0.6, 0.2, 0.0])]
    [0.45, 0.015, 0.885]
    """
    n = len(fractions)
    if n == 0:
        return (0.0, 0.0, 1.0)
    mean = sum(fractions) / n
    if n == 1:
        return (mean, 0.0, 1.0)
    variance = sum((f - mean) ** 2 for f in fractions) / (n - 1)
    half = _z(confidence) * math.sqrt(variance / n)
    return (mean, max(0.0, mean - half), min(1.0, mean + half))
