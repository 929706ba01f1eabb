"""The answer extractors, against the phrasings instruct models really use.

The tables below are the reference for what each extractor understands: one row a phrasing,
with what it must give. ``None`` means "no answer found", which a scorer reports as such.
"""

from __future__ import annotations

import string
import time
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_llmeval.scoring.extract import (
    choice_letter,
    flexible_number,
    normalize_number,
    numbers_equal,
    strict_number,
)

# -- numbers -----------------------------------------------------------------------------------

NORMALIZE = [
    # written                 canonical
    ("18", "18"),
    ("18.00", "18"),
    ("18.", "18"),
    ("$1,234.50", "1234.5"),
    ("1,000,000", "1000000"),
    ("-3", "-3"),
    ("\u22127", "-7"),  # the typographic minus sign
    ("-$5", "-5"),
    ("$-5", "-5"),
    ("€ 12", "12"),
    ("50%", "50"),
    (".5", "0.5"),
    ("007", "7"),
    ("-0", "0"),
    ("**18**.", "18"),
    ("2/4", "1/2"),
    ("-1/2", "-1/2"),
    ("6/3", "2"),
    ("eighteen", None),
    ("18 dollars", None),  # a sentence, not a number: flexible_number reads those
    ("1,23", None),  # not a thousands separator
    ("1/0", None),
    ("1e3", None),
    ("", None),
    ("$", None),
]


@pytest.mark.parametrize(("written", "canonical"), NORMALIZE)
def test_normalize_number(written: str, canonical: str | None) -> None:
    assert normalize_number(written) == canonical


EQUAL = [
    # a         b          equal
    ("18", "18.00", True),
    ("$18", "18", True),
    ("1/2", "0.5", True),
    ("1,000", "1000.0000001", True),  # within 1e-6
    ("1000000", "1000001", False),  # the tolerance is absolute: big numbers stay exact
    ("0.3333333", "1/3", True),
    ("0.33", "1/3", False),
    ("-3", "3", False),
    ("18", None, False),
    (None, None, False),
    ("eighteen", "eighteen", False),
]


@pytest.mark.parametrize(("a", "b", "equal"), EQUAL)
def test_numbers_equal(a: str | None, b: str | None, equal: bool) -> None:
    assert numbers_equal(a, b) is equal
    assert numbers_equal(b, a) is equal


STRICT = [
    # response                                          strict
    ("9 * 2 = 18\n#### 18", "18"),
    ("#### 1,234", "1234"),
    ("#### -3", "-3"),
    ("#### 18\n\nQuestion: ...\n#### 5", "18"),  # the first marker: later ones are invented
    ("The answer is 18.", None),
    ("#### $18", None),  # the reference format has no currency sign
    ("####", None),
]


@pytest.mark.parametrize(("response", "strict"), STRICT)
def test_strict_number(response: str, strict: str | None) -> None:
    assert strict_number(response) == strict


