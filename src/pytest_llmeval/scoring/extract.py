"""Finding the answer in what a model wrote: numbers and multiple-choice letters.

Instruct models rarely answer in the exact format a benchmark expects; they say "The answer
is **18**." or "(B) Paris". These pure functions recover the answer the model meant, and
return ``None`` when it said none, so that a scorer can tell a wrong answer from a missing
one. They never raise on any text. The phrasings each one understands are listed, as a
readable table, in ``tests/test_extract.py``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from fractions import Fraction

from .latex import plain_math

__all__ = ["choice_letter", "flexible_number", "normalize_number", "numbers_equal", "strict_number"]

_CURRENCY = "$€£¥₹"
_MINUS = "-\u2212"  # ASCII hyphen-minus and the typographic minus sign

#: One number as written in prose: optional sign and currency (either order), digits with or
#: without thousands separators, a decimal part, a fraction, a percent sign. The look-behind
#: keeps it from starting inside a word ("H2O", "x2") or inside another number, and the minus
#: must touch the digits, so "5 - 3" is a subtraction, not a negative three.
_NUMBER = (
    r"(?<![\w.])"
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
    ("The answer is **18**.", "Answer: $18.00"; the last one counts, so a corrected answer wins),
    and otherwise reads the last sentence that has a number: the result of its last equation
    ("9 + 6 = 15 liters of the 24 liters" gives 15), else its last number ("18 dollars"). An
    explicit answer beats the numbers after it: "The answer is 18. Check: 18 * 2 = 36" gives 18.
    LaTeX anywhere in the text is read as plain text first (``$9{,}500$`` is 9500, see
    :func:`~pytest_llmeval.scoring.latex.plain_math`).

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
            return found
    return None


def _after_hashes(text: str) -> str | None:
    match = _HASHES_RE.search(text)
    return None if match is None else normalize_number(match.group(1))


def _after_answer_marker(text: str) -> str | None:
    for match in reversed(list(_ANSWER_NUMBER_RE.finditer(text))):
        number = normalize_number(match.group(1))
        if number is not None:
            return number
    return None


#: Sentences end at a line break, or at . ! ? and a space before a capital ("0.25" does not).
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|\n")
#: "= 18", "= $18", "=**18**"; not "<=", ">=" or "==".
_RESULT_RE = re.compile(rf"(?<![<>!=])=(?!=)[\s*_]*({_NUMBER})")


def _final_result(text: str) -> str | None:
    # Worked solutions end with the result and then restate what it counts, often with
    # another number: "9 + 6 = 15 liters of water out of the 24 liters". The last number
    # would be 24; the last equation's result, 15, is what was meant.
    for sentence in reversed(_SENTENCE_BREAK_RE.split(text)):
        last = _last_number(sentence)
        if last is None:
            continue
        for match in reversed(list(_RESULT_RE.finditer(sentence))):
            result = normalize_number(match.group(1))
            if result is not None:
                return result
        return last
    return None


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
_LIST_GOES_ON_RE = re.compile(r"[*_`)\]}$]*[ \t]*(?:[,/&|+.;:!?)\n]|(?i:or|and)(?![a-zA-Z])|$)")


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
