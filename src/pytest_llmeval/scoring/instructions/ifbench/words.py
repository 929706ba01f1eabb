"""IFBench's ``words:*`` instructions: rules every word follows (initials, letters, syllables,
positions, repeats).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from itertools import pairwise

from ..registry import checker
from ..text import bare_words, sentences, syllables, words


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


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

