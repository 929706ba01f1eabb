"""Two runs on one machine: the README's main job alone, then two at once, then beside a busy process.

Figure: wall time of ``pytest examples/suite --llm-suite=capabilities --llm-limit=2
--llm-max-tokens=128`` (the README's main job: the embedded model answers 20 requests) with a
fresh ``--llm-cache-dir``,
each run in its own process, when two such runs start together on the same items, divided by
the same job's wall time alone. Second figure: one run beside an unrelated busy process
(``python -c 'while 1: pass'``), divided by the run alone. Reference, same script: the run
alone, on the same machine, first (with ``--again`` also last, and the median of the two).

Targets (issue 16): each of two concurrent runs within 2.5x of one run alone (the two share the
CPUs, so 2x is what sharing costs); beside one busy process, in proportion (at most 2.5x
on two cores), never 10x. The runs get no thread settings from here: the variables the
backend sets before importing torch (``OMP_WAIT_POLICY`` and the rest) are taken out of the
children's environment, so each run does what it does for a user who set nothing.

The converted weights are made first (not timed). This script runs model processes
concurrently on purpose: run it when no other torch job of yours is running.

    .venv/bin/python perf/concurrent_runs.py            # the README's job (20 requests a run)
    .venv/bin/python perf/concurrent_runs.py --quick    # --llm-limit=1
    .venv/bin/python perf/concurrent_runs.py --limit 1 --spinning   # before: OpenMP waiting as it was
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _common as c
import _project as proj

#: The README's main job's reply budget (``--llm-max-tokens``).
MAX_TOKENS = 128
#: Set by the backend before torch loads; taken out of the children's environment.
THREAD_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "MKL_DYNAMIC", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


#: With ``--spinning``: OpenMP's waiting as it was before the backend quieted it (libgomp's
#: default 300,000 spins, about 3 ms; Intel's 200 ms), for a before/after comparison. An
#: explicit GOMP_SPINCOUNT overrides the wait policy the backend sets.
SPINNING = {"GOMP_SPINCOUNT": "300000", "KMP_BLOCKTIME": "200", "MKL_DYNAMIC": "TRUE"}
_extra: dict[str, str] = {}


def child_environment() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}, **_extra}


def main_job(root: Path, name: str, limit: int, timeout: float) -> dict[str, Any]:
    """One run of the main job with its own fresh cache directory; wall time and outcome."""
    cache = root / f"cache-{name}"
    argv = [c.PYTHON, "-m", "pytest", "examples/suite", "--llm-suite=capabilities", f"--llm-limit={limit}",
            f"--llm-max-tokens={MAX_TOKENS}", f"--llm-cache-dir={cache}", "-q", "-p", "no:cacheprovider"]
    started_load = c.loadavg()
    try:
        run = c.run_child(argv, c.REPO, child_environment(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "wall_s": None, "timed_out": timeout, "load": started_load}
    summary = proj.summary_line(run.output)
    inferred = next((line.strip() for line in run.output.splitlines() if "inferred" in line), "")
    print(f"  {name}: {run.wall_s:.1f}s, exit {run.returncode}, {summary}; {inferred}", flush=True)
    return {"name": name, "wall_s": round(run.wall_s, 1), "returncode": run.returncode, "summary": summary,
            "responses": inferred, "peak_rss_mib": round(run.peak_rss_mib), "load": [started_load, c.loadavg()]}


def together(root: Path, names: list[str], limit: int, timeout: float) -> list[dict[str, Any]]:
    """The main job in several processes started at the same moment."""
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(lambda name: main_job(root, name, limit, timeout), names))


def beside_busy(root: Path, limit: int, timeout: float) -> dict[str, Any]:
    """The main job while an unrelated process keeps one CPU busy."""
    busy = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        return main_job(root, "beside-busy", limit, timeout)
    finally:
        busy.kill()
        busy.wait()


def warm_weights() -> None:
    """Convert the embedded GGUF file once (not timed), as every later run reads the conversion."""
    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.registry import embedded_model_file

    TransformersBackend("gguf", str(embedded_model_file())).converted_directory()


def ratio_of(runs: list[dict[str, Any]], alone: float) -> float | None:
    """The slowest run / ``alone``; a run that timed out counts as its timeout (a lower bound)."""
    walls = [r["wall_s"] if r["wall_s"] is not None else r["timed_out"] for r in runs]
    return max(walls) / alone if alone else None


def verdict(runs: list[dict[str, Any]], ratio: float | None, target: float) -> bool | None:
    """Met, missed, or unknown (a run timed out, and its lower bound is still within the target)."""
    if ratio is None:
        return None
    if any(r["wall_s"] is None for r in runs):
        return False if ratio > target else None
    return ratio <= target


def figures(alone: float, pair: list[dict[str, Any]], busy: dict[str, Any] | None, limit: int,
            spinning: bool = False) -> list[c.Figure]:
    pair_ratio = ratio_of(pair, alone)
    job = (f"pytest examples/suite --llm-suite=capabilities --llm-limit={limit} --llm-max-tokens={MAX_TOKENS}, fresh cache"
           + (", spinning threads" if spinning else ""))
    found = [
        c.Figure(figure=f"two concurrent runs of the main job ({job})", reference=f"the same run alone: {alone:.1f} s",
                 ratio=pair_ratio, ratio_meaning="slower of the two / alone, lower is better", target="<= 2.5x",
                 met=verdict(pair, pair_ratio, 2.5),
                 detail={"alone_s": alone, "pair_s": [r["wall_s"] or f">{r['timed_out']:.0f} (timed out)" for r in pair]}),
    ]
    if busy is not None:
        busy_ratio = ratio_of([busy], alone)
        found.append(c.Figure(
            figure=f"the main job beside a busy process ({job})", reference=f"the same run alone: {alone:.1f} s",
            ratio=busy_ratio, ratio_meaning="beside busy / alone, lower is better", target="<= 2.5x (never 10x)",
            met=verdict([busy], busy_ratio, 2.5), detail={"alone_s": alone, "busy_s": busy["wall_s"]}))
    return found


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=2, help="items per benchmark (--llm-limit, default 2: the README's job)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before a run counts as collapsed (default 3600)")
    p.add_argument("--again", action="store_true", help="run the job alone once more at the end (the reference is then the median)")
    p.add_argument("--spinning", action="store_true",
                   help="the runs as before the backend quieted OpenMP's waiting (written to concurrent_runs_spinning.json)")
    args = p.parse_args()
    if args.spinning:
        _extra.update(SPINNING)
    if args.quick:
        args.limit = 1
    from pytest_llmeval.threads import usable_cpus

    started = time.perf_counter()
    machine = c.machine()
    warm_weights()
    root = proj.scratch("concurrent")
    try:
        print("alone", flush=True)
        first = main_job(root, "alone-1", args.limit, args.timeout)
        print("two at once", flush=True)
        pair = together(root, ["pair-a", "pair-b"], args.limit, args.timeout)
        busy = None
        if not args.spinning:  # before/after, the pair is the comparison that matters
            print("beside a busy process", flush=True)
            busy = beside_busy(root, args.limit, args.timeout)
        alones = [first]
        if args.again:
            print("alone again", flush=True)
            alones.append(main_job(root, "alone-2", args.limit, args.timeout))
    finally:
        proj.remove(root)
    alone = c.median([r["wall_s"] for r in alones if r["wall_s"] is not None])
    waiting = ("spinning OpenMP waiting (" + ", ".join(f"{k}={v}" for k, v in SPINNING.items())
               + ": as before the backend set OMP_WAIT_POLICY=PASSIVE)" if args.spinning
               else "quiet OpenMP waiting (OMP_WAIT_POLICY=PASSIVE, set by the backend)")
    name = "concurrent_runs_spinning" if args.spinning else "concurrent_runs"
    c.write_result(name, args, figures(alone, pair, busy, args.limit, spinning=args.spinning), machine_info=machine,
                   started=started, extra={"runs": {"alone": alones, "pair": pair, "beside_busy": busy}, "settings": vars(args)},
                   notes=[f"usable CPUs {usable_cpus()}; each run chose its own threads (the usable CPUs, --llm-threads unset) "
                          f"and {waiting}"])

if __name__ == "__main__":
    main()