FLEXIBLE = [
    # response                                                        flexible
    ("18", "18"),
    ("The answer is **18**.", "18"),
    ("The answer is 18.", "18"),
    ("The answer is: 18", "18"),
    ("Answer: $18.00", "18"),
    ("**Answer:** 18", "18"),
    ("So the final answer is 18 dollars.", "18"),
    ("The answer to this question is 18.", "18"),
    ("$18.00", "18"),
    ("18 dollars", "18"),
    ("She sells 9 eggs, so she makes 9 * 2 = 18 dollars", "18"),
    ("9 * $2 = $18 every day.", "18"),
    ("\\boxed{18}", "18"),
    ("The final answer is $\\boxed{18}$.", "18"),
    ("\\boxed{18 \\text{ dollars}}", "18"),
    ("\\boxed{\\$1{,}234}", "1234"),
    ("\\boxed{\\frac{1}{2}}", "1/2"),
    ("#### 18", "18"),
    ("#### $18", "18"),
    ("It costs $1,234.50 in total.", "1234.5"),
    ("The answer is -3.", "-3"),
    ("The temperature falls to \u22123 degrees.", "-3"),
    ("That is 50% of the class.", "50"),
    # An explicit answer beats the last number ...
    ("The answer is 18. Check: 18 * 2 = 36", "18"),
    ("#### 18\nThat is 18 * 2 = 36 for two days.", "18"),
    # ... and the last explicit answer beats an earlier one (the model corrected itself).
    ("The answer is 20. Wait, 9 * 2 is 18. The answer is 18.", "18"),
    ("Final Answer: The final answer is 18. I hope it is correct.", "18"),
    # Without a marker: the last sentence with a number, its last equation's result first.
    ("Thus there are 9 + 6 = 15 liters of water out of the 24 liters.", "15"),
    ("She makes 9 * 2 = 18 dollars. After paying 3, she keeps 15.", "15"),
    ("The cheaper lumber gives 1600 sticks, and 1600 >= 1200", "1200"),  # not an equation
    # A marker with no number right after it is no answer; the last number is.
    ("The answer is below.\n\nStep 1: 16 - 3 - 4 = 9\nStep 2: 9 * 2 = 18", "18"),
    ("5 - 3 = 2", "2"),  # a subtraction, not a negative three
    # LaTeX anywhere in the reply, not only in \boxed{}.
    ("So the total is $9{,}500$.", "9500"),
    ("That comes to \\(12{,}000\\) dollars.", "12000"),
    ("She pays $1\\,250$ in rent.", "1250"),
    ("$$\\frac{3}{4}$$ of the cake", "3/4"),
    ("The answer is $45\\%$.", "45"),
    ("I don't know.", None),
    ("H2O", None),  # digits inside a word are not a number
    ("", None),
]


@pytest.mark.parametrize(("response", "flexible"), FLEXIBLE)
def test_flexible_number(response: str, flexible: str | None) -> None:
    assert flexible_number(response) == flexible


# -- multiple choice ---------------------------------------------------------------------------

CHOICES = ["London", "Paris", "Berlin", "Madrid"]

CHOICE = [
    # response                                               letter
    ("B", "B"),
    ("b", "B"),  # a lone letter may be lower case
    ("B.", "B"),
    ("(B)", "B"),
    ("**B**", "B"),
    ("(B) Paris", "B"),
    ("B) Paris", "B"),
    ("**B.** Paris is the capital.", "B"),
    ("A. Because London is the capital of England.", "A"),
    ("Answer: C", "C"),
    ("Answer: (C)", "C"),
    ("**Answer:** C", "C"),
    ("The answer is B", "B"),
    ("The answer is **B**.", "B"),
    ("The correct answer is (D).", "D"),
    ("The answer is option B.", "B"),
    ("I think the correct option is D because Madrid is in Spain.", "D"),
    ("I choose B.", "B"),
    ("I'd go with option C.", "C"),
    ("The answer is $\\boxed{C}$", "C"),
    ("Let me think about each option.\n\nB", "B"),
    ("So (C) it is.", "C"),
    # Words that look like letters are words.
    ("A good question. Paris is lovely, but the answer is C", "C"),
    ("I think the answer is B.", "B"),
    ("A.I. is a field of study.", None),
    ("I am not sure.", None),
    # An echo of the prompt's option list is not a choice of its first option ...
    ("A. London\nB. Paris\nC. Berlin\nD. Madrid", None),
    # ... but an answer stated after it is.
    ("A. London\nB. Paris\nC. Berlin\nD. Madrid\n\nAnswer: B", "B"),
    # No answer, an answer out of range, or more than one candidate.
    ("The answer is not B.", None),
    ("E", None),
    ("The answer is E.", None),
    ("Either (A) or (C).", None),
    ("", None),
    # A statement that names several options states no answer ...
    ("The answer is A, B, C, or D", None),
    ("The answer is either A or B.", None),
    ("The answer is A/B.", None),
    ("The answer is (A) or (C).", None),
    ("The answer is **A** or **B**.", None),
    ("The answer is A (or B).", None),
    ("Answer: B and D", None),
    ("The answer is both A and C.", None),
    ("The correct option is B or D, depending on the reading.", None),
    ("I'd go with A or C.", None),
    ("The answer is $\\boxed{A}$ or $\\boxed{B}$.", None),
    ("A, B, C or D", None),
    ("(A) or (B)", None),
    # ... but what follows a finished statement is not part of it.
    ("The answer is (B). A is wrong because London is in England.", "B"),
    ("The answer is B, A is wrong because London is in England.", "B"),
    ("The answer is B and A is wrong.", "B"),
    ("The answer is B, since A is wrong.", "B"),
    ("The answer is B.\nA is wrong.", "B"),
    ("The answer is B or B.", "B"),  # the same option twice is one option
    ("The answer is either A or B. Checking again, the answer is B.", "B"),  # the last statement counts
    ("Is it $\\boxed{A}$ or B? Final answer: $\\boxed{B}$", "B"),
    ("A, because London is the capital.", "A"),
]


