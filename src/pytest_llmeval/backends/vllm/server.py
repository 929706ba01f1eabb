"""One vLLM server per model and configuration, shared by every process of a run, stopped by the last.

The first process that needs the server (the run, or the first xdist worker) takes a file lock,
starts :mod:`.watchdog` with the server's command, and waits until ``GET /health`` answers;
the others wait on the lock and find the server in the state file (port, log, process ids,
users). Each user adds its process id on :meth:`SharedServer.acquire` and removes it on
:meth:`SharedServer.release`; the last one out stops the server and deletes the state. Should
every user die without releasing (SIGKILL, a crash of the interpreter), the watchdog sees no
live user within a second and stops the server itself: no orphan, no port left bound.

The state lives in ``state_dir/KEY/`` (KEY: a hash of the command without its port), next to
the server's logs, one file per start.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock, Timeout

from ..base import BackendError

__all__ = ["LOG_TAIL_LINES", "ServerCommand", "ServerState", "SharedServer", "free_port", "log_tail"]

#: Lines of the server's log quoted when it fails to start.
LOG_TAIL_LINES = 25
#: Seconds between progress lines while the server starts.
PROGRESS_EVERY = 15.0
_WATCHDOG = Path(__file__).with_name("watchdog.py")


@dataclass(frozen=True)
class ServerCommand:
    """How to start a server: ``python`` runs ``argv`` (flags after it); ``{port}`` in an argument is the port.

    Example: ``ServerCommand(python, ("-m", "vllm.entrypoints.openai.api_server", "--port", "{port}"))``.
    """

    python: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    #: The HTTP path that answers 200 once the server is ready.
    health: str = "/health"

    def key(self) -> str:
        """A short hash of everything but the port: the same command shares one server."""
        return hashlib.sha256(json.dumps([self.python, self.argv, self.env]).encode()).hexdigest()[:16]

    def line(self, port: int) -> list[str]:
        return [self.python, *(arg.replace("{port}", str(port)) for arg in self.argv)]


@dataclass
class ServerState:
    """What the state file says about a running server."""

    port: int
    log: str
    watchdog: int
    users: list[int]
    started: float

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(path: str | Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("" when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _healthy(port: int, path: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


class SharedServer:
    """The server for one :class:`ServerCommand`, shared through ``state_dir`` by every process that needs it.

    ``progress`` receives a line now and then while the server starts. Example::

        server = SharedServer(command, state_dir, startup_timeout=900, progress=print)
        state = server.acquire()          # starts it, or joins the one running
        ...                               # http://127.0.0.1:{state.port}/v1
        server.release()                  # the last user stops it
    """

    def __init__(self, command: ServerCommand, state_dir: Path, *, startup_timeout: float,
                 progress: Callable[[str], None] = lambda line: None, label: str = "server") -> None:
        self.command = command
        self.folder = state_dir / command.key()
        self.startup_timeout = startup_timeout
        self.progress = progress
        self.label = label
        self.state: ServerState | None = None
        self._state_file = self.folder / "state.json"
        self._lock = FileLock(str(self.folder / "lock"))

    # -- the state file --------------------------------------------------------------------

    def _read(self) -> ServerState | None:
        try:
            data: dict[str, Any] = json.loads(self._state_file.read_text())
            return ServerState(**data)
        except (OSError, ValueError, TypeError):
            return None

    def _write(self, state: ServerState) -> None:
        staging = self._state_file.with_name(f"state.json.tmp{os.getpid()}")
        staging.write_text(json.dumps(asdict(state)))
        os.replace(staging, self._state_file)

    # -- acquire and release ---------------------------------------------------------------

    def acquire(self) -> ServerState:
        """The running server with this process among its users; starts it when none runs.

        Raises :class:`BackendError` when it cannot start (with the end of its log), or when
        another process is starting it for longer than ``startup_timeout``.
        """
        if self.state is not None:
            return self.state
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock.acquire(timeout=self.startup_timeout + 60):
                state = self._read()
                if state is not None and _alive(state.watchdog) and _healthy(state.port, self.command.health):
                    state.users = [pid for pid in state.users if _alive(pid)] + [os.getpid()]
                    self._write(state)
                else:
                    if state is not None:
                        _stop(state)
                    state = self._start()
        except Timeout:
            raise BackendError(f"another process has been starting the {self.label} for over "
                               f"{self.startup_timeout + 60:.0f} s (lock {self.folder / 'lock'})") from None
        self.state = state
        atexit.register(self.release)
        return state

    def release(self) -> None:
        """Leave the server; the last user stops it. Idempotent; never raises."""
        state, self.state = self.state, None
        if state is None:
            return
        atexit.unregister(self.release)
        with contextlib.suppress(Timeout, OSError), self._lock.acquire(timeout=60):
            current = self._read()
            if current is None or current.watchdog != state.watchdog:
                return
            current.users = [pid for pid in current.users if pid != os.getpid() and _alive(pid)]
            if current.users:
                self._write(current)
                return
            self._state_file.unlink(missing_ok=True)
            _stop(current)

    # -- starting --------------------------------------------------------------------------

    def _start(self) -> ServerState:
        port = free_port()
        log = self.folder / f"server-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        state = ServerState(port=port, log=str(log), watchdog=0, users=[os.getpid()], started=time.time())
        self._write(state)  # the watchdog needs a user to watch from its first look
        env = {**os.environ, **dict(self.command.env)}
        watchdog = subprocess.Popen(
            [self.command.python, str(_WATCHDOG), "--state", str(self._state_file), "--log", str(log), "--",
             *self.command.line(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # Ctrl-C in the terminal reaches the run, which releases it
        state.watchdog = watchdog.pid
        self._write(state)
        try:
            self._wait_ready(watchdog, state)
        except BaseException:
            self._state_file.unlink(missing_ok=True)
            _stop(state)
            raise
        return state

    def _wait_ready(self, watchdog: subprocess.Popen[bytes], state: ServerState) -> None:
        started = time.monotonic()
        said = started
        self.progress(f"llmeval: starting the {self.label} on port {state.port} (log: {state.log})")
        while not _healthy(state.port, self.command.health):
            code = watchdog.poll()
            waited = time.monotonic() - started
            if code is not None:
                raise BackendError(f"the {self.label} exited with status {code} before it was ready; the end of its "
                                   f"log ({state.log}):\n{log_tail(state.log)}")
            if waited > self.startup_timeout:
                raise BackendError(f"the {self.label} was not ready after {self.startup_timeout:.0f} s (raise "
                                   f"startup_timeout in the model's arguments); the end of its log ({state.log}):\n"
                                   f"{log_tail(state.log)}")
            if time.monotonic() - said >= PROGRESS_EVERY:
                said = time.monotonic()
                last = log_tail(state.log, 1).strip()[:160]
                self.progress(f"llmeval: waiting for the {self.label} ({waited:.0f} s){': ' + last if last else ''}")
            time.sleep(0.5)
        self.progress(f"llmeval: the {self.label} is ready after {time.monotonic() - started:.0f} s")


def _stop(state: ServerState, wait: float = 40.0) -> None:
    """Ask the watchdog to stop the server and wait for it; kill it and the server's processes if it does not."""
    try:
        watchdog = psutil.Process(state.watchdog) if state.watchdog > 0 else None
        family = watchdog.children(recursive=True) if watchdog is not None else []
    except psutil.Error:
        return
    assert watchdog is not None
    with contextlib.suppress(psutil.Error):
        watchdog.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(state.watchdog):
        with contextlib.suppress(ChildProcessError):  # ours: reap it, so it does not linger as a zombie
            os.waitpid(state.watchdog, os.WNOHANG)
        time.sleep(0.2)
    for process in [watchdog, *family]:  # a watchdog that did not finish its job: do it here
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                process.kill()
