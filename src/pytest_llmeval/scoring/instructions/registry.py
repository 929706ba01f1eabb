"""The checker registry and the two ways of applying it (IFEval's strict and loose modes).

A checker is a pure function ``check(response, **kwargs) -> bool``; :func:`checker` registers
one under its instruction id in :data:`CHECKERS`. :func:`check` applies one instruction to a
response as it is (strict); :func:`check_loose` forgives a preamble and Markdown emphasis;
:func:`evaluate` does both for every instruction of an item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..metrics import INSTRUCTION_LOOSE, INSTRUCTION_STRICT

Checker = Callable[..., bool]

#: Every implemented checker, by IFBench instruction id.
CHECKERS: dict[str, Checker] = {}

#: IFBench instruction ids with no checker, and why.
UNSUPPORTED: dict[str, str] = {
    "words:start_verb": "deciding whether the first word is a verb needs a part-of-speech tagger",
    "custom:european_capitals_sort": "the answer key is a world-knowledge list (capitals by latitude), "
                                     "not a property of the response's form",
}


def checker(instruction_id: str) -> Callable[[Checker], Checker]:
    """A decorator that registers a checker in :data:`CHECKERS` under ``instruction_id``.

    Example::

        @checker("punctuation:no_comma")
        def no_comma(response: str) -> bool:
            return "," not in response
    """
    def register(function: Checker) -> Checker:
        CHECKERS[instruction_id] = function
        return function

    return register


def supported(instruction_id: str) -> bool:
    """Whether ``instruction_id`` has a checker."""
    return instruction_id in CHECKERS


def clean_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """IFBench rows list every argument name with null for the unused ones: keep the used ones."""
    return {key: value for key, value in (kwargs or {}).items() if value is not None}


def check(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether ``response`` follows one instruction (strict mode).

    An empty response follows none: "every quoted phrase is explained" is not met by silence.
    """
    try:
        function = CHECKERS[instruction_id]
    except KeyError:
        raise KeyError(f"no checker for instruction {instruction_id!r}") from None
    return bool(response.strip()) and bool(function(response, **clean_kwargs(kwargs)))


def loose_variants(response: str) -> list[str]:
    """The response and seven forgiving variants of it (IFEval's loose mode)."""
    lines = response.split("\n")
    cuts = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [variant for cut in cuts for variant in (cut, cut.replace("*", ""))]


def check_loose(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether any loose variant of ``response`` follows the instruction."""
    return any(check(instruction_id, variant, kwargs) for variant in loose_variants(response))


@dataclass(frozen=True)
class Evaluation:
    """Per-instruction verdicts for one response, in the order of the item's instructions."""

    instruction_ids: tuple[str, ...]
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    @property
    def all_strict(self) -> bool:
        return all(self.strict)

    @property
    def all_loose(self) -> bool:
        return all(self.loose)

    def missed_text(self) -> str:
        """What a failure says: ``"not followed: a, b"``, with ``" (followed in loose mode)"``
        when the loose reading follows them all; ``""`` when every instruction was followed."""
        missed = [i for i, ok in zip(self.instruction_ids, self.strict, strict=True) if not ok]
        if not missed:
            return ""
        return "not followed: " + ", ".join(missed) + (" (followed in loose mode)" if self.all_loose else "")

    def instruction_metrics(self) -> dict[str, float]:
        """The item's instruction-level metrics: ``instruction_strict`` / ``instruction_loose``
        (the share of its instructions followed) and their counts (``instructions``,
        ``instructions_followed_strict``, ``instructions_followed_loose``), which the scorecard
        pools over items (:data:`pytest_llmeval.scoring.metrics.POOLED_RATIOS`)."""
        given = len(self.instruction_ids)
        return {**INSTRUCTION_STRICT.item_metrics(sum(self.strict), given),
                **INSTRUCTION_LOOSE.item_metrics(sum(self.loose), given)}


def evaluate(instruction_ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any] | None], response: str) -> Evaluation:
    """Check every instruction of an item, strictly and loosely."""
    if len(instruction_ids) != len(kwargs_list):
        raise ValueError(f"{len(instruction_ids)} instructions but {len(kwargs_list)} kwargs")
    strict = tuple(check(i, response, k) for i, k in zip(instruction_ids, kwargs_list, strict=True))
    loose = tuple(s or check_loose(i, response, k) for i, k, s in zip(instruction_ids, kwargs_list, strict, strict=True))
    return Evaluation(tuple(instruction_ids), strict, loose)
