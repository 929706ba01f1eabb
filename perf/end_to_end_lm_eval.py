"""End to end on the embedded model: ``pytest --llm-suite=gsm8k`` against lm-evaluation-harness.

Figure: wall time of a whole ``pytest --llm-suite=gsm8k --llm-limit=64`` run (a fresh process,
an empty response cache, the embedded SmolLM2-135M-Instruct, batch 16), from process start to
exit: imports, model load, generation, scoring, the scorecard.

Reference, same run: lm-evaluation-harness (``lm_eval``, hf backend) on the same 64 GSM8K
items with the same prompt, the same chat template (``--apply_chat_template``), greedy, 256 new
tokens at most, the same batch size, loading the same weights: the safetensors directory that
the transformers backend converts the GGUF file into (under ~/.cache/pytest-llmeval/models/).
The hub dataset cannot be reached offline, so the task ``perf/lm_eval_tasks/gsm8k_llmeval.yaml``
reads the 64 rows from a local JSONL file this script writes (``dataset_path: json``).

Both processes get the same thread count (``OMP_NUM_THREADS``); they run one after the other,
alternating when repeated. lm-eval is not a dependency of this project: install it into a
separate environment and name its ``lm_eval`` with ``--lm-eval``, e.g.

    python -m venv /tmp/lmeval-venv
    echo $PWD/.venv/lib/python3.11/site-packages > /tmp/lmeval-venv/lib/python3.11/site-packages/main.pth
    .venv/bin/pip freeze | grep == > /tmp/constraints.txt   # keep torch/transformers as they are
    /tmp/lmeval-venv/bin/pip install -c /tmp/constraints.txt lm-eval

    .venv/bin/python perf/end_to_end_lm_eval.py --lm-eval /tmp/lmeval-venv/bin/lm_eval
    .venv/bin/python perf/end_to_end_lm_eval.py --quick      # 4 items
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import _common as c
import _project as proj

TASK_TEMPLATE = c.PERF_DIR / "lm_eval_tasks" / "gsm8k_llmeval.yaml"


def converted_model_dir() -> Path:
    """The directory the transformers backend converts the embedded GGUF file into (made if missing)."""
    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.registry import embedded_model_file

    return TransformersBackend("gguf", str(embedded_model_file())).converted_directory()


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--rounds", type=int, default=1, help="each round runs both once, the order alternating")
    p.add_argument("--threads", type=int, default=1,
                   help="OMP_NUM_THREADS for both (default 1: on 2 shared cores, 2 threads collapse under contention)")
    p.add_argument("--lm-eval", default=None, help="the lm_eval executable (default: on PATH, else /tmp/lmeval-venv)")
    args = p.parse_args()
    if args.quick:
        args.items, args.rounds = 4, 1
    started = time.perf_counter()
    machine = c.machine()
    lm_eval = args.lm_eval or shutil.which("lm_eval") or "/tmp/lmeval-venv/bin/lm_eval"
    if not Path(lm_eval).exists():
        note = (f"lm-eval not found ({lm_eval}): install it into a separate environment (see this script's "
                "docstring) and pass --lm-eval")
        fig = c.Figure(f"end-to-end wall time, {args.items} GSM8K items, embedded model",
                       "lm-evaluation-harness (hf, same batch size, chat template)", None,
                       "ours/lm-eval wall time, lower is better", "<= 0.8x", None)
        c.write_result("end_to_end_lm_eval", args, [fig], machine_info=machine, started=started, notes=[note])
        return

    from pytest_llmeval.benchmarks import gsm8k

    items = gsm8k.benchmarks()[0].items(limit=args.items)
    root = proj.scratch("e2e")
    try:
        data = root / "gsm8k_items.jsonl"
        with data.open("w") as handle:
            for item in items:
                handle.write(json.dumps({k: v for k, v in item.row.items() if k != "__line__"}) + "\n")
        tasks = root / "tasks"
        tasks.mkdir()
        (tasks / "gsm8k_llmeval.yaml").write_text(
            TASK_TEMPLATE.read_text().replace("__DATA_FILE__", str(data)).replace("__MAX_TOKENS__", "256"))
        model_dir = converted_model_dir()
        project = proj.make_llmeval_project(root / "project", with_items=False)
        threads = {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        runs: dict[str, list[dict[str, object]]] = {"ours": [], "lm_eval": []}

        def ours(n: int) -> None:
            card = root / f"scorecard-{n}.json"
            argv = [c.PYTHON, "-m", "pytest", *proj.COMMON, "--llm-suite=gsm8k", f"--llm-limit={args.items}",
                    f"--llm-batch-size={args.batch_size}", "--llm-baseline=none",
                    f"--llm-cache-dir={root / f'cache-{n}'}", f"--llm-scorecard={card}"]
            run = c.run_child(argv, project, threads, timeout=3600)
            if run.returncode not in (0, 1):  # 1: wrong answers are measured, not fatal
                raise SystemExit(f"pytest exited {run.returncode}:\n{run.output[-3000:]}")
            bench = json.loads(card.read_text())["benchmarks"][0]
            runs["ours"].append({"wall_s": run.wall_s, "peak_rss_mib": run.peak_rss_mib, "score": bench["score"],
                                 "metrics": bench.get("metrics"), "summary": proj.summary_line(run.output),
                                 "load": c.loadavg()})
            print(f"ours    {run.wall_s:.1f}s wall, score {bench['score']}, {proj.summary_line(run.output)}",
                  flush=True)

        def reference(n: int) -> None:
            out = root / f"lm-eval-out-{n}"
            env = {**threads, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "HF_DATASETS_CACHE": str(root / f"datasets-{n}")}
            argv = [lm_eval, "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32",
                    "--device", "cpu", "--tasks", "gsm8k_llmeval", "--include_path", str(tasks),
                    "--batch_size", str(args.batch_size), "--apply_chat_template", "--output_path", str(out)]
            run = c.run_child(argv, root, env, timeout=3600)
            if run.returncode != 0:
                raise SystemExit(f"lm_eval exited {run.returncode}:\n{run.output[-3000:]}")
            results = json.loads(next(out.rglob("results*.json")).read_text())["results"]["gsm8k_llmeval"]
            score = next((v for k, v in results.items() if k.startswith("exact_match")), None)
            runs["lm_eval"].append({"wall_s": run.wall_s, "peak_rss_mib": run.peak_rss_mib, "score": score,
                                    "load": c.loadavg()})
            print(f"lm_eval {run.wall_s:.1f}s wall, exact_match (flexible) {score}", flush=True)

        for round_ in range(args.rounds):
            for which in (("ours", "ref") if round_ % 2 == 0 else ("ref", "ours")):
                (ours if which == "ours" else reference)(round_)
    finally:
        proj.remove(root)
    ours_wall = c.median([float(r["wall_s"]) for r in runs["ours"]])  # type: ignore[arg-type]
    ref_wall = c.median([float(r["wall_s"]) for r in runs["lm_eval"]])  # type: ignore[arg-type]
    ratio = ours_wall / ref_wall
    fig = c.Figure(
        figure=f"end-to-end wall time, {len(items)} GSM8K items, embedded model, cold cache",
        reference=f"lm-evaluation-harness {lm_eval_version(lm_eval)} (hf, batch {args.batch_size}, "
                  f"--apply_chat_template, same prompt and items)",
        ratio=ratio, ratio_meaning="ours/lm-eval wall time, lower is better", target="<= 0.8x", met=ratio <= 0.8,
        detail={"ours_wall_s": ours_wall, "lm_eval_wall_s": ref_wall, "ours_score": runs["ours"][0]["score"],
                "lm_eval_exact_match": runs["lm_eval"][0]["score"], "threads": args.threads, "rounds": args.rounds},
    )
    c.write_result("end_to_end_lm_eval", args, [fig], machine_info=machine, started=started,
                   extra={"runs": runs, "settings": vars(args)},
                   notes=[f"lm-eval loads the safetensors directory the backend converted the GGUF file into ({model_dir})"])


def lm_eval_version(lm_eval: str) -> str:
    python = Path(lm_eval).with_name("python")
    try:
        import subprocess

        out = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('lm_eval'))"],
                             capture_output=True, text=True, timeout=60, env={**os.environ})
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
