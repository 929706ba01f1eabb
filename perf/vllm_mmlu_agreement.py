"""Multiple choice through vLLM: the same letters as the local transformers backend?

Figure: on the seeded ``--llm-limit=100`` MMLU sample, the most likely letter of every item by
log-likelihood, from the embedded model served by vLLM (through the OpenAI-compatible backend:
the server's ``/tokenize`` and prompt log-probabilities, see backends/openai/choices.py) and
from the same weights loaded locally by the transformers backend (float32 both). Reported:
how many letters agree, the largest difference of a choice's log-probability, and each side's
accuracy. Needs vLLM in an environment of its own (``LLMEVAL_VLLM_PYTHON``; docs/vllm.md), or
``--base-url`` of a vLLM already serving the converted embedded model.

    LLMEVAL_VLLM_PYTHON=/work/vllm-venv/bin/python .venv/bin/python perf/vllm_mmlu_agreement.py
    .venv/bin/python perf/vllm_mmlu_agreement.py --base-url http://127.0.0.1:8000/v1 --served-name smollm
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
from _served import embedded_directory


def served_scores(args: Any, requests: list[Any]) -> tuple[list[list[float]], float, str]:
    from pytest_llmeval.backends.openai import OpenAIBackend
    from pytest_llmeval.backends.vllm import VLLMArguments, VLLMBackend

    backend: Any
    if args.base_url:
        backend = OpenAIBackend(args.served_name, base_url=args.base_url, api_key="no-key", concurrency=16,
                                loglikelihood=True, timeout=600)
    else:
        backend = VLLMBackend(str(embedded_directory()), VLLMArguments(max_model_len=2048), name="smollm",
                              state_dir=Path(tempfile.mkdtemp()), timeout=600)
    try:
        backend.check()
        started = time.perf_counter()
        out = dict(backend.run(requests, lambda n: None))
        wall = time.perf_counter() - started
        described = backend.describe()
    finally:
        backend.close()
    missing = [out[i].error for i in range(len(requests)) if out[i].choice_logprobs is None]
    assert not missing, f"vLLM did not score {len(missing)} items, e.g. {missing[0]}"
    return [out[i].choice_logprobs or [] for i in range(len(requests))], wall, described


def local_scores(requests: list[Any], threads: int) -> tuple[list[list[float]], float]:
    import torch

    from pytest_llmeval.backends.transformers import TransformersBackend

    torch.set_num_threads(threads)
    backend = TransformersBackend("hf", str(embedded_directory()), batch_size=16)
    backend.loaded()
    started = time.perf_counter()
    out = dict(backend.run(requests, lambda n: None))
    return [out[i].choice_logprobs or [] for i in range(len(requests))], time.perf_counter() - started


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="torch threads of the local backend")
    p.add_argument("--base-url", default=None, help="a vLLM already serving the converted embedded model")
    p.add_argument("--served-name", default="smollm", help="its model name (with --base-url)")
    args = p.parse_args()
    if args.quick:
        args.items = 20
    started = time.perf_counter()
    machine = c.machine()
    from pytest_llmeval.benchmarks import mmlu

    items = mmlu.benchmarks()[0].items(limit=args.items)
    requests = [item.requests[0] for item in items]
    assert all(r.kind == "loglikelihood" for r in requests)
    served, served_wall, described = served_scores(args, requests)  # one heavy process at a time
    local, local_wall = local_scores(requests, args.threads)

    def letters(scores: list[list[float]]) -> list[str]:
        return [r.choices[max(range(len(s)), key=s.__getitem__)] for r, s in zip(requests, scores, strict=True)]

    a, b = letters(served), letters(local)
    same = sum(x == y for x, y in zip(a, b, strict=True))
    gap = max(abs(x - y) for s, t in zip(served, local, strict=True) for x, y in zip(s, t, strict=True))
    figure = c.Figure(
        figure=f"MMLU by log-likelihood through vLLM, {len(items)} items: same letters as the local backend",
        reference="the transformers backend on the same weights (float32), same items",
        ratio=same / len(items), ratio_meaning="fraction of items with the same most likely letter",
        target="1.0 (every letter the same)", met=same == len(items),
        detail={"same_letters": f"{same}/{len(items)}", "largest_logprob_difference": round(gap, 5),
                "vllm_accuracy": f"{sum(x == i.target for x, i in zip(a, items, strict=True))}/{len(items)}",
                "local_accuracy": f"{sum(x == i.target for x, i in zip(b, items, strict=True))}/{len(items)}",
                "vllm_wall_s": round(served_wall, 2), "local_wall_s": round(local_wall, 2), "served_by": described},
    )
    c.write_result("vllm_mmlu_agreement", args, [figure], machine_info=machine, started=started,
                   extra={"settings": vars(args)})


if __name__ == "__main__":
    main()
