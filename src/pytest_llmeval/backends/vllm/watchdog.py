"""Runs the vLLM server and stops it when nobody uses it any more, even if every user was killed.

Started as a script (``python watchdog.py --state FILE --log FILE -- COMMAND...``) by the
interpreter that has vLLM, so it imports nothing but the standard library, and nothing of
pytest-llmeval. It starts COMMAND in a process group of its own with its output in the log
file, then every half second reads the users (process ids) listed in the state file; when
none of them is alive any more, or the state file is gone, or it is asked to stop (SIGTERM,
SIGINT, SIGHUP), it stops the whole group: SIGTERM, then SIGKILL after ``--grace`` seconds.
When the server exits on its own, the watchdog exits with its status.

So a run that crashes, is killed with SIGKILL or loses its terminal leaves no server behind,
and under xdist the server lives exactly as long as the last worker that uses it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

POLL_SECONDS = 0.5


def users(state: str) -> list[int] | None:
    """The user process ids in the state file; None when the file is gone (the server was released).

    Raises OSError or ValueError when the file cannot be read just now (read it again later).
    """
    try:
        with open(state) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    listed = data.get("users") if isinstance(data, dict) else None
    return [pid for pid in listed if isinstance(pid, int)] if isinstance(listed, list) else []


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def stop_group(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left of it after ``grace`` seconds."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            return
        try:
            child.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):  # the leader is gone; its workers may linger a moment
            os.killpg(child.pid, signal.SIGKILL)
        return


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run a server; stop it when its users are gone")
    parser.add_argument("--state", required=True, help="JSON file whose 'users' lists the user process ids")
    parser.add_argument("--log", required=True, help="file for the server's output (appended)")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the server's command line")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    asked: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        asked.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    with open(args.log, "ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    while True:
        code = child.poll()
        if code is not None:
            return code
        try:
            listed = users(args.state)
        except (OSError, ValueError):
            time.sleep(POLL_SECONDS)
            continue
        if asked or listed is None or not any(alive(pid) for pid in listed):
            stop_group(child, args.grace)
            return 0
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
