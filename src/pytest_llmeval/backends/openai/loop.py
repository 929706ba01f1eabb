"""Running the backend's asyncio work from plain (synchronous) callers: on an event loop of
its own in a helper thread, so that it works whether or not the caller's thread runs a loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def serve(loop: asyncio.AbstractEventLoop, main: asyncio.Task[None], finished: Callable[[], None]) -> None:
    """Run ``main`` to its end on ``loop`` (in this thread), then close the loop and say so."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
    except BaseException:  # read back from the task in the caller's thread
        pass
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        finished()


def in_own_loop(make: Callable[[], Awaitable[_T]]) -> _T:
    """``await make()`` on a fresh event loop in a helper thread: works whether or not the caller's thread runs a loop."""
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append((True, asyncio.run(awaited(make))))
        except BaseException as exc:  # re-raised in the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=work, name="llmeval-openai-check", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


async def awaited(make: Callable[[], Awaitable[_T]]) -> _T:
    return await make()
