"""Scoring by a judge model: AlpacaEval's pairwise preference and MT-Bench's 1-10 rating.

A judged item is scored in two stages, so that the engine can batch and cache both:

1. the candidate model answers the item's request (as for any benchmark);
2. ``scorer.judge_request(item, response)`` fills the published judge prompt with the item
   and that answer; the engine sends it to the judge backend (``--llm-judge``, cached like
   any request), then ``scorer.score_with_verdict(item, response, judge_response)`` parses
   the judge's verdict into a :class:`~pytest_llmeval.scoring.base.Score`.

``judge_request`` may return None: the verdict is known without asking (AlpacaEval scores an
output identical to the reference as a draw without calling the judge, and so does this).
``score_with_verdict`` then receives None. A reply with no verdict in the asked-for format
raises :class:`VerdictError`: that is an errored item, not a wrong answer.

Example (what the engine does, in miniature)::

    judge_req = scorer.judge_request(item, response)
    verdict = None if judge_req is None else next(judge.run([judge_req], progress))[1]
    score = scorer.score_with_verdict(item, response, verdict)
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

from ..request import Message, Request, Response
from ..shipped import shipped
from .base import Score

if TYPE_CHECKING:
    from ..benchmarks.base import Item

#: The judge used when ``--llm-judge`` is not given (both benchmarks were published with GPT-4).
DEFAULT_JUDGE = "gpt-4"



class VerdictError(ValueError):
    """The judge's reply holds no verdict in the format its prompt asked for."""


class JudgeRequired(RuntimeError):
    """A judged scorer was called like a plain scorer, without a judge's verdict."""


@runtime_checkable
class JudgedScorer(Protocol):
    """A scorer that needs a judge model's verdict (see the module docstring for the flow)."""

    #: Names the judge prompt and verdict format ("alpaca_eval_gpt4", "mtbench_single").
    judge_format: str

    def judge_request(self, item: Item, response: Response) -> Request | None:
        """The judge prompt for this item and answer, or None when no judge is needed."""
        ...

    def score_with_verdict(self, item: Item, response: Response, judge_response: Response | None) -> Score:
        """The item's score from the judge's reply (None when ``judge_request`` returned None)."""
        ...

    def __call__(self, item: Item, response: Response) -> Score: ...


def is_judged(scorer: object) -> TypeGuard[JudgedScorer]:
    """Whether ``scorer`` needs the two-stage judge flow.

    The same test as ``isinstance(scorer, JudgedScorer)``, without the cost of a runtime
    protocol check: it runs for every item of every run.
    """
    return callable(getattr(scorer, "judge_request", None)) and callable(getattr(scorer, "score_with_verdict", None))


class _JudgedBase:
    judge_format = ""

    def __call__(self, item: Item, response: Response) -> Score:
        raise JudgeRequired(
            f"{item.benchmark.name} is scored by a judge model: call judge_request() and "
            "score_with_verdict() (the engine does this when --llm-judge is set)"
        )


# -- AlpacaEval 1.0 ------------------------------------------------------------------------------

#: Upstream settings of the ``alpaca_eval_gpt4`` annotator (max_tokens 100, temperature 0).
ALPACA_EVAL_JUDGE_MAX_TOKENS = 100
_PLACEHOLDER = re.compile(r"\{(instruction|output_1|output_2)\}")
_RANKING = re.compile(r"\[\s*\{.*?\}\s*,\s*\{.*?\}\s*\]", re.DOTALL)


@lru_cache(maxsize=1)
def _alpaca_eval_template() -> tuple[str, str]:
    """(system, user) of AlpacaEval's ``alpaca_eval_gpt4`` prompt, from its ChatML file."""
    text = shipped("alpaca_eval/judge_prompt_alpaca_eval_gpt4.txt").read_text(encoding="utf-8")
    parts: dict[str, str] = {}
    for block in text.split("<|im_start|>")[1:]:
        role, _, body = block.partition("\n")
        # AlpacaEval strips each message when turning ChatML into chat messages.
        parts[role.strip()] = body.split("<|im_end|>", 1)[0].strip()
    return parts["system"], parts["user"]


def outputs_swapped(instruction: str) -> bool:
    """Whether the judge is shown the model's output first (as ``model_1``) for this instruction.

    Judges are biased by position; like AlpacaEval, the order is randomised per instruction,
    with a seed taken from the instruction so every run asks the same thing.
    """
    return hashlib.sha256(f"pytest-llmeval:alpaca_eval:{instruction}".encode()).digest()[0] & 1 == 1


