"""Checkers for verifiable instructions: IFBench's and IFEval's constraint types.

Each checker is a pure function ``check(response, **kwargs) -> bool`` registered under its
instruction id: IFBench's (``count:numbers``, ``format:emoji``...) and IFEval's
(``punctuation:no_comma``, ``detectable_format:title``...; see the last section).
:func:`evaluate` runs the checkers of one item in two modes, as IFEval and IFBench report them:

- *strict*: the response as it is;
- *loose*: the instruction counts as followed if any of eight variants of the response passes
  (with its first line, last line or both dropped, each with and without ``*`` removed),
  which forgives a preamble such as "Sure, here it is:" and Markdown emphasis.

IFBench's checkers are written from the instruction texts (what a reader would verify), without
NLP libraries: sentences are split on terminal punctuation, words are runs of letters and
digits, syllables are counted by a vowel-group rule. Two IFBench types are not implemented
(see :data:`UNSUPPORTED`); items that use them are not shipped. IFEval's follow the rules of
IFEval's reference implementation, with the same helpers (and ``langdetect`` for languages).

Example::

    evaluate(["count:numbers"], [{"N": 2}], "Roughly 3 of 4 agreed.").strict  # [True]
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import random
import re
import string
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

Checker = Callable[..., bool]

#: Every implemented checker, by IFBench instruction id.
CHECKERS: dict[str, Checker] = {}

#: IFBench instruction ids with no checker, and why.
UNSUPPORTED: dict[str, str] = {
    "words:start_verb": "deciding whether the first word is a verb needs a part-of-speech tagger",
    "custom:european_capitals_sort": "the answer key is a world-knowledge list (capitals by latitude), "
                                     "not a property of the response's form",
}


def checker(instruction_id: str) -> Callable[[Checker], Checker]:
    def register(function: Checker) -> Checker:
        CHECKERS[instruction_id] = function
        return function

    return register


def supported(instruction_id: str) -> bool:
    """Whether ``instruction_id`` has a checker."""
    return instruction_id in CHECKERS


def clean_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """IFBench rows list every argument name with null for the unused ones: keep the used ones."""
    return {key: value for key, value in (kwargs or {}).items() if value is not None}


def check(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether ``response`` follows one instruction (strict mode).

    An empty response follows none: "every quoted phrase is explained" is not met by silence.
    """
    try:
        function = CHECKERS[instruction_id]
    except KeyError:
        raise KeyError(f"no checker for instruction {instruction_id!r}") from None
    return bool(response.strip()) and bool(function(response, **clean_kwargs(kwargs)))


def loose_variants(response: str) -> list[str]:
    """The response and seven forgiving variants of it (IFEval's loose mode)."""
    lines = response.split("\n")
    cuts = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [variant for cut in cuts for variant in (cut, cut.replace("*", ""))]


def check_loose(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether any loose variant of ``response`` follows the instruction."""
    return any(check(instruction_id, variant, kwargs) for variant in loose_variants(response))


@dataclass(frozen=True)
class Evaluation:
    """Per-instruction verdicts for one response, in the order of the item's instructions."""

    instruction_ids: tuple[str, ...]
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    @property
    def all_strict(self) -> bool:
        return all(self.strict)

    @property
    def all_loose(self) -> bool:
        return all(self.loose)


def evaluate(instruction_ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any] | None], response: str) -> Evaluation:
    """Check every instruction of an item, strictly and loosely."""
    if len(instruction_ids) != len(kwargs_list):
        raise ValueError(f"{len(instruction_ids)} instructions but {len(kwargs_list)} kwargs")
    strict = tuple(check(i, response, k) for i, k in zip(instruction_ids, kwargs_list, strict=True))
    loose = tuple(s or check_loose(i, response, k) for i, k, s in zip(instruction_ids, kwargs_list, strict, strict=True))
    return Evaluation(tuple(instruction_ids), strict, loose)


# -- text helpers --------------------------------------------------------------------------------

# Typographic quotes, guillemets, dashes, ellipsis and inverted marks besides ASCII punctuation.
_PUNCTUATION = string.punctuation + "\u201c\u201d\u2018\u2019\u00ab\u00bb\u2014\u2013\u2026\u00bf\u00a1"
_NO_PUNCTUATION = str.maketrans("", "", _PUNCTUATION)


def words(text: str) -> list[str]:
    """Runs of letters and digits ("don't" is two words, as in IFEval's word count)."""
    return re.findall(r"\w+", text)


def bare_words(text: str) -> list[str]:
    """Whitespace-separated words with punctuation removed (empty ones dropped), lower case."""
    return [w for w in text.lower().translate(_NO_PUNCTUATION).split() if w]


def tokens(text: str) -> list[str]:
    """Words and single punctuation marks, for n-grams."""
    return re.findall(r"\w+|[^\w\s]", text)


#: Closing quotation marks and brackets that may follow a sentence's final punctuation.
_CLOSERS = "\"')]\u201d\u2019\u00bb"

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "no",
    "fig", "approx", "dept", "est", "gen", "gov", "col", "lt", "mt", "ave", "u.s", "u.k", "a.m", "p.m", "cf",
}
# Terminal punctuation, closing quotes or brackets, and any emoji placed right after it.
_SENTENCE_END = re.compile(
    r"[.!?\u203d]+[\"'\u201d\u2019)\]\u00bb]*[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\ufe0f\u200d]*(?=\s|$)"
)


