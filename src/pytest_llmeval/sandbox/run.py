"""The parent's side: :func:`run_untrusted` prepares a scratch directory, starts the launcher
(``python -I -S launcher.py CONFIG`` in a new session), waits, cleans up and reads the verdict."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .interpreter import private_tmp_dirs, program_interpreter, unused_id
from .permission import CodeExecutionNotAllowed, code_execution_allowed
from .processes import kill_group, kill_marked_processes, kill_session, wait_for_exit
from .result import SandboxResult
from .verdict import Limits, read_verdict, redact, tail

LAUNCHER = Path(__file__).with_name("launcher.py")
#: Seconds the parent waits beyond the program's own timeout before it kills a launcher that hangs.
BACKSTOP_S = 15.0
OUTPUTS = ("stdout", "stderr", "result", "report")


def run_untrusted(
    code: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    max_processes: int = 16,
    max_open_files: int = 64,
    max_file_mb: int = 16,
    allow: bool | None = None,
    run_name: str = "__main__",
    python_guard: bool = True,
    namespaces: bool = True,
) -> SandboxResult:
    """Run ``code`` as a Python program in the sandbox and say how it ended.

    ``allow`` overrides the scoped permission (:func:`~pytest_llmeval.sandbox.code_execution`);
    left as ``None`` the permission decides, and without it :class:`CodeExecutionNotAllowed` is
    raised. ``timeout_s`` bounds wall-clock time (and CPU seconds), ``memory_mb`` the address
    space, ``max_processes`` the processes the program may have at once (itself included),
    ``max_open_files`` its file descriptors, ``max_file_mb`` the size of any file it writes (its
    captured output included). Stdin is empty.

    ``run_name`` is the program's ``__name__``: ``"__main__"`` runs it as a script; any other
    name runs it as a module, so that its ``if __name__ == "__main__":`` block is skipped (how
    HumanEval's reference harness runs a completion). ``python_guard=False`` leaves out the
    audit hook and ``namespaces=False`` the Linux namespaces, so that tests can prove what the
    remaining layers contain on their own; users keep both.

    Raises ``ValueError`` for limits below ``timeout_s > 0``, ``memory_mb >= 64``,
    ``max_processes >= 1``, ``max_open_files >= 16``, ``max_file_mb >= 1``.

    Example::

        run_untrusted("while True: pass", timeout_s=1, allow=True).status  # "timeout"
    """
    if not (code_execution_allowed() if allow is None else allow):
        raise CodeExecutionNotAllowed()
    if timeout_s <= 0 or memory_mb < 64 or max_processes < 1 or max_open_files < 16 or max_file_mb < 1:
        raise ValueError("sandbox limits: timeout_s > 0, memory_mb >= 64, max_processes >= 1, "
                         "max_open_files >= 16, max_file_mb >= 1")
    if os.name != "posix":
        return SandboxResult("error", "the sandbox needs a POSIX system (Linux or macOS); "
                                      "run code-executing benchmarks in a Linux container")
    started = time.monotonic()
    root = os.geteuid() == 0
    interpreter = program_interpreter(root)
    if interpreter is None:
        return SandboxResult("error", "no Python interpreter is runnable by an unprivileged user "
                                      f"(tried {sys.executable}); install one outside /root "
                                      "or run the evaluation as a normal user or in a container")
    config = launcher_config(interpreter, unused_id() if root else None, timeout_s=timeout_s, memory_mb=memory_mb,
                             max_processes=max_processes, max_open_files=max_open_files, max_file_mb=max_file_mb,
                             python_guard=python_guard, namespaces=namespaces, run_name=run_name)
    nonce = secrets.token_hex(16)
    texts, backstop, leftovers = launch(code, config, nonce)
    verdict = read_verdict(texts["report"], texts["result"], texts["stderr"], nonce,
                           Limits(timeout_s, memory_mb, max_file_mb), backstop=backstop, leftovers=leftovers)
    return SandboxResult(
        verdict.status,
        redact(verdict.detail),
        stdout=redact(tail(texts["stdout"])),
        stderr=redact(tail(texts["stderr"])),
        duration_s=round(time.monotonic() - started, 3),
        protections=verdict.protections,
        run_id=config["run_id"],
    )


def launcher_config(interpreter: str, drop_to: int | None, *, timeout_s: float, memory_mb: int, max_processes: int,
                    max_open_files: int, max_file_mb: int, python_guard: bool, namespaces: bool,
                    run_name: str) -> dict[str, Any]:
    """The launcher's configuration (see :mod:`.launcher`), less the scratch directory and descriptors."""
    return {
        "interpreter": interpreter,
        "timeout": float(timeout_s),
        "memory": int(memory_mb) * 1024 * 1024,
        "cpu": max(1, int(timeout_s + 0.999)),
        "processes": int(max_processes),
        "files": int(max_open_files),
        "file_size": int(max_file_mb) * 1024 * 1024,
        "scratch_size": 4 * int(max_file_mb) * 1024 * 1024,
        "guard": python_guard,
        "namespaces": namespaces,
        "private_tmp": private_tmp_dirs(interpreter),
        "drop_to": drop_to,
        "run_name": run_name,
        "run_id": secrets.token_hex(8),
    }


def launch(code: str, config: dict[str, Any], nonce: str) -> tuple[dict[str, str], bool, int]:
    """Run the launcher on ``code`` in a fresh scratch directory, then remove the directory.

    Returns what the program and the launcher wrote (``stdout``, ``stderr``, ``result``,
    ``report``), whether the parent's backstop had to kill the launcher, and how many leftover
    processes the parent killed afterwards.
    """
    with scratch(code, config["drop_to"]) as (work, files):
        config = {**config, "work": str(work), "result_fd": files["result"].fileno(),
                  "report_fd": files["report"].fileno()}
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=files["stdout"],
            stderr=files["stderr"],
            cwd=work,
            env=minimal_environment(str(work)),
            start_new_session=True,
            pass_fds=(files["result"].fileno(), files["report"].fileno()),
        )
        try:
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(nonce.encode())
                proc.stdin.close()
            # The launcher enforces the timeout itself; this only catches a stuck launcher.
            backstop = not wait_for_exit(proc, config["timeout"] + BACKSTOP_S)
        finally:
            kill_group(proc.pid)
            proc.wait()
        texts = {}
        for name, handle in files.items():
            handle.seek(0)
            texts[name] = handle.read().decode("utf-8", "replace")
        leftovers = kill_session(proc.pid)
        if "PID namespace" not in texts["report"]:
            # Without a PID namespace a daemon that left our session could survive: find it
            # by the run's mark in its environment.
            leftovers += len(kill_marked_processes(config["run_id"]))
    return texts, backstop, leftovers


