"""The general-purpose scorers, on items built the way a user's benchmark builds them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_llmeval.benchmarks.base import Benchmark, Item
from pytest_llmeval.request import Response
from pytest_llmeval.scoring import scorers
from pytest_llmeval.scoring.base import Scorer

NO_ANSWER = "no answer found in the response"
CAPITALS = ["London", "Paris", "Berlin", "Madrid"]


def make_item(scorer: Scorer, target: Any, **row: Any) -> Item:
    """One item of a one-row benchmark whose row holds ``target`` (and any other fields)."""
    benchmark = Benchmark(
        "tiny",
        capability="testing",
        data=[{"question": "?", "target": target, **row}],
        prompt="{question}",
        target="target",
        scorer=scorer,
    )
    (item,) = benchmark.items()
    return item


def score(scorer: Scorer, target: Any, text: str = "", **row: Any) -> Any:
    return make_item(scorer, target, **row).score(Response(text=text))


# -- exact, includes, pattern ------------------------------------------------------------------

EXACT = [
    # options                         target   response       passed
    ({}, "Paris", "Paris", True),
    ({}, "Paris", "  paris\n", True),
    ({}, "Paris", "Paris.", False),
    ({}, "Paris", "It is Paris", False),
    ({}, 18, "18", True),
    ({}, 18.0, "18", True),  # a float target that is whole shows as an integer
    ({"case_sensitive": True}, "Paris", "paris", False),
    ({"strip": False}, "Paris", "Paris\n", False),
]


@pytest.mark.parametrize(("options", "target", "response", "passed"), EXACT)
def test_exact(options: dict[str, Any], target: Any, response: str, passed: bool) -> None:
    result = score(scorers.exact(**options), target, response)
    assert result.passed is passed
    assert result.expected == str(target if target != 18.0 else 18)


INCLUDES = [
    # options                         target   response                            passed  answer
    ({}, "Paris", "The capital of France is Paris.", True, "Paris"),
    ({}, "Paris", "the capital is PARIS", True, "PARIS"),
    ({}, "Paris", "It is Lyon.", False, "It is Lyon."),
    ({"case_sensitive": True}, "Paris", "the capital is PARIS", False, "the capital is PARIS"),
]


@pytest.mark.parametrize(("options", "target", "response", "passed", "answer"), INCLUDES)
def test_includes(options: dict[str, Any], target: str, response: str, passed: bool, answer: str) -> None:
    result = score(scorers.includes(**options), target, response)
    assert (result.passed, result.answer) == (passed, answer)


def test_includes_refuses_an_empty_target() -> None:
    result = score(scorers.includes(), "", "anything at all")
    assert not result.passed
    assert result.explanation == "the item's target is empty"


PATTERN = [
    # regex, group                    target   response                       passed  answer
    ((r"ANSWER:\s*(\w+)", 1), "Paris", "Hmm. ANSWER: paris", True, "paris"),
    ((r"ANSWER:\s*(?P<city>\w+)", "city"), "Paris", "ANSWER: Lyon", False, "Lyon"),
    ((r"\d+", 0), 18, "9 * 2 = 18", False, "9"),  # the first match counts
    ((r"= (\d+)$", 1), 18, "9 * 2 = 18", True, "18"),
    ((r"ANSWER:\s*(\w+)", 1), "Paris", "I think Paris.", False, None),
]


@pytest.mark.parametrize(("args", "target", "response", "passed", "answer"), PATTERN)
def test_pattern(args: tuple[str, int | str], target: Any, response: str, passed: bool, answer: str | None) -> None:
    result = score(scorers.pattern(*args), target, response)
    assert (result.passed, result.answer) == (passed, answer)


@pytest.mark.parametrize(
    ("regex", "group", "message"),
    [
        ("(unclosed", 0, "not a valid regular expression"),
        (r"(\d+)", 2, "has 1 group(s), so group=2 does not exist"),
        (r"(\d+)", "name", "has no group named 'name'"),
    ],
)
def test_pattern_checks_its_regex_when_made(regex: str, group: int | str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        scorers.pattern(regex, group)


@pytest.mark.parametrize(
    ("scorer", "target"),
    [
        (scorers.exact(), "Paris"),
        (scorers.includes(), "Paris"),
        (scorers.pattern(r"(\d+)", 1), "18"),
        (scorers.number(), "18"),
        (scorers.choice(), "B"),
    ],
    ids=["exact", "includes", "pattern", "number", "choice"],
)
@pytest.mark.parametrize("text", ["", "  \n"], ids=["empty", "blank"])
def test_no_answer_fails_and_says_so(scorer: Scorer, target: str, text: str) -> None:
    result = score(scorer, target, text, choices=CAPITALS)
    assert (result.passed, result.answer, result.explanation) == (False, None, NO_ANSWER)
    assert result.expected == target


# -- number ------------------------------------------------------------------------------------

GSM8K_SOLUTION = "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day.\n#### 18"

NUMBER = [
    # response                                           strict  flexible  answer
    ("She makes 9 * 2 = 18 dollars.\n#### 18", 1.0, 1.0, "18"),
    ("The answer is **18**.", 0.0, 1.0, "18"),
    ("Answer: $18.00", 0.0, 1.0, "18"),
    ("\\boxed{18}", 0.0, 1.0, "18"),
    ("18 dollars", 0.0, 1.0, "18"),
    ("The answer is 18. Check: 18 * 2 = 36", 0.0, 1.0, "18"),
    ("#### 36", 0.0, 0.0, "36"),
    ("The answer is 20.", 0.0, 0.0, "20"),
]


@pytest.mark.parametrize(("response", "strict", "flexible", "answer"), NUMBER)
def test_number(response: str, strict: float, flexible: float, answer: str) -> None:
    result = score(scorers.number(), "18", response)
    assert result.metrics == {"strict": strict, "flexible": flexible}
    assert result.passed is bool(flexible)
    assert result.answer == answer
    assert result.expected == "18"


@pytest.mark.parametrize("target", [18, 18.0, "18", "$18.00", GSM8K_SOLUTION], ids=repr)
def test_number_reads_every_form_of_target(target: Any) -> None:
    assert score(scorers.number(), target, "The answer is 18.").passed


def test_number_explains_both_extractions() -> None:
    result = score(scorers.number(), "18", "The answer is 20.")
    assert result.explanation == "flexible extraction 20 is not 18; strict extraction (after '#### '): none"


def test_number_counts_no_answer_as_zero_on_both_metrics() -> None:
    result = score(scorers.number(), "18", "I cannot tell.")
    assert result.metrics == {"strict": 0.0, "flexible": 0.0}
    assert result.explanation == NO_ANSWER


def test_number_refuses_a_target_that_is_not_a_number() -> None:
    with pytest.raises(ValueError, match=r"the target of item 'eighteen-[0-9a-f]{10}' is not a number: 'eighteen'"):
        score(scorers.number(), "eighteen", "18")


# -- choice ------------------------------------------------------------------------------------

CHOICE_GENERATED = [
    # response                               answer  passed
    ("B", "B", True),
    ("(B) Paris", "B", True),
    ("The correct answer is (B).", "B", True),
    ("Paris", "B", True),  # the option's text alone
    ("A. Because London is larger.", "A", False),
    ("A good question: the answer is C", "C", False),
    ("Either London or Paris.", None, False),
]


@pytest.mark.parametrize(("response", "answer", "passed"), CHOICE_GENERATED)
def test_choice_from_generated_text(response: str, answer: str | None, passed: bool) -> None:
    result = score(scorers.choice(), "B", response, choices=CAPITALS)
    assert (result.answer, result.passed) == (answer, passed)
    assert result.metrics == {"generation": float(passed)}


def test_choice_from_loglikelihoods() -> None:
    item = make_item(scorers.choice(), "B", choices=CAPITALS)
    right = item.score(Response(choice_logprobs=[-3.0, -0.5, -2.0, -4.0]))
    wrong = item.score(Response(choice_logprobs=[-3.0, -2.5, -2.0, -4.0]))
    assert (right.passed, right.answer, right.metrics) == (True, "B", {"loglikelihood": 1.0})
    assert (wrong.passed, wrong.answer, wrong.metrics) == (False, "C", {"loglikelihood": 0.0})
    assert wrong.explanation == ("chose C 'Berlin' log-probability -2.000; the answer is B 'Paris' log-probability -2.500")


def test_choice_logprobs_win_over_text() -> None:
    item = make_item(scorers.choice(), "B", choices=CAPITALS)
    result = item.score(Response(text="A", choice_logprobs=[-3.0, -0.5, -2.0, -4.0]))
    assert result.answer == "B"


def test_choice_accepts_a_lower_case_target_letter() -> None:
    assert score(scorers.choice(), "b", "(B) Paris", choices=CAPITALS).passed


def test_choice_valid_letters_follow_the_number_of_options() -> None:
    five = [*CAPITALS, "Rome"]
    assert score(scorers.choice(), "E", "The answer is E.", choices=five).passed
    assert score(scorers.choice(), "B", "The answer is E.", choices=CAPITALS).answer is None


@pytest.mark.parametrize("target", [1, "E", "Paris"], ids=repr)
def test_choice_refuses_a_target_that_is_not_an_option_letter(target: Any) -> None:
    with pytest.raises(ValueError, match="must be one of the letters A-D for its 4 options"):
        score(scorers.choice(), target, "B", choices=CAPITALS)


def test_every_factory_has_a_docstring_with_an_example() -> None:
    for factory in (scorers.exact, scorers.includes, scorers.pattern, scorers.number, scorers.choice):
        assert "Example::" in (factory.__doc__ or "")