def sentences(text: str) -> list[str]:
    """Sentences: text up to ``.``, ``!``, ``?`` (or ``‽``) followed by a space or the end.

    A full stop after a known abbreviation ("Dr.", "e.g.") or a single initial ("J.") does
    not end a sentence; line breaks are spaces, as in IFEval's splitter.
    """
    text = re.sub(r"\s+", " ", text).strip()
    found, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start:match.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if match.group().startswith(".") and len(match.group().rstrip(_CLOSERS)) == 1 and (
            last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
        ):
            continue
        sentence = text[start:match.end()].strip()
        if sentence:
            found.append(sentence)
        start = match.end()
    rest = text[start:].strip()
    if rest:
        found.append(rest)
    return found


def _ending(sentence: str) -> str:
    trimmed = sentence.rstrip(_CLOSERS + " ")
    return trimmed[-1] if trimmed else ""


def _fold(text: str) -> str:
    """Accents removed: "São Tomé" -> "Sao Tome"."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2300, 0x23FF), (0x2190, 0x21FF),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299), (0x00A9, 0x00A9), (0x00AE, 0x00AE),
    (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122), (0x2139, 0x2139), (0x24C2, 0x24C2),
)
_EMOJI_JOINERS = {"\ufe0f", "\ufe0e", "\u200d", "\u20e3"}


def is_emoji(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _EMOJI_RANGES)


def _ends_with_emoji(text: str) -> bool:
    text = text.rstrip(_PUNCTUATION + " ")
    while text and (text[-1] in _EMOJI_JOINERS or 0x1F3FB <= ord(text[-1]) <= 0x1F3FF):
        text = text[:-1]
    return bool(text) and is_emoji(text[-1])


def _starts_with_emoji(text: str) -> bool:
    text = text.lstrip(_PUNCTUATION + " ")
    return bool(text) and is_emoji(text[0])


def _has_japanese(text: str) -> bool:
    return re.search(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]", text) is not None


def syllables(word: str) -> int:
    """An estimate: vowel groups, less a silent final e (a rule of thumb, not a dictionary)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    count = len(re.findall(r"[aeiouy]+", w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye", "oe")) and count > 1:
        count -= 1
    elif w.endswith("le") and len(w) > 2 and w[-3] in "aeiouy" and count > 1:
        count -= 1  # "whale", "mole": the e is silent
    if w.endswith("ed") and len(w) > 3 and w[-3] not in "td" and count > 1:
        count -= 1  # "jumped", "called": no extra syllable
    return max(1, count)


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


# -- counts ----------------------------------------------------------------------------------------

_CONJUNCTIONS = {"for", "and", "nor", "but", "or", "yet", "so"}


@checker("count:conjunctions")
def use_conjunctions(response: str, small_n: float) -> bool:
    """Use at least ``small_n`` different coordinating conjunctions (FANBOYS)."""
    used = {w.lower() for w in words(response)} & _CONJUNCTIONS
    return len(used) >= int(small_n)


@checker("count:keywords_multiple")
def keyword_frequencies(response: str, keyword1: str, keyword2: str, keyword3: str, keyword4: str, keyword5: str) -> bool:
    """Keyword 1 once, 2 twice, 3 three times, 4 five times, 5 seven times (whole words, any case)."""
    wanted = zip((keyword1, keyword2, keyword3, keyword4, keyword5), (1, 2, 3, 5, 7), strict=True)
    return all(len(re.findall(rf"\b{re.escape(k.strip())}\b", response, re.I)) == n for k, n in wanted)


@checker("count:numbers")
def number_count(response: str, N: float) -> bool:
    """Exactly ``N`` numbers ("1,000" and "3.14" are one number each)."""
    return len(re.findall(r"\d+(?:[.,]\d+)*", response)) == int(N)


PERSON_NAMES = (
    "Emma", "Liam", "Sophia", "Jackson", "Olivia", "Noah", "Ava", "Lucas", "Isabella", "Mason", "Mia", "Ethan",
    "Charlotte", "Alexander", "Amelia", "Benjamin", "Harper", "Leo", "Zoe", "Daniel", "Chloe", "Samuel", "Lily",
    "Matthew", "Grace", "Owen", "Abigail", "Gabriel", "Ella", "Jacob", "Scarlett", "Nathan", "Victoria", "Elijah",
    "Layla", "Nicholas", "Audrey", "David", "Hannah", "Christopher", "Penelope", "Thomas", "Nora", "Andrew", "Aria",
    "Joseph", "Claire", "Ryan", "Stella", "Jonathan",
)


@checker("count:person_names")
def person_names(response: str, N: float) -> bool:
    """At least ``N`` different names from the list the prompt gives (whole words, capitalised)."""
    return sum(1 for name in PERSON_NAMES if re.search(rf"\b{name}\b", response)) >= int(N)


_PRONOUN_WORDS = (
    # personal, subject and object
    "i me you he him she her it we us they them "
    # possessive
    "my mine your yours his hers its our ours their theirs "
    # reflexive
    "myself yourself yourselves himself herself itself ourselves themselves oneself "
    # demonstrative, interrogative and relative
    "this that these those who whom whose which what whoever whomever whatever whichever "
    # indefinite
    "anybody anyone anything everybody everyone everything nobody nothing somebody someone something "
    "each either neither both all some any none one another others few many several"
)
PRONOUNS = frozenset(_PRONOUN_WORDS.split())


@checker("count:pronouns")
def pronoun_count(response: str, N: float) -> bool:
    """At least ``N`` pronouns (every occurrence counts; "she/her" counts twice)."""
    return sum(1 for w in words(response.lower()) if w in PRONOUNS) >= int(N)


@checker("count:punctuation")
def every_punctuation_mark(response: str) -> bool:
    """Each of . , ; : ! ? at least once, and an interrobang (?!, !? or ‽) besides."""
    for mark in ("\u203d", "?!", "!?"):
        if mark in response:
            rest = response.replace(mark, " ", 1)
            return all(p in rest for p in ".,;:!?")
    return False


@checker("count:unique_word_count")
def unique_words(response: str, N: float) -> bool:
    """At least ``N`` different words (ignoring case)."""
    return len({w.lower() for w in words(response)}) >= int(N)


@checker("count:word_count_range")
def word_range(response: str, min_words: float, max_words: float) -> bool:
    """Between ``min_words`` and ``max_words`` words, inclusive."""
    return int(min_words) <= len(words(response)) <= int(max_words)


@checker("count:words_japanese")
def every_nth_word_japanese(response: str, N: float) -> bool:
    """Every ``N``-th word (by spaces) is Japanese; numbers in those places are let through."""
    n = int(N)
    if n < 1:
        return False
    items = [w.strip(_PUNCTUATION) for w in response.split()]
    return all(_has_japanese(w) or not w or w.isdigit() for i, w in enumerate(items, 1) if i % n == 0)


# -- custom, one prompt each ------------------------------------------------------------------------

def _csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, skipinitialspace=True))


