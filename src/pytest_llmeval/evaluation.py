"""Evaluating one item on one model: the skip policy, the answer, and its score.

A test (or the baseline, scored outside any test) asks :meth:`Evaluator.evaluate`, which never
raises for the model's sake: an item that cannot run says why (``skipped``), one the backend
could not answer says why (``error``), and otherwise it carries the request, the response and
the score. Only a broken scorer raises.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .backends.recorded import judge_formats
from .backends.recorded_sets import covered_benchmarks
from .benchmarks.base import Item
from .models import JUDGE, Models
from .options import RunOptions
from .request import Request, Response
from .scorecard import ItemOutcome
from .scoring.base import Score
from .scoring.judge import VerdictError, is_judged
from .scoring.normalize import normalize
from .stats import pass_at_k


@dataclass(frozen=True)
class Evaluation:
    """What became of one item on one model: exactly one of ``skipped``, ``error`` and
    ``score`` is set. With repeats, ``samples`` holds each sample's pass/fail and ``request``,
    ``response`` the sample the failure text shows (the first that disagrees with the outcome,
    else the first)."""

    request: Request | None = None
    response: Response | None = None
    score: Score | None = None
    skipped: str | None = None
    error: str | None = None
    samples: tuple[bool, ...] = ()
    #: Each sample's extracted answer, with repeats.
    sample_answers: tuple[str | None, ...] = ()


#: How K samples make one outcome (``--llm-reducer``).
REDUCERS: dict[str, Callable[[Sequence[bool]], bool]] = {
    "majority": lambda passed: sum(passed) * 2 > len(passed),
    "all": all,
    "any": any,
}


def repeat_metrics(scores: Sequence[Score]) -> dict[str, float]:
    """Per-item figures of K samples: the share passed (``pass@1``, the unbiased estimator with
    k = 1), ``pass@K`` (Chen et al. 2021's unbiased estimator; here at least one of the K passed)
    and ``maj@K``: whether the most frequent extracted answer (self-consistency, Wang et al. 2022,
    arXiv 2203.11171) is right, ties going to the answer seen first."""
    k = len(scores)
    correct = sum(s.passed for s in scores)
    votes = Counter(s.answer for s in scores)
    top = max(votes.values())
    winner = next(s for s in scores if votes[s.answer] == top)
    return {"pass@1": pass_at_k(k, correct, 1), f"pass@{k}": pass_at_k(k, correct, k),
            f"maj@{k}": 1.0 if winner.passed else 0.0}


def combine(results: Sequence[Evaluation], reducer: str) -> Evaluation:
    """One item's evaluation from its samples' (skipped or errored when any sample was)."""
    if len(results) == 1:
        return results[0]
    unusable = next((r for r in results if r.score is None), None)
    if unusable is not None:
        return unusable
    scores = [r.score for r in results if r.score is not None]
    flags = tuple(score.passed for score in scores)
    passed = REDUCERS[reducer](flags)
    shown = next((r for r in results if r.score is not None and r.score.passed != passed), results[0])
    assert shown.score is not None
    why = f"{sum(flags)} of {len(flags)} samples passed ({reducer} decides)"
    if shown.score.explanation:
        why += f"; the sample shown: {shown.score.explanation}"
    score = Score(passed=passed, answer=shown.score.answer, expected=shown.score.expected,
                  metrics={**shown.score.metrics, **repeat_metrics(scores)}, explanation=why)
    return Evaluation(shown.request, shown.response, score, samples=flags,
                      sample_answers=tuple(s.answer for s in scores))


class Evaluator:
    """Answers and scores items for the run's models."""

    def __init__(self, models: Models, options: RunOptions) -> None:
        self.models = models
        self.options = options

    def why_skipped(self, model: str, item: Item) -> str | None:
        """Why an item cannot run on this model, known before asking it anything (or None).

        Checked before inference too, so no time is spent generating answers nobody can score.
        """
        if item.benchmark.executes_code and not self.options.allow_code_execution:
            return "runs model-written code: allow it with --llm-allow-code-execution (sandboxed subprocess)"
        spec = self.models.spec(model)
        if spec is not None and spec.scheme == "recorded":
            covered = covered_benchmarks(spec.target)
            if covered is not None and item.benchmark.name not in covered:
                return f"recorded:{spec.target} has no recordings of {item.benchmark.name} (it has {', '.join(sorted(covered))})"
        if is_judged(item.benchmark.scorer):
            judge = self.models.judge
            if judge is None:
                return f"needs a judge model: {self.models.judge_note}; set --llm-judge"
            if judge.scheme == "recorded":
                formats = judge_formats(judge.target)
                if formats is not None and item.benchmark.scorer.judge_format not in formats:
                    return (f"needs a live judge: the recorded {judge.target} verdicts are not {item.benchmark.name}'s "
                            f"({self.models.judge_note}); set --llm-judge with an API key or --llm-judge-base-url")
                if spec is None or spec.scheme != "recorded":
                    return (f"needs a live judge: the recorded {judge.target} verdicts cover only the recorded models' "
                            f"outputs ({self.models.judge_note}); set --llm-judge with an API key or "
                            "--llm-judge-base-url")
        return None

    def evaluate(self, model: str, item: Item) -> Evaluation:
        """Answer and score one item, each of its samples with repeats (from the cache when it
        was answered ahead of the tests)."""
        reason = self.why_skipped(model, item)
        if reason is not None:
            return Evaluation(skipped=reason)
        results = [self.evaluate_sample(model, item, index) for index in range(self.options.repeats)]
        return combine(results, self.options.reducer)

    def answer(self, model: str, item: Item, index: int = 0) -> tuple[Request, Response]:
        """The request asked for one sample of an item and its response, normalised: ``text`` is
        the final answer, the reasoning trace apart (every scorer and judge reads this)."""
        return self._normalised(self.models.engine.answer(model, item.sample(index)))

    def _normalised(self, answered: tuple[Request, Response]) -> tuple[Request, Response]:
        request, response = answered
        return request, normalize(response, self.options.reasoning_tags) if response.ok else response

    def conversation(self, model: str, item: Item, index: int = 0,
                     upto: int | None = None) -> tuple[list[tuple[Request, Response]], Request | None]:
        """Each turn of one sample's conversation, answered, as far as the answers go (a turn that
        failed ends it); and the request of the next turn when ``upto`` (a turn number, 0-based)
        stops the walk before answering it. Later turns carry the model's own earlier answers
        (their final answers, without a reasoning trace)."""
        turns = [self.answer(model, item, index)]
        for number, question in enumerate(item.followups, start=1):
            request, response = turns[-1]
            if not response.ok or not request.messages:
                break
            following = request.continued(response.text, question)
            if number == upto:
                return turns, following
            turns.append(self._normalised(self.models.engine.answer(model, [following])))
        return turns, None

    def evaluate_sample(self, model: str, item: Item, index: int) -> Evaluation:
        """Answer and score one sample of an item (every turn of a multi-turn item)."""
        turns, _ = self.conversation(model, item, index)
        request, response = turns[-1]
        for _, answered in turns:
            unusable = _unusable(request, response, answered, model)
            if unusable is not None:
                return unusable
        if len(turns) <= len(item.followups):
            return Evaluation(request, response, error=f"{model}: the conversation ended before its last turn")
        scorer = item.benchmark.scorer
        if not is_judged(scorer):
            return Evaluation(request, response, item.score(response))
        responses = [answered for _, answered in turns]
        asked = scorer.judge_requests(item, responses)
        judge = self.models.judge
        verdicts: list[Response | None] = []
        for judge_request in asked:
            if judge_request is None:
                verdicts.append(None)
                continue
            assert judge is not None  # why_skipped said so
            verdict = self.models.engine.answer(JUDGE, [judge_request])[1]
            unusable = _unusable(request, response, verdict, f"judge {judge.name}")
            if unusable is not None:
                return unusable
            verdicts.append(verdict)
        try:
            return Evaluation(request, response, scorer.score_with_verdicts(item, responses, verdicts))
        except VerdictError as exc:
            name = judge.name if judge is not None else "judge"
            return Evaluation(request, response, error=f"judge {name} gave no usable verdict: {exc}")

    def next_turns(self, model: str, item: Item, turn: int) -> list[Request]:
        """The requests of turn ``turn`` (1 is the second) of the item's samples whose earlier
        turns are answered: what to answer ahead of the tests, stage by stage."""
        return [following for index in range(self.options.repeats)
                if (following := self.conversation(model, item, index, upto=turn)[1]) is not None]

    def judge_requests(self, model: str, item: Item) -> list[Request]:
        """The judge's requests for a judged item's samples whose answers are already known."""
        scorer = item.benchmark.scorer
        if not is_judged(scorer):
            return []
        found = []
        for index in range(self.options.repeats):
            turns, _ = self.conversation(model, item, index)
            if len(turns) > len(item.followups) and all(r.ok for _, r in turns):
                found += [r for r in scorer.judge_requests(item, [r for _, r in turns]) if r is not None]
        return found

    def outcome(self, model: str, item: Item) -> ItemOutcome:
        """The item's outcome outside any test (the baseline's column)."""
        try:
            result = self.evaluate(model, item)
        except Exception as exc:  # a scorer that breaks on the baseline's reply must not sink the run
            result = Evaluation(error=f"scoring failed: {type(exc).__name__}: {exc}")
        score = result.score
        if result.skipped is not None:
            outcome = "skipped"
        elif result.error is not None:
            outcome = "error"
        else:
            assert score is not None
            outcome = "passed" if score.passed else "failed"
        return ItemOutcome(model=model, capability=item.capability, benchmark=item.benchmark.name, item=item.id,
                           outcome=outcome, subset=item.subset,  # type: ignore[arg-type]
                           answer=score.answer if score else None, expected=score.expected if score else None,
                           metrics=dict(score.metrics) if score else {},
                           samples=tuple(int(p) for p in result.samples),
                           truncated=bool(result.response and result.response.truncated),
                           protocol=item.protocol_of(result.response))


def _unusable(request: Request, response: Response, reply: Response, who: str) -> Evaluation | None:
    """The skip or the error when ``reply`` (the answer, or the judge's verdict on it) cannot
    be scored, else None."""
    if reply.skip is not None:
        return Evaluation(request, response, skipped=reply.skip)
    if reply.error is not None:
        return Evaluation(request, response, error=f"{who}: {reply.error}")
    return None
