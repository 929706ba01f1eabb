"""The general-purpose scorers a benchmark names in ``scorer=``.

Each function here is a factory: called with its options, it returns a :class:`Scorer`, a
pure function from an item and a response to a :class:`Score`. A response in which no answer
can be found fails with the explanation "no answer found in the response", so a failure
report tells a missing answer from a wrong one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import Score, Scorer, as_text
from .extract import choice_letter, flexible_number, normalize_number, numbers_equal, strict_number

if TYPE_CHECKING:
    from ..benchmarks.base import Item
    from ..request import Response

__all__ = ["choice", "exact", "includes", "number", "pattern"]

NO_ANSWER = "no answer found in the response"


def _no_answer(expected: str, metrics: dict[str, float] | None = None) -> Score:
    return Score(passed=False, answer=None, expected=expected, metrics=metrics or {}, explanation=NO_ANSWER)


def exact(case_sensitive: bool = False, strip: bool = True) -> Scorer:
    """Pass when the whole response equals the target.

    Case is ignored unless ``case_sensitive``; surrounding whitespace is ignored when ``strip``.

    Example::

        Benchmark("capitals", ..., target="capital", scorer=scorers.exact())
        # target "Paris": "paris\\n" passes, "Paris." and "It is Paris" fail
    """

    def score(item: Item, response: Response) -> Score:
        expected = as_text(item.target)
        answer = response.text.strip() if strip else response.text
        if not answer:
            return _no_answer(expected)
        target = expected.strip() if strip else expected
        passed = _same(answer, target, case_sensitive)
        return Score(passed, answer, expected, explanation="" if passed else f"{answer!r} is not {target!r}")

    return score


def includes(case_sensitive: bool = False) -> Scorer:
    """Pass when the target appears anywhere in the response.

    Case is ignored unless ``case_sensitive``. The answer shown is the target as the response
    wrote it when found, and the whole (stripped) response when not.

    Example::

        Benchmark("capitals", ..., target="capital", scorer=scorers.includes())
        # target "Paris": "The capital of France is Paris." passes
    """

    def score(item: Item, response: Response) -> Score:
        expected = as_text(item.target)
        said = response.text.strip()
        if not said:
            return _no_answer(expected)
        if not expected:
            # Every text contains the empty string: a pass here would hide a data mistake.
            return Score(False, said, expected, explanation="the item's target is empty")
        flags = 0 if case_sensitive else re.IGNORECASE
        found = re.search(re.escape(expected), said, flags)
        if found is None:
            return Score(False, said, expected, explanation=f"{expected!r} not found in the response")
        return Score(True, found.group(0), expected)

    return score


def pattern(regex: str, group: int | str = 0, *, case_sensitive: bool = False) -> Scorer:
    """Extract the answer with a regular expression; pass when it equals the target.

    The first match counts; ``group`` picks the part of it that is the answer (a number or a
    name). The comparison ignores surrounding whitespace, and case unless ``case_sensitive``.

    Example::

        scorers.pattern(r"ANSWER:\\s*(\\w+)", group=1)
        # target "Paris": "I believe... ANSWER: Paris" passes
    """
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"pattern(): {regex!r} is not a valid regular expression: {exc}") from None
    if isinstance(group, int) and not 0 <= group <= compiled.groups:
        raise ValueError(f"pattern(): {regex!r} has {compiled.groups} group(s), so group={group} does not exist")
    if isinstance(group, str) and group not in compiled.groupindex:
        raise ValueError(f"pattern(): {regex!r} has no group named {group!r}")

    def score(item: Item, response: Response) -> Score:
        expected = as_text(item.target)
        match = compiled.search(response.text)
        found = None if match is None else match.group(group)
        answer = None if found is None else found.strip()
        if not answer:
            return _no_answer(expected)
        passed = _same(answer, expected.strip(), case_sensitive)
        return Score(passed, answer, expected, explanation="" if passed else f"{answer!r} is not {expected.strip()!r}")

    return score


def number() -> Scorer:
    """GSM8K-style numeric answers, scored with strict and flexible extraction.

    The target is a number (``18``, ``"18"``, ``"$1,000"``) or a GSM8K reference solution ending
    in ``#### 18``. ``metrics`` holds both extractions: ``strict`` (the number after ``#### ``,
    the benchmark's own format) and ``flexible`` (the answer as an instruct model states it,
    see :func:`~pytest_llmeval.scoring.extract.flexible_number`). The item passes on the
    flexible match; numbers compare by value ("$18.00" equals 18).

    Example::

        Benchmark("gsm8k", ..., target="answer", scorer=scorers.number())
        # target "... #### 18": "The answer is **18**." passes (strict 0, flexible 1)
    """

    def score(item: Item, response: Response) -> Score:
        expected = as_text(item.target)
        target = normalize_number(expected)
        if target is None:
            target = strict_number(expected)
        if target is None:
            raise ValueError(f"number(): the target of item {item.id!r} is not a number: {expected!r}")
        strict = strict_number(response.text)
        flexible = flexible_number(response.text)
        metrics = {
            "strict": float(numbers_equal(strict, target)),
            "flexible": float(numbers_equal(flexible, target)),
        }
        if flexible is None:
            return _no_answer(expected, metrics)
        passed = bool(metrics["flexible"])
        strict_said = "none" if strict is None else strict
        explanation = (
            f"flexible extraction {flexible} {'equals' if passed else 'is not'} {target}; "
            f"strict extraction (after '#### '): {strict_said}"
        )
        return Score(passed, flexible, expected, metrics, explanation)

    return score


def choice() -> Scorer:
    """Multiple choice: pass when the chosen letter is the target letter.

    The target is the correct letter ("A", "B", ...); the option texts are the row's
    ``choices`` list. A response with ``choice_logprobs`` (log-likelihood scoring) chooses the
    most likely option (metric ``loglikelihood``); a generated response is read with
    :func:`~pytest_llmeval.scoring.extract.choice_letter`, which understands "(B) Paris",
    "The answer is B" and the option's text alone (metric ``generation``).

    Example::

        Benchmark("mmlu", ..., target="answer", scorer=scorers.choice())
        # row {"choices": ["London", "Paris", "Rome", "Oslo"], "answer": "B"}:
        # "The answer is (B)." passes, and so does "Paris"
    """

    def score(item: Item, response: Response) -> Score:
        expected = as_text(item.target)
        options = _options(item)
        n = len(options) if options is not None else _loglikelihood_choices(item)
        target = expected.strip().upper()
        if len(target) != 1 or target not in string.ascii_uppercase[:n]:
            raise ValueError(
                f"choice(): the target of item {item.id!r} must be one of the letters "
                f"{string.ascii_uppercase[0]}-{string.ascii_uppercase[n - 1]} for its {n} options, "
                f"got {expected!r} (map an index with target=lambda row: 'ABCD'[row['answer']])"
            )
        if response.choice_logprobs is not None:
            method, answer = "loglikelihood", _most_likely(response.choice_logprobs)
        else:
            method, answer = "generation", choice_letter(response.text, n, options)
        passed = answer == target
        metrics = {method: float(passed)}
        if answer is None:
            return _no_answer(expected, metrics)
        return Score(passed, answer, expected, metrics, _choice_explanation(answer, target, options, response))

    return score


def _same(answer: str, target: str, case_sensitive: bool) -> bool:
    return answer == target if case_sensitive else answer.casefold() == target.casefold()


def _options(item: Item) -> list[str] | None:
    options = item.row.get("choices")
    if isinstance(options, Sequence) and not isinstance(options, str) and options:
        return [as_text(option) for option in options]
    return None


def _loglikelihood_choices(item: Item) -> int:
    """How many options the item has when its row lists no ``choices``: as many as it asks."""
    for request in item.requests:
        if request.kind == "loglikelihood":
            return len(request.choices)
    return 4


def _most_likely(logprobs: list[float]) -> str | None:
    if not logprobs or len(logprobs) > 26:
        return None
    best = max(range(len(logprobs)), key=logprobs.__getitem__)  # ties go to the first option
    return string.ascii_uppercase[best]


def _choice_explanation(answer: str, target: str, options: list[str] | None, response: Response) -> str:
    def show(letter: str) -> str:
        index = string.ascii_uppercase.index(letter)
        parts = [letter]
        if options is not None and index < len(options):
            parts.append(repr(options[index]))
        if response.choice_logprobs is not None and index < len(response.choice_logprobs):
            parts.append(f"log-probability {response.choice_logprobs[index]:.3f}")
        return " ".join(parts)

    if answer == target:
        return f"chose {show(answer)}"
    return f"chose {show(answer)}; the answer is {show(target)}"
