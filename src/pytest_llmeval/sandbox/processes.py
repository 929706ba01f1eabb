"""Finding and ending a run's processes from the parent: run marks, sessions, process groups."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time

#: Every process of a run carries ``LLMEVAL_SANDBOX_RUN=<run id>`` in its environment.
RUN_MARK = "LLMEVAL_SANDBOX_RUN"


def marked_processes(run_id: str | None = None) -> dict[int, str]:
    """Live processes carrying a sandbox run's mark, as {pid: run id} (any run's when ``run_id`` is None).

    Linux only (reads ``/proc``); processes of other users are invisible unless we are root.
    """
    prefix = f"{RUN_MARK}=".encode()
    found: dict[int, str] = {}
    if not os.path.isdir("/proc/self"):
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(prefix):
                mark = item[len(prefix):].decode(errors="replace")
                if run_id is None or mark == run_id:
                    found[int(entry)] = mark
    return found


def kill_marked_processes(run_id: str) -> list[int]:
    """SIGKILL every process still carrying ``run_id``'s mark; return their pids."""
    killed: list[int] = []
    for _ in range(20):
        pids = marked_processes(run_id)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return sorted(set(killed))


def wait_for_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for ``proc`` to end, at most ``timeout`` seconds; True if it ended.

    A pidfd wakes us the moment it ends (Popen.wait with a timeout polls in steps of up to
    50 ms, which would be most of a short program's cost).
    """
    try:
        handle = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([handle], [], [], timeout)
    finally:
        os.close(handle)
    if ready:
        proc.wait()
    return bool(ready)


def kill_group(pgid: int) -> None:
    """SIGKILL a process group, if any of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def kill_session(sid: int) -> int:
    """Kill whatever is left in a session (Linux; reads ``/proc``); return how many there were."""
    if not os.path.isdir("/proc/self"):
        return 0
    found = 0
    for _ in range(20):
        pids = [pid for pid, session in process_sessions() if session == sid]
        if not pids:
            break
        found = max(found, len(pids))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return found


def process_sessions() -> list[tuple[int, int]]:
    """(pid, session id) of every live process that is not a zombie (Linux)."""
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, session.
        if fields[0] != b"Z":
            rows.append((int(entry), int(fields[3])))
    return rows