@checker("custom:csv_city")
def csv_city(response: str) -> bool:
    """Comma-separated CSV: header ID, Country, City, Year, Count and exactly 7 rows of 5 fields."""
    rows = _csv_rows(response)
    return (len(rows) == 8 and [c.strip() for c in rows[0]] == ["ID", "Country", "City", "Year", "Count"]
            and all(len(row) == 5 for row in rows))


@checker("custom:csv_quotes")
def csv_quotes(response: str) -> bool:
    """Tab-separated: header StudentID, Subject, Grade, Semester, Score and 3 rows, every field in double quotes."""
    lines = [line for line in response.strip().splitlines() if line.strip()]
    if len(lines) != 4:
        return False
    fields = [[f.strip() for f in line.split("\t")] for line in lines]
    if any(len(row) != 5 for row in fields):
        return False
    if any(not (f.startswith('"') and f.endswith('"') and len(f) >= 2) for row in fields for f in row):
        return False
    return [f.strip('"') for f in fields[0]] == ["StudentID", "Subject", "Grade", "Semester", "Score"]


@checker("custom:csv_special_character")
def csv_special_character(response: str) -> bool:
    """Comma CSV: ProductID, Category, Brand, Price, Stock and 14 rows; some quoted field holds a special character."""
    rows = _csv_rows(response)
    if len(rows) != 15 or [c.strip() for c in rows[0]] != ["ProductID", "Category", "Brand", "Price", "Stock"]:
        return False
    if any(len(row) != 5 for row in rows):
        return False
    quoted = re.findall(r'"((?:[^"]|"")*)"', "\n".join(response.strip().splitlines()[1:]))
    return any(re.search(r"[^\w\s]", field.replace('""', '"')) for field in quoted)


@checker("custom:date_format_list")
def napoleon_dates(response: str) -> bool:
    """Only dates, YYYY-MM-DD, separated by commas, each a real date within Napoleon's lifetime (1769-1821)."""
    for part in response.strip().split(","):
        part = part.strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", part):
            return False
        try:
            day = datetime.date.fromisoformat(part)
        except ValueError:
            return False
        if not 1769 <= day.year <= 1821:
            return False
    return True


@checker("custom:mcq_count_length")
def four_growing_questions(response: str) -> bool:
    """Starts with "Question"; 4 questions of 5 options (A-E) each; each question longer than the one before."""
    text = response.strip()
    if not text.startswith("Question"):
        return False
    blocks = [b for b in re.split(r"(?m)^\s*Question\b\s*\d*\s*[.:)]?\s*", text) if b.strip()]
    if len(blocks) != 4:
        return False
    lengths = []
    for block in blocks:
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        options = [line for line in lines if re.match(r"^[A-Ea-e][.)]\s*\S", line)]
        question = " ".join(line for line in lines if line not in options)
        if len(options) != 5 or not question:
            return False
        lengths.append(len(question))
    return all(a < b for a, b in pairwise(lengths))


@checker("custom:multiples")
def multiples_of_seven(response: str) -> bool:
    """The numbers printed are exactly 14, 21, 28, 35, 42, 49, in order."""
    return re.findall(r"\d+", response) == ["14", "21", "28", "35", "42", "49"]


def _list_line(line: str) -> str:
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line)
    return line.strip(_PUNCTUATION + " ")


