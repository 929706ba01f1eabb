"""The cyclic garbage collector around benchmark collection.

Building 14,042 MMLU items makes about 300,000 container objects (rows, requests, messages,
nodes) that all live until the session ends. The cyclic collector, run every 700 allocations,
walks them again and again for nothing: on the full MMLU it took 0.7 s of a 2 s collection
(``perf/plugin_overhead.py``). So the collector is paused while items are built
(:func:`paused`), and once collection is over the objects that exist are moved out of its sight
for the session (:func:`gc.freeze`) and given back at its end (:func:`gc.unfreeze`), so nothing
stays out of reach after the run, also when pytest runs in-process (``pytester``). Reference
counting frees objects as usual meanwhile; only reference cycles that were already garbage when
collection ended wait until the session's end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze_collected", "paused", "unfreeze"]


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (left off if it was off before)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_collected() -> bool:
    """Move every object the collector tracks now out of its sight; False (and nothing done)
    when the collector is off, i.e. the user manages it."""
    if not gc.isenabled():
        return False
    gc.freeze()
    return True


def unfreeze() -> None:
    """Give the frozen objects back to the collector."""
    gc.unfreeze()