@contextlib.contextmanager
def scratch(code: str, drop_to: int | None) -> Iterator[tuple[Path, dict[str, IO[bytes]]]]:
    """A fresh directory holding ``work/program.py`` (the program's) and the output files (ours).

    As root, only ``work`` is given to the program's user id ``drop_to``. Everything is removed
    on the way out, whatever the program left.
    """
    base = Path(tempfile.mkdtemp(prefix="llmeval-sandbox-"))
    try:
        work, out = base / "work", base / "out"
        work.mkdir(mode=0o700)
        out.mkdir(mode=0o700)
        (work / "program.py").write_text(code, encoding="utf-8")
        if drop_to is not None:
            os.chmod(base, 0o711)
            os.chown(work, drop_to, drop_to)
            os.chown(work / "program.py", drop_to, drop_to)
        with contextlib.ExitStack() as stack:
            files: dict[str, IO[bytes]] = {name: stack.enter_context(open(out / name, "wb+")) for name in OUTPUTS}
            yield work, files
    finally:
        remove_tree(base)


def minimal_environment(work: str) -> dict[str, str]:
    """The launcher's whole environment: nothing is inherited from the parent's (no API keys)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": work,
        "TMPDIR": work,
        "PYTHONHASHSEED": "0",
    }


def remove_tree(path: Path) -> None:
    """Remove ``path``, opening up directories the program made unreadable (``chmod 0``) first."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)
