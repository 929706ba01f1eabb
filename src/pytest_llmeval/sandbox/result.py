"""What the sandbox says about one program: :class:`SandboxResult`, and :class:`SandboxError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SandboxStatus = Literal["passed", "failed", "timeout", "killed", "error"]


class SandboxError(RuntimeError):
    """The sandbox could not run a program at all (status ``error``): not the model's fault.

    Scorers raise it so that the item is reported as an error, never as a wrong answer.
    """


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program.

    ``status`` is ``passed`` (ran to the end), ``failed`` (raised, exited early or tried
    something the sandbox refuses), ``timeout`` (wall clock or CPU limit), ``killed`` (ended
    by a signal: memory, file size) or ``error`` (the sandbox itself could not run it).
    ``detail`` says why in one line; ``stdout`` and ``stderr`` are the last 4,000 characters
    of each, secrets from the environment redacted; ``duration_s`` is wall-clock seconds.
    ``protections`` names the layers that were in force, for reports and for tests.
    """

    status: SandboxStatus
    detail: str
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    protections: tuple[str, ...] = ()
    #: Marks every process of the run (``LLMEVAL_SANDBOX_RUN`` in its environment).
    run_id: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"
