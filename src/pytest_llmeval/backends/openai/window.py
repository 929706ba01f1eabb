"""The adaptive concurrency window: how many requests may be in flight to one server.

AIMD, as TCP's congestion control (RFC 5681) and the adaptive clients of the evaluation tools
do it: a 429 halves the limit, once per burst; a window's worth of successes in a row adds one;
it never leaves ``1..maximum``. A ``Retry-After`` on a 429 holds every acquirer until it has
passed. No HTTP library offers this: a connection pool bounds connections, not the rate a
server accepts, and it cannot hear "slow down" in a status code.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["Window", "WindowState"]


@dataclass(frozen=True)
class WindowState:
    """A snapshot of a :class:`Window`, safe to read from any thread.

    ``limit``: requests that may be in flight now; ``maximum``: the configured concurrency;
    ``in_flight``: slots held; ``waiting``: requests queued for a slot; ``paused_s``: seconds
    left of a server's Retry-After pause (0 when none).
    """

    limit: int
    maximum: int
    in_flight: int
    waiting: int
    paused_s: float


class Window:
    """The AIMD window shared by every request of one run (one event loop).

    ``limit`` requests may be in flight (``active`` of them are). A 429 (:meth:`throttled`)
    halves ``limit``, but only once per burst: requests that got their slot before the last cut
    (an older ``epoch``) report the same overload and are ignored. ``limit`` successes in a row
    (:meth:`succeeded`) add one. A freed slot is handed straight to the oldest waiter, so a
    release wakes exactly as many waiters as there are free slots and none wakes in vain.

    Example::

        window = Window(8)
        epoch = await window.acquire()
        try:
            ...                       # send the request
        finally:
            window.release()
        window.throttled(epoch, retry_after=2.0)   # after a 429
    """

    def __init__(self, maximum: int, limit: int | None = None) -> None:
        self.maximum = maximum
        self.limit = maximum if limit is None else max(1, min(limit, maximum))
        self.active = 0
        self.epoch = 0
        self._streak = 0
        self._resume_at = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests queued for a slot (cancelled ones may still be counted until they are passed over)."""
        return len(self._waiters)

    def state(self) -> WindowState:
        """A snapshot of the window now."""
        return WindowState(limit=self.limit, maximum=self.maximum, in_flight=self.active, waiting=self.waiting,
                           paused_s=round(max(0.0, self._resume_at - time.monotonic()), 3))

    async def acquire(self) -> int:
        """Wait for a slot and out any Retry-After pause; returns the epoch it was got in."""
        await self._pause()
        if self.active < self.limit:  # slots are handed to waiters at once, so none is waiting
            self.active += 1
            return self.epoch
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
            # A 429's Retry-After may have arrived while this request waited; it holds the slot meanwhile.
            await self._pause()
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # the slot was handed over: pass it on
                self.release()
            raise
        return self.epoch

    async def _pause(self) -> None:
        while (pause := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(pause)

    def release(self) -> None:
        """Give a slot back (after the attempt, whatever its outcome)."""
        self.active -= 1
        self._wake()

    def succeeded(self) -> None:
        """An answer came: after ``limit`` of them in a row the limit grows by one (up to ``maximum``)."""
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0
            self._wake()

    def throttled(self, epoch: int, retry_after: float | None) -> None:
        """A 429 came for a request that got its slot in ``epoch``: halve once per burst, pause for ``retry_after`` s."""
        self._streak = 0
        if retry_after:
            self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
        if epoch == self.epoch:
            self.limit = max(1, self.limit // 2)
            self.epoch += 1

    def _wake(self) -> None:
        """Hand free slots to the oldest waiters; cancelled ones are dropped on the way."""
        waiters = self._waiters
        while self.active < self.limit and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)