def alpaca_eval_judge_request(instruction: str, reference: str, output: str) -> Request | None:
    """AlpacaEval 1.0's judge prompt comparing ``output`` (the model) with ``reference``.

    None when the two are identical: AlpacaEval scores that as a draw without a judge.
    """
    if output == reference:
        return None
    system, template = _alpaca_eval_template()
    first, second = (output, reference) if outputs_swapped(instruction) else (reference, output)
    values = {"instruction": instruction, "output_1": first, "output_2": second}
    # One pass, so that an output containing "{output_2}" is not itself filled in.
    user = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return Request(
        messages=(Message("system", system), Message("user", user)),
        max_tokens=ALPACA_EVAL_JUDGE_MAX_TOKENS,
        temperature=0.0,
    )


def alpaca_eval_preference(instruction: str, verdict: str) -> float:
    """The preference in AlpacaEval's convention (1.0 reference better, 2.0 model better).

    ``verdict`` is the judge's reply to :func:`alpaca_eval_judge_request`: a Python list like
    ``[{'model': 'model_2', 'rank': 1}, {'model': 'model_1', 'rank': 2}]``. As upstream, the
    rank given to ``model_1`` decides; the positions are then mapped back through the swap.
    The judge's final ranking counts: the last list in the reply, since a list before it is a
    draft the judge went on to revise, or one it quoted from an output it was shown (AlpacaEval
    parses a reply that is only the list; prose around it is tolerated here). A last list that
    cannot be read is a :class:`VerdictError`, never a fall back to the draft.
    """
    matches = list(_RANKING.finditer(verdict))
    if not matches:
        raise VerdictError(f"no ranking list in the judge's reply: {verdict[:200]!r}")
    match = matches[-1]
    try:
        ranking = ast.literal_eval(match.group(0))
        rank_1 = next(entry["rank"] for entry in ranking if entry["model"] == "model_1")
    except (ValueError, SyntaxError, TypeError, KeyError, StopIteration):
        raise VerdictError(f"the judge's ranking cannot be read: {match.group(0)[:200]!r}") from None
    if rank_1 not in (1, 2):
        raise VerdictError(f"model_1 has rank {rank_1!r}; expected 1 or 2")
    first_preferred = rank_1 == 1
    reference_first = not outputs_swapped(instruction)
    return 1.0 if first_preferred == reference_first else 2.0


def alpaca_eval_verdict_text(instruction: str, preference: float) -> str:
    """The reply the judge gives for ``preference`` (1.0 or 2.0) on this instruction's prompt.

    Used to replay recorded verdicts through the same parser as live ones.
    """
    if preference not in (1.0, 2.0):
        raise ValueError(f"a judge's ranking expresses preference 1 or 2, not {preference!r}")
    model_first = outputs_swapped(instruction)
    reference_won = preference == 1.0
    winner = "model_1" if reference_won != model_first else "model_2"
    loser = "model_2" if winner == "model_1" else "model_1"
    return f"[{{'model': '{winner}', 'rank': 1}}, {{'model': '{loser}', 'rank': 2}}]"


class PairwiseJudge(_JudgedBase):
    """AlpacaEval 1.0: the judge ranks the model's output against a reference output.

    The item's ``row`` holds the instruction (field ``instruction``) and its ``target`` the
    reference output. The item passes when the judge prefers the model's output; a draw
    (identical outputs) does not pass. ``metrics["win_rate"]`` is 1, 0.5 or 0 per item, so its
    mean over a benchmark is AlpacaEval's win rate (draws count half, unparsed verdicts are
    errors and left out, as upstream).
    """

    judge_format = "alpaca_eval_gpt4"

    def __init__(self, *, instruction_field: str = "instruction", reference_name: str = "text_davinci_003") -> None:
        self.instruction_field = instruction_field
        self.reference_name = reference_name

    def judge_request(self, item: Item, response: Response) -> Request | None:
        return alpaca_eval_judge_request(str(item.row[self.instruction_field]), str(item.target), response.text)

    def score_with_verdict(self, item: Item, response: Response, judge_response: Response | None) -> Score:
        expected = f"the judge prefers it to {self.reference_name}'s output"
        if judge_response is None:
            return Score(False, "draw (identical to the reference output)", expected, {"win_rate": 0.5},
                         "identical outputs are a draw without asking the judge (as in AlpacaEval)")
        if judge_response.error:
            raise VerdictError(f"the judge could not answer: {judge_response.error}")
        preference = alpaca_eval_preference(str(item.row[self.instruction_field]), judge_response.text)
        won = preference == 2.0
        answer = "judge preferred the model's output" if won else f"judge preferred {self.reference_name}'s output"
        return Score(won, answer, expected, {"win_rate": 1.0 if won else 0.0},
                     f"judge's reply: {judge_response.text.strip()}")


# -- MT-Bench ------------------------------------------------------------------------------------

#: Categories graded against GPT-4's reference answer (FastChat's ``NEED_REF_CATS``).
MTBENCH_REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})
#: FastChat's judge settings for GPT-4 (temperature 0, up to 2048 tokens of explanation).
MTBENCH_JUDGE_MAX_TOKENS = 2048
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_FALLBACK = re.compile(r"\[(\d+\.?\d*)\]")


