"""Evaluating one item on one model: the skip policy, the answer, and its score.

A test (or the baseline, scored outside any test) asks :meth:`Evaluator.evaluate`, which never
raises for the model's sake: an item that cannot run says why (``skipped``), one the backend
could not answer says why (``error``), and otherwise it carries the request, the response and
the score. Only a broken scorer raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from .benchmarks.base import Item
from .models import JUDGE, Models
from .options import RunOptions
from .request import Request, Response
from .scorecard import ItemOutcome
from .scoring.base import Score
from .scoring.judge import VerdictError, is_judged


@dataclass(frozen=True)
class Evaluation:
    """What became of one item on one model: exactly one of ``skipped``, ``error`` and
    ``score`` is set."""

    request: Request | None = None
    response: Response | None = None
    score: Score | None = None
    skipped: str | None = None
    error: str | None = None


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
        if is_judged(item.benchmark.scorer):
            judge = self.models.judge
            if judge is None:
                return f"needs a judge model: {self.models.judge_note}; set --llm-judge"
            spec = self.models.spec(model)
            if judge.scheme == "recorded" and (spec is None or spec.scheme != "recorded"):
                return (f"needs a live judge: the recorded {judge.target} verdicts cover only the recorded models' "
                        f"outputs ({self.models.judge_note}); set --llm-judge and an API key or --llm-base-url")
        return None

    def evaluate(self, model: str, item: Item) -> Evaluation:
        """Answer and score one item (from the cache when it was answered ahead of the tests)."""
        reason = self.why_skipped(model, item)
        if reason is not None:
            return Evaluation(skipped=reason)
        engine = self.models.engine
        request, response = engine.answer(model, item.requests)
        unusable = _unusable(request, response, response, model)
        if unusable is not None:
            return unusable
        scorer = item.benchmark.scorer
        if not is_judged(scorer):
            return Evaluation(request, response, item.score(response))
        judge_request = scorer.judge_request(item, response)
        if judge_request is None:
            return Evaluation(request, response, scorer.score_with_verdict(item, response, None))
        judge = self.models.judge
        assert judge is not None  # why_skipped said so
        verdict = engine.answer(JUDGE, [judge_request])[1]
        unusable = _unusable(request, response, verdict, f"judge {judge.name}")
        if unusable is not None:
            return unusable
        try:
            return Evaluation(request, response, scorer.score_with_verdict(item, response, verdict))
        except VerdictError as exc:
            return Evaluation(request, response, error=f"judge {judge.name} gave no usable verdict: {exc}")

    def judge_request(self, model: str, item: Item) -> Request | None:
        """The judge's request for a judged item whose answer is already known, else None."""
        scorer = item.benchmark.scorer
        if not is_judged(scorer):
            return None
        response = self.models.engine.answer(model, item.requests)[1]
        return scorer.judge_request(item, response) if response.ok else None

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
                           truncated=bool(result.response and result.response.truncated),
                           protocol=result.response.meta.get("protocol") if result.response else None)


def _unusable(request: Request, response: Response, reply: Response, who: str) -> Evaluation | None:
    """The skip or the error when ``reply`` (the answer, or the judge's verdict on it) cannot
    be scored, else None."""
    if reply.skip is not None:
        return Evaluation(request, response, skipped=reply.skip)
    if reply.error is not None:
        return Evaluation(request, response, error=f"{who}: {reply.error}")
    return None
