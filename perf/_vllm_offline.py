"""vLLM's own offline throughput on the prompts perf/vllm_throughput.py gives it (run by vLLM's python).

Reads a JSON job on stdin: {"model", "max_model_len", "dtype", "max_tokens", "conversations"}; loads
``vllm.LLM`` once, warms it up on one conversation, then times ``LLM.chat`` on all of them
(greedy), and prints one line ``RESULT {json}``: wall seconds, completion tokens, and the texts
(vLLM logs to standard output too).
Only the standard library and vLLM: it runs in vLLM's own environment.
"""

import json
import sys
import time

from vllm import LLM, SamplingParams


def main() -> None:
    job = json.load(sys.stdin)
    llm = LLM(model=job["model"], dtype=job["dtype"], max_model_len=job["max_model_len"])
    params = SamplingParams(temperature=0.0, max_tokens=job["max_tokens"])
    llm.chat(job["conversations"][:1], params, use_tqdm=False)  # warm-up, as the server's first request
    started = time.perf_counter()
    outputs = llm.chat(job["conversations"], params, use_tqdm=False)
    wall = time.perf_counter() - started
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    print("RESULT " + json.dumps({"wall_s": wall, "completion_tokens": tokens, "texts": [o.outputs[0].text for o in outputs]}))


if __name__ == "__main__":
    main()
