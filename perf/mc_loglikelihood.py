"""Multiple choice by log-likelihood: the backend's one pass per item against one pass per choice.

Figure: wall time of ``TransformersBackend.run`` on the log-likelihood requests of 200 MMLU
items (the seeded ``--llm-limit=200`` sample) on the embedded model. Every MMLU choice is a
single letter token, so the backend runs the prompt once and reads all four letters' log-
probabilities from the last position.

Reference, same process and same loaded weights: the textbook method (lm-evaluation-harness's
for multiple choice) that scores each choice with its own forward pass over prompt + choice:
the 800 sequences, sorted longest first and cut into batches of the same size, left-padded,
summing the log-probabilities of the choice's tokens (logits computed only where needed). It is written independently of the
backend, so equal answers also check the backend's arithmetic.

The ratio is reference time / our time (higher is better); "same answers" compares the
most likely letter of every item.

    .venv/bin/python perf/mc_loglikelihood.py           # 200 items, 1 round (about 15 minutes on 2 cores)
    .venv/bin/python perf/mc_loglikelihood.py --quick   # 40 items, 1 round
"""

from __future__ import annotations

import time
from typing import Any

import _common as c


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--rounds", type=int, default=1, help="each round runs both once, the order alternating")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on 2 shared cores, 2 threads collapse under contention)")
    args = p.parse_args()
    if args.quick:
        args.items, args.rounds = 40, 1
    started = time.perf_counter()
    machine = c.machine()

    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.backends.transformers.runtime import import_torch
    from pytest_llmeval.benchmarks import mmlu
    from pytest_llmeval.registry import embedded_model_file

    torch = import_torch(args.threads)  # torch's threads quiet, as the backend has them
    backend = TransformersBackend("gguf", str(embedded_model_file()), batch_size=args.batch_size)
    items = mmlu.benchmarks()[0].items(limit=args.items)
    requests = [item.requests[0] for item in items]
    assert all(r.kind == "loglikelihood" for r in requests)
    loaded = backend.loaded()
    tok, model = loaded.tokenizer, loaded.model

    def ours() -> tuple[list[list[float]], float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        out = dict(backend.run(requests, lambda n: None))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return [out[i].choice_logprobs or [] for i in range(len(requests))], wall, cpu

    def reference() -> tuple[list[list[float]], float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        sequences = []  # (item index, choice index, context ids, choice ids)
        for i, r in enumerate(requests):
            text = tok.apply_chat_template([{"role": m.role, "content": m.content} for m in r.messages],
                                           tokenize=False, add_generation_prompt=True)
            context = tok(text, add_special_tokens=False)["input_ids"]
            for j, choice in enumerate(r.choices):
                sequences.append((i, j, context, tok(choice, add_special_tokens=False)["input_ids"]))
        sequences.sort(key=lambda s: -(len(s[2]) + len(s[3])))
        scores: list[list[float]] = [[0.0] * len(r.choices) for r in requests]
        for start in range(0, len(sequences), args.batch_size):
            batch = sequences[start : start + args.batch_size]
            width = max(len(ctx) + len(ch) for _, _, ctx, ch in batch)
            tail = max(len(ch) for _, _, _, ch in batch)
            # Left padding puts every choice at the end of its row, so only the last tail + 1
            # positions need logits (the reference gets the same saving a careful user would take).
            ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, _, ctx, ch) in enumerate(batch):
                ids[row, width - len(ctx) - len(ch):] = torch.tensor(ctx + ch)
                mask[row, width - len(ctx) - len(ch):] = 1
            with torch.inference_mode():
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=tail + 1).logits
                logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, (i, j, _ctx, ch) in enumerate(batch):
                # Position tail - len(ch) + k of the kept logits predicts the choice's k-th token.
                scores[i][j] = float(sum(logprobs[row, tail - len(ch) + k, t] for k, t in enumerate(ch)))
        return scores, time.perf_counter() - t0, time.process_time() - c0

    with torch.inference_mode():  # warm-up, paid by neither side
        model(**tok(["Hello there"], return_tensors="pt"))

    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "reference": []}
    answers: dict[str, list[list[float]]] = {}
    order = []
    for round_ in range(args.rounds):
        order += ["ours", "reference"] if round_ % 2 == 0 else ["reference", "ours"]
    for name in order:
        scores, wall, cpu = (ours if name == "ours" else reference)()
        answers[name] = scores
        runs[name].append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "load": c.loadavg()})
        print(f"{name:9s} {len(requests)} items in {wall:.1f}s wall, {cpu:.1f}s cpu", flush=True)

    def letters(scores: list[list[float]]) -> list[str]:
        return [r.choices[max(range(len(s)), key=s.__getitem__)] for r, s in zip(requests, scores, strict=True)]

    ours_letters, ref_letters = letters(answers["ours"]), letters(answers["reference"])
    same = sum(a == b for a, b in zip(ours_letters, ref_letters, strict=True))
    biggest_gap = max(abs(a - b) for x, y in zip(answers["ours"], answers["reference"], strict=True) for a, b in zip(x, y, strict=True))
    correct = sum(a == item.target for a, item in zip(ours_letters, items, strict=True))
    ours_wall = c.median([r["wall_s"] for r in runs["ours"]])
    ref_wall = c.median([r["wall_s"] for r in runs["reference"]])
    ours_cpu = c.median([r["cpu_s"] for r in runs["ours"]])
    ref_cpu = c.median([r["cpu_s"] for r in runs["reference"]])
    ratio = ref_wall / ours_wall
    figure = c.Figure(
        figure=f"multiple choice by log-likelihood, {len(items)} MMLU items",
        reference=f"one forward pass per choice ({sum(len(r.choices) for r in requests)} sequences), "
                  f"batch {args.batch_size}, length-sorted",
        ratio=ratio, ratio_meaning="reference/ours wall time, higher is better",
        target=">= 2x faster, same answers", met=ratio >= 2.0 and same == len(items),
        detail={"ours_wall_s": ours_wall, "reference_wall_s": ref_wall, "cpu_time_ratio": ref_cpu / ours_cpu,
                "same_answers": f"{same}/{len(items)}", "largest_logprob_difference": biggest_gap,
                "accuracy": f"{correct}/{len(items)}", "threads": args.threads, "rounds": args.rounds},
    )
    c.write_result("mc_loglikelihood", args, [figure], machine_info=machine, started=started,
                   extra={"runs": runs, "order": order, "settings": vars(args)})


if __name__ == "__main__":
    main()
