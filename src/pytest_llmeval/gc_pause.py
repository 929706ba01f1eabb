"""The cyclic garbage collector around benchmark collection.

Building 14,042 MMLU items makes about 300,000 container objects (rows, requests, messages,
nodes) that all live until the session ends. The cyclic collector walks them again and again
for nothing: while they are built (every 700 allocations), and in the full collections pytest
runs as a session ends. On the full MMLU that was 0.7 s of a 2 s collection
(``perf/plugin_overhead.py``). So the collector is paused while items are built
(:func:`paused`); once collection has made them, the objects that exist are moved out of its
sight (:func:`freeze_collected`, :func:`gc.freeze`) and given back in a cleanup of the session
(:func:`unfreeze`), after pytest's own end-of-session collections, so nothing stays out of
reach after the run, also when pytest runs in-process (``pytester``). Reference counting
frees objects as usual meanwhile; only reference cycles that were already garbage when
collection ended wait for the session's end.
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
