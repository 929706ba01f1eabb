"""Finding the numeric answer in what a model wrote: GSM8K's strict format and free text.

Instruct models rarely answer in the exact format a benchmark expects; they say "The answer
is **18**." or "She makes $18 a day". :func:`strict_number` and :func:`flexible_number`
recover the number the model meant, normalized by
:func:`~pytest_llmeval.scoring.written_numbers.normalize_number`, and return ``None`` when it
said none. They never raise on any text, and take time linear in its length. The phrasings they
understand are listed in ``tests/test_extract.py``, ``tests/test_latex.py`` and (real GSM8K
replies) ``tests/test_gsm8k_replies.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .latex import plain_math
from .written_numbers import CURRENCY_SIGNS, MINUS_SIGNS, NUMBER_PATTERN, NUMBER_RE, TOLERANCE, as_fraction, normalize_number, numbers_equal

#: GSM8K's own answer format, followed literally: "#### " and the number, no currency sign.
#: A number that runs on into LaTeX ("#### 9{,}500") is not in the format, rather than a 9.
_STRICT_RE = re.compile(r"####[ \t]*(-?[0-9][0-9,]*(?:\.[0-9]+)?)(?![0-9,{]|\.[0-9])")
#: The same marker as a model may write it, with a currency sign or markup around the number.
_HASHES_RE = re.compile(rf"####[\s*_]*({NUMBER_PATTERN})")

#: "The answer is 18", "Final answer: $18", "**Answer:** 18", "the answer to the question is
#: 18". Between the marker and the number only markup and a few hedging words may stand, so
#: "The answer is below. Step 1: ..." does not read as 1.
_ANSWER_NUMBER_RE = re.compile(
    r"(?i:\banswer(?:\s+to\s+(?:this|the)\s+(?:question|problem))?\b)"
    r"[\s*_]*(?i:is|was|would\s+be|will\s+be|should\s+be|=|:)"
    r"(?:[\s*_:=${\\]|(?i:boxed|text|approximately|about|roughly|exactly|equal\s+to))*"
    rf"({NUMBER_PATTERN})"
)


def strict_number(text: str) -> str | None:
    """The number after GSM8K's ``#### `` marker (normalized), or ``None`` if there is none.

    This is GSM8K's "strict" extraction: it rewards a model that follows the answer format of
    the benchmark's reference solutions. The first marker counts, since a model that keeps
    writing after its answer tends to invent further questions and answers.

    Example::

        strict_number("9 * 2 = 18\\n#### 18")  # "18"
        strict_number("The answer is 18.")      # None
    """
    match = _STRICT_RE.search(text)
    return None if match is None else normalize_number(match.group(1))


def flexible_number(text: str) -> str | None:
    """The final numeric answer in free text (normalized), or ``None`` if there is no number.

    Looks, in order, for GSM8K's ``#### 18``, a LaTeX ``\\boxed{18}``, an answer statement
    ("The answer is **18**.", "Answer: $18.00"; the last one counts, so a corrected answer wins;
    "The answer is 3 + 6 = 9" is 9), and otherwise reads the last sentence that has a number:
    the result of its last equation ("9 + 6 = 15 liters of the 24 liters" gives 15), else its
    last number ("18 dollars"), where bracketed working ("$45 ($50 - $5)"), ordinals ("the 7th
    grade") and a restated given do not count: a last number the reply used before gives way to
    one an equation computed ("makes $7425.00 in 1 week", after "= 7425.00") or, in a phrase
    such as "in 48 hours" or "more than $10", to the number before it. An explicit answer beats
    the numbers after it: "The answer is 18. Check: 18 * 2 = 36" gives 18, and so does "The
    answer is 18. ... Therefore, 17 are good": a reply that contradicts its stated answer is
    held to it. The same quantity restated in another unit reads in the last unit given ("900
    minutes or 15 hours" is 15); a clock time reads as its hour ("2:00 pm" is 2). LaTeX
    anywhere in the text is read as plain text first (``$9{,}500$`` is 9500, see
    :func:`~pytest_llmeval.scoring.latex.plain_math`).

    The rules after the first sentence come from reading every reply on which this extractor
    disagreed with a recording's own verdict or with lm-evaluation-harness, over 7,914 recorded
    GPT-4 and GPT-3.5-turbo GSM8K replies (``perf/gsm8k_extraction_agreement.py``; the figures
    and the kinds of reply are in docs/benchmarks-reasoning-context.md).

    Example::

        flexible_number("She makes 9 * 2 = $18 a day. The answer is **18**.")  # "18"
        flexible_number("I don't know.")                                       # None
    """
    finders: tuple[Callable[[str], str | None], ...] = (
        _after_hashes,
        _boxed_number,
        _after_answer_marker,
        _final_result,
    )
    text = plain_math(text)
    for finder in finders:
        found = finder(text)
        if found is not None:
            return _restated(text, found)
    return None


#: Units a reply may give one quantity in twice ("900 minutes or 15 hours"), by dimension,
#: with their size in the dimension's smallest unit.
_UNIT_SIZES: dict[str, tuple[str, int]] = {
    "second": ("time", 1), "sec": ("time", 1), "minute": ("time", 60), "min": ("time", 60),
    "hour": ("time", 3600), "hr": ("time", 3600), "day": ("time", 86400), "week": ("time", 604800),
    "cent": ("money", 1), "dollar": ("money", 100), "$": ("money", 100),
    "inch": ("length", 1), "foot": ("length", 12), "feet": ("length", 12), "yard": ("length", 36),
    "ounce": ("weight", 1), "oz": ("weight", 1), "pound": ("weight", 16), "lb": ("weight", 16),
}
_UNIT = r"(?i:(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|cents?|dollars?|inch(?:es)?|foot|feet|yards?|ounces?|oz|pounds?|lbs?)\b)"
#: The same quantity given again in another unit: "900 minutes or 15 hours", "$0.25, which is
#: equal to 25 cents", "60 minutes (1 hour)", "2040 minutes, i.e. 34 hours". No two
#: neighbouring parts match the same spaces, so a long run of them costs linear time.
_RESTATED_RE = re.compile(
    rf"({NUMBER_PATTERN})(?:[ \t]*{_UNIT})?[ \t]*(?:,[ \t]*)?"
    r"(?:or|\(|=|i\.e\.,?|that\s+is,?|which\s+is(?:\s+equal\s+to|\s+the\s+same\s+as)?)"
    rf"[ \t]*({NUMBER_PATTERN})[ \t]*{_UNIT}"
)


def _restated(text: str, answer: str) -> str:
    """The answer as the reply restates it in another unit of the same size, else itself.

    Replies restate a quantity in the unit the question asks for ("2040 minutes or 34 hours"
    when it asks for hours); only the answer's last mention counts, and one that is not the
    same quantity ("216 seconds or 3 minutes and 36 seconds") is not a restatement.
    """
    mentions = [match.start() for match in NUMBER_RE.finditer(text) if numbers_equal(match.group(0), answer)]
    match = None if not mentions else _RESTATED_RE.match(text, mentions[-1])
    if match is None:
        return answer
    first, first_unit, second, second_unit = match.groups()
    first_unit = first_unit or ("$" if first.lstrip(MINUS_SIGNS).startswith("$") else None)
    if first_unit is None or not _same_quantity(first, first_unit, second, second_unit):
        return answer
    return normalize_number(second) or answer


def _same_quantity(first: str, first_unit: str, second: str, second_unit: str) -> bool:
    """Whether two numbers in two different units of one dimension measure the same amount."""
    (kind_1, size_1), (kind_2, size_2) = _unit_size(first_unit), _unit_size(second_unit)
    value_1, value_2 = as_fraction(normalize_number(first) or ""), as_fraction(normalize_number(second) or "")
    if kind_1 != kind_2 or size_1 == size_2 or value_1 is None or value_2 is None:
        return False
    return abs(value_1 * size_1 - value_2 * size_2) <= TOLERANCE * max(size_1, size_2)


def _unit_size(unit: str) -> tuple[str, int]:
    unit = unit.lower()
    for name in (unit, unit.rstrip("s"), unit[:-2] if unit.endswith("es") else unit):
        if name in _UNIT_SIZES:
            return _UNIT_SIZES[name]
    return ("", 0)


def _after_hashes(text: str) -> str | None:
    match = _HASHES_RE.search(text)
    return None if match is None else normalize_number(match.group(1))


def _after_answer_marker(text: str) -> str | None:
    for match in reversed(list(_ANSWER_NUMBER_RE.finditer(text))):
        # "The answer is 3 + 6 + 12 = 21 clouds": the answer is the expression's result.
        worked = _ANSWER_EXPRESSION_RE.match(text, match.end(1))
        number = normalize_number((worked or match).group(1))
        if number is not None:
            return number
    return None


#: Arithmetic right after a stated number, ending in its result: " + 6 + 12 = 21", " x 4 = $36".
_ANSWER_EXPRESSION_RE = re.compile(rf"(?:[ \t]*[-+*/x\u00d7\u00f7][ \t]*[{CURRENCY_SIGNS}]?[0-9][0-9,.]*)+[ \t]*=[ \t]*({NUMBER_PATTERN})")


#: Sentences end at a line break, or at . ! ? and a space before a capital ("0.25" does not).
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|\n")
#: "= 18", "= $18", "=**18**"; not "<=", ">=" or "==".
_RESULT_RE = re.compile(rf"(?<![<>!=])=(?!=)[\s*_]*({NUMBER_PATTERN})")


def _final_result(text: str) -> str | None:
    sentences = _SENTENCE_BREAK_RE.split(text)
    for index in range(len(sentences) - 1, -1, -1):
        found = _sentence_result(sentences, index)
        if found is not None:
            return found
    return None


def _sentence_result(sentences: Sequence[str], index: int) -> str | None:
    """The result that a worked solution's sentence ``sentences[index]`` states."""
    plain, numbers = _sentence_numbers(sentences[index])
    if not numbers:
        return None
    # A sentence ends with its result and restates what it counts, often with another number:
    # "9 + 6 = 15 liters of water out of the 24 liters" is 15, its last equation's result.
    result = _last_equation_result(plain)
    if result is not None:
        return result
    # An ordinal names a position, not a quantity: "35 questions to move onto the 7th grade".
    numbers = [number for number in numbers if not number.ordinal] or numbers
    return _new_quantity(numbers, "\n".join(sentences[:index]))


def _sentence_numbers(sentence: str) -> tuple[str, list[_Written]]:
    """The sentence without its bracketed working, and the numbers in it; the whole sentence
    and its numbers when only the brackets hold any."""
    # The working in brackets is not the result: "10 pounds (12 - 2)", "9. (15 + 18 + 9 = 42)".
    plain = _unbracketed(sentence)
    numbers = _numbers(plain)
    return (plain, numbers) if numbers else (sentence, _numbers(sentence))


def _last_equation_result(text: str) -> str | None:
    for match in reversed(list(_RESULT_RE.finditer(text))):
        result = normalize_number(match.group(1))
        if result is not None:
            return result
    return None


def _new_quantity(numbers: Sequence[_Written], before: str) -> str:
    """Which of a conclusion's ``numbers`` (not empty) is its result, given the reply ``before`` it."""
    last = numbers[-1]
    if last.value not in {number.value for number in _numbers(before)}:
        return last.value  # first written here: the result
    # A conclusion without an equation restates the question's givens around its result:
    # "Judy makes $7425.00 in 1 week". A last number used before, but not as the quantity an
    # equation computed ("=7425.00", not "1 week"), gives way to the last one an equation
    # computed, else, when it sits in a phrase such as "in 48 hours" or "more than $10", to
    # the last one outside such a phrase.
    computed = _computed(before)
    if last[:2] in computed:
        return last.value
    chosen = _instead_of_given(numbers[:-1], {value for value, _ in computed}, last.context)
    return last.value if chosen is None else chosen.value


def _computed(text: str) -> set[tuple[str, str]]:
    """``(value, what it counts)`` of every result an equation in ``text`` computes."""
    results = (_written(text, match.start(1), match.end(1)) for match in _RESULT_RE.finditer(text))
    return {(result.value, result.counts) for result in results if result is not None}


def _instead_of_given(others: Sequence[_Written], computed: set[str], in_context: bool) -> _Written | None:
    """The last of ``others`` an equation computed, else (when the given sits in a phrase that
    sets the scene) the last outside such a phrase; None when neither."""
    chosen = next((number for number in reversed(others) if number.value in computed), None)
    if chosen is None and in_context:
        chosen = next((number for number in reversed(others) if not number.context), None)
    return chosen


class _Written(NamedTuple):
    value: str  # normalized
    counts: str  # the word after it, lower case: "hours" in "6 hours", "" in "$6.00."
    ordinal: bool  # "7th", "21st"
    context: bool  # in a phrase that sets the scene: "in 48 hours", "more than $10", "for a 24-hour stay"


_COUNTED_RE = re.compile(r"[ \t-]*([A-Za-z]+)")
_ORDINAL_RE = re.compile(r"(?i:st|nd|rd|th)\b")
_CONTEXT_RE = re.compile(
    r"(?i:\b(?:in|for|over|after|within|during|than|on|per|every|each|by|before|until)"
    r"[ \t]+(?:(?:a|an|the|another|only|just)[ \t]+)?)$"
)
_BRACKETED_RE = re.compile(r"\([^()]*\)")
_AFTER_EQUALS_RE = re.compile(r"=[\s$*_]*$")


def _written(text: str, start: int, end: int) -> _Written | None:
    value = normalize_number(text[start:end])
    if value is None:
        return None
    counted = _COUNTED_RE.match(text, end)
    return _Written(value, "" if counted is None else counted.group(1).lower(), _ORDINAL_RE.match(text, end) is not None,
                    _CONTEXT_RE.search(text[max(0, start - 24) : start]) is not None)


def _numbers(text: str) -> list[_Written]:
    found = (_written(text, match.start(), match.end()) for match in NUMBER_RE.finditer(text))
    return [number for number in found if number is not None]


def _unbracketed(text: str) -> str:
    """``text`` without its bracketed asides; a bracket right after "=" is a result and stays."""
    def aside(match: re.Match[str]) -> str:
        return match.group(0) if _AFTER_EQUALS_RE.search(text[max(0, match.start() - 8) : match.start()]) else " "

    for _ in range(5):  # nested brackets, innermost first
        text, replaced = _BRACKETED_RE.subn(aside, text)
        if not replaced:
            break
    return text


def _last_number(text: str) -> str | None:
    for match in reversed(list(NUMBER_RE.finditer(text))):
        number = normalize_number(match.group(0))
        if number is not None:
            return number
    return None


def _boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces may nest), or None."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    start = text.index("{", start) + 1
    depth = 1
    for end in range(start, len(text)):
        if text[end] == "{":
            depth += 1
        elif text[end] == "}":
            depth -= 1
            if depth == 0:
                return text[start:end]
    return None


def _boxed_number(text: str) -> str | None:
    # The LaTeX inside is already plain (flexible_number rewrote it): \boxed{18 \text{ dollars}}
    # reads "18  dollars", \boxed{\frac{1}{2}} reads "1/2".
    content = _boxed(text)
    return None if content is None else _last_number(content)

