"""IFBench's ``count:*`` instructions: how many conjunctions, keywords, numbers, names,
pronouns, punctuation marks and words a response uses.
"""

from __future__ import annotations

import re

from ..registry import checker
from ..text import PUNCTUATION, words


def _has_japanese(text: str) -> bool:
    return re.search(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]", text) is not None


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
    items = [w.strip(PUNCTUATION) for w in response.split()]
    return all(_has_japanese(w) or not w or w.isdigit() for i, w in enumerate(items, 1) if i % n == 0)

