"""How wall time and memory grow with the number of items: 1k, 10k, 100k.

Each size is one cold pytest run (empty cache) of a scratch project: a user ``Benchmark`` over
N in-memory rows answered by the scripted backend (``--llm-model=script:oracle``), so the run
does everything a real one does (collect, gather requests, answer them through the backend,
write every answer to the cache, score, report) except wait for a model. Wall time and peak
resident memory of each run are fitted by least squares to ``a + b * N``; ``b`` is the cost
per item. Growth is linear when the per-item cost between 10k and 100k is within 1.5x of the
cost between 1k and 10k.

With ``--warm`` each size is run again on the filled cache (no inference). With ``--with-plain``
plain pytest (``-p no:llmeval``) runs N trivial parametrized tests at each size too, so that our
growth can be read against pytest's own.

    .venv/bin/python perf/scaling.py           # 1,000 / 10,000 / 100,000 items
    .venv/bin/python perf/scaling.py --quick   # 500 / 2,000 / 8,000 items
"""

from __future__ import annotations

import time

import _common as c
import _project as proj


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument("--warm", action="store_true", help="also rerun each size on its filled cache")
    p.add_argument("--with-plain", action="store_true", help="also run plain pytest at each size")
    args = p.parse_args()
    if args.quick:
        args.sizes = [500, 2_000, 8_000]
    started = time.perf_counter()
    machine = c.machine()
    root = proj.scratch("scaling")
    rows = []
    try:
        project = proj.make_llmeval_project(root / "project")
        plain = proj.make_plain_project(root / "plain")
        for n in args.sizes:
            if args.with_plain:
                run = c.run_child(proj.plain_args(), plain, {"PERF_ITEMS": str(n)}, timeout=1800)
                rows.append({"items": n, "kind": "plain", "wall_s": run.wall_s, "peak_rss_mib": run.peak_rss_mib,
                             "summary": proj.summary_line(run.output), "load": c.loadavg()})
                print(f"{n:7d} items plain pytest: {run.wall_s:.1f}s wall ({1000 * run.wall_s / n:.2f} ms/item), "
                      f"peak {run.peak_rss_mib:.0f} MiB; {rows[-1]['summary']}", flush=True)
            cache = root / f"cache-{n}"
            kinds = ["cold", "warm"] if args.warm else ["cold"]
            for kind in kinds:
                run = c.run_child(proj.llmeval_args(cache), project, {"PERF_ITEMS": str(n)}, timeout=1800)
                if run.returncode != 0:
                    raise SystemExit(f"{n} items ({kind}) exited {run.returncode}:\n{run.output[-3000:]}")
                rows.append({"items": n, "kind": kind, "wall_s": run.wall_s, "peak_rss_mib": run.peak_rss_mib,
                             "summary": proj.summary_line(run.output), "load": c.loadavg(),
                             "cache_mib": (cache / "responses.sqlite3").stat().st_size / 2**20})
                print(f"{n:7d} items {kind}: {run.wall_s:.1f}s wall ({1000 * run.wall_s / n:.2f} ms/item), "
                      f"peak {run.peak_rss_mib:.0f} MiB, cache {rows[-1]['cache_mib']:.1f} MiB; "
                      f"{rows[-1]['summary']}", flush=True)
            proj.remove(cache)
    finally:
        proj.remove(root)
    cold = [r for r in rows if r["kind"] == "cold"]
    xs = [float(r["items"]) for r in cold]
    t0, t_per = fit(xs, [r["wall_s"] for r in cold])
    m0, m_per = fit(xs, [r["peak_rss_mib"] for r in cold])
    # Marginal cost per item on each step: constant for linear growth.
    steps = [(cold[i + 1]["wall_s"] - cold[i]["wall_s"]) / (cold[i + 1]["items"] - cold[i]["items"])
             for i in range(len(cold) - 1)]
    mem_steps = [(cold[i + 1]["peak_rss_mib"] - cold[i]["peak_rss_mib"]) / (cold[i + 1]["items"] - cold[i]["items"])
                 for i in range(len(cold) - 1)]
    growth = steps[-1] / steps[0] if steps[0] > 0 else None
    mem_growth = mem_steps[-1] / mem_steps[0] if mem_steps[0] > 0 else None
    linear = growth is not None and growth <= 1.5 and (mem_growth is None or mem_growth <= 1.5)
    figure = c.Figure(
        figure=f"scaling {' / '.join(f'{n:,}' for n in args.sizes)} items (cold runs, scripted backend)",
        reference="linear growth: per-item cost of the last step against the first",
        ratio=growth, ratio_meaning="marginal wall time per item, last step / first step; 1.0 is linear",
        target="linear (<= 1.5), memory bounded by a constant per item", met=linear,
        detail={"seconds_per_item": t_per, "fixed_seconds": t0, "kib_per_item": 1024 * m_per,
                "fixed_mib": m0, "marginal_ms_per_item": [1000 * s for s in steps],
                "marginal_kib_per_item": [1024 * s for s in mem_steps], "memory_step_ratio": mem_growth,
                "wall_s": [r["wall_s"] for r in cold], "peak_rss_mib": [r["peak_rss_mib"] for r in cold]},
    )
    plain_rows = [r for r in rows if r["kind"] == "plain"]
    if len(plain_rows) == len(cold):
        _, pw = fit(xs, [r["wall_s"] for r in plain_rows])
        _, pm = fit(xs, [r["peak_rss_mib"] for r in plain_rows])
        psteps = [(plain_rows[i + 1]["wall_s"] - plain_rows[i]["wall_s"])
                  / (plain_rows[i + 1]["items"] - plain_rows[i]["items"]) for i in range(len(plain_rows) - 1)]
        figure.detail.update({"plain_seconds_per_item": pw, "plain_kib_per_item": 1024 * pm,
                              "plain_marginal_ms_per_item": [1000 * s for s in psteps],
                              "plain_step_ratio": psteps[-1] / psteps[0] if psteps[0] > 0 else None,
                              "plain_wall_s": [r["wall_s"] for r in plain_rows],
                              "plain_peak_rss_mib": [r["peak_rss_mib"] for r in plain_rows]})
    notes = [f"fit: wall = {t0:.2f} s + {1000 * t_per:.3f} ms x items; peak RSS = {m0:.0f} MiB + "
             f"{1024 * m_per:.2f} KiB x items"]
    c.write_result("scaling", args, [figure], machine_info=machine, started=started, notes=notes,
                   extra={"rows": rows, "settings": vars(args)})


if __name__ == "__main__":
    main()
