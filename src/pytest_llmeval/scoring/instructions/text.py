"""Text tools shared by the instruction checkers: words, sentences, punctuation, emoji, syllables.

Written without NLP libraries: sentences are split on terminal punctuation, words are runs of
letters and digits, syllables are counted by a vowel-group rule.
"""

from __future__ import annotations

import re
import string

#: Punctuation a checker ignores: ASCII's, and typographic quotes, guillemets, dashes, ellipsis
#: and inverted marks.
PUNCTUATION = string.punctuation + "\u201c\u201d\u2018\u2019\u00ab\u00bb\u2014\u2013\u2026\u00bf\u00a1"
#: A ``str.translate`` table that removes :data:`PUNCTUATION`.
NO_PUNCTUATION = str.maketrans("", "", PUNCTUATION)


def words(text: str) -> list[str]:
    """Runs of letters and digits ("don't" is two words, as in IFEval's word count)."""
    return re.findall(r"\w+", text)


def bare_words(text: str) -> list[str]:
    """Whitespace-separated words with punctuation removed (empty ones dropped), lower case."""
    return [w for w in text.lower().translate(NO_PUNCTUATION).split() if w]


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


def end_mark(sentence: str) -> str:
    """A sentence's last character once closing quotes, brackets and spaces are dropped
    (its final punctuation mark, as a rule); "" for an empty sentence."""
    trimmed = sentence.rstrip(_CLOSERS + " ")
    return trimmed[-1] if trimmed else ""


_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2300, 0x23FF), (0x2190, 0x21FF),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299), (0x00A9, 0x00A9), (0x00AE, 0x00AE),
    (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122), (0x2139, 0x2139), (0x24C2, 0x24C2),
)
_EMOJI_JOINERS = {"\ufe0f", "\ufe0e", "\u200d", "\u20e3"}


def is_emoji(char: str) -> bool:
    """Whether one character lies in an emoji or pictograph block (symbols such as © included)."""
    code = ord(char)
    return any(low <= code <= high for low, high in _EMOJI_RANGES)


def ends_with_emoji(text: str) -> bool:
    """Whether ``text`` ends with an emoji, trailing punctuation, variation selectors, joiners
    and skin-tone modifiers aside."""
    text = text.rstrip(PUNCTUATION + " ")
    while text and (text[-1] in _EMOJI_JOINERS or 0x1F3FB <= ord(text[-1]) <= 0x1F3FF):
        text = text[:-1]
    return bool(text) and is_emoji(text[-1])


def starts_with_emoji(text: str) -> bool:
    """Whether ``text`` starts with an emoji, leading punctuation and spaces aside."""
    text = text.lstrip(PUNCTUATION + " ")
    return bool(text) and is_emoji(text[0])


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

