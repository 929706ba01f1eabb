"""Finding the answer in what a model wrote: numbers and multiple-choice letters.

Instruct models rarely answer in the exact format a benchmark expects; they say "The answer
is **18**." or "(B) Paris". These pure functions recover the answer the model meant, and
return ``None`` when it said none, so that a scorer can tell a wrong answer from a missing
one. They never raise on any text, and take time linear in its length. The phrasings each one
understands are listed, as readable tables, in ``tests/test_extract.py``, ``tests/test_latex.py``
and (real GSM8K replies) ``tests/test_gsm8k_replies.py``. They read the text they are given:
a reasoning trace is separated from the final answer before, by
:func:`pytest_llmeval.scoring.normalize.normalize`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import NamedTuple

from .latex import plain_math

__all__ = ["choice_letter", "flexible_number", "normalize_number", "numbers_equal", "strict_number"]

_CURRENCY = "$€£¥₹"
_MINUS = "-\u2212"  # ASCII hyphen-minus and the typographic minus sign

#: One number as written in prose: optional sign and currency (either order), digits with or
#: without thousands separators, a decimal part, a fraction, a percent sign. The look-behind
#: keeps it from starting inside a word ("H2O", "x2") or inside another number, and the minus
#: must touch the digits, so "5 - 3" is a subtraction, not a negative three.
_NUMBER = (
    r"(?<![\w.])(?<![0-9]:)"  # a clock time "2:00" reads as its hour, never as "00"
    rf"[{_MINUS}]?[{_CURRENCY}]?[{_MINUS}]?"
    r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?:/[0-9]+)?|\.[0-9]+)"
    r"%?"
)
_NUMBER_RE = re.compile(_NUMBER)

#: GSM8K's own answer format, followed literally: "#### " and the number, no currency sign.
#: A number that runs on into LaTeX ("#### 9{,}500") is not in the format, rather than a 9.
_STRICT_RE = re.compile(r"####[ \t]*(-?[0-9][0-9,]*(?:\.[0-9]+)?)(?![0-9,{]|\.[0-9])")
#: The same marker as a model may write it, with a currency sign or markup around the number.
_HASHES_RE = re.compile(rf"####[\s*_]*({_NUMBER})")

#: "The answer is 18", "Final answer: $18", "**Answer:** 18", "the answer to the question is
#: 18". Between the marker and the number only markup and a few hedging words may stand, so
#: "The answer is below. Step 1: ..." does not read as 1.
_ANSWER_NUMBER_RE = re.compile(
    r"(?i:\banswer(?:\s+to\s+(?:this|the)\s+(?:question|problem))?\b)"
    r"[\s*_]*(?i:is|was|would\s+be|will\s+be|should\s+be|=|:)"
    r"(?:[\s*_:=${\\]|(?i:boxed|text|approximately|about|roughly|exactly|equal\s+to))*"
    rf"({_NUMBER})"
)

# Digits are spelled [0-9]: \d would accept other scripts' digits, which int() reads but a
# person comparing answers would not expect.
_DECIMAL_RE = re.compile(r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.([0-9]*))?")
_FRACTION_RE = re.compile(r"([0-9]+)\s*/\s*([0-9]+)")
_TOLERANCE = Fraction(1, 10**6)


def normalize_number(text: str) -> str | None:
    """The canonical form of one written number, or ``None`` if ``text`` is not a number.

    Currency signs, thousands separators, a percent sign, markdown emphasis and sentence
    punctuation are dropped; trailing decimal zeros go; fractions are reduced and kept as
    fractions (:func:`numbers_equal` compares them with decimals). The text must be one
    number, not a sentence containing one (use :func:`flexible_number` for that).

    Example::

        normalize_number("$1,234.50")  # "1234.5"
        normalize_number("18.00")      # "18"
        normalize_number("2/4")        # "1/2"
        normalize_number("eighteen")   # None
    """
    s = text.strip().strip("*_`").strip().rstrip(".,;:!?").strip("*_`").strip()
    sign = ""
    # Sign and currency may come in either order: "-$5" and "$-5" are both minus five.
    for _ in range(2):
        if s and s[0] in _MINUS and not sign:
            sign, s = "-", s[1:]
        elif s and s[0] in _CURRENCY:
            s = s[1:].lstrip()
    if s.endswith("%"):
        s = s[:-1].rstrip()
    fraction = _FRACTION_RE.fullmatch(s)
    if fraction is not None:
        return _format_fraction(sign, fraction.group(1), fraction.group(2))
    decimal = _DECIMAL_RE.fullmatch(s)
    if decimal is None:
        return None
    whole, frac = decimal.group(1).replace(",", ""), decimal.group(2) or ""
    if not whole and not frac:
        return None
    # String surgery rather than Decimal or int: exact for any length of digits, and no
    # arithmetic context or integer-conversion limit to trip over.
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    number = f"{whole}.{frac}" if frac else whole
    return number if number == "0" else sign + number


def _format_fraction(sign: str, numerator: str, denominator: str) -> str | None:
    try:
        value = Fraction(int(numerator), int(denominator))
    except (ValueError, ZeroDivisionError):  # zero denominator, or digits beyond int()'s limit
        return None
    if value == 0:
        return "0"
    return sign + str(value)  # "1/2", or "3" when the fraction is whole


def _as_fraction(number: str) -> Fraction | None:
    try:
        return Fraction(number)
    except (ValueError, ZeroDivisionError):
        return None


def numbers_equal(a: str | None, b: str | None) -> bool:
    """Whether two written numbers have the same value (within 1e-6); ``None`` equals nothing.

    Both sides go through :func:`normalize_number`, so formatting does not matter.

    Example::

        numbers_equal("$18.00", "18")  # True
        numbers_equal("1/2", "0.5")    # True
        numbers_equal("18", None)      # False
    """
    if a is None or b is None:
        return False
    na, nb = normalize_number(a), normalize_number(b)
    if na is None or nb is None:
        return False
    if na == nb:  # the common case, without fraction arithmetic
        return True
    fa, fb = _as_fraction(na), _as_fraction(nb)
    if fa is None or fb is None:  # too many digits to convert: compare the canonical text
        return na == nb
    return abs(fa - fb) <= _TOLERANCE


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
    rf"({_NUMBER})(?:[ \t]*{_UNIT})?[ \t]*(?:,[ \t]*)?"
    r"(?:or|\(|=|i\.e\.,?|that\s+is,?|which\s+is(?:\s+equal\s+to|\s+the\s+same\s+as)?)"
    rf"[ \t]*({_NUMBER})[ \t]*{_UNIT}"
)


def _restated(text: str, answer: str) -> str:
    """The answer as the reply restates it in another unit of the same size, else itself.

    Replies restate a quantity in the unit the question asks for ("2040 minutes or 34 hours"
    when it asks for hours); only the answer's last mention counts, and one that is not the
    same quantity ("216 seconds or 3 minutes and 36 seconds") is not a restatement.
    """
    mentions = [match.start() for match in _NUMBER_RE.finditer(text) if numbers_equal(match.group(0), answer)]
    match = None if not mentions else _RESTATED_RE.match(text, mentions[-1])
    if match is None:
        return answer
    first, first_unit, second, second_unit = match.groups()
    first_unit = first_unit or ("$" if first.lstrip(_MINUS).startswith("$") else None)
    if first_unit is None:
        return answer
    (kind_1, size_1), (kind_2, size_2) = _unit_size(first_unit), _unit_size(second_unit)
    value_1, value_2 = _as_fraction(normalize_number(first) or ""), _as_fraction(normalize_number(second) or "")
    if (kind_1 != kind_2 or size_1 == size_2 or value_1 is None or value_2 is None
            or abs(value_1 * size_1 - value_2 * size_2) > _TOLERANCE * max(size_1, size_2)):
        return answer
    return normalize_number(second) or answer


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
_ANSWER_EXPRESSION_RE = re.compile(rf"(?:[ \t]*[-+*/x\u00d7\u00f7][ \t]*[{_CURRENCY}]?[0-9][0-9,.]*)+[ \t]*=[ \t]*({_NUMBER})")


#: Sentences end at a line break, or at . ! ? and a space before a capital ("0.25" does not).
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|\n")
#: "= 18", "= $18", "=**18**"; not "<=", ">=" or "==".
_RESULT_RE = re.compile(rf"(?<![<>!=])=(?!=)[\s*_]*({_NUMBER})")


def _final_result(text: str) -> str | None:
    sentences = _SENTENCE_BREAK_RE.split(text)
    for index in range(len(sentences) - 1, -1, -1):
        found = _sentence_result(sentences, index)
        if found is not None:
            return found
    return None


def _sentence_result(sentences: Sequence[str], index: int) -> str | None:
    """The result that a worked solution's sentence ``sentences[index]`` states."""
    sentence = sentences[index]
    # The working in brackets is not the result: "10 pounds (12 - 2)", "9. (15 + 18 + 9 = 42)".
    plain = _unbracketed(sentence)
    numbers = _numbers(plain)
    if not numbers:
        plain, numbers = sentence, _numbers(sentence)
    if not numbers:
        return None
    # A sentence ends with its result and restates what it counts, often with another number:
    # "9 + 6 = 15 liters of water out of the 24 liters" is 15, its last equation's result.
    for match in reversed(list(_RESULT_RE.finditer(plain))):
        result = normalize_number(match.group(1))
        if result is not None:
            return result
    # An ordinal names a position, not a quantity: "35 questions to move onto the 7th grade".
    numbers = [number for number in numbers if not number.ordinal] or numbers
    last = numbers[-1]
    before = "\n".join(sentences[:index])
    if last.value not in {number.value for number in _numbers(before)}:
        return last.value  # first written here: the result
    # A conclusion without an equation restates the question's givens around its result:
    # "Judy makes $7425.00 in 1 week". A last number used before, but not as the quantity an
    # equation computed ("=7425.00", not "1 week"), gives way to the last one an equation
    # computed, else, when it sits in a phrase such as "in 48 hours" or "more than $10", to
    # the last one outside such a phrase.
    results = (_written(before, match.start(1), match.end(1)) for match in _RESULT_RE.finditer(before))
    computed = {result[:2] for result in results if result is not None}
    if last[:2] in computed:
        return last.value
    values = {value for value, _ in computed}
    others = numbers[:-1]
    chosen = next((number for number in reversed(others) if number.value in values), None)
    if chosen is None and last.context:
        chosen = next((number for number in reversed(others) if not number.context), None)
    return last.value if chosen is None else chosen.value


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
    found = (_written(text, match.start(), match.end()) for match in _NUMBER_RE.finditer(text))
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
    for match in reversed(list(_NUMBER_RE.finditer(text))):
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