@pytest.mark.parametrize(("response", "letter"), CHOICE)
def test_choice_letter(response: str, letter: str | None) -> None:
    assert choice_letter(response) == letter


CHOICE_BY_TEXT = [
    # response (options: London, Paris, Berlin, Madrid)      letter
    ("Paris", "B"),
    ("paris.", "B"),
    ("The capital of France is Paris.", "B"),
    ("**Madrid**", "D"),
    ("(B) London", "B"),  # a stated letter beats an option's text
    ("London or Paris?", None),  # two options named: no answer
    ("Rome", None),
]


@pytest.mark.parametrize(("response", "letter"), CHOICE_BY_TEXT)
def test_choice_letter_by_option_text(response: str, letter: str | None) -> None:
    assert choice_letter(response, choices=CHOICES) == letter


def test_option_inside_a_longer_option_is_not_named() -> None:
    options = ["Paris", "Paris, Texas", "Austin", "Dallas"]
    assert choice_letter("It is Paris, Texas.", choices=options) == "B"
    assert choice_letter("Paris", choices=options) == "A"


def test_letters_beyond_the_options_are_invalid() -> None:
    assert choice_letter("The answer is E.", n_choices=5) == "E"
    assert choice_letter("The answer is E.", n_choices=4) is None
    assert choice_letter("C", choices=["yes", "no"]) is None  # two options: A and B


def test_letter_count_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="1 to 26 options"):
        choice_letter("A", n_choices=0)


# -- properties --------------------------------------------------------------------------------

n_choices = st.integers(min_value=1, max_value=26)


@given(st.text())
def test_number_extractors_never_raise_and_give_canonical_numbers(text: str) -> None:
    for extract in (normalize_number, strict_number, flexible_number):
        found = extract(text)
        assert found is None or normalize_number(found) == found


@given(st.text(), n_choices, st.none() | st.lists(st.text(), min_size=1, max_size=26))
def test_choice_letter_gives_none_or_a_valid_letter(text: str, n: int, choices: list[str] | None) -> None:
    letter = choice_letter(text, n, choices)
    valid = string.ascii_uppercase[: len(choices) if choices is not None else n]
    assert letter is None or letter in valid


@given(st.integers())
def test_normalize_number_round_trips_integers(n: int) -> None:
    assert normalize_number(str(n)) == str(n)
    assert normalize_number(f"{n:,}") == str(n)
    assert normalize_number(f"{n:,}.00") == str(n)
    assert normalize_number(f"{'-' if n < 0 else ''}${abs(n):,}") == str(n)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_normalize_number_reads_formatted_decimals(value: Decimal) -> None:
    for written in (f"{value:.2f}", f"{value:,.2f}", f"{value:,.2f}%"):
        canonical = normalize_number(written)
        assert canonical is not None
        assert Decimal(canonical) == value
        assert numbers_equal(canonical, str(value))