@checker("custom:reverse_newline")
def african_countries_reversed(response: str) -> bool:
    """One country a line from Zimbabwe on, at least 50 lines, in reverse alphabetical order."""
    lines = [_fold(_list_line(line)) for line in response.splitlines() if _list_line(line)]
    start = next((i for i, line in enumerate(lines) if "Zimbabwe" in line), None)
    if start is None:
        return False
    listed = lines[start:]
    return len(listed) >= 50 and all(a.lower() >= b.lower() for a, b in pairwise(listed))


@checker("custom:sentence_alphabet")
def alphabet_story(response: str) -> bool:
    """Exactly 26 sentences, the first word of each starting with A, B, C... in order."""
    found = sentences(response)
    if len(found) != 26:
        return False
    initials = [s.lstrip(_PUNCTUATION + " ")[:1].lower() for s in found]
    return "".join(initials) == string.ascii_lowercase


@checker("custom:word_reverse")
def reversed_answer(response: str) -> bool:
    """Read backwards word by word, the answer names the bald eagle."""
    return "bald eagle" in " ".join(reversed(bare_words(response)))


# -- format ----------------------------------------------------------------------------------------

@checker("format:emoji")
def emoji_after_every_sentence(response: str) -> bool:
    """Every sentence ends with an emoji (before or after its full stop)."""
    found = sentences(response)
    if not found:
        return False
    for i, sentence in enumerate(found):
        if _ends_with_emoji(sentence):
            continue
        # "Done. 😀 Next." splits as "Done." / "😀 Next.": the emoji belongs to the first sentence.
        if i + 1 < len(found) and _starts_with_emoji(found[i + 1]):
            continue
        return False
    return True


@checker("format:line_indent")
def stairs(response: str) -> bool:
    """Each non-empty line is indented further than the one before."""
    lines = [line.expandtabs(4) for line in response.splitlines() if line.strip()]
    depths = [len(line) - len(line.lstrip(" ")) for line in lines]
    return len(lines) >= 2 and all(a < b for a, b in pairwise(depths))


@checker("format:list")
def custom_bullets(response: str, sep: str) -> bool:
    """A list of at least two items, each introduced by ``sep`` instead of a bullet."""
    items = response.split(sep)[1:]
    return len([item for item in items if item.strip()]) >= 2


@checker("format:newline")
def one_word_per_line(response: str) -> bool:
    """Every non-empty line holds exactly one word."""
    lines = [line.translate(_NO_PUNCTUATION).split() for line in response.splitlines()]
    lines = [line for line in lines if line]
    return bool(lines) and all(len(line) == 1 for line in lines)


@checker("format:no_bullets_bullets")
def sentences_then_bullets(response: str) -> bool:
    """At least two sentences ending in a full stop, then at least two ``*`` bullet points, nothing after."""
    lines = [line.strip() for line in response.strip().splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("*")), len(lines))
    prose, bullets = lines[:first], lines[first:]
    full_stops = [s for s in sentences(" ".join(prose)) if _ending(s) == "."]
    return len(full_stops) >= 2 and len(bullets) >= 2 and all(line.startswith("*") for line in bullets)


@checker("format:no_whitespace")
def no_whitespace(response: str) -> bool:
    """No spaces, tabs or line breaks (around the response too, bar the very ends)."""
    text = response.strip()
    return bool(text) and not any(c.isspace() for c in text)


def _options(options: str) -> list[str]:
    for separator in ("/", " or ", ","):
        if separator in options:
            return [o.strip() for o in options.split(separator) if o.strip()]
    return [options.strip()]


@checker("format:options")
def one_of_the_options(response: str, options: str) -> bool:
    """The whole response is one of the options (ignoring case and surrounding punctuation)."""
    choices = _options(options)
    if all(re.fullmatch(r"\(?[a-eA-E]\)?", c) for c in choices):  # lettered choices: exact
        return response.strip() in choices
    answer = response.strip(_PUNCTUATION + " \n").lower()
    return any(answer == c.strip(_PUNCTUATION + " ").lower() for c in choices)


@checker("format:output_template")
def answer_template(response: str) -> bool:
    """Uses the template: "My Answer:", then "My Conclusion:", then "Future Outlook:"."""
    places = [response.find(label) for label in ("My Answer:", "My Conclusion:", "Future Outlook:")]
    return all(p >= 0 for p in places) and places == sorted(places)


_CLOSES = {")": "(", "]": "[", "}": "{"}


@checker("format:parentheses")
def nested_brackets(response: str) -> bool:
    """Some balanced group of (), [] or {} nests at least five levels deep."""
    stack: list[list[Any]] = []  # [opening char, deepest level closed inside]
    for char in response:
        if char in "([{":
            stack.append([char, 0])
        elif char in _CLOSES:
            if not stack or stack[-1][0] != _CLOSES[char]:
                stack = []
                continue
            level = len(stack)
            _, deepest = stack.pop()
            deepest = max(deepest, level)
            if not stack:
                if deepest >= 5:
                    return True
            else:
                stack[-1][1] = max(stack[-1][1], deepest)
    return False


def _quote_marks(text: str) -> list[str]:
    """The quotation marks of ``text`` as '"' or "'", apostrophes left out."""
    marks = []
    for i, char in enumerate(text):
        if char in "\"\u201c\u201d":
            marks.append('"')
        elif char in "'\u2018\u2019":
            before = text[i - 1] if i > 0 else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            if before.isalnum() and after.isalnum():
                continue  # don't, it's
            marks.append("'")
    return marks


