"""Response normalisation: the final answer, apart from the reasoning trace before it.

Reasoning models (DeepSeek-R1, Qwen3, QwQ, ...) think aloud before they answer. Served with a
reasoning parser, the trace arrives apart from the answer (the ``reasoning_content`` field of
OpenAI-compatible servers, which the backend puts in :attr:`Response.reasoning`); served without
one, or run locally through transformers, it sits in the text between tags such as
``<think>...</think>``. A scorer that read the whole text would take a number, a letter or a
function call the model only considered for its answer. :func:`normalize` runs before every
scorer and judge and leaves in ``text`` the final answer only.

The rules, for each pair of tags (matched without regard to case):

* the text inside a block is trace; the text outside every block is the answer, its pieces
  stripped and joined by a blank line (text before the first block counts as answer too);
* several blocks are all trace, in order, joined by a blank line;
* a closing tag with no opening tag before it closes a trace that began at the start of the
  reply (or at the end of the previous block): some chat templates put ``<think>`` in the
  prompt, so the reply starts inside the trace (DeepSeek-R1 and QwQ do this);
* a block that opens and never closes means the model never reached its answer (it was
  usually cut by the token limit): ``text`` is empty, everything goes to ``reasoning``, and
  ``meta["unclosed_reasoning"]`` is True, so a missing answer is told from a wrong one;
* other tags inside a block are part of the trace;
* a reply with no tag at all is left exactly as it is.

The rules follow what reasoning models emit and what servers' reasoning parsers do with it
(vLLM's ``deepseek_r1`` parser treats a reply without ``<think>`` but with ``</think>`` as
starting inside the trace; lm-evaluation-harness's ``strip_think`` filter drops an unclosed
trace); several blocks and configurable tags go beyond either.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from ..request import Response

__all__ = ["DEFAULT_REASONING_TAGS", "UNCLOSED_REASONING", "normalize", "split_reasoning"]

#: The tags a trace sits between unless told otherwise (DeepSeek-R1, Qwen3, QwQ, Phi-4-reasoning).
#: Others in use: ``("<reasoning>", "</reasoning>")``, ``("<thinking>", "</thinking>")``,
#: ``("<|begin_of_thought|>", "<|end_of_thought|>")`` (Sky-T1, OpenThinker).
DEFAULT_REASONING_TAGS: tuple[tuple[str, str], ...] = (("<think>", "</think>"),)

#: The ``Response.meta`` key set to True when a trace opened and never closed (no final answer).
UNCLOSED_REASONING = "unclosed_reasoning"


def normalize(response: Response, tags: Sequence[tuple[str, str]] = DEFAULT_REASONING_TAGS) -> Response:
    """A copy of ``response`` whose ``text`` is the final answer and ``reasoning`` the trace.

    A trace the backend already returned apart (``response.reasoning``) is kept, and one found
    in the text is appended to it after a blank line. ``tags`` are (opening, closing) pairs;
    see the module docstring for the rules. The input is not changed (a reply without a trace
    in its text is returned as it is); normalising twice gives the same result as once.

    Raises ``ValueError`` when a tag pair is not two non-empty strings.

    Example::

        reply = normalize(Response(text="<think>16 - 7 = 9 eggs... 9 * 2</think>The answer is 18."))
        reply.text       # "The answer is 18."
        reply.reasoning  # "16 - 7 = 9 eggs... 9 * 2"
        normalize(Response(text="<think>Let me see, 16 - 3")).meta  # {"unclosed_reasoning": True}
    """
    answer, trace, unclosed = split_reasoning(response.text, tags)
    if trace is None and not unclosed and answer == response.text:
        return response  # no tag in the text: nothing to change (every item of a run passes here)
    meta = dict(response.meta)
    if unclosed:
        meta[UNCLOSED_REASONING] = True
    reasoning = "\n\n".join(part for part in (response.reasoning, trace) if part) or response.reasoning
    return dataclasses.replace(response, text=answer, reasoning=reasoning, meta=meta, tool_calls=list(response.tool_calls))


def split_reasoning(text: str, tags: Sequence[tuple[str, str]] = DEFAULT_REASONING_TAGS) -> tuple[str, str | None, bool]:
    """``(answer, trace, unclosed)`` for one reply text, by the rules in the module docstring.

    ``trace`` is None when the text holds none (an empty ``<think></think>`` holds none);
    ``unclosed`` is True when a block never closed, and then ``answer`` is ``""``.

    Example::

        split_reasoning("weighing A...</think>\\n\\nThe answer is B.")  # ("The answer is B.", "weighing A...", False)
    """
    opening, closing, pattern = _compile(_checked(tags))
    pieces: list[tuple[bool, str]] = []  # (is trace, text), in reply order
    inside: str | None = None  # the closing tag awaited while inside a block
    start = 0
    for match in pattern.finditer(text):
        token = match.group(0).casefold()
        if inside is None and token in opening:
            pieces.append((False, text[start : match.start()]))
            inside, start = opening[token], match.end()
        elif inside is None and token in closing:
            # The reply began inside a trace whose opening tag was in the prompt.
            pieces.append((True, text[start : match.start()]))
            start = match.end()
        elif inside is not None and token == inside:
            pieces.append((True, text[start : match.start()]))
            inside, start = None, match.end()
    if not pieces:
        return text, None, False
    unclosed = inside is not None
    pieces.append((unclosed, text[start:]))
    if unclosed:
        # No final answer: keep every word the model wrote, in order, as the trace.
        pieces = [(True, piece) for _, piece in pieces]
    answer = _join(piece for is_trace, piece in pieces if not is_trace)
    trace = _join(piece for is_trace, piece in pieces if is_trace)
    return answer, trace or None, unclosed


def _join(pieces: Iterable[str]) -> str:
    return "\n\n".join(stripped for piece in pieces if (stripped := piece.strip()))


def _checked(tags: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``tags`` as a hashable tuple, or a ValueError that shows the expected shape (checked once
    per distinct tuple: every item of a run asks)."""
    if isinstance(tags, tuple) and tags in _CHECKED:
        return tags

    if isinstance(tags, str) or not tags:
        raise ValueError(f"reasoning tags must be (opening, closing) pairs such as ('<think>', '</think>'), got {tags!r}")
    for pair in tags:
        if (isinstance(pair, str) or len(pair) != 2
                or not all(isinstance(tag, str) and tag.strip() for tag in pair)):
            raise ValueError(f"each reasoning tag pair must be two non-empty strings (opening, closing), got {pair!r}")
    checked = tuple((pair[0], pair[1]) for pair in tags)
    if len(_CHECKED) < 16:
        _CHECKED.add(checked)
    return checked


_CHECKED: set[tuple[tuple[str, str], ...]] = set()


@lru_cache(maxsize=16)
def _compile(tags: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], set[str], re.Pattern[str]]:
    opening = {open_tag.casefold(): close_tag.casefold() for open_tag, close_tag in tags}
    closing = {close_tag.casefold() for _, close_tag in tags}
    # Longest first, so that a tag that begins another one never hides it.
    alternatives = sorted({tag for pair in tags for tag in pair}, key=len, reverse=True)
    return opening, closing, re.compile("|".join(re.escape(tag) for tag in alternatives), re.IGNORECASE)
