"""One run split across machines: each shard's scorecard (``--llm-shard=I/N``) and merging the
N of them into the scorecard of one run over all items (``--llm-merge``).

A shard's scorecard JSON holds its items' outcomes, the baseline's outcomes on the same items,
the settings that decide outcomes (``run.settings``) and which share it is (``run.shard``, see
:func:`shard_run`). Every item of the run is in exactly one shard, so the union of the shards'
``items`` is what one run over all items would have gathered, and :meth:`Scorecard.build` over
it gives the same tallies, intervals and baseline comparisons; the gate and the renderers then
take it as they take any run's. Shards that do not fit together are refused with a
:class:`MergeError` that names the files.

Example::

    shards = read_shards([Path("shard-1.json"), Path("shard-2.json"), Path("shard-3.json")])
    card = merge_shards(shards)
"""

from __future__ import annotations

import glob
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .card import ModelInfo, Scorecard, ScorecardError

#: The ``run`` keys that shards of one run share (the shard's own are ``args`` and ``shard``).
SHARED_RUN_KEYS = ("suites", "limit", "settings")


class MergeError(ValueError):
    """Shard scorecards that cannot be merged; the message names the files and what to do."""


def shard_run(index: int, total: int, *, complete: bool, failed_tests: int) -> dict[str, Any]:
    """The scorecard's ``run.shard`` of a shard run: ``{"index": 2, "total": 3, "complete": True,
    "failed_tests": 0}``. ``complete`` is False when the run stopped early (interrupted, ``-x``,
    ``--maxfail``); ``failed_tests`` counts its failed tests that are not benchmark items."""
    return {"index": index, "total": total, "complete": complete, "failed_tests": failed_tests}