# -- multiple choice ---------------------------------------------------------------------------

#: Characters around a letter that carry no meaning: markup, brackets, punctuation, quotes.
_LETTER_WRAPPING = "*_`()[]{}<>.,:;!\"' \t\r\n"

#: "The answer is B", "Answer: (C)", "The correct option is D", "I choose B", "I'd go with
#: option C". Only markup and the words option/choice/letter may separate the marker from the
#: letter, so "the answer is not B" says nothing. The letter is upper case and stands alone.
_LETTER_MARKER_RE = re.compile(
    r"(?:(?i:\b(?:answer|option|choice|letter)\b)[\s*_]*"
    r"(?i:is|would\s+be|will\s+be|should\s+be|must\s+be|=|:)"
    r"(?:\s+(?i:probably|likely|clearly|definitely))?"
    r"|(?i:\b(?:choose|select|pick|go\s+with|opt\s+for)\b))"
    r"(?:[\s*_:=(\[{$\\]|(?i:boxed|text|textbf|option|choice|letter|either|both))*"
    r"([A-Z])(?![\w'\u2019])"
)
_BOXED_LETTER_RE = re.compile(r"\\boxed\{\s*(?:\\text(?:bf)?\{\s*)?([A-Z])\s*\}")
#: A response that opens with its letter: "(B) Paris", "B. Because", "**C:** ...", "Option D)".
#: The letter must be followed by a bracket or punctuation (or end the line), so "A good
#: question" and "I think" are words, not letters; "A.I." is a word too. No two neighbouring
#: parts can match the same spaces: that would make the match time quadratic in the text.
_LEADING_LETTER_RE = re.compile(
    r"[\s*_#>]*(?:(?i:option|choice|answer|letter)\s*)?(?:[(\[]\s*)?([A-Z])[ \t]*"
    r"(?:[)\]]|\*\*|[.:,](?![A-Za-z])|\n|$)"
)
#: A line that starts with an option letter. Two such lines with different letters mean the
#: response lists options (small models often echo the prompt's "A. ...\nB. ..."), so its
#: first letter is not a choice.
_OPTION_LINE_RE = re.compile(r"^[ \t*_#>]*(?:[(\[][ \t]*)?([A-Z])[ \t]*(?:[)\]]|[.:](?![A-Za-z]))", re.MULTILINE)
#: Letters that stand out as options anywhere: "(B)", "[B]", "**B**".
_MARKED_LETTER_RE = re.compile(r"\(([A-Z])\)|\[([A-Z])\]|\*\*([A-Z])\*\*")
#: Another option named right after a stated letter: "A, B, C, or D", "either A or B", "A/B",
#: "(A) or (C)", "A and C", "A (or B)", "$\\boxed{A}$ or $\\boxed{B}$". Matched in a short
#: window after the letter, so the overlapping whitespace parts cost nothing on long text.
_ALTERNATIVE_RE = re.compile(
    r"[\s*_`()\[\]}$]*(?P<comma>,)?\s*"
    r"(?:(?P<either>(?i:or|nor|and/or|versus|vs)(?![a-zA-Z])\.?|[/|])|(?P<also>(?i:and|plus)(?![a-zA-Z])|[&+]))?"
    r"(?:[\s*_`(\[{$\\:]|(?i:boxed|text|textbf|option|choice|letter)(?![a-z]))*"
    r"(?P<letter>[A-Z])(?![\w'\u2019])"
)
_ALTERNATIVE_WINDOW = 80
#: After a letter joined by a comma or "and": the list goes on, or the statement ends there.
#: "The answer is B, A is wrong" goes on with a verb: that A starts a new clause.
_LIST_GOES_ON_RE = re.compile(r"[*_`)\]}$]*[ \t]*(?:[,/&|+.;:!?)\n]|(?i:or|nor|and|versus|vs)(?![a-zA-Z])|$)")


