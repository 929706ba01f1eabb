"""Finding the answer in what a model wrote: numbers and multiple-choice letters.

Instruct models rarely answer in the exact format a benchmark expects; they say "The answer
is **18**." or "(B) Paris". These pure functions recover the answer the model meant, and
return ``None`` when it said none, so that a scorer can tell a wrong answer from a missing
one. They never raise on any text, and take time linear in its length. The phrasings each one
understands are listed, as readable tables, in ``tests/test_extract.py``, ``tests/test_latex.py``
and (real GSM8K replies) ``tests/test_gsm8k_replies.py``. They read the text they are given:
a reasoning trace is separated from the final answer before, by
:func:`pytest_llmeval.scoring.normalize.normalize`.

They live in :mod:`~pytest_llmeval.scoring.written_numbers` (reading one number, comparing
two), :mod:`~pytest_llmeval.scoring.number_answers` (the number a reply gives) and
:mod:`~pytest_llmeval.scoring.letter_answers` (the letter it gives); this module gathers them.
"""

from __future__ import annotations

from .letter_answers import choice_letter
from .number_answers import flexible_number, strict_number
from .written_numbers import normalize_number, numbers_equal

__all__ = ["choice_letter", "flexible_number", "normalize_number", "numbers_equal", "strict_number"]