@dataclass(frozen=True)
class Shard:
    """One shard's scorecard file, read back."""

    path: Path
    index: int
    total: int
    complete: bool
    failed_tests: int
    card: Scorecard

    @property
    def label(self) -> str:
        """``"shard-2.json (2/3)"``, how messages name it."""
        return f"{self.path.name} ({self.index}/{self.total})"

    @classmethod
    def read(cls, path: Path) -> Shard:
        """Read a shard's scorecard; raises :class:`MergeError` when it is not one."""
        try:
            card = Scorecard.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
        except ScorecardError as exc:
            raise MergeError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise MergeError(f"{path} is not a readable scorecard JSON ({exc})") from None
        shard = card.run.get("shard")
        if not isinstance(shard, Mapping):
            raise MergeError(f"{path} is not a shard's scorecard (it has no run.shard): merge the files written by "
                             f"pytest --llm-shard=I/N --llm-scorecard=PATH.json")
        try:
            index, total = int(shard["index"]), int(shard["total"])
            complete, failed = bool(shard.get("complete", True)), int(shard.get("failed_tests", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise MergeError(f"{path}: run.shard: expected index and total, got {dict(shard)!r} ({exc})") from None
        return cls(path, index, total, complete, failed, card)


def shard_files(patterns: Sequence[Path]) -> list[Path]:
    """The files that ``patterns`` name (glob patterns expanded, in sorted order), each once;
    raises :class:`MergeError` for a pattern that matches nothing."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        text = str(pattern)
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise MergeError(f"{pattern}: no such file. Name the shards' scorecard files (written by --llm-shard=I/N "
                             f"--llm-scorecard=PATH.json), or a quoted pattern such as 'shard-*.json'")
        found.update(dict.fromkeys(Path(m).resolve() for m in matches))
    return list(found)


def read_shards(patterns: Sequence[Path]) -> list[Shard]:
    """Every shard of one run, in shard order, checked to fit together (:func:`check_fit`)."""
    shards = sorted((Shard.read(path) for path in shard_files(patterns)), key=lambda s: (s.index, str(s.path)))
    check_fit(shards)
    return shards


def check_fit(shards: Sequence[Shard]) -> None:
    """Raise :class:`MergeError` unless ``shards`` are all N shards of one run, each once,
    finished, run with the same settings and models, and holding no item twice."""
    if not shards:
        raise MergeError("no shard scorecard to merge")
    first = shards[0]
    for shard in shards:
        if shard.total != first.total:
            raise MergeError(f"{shard.path} is shard {shard.index}/{shard.total} but {first.path} is shard "
                             f"{first.index}/{first.total}: merge the shards of one run (the same N)")
        if not shard.complete:
            raise MergeError(f"{shard.path}: that shard's run stopped before its end (interrupted, -x or --maxfail), so "
                             f"it lacks items: run shard {shard.index}/{shard.total} again")
    _check_each_shard_once(shards)
    for shard in shards[1:]:
        _check_same_run(first, shard)
    _check_no_overlap(shards)


def _check_each_shard_once(shards: Sequence[Shard]) -> None:
    seen: dict[int, Shard] = {}
    for shard in shards:
        if shard.index in seen:
            raise MergeError(f"shard {shard.index}/{shard.total} is given twice: {seen[shard.index].path} and "
                             f"{shard.path}; merge one file per shard")
        seen[shard.index] = shard
    total = shards[0].total
    missing = [i for i in range(1, total + 1) if i not in seen]
    if missing:
        given = ", ".join(s.label for s in shards)
        several = len(missing) > 1
        raise MergeError(f"shard{'s' if several else ''} {', '.join(f'{i}/{total}' for i in missing)} "
                         f"{'are' if several else 'is'} missing (given: {given}): a merge needs every shard of the run")


def _check_same_run(first: Shard, other: Shard) -> None:
    for key in SHARED_RUN_KEYS:
        mine, theirs = first.card.run.get(key), other.card.run.get(key)
        if mine == theirs:
            continue
        if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
            name = next(k for k in sorted({*mine, *theirs}) if mine.get(k) != theirs.get(k))
            key, mine, theirs = f"{key}.{name}", mine.get(name), theirs.get(name)
        raise MergeError(f"{other.path} was run with other settings than {first.path}: run.{key} is {theirs!r} in "
                         f"{other.path.name} and {mine!r} in {first.path.name}. Merge the shards of one run: the same "
                         f"command but for --llm-shard")
    mine_models, their_models = _roles(first.card.models), _roles(other.card.models)
    if mine_models != their_models:
        raise MergeError(f"{other.path} holds other models than {first.path}: {', '.join(their_models) or 'none'} in "
                         f"{other.path.name}, {', '.join(mine_models) or 'none'} in {first.path.name} (a baseline "
                         f"reachable on one machine only?). Merge shards whose models were the same")


def _roles(models: Sequence[ModelInfo]) -> list[str]:
    return [f"{m.name} ({m.role}{', ' + m.protocol if m.protocol else ''})" for m in models]


def _check_no_overlap(shards: Sequence[Shard]) -> None:
    owner: dict[tuple[str, str, str], Shard] = {}
    for shard in shards:
        # One shard may hold an item twice (two benchmark.each checks of it); two shards may not.
        for key in dict.fromkeys((o.model, o.benchmark, o.item) for o in shard.card.items):
            if key in owner:
                model, benchmark, item = key
                raise MergeError(f"{owner[key].path} and {shard.path} both hold {benchmark}[{item}] of {model}: shards "
                                 f"of one run share no item. Were they run with different versions or data?")
            owner[key] = shard


def merge_shards(shards: Sequence[Shard], args: Sequence[str] = ()) -> Scorecard:
    """The scorecard of one run over the shards' items (published figures not yet added: see
    :meth:`Scorecard.with_published`). ``run`` holds the shards' shared settings, ``args`` (the
    merging command line) and ``shards``: each file, its share, when it ran and its command line."""
    first = shards[0]
    run: dict[str, Any] = {key: first.card.run[key] for key in SHARED_RUN_KEYS if key in first.card.run}
    run["args"] = list(args)
    run["shards"] = [{"file": str(s.path), "shard": f"{s.index}/{s.total}", "created": s.card.created,
                      "args": list(s.card.run.get("args") or [])} for s in shards]
    items = [o for s in shards for o in s.card.items]
    return Scorecard.build(items, merged_models(shards), run)


def merged_models(shards: Sequence[Shard]) -> list[ModelInfo]:
    """Each model as the first shard that served it describes it (a shard answered entirely
    from the cache never built the backend, and shows only the model's spec)."""
    return [next((s.card.models[i] for s in shards if _served(s.card.models[i])), info)
            for i, info in enumerate(shards[0].card.models)]


def _served(info: ModelInfo) -> bool:
    # An unbuilt model is described by its spec, "scheme:target", with the scheme as backend.
    return not info.description.startswith(f"{info.backend}:")


def failed_tests_message(shards: Sequence[Shard]) -> str | None:
    """The FAILED line when tests other than benchmark items failed in some shard (they fail a
    run by themselves), else None."""
    failing = [s for s in shards if s.failed_tests]
    if not failing:
        return None
    count = sum(s.failed_tests for s in failing)
    where = ", ".join(f"{s.path.name}: {s.failed_tests}" for s in failing)
    return (f"{count} test{'s' if count > 1 else ''} other than benchmark items failed in the shards ({where}); "
            f"their runs show which")


def merged_note(shards: Sequence[Shard]) -> str:
    """The terminal's line saying what was merged."""
    return f"merged {len(shards)} shard scorecards: " + ", ".join(f"{s.label}: {len(s.card.items)} rows" for s in shards)
