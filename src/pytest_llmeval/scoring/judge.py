"""Scoring by a judge model: AlpacaEval's pairwise preference and MT-Bench's 1-10 rating.

A judged item is scored in two stages, so that the engine can batch and cache both:

1. the candidate model answers the item's request (every turn of a multi-turn item, each with
   its own earlier answers in the conversation), as for any benchmark;
2. ``scorer.judge_requests(item, responses)`` fills the published judge prompts with the item
   and those answers (MT-Bench: one prompt per turn); the engine sends them to the judge
   backend (``--llm-judge``, cached like any request), then
   ``scorer.score_with_verdicts(item, responses, verdicts)`` parses the judge's verdicts into a
   :class:`~pytest_llmeval.scoring.base.Score`.

A judge request may be None: the verdict is known without asking (AlpacaEval scores an output
identical to the reference as a draw without calling the judge, and so does this); its verdict
is then None. A reply with no verdict in the asked-for format raises :class:`VerdictError`:
that is an errored item, not a wrong answer.

Example (what the engine does, in miniature)::

    asked = scorer.judge_requests(item, [response])
    verdicts = [None if r is None else next(judge.run([r], progress))[1] for r in asked]
    score = scorer.score_with_verdicts(item, [response], verdicts)
"""
from __future__ import annotations

import ast
import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

from ..request import Message, Request, Response
from ..shipped import shipped
from .base import Score

if TYPE_CHECKING:
    from ..benchmarks.base import Item


class VerdictError(ValueError):
    """The judge's reply holds no verdict in the format its prompt asked for."""


class JudgeRequired(RuntimeError):
    """A judged scorer was called like a plain scorer, without a judge's verdict."""


@runtime_checkable
class JudgedScorer(Protocol):
    """A scorer that needs a judge model's verdicts (see the module docstring for the flow).

    ``responses`` are the model's answers, one per turn of the item's conversation (one for a
    single-turn item); ``judge_requests`` returns what to ask the judge, one request per verdict
    needed (None where the verdict is known without asking), and ``score_with_verdicts`` gets the
    judge's replies in the same order (None for those not asked).
    """

    #: Names the judge prompt and verdict format ("alpaca_eval_gpt4", "mtbench_single").
    judge_format: str

    def judge_requests(self, item: Item, responses: Sequence[Response]) -> tuple[Request | None, ...]:
        """The judge prompts for this item's answers."""
        ...

    def score_with_verdicts(self, item: Item, responses: Sequence[Response],
                            verdicts: Sequence[Response | None]) -> Score:
        """The item's score from the judge's replies."""
        ...

    def __call__(self, item: Item, response: Response) -> Score: ...


def is_judged(scorer: object) -> TypeGuard[JudgedScorer]:
    """Whether ``scorer`` needs the judge's stage.

    The same test as ``isinstance(scorer, JudgedScorer)``, without the cost of a runtime
    protocol check: it runs for every item of every run.
    """
    return callable(getattr(scorer, "judge_requests", None)) and callable(getattr(scorer, "score_with_verdicts", None))


