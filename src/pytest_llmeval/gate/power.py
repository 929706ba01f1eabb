"""How noisy is the gate? Simulated pairs of runs, judged by the gate's own tests and rule.

:func:`false_alarm_rate` is how often the gate fires on a rerun of an unchanged model;
:func:`detection_rate` how often it catches a real drop (its power). Two models of noise:

- **rerun noise** (``resample``, one sample an item): each item passes with probability
  ``p``; a rerun draws a fresh outcome for a fraction ``resample`` of the items and repeats
  the rest (0: a deterministic rerun; 1: two independent runs).
- **per-item noise** (``concentration``, any number of ``repeats``): each item has its own
  pass probability, drawn once from Beta(p * c, (1 - p) * c) (mean ``p``; the smaller ``c``,
  the more items always pass or always fail); each run asks each item ``repeats`` times, each
  sample a Bernoulli draw with that probability. Two single samples of one item agree with
  correlation 1 / (1 + c).

A changed model fails items it would have passed with the probability that lowers the mean
pass rate by ``drop``: under rerun noise each item that passed before fails with
probability ``drop / p``; under per-item noise each item's probability is scaled by
``1 - drop / p``. Results of docs/gate.md come from ``perf/gate_power.py``.
"""

from __future__ import annotations

import random

from .comparison import Pair, compare_pairs, compare_unpaired
from .thresholds import DEFAULT_ALPHA

__all__ = ["detection_rate", "false_alarm_rate"]

Draws = tuple[list[int], list[int]]


def false_alarm_rate(p: float, n: int, alpha: float = DEFAULT_ALPHA, trials: int = 2000, seed: int = 0, *,
                     resample: float = 1.0, paired: bool = True, repeats: int = 1,
                     concentration: float | None = None) -> float:
    """How often the gate fires on a rerun of the same model (simulated; per check).

    ``n`` items, each passing with probability ``p`` (see the module docstring for
    ``resample``, ``repeats`` and ``concentration``). ``paired=False`` measures the unpaired
    fallback (one sample an item only). Raises ValueError on a value out of range.

    >>> false_alarm_rate(0.6, 200, trials=200) <= 0.05
    True
    """
    return _simulate(p, p, n, alpha, trials, seed, resample, paired, repeats, concentration)


def detection_rate(p: float, drop: float, n: int, alpha: float = DEFAULT_ALPHA, trials: int = 2000,
                   seed: int = 0, *, resample: float = 1.0, paired: bool = True, repeats: int = 1,
                   concentration: float | None = None) -> float:
    """How often the gate catches a real drop of ``drop`` (0.10 = 10 points) from ``p`` (its power).

    Same noise as :func:`false_alarm_rate`; see the module docstring for how the drop is made.
    """
    return _simulate(p, p - drop, n, alpha, trials, seed, resample, paired, repeats, concentration)


def _check(p_old: float, p_new: float, n: int, trials: int, resample: float, paired: bool, repeats: int,
           concentration: float | None) -> None:
    for name, value in (("p_old", p_old), ("p_new", p_new), ("resample", resample)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    if n < 1 or trials < 1 or repeats < 1:
        raise ValueError(f"n, trials and repeats must be >= 1, got n={n}, trials={trials}, repeats={repeats}")
    if concentration is not None and not concentration > 0:
        raise ValueError(f"concentration must be above 0, got {concentration!r}")
    if repeats > 1 and concentration is None:
        raise ValueError("repeats > 1 needs per-item noise: give concentration (see pytest_llmeval.gate.power)")
    if repeats > 1 and not paired:
        raise ValueError("the unpaired fallback compares single outcomes: repeats must be 1")


def _simulate(p_old: float, p_new: float, n: int, alpha: float, trials: int, seed: int, resample: float,
              paired: bool, repeats: int, concentration: float | None) -> float:
    _check(p_old, p_new, n, trials, resample, paired, repeats, concentration)
    rng = random.Random(seed)
    fired = 0
    for _ in range(trials):
        if concentration is None:
            old, new = _rerun_noise(rng, n, p_old, p_new, resample)
        else:
            old, new = _item_noise(rng, n, p_old, p_new, repeats, concentration)
        fired += _fires(old, new, repeats, alpha, paired)
    return fired / trials


def _rerun_noise(rng: random.Random, n: int, p_old: float, p_new: float, resample: float) -> Draws:
    # The changed model moves each item towards the new rate: passing items fail (a drop) or
    # failing items pass (a gain) with the probability that gives exactly p_new on average.
    drop = (p_old - p_new) / p_old if p_new < p_old else 0.0
    gain = (p_new - p_old) / (1.0 - p_old) if p_new > p_old else 0.0
    olds, news = [], []
    for _ in range(n):
        old = rng.random() < p_old
        new = (rng.random() < p_old) if rng.random() < resample else old
        if new and drop and rng.random() < drop:
            new = False
        elif not new and gain and rng.random() < gain:
            new = True
        olds.append(int(old))
        news.append(int(new))
    return olds, news


def _item_noise(rng: random.Random, n: int, p_old: float, p_new: float, repeats: int, concentration: float) -> Draws:
    scale = p_new / p_old if p_old else 1.0
    olds, news = [], []
    for _ in range(n):
        p_item = p_old if p_old in (0.0, 1.0) else rng.betavariate(p_old * concentration, (1 - p_old) * concentration)
        olds.append(sum(rng.random() < p_item for _ in range(repeats)))
        news.append(sum(rng.random() < p_item * scale for _ in range(repeats)))
    return olds, news


def _fires(old: list[int], new: list[int], repeats: int, alpha: float, paired: bool) -> bool:
    """The gate's own decision: p below alpha and the score went down."""
    if paired:
        comparison = compare_pairs([Pair("item", a, repeats, b, repeats) for a, b in zip(old, new, strict=True)])
    else:
        n = len(old)
        comparison = compare_unpaired(sum(old) / n, n, sum(new) / n, n)
    return comparison is not None and comparison.worse and comparison.p_value < alpha
