"""IFBench's ``repeat:*`` instructions: repeating the request, whole or in part.
"""

from __future__ import annotations

from ..registry import checker


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

