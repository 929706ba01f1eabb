"""GSM8K answer extraction on real replies: our verdicts against the recordings' and lm-eval's.

Every recorded reply in ``../shared/data/recorded/gsm8k`` (1,319 GSM8K test items per file:
GPT-4 and GPT-3.5-turbo few-shot chain-of-thought and answer-only replies from Faithful-CoT;
GPT-3.5-turbo-0613 zero-shot and zero-shot chain-of-thought replies from Re-Reading; see
``SOURCE.md`` there) is scored by the built-in GSM8K scorer (``scorers.number()``: strict and
flexible extraction, the item passing on flexible) against the item's gold answer. For each
file it reports how often our verdict (right or wrong) equals

(a) the recording's own verdict: Faithful-CoT's, recomputed from the row's ``answer`` field as
    its repository does (``source/dataset/utils.py``, ``extract_pred_answer``: ``float()`` of
    the field, truncated to an int, sign dropped, then ``==`` the gold integer; a field that
    ``float()`` cannot read is wrong), and Re-Reading's ``score`` field (its parser:
    ``utils/answer_parser.py``, ``parse_answer_number``; its scorer ``utils/scorer.py``);
(b) lm-evaluation-harness's ``flexible-extract`` on the same reply, reimplemented from
    ``lm_eval/tasks/gsm8k/gsm8k.yaml`` (task version 3.0; the same filter in
    ``gsm8k-cot-zeroshot.yaml``): regex ``(-?[$0-9.,]{2,})|(-?[0-9]+)``, ``group_select: -1``
    (the last match) and its first non-empty group, then ``exact_match`` against the dataset
    answer with ``ignore_case`` and ``regexes_to_ignore`` ``,`` ``\\$`` ``(?s).*#### ``
    ``\\.$`` (lm_eval/filters/extraction.py ``RegexFilter``; lm_eval/api/metrics.py
    ``exact_match_hf_evaluate``).

    python perf/gsm8k_extraction_agreement.py               # the table, also written to perf/results/
    python perf/gsm8k_extraction_agreement.py --show lm-eval  # and every disagreement with lm-eval
    python perf/gsm8k_extraction_agreement.py --show recording --file faithful-cot_gpt4_COT
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pytest_llmeval.benchmarks import gsm8k
from pytest_llmeval.benchmarks.base import Item
from pytest_llmeval.request import Response
from pytest_llmeval.scoring.extract import numbers_equal

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "recorded" / "gsm8k"
RESULT = REPO / "perf" / "results" / "gsm8k_extraction_agreement.md"

FAITHFUL_COT = ("faithful-cot_gpt4_COT", "faithful-cot_gpt4_standard",
                "faithful-cot_gpt-3.5-turbo_COT", "faithful-cot_gpt-3.5-turbo_standard")
REREADING = "rereading_gpt-3.5-turbo_baseline"
REREADING_CONFIGS = ("vanilla", "cot")  # zero-shot, zero-shot chain of thought

# -- lm-evaluation-harness's flexible-extract, reimplemented (see the module docstring) --------
LM_EVAL_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
LM_EVAL_IGNORE = (",", r"\$", r"(?s).*#### ", r"\.$")
LM_EVAL_FALLBACK = "[invalid]"


def lm_eval_flexible(reply: str) -> str:
    matches = LM_EVAL_FLEXIBLE.findall(reply)
    if not matches:
        return LM_EVAL_FALLBACK
    groups = [group for group in matches[-1] if group]
    return groups[0].strip() if groups else LM_EVAL_FALLBACK


def lm_eval_exact_match(prediction: str, reference: str) -> bool:
    for pattern in LM_EVAL_IGNORE:
        prediction, reference = re.sub(pattern, "", prediction), re.sub(pattern, "", reference)
    return prediction.lower() == reference.lower()


# -- Faithful-CoT's own verdict, recomputed from the recorded answer field ----------------------


def faithful_cot_correct(answer: str, gold_solution: str) -> bool:
    gold = re.search(r"#### (\-?[0-9\.\,]+)", gold_solution)
    if gold is None:
        return False
    try:
        text = answer
        value = float(sum(Fraction(part) for part in text.split())) if "/" in text else float(text)
        predicted = abs(int(value))
    except (ValueError, ZeroDivisionError, OverflowError):
        return False  # "[invalid]" in the repository: never correct
    return predicted == int(gold.group(1).strip().replace(",", ""))


# -- the replies ---------------------------------------------------------------------------------


@dataclass
class Reply:
    source: str  # the file (and configuration)
    item: Item
    text: str
    recorded_correct: bool
    recorded_answer: str


def replies(data: Path, items: list[Item]) -> Iterator[Reply]:
    for name in FAITHFUL_COT:
        for row in _rows(data / f"{name}.jsonl.gz"):
            item = items[int(row["id"])]
            answer = str(row["answer"])
            yield Reply(name, item, str(row["completion"]), faithful_cot_correct(answer, item.row["answer"]), answer)
    rows = _rows(data / f"{REREADING}.jsonl.gz")
    for config in REREADING_CONFIGS:
        for row in sorted(rows, key=lambda r: int(r["id"])):
            item = items[int(row["id"])]
            generation = row[config]["generation"]
            text = "" if not generation else str(generation[0])  # a request that failed upstream
            yield Reply(f"{REREADING}:{config}", item, text, bool(row[config]["score"]), str(row[config]["answer"]))


def _rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# -- scoring and the report -----------------------------------------------------------------------


@dataclass
class Verdicts:
    reply: Reply
    ours: bool
    strict: bool
    answer: str | None
    lm_eval: bool
    lm_eval_answer: str


def judge(reply: Reply) -> Verdicts:
    score = reply.item.score(Response(text=reply.text))
    extracted = lm_eval_flexible(reply.text)
    return Verdicts(reply, score.passed, bool(score.metrics["strict"]), score.answer,
                    lm_eval_exact_match(extracted, str(reply.item.row["answer"])), extracted)


def table(results: list[Verdicts]) -> list[str]:
    """The agreement table, then who credits what where we disagree."""
    lines = ["| file | replies | ours: flexible (pass) | ours: strict | recording's verdict | agrees with ours | "
             "lm-eval flexible-extract | agrees with ours |",
             "|---|---|---|---|---|---|---|---|"]
    split = ["| file | recording credits, we do not | we credit, recording does not | "
             "lm-eval credits, we do not | we credit, lm-eval does not |",
             "|---|---|---|---|---|"]
    for source in dict.fromkeys(r.reply.source for r in results):
        rows = [r for r in results if r.reply.source == source]
        n = len(rows)

        def share(count: int, n: int = n) -> str:
            return f"{100 * count / n:.1f}%"

        recorded = [r.reply.recorded_correct for r in rows]
        lm_eval = [r.lm_eval for r in rows]
        agree_recorded = sum(r.ours == theirs for r, theirs in zip(rows, recorded, strict=True))
        agree_lm_eval = sum(r.ours == theirs for r, theirs in zip(rows, lm_eval, strict=True))
        lines.append(
            f"| {source} | {n} | {share(sum(r.ours for r in rows))} | {share(sum(r.strict for r in rows))} | "
            f"{share(sum(recorded))} | {share(agree_recorded)} ({n - agree_recorded} differ) | "
            f"{share(sum(lm_eval))} | {share(agree_lm_eval)} ({n - agree_lm_eval} differ) |")
        split.append(f"| {source} | {_only(rows, recorded, theirs=True)} | {_only(rows, recorded, theirs=False)} | "
                     f"{_only(rows, lm_eval, theirs=True)} | {_only(rows, lm_eval, theirs=False)} |")
    return [*lines, "", *split]


def _only(rows: list[Verdicts], verdicts: list[bool], *, theirs: bool) -> int:
    """How many replies only they (``theirs``) or only we credit."""
    return sum(verdict == theirs and r.ours != theirs for r, verdict in zip(rows, verdicts, strict=True))


def faithful_cot_reasons(results: list[Verdicts]) -> list[str]:
    """Why Faithful-CoT's own rule disagrees with us, counted over its four files."""
    reasons: dict[str, int] = {}
    for r in results:
        if not r.reply.source.startswith("faithful-cot") or r.ours == r.reply.recorded_correct:
            continue
        answer = r.reply.recorded_answer
        try:
            value = float(sum(Fraction(part) for part in answer.split())) if "/" in answer else float(answer)
        except (ValueError, ZeroDivisionError):
            reason = "its answer field is not a bare number, so float() fails and the item counts as wrong"
        else:
            reason = ("it drops the minus sign (abs())" if value < 0 else
                      "it truncates a decimal to an integer (int())" if value != int(value) else "other")
        reasons[reason] = reasons.get(reason, 0) + 1
    return [f"- Faithful-CoT's rule disagrees with us because {reason}: {count} replies"
            for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])]