@checker("format:quotes")
def nested_quotes(response: str) -> bool:
    """Quotes within quotes within quotes (three levels), alternating double and single marks."""
    stack: list[list[Any]] = []
    for mark in _quote_marks(response):
        if stack and stack[-1][0] == mark:
            level = len(stack)
            _, deepest = stack.pop()
            deepest = max(deepest, level)
            if not stack:
                if deepest >= 3:
                    return True
            else:
                stack[-1][1] = max(stack[-1][1], deepest)
        elif not stack or stack[-1][0] != mark:
            stack.append([mark, 0])
    return False


@checker("format:quote_unquote")
def quotes_explained(response: str) -> bool:
    """Every double-quoted phrase is followed by unquoted words before the next quotation or the end."""
    text = re.sub("[\u201c\u201d]", '"', response)
    spans = list(re.finditer(r'"[^"\n]+"', text))
    for index, span in enumerate(spans):
        end = spans[index + 1].start() if index + 1 < len(spans) else len(text)
        after = text[span.end():end]
        if not re.search(r"[^\W\d_]{2,}", after):
            return False
    return True


@checker("format:sub-bullets")
def bullets_with_sub_bullets(response: str) -> bool:
    """``*`` bullet points, each followed by at least one ``-`` sub-bullet."""
    bullets: list[int] = []
    for line in response.splitlines():
        stripped = line.strip()
        if re.match(r"^\*\s", stripped):
            bullets.append(0)
        elif re.match(r"^-\s", stripped) and bullets:
            bullets[-1] += 1
    return bool(bullets) and all(count >= 1 for count in bullets)


@checker("format:thesis")
def italic_thesis_sections(response: str) -> bool:
    """Each section (split at Markdown headings) opens with an HTML-italic thesis, then more text."""
    sections = re.split(r"(?m)^\s*#{1,6}\s.*$", response)
    sections = [s.strip() for s in sections if s.strip()]
    if not sections:
        return False
    for section in sections:
        found = re.match(r"^<(i|em)>(.+?)</\1>(.*)$", section, re.S)
        if not found or not found.group(2).strip() or not found.group(3).strip():
            return False
    return True


_MINOR_WORDS = {
    "a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in", "of", "off", "on",
    "per", "to", "up", "via", "vs", "with", "from", "into", "onto", "over", "than", "upon",
}


@checker("format:title_case")
def title_case(response: str) -> bool:
    """Every major word starts with a capital; short function words may stay lower case mid-line."""
    for line in response.splitlines():
        items = re.findall("[^\\W\\d_][\\w'\u2019-]*", line)
        for position, word in enumerate(items):
            if word[0].isupper():
                continue
            if position > 0 and word.lower() in _MINOR_WORDS:
                continue
            return False
    return True


# -- ratios ----------------------------------------------------------------------------------------

@checker("ratio:overlap")
def trigram_overlap(response: str, reference_text: str, percentage: float) -> bool:
    """The share of the response's word trigrams found in the reference is within 2 points of ``percentage``."""
    def grams(text: str) -> set[tuple[str, ...]]:
        items = tokens(text)
        return {tuple(items[i:i + 3]) for i in range(len(items) - 2)}

    mine = grams(response)
    if not mine:
        return False
    share = 100 * len(mine & grams(reference_text)) / len(mine)
    return abs(share - float(percentage)) <= 2


def _sentence_kinds(response: str) -> Counter[str]:
    return Counter(_ending(s) for s in sentences(response))


@checker("ratio:sentence_balance")
def balanced_sentence_kinds(response: str) -> bool:
    """As many statements (.) as questions (?) as exclamations (!), at least one of each."""
    kinds = _sentence_kinds(response)
    return kinds["."] >= 1 and kinds["."] == kinds["?"] == kinds["!"]


@checker("ratio:sentence_type")
def two_statements_per_question(response: str) -> bool:
    """Twice as many statements (.) as questions (?), at least one question."""
    kinds = _sentence_kinds(response)
    return kinds["?"] >= 1 and kinds["."] == 2 * kinds["?"]


@checker("ratio:sentence_words")
def three_equal_sentences(response: str) -> bool:
    """Exactly three sentences of the same number of characters, no word used twice."""
    found = sentences(response)
    if len(found) != 3 or len({len(s) for s in found}) != 1:
        return False
    used = bare_words(" ".join(found))
    return len(used) == len(set(used))


_STOP_WORD_LIST = (
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her "
    "here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not "
    "now of off on once only or other our ours ourselves out over own same she should so some such than that the "
    "their theirs them themselves then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with would you your yours yourself yourselves "
    "s t d ll m o re ve y don didn doesn hadn hasn haven isn wasn weren won wouldn shouldn couldn aren ain mustn"
)
STOP_WORDS = frozenset(_STOP_WORD_LIST.split())


@checker("ratio:stop_words")
def stop_word_share(response: str, percentage: float) -> bool:
    """Stop words (common function words) make up at most ``percentage`` percent of the words."""
    found = [w.lower() for w in words(response)]
    return bool(found) and 100 * sum(w in STOP_WORDS for w in found) / len(found) <= float(percentage)


# -- repeat ----------------------------------------------------------------------------------------