def choice_letter(text: str, n_choices: int = 4, choices: Sequence[str] | None = None) -> str | None:
    """The multiple-choice letter a response gives, or ``None`` if it gives none (or several).

    Valid letters are the first ``n_choices`` of A-Z (``len(choices)`` when ``choices`` is
    given). In order of trust: a response that is only a letter ("B", "**B**", "(B)."); a
    stated answer, the last one winning ("The answer is B", "Answer: (C)", "The correct option
    is D because..."); a response opening with a marked letter ("(B) Paris", "A. Because..."),
    unless it goes on to list other options as the prompt did; with ``choices`` (the option
    texts), a response that names exactly one option ("Paris"); a single distinct marked letter
    anywhere ("... so (C) it is"); a last line that is only a letter. Articles and pronouns
    are not letters: "A good question... the answer is C" is C.

    A reply that names several different options where it states its answer gives none, so
    that hedging is never credited with the right option: "The answer is A, B, C, or D",
    "either A or B", "A/B", "(A) or (C)", "B and D", "$\\boxed{A}$ or $\\boxed{B}$", and an
    opening "A, B or C" are all None. What follows a finished statement is not part of it:
    "The answer is (B). A is wrong because..." and "The answer is B, A is wrong" are B.

    Example::

        choice_letter("The correct answer is (D).")                        # "D"
        choice_letter("Paris", choices=["London", "Paris", "Rome", "Oslo"])  # "B"
        choice_letter("E", n_choices=4)                                    # None
    """
    n = len(choices) if choices is not None else n_choices
    if not 1 <= n <= 26:
        raise ValueError(f"multiple choice needs 1 to 26 options, got {n}")
    letters = string.ascii_uppercase[:n]

    def valid(letter: str) -> bool:
        return len(letter) == 1 and letter in letters

    # A lone letter may be lower case ("b"): nothing else could have been meant.
    bare = text.strip(_LETTER_WRAPPING)
    if len(bare) == 1:
        return bare.upper() if valid(bare.upper()) else None

    decided, stated = _stated_letter(text, letters)
    if decided:
        return stated

    leading = _LEADING_LETTER_RE.match(text)
    listed = {match.group(1) for match in _OPTION_LINE_RE.finditer(text)}
    if (leading is not None and valid(leading.group(1)) and len(listed) < 2
            and _other_option(text, leading.end(1), leading.group(1), letters) is None):
        return leading.group(1)

    if choices is not None:
        named = _named_option(text, choices)
        if named is not None:
            return letters[named]

    marked = {next(g for g in m.groups() if g) for m in _MARKED_LETTER_RE.finditer(text)}
    marked = {letter for letter in marked if valid(letter)}
    if len(marked) == 1:
        return marked.pop()

    lines = [line for line in text.splitlines() if line.strip(_LETTER_WRAPPING)]
    if lines:
        last = lines[-1].strip(_LETTER_WRAPPING)
        if last.isupper() and valid(last):
            return last
    return None