#: A reply that states its answer ("The answer is 18", "\\boxed{18}") rather than leaving it to be found.
STATED = re.compile(r"(?i:answer\s*(?:is|:))|\\boxed\{")


def lm_eval_reasons(results: list[Verdicts]) -> list[str]:
    """Why lm-eval's flexible-extract disagrees with us, counted over all files."""
    reasons: dict[str, int] = {}
    for r in results:
        if r.ours == r.lm_eval:
            continue
        if r.ours and numbers_equal(r.lm_eval_answer.replace(",", "").rstrip("."), str(r.reply.item.target)):
            reason = "lm-eval reads the right number, but its exact match rejects how it is written ($16.00, 7425.00)"
        elif r.ours:
            reason = "lm-eval reads the last number, which is not the answer (a restated given, a unit, a check)"
        elif STATED.search(r.reply.text):
            reason = "the reply states a wrong answer and its last number is the right one (lm-eval credits it)"
        else:
            reason = "the reply's last number happens to be right while its answer is not (lm-eval credits it)"
        reasons[reason] = reasons.get(reason, 0) + 1
    return [f"- {reason}: {count} replies" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])]


def show(results: list[Verdicts], against: str) -> None:
    for r in results:
        theirs = r.reply.recorded_correct if against == "recording" else r.lm_eval
        if r.ours == theirs:
            continue
        their_answer = r.reply.recorded_answer if against == "recording" else r.lm_eval_answer
        print(f"=== {r.reply.source} {r.reply.item.id}: gold {r.reply.item.target}; ours {r.answer} "
              f"({'right' if r.ours else 'wrong'}); {against} {their_answer!r} ({'right' if theirs else 'wrong'})")
        print(r.reply.text.strip())
        print()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help=f"the recorded replies (default {DATA})")
    p.add_argument("--show", choices=("recording", "lm-eval"), help="print every reply on which we disagree with it")
    p.add_argument("--file", help="only this file (a name from the table)")
    p.add_argument("--no-write", action="store_true", help=f"print only; leave {RESULT.relative_to(REPO)} alone")
    args = p.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no recorded GSM8K replies in {args.data}: pass --data DIR")
    items = gsm8k.benchmarks()[0].items()
    results = [judge(reply) for reply in replies(args.data, items)
               if args.file is None or reply.source.startswith(args.file)]
    if args.show:
        show(results, args.show)
    lines = [*table(results), "", *faithful_cot_reasons(results), "", *lm_eval_reasons(results)]
    print("\n".join(lines))
    if not args.no_write and args.file is None:
        RESULT.write_text("# GSM8K extraction agreement on recorded replies\n\n"
                          f"Written by `perf/{Path(__file__).name}`; see docs/benchmarks-reasoning-context.md.\n\n"
                          + "\n".join(lines) + "\n")
        print(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