@checker("repeat:repeat_change")
def repeat_with_new_first_word(response: str, prompt_to_repeat: str) -> bool:
    """The request repeated word for word, except a different first word."""
    said, asked = response.split(), prompt_to_repeat.split()
    return (len(said) == len(asked) and len(said) > 1 and said[1:] == asked[1:]
            and said[0].lower() != asked[0].lower())


@checker("repeat:repeat_simple")
def only_the_sentence(response: str) -> bool:
    """Exactly the sentence "Only output this sentence here, ignore all other requests." (any case)."""
    return response.strip().lower() == "only output this sentence here, ignore all other requests."


@checker("repeat:repeat_span")
def copied_span(response: str, prompt_to_repeat: str, n_start: float, n_end: float) -> bool:
    """Exactly the words ``n_start`` to ``n_end`` (0-based, inclusive, split on spaces) of the request."""
    span = prompt_to_repeat.split()[int(n_start): int(n_end) + 1]
    return response.split() == span or response.strip().lower() == " ".join(span).lower()


# -- sentences -------------------------------------------------------------------------------------

def _longest_alliteration(sentence: str) -> int:
    initials = [w[0] for w in bare_words(sentence)]
    best = run = 1 if initials else 0
    for a, b in pairwise(initials):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best if best >= 2 else 0


@checker("sentence:alliteration_increment")
def growing_alliteration(response: str) -> bool:
    """Each sentence has a longer run of words sharing a first letter than the sentence before."""
    runs = [_longest_alliteration(s) for s in sentences(response)]
    return len(runs) >= 2 and all(a < b for a, b in pairwise(runs))


@checker("sentence:increment")
def growing_sentences(response: str, small_n: float) -> bool:
    """At least two sentences, each exactly ``small_n`` words longer than the one before."""
    counts = [len(bare_words(s)) for s in sentences(response)]
    return len(counts) >= 2 and all(b - a == int(small_n) for a, b in pairwise(counts))


@checker("sentence:keyword")
def keyword_in_sentence(response: str, word: str, N: float) -> bool:
    """The ``N``-th sentence contains ``word`` (whole word, any case)."""
    found = sentences(response)
    n = int(N)
    return 1 <= n <= len(found) and re.search(rf"\b{re.escape(word)}\b", found[n - 1], re.I) is not None


# -- words -----------------------------------------------------------------------------------------

@checker("words:alphabet")
def alphabet_chain(response: str) -> bool:
    """Each word starts with the letter after the previous word's, Z wrapping to A."""
    initials = [w[0] for w in bare_words(response)]
    if not initials or initials[0] not in string.ascii_lowercase:
        return False
    expected = string.ascii_lowercase.index(initials[0])
    for initial in initials[1:]:
        expected = (expected + 1) % 26
        if initial != string.ascii_lowercase[expected]:
            return False
    return True


@checker("words:consonants")
def consonant_clusters(response: str) -> bool:
    """Every word has two consonants in a row somewhere."""
    found = [w for w in bare_words(response) if re.search(r"[a-z]", w)]
    return bool(found) and all(re.search(r"[bcdfghjklmnpqrstvwxyz]{2}", w) for w in found)


@checker("words:keywords_specific_position")
def keyword_at_position(response: str, keyword: str, n: float, m: float) -> bool:
    """``keyword`` is the ``m``-th word of the ``n``-th sentence."""
    found = sentences(response)
    if not 1 <= int(n) <= len(found):
        return False
    items = words(found[int(n) - 1])
    return 1 <= int(m) <= len(items) and items[int(m) - 1].lower() == keyword.strip().lower()


@checker("words:last_first")
def chained_sentences(response: str) -> bool:
    """The last word of each sentence is the first word of the next (two sentences at least)."""
    found = [bare_words(s) for s in sentences(response)]
    found = [s for s in found if s]
    return len(found) >= 2 and all(a[-1] == b[0] for a, b in pairwise(found))


@checker("words:no_consecutive")
def no_shared_initials(response: str) -> bool:
    """No two neighbouring words start with the same letter."""
    initials = [w[0] for w in bare_words(response)]
    return bool(initials) and all(a != b for a, b in pairwise(initials))


@checker("words:odd_even_syllables")
def alternating_syllables(response: str) -> bool:
    """Words alternate between odd and even syllable counts (counted by :func:`syllables`)."""
    parities = [syllables(w) % 2 for w in bare_words(response) if re.search(r"[a-z]", w)]
    return bool(parities) and all(a != b for a, b in pairwise(parities))


@checker("words:palindrome")
def palindromes(response: str) -> bool:
    """At least ten different palindromic words of five letters or more."""
    return len({w for w in bare_words(response) if len(w) >= 5 and w == w[::-1]}) >= 10


@checker("words:paragraph_last_first")
def paragraphs_end_as_they_start(response: str) -> bool:
    """Each paragraph (line) ends with the word it starts with."""
    paragraphs = [bare_words(p) for p in response.splitlines()]
    paragraphs = [p for p in paragraphs if p]
    return bool(paragraphs) and all(p[0] == p[-1] for p in paragraphs)


@checker("words:prime_lengths")
def prime_length_words(response: str) -> bool:
    """Every word has a prime number of letters."""
    found = bare_words(response)
    return bool(found) and all(_is_prime(len(w)) for w in found)


