"""Progress of answering ahead of the tests: a live bar per model in a terminal (tqdm), plain
periodic lines in a log (CI).

The engine reports ``(model, done, total, elapsed, failed)`` as requests finish; a local model may
take minutes for one batch, so a ticker thread keeps the display moving (elapsed time and
estimated time left) between reports, and in a log prints a line every :data:`LOG_EVERY` seconds
even when nothing finished, so a reader sees the run is alive. Requests that failed (a backend
error, an unreachable server, weights that do not load) are finished but not answered: they are
counted apart, and the rate counts answers only.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .models import JUDGE

#: Seconds between lines when the output is not a terminal.
LOG_EVERY = 15.0
#: Seconds between redraws of the bars in a terminal.
REDRAW_EVERY = 1.0
#: The bar of a model none of whose finished requests was answered (tqdm's format, less the rate).
NO_RATE = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


def rate_text(done: int, elapsed: float) -> str:
    """``"3.2/s"``, or ``"1 per 34s"`` when slower than one request every ten seconds.

    >>> rate_text(32, 10.0), rate_text(2, 68.0), rate_text(0, 5.0)
    ('3.2/s', '1 per 34s', 'none yet')
    """
    if done == 0 or elapsed <= 0:
        return "none yet"
    rate = done / elapsed
    return f"{rate:.1f}/s" if rate >= 0.1 else f"1 per {elapsed / done:.0f}s"


def progress_text(done: int, total: int, failed: int, elapsed: float) -> str:
    """What a log line says of one model's requests (counts, rate of answers, elapsed time).

    >>> progress_text(3, 3, 0, 2.0)
    'answered 3/3 requests (1.5/s, 2s elapsed)'
    >>> progress_text(3, 3, 3, 0.01)
    '3/3 requests done, 3 failed (0s elapsed)'
    >>> progress_text(4, 10, 1, 6.0)
    '4/10 requests done, 1 failed (0.5/s, 6s elapsed, ~9s left)'
    """
    answered = done - failed
    counts = f"answered {done}/{total} requests" if not failed else f"{done}/{total} requests done, {failed} failed"
    details = [f"{elapsed:.0f}s elapsed"]
    if answered > 0 or not failed:  # no rate of failures alone
        details.insert(0, rate_text(answered, elapsed))
    if 0 < done < total:
        details.append(f"~{(total - done) * elapsed / done:.0f}s left")
    return f"{counts} ({', '.join(details)})"


def label_of(model: str) -> str:
    return "judge" if model == JUDGE else model


class _TerminalFile:
    """The terminal writer as the file tqdm writes to (outside pytest's output capture)."""

    encoding = "utf-8"

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def write(self, text: str) -> None:
        self.writer.write(text)

    def flush(self) -> None:
        self.writer.flush()


class Progress:
    """Shows how far answering has come, per model. Call it as the engine's progress
    callback; :meth:`close` when answering is over."""

    def __init__(self, reporter: Any, writer: Any, tty: bool) -> None:
        self.reporter = reporter
        self.writer = writer
        self.tty = tty
        self.state: dict[str, list[float]] = {}  # model -> [done, total, started, failed]
        self.bars: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None
        self.last_line = 0.0

    def __call__(self, model: str, done: int, total: int, elapsed: float, failed: int) -> None:
        with self.lock:
            previous = self.state.get(model)
            if previous is not None and previous[0] >= previous[1] == total and done >= total:
                return  # the end of this model's answering was shown already
            started = time.monotonic() - elapsed
            self.state[model] = [done, total, previous[2] if previous else started, failed]
            if self.tty:
                self._draw(model)
            elif done >= total:
                self._line(model)
            if self.ticker is None:
                self.ticker = threading.Thread(target=self._tick, name="llmeval-progress", daemon=True)
                self.ticker.start()

    def _draw(self, model: str) -> None:
        from tqdm import tqdm

        done, total, _, failed = self.state[model]
        bar = self.bars.get(model)
        if bar is None:
            bar = self.bars[model] = tqdm(total=int(total), desc=f"llmeval: {label_of(model)}", unit="req",
                                          file=_TerminalFile(self.writer), position=len(self.bars), leave=True,
                                          dynamic_ncols=True, mininterval=0.2)
        if failed:
            bar.set_postfix_str(f"{int(failed)} failed", refresh=False)
        bar.bar_format = NO_RATE if failed and failed >= done else None  # no rate of failures alone
        bar.update(int(done) - bar.n)
        if done >= total:
            bar.close()

    def _line(self, model: str) -> None:
        done, total, started, failed = self.state[model]
        elapsed = time.monotonic() - started
        self.reporter.write_line(f"llmeval: {label_of(model)}: {progress_text(int(done), int(total), int(failed), elapsed)}")
        self.last_line = time.monotonic()

    def _tick(self) -> None:
        while not self.stop.wait(REDRAW_EVERY):
            with self.lock:
                if self.tty:
                    for bar in self.bars.values():
                        if not bar.disable:
                            bar.refresh()
                elif time.monotonic() - self.last_line >= LOG_EVERY:
                    for model, (done, total, *_) in self.state.items():
                        if done < total:
                            self._line(model)

    def close(self) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        with self.lock:
            for bar in self.bars.values():
                bar.close()
