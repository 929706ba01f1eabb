"""Pairing recorded replies with the built-in benchmarks' items.

A recording made with another prompt than the plugin's cannot be found by its prompt text. It
is found by what the benchmark itself calls the item, its *natural key*: the GSM8K question
(or its position in the test file), the HumanEval ``task_id``, the MT-Bench ``question_id``,
the IFEval prompt (or its ``key``), the AlpacaEval instruction, the XSTest prompt. For each
built-in benchmark, :func:`item_keys` maps those natural keys to the item's name
``"benchmark[id]"`` (:func:`~pytest_llmeval.benchmarks.base.item_key`), with the id the
benchmark itself gives the row (:meth:`~pytest_llmeval.benchmarks.base.Benchmark.item_id`), so
a recording follows any change of the benchmark's ids.

Texts are compared whitespace-normalised (:func:`~pytest_llmeval.transcripts.normalize_prompt`).

Example::

    item_keys("mtbench")["81"]      # 'mtbench[q081]'
    item_keys("gsm8k")["line 0"]    # the first GSM8K test question's item
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from types import MappingProxyType

from ..benchmarks.base import Benchmark, item_key, number_repeats
from ..benchmarks.data import Row
from ..transcripts import Recording, normalize_prompt

NaturalKeys = Callable[[int, Row], list[str]]


def _text(field: str) -> NaturalKeys:
    return lambda position, row: [normalize_prompt(str(row[field]))]


def _gsm8k(position: int, row: Row) -> list[str]:
    return [normalize_prompt(str(row["question"])), f"line {position}"]


def _ifeval(position: int, row: Row) -> list[str]:
    return [normalize_prompt(str(row["prompt"])), f"key {row['key']}"]


#: Built-in benchmark -> (its module under ``pytest_llmeval.benchmarks``, the natural keys of a
#: row at a position of the benchmark's rows).
NATURAL_KEYS: dict[str, tuple[str, NaturalKeys]] = {
    "gsm8k": ("gsm8k", _gsm8k),
    "humaneval": ("humaneval", lambda position, row: [str(row["task_id"])]),
    "mtbench": ("mtbench", lambda position, row: [str(row["question_id"])]),
    "ifeval": ("ifeval", _ifeval),
    "alpaca_eval": ("alpaca_eval", _text("instruction")),
    "xstest": ("xstest", _text("prompt")),
}


def pairable() -> list[str]:
    """The built-in benchmarks whose items recordings can name by natural key."""
    return sorted(NATURAL_KEYS)


def builtin_benchmark(name: str) -> Benchmark:
    """The built-in benchmark called ``name``, as the plugin registers it."""
    if name not in NATURAL_KEYS:
        raise KeyError(f"{name!r} is not a built-in benchmark recordings can be paired with ({', '.join(pairable())})")
    module = importlib.import_module(f"pytest_llmeval.benchmarks.{NATURAL_KEYS[name][0]}")
    return next(bench for bench in module.benchmarks() if bench.name == name)


@cache
def item_keys(benchmark: str) -> MappingProxyType[str, str]:
    """Natural key -> ``"benchmark[id]"`` for every item of a built-in benchmark (read-only).

    The ids are the benchmark's own, computed as :meth:`Benchmark.items` does (identical
    content-derived ids numbered by occurrence). A natural key shared by two rows is left out:
    it names no single item.
    """
    bench = builtin_benchmark(benchmark)
    rows = bench.rows()
    ids = [bench.item_id(row) for row in rows]
    if bench.id_field is None:
        ids = number_repeats(ids)
    keys = NATURAL_KEYS[benchmark][1]
    found: dict[str, str] = {}
    shared: set[str] = set()
    for position, (row, item_id) in enumerate(zip(rows, ids, strict=True)):
        for key in keys(position, row):
            if key in found and found[key] != item_key(bench.name, item_id):
                shared.add(key)
            found[key] = item_key(bench.name, item_id)
    return MappingProxyType({k: v for k, v in found.items() if k not in shared})


def natural_key(recording: Recording) -> str:
    """The key a recording names its item by: its own ``key``, else its prompt text."""
    return recording.key if recording.key is not None else normalize_prompt(recording.prompt)
