"""IFBench's ``ratio:*`` instructions: shares of trigrams, sentence kinds and stop words.
"""

from __future__ import annotations

from collections import Counter

from ..registry import checker
from ..text import bare_words, end_mark, sentences, tokens, words


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
    return Counter(end_mark(s) for s in sentences(response))


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

