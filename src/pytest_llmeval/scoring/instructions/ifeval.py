"""IFEval's 25 instruction types (Zhou et al., 2023, arXiv 2311.07911), checked by the rules of
its reference implementation.

IFEval names its types differently from IFBench and checks them with the rules of google-research
``instruction_following_eval/instructions.py``; these follow those rules, so that scores are
comparable with published IFEval figures. Two of its tools are not used: NLTK's Punkt sentence
splitter (its model is a separate download) is replaced by
:func:`~pytest_llmeval.scoring.instructions.text.sentences`, and NLTK's word tokenizer by
:func:`_nltk_like_tokens`; language identification uses ``langdetect``, as upstream
(:func:`~pytest_llmeval.scoring.instructions.language.detect_language`).
"""

from __future__ import annotations

import json
import re

from .language import detect_language
from .registry import CHECKERS, checker
from .text import sentences, words


def _relation_holds(count: int, relation: str, threshold: float) -> bool:
    """IFEval's two comparisons: ``"less than"`` (strictly fewer) and ``"at least"``."""
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise ValueError(f"relation must be 'less than' or 'at least', got {relation!r}")


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
