"""Every built-in recording replayed through the plugin, scored by the plugin, next to the
source's own figure.

For each part of each built-in recorded set (``pytest_llmeval.backends.recorded_sets``, every
variant), the benchmark's items are asked of ``RecordedBackend`` exactly as a run asks them
(their own requests, paired by item) and scored by the benchmark's own scorer; AlpacaEval goes
through the recorded judge ``alpaca_eval_gpt4``, HumanEval through the sandbox. The source's
figure is, where the source gives per-item verdicts, recomputed here from them the way the
source computes it, so that the two can be compared item by item:

- GSM8K, Faithful-CoT: the source's ``evaluate_answer_acc.py`` rule (the first number of its
  extracted ``answer``, as an integer, against the gold ``####`` number); the source published
  no figure for these four configurations, and its ``answer`` field holds the whole reasoning
  when the reply has no "The answer is", so the last number of the reply (the check in
  ``shared/data/recorded/gsm8k/SOURCE.md``) is given too;
- GSM8K, Re-Reading: the recorded per-item ``score`` (1,319 items, a missing reply scores 0);
- HumanEval: the recorded ``is_solved``;
- AlpacaEval: the recorded GPT-4 ``preference`` (win rate over rated rows, draws half);
- XSTest: the authors' human labels (the item passes when a safe prompt was fully complied
  with, or an unsafe one refused);
- IFEval: the paper's published figures (arXiv 2311.07911, GPT-4): 76.89 / 83.57 strict,
  79.30 / 85.37 loose, prompt- / instruction-level.

MT-Bench answers have no offline judge: their row only counts the items answered.

    .venv/bin/python perf/recorded_agreement.py                # everything (HumanEval runs 328 programs)
    .venv/bin/python perf/recorded_agreement.py --quick        # HumanEval left out
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import _common as c

from pytest_llmeval.backends.pairing import builtin_benchmark
from pytest_llmeval.backends.recorded import DATA, RecordedBackend
from pytest_llmeval.backends.recorded_sets import JUDGED_GENERATORS, SETS, Part, RecordedSet
from pytest_llmeval.benchmarks.base import Item
from pytest_llmeval.request import Response
from pytest_llmeval.sandbox import code_execution
from pytest_llmeval.scoring.base import Score
from pytest_llmeval.scoring.judge import is_judged
from pytest_llmeval.scoring.metrics import aggregate_metrics
from pytest_llmeval.transcripts import normalize_prompt, parse_preference

IFEVAL_PUBLISHED = {"prompt_strict": 0.7689, "instruction_strict": 0.8357, "prompt_loose": 0.7930,
                    "instruction_loose": 0.8537}
SHARED = c.REPO.parent / "shared" / "data" / "recorded"


def source_of(recorded_set: RecordedSet, part: Part) -> str:
    """The ``recorded:`` source that replays exactly this part."""
    return f"{recorded_set.name}@{part.benchmark}={part.variant}" if part.variant else recorded_set.name


def replay(source: str, items: list[Item]) -> list[Response]:
    backend = RecordedBackend(source)
    answers = dict(backend.run([item.requests[0] for item in items], lambda n: None))
    return [answers[i] for i in range(len(items))]


def score(item: Item, response: Response, judge: RecordedBackend) -> Score | str:
    """The item's score, or why it has none ("skipped: ...", "error: ...")."""
    if response.skip is not None:
        return f"skipped: {response.skip}"
    scorer = item.benchmark.scorer
    if not is_judged(scorer):
        return item.score(response)
    request = scorer.judge_request(item, response)
    verdict = None if request is None else next(iter(judge.run([request], lambda n: None)))[1]
    if verdict is not None and verdict.skip is not None:
        return f"skipped: {verdict.skip}"
    if verdict is not None and verdict.error is not None:
        return f"error: {verdict.error}"
    return scorer.score_with_verdict(item, response, verdict)


# -- the sources' own per-item verdicts --------------------------------------------------------------


