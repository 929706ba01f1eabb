"""Generation throughput of the transformers backend against plain batched ``model.generate``.

Figure: tokens per second of ``TransformersBackend.run`` on the embedded model (SmolLM2-135M-
Instruct from its GGUF file), over the seeded 64-item GSM8K sample (``--llm-limit=64``).
Reference, same process and same loaded weights: the same prompts through the same chat
template, cut into batches of the same size in dataset order, each batch one plain
``model.generate`` call with the same ``max_new_tokens``, greedy. Load time is excluded
from both (the reference reuses the backend's model and tokenizer).

Runs alternate (ours, reference, reference, ours, ...) so that drift in the machine's load
falls on both; ratios are of medians. Tokens are counted the same way for both: generated
tokens before the end-of-sequence token (which is also the pad token here). ``same_outputs``
counts the prompts whose decoded answers are identical.

    .venv/bin/python perf/generation_throughput.py            # 64 prompts, 64 new tokens, 2 rounds
    .venv/bin/python perf/generation_throughput.py --quick    # 16 prompts, 16 new tokens, 1 round
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import _common as c


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=64,
                   help="new tokens per prompt for both (default 64; GSM8K's own setting is 256, which "
                        "takes about four times as long)")
    p.add_argument("--rounds", type=int, default=2, help="each round runs both once, the order alternating")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on 2 shared cores, 2 threads collapse under contention)")
    args = p.parse_args()
    if args.quick:
        args.prompts, args.max_new_tokens, args.rounds = 16, 16, 1
    started = time.perf_counter()
    machine = c.machine()

    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.backends.transformers.runtime import import_torch
    from pytest_llmeval.benchmarks import gsm8k
    from pytest_llmeval.registry import embedded_model_file

    torch = import_torch(args.threads)  # torch's threads quiet, as the backend has them
    backend = TransformersBackend("gguf", str(embedded_model_file()), batch_size=args.batch_size)
    loaded = backend.loaded()
    print(f"loaded in {loaded.seconds:.1f}s ({loaded.source})", flush=True)
    items = gsm8k.benchmarks()[0].items(limit=64)[: args.prompts]
    requests = [dataclasses.replace(item.requests[0], max_tokens=args.max_new_tokens) for item in items]
    tok, model = loaded.tokenizer, loaded.model

    answers: dict[str, list[str]] = {}

    def ours() -> tuple[int, float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        out = list(backend.run(requests, lambda n: None))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert all(r.ok for _, r in out), [r.error for _, r in out if not r.ok][:1]
        answers["ours"] = [r.text for _, r in sorted(out, key=lambda pair: pair[0])]
        return sum(int(r.meta["completion_tokens"]) for _, r in out), wall, cpu

    def reference() -> tuple[int, float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        tokens = 0
        answers["reference"] = []
        for start in range(0, len(requests), args.batch_size):
            batch = requests[start : start + args.batch_size]
            texts = [tok.apply_chat_template([{"role": m.role, "content": m.content} for m in r.messages],
                                             tokenize=False, add_generation_prompt=True) for r in batch]
            inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                output = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False,
                                        pad_token_id=tok.pad_token_id)
            new = output[:, inputs["input_ids"].shape[1]:]
            tokens += int((new != tok.pad_token_id).sum())
            answers["reference"] += tok.batch_decode(new, skip_special_tokens=True)
        return tokens, time.perf_counter() - t0, time.process_time() - c0

    # Warm-up: the first generate() call pays one-off costs (kernels, caches) that neither side should.
    with torch.inference_mode():
        warm = tok(["Hello"], return_tensors="pt")
        model.generate(**warm, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)

    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "reference": []}
    order = []
    for round_ in range(args.rounds):
        order += ["ours", "reference"] if round_ % 2 == 0 else ["reference", "ours"]
    for name in order:
        tokens, wall, cpu = (ours if name == "ours" else reference)()
        runs[name].append({"tokens": tokens, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                           "tokens_per_s": tokens / wall, "tokens_per_cpu_s": tokens / cpu, "load": c.loadavg()})
        print(f"{name:9s} {tokens} tokens in {wall:.1f}s wall ({tokens / wall:.1f} tok/s), "
              f"{cpu:.1f}s cpu ({tokens / cpu:.1f} tok/cpu-s)", flush=True)

    ours_tps = c.median([r["tokens_per_s"] for r in runs["ours"]])
    ref_tps = c.median([r["tokens_per_s"] for r in runs["reference"]])
    ours_cpu = c.median([r["tokens_per_cpu_s"] for r in runs["ours"]])
    ref_cpu = c.median([r["tokens_per_cpu_s"] for r in runs["reference"]])
    ratio = ours_tps / ref_tps
    figure = c.Figure(
        figure=f"transformers generation throughput, {len(requests)} GSM8K prompts, embedded model",
        reference=f"plain batched model.generate, same prompts, batch {args.batch_size}, "
                  f"max_new_tokens {args.max_new_tokens}",
        ratio=ratio, ratio_meaning="ours/reference tokens per second, higher is better",
        target=">= 0.95x", met=ratio >= 0.95,
        detail={"ours_tokens_per_s": ours_tps, "reference_tokens_per_s": ref_tps,
                "ours_tokens": [r["tokens"] for r in runs["ours"]],
                "reference_tokens": [r["tokens"] for r in runs["reference"]],
                "cpu_time_ratio": ours_cpu / ref_cpu, "threads": args.threads, "rounds": args.rounds,
                "same_outputs": f"{sum(a == b for a, b in zip(answers['ours'], answers['reference'], strict=True))}"
                                f"/{len(requests)}"},
    )
    c.write_result("generation_throughput", args, [figure], machine_info=machine, started=started,
                   extra={"runs": runs, "order": order, "settings": vars(args)},
                   notes=[f"tokens/s per CPU-second (less sensitive to other processes): ours {ours_cpu:.1f}, "
                          f"reference {ref_cpu:.1f}, ratio {ours_cpu / ref_cpu:.3f}"])


if __name__ == "__main__":
    main()