@given(st.integers(min_value=-(10**6), max_value=10**6), st.integers(min_value=1, max_value=1000))
def test_fractions_compare_by_value(numerator: int, denominator: int) -> None:
    written = f"{numerator}/{denominator}"
    assert numbers_equal(written, f"{numerator * 3}/{denominator * 3}")
    assert numbers_equal(written, f"{numerator / denominator:.9f}")


reasoning = st.text(alphabet=string.ascii_letters + string.digits + " .,;+-*=()\n", max_size=200)


@given(reasoning, st.integers(), reasoning)
def test_a_stated_answer_beats_the_numbers_around_it(before: str, answer: int, after: str) -> None:
    # The only explicit answer in the text is the one we planted.
    assume(all(word not in (before + after).lower() for word in ("answer", "####", "boxed")))
    assert flexible_number(f"{before}\nThe answer is {answer}. {after}") == str(answer)


CONNECTORS = [", ", " or ", ", or ", " / ", "/", " and ", " & ", " nor ", " versus ", " vs. ", " and/or "]
STATEMENTS = ["The answer is {}.", "Answer: {}", "The correct option is {}", "I choose {}.", "The answer is either {}.",
              "The answer is $\\boxed{{{}}}$.", "{}"]
MARKUP = ["{}", "({})", "**{}**", "option {}"]


@given(st.sampled_from(STATEMENTS), st.lists(st.sampled_from("ABCDE"), min_size=2, max_size=5, unique=True),
       st.sampled_from(CONNECTORS), st.sampled_from(MARKUP))
def test_a_statement_naming_several_options_has_no_answer(statement: str, letters: list[str], connector: str,
                                                          markup: str) -> None:
    # "The answer is A or C", "Answer: (B), (D) or (E)", "I choose **A** and **C**." ...
    named = [markup.format(letter) for letter in letters]
    listed = ", ".join(named[:-1]) + connector + named[-1]
    if statement == "The answer is $\\boxed{{{}}}$.":
        listed = connector.join(f"$\\boxed{{{letter}}}$" for letter in letters)
        statement = "The answer is {}."
    assert choice_letter(statement.format(listed), n_choices=5) is None


@given(st.sampled_from("ABCD"), st.sampled_from("ABCD"), st.sampled_from([", ", ". ", " and ", ".\n", "; "]),
       st.sampled_from(["is wrong because", "would need", "was my first guess, but", "is tempting"]))
def test_an_option_discussed_after_the_statement_does_not_void_it(answer: str, other: str, joint: str, clause: str) -> None:
    assume(answer != other)
    assert choice_letter(f"The answer is ({answer}){joint}{other} {clause} the question asks otherwise.") == answer


@given(reasoning, st.sampled_from("ABCD"))
def test_a_stated_letter_is_found_after_any_reasoning(before: str, letter: str) -> None:
    assume(all(word not in before.lower() for word in ("answer", "option", "choice", "letter")))
    assert choice_letter(f"{before}\nThe answer is ({letter}).") == letter


@pytest.mark.parametrize(
    "text",
    [
        "answer " + " " * 20_000 + "x",
        "A" + " " * 20_000 + "x",
        "\\boxed{" + " " * 20_000,
        "The answer is" + " " * 20_000 + "probably",
        "answer is" + "$" * 20_000 + "x",
        "5 minutes or" + " " * 20_000 + "x",
        "The answer is 5" + " " * 20_000 + "+",
        "Word. " * 4_000 + "x",
        "3 (" * 7_000,
        "The answer is A," + " " * 20_000 + "x",
    ],
    ids=["answer-spaces", "letter-spaces", "boxed-spaces", "marker-spaces", "marker-dollars", "restated-spaces",
         "expression-spaces", "many-sentences", "open-brackets", "alternative-spaces"],
)
def test_extraction_time_is_linear_in_long_degenerate_text(text: str) -> None:
    # Overlapping regex parts once made these quadratic (minutes at 100,000 characters);
    # linear, each takes milliseconds. The bound is loose so a slow CI machine passes.
    start = time.perf_counter()
    flexible_number(text)
    choice_letter(text, choices=["x", "y"])
    assert time.perf_counter() - start < 2.0