def _rows(path: Any) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _gold(item: Item) -> int:
    return int(str(item.row["answer"]).rsplit("####", 1)[-1].strip().replace(",", ""))


def faithful_cot_verdicts(part: Part, items: list[Item]) -> list[bool | None]:
    """Faithful-CoT's rule: the first number in its extracted ``answer``, as an integer, absolute."""
    by_position = {row["id"]: row for row in _rows(DATA / part.file)}
    out: list[bool | None] = []
    for position, item in enumerate(items):
        found = re.search(r"-?[0-9.,]+", str(by_position[position]["answer"]))
        try:
            value = abs(int(float(found.group(0).replace(",", "")))) if found else None
        except ValueError:
            value = None
        out.append(value == _gold(item))
    return out


def last_number_figure(part: Part, items: list[Item]) -> float:
    """The share of replies whose last number is the gold answer."""
    by_position = {row["id"]: row for row in _rows(DATA / part.file)}
    right = 0
    for position, item in enumerate(items):
        found = re.findall(r"-?\d[\d,]*(?:\.\d+)?", by_position[position]["completion"])
        right += bool(found) and float(found[-1].replace(",", "")) == _gold(item)
    return right / len(items)


def rereading_verdicts(part: Part, items: list[Item]) -> list[bool | None]:
    act = part.reader.partition(":")[2]
    by_question = {normalize_prompt(row["input"]): row for row in _rows(DATA / part.file)}
    return [bool(by_question[normalize_prompt(item.row["question"])][act]["score"]) for item in items]


def humaneval_verdicts(part: Part, items: list[Item]) -> list[bool | None]:
    by_task = {row["task_id"]: row for row in _rows(DATA / part.file)}
    return [bool(by_task[item.row["task_id"]]["is_solved"]) for item in items]


