"""The gate's false-alarm and detection rates with repeats, as docs/gate.md gives them.

Simulated with :func:`pytest_llmeval.gate.false_alarm_rate` and :func:`detection_rate` under
per-item noise: each of ``n`` items has its own pass probability, drawn from
Beta(p * c, (1 - p) * c); each run asks each item K times (each sample a Bernoulli draw); a
changed model has every item's probability scaled to lower the mean by the drop. The same
item model with K = 1 gives the single-sample figures next to them. Both use the gate's own
tests (one-sided McNemar exact for K = 1, the one-sided exact sign-flip test on pass
fractions for K > 1) and its decision rule (p below alpha and the score went down).

Usage: ``python perf/gate_power.py [--trials 4000] [--seed 0] [--n 200] [--p 0.6]``; prints a
Markdown table (about a minute at the default 4000 trials per cell on one core).
"""

from __future__ import annotations

import argparse
import time

from pytest_llmeval.gate import detection_rate, false_alarm_rate

#: Item spread: 0.19 makes two single samples of an item agree as often as the measured
#: greedy GSM8K reruns do (correlation 0.84, docs/gate.md); 1 and 4 are sampling at a
#: temperature with more and more items in between always and never.
CONCENTRATIONS = (0.19, 1.0, 4.0)
REPEATS = (1, 5)
DROPS = (0.03, 0.05, 0.10)
CHECKS_IN_A_FULL_SUITE = 19


def row(p: float, n: int, concentration: float, repeats: int, trials: int, seed: int) -> list[str]:
    noise = {"repeats": repeats, "concentration": concentration, "trials": trials, "seed": seed}
    cells = [f"{concentration:g}", f"{1 / (1 + concentration):.2f}", str(repeats),
             f"{false_alarm_rate(p, n, **noise):.3f}"]
    cells += [f"{detection_rate(p, drop, n, **noise):.3f}" for drop in DROPS]
    cells.append(f"{detection_rate(p, 0.10, n, alpha=0.05 / CHECKS_IN_A_FULL_SUITE, **noise):.3f}")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--p", type=float, default=0.6)
    args = parser.parse_args()
    started = time.perf_counter()
    header = ["item spread c", "agreement 1/(1+c)", "K", "false alarms"]
    header += [f"{round(d * 100)}-point drop caught" for d in DROPS]
    header.append(f"10-point, alpha 0.05/{CHECKS_IN_A_FULL_SUITE}")
    print(f"n = {args.n}, p = {args.p}, alpha 0.05 (one check), {args.trials} simulated pairs of runs per cell, "
          f"seed {args.seed}")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for concentration in CONCENTRATIONS:
        for repeats in REPEATS:
            print("| " + " | ".join(row(args.p, args.n, concentration, repeats, args.trials, args.seed)) + " |",
                  flush=True)
    print()
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
