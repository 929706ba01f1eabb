"""What the plugin costs per item when no inference is needed, and what collecting MMLU costs.

Figure 1: wall time of a pytest run over 10,000 benchmark items whose responses are all in the
cache (a scratch project: a user ``Benchmark`` over 10,000 in-memory rows, the scripted backend
registered by its conftest, ``--llm-model=script:oracle``; one run fills the cache first).
Reference: plain pytest (``-p no:llmeval``) running 10,000 trivial parametrized tests. Both
with ``-q -p no:cacheprovider``, alternating, repeated; ratio of medians.

Figure 2: ``pytest --llm-suite=mmlu --collect-only -q`` (all 14,042 MMLU items) against plain
pytest collecting 14,042 parametrized tests, wall time and peak resident memory (each run in a
fresh wrapper process whose ``RUSAGE_CHILDREN`` is that run's peak).

    .venv/bin/python perf/plugin_overhead.py           # 10,000 items, 3 rounds; MMLU, 3 rounds
    .venv/bin/python perf/plugin_overhead.py --quick   # 1,000 items, 1 round; MMLU, 1 round
"""

from __future__ import annotations

import time
from typing import Any

import _common as c
import _project as proj

MMLU_ITEMS = 14_042


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3, help="each round runs both once, the order alternating")
    args = p.parse_args()
    if args.quick:
        args.items, args.rounds = 1000, 1
    started = time.perf_counter()
    machine = c.machine()
    root = proj.scratch("overhead")
    try:
        figures = [cached_run(args, root), collection(args, root)]
    finally:
        proj.remove(root)
    c.write_result("plugin_overhead", args, figures, machine_info=machine, started=started,
                   extra={"settings": vars(args)})


def alternate(rounds: int, first: Any, second: Any) -> tuple[list[c.ChildRun], list[c.ChildRun]]:
    a: list[c.ChildRun] = []
    b: list[c.ChildRun] = []
    for round_ in range(rounds):
        for which in ((0, 1) if round_ % 2 == 0 else (1, 0)):
            (a if which == 0 else b).append(first() if which == 0 else second())
    return a, b


def check(run: c.ChildRun, what: str) -> c.ChildRun:
    print(f"  {what}: {run.wall_s:.2f}s wall, peak {run.peak_rss_mib:.0f} MiB, {proj.summary_line(run.output)}",
          flush=True)
    if run.returncode != 0:
        raise SystemExit(f"{what} exited {run.returncode}:\n{run.output[-3000:]}")
    return run


def cached_run(args: Any, root: Any) -> c.Figure:
    project = proj.make_llmeval_project(root / "llmeval")
    plain = proj.make_plain_project(root / "plain")
    cache = root / "cache"
    env = {"PERF_ITEMS": str(args.items)}
    print(f"{args.items} items: filling the cache", flush=True)
    cold = check(c.run_child(proj.llmeval_args(cache), project, env), "cold run (fills the cache)")

    def ours() -> c.ChildRun:
        return check(c.run_child(proj.llmeval_args(cache), project, env), "ours, all cached")

    def reference() -> c.ChildRun:
        return check(c.run_child(proj.plain_args(), plain, env), "plain pytest")

    warm, ref = alternate(args.rounds, ours, reference)
    for run in warm:
        if "0 inferred" not in run.output:
            raise SystemExit("the warm run inferred something: the cache did not serve every item")
    ours_wall = c.median([r.wall_s for r in warm])
    ref_wall = c.median([r.wall_s for r in ref])
    ratio = ours_wall / ref_wall
    return c.Figure(
        figure=f"plugin overhead, {args.items} items, all responses cached",
        reference=f"plain pytest running {args.items} trivial parametrized tests",
        ratio=ratio, ratio_meaning="ours/plain wall time, lower is better", target="<= 1.3x wall",
        met=ratio <= 1.3,
        detail={"ours_wall_s": ours_wall, "plain_wall_s": ref_wall,
                "ours_ms_per_item": 1000 * ours_wall / args.items, "plain_ms_per_item": 1000 * ref_wall / args.items,
                "ours_peak_rss_mib": c.median([r.peak_rss_mib for r in warm]),
                "plain_peak_rss_mib": c.median([r.peak_rss_mib for r in ref]),
                "cold_wall_s": cold.wall_s, "ours_runs_s": [r.wall_s for r in warm],
                "plain_runs_s": [r.wall_s for r in ref], "rounds": args.rounds},
    )


def collection(args: Any, root: Any) -> c.Figure:
    empty = proj.make_llmeval_project(root / "suite", with_items=False)
    plain = proj.make_plain_project(root / "plain-mmlu")
    cache = root / "cache-mmlu"
    print(f"collecting MMLU ({MMLU_ITEMS} items)", flush=True)

    def ours() -> c.ChildRun:
        # The default model (the embedded one): collection must not load it, nor torch.
        argv = proj.pytest_argv("--llm-suite=mmlu", "--collect-only", "--llm-baseline=none",
                                f"--llm-cache-dir={cache}")
        return check(c.run_child(argv, empty), "ours, --llm-suite=mmlu --collect-only")

    def reference() -> c.ChildRun:
        return check(c.run_child(proj.plain_args(["--collect-only"]), plain, {"PERF_ITEMS": str(MMLU_ITEMS)}),
                     "plain pytest --collect-only")

    mine, ref = alternate(args.rounds, ours, reference)
    for run in mine:
        # Count the node ids listed: pytest's own "N tests collected" line misses suite items
        # (they are added in pytest_collection_modifyitems, after the collect reports it counts).
        listed = sum(1 for line in run.output.splitlines() if line.startswith("llmeval::mmlu["))
        if listed != MMLU_ITEMS:
            raise SystemExit(f"expected {MMLU_ITEMS} items listed, got {listed}: {proj.summary_line(run.output)}")
    ours_wall = c.median([r.wall_s for r in mine])
    ref_wall = c.median([r.wall_s for r in ref])
    peak = max(r.peak_rss_mib for r in mine)
    ratio = ours_wall / ref_wall
    return c.Figure(
        figure=f"collection of full MMLU ({MMLU_ITEMS} items), peak memory",
        reference=f"plain pytest collecting {MMLU_ITEMS} parametrized tests",
        ratio=ratio, ratio_meaning="ours/plain wall time, lower is better",
        target="<= 1.5x wall, peak RSS < 500 MB", met=ratio <= 1.5 and peak * 2**20 < 500e6,
        detail={"ours_wall_s": ours_wall, "plain_wall_s": ref_wall, "ours_peak_rss_mib": peak,
                "plain_peak_rss_mib": max(r.peak_rss_mib for r in ref), "ours_runs_s": [r.wall_s for r in mine],
                "plain_runs_s": [r.wall_s for r in ref], "rounds": args.rounds},
    )


if __name__ == "__main__":
    main()