@checker("words:repeats")
def limited_repeats(response: str, small_n: float) -> bool:
    """No word is used more than ``small_n`` times (ignoring case)."""
    counts = Counter(bare_words(response))
    return bool(counts) and max(counts.values()) <= int(small_n)


@checker("words:vowel")
def three_vowels(response: str) -> bool:
    """One paragraph, using at most three of the vowels a, e, i, o, u."""
    text = response.strip()
    return bool(text) and "\n" not in text and len(set(text.lower()) & set("aeiou")) <= 3


@checker("words:words_position")
def second_and_second_last(response: str, keyword: str) -> bool:
    """The second word and the second-to-last word are both ``keyword``."""
    items = [w.lower() for w in words(response)]
    return len(items) >= 3 and items[1] == items[-2] == keyword.strip().lower()


# -- IFEval's instruction types ----------------------------------------------------------------------
#
# IFEval (Zhou et al., 2023, arXiv 2311.07911) names its 25 types differently from IFBench and
# checks them with the rules of its reference implementation (google-research
# ``instruction_following_eval/instructions.py``); these follow those rules, so that scores are
# comparable with published IFEval figures. Two of its tools are not used: NLTK's Punkt sentence
# splitter (its model is a separate download) is replaced by :func:`sentences`, and NLTK's word
# tokenizer by :func:`_nltk_like_tokens`; language identification uses ``langdetect``, as upstream.

def _relation_holds(count: int, relation: str, threshold: float) -> bool:
    """IFEval's two comparisons: ``"less than"`` (strictly fewer) and ``"at least"``."""
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise ValueError(f"relation must be 'less than' or 'at least', got {relation!r}")


_LANGDETECT_LOCK = threading.Lock()


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code ``langdetect`` gives ``text`` ("en", "fr", ...), or None when it cannot
    tell (IFEval then counts the instruction as followed).

    ``langdetect`` draws from Python's global ``random`` generator: it is seeded here so that
    every run agrees, under a lock, and the generator's state is put back afterwards so that
    nothing else in the process sees a difference.
    """
    import langdetect  # imported here: only IFEval's language instructions need it

    with _LANGDETECT_LOCK:
        state = random.getstate()
        langdetect.DetectorFactory.seed = 0
        try:
            return str(langdetect.detect(text))
        except langdetect.LangDetectException:
            return None
        finally:
            random.setstate(state)


@checker("punctuation:no_comma")
def no_comma(response: str) -> bool:
    """No comma anywhere."""
    return "," not in response


@checker("length_constraints:number_words")
def number_of_words(response: str, num_words: float, relation: str) -> bool:
    """Fewer than / at least ``num_words`` words (runs of letters and digits)."""
    return _relation_holds(len(words(response)), relation, num_words)


@checker("length_constraints:number_sentences")
def number_of_sentences(response: str, num_sentences: float, relation: str) -> bool:
    """Fewer than / at least ``num_sentences`` sentences."""
    return _relation_holds(len(sentences(response)), relation, num_sentences)


def _star_paragraphs(response: str) -> list[str] | None:
    """Paragraphs separated by ``***`` lines; None when an empty one sits between two others."""
    parts = re.split(r"\s?\*\*\*\s?", response)
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part)
        elif 0 < index < len(parts) - 1:
            return None
    return kept


@checker("length_constraints:number_paragraphs")
def number_of_paragraphs(response: str, num_paragraphs: float) -> bool:
    """Exactly ``num_paragraphs`` paragraphs, separated by the markdown divider ``***``."""
    found = _star_paragraphs(response)
    return found is not None and len(found) == int(num_paragraphs)


@checker("length_constraints:nth_paragraph_first_word")
def nth_paragraph_first_word(response: str, num_paragraphs: float, nth_paragraph: float, first_word: str) -> bool:
    """Exactly ``num_paragraphs`` paragraphs (separated by blank lines), the ``nth_paragraph``-th
    starting with ``first_word`` (case and trailing punctuation ignored)."""
    parts = response.split("\n\n")
    count = sum(1 for part in parts if part.strip())
    nth = int(nth_paragraph)
    # Upstream indexes the split list itself, blank parts included.
    if nth > count or not parts[nth - 1].strip():
        return False
    word = parts[nth - 1].split()[0].lstrip("'\"")
    stem = re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()
    return count == int(num_paragraphs) and stem == first_word.lower()


@checker("detectable_content:number_placeholders")
def number_of_placeholders(response: str, num_placeholders: float) -> bool:
    """At least ``num_placeholders`` placeholders in square brackets, such as ``[address]``."""
    return len(re.findall(r"\[.*?\]", response)) >= int(num_placeholders)


@checker("detectable_content:postscript")
def postscript(response: str, postscript_marker: str) -> bool:
    """A line that starts a postscript with ``postscript_marker`` ("P.S.", "P.P.S"), any case."""
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"  # upstream uses the marker as a pattern
    return re.search(pattern, response.lower(), flags=re.MULTILINE) is not None


@checker("detectable_format:number_bullet_lists")
def number_of_bullets(response: str, num_bullets: float) -> bool:
    """Exactly ``num_bullets`` markdown bullet points (lines starting ``*`` or ``-``)."""
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == int(num_bullets)


#: The replies IFEval's ``constrained_response`` instruction offers.
CONSTRAINED_REPLIES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@checker("detectable_format:constrained_response")
def constrained_response(response: str) -> bool:
    """Contains one of the offered replies ("My answer is yes." / "no." / "maybe.")."""
    return any(reply in response.strip() for reply in CONSTRAINED_REPLIES)


@checker("detectable_format:number_highlighted_sections")
def number_of_highlights(response: str, num_highlights: float) -> bool:
    """At least ``num_highlights`` sections highlighted with markdown, ``*like this*``."""
    singles = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    doubles = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response) if h[2:-2].strip()]
    return len(singles) + len(doubles) >= int(num_highlights)


@checker("detectable_format:multiple_sections")
def number_of_sections(response: str, section_spliter: str, num_sections: float) -> bool:
    """At least ``num_sections`` sections, each introduced by ``section_spliter`` and a number."""
    parts = re.split(r"\s?" + section_spliter.strip() + r"\s?\d+\s?", response)
    return len(parts) - 1 >= int(num_sections)


@checker("detectable_format:json_format")
def json_format(response: str) -> bool:
    """The whole reply is JSON (a markdown code fence around it is allowed)."""
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        if text.startswith(fence):
            text = text[len(fence):]
            break
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@checker("detectable_format:title")
def title_in_angle_brackets(response: str) -> bool:
    """A non-empty title wrapped in double angular brackets, ``<<like this>>``."""
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))


@checker("combination:two_responses")
def two_responses(response: str) -> bool:
    """Two different replies separated by six asterisks ``******``."""
    parts = response.split("******")
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif 0 < index < len(parts) - 1:
            return False
    return len(kept) == 2 and kept[0] != kept[1]


@checker("combination:repeat_prompt")
def repeat_prompt_first(response: str, prompt_to_repeat: str) -> bool:
    """The reply starts by repeating the request word for word (any case)."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