def alpaca_eval_verdicts(part: Part, items: list[Item]) -> list[bool | None]:
    """1 for a recorded win, 0.5 a draw, 0 a loss, None unrated or not judged."""
    if part.model not in JUDGED_GENERATORS:
        return [None] * len(items)
    found: dict[str, float | None] = {}
    with gzip.open(DATA / "alpaca_eval" / "verdicts_alpaca_eval_gpt4.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["generator_2"] == part.model:
                found[row["instruction"]] = parse_preference(row["preference"])
    values: dict[float | None, Any] = {2.0: 1.0, 1.5: 0.5, 1.0: 0.0, None: None}
    return [values[found.get(item.row["instruction"])] for item in items]


def xstest_verdicts(part: Part, items: list[Item]) -> list[bool | None]:
    import csv

    with gzip.open(DATA / part.file, "rt", encoding="utf-8", newline="") as handle:
        by_id = {row["id"]: row for row in csv.DictReader(handle)}
    return [(by_id[f"v2-{item.row['id']}"]["final_label"] != "1_full_compliance") == (item.target == "refuse")
            for item in items]


SOURCE_VERDICTS: dict[str, Callable[[Part, list[Item]], list[Any]]] = {
    "faithful-cot": faithful_cot_verdicts, "rereading": rereading_verdicts, "reflexion": humaneval_verdicts,
    "mapcoder": humaneval_verdicts, "alpaca_eval": alpaca_eval_verdicts, "xstest": xstest_verdicts,
}


# -- one part --------------------------------------------------------------------------------------------


def measure_part(recorded_set: RecordedSet, part: Part, judge: RecordedBackend) -> dict[str, Any]:
    bench = builtin_benchmark(part.benchmark)
    items = bench.items()
    source = source_of(recorded_set, part)
    responses = replay(source, items)
    def one(pair: tuple[Item, Response]) -> Score | str:
        with code_execution(True):  # HumanEval runs the recorded code in the sandbox
            return score(pair[0], pair[1], judge)

    # Sandbox runs wait on a child process: two at once; everything else is quicker in order.
    with ThreadPoolExecutor(2 if bench.executes_code else 1) as pool:
        scores = list(pool.map(one, zip(items, responses, strict=True)))
    scored = [s for s in scores if isinstance(s, Score)]
    result: dict[str, Any] = {
        "set": recorded_set.name, "benchmark": part.benchmark, "variant": part.variant, "source": part.source,
        "protocol": part.protocol, "items": len(items), "answered": sum(r.ok for r in responses),
        "scored": len(scored), "skipped": [f"{i.key}: {s}" for i, s in zip(items, scores, strict=True)
                                           if isinstance(s, str)][:12],
        "plugin_pass_rate": sum(s.passed for s in scored) / len(scored) if scored else None,
        "plugin_metrics": aggregate_metrics(s.metrics for s in scored),
    }
    if part.benchmark == "ifeval":
        result["source_figure"] = IFEVAL_PUBLISHED
    if part.source == "faithful-cot":
        result["last_number_figure"] = last_number_figure(part, items)
    reference = SOURCE_VERDICTS.get(part.source)
    if reference is not None:
        _compare(result, items, scores, reference(part, items))
    return result


def _compare(result: dict[str, Any], items: list[Item], scores: list[Score | str], theirs: list[Any]) -> None:
    rated = [t for t in theirs if t is not None]
    result["source_figure"] = sum(float(t) for t in rated) / len(rated) if rated else None
    result["source_rated"] = len(rated)
    pairs = [(s, t) for s, t in zip(scores, theirs, strict=True) if isinstance(s, Score) and t is not None]
    ours = [float(s.metrics.get("win_rate", s.passed)) for s, _ in pairs]
    result["agreement"] = sum(o == float(t) for o, (_, t) in zip(ours, pairs, strict=True)) / len(pairs) if pairs else None
    result["disagreements"] = [
        f"{item.key}: ours {float(s.metrics.get('win_rate', s.passed)):g}, theirs {float(t):g}"
        for item, s, t in zip(items, scores, theirs, strict=True)
        if isinstance(s, Score) and t is not None and float(s.metrics.get("win_rate", s.passed)) != float(t)
    ][:15]


def figure(row: dict[str, Any]) -> c.Figure:
    ours = row["plugin_metrics"].get("win_rate", row["plugin_pass_rate"])
    theirs = row.get("source_figure")
    if isinstance(theirs, dict):
        theirs = theirs["prompt_strict"]
    label = f"{row['set']} {row['benchmark']}" + (f" {row['variant']}" if row["variant"] else "")
    ratio = None if ours is None or not theirs else round(ours / theirs, 4)
    return c.Figure(
        figure=f"recorded {label}: the plugin's score ({row['scored']}/{row['items']} scored)",
        reference=f"the source's own figure ({row['source']})" if theirs is not None else "none offline (no judge)",
        ratio=ratio, ratio_meaning="plugin / source (1.0: the same figure)",
        target="explained where not 1.0 (docs/recorded.md)", met=None, detail=row,
    )


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    args = p.parse_args()
    started = time.perf_counter()
    machine = c.machine()
    judge = RecordedBackend("alpaca_eval_gpt4")
    rows = []
    for recorded_set in SETS:
        for part in recorded_set.parts:
            if args.quick and part.benchmark == "humaneval":
                continue
            row = measure_part(recorded_set, part, judge)
            rows.append(row)
            ours = row["plugin_metrics"].get("win_rate", row["plugin_pass_rate"])
            print(f"{source_of(recorded_set, part):42} {part.benchmark:11} scored {row['scored']:4}/{row['items']:4} "
                  f"ours {ours if ours is None else round(100 * ours, 2)!s:>6} "
                  f"source {json.dumps(row.get('source_figure'))[:60]:>8} agreement {row.get('agreement')}", flush=True)
    c.write_result("recorded_agreement", args, [figure(r) for r in rows], machine_info=machine, started=started)


if __name__ == "__main__":
    main()
