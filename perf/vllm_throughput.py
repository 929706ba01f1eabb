"""Generation through the managed vLLM server against vLLM offline, and against the transformers backend.

Figures, on the same prompts in one run (GSM8K questions as chat, greedy, ``--max-tokens`` each),
the embedded model converted to a directory, float32 everywhere, one heavy process at a time:

1. the plugin driving the managed server (``VLLMBackend.run``: the OpenAI-compatible backend's
   window over HTTP, the server's continuous batching) against vLLM's own offline throughput
   (``vllm.LLM.chat`` on all prompts at once, in vLLM's environment: perf/_vllm_offline.py),
   as completion tokens per second; target >= 0.9x. Server start-up and one warm-up request
   are outside the timing on both sides (the offline side warms up on one conversation too);
2. the managed vLLM path against the plugin's own transformers backend (``TransformersBackend.run``,
   batched greedy decoding), the same way; reported, no target (on a CPU either may win).

Needs vLLM in an environment of its own (``LLMEVAL_VLLM_PYTHON``; docs/vllm.md).

    LLMEVAL_VLLM_PYTHON=/work/vllm-venv/bin/python .venv/bin/python perf/vllm_throughput.py
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
from _served import embedded_directory

HERE = Path(__file__).resolve().parent
ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}
MAX_MODEL_LEN = 2048


def offline(python: str, directory: Path, requests: list[Any], max_tokens: int) -> dict[str, Any]:
    job = {"model": str(directory), "max_model_len": MAX_MODEL_LEN, "dtype": "float32", "max_tokens": max_tokens,
           "conversations": [[{"role": m.role, "content": m.content} for m in r.messages] for r in requests]}
    done = subprocess.run([python, str(HERE / "_vllm_offline.py")], input=json.dumps(job), capture_output=True,
                          text=True, env={**os.environ, **ENV}, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"vLLM offline failed:\n{done.stderr[-3000:]}")
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not result:
        raise SystemExit(f"vLLM offline printed no result:\n{done.stdout[-3000:]}")
    return json.loads(result[-1].removeprefix("RESULT "))  # type: ignore[no-any-return]


def managed(directory: Path, requests: list[Any], concurrency: int | None) -> dict[str, Any]:
    from pytest_llmeval.backends.vllm import VLLMArguments, VLLMBackend

    arguments = VLLMArguments(max_model_len=MAX_MODEL_LEN, env=ENV, concurrency=concurrency)
    backend = VLLMBackend(str(directory), arguments, name="smollm", state_dir=Path(tempfile.mkdtemp()) / "vllm",
                          timeout=3600)
    try:
        started = time.perf_counter()
        backend.check()
        ready = time.perf_counter() - started
        dict(backend.run(requests[:1], lambda n: None))  # warm-up
        started = time.perf_counter()
        out = dict(backend.run(requests, lambda n: None))
        wall = time.perf_counter() - started
        described = backend.describe()
    finally:
        backend.close()
    return {"wall_s": wall, "completion_tokens": sum(out[i].meta.get("completion_tokens", 0) for i in out),
            "texts": [out[i].text for i in range(len(requests))], "errors": sum(not r.ok for r in out.values()),
            "start_s": ready, "served_by": described}


def local(directory: Path, requests: list[Any], threads: int) -> dict[str, Any]:
    import torch

    from pytest_llmeval.backends.transformers import TransformersBackend

    torch.set_num_threads(threads)
    backend = TransformersBackend("hf", str(directory), batch_size=16, threads=threads)
    backend.loaded()
    dict(backend.run(requests[:1], lambda n: None))  # warm-up
    started = time.perf_counter()
    out = dict(backend.run(requests, lambda n: None))
    wall = time.perf_counter() - started
    return {"wall_s": wall, "completion_tokens": sum(out[i].meta.get("completion_tokens", 0) for i in out),
            "texts": [out[i].text for i in range(len(requests))]}


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=None, help="requests in flight (default: the plan's)")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the transformers backend")
    args = p.parse_args()
    if args.quick:
        args.prompts, args.max_tokens = 8, 32
    python = os.environ.get("LLMEVAL_VLLM_PYTHON")
    if not python:
        raise SystemExit("set LLMEVAL_VLLM_PYTHON to the python of an environment with vLLM (docs/vllm.md)")
    started = time.perf_counter()
    machine = c.machine()
    from dataclasses import replace

    from pytest_llmeval.benchmarks import gsm8k

    items = gsm8k.benchmarks()[0].items(limit=args.prompts)
    requests = [replace(item.requests[0], max_tokens=args.max_tokens) for item in items]
    directory = embedded_directory()
    runs = {"offline": offline(python, directory, requests, args.max_tokens)}
    runs["managed"] = managed(directory, requests, args.concurrency)
    runs["transformers"] = local(directory, requests, args.threads)
    rate = {name: run["completion_tokens"] / run["wall_s"] for name, run in runs.items()}
    for name, run in runs.items():
        print(f"{name:12s} {run['completion_tokens']} tokens in {run['wall_s']:.1f}s: {rate[name]:.1f} tokens/s", flush=True)
    same = sum(a == b for a, b in zip(runs["managed"]["texts"], runs["offline"]["texts"], strict=True))
    same_local = sum(a == b for a, b in zip(runs["managed"]["texts"], runs["transformers"]["texts"], strict=True))
    figures = [
        c.Figure(figure=f"plugin driving the managed vLLM server, {len(requests)} GSM8K prompts x {args.max_tokens} tokens",
                 reference="vLLM offline (LLM.chat on all prompts at once), same prompts and settings",
                 ratio=rate["managed"] / rate["offline"], ratio_meaning="managed/offline completion tokens per second",
                 target=">= 0.9x", met=rate["managed"] / rate["offline"] >= 0.9,
                 detail={"managed_tokens_per_s": round(rate["managed"], 2), "offline_tokens_per_s": round(rate["offline"], 2),
                         "same_texts": f"{same}/{len(requests)}", "errors": runs["managed"]["errors"],
                         "server_start_s": round(runs["managed"]["start_s"], 1), "served_by": runs["managed"]["served_by"]}),
        c.Figure(figure=f"managed vLLM against the transformers backend, {len(requests)} GSM8K prompts",
                 reference=f"TransformersBackend.run, batch 16, {args.threads} torch threads, same prompts",
                 ratio=rate["managed"] / rate["transformers"], ratio_meaning="vLLM/transformers completion tokens per second",
                 target="reported (on a CPU either may win)", met=None,
                 detail={"transformers_tokens_per_s": round(rate["transformers"], 2),
                         "same_texts": f"{same_local}/{len(requests)}"}),
    ]
    c.write_result("vllm_throughput", args, figures, machine_info=machine, started=started,
                   extra={"settings": vars(args), "runs": {k: {x: y for x, y in v.items() if x != "texts"}
                                                           for k, v in runs.items()}})


if __name__ == "__main__":
    main()
