"""Running model-written code without trusting it.

Code execution is off until a caller allows it for a scope: the plugin wraps its run in
``code_execution(<--llm-allow-code-execution>)`` (``llm_allow_code_execution = true`` in the ini
file); outside such a scope :func:`run_untrusted` raises :class:`CodeExecutionNotAllowed`, whose
message says how to allow it, and the item is skipped.

When allowed, each program runs in its own short-lived process tree::

    with code_execution(True):
        result = run_untrusted("assert 1 + 1 == 2", timeout_s=5)
    result.status      # "passed" | "failed" | "timeout" | "killed" | "error"
    result.detail      # why, in one line

The layers, from the outside in (``docs/sandbox.md`` says what each does and does not stop):

- a launcher process in a new session, given only a minimal environment (no API keys) and a
  fresh scratch directory as its working directory, killed as a whole process group at the end;
- on Linux, new network, PID, mount, IPC and UTS namespaces where the kernel allows them
  (``unshare``; as root directly, otherwise inside a user namespace): no network at all, every
  process of the program dies with the namespace, the file system is read-only except the
  scratch directory and private ``/tmp``, ``/var/tmp`` and ``/dev/shm``;
- otherwise a child subreaper that kills every descendant, daemonised ones included;
- resource limits (``setrlimit``): address space, CPU seconds, processes, open files, file
  size, no core files; root drops to a fresh unprivileged user id (``nobody`` where no fresh
  id can be used) so that the process limit applies and counts this program alone;
- inside the interpreter (``python -I``), an audit hook that refuses network use, starting
  processes, native code (``ctypes``), signals to other processes and writes outside the
  scratch directory, and records each refusal so that the item fails with the reason.

The audit hook is a tripwire with good messages, not a security boundary; the namespaces and
the unprivileged user are the boundary, and where the kernel does not allow them the docs
recommend running the evaluation in a container.

The modules: :mod:`.permission` (the scoped permission), :mod:`.run` (the parent's side),
:mod:`.launcher` and :mod:`.runner` (the two child programs, run as files of this package),
:mod:`.verdict` (reading how a program ended), :mod:`.interpreter` (which Python, which user),
:mod:`.processes` (finding and killing a run's processes), :mod:`.result`. The package uses the
standard library only and nothing else of pytest_llmeval.
"""

from .interpreter import others_can_run, program_interpreter
from .permission import NOT_ALLOWED_REASON, CodeExecutionNotAllowed, code_execution, code_execution_allowed
from .processes import RUN_MARK, kill_marked_processes, marked_processes
from .result import SandboxError, SandboxResult, SandboxStatus
from .run import run_untrusted

__all__ = [
    "NOT_ALLOWED_REASON",
    "RUN_MARK",
    "CodeExecutionNotAllowed",
    "SandboxError",
    "SandboxResult",
    "SandboxStatus",
    "code_execution",
    "code_execution_allowed",
    "kill_marked_processes",
    "marked_processes",
    "others_can_run",
    "program_interpreter",
    "run_untrusted",
]
