"""IFBench's ``sentence:*`` instructions: alliteration, length and keywords sentence by sentence.
"""

from __future__ import annotations

import re
from itertools import pairwise

from ..registry import checker
from ..text import bare_words, sentences


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

