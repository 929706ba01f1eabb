"""A warm rerun asks the model nothing: inference requests counted, cold run against warm run.

A scratch project (scripted backend, ``--llm-model=script:oracle``) runs a suite twice with
the same cache directory: the built-in GSM8K and MMLU samples (``--llm-suite=gsm8k
--llm-suite=mmlu --llm-limit=N``) plus a user benchmark of N in-memory rows (the limit is
per benchmark, so it applies to the user's too). The scripted backend
appends a line to ``LLMEVAL_SCRIPT_LOG`` for every request it answers, so the log counts the
inference each run performed. Reference: the same suite, cold. Target: the warm run performs
no inference at all (0 requests), and every item has the same outcome.

    .venv/bin/python perf/warm_rerun.py           # 500 GSM8K + 500 MMLU + 500 user items
    .venv/bin/python perf/warm_rerun.py --quick   # 20 + 20 + 20
"""

from __future__ import annotations

import time

import _common as c
import _project as proj


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=500, help="items per benchmark (--llm-limit)")
    args = p.parse_args()
    if args.quick:
        args.limit = 20
    started = time.perf_counter()
    machine = c.machine()
    root = proj.scratch("warm")
    try:
        project = proj.make_llmeval_project(root / "project")
        cache = root / "cache"
        argv = proj.llmeval_args(cache, ["--llm-suite=gsm8k", "--llm-suite=mmlu", f"--llm-limit={args.limit}",
                                         "-rA"])
        runs = {}
        for name in ("cold", "warm"):
            log = root / f"{name}.log"
            run = c.run_child(argv, project, {"PERF_ITEMS": str(args.limit), "LLMEVAL_SCRIPT_LOG": str(log)})
            requests = len(log.read_text().splitlines()) if log.exists() else 0
            outcomes = sorted(line for line in run.output.splitlines() if line.startswith(("PASSED ", "FAILED ")))
            runs[name] = {"requests": requests, "wall_s": run.wall_s, "returncode": run.returncode,
                          "summary": proj.summary_line(run.output), "outcomes": outcomes,
                          "engine_line": next((line for line in run.output.splitlines()
                                               if line.startswith("responses:")), "")}
            print(f"{name}: {requests} inference requests, {run.wall_s:.2f}s, {runs[name]['summary']}; "
                  f"{runs[name]['engine_line']}", flush=True)
            if run.returncode != 0:
                raise SystemExit(f"{name} run exited {run.returncode}:\n{run.output[-3000:]}")
    finally:
        proj.remove(root)
    total = 3 * args.limit
    same = runs["cold"]["outcomes"] == runs["warm"]["outcomes"]
    cold_n, warm_n = runs["cold"]["requests"], runs["warm"]["requests"]
    figure = c.Figure(
        figure=f"warm rerun ({total} items: gsm8k {args.limit}, mmlu {args.limit}, user benchmark {args.limit})",
        reference=f"the same suite cold ({cold_n} inference requests)",
        ratio=warm_n / cold_n if cold_n else None,
        ratio_meaning="warm/cold inference requests, lower is better",
        target="no inference at all (0 requests)", met=warm_n == 0 and cold_n == total and same,
        detail={"cold_requests": cold_n, "warm_requests": warm_n, "items": total,
                "same_outcomes": same, "cold_wall_s": runs["cold"]["wall_s"], "warm_wall_s": runs["warm"]["wall_s"],
                "warm_engine_line": runs["warm"]["engine_line"]},
    )
    for r in runs.values():
        del r["outcomes"]
    c.write_result("warm_rerun", args, [figure], machine_info=machine, started=started,
                   extra={"runs": runs, "settings": vars(args)})


if __name__ == "__main__":
    main()