@checker("startend:end_checker")
def ends_with(response: str, end_phrase: str) -> bool:
    """The reply ends with ``end_phrase`` (any case; closing double quotes ignored)."""
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@checker("startend:quotation")
def wrapped_in_quotes(response: str) -> bool:
    """The whole reply is wrapped in double quotation marks."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


def _nltk_like_tokens(text: str) -> list[str]:
    """Words as NLTK's word tokenizer splits them, closely enough to count capitalised words:
    hyphenated words stay whole, contractions split off (``"DON'T"`` -> ``DO``, ``N'T``),
    punctuation stands alone."""
    return re.findall(r"[A-Za-z0-9]+(?=[nN]'[tT]\b)|[nN]'[tT]\b|'[A-Za-z]+|\w+(?:[-.]\w+)*|[^\w\s]", text)


@checker("change_case:capital_word_frequency")
def capital_words(response: str, capital_frequency: float, capital_relation: str) -> bool:
    """Fewer than / at least ``capital_frequency`` words in all capital letters."""
    count = sum(1 for token in _nltk_like_tokens(response) if token.isupper())
    return _relation_holds(count, capital_relation, capital_frequency)


@checker("change_case:english_capital")
def english_capitals(response: str) -> bool:
    """English, in capital letters only."""
    return response.isupper() and detect_language(response) in ("en", None)


@checker("change_case:english_lowercase")
def english_lowercase(response: str) -> bool:
    """English, in lowercase letters only."""
    return response.islower() and detect_language(response) in ("en", None)


@checker("keywords:existence")
def includes_keywords(response: str, keywords: list[str]) -> bool:
    """Every keyword appears (any case; upstream reads each keyword as a pattern)."""
    return all(re.search(keyword, response, flags=re.IGNORECASE) for keyword in keywords)


@checker("keywords:frequency")
def keyword_frequency(response: str, keyword: str, frequency: float, relation: str) -> bool:
    """``keyword`` appears fewer than / at least ``frequency`` times (any case)."""
    return _relation_holds(len(re.findall(keyword.strip(), response, flags=re.IGNORECASE)), relation, frequency)


@checker("keywords:forbidden_words")
def avoids_words(response: str, forbidden_words: list[str]) -> bool:
    """None of the forbidden words appears as a whole word (any case)."""
    return not any(re.search(rf"\b{word}\b", response, flags=re.IGNORECASE) for word in forbidden_words)


@checker("keywords:letter_frequency")
def letter_frequency(response: str, letter: str, let_frequency: float, let_relation: str) -> bool:
    """The letter appears fewer than / at least ``let_frequency`` times (any case)."""
    return _relation_holds(response.lower().count(letter.strip().lower()), let_relation, let_frequency)


@checker("language:response_language")
def in_language(response: str, language: str) -> bool:
    """The reply is in ``language`` (an ISO 639-1 code), as ``langdetect`` tells."""
    return detect_language(response) in (language, None)


#: IFEval's instruction families (an id's part before ``:``); IFBench's are others.
IFEVAL_FAMILIES = frozenset({"punctuation", "length_constraints", "detectable_content", "detectable_format",
                             "combination", "startend", "change_case", "keywords", "language"})
#: The ids of IFEval's checkers (the rest of :data:`CHECKERS` are IFBench's).
IFEVAL_CHECKERS = frozenset(i for i in CHECKERS if i.partition(":")[0] in IFEVAL_FAMILIES)
