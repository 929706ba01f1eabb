"""Whether model-written code may run: off unless a caller allows it for a scope.

The permission is a :mod:`contextvars` variable, not a process-wide switch: it holds inside a
``with code_execution(True):`` block and is back to what it was when the block ends, so nothing
leaks from one pytest run, test or thread into the next. The plugin wraps its run loop in
``code_execution(<--llm-allow-code-execution>)``; a tool of your own wraps its scoring the same way
(or passes ``allow=True`` to :func:`~pytest_llmeval.sandbox.run_untrusted`).

A new thread starts from the default (not allowed); to carry the permission into a thread pool,
submit ``contextvars.copy_context().run`` with the function, or enter the block in each thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

#: Shown when an item needs code execution and the user has not allowed it.
NOT_ALLOWED_REASON = (
    "code execution is off: this item runs model-written code; allow it with "
    "--llm-allow-code-execution (or llm_allow_code_execution = true in the ini file) "
    "to run it in the sandbox"
)

_allowed: ContextVar[bool] = ContextVar("pytest_llmeval_code_execution", default=False)


class CodeExecutionNotAllowed(Exception):
    """Raised by :func:`~pytest_llmeval.sandbox.run_untrusted` (and scorers) outside a permitted scope.

    The message says how to allow it; the plugin reports the item as skipped.
    """

    def __init__(self, message: str = NOT_ALLOWED_REASON) -> None:
        super().__init__(message)


@contextlib.contextmanager
def code_execution(allowed: bool) -> Iterator[None]:
    """Allow (or forbid) running model-written code inside the ``with`` block only.

    Blocks nest; each restores what held before it on the way out, exceptions included.

    Example::

        with code_execution(True):
            run_untrusted("assert 1 + 1 == 2").status   # "passed"
        run_untrusted("assert 1 + 1 == 2")              # raises CodeExecutionNotAllowed
    """
    token = _allowed.set(bool(allowed))
    try:
        yield
    finally:
        _allowed.reset(token)


def code_execution_allowed() -> bool:
    """Whether the innermost enclosing :func:`code_execution` block allows code execution (default False)."""
    return _allowed.get()