def _stated_letter(text: str, letters: str) -> tuple[bool, str | None]:
    """``(True, letter)`` for the reply's last stated answer (a boxed letter first, then an
    answer statement), ``(True, None)`` when that statement names several options, and
    ``(False, None)`` when the reply states no answer."""
    boxed = [match for match in _BOXED_LETTER_RE.finditer(text) if match.group(1) in letters]
    if boxed:
        last = boxed[-1]
        # "$\\boxed{A}$ or $\\boxed{B}$": the last box may be the alternative to the one before.
        before = None if len(boxed) < 2 else _other_option(text, boxed[-2].end(1), boxed[-2].group(1), letters)
        hedged = before == last.start(1) or _other_option(text, last.end(1), last.group(1), letters) is not None
        return True, None if hedged else last.group(1)
    for match in reversed(list(_LETTER_MARKER_RE.finditer(text))):
        letter = match.group(1)
        if letter in letters:
            return True, None if _other_option(text, match.end(1), letter, letters) is not None else letter
    return False, None


def _other_option(text: str, end: int, letter: str, letters: str) -> int | None:
    """Where another option named right after ``letter`` (which ends at ``end``) starts, or None.

    "or", "/" and "versus" always join alternatives; a comma, "and" or "&" only when the
    letter after it ends the statement or the list goes on ("A, B, C, or D"), so that "B, A is
    wrong" is B. "A" and "I" followed by more words are the English words.
    """
    position = end
    for _ in range(len(letters)):
        match = _ALTERNATIVE_RE.match(text, position, min(len(text), position + _ALTERNATIVE_WINDOW))
        if match is None or not (match.group("comma") or match.group("either") or match.group("also")):
            return None
        other = match.group("letter")
        goes_on = _LIST_GOES_ON_RE.match(text, match.end()) is not None
        if not goes_on and (other in "AI" or match.group("either") is None):
            return None
        if other != letter and other in letters:
            return match.start("letter")
        position = match.end()  # the same letter again, or not an option: the list may go on
    return None


def _plain(text: str) -> str:
    return " ".join(text.casefold().split()).strip(_LETTER_WRAPPING + "?")


def _named_option(text: str, choices: Sequence[str]) -> int | None:
    """The index of the one option whose text the response is, or mentions; None if unclear."""
    said = _plain(text)
    options = [_plain(str(choice)) for choice in choices]
    exact = [i for i, option in enumerate(options) if option and option == said]
    if len(exact) == 1:
        return exact[0]
    mentioned = [i for i, option in enumerate(options) if option and re.search(rf"(?<!\w){re.escape(option)}(?!\w)", said)]
    # "Paris, Texas" mentions "Paris" too: an option inside another mentioned one is not named.
    mentioned = [
        i for i in mentioned if not any(j != i and options[i] != options[j] and options[i] in options[j] for j in mentioned)
    ]
    return mentioned[0] if len(mentioned) == 1 else None