@lru_cache(maxsize=1)
def mtbench_judge_prompts() -> dict[str, dict[str, str]]:
    """MT-Bench's published single-answer judge prompts, by name (``single-v1``, ...)."""
    path = shipped("mtbench/judge_prompts.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        prompts = [json.loads(line) for line in handle if line.strip()]
    return {p["name"]: p for p in prompts}


def mtbench_judge_request(question: str, answer: str, reference: str | None = None) -> Request:
    """The first-turn judge prompt: ``single-math-v1`` with a reference answer, else ``single-v1``."""
    prompt = mtbench_judge_prompts()["single-math-v1" if reference is not None else "single-v1"]
    values: dict[str, Any] = {"question": question, "answer": answer, "ref_answer_1": reference}
    # str.format only parses the template, so braces inside the answer are left alone.
    user = prompt["prompt_template"].format(**values)
    return Request(
        messages=(Message("system", prompt["system_prompt"]), Message("user", user)),
        max_tokens=MTBENCH_JUDGE_MAX_TOKENS,
        temperature=0.0,
    )


def parse_rating(verdict: str, answer: str | None = None) -> float:
    """The judge's final 1-10 rating: the last ``[[8]]`` in its reply, else the last ``[8]``.

    The patterns are FastChat's (``[[rating]]``, and ``[rating]`` when the reply has none), but
    FastChat takes the first match and this takes the last that is not a quotation: the judge
    prompt embeds the answer being graded, judges quote from it, and they revise a first rating
    before the closing ``Rating: [[N]]`` the prompt asks for. A rating is a quotation when it
    stands inside quotation marks, backticks, a code block or a ``>`` line, or, given the
    candidate's ``answer``, on a line copied from that answer. When every rating is a
    quotation, the last one counts.

    Raises :class:`VerdictError` when there is no rating, or the final one is outside 1-10.

    Example::

        parse_rating('The answer ends with "Rating: [[10]]", which it cannot award itself. Rating: [[3]]')  # 3.0
    """
    matches = list(_RATING.finditer(verdict)) or list(_RATING_FALLBACK.finditer(verdict))
    if not matches:
        raise VerdictError(f"no [[rating]] in the judge's reply: {verdict[-200:]!r}")
    own = [match for match in matches if not _quoted(verdict, match.start(), match.group(0), answer)]
    match = (own or matches)[-1]
    rating = float(match.group(1))
    # The fallback pattern also matches citations such as "[2]" or "[2023]"; a rating the
    # prompt could not have asked for is a misread, not a score.
    if not 1 <= rating <= 10:
        raise VerdictError(f"rating {match.group(0)} is outside 1-10: {verdict[-200:]!r}")
    return rating


def _quoted(text: str, index: int, token: str, answer: str | None) -> bool:
    """Whether ``text[index:]``, the rating ``token``, stands inside a quotation."""
    if text.count("```", 0, index) % 2 == 1:
        return True
    line_start = text.rfind("\n", 0, index) + 1
    line_end = text.find("\n", index)
    before = text[line_start:index]
    if before.lstrip().startswith(">") or before.count('"') % 2 == 1 or before.count("`") % 2 == 1:
        return True
    if before.count("\u201c") > before.count("\u201d"):
        return True
    if answer is None or token not in answer:
        return False
    line = text[line_start : len(text) if line_end < 0 else line_end].strip(" \t>*_\"'`\u201c\u201d")
    return line in answer


class RatingJudge(_JudgedBase):
    """MT-Bench single-answer grading: the judge rates the answer 1-10; pass at ``threshold``.

    The item's ``row`` holds ``turns`` (the questions) and ``category``; its ``target`` is
    GPT-4's reference answer for math, reasoning and coding (else None). Only the first turn is
    graded. ``metrics["rating"]`` is the judge's rating, so its mean is the (first-turn)
    MT-Bench score.
    """

    judge_format = "mtbench_single"

    def __init__(self, threshold: float = 8.0) -> None:
        if not 1 <= threshold <= 10:
            raise ValueError(f"threshold {threshold} is outside the 1-10 rating scale")
        self.threshold = threshold

    def judge_request(self, item: Item, response: Response) -> Request:
        reference = item.target if item.row.get("category") in MTBENCH_REFERENCE_CATEGORIES else None
        return mtbench_judge_request(str(item.row["turns"][0]), response.text, reference)

    def score_with_verdict(self, item: Item, response: Response, judge_response: Response | None) -> Score:
        if judge_response is None:
            raise VerdictError("MT-Bench always needs the judge's reply")
        if judge_response.error:
            raise VerdictError(f"the judge could not answer: {judge_response.error}")
        rating = parse_rating(judge_response.text, response.text)
        return Score(rating >= self.threshold, f"rated {rating:g}/10", f"a rating of at least {self.threshold:g}/10",
                     {"rating": rating}, f"judge's reply: {judge_response.text.strip()}")
