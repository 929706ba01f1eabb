"""Checkers for verifiable instructions: IFBench's and IFEval's constraint types.

Each checker is a pure function ``check(response, **kwargs) -> bool`` registered under its
instruction id: IFBench's (``count:numbers``, ``format:emoji``...) and IFEval's
(``punctuation:no_comma``, ``detectable_format:title``...). :func:`evaluate` runs the checkers
of one item in two modes, as IFEval and IFBench report them:

- *strict*: the response as it is;
- *loose*: the instruction counts as followed if any of eight variants of the response passes
  (with its first line, last line or both dropped, each with and without ``*`` removed),
  which forgives a preamble such as "Sure, here it is:" and Markdown emphasis.

IFBench's checkers are written from the instruction texts (what a reader would verify), without
NLP libraries: sentences are split on terminal punctuation, words are runs of letters and
digits, syllables are counted by a vowel-group rule. Two IFBench types are not implemented
(see :data:`UNSUPPORTED`); items that use them are not shipped. IFEval's follow the rules of
IFEval's reference implementation, with the same helpers (and ``langdetect`` for languages).

Where things are: ``registry.py`` (:data:`CHECKERS`, :func:`check`, :func:`evaluate`),
``text.py`` (words, sentences, syllables), ``ifbench/`` (one module per IFBench family, the
id's part before ``:``), ``ifeval.py`` (IFEval's types), ``language.py`` (``langdetect``).
This module only re-exports them.

Example::

    evaluate(["count:numbers"], [{"N": 2}], "Roughly 3 of 4 agreed.").strict  # [True]
"""

from __future__ import annotations

from .ifbench.count import (
    PERSON_NAMES,
    PRONOUNS,
    every_nth_word_japanese,
    every_punctuation_mark,
    keyword_frequencies,
    number_count,
    person_names,
    pronoun_count,
    unique_words,
    use_conjunctions,
    word_range,
)
from .ifbench.custom import (
    african_countries_reversed,
    alphabet_story,
    csv_city,
    csv_quotes,
    csv_special_character,
    four_growing_questions,
    multiples_of_seven,
    napoleon_dates,
    reversed_answer,
)
from .ifbench.format import (
    answer_template,
    bullets_with_sub_bullets,
    custom_bullets,
    emoji_after_every_sentence,
    italic_thesis_sections,
    nested_brackets,
    nested_quotes,
    no_whitespace,
    one_of_the_options,
    one_word_per_line,
    quotes_explained,
    sentences_then_bullets,
    stairs,
    title_case,
)
from .ifbench.ratio import (
    STOP_WORDS,
    balanced_sentence_kinds,
    stop_word_share,
    three_equal_sentences,
    trigram_overlap,
    two_statements_per_question,
)
from .ifbench.repeat import (
    copied_span,
    only_the_sentence,
    repeat_with_new_first_word,
)
from .ifbench.sentence import (
    growing_alliteration,
    growing_sentences,
    keyword_in_sentence,
)
from .ifbench.words import (
    alphabet_chain,
    alternating_syllables,
    chained_sentences,
    consonant_clusters,
    keyword_at_position,
    limited_repeats,
    no_shared_initials,
    palindromes,
    paragraphs_end_as_they_start,
    prime_length_words,
    second_and_second_last,
    three_vowels,
)
from .ifeval import (
    CONSTRAINED_REPLIES,
    IFEVAL_CHECKERS,
    IFEVAL_FAMILIES,
    avoids_words,
    capital_words,
    constrained_response,
    ends_with,
    english_capitals,
    english_lowercase,
    in_language,
    includes_keywords,
    json_format,
    keyword_frequency,
    letter_frequency,
    no_comma,
    nth_paragraph_first_word,
    number_of_bullets,
    number_of_highlights,
    number_of_paragraphs,
    number_of_placeholders,
    number_of_sections,
    number_of_sentences,
    number_of_words,
    postscript,
    repeat_prompt_first,
    title_in_angle_brackets,
    two_responses,
    wrapped_in_quotes,
)
from .language import (
    detect_language,
)
from .registry import (
    CHECKERS,
    UNSUPPORTED,
    Checker,
    Evaluation,
    check,
    check_loose,
    checker,
    clean_kwargs,
    evaluate,
    loose_variants,
    supported,
)
from .text import (
    NO_PUNCTUATION,
    PUNCTUATION,
    bare_words,
    end_mark,
    ends_with_emoji,
    is_emoji,
    sentences,
    starts_with_emoji,
    syllables,
    tokens,
    words,
)

__all__ = [
    "CHECKERS", "CONSTRAINED_REPLIES", "IFEVAL_CHECKERS", "IFEVAL_FAMILIES", "NO_PUNCTUATION", "PERSON_NAMES",
    "PRONOUNS", "PUNCTUATION", "STOP_WORDS", "UNSUPPORTED", "Checker", "Evaluation", "african_countries_reversed",
    "alphabet_chain", "alphabet_story", "alternating_syllables", "answer_template", "avoids_words",
    "balanced_sentence_kinds", "bare_words", "bullets_with_sub_bullets", "capital_words", "chained_sentences",
    "check", "check_loose", "checker", "clean_kwargs", "consonant_clusters", "constrained_response",
    "copied_span", "csv_city", "csv_quotes", "csv_special_character", "custom_bullets", "detect_language",
    "emoji_after_every_sentence", "end_mark", "ends_with", "ends_with_emoji", "english_capitals",
    "english_lowercase", "evaluate", "every_nth_word_japanese", "every_punctuation_mark",
    "four_growing_questions", "growing_alliteration", "growing_sentences", "in_language", "includes_keywords",
    "is_emoji", "italic_thesis_sections", "json_format", "keyword_at_position", "keyword_frequencies",
    "keyword_frequency", "keyword_in_sentence", "letter_frequency", "limited_repeats", "loose_variants",
    "multiples_of_seven", "napoleon_dates", "nested_brackets", "nested_quotes", "no_comma", "no_shared_initials",
    "no_whitespace", "nth_paragraph_first_word", "number_count", "number_of_bullets", "number_of_highlights",
    "number_of_paragraphs", "number_of_placeholders", "number_of_sections", "number_of_sentences",
    "number_of_words", "one_of_the_options", "one_word_per_line", "only_the_sentence", "palindromes",
    "paragraphs_end_as_they_start", "person_names", "postscript", "prime_length_words", "pronoun_count",
    "quotes_explained", "repeat_prompt_first", "repeat_with_new_first_word", "reversed_answer",
    "second_and_second_last", "sentences", "sentences_then_bullets", "stairs", "starts_with_emoji",
    "stop_word_share", "supported", "syllables", "three_equal_sentences", "three_vowels", "title_case",
    "title_in_angle_brackets", "tokens", "trigram_overlap", "two_responses", "two_statements_per_question",
    "unique_words", "use_conjunctions", "word_range", "words", "wrapped_in_quotes",
]