class _JudgedBase:
    """A judge that gives one verdict on the last answer; subclasses write ``judge_request`` and
    ``score_with_verdict``, the single-verdict forms."""

    judge_format = ""

    def __call__(self, item: Item, response: Response) -> Score:
        raise JudgeRequired(
            f"{item.benchmark.name} is scored by a judge model: call judge_requests() and "
            "score_with_verdicts() (the engine does this when --llm-judge is set)"
        )

    def judge_request(self, item: Item, response: Response) -> Request | None:
        raise NotImplementedError

    def score_with_verdict(self, item: Item, response: Response, judge_response: Response | None) -> Score:
        raise NotImplementedError

    def judge_requests(self, item: Item, responses: Sequence[Response]) -> tuple[Request | None, ...]:
        return (self.judge_request(item, responses[-1]),)

    def score_with_verdicts(self, item: Item, responses: Sequence[Response],
                            verdicts: Sequence[Response | None]) -> Score:
        return self.score_with_verdict(item, responses[-1], verdicts[0])


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
    """MT-Bench single-answer grading, turn by turn, as FastChat does: the judge rates each turn's
    answer 1-10 (turn 2 seen in the context of the whole conversation); the item's rating is the
    mean over its turns, and it passes at ``threshold``.

    The item's ``row`` holds ``turns`` (the questions), ``category`` and, for math, reasoning and
    coding, ``reference`` (GPT-4's reference answer per turn). ``metrics["rating"]`` is the
    item's mean rating (its mean over items is the MT-Bench score), ``rating_turn1`` and
    ``rating_turn2`` each turn's.
    """

    judge_format = "mtbench_single"

    def __init__(self, threshold: float = 8.0) -> None:
        if not 1 <= threshold <= 10:
            raise ValueError(f"threshold {threshold} is outside the 1-10 rating scale")
        self.threshold = threshold

    def judge_request(self, item: Item, response: Response) -> Request:
        """The first turn's judge prompt (a single-turn item's only one)."""
        return self.judge_requests(item, [response])[0]

    def judge_requests(self, item: Item, responses: Sequence[Response]) -> tuple[Request, ...]:
        questions = [str(q) for q in item.row["turns"]]
        references = mtbench_references(item)
        answers = [r.text for r in responses]
        requests = [mtbench_judge_request(questions[0], answers[0], references[0] if references else None)]
        if len(answers) > 1:
            requests.append(mtbench_second_turn_judge_request(questions[:2], answers[:2], references))
        return tuple(requests)

    def score_with_verdict(self, item: Item, response: Response, judge_response: Response | None) -> Score:
        return self.score_with_verdicts(item, [response], [judge_response])

    def score_with_verdicts(self, item: Item, responses: Sequence[Response],
                            verdicts: Sequence[Response | None]) -> Score:
        ratings = []
        for turn, (response, verdict) in enumerate(zip(responses, verdicts, strict=True), start=1):
            if verdict is None:
                raise VerdictError("MT-Bench always needs the judge's reply")
            if verdict.error:
                raise VerdictError(f"the judge could not answer turn {turn}: {verdict.error}")
            ratings.append(parse_rating(verdict.text, response.text))
        rating = sum(ratings) / len(ratings)
        shown = f"rated {rating:g}/10" + (f" (turns: {', '.join(f'{r:g}' for r in ratings)})" if len(ratings) > 1 else "")
        metrics = {"rating": rating}
        if len(ratings) > 1:
            metrics.update({f"rating_turn{i}": r for i, r in enumerate(ratings, start=1)})
        replies = "\n\n".join(f"judge's reply on turn {i}: {v.text.strip()}" for i, v in enumerate(verdicts, start=1)
                               if v is not None)
        return Score(rating >= self.threshold, shown, f"a rating of at least {self.threshold:g}/10", metrics, replies)


def mtbench_references(item: Item) -> list[str]:
    """GPT-4's reference answers for the item's turns (math, reasoning, coding), else []."""
    if item.row.get("category") not in MTBENCH_REFERENCE_CATEGORIES:
        return []
    return [str(r) for r in item.row.get("reference") or []]


def mtbench_second_turn_judge_request(questions: Sequence[str], answers: Sequence[str],
                                      references: Sequence[str]) -> Request:
    """The second turn's judge prompt: ``single-math-v1-multi-turn`` with reference answers,
    else ``single-v1-multi-turn``; the judge sees the whole conversation and rates the second
    answer (FastChat's ``judge_single`` with ``multi_turn=True``)."""
    name = "single-math-v1-multi-turn" if len(references) >= 2 else "single-v1-multi-turn"
    prompt = mtbench_judge_prompts()[name]
    values: dict[str, Any] = {"question_1": questions[0], "question_2": questions[1], "answer_1": answers[0],
                              "answer_2": answers[1]}
    if len(references) >= 2:
        values.update(ref_answer_1=references[0], ref_answer_2=references[1])
    user = prompt["prompt_template"].format(**values)
    return Request(
        messages=(Message("system", prompt["system_prompt"]), Message("user", user)),
        max_tokens=MTBENCH_JUDGE_MAX_TOKENS,
        temperature=0.0,
    )
