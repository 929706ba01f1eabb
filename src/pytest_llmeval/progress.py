"""Progress of answering ahead of the tests, as the terminal shows it."""

from __future__ import annotations

import sys
import time
from typing import Any

from .engine import ProgressCallback
from .models import JUDGE


def progress_printer(reporter: Any) -> ProgressCallback:
    """A callback that rewrites one line in a terminal (twice a second at most) and prints a
    plain line every 15 s otherwise (CI logs)."""
    state: dict[str, Any] = {"last": 0.0, "finished": set()}
    tty = reporter.isatty() if callable(getattr(reporter, "isatty", None)) else sys.stdout.isatty()

    def show(model: str, done: int, total: int, elapsed: float) -> None:
        now = time.monotonic()
        final = done >= total
        if final and (model, total) in state["finished"]:
            return
        if not final and (done == 0 or now - state["last"] < (0.5 if tty else 15.0)):
            return
        if final:
            state["finished"].add((model, total))
        state["last"] = now
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        label = "judge" if model == JUDGE else model
        line = f"llmeval: {label}: answering {done}/{total} requests ({rate:.1f}/s, {elapsed:.0f}s elapsed"
        line += ")" if final else f", ~{eta:.0f}s left)"
        if tty and not final:
            reporter.rewrite(line)
        elif tty:
            reporter.rewrite(line, erase=True)
            reporter.write_line("")
        else:
            reporter.write_line(line)

    return show
