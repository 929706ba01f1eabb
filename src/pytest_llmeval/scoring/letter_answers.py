"""Finding the multiple-choice letter in what a model wrote.

Instruct models rarely answer with a bare letter; they say "(B) Paris" or "The correct answer
is D because...". :func:`choice_letter` recovers the letter the model meant, and returns
``None`` when it gave none or hedged between several. It never raises on any text, and takes
time linear in its length. The phrasings it understands are listed in ``tests/test_extract.py``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

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

    # A lone letter may be lower case ("b"): nothing else could have been meant.
    bare = text.strip(_LETTER_WRAPPING)
    if len(bare) == 1:
        return bare.upper() if _valid(bare.upper(), letters) else None

    decided, stated = _stated_letter(text, letters)
    if decided:
        return stated
    found = _leading_letter(text, letters)
    if found is None and choices is not None:
        found = _named_letter(text, choices, letters)
    return found or _marked_letter(text, letters) or _last_line_letter(text, letters)


def _valid(letter: str, letters: str) -> bool:
    return len(letter) == 1 and letter in letters


def _leading_letter(text: str, letters: str) -> str | None:
    """The marked letter a response opens with, unless the response goes on to list options
    (two option lines with different letters) or names another option right after it."""
    leading = _LEADING_LETTER_RE.match(text)
    if leading is None or not _valid(leading.group(1), letters):
        return None
    listed = {match.group(1) for match in _OPTION_LINE_RE.finditer(text)}
    if len(listed) >= 2 or _other_option(text, leading.end(1), leading.group(1), letters) is not None:
        return None
    return leading.group(1)


def _named_letter(text: str, choices: Sequence[str], letters: str) -> str | None:
    named = _named_option(text, choices)
    return None if named is None else letters[named]


def _marked_letter(text: str, letters: str) -> str | None:
    """The one valid letter marked as an option anywhere ("(B)", "[B]", "**B**"), or None."""
    marked = {next(g for g in m.groups() if g) for m in _MARKED_LETTER_RE.finditer(text)}
    marked = {letter for letter in marked if _valid(letter, letters)}
    return marked.pop() if len(marked) == 1 else None


def _last_line_letter(text: str, letters: str) -> str | None:
    """The last line that holds more than markup and punctuation, when that is one valid
    upper-case letter ("... so the answer is\n\n**C**")."""
    lines = [line for line in text.splitlines() if line.strip(_LETTER_WRAPPING)]
    if not lines:
        return None
    last = lines[-1].strip(_LETTER_WRAPPING)
    return last if last.isupper() and _valid(last, letters) else None


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
    named = _outermost(options, mentioned)
    return named[0] if len(named) == 1 else None


def _outermost(options: Sequence[str], mentioned: Sequence[int]) -> list[int]:
    """The ``mentioned`` options that are not part of another mentioned option's text."""
    # "Paris, Texas" mentions "Paris" too: an option inside another mentioned one is not named.
    return [
        i for i in mentioned if not any(j != i and options[i] != options[j] and options[i] in options[j] for j in mentioned)
    ]
