"""The program's own process: ``python -I -c <this module's source> CONFIG``, exec'd by the launcher.

Standard library only, and Python 3.8 syntax: as root the program may run under a system Python
other than pytest's. The launcher passes this module's source with ``-c`` because the program's
unprivileged user may be unable to read this package's directory.

It reads the nonce from stdin and leaves the program an empty stdin, installs the audit guard
(unless ``CONFIG`` says ``"guard": false``), runs ``program.py`` from the working directory as a
module named ``CONFIG["run_name"]`` and writes one JSON line per event to ``CONFIG["result_fd"]``:
``{"violation": ...}`` for each refusal, then ``{"failed": ...}`` or ``{"done": <nonce>}``. A pass
needs the nonce, so an early ``sys.exit(0)`` or ``os._exit(0)`` is no pass.

Nothing here may carry a doctest example: a program that calls ``doctest.testmod()`` while it
is not ``__main__`` itself tests this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

#: Audit events that start a process, by prefix.
PROCESS_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                  "subprocess.Popen", "pty.spawn", "os.startfile")
#: Events that change files: the indexes of their path arguments.
FILE_CHANGES = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (1,),
                "os.symlink": (1,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,), "os.truncate": (0,),
                "os.chflags": (0,), "os.lchflags": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
                "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (1,)}
#: Where each of those events carries a dir_fd (-1 or None when absent): paths relative to it escape our check.
DIR_FDS = {"os.remove": (1,), "os.rmdir": (1,), "os.mkdir": (2,), "os.rename": (2, 3), "os.link": (2, 3),
           "os.symlink": (2,), "os.chmod": (2,), "os.chown": (3,), "os.utime": (3,)}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class SandboxRefusal(PermissionError):
    """What the program sees when the guard refuses something."""


class Guard:
    """An audit hook that refuses network use, new processes, native code, signals to other
    processes, writes outside ``write_roots`` and reading other processes' secrets, and
    reports each refusal through ``emit`` before it raises :class:`SandboxRefusal`."""

    def __init__(self, emit: Callable[..., None], write_roots: list[str]) -> None:
        self.emit = emit
        self.roots = [os.path.realpath(r) for r in write_roots]
        self.libs = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})
        self.me = os.getpid()
        self.busy: set[int] = set()  # threads inside a check: our own checks raise audit events too

    def install(self) -> None:
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        thread = threading.get_ident()
        if thread in self.busy:
            return
        self.busy.add(thread)
        try:
            self.check(event, args)
        finally:
            self.busy.discard(thread)

    def refuse(self, what: str) -> None:
        self.emit(violation=what)
        raise SandboxRefusal("refused by the sandbox: " + what)

    def inside(self, path: str) -> bool:
        return any(path == r or path.startswith(r + os.sep) for r in self.roots)

    def check(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            self.check_open(*args[:3])
        elif event.startswith("socket."):
            self.refuse(f"network access ({event})")
        elif event.startswith(PROCESS_EVENTS):
            self.refuse(f"starting a process ({event})")
        elif event.startswith("ctypes."):
            self.refuse(f"native code through ctypes ({event})")
        elif event in ("os.kill", "os.killpg", "resource.prlimit"):
            if not (event == "os.kill" and args[0] == self.me):
                self.refuse(f"signalling or changing another process ({event})")
        elif event == "import":
            self.check_import(args[0], args[1])
        elif event in FILE_CHANGES:
            self.check_change(event, args)
        elif event in ("sqlite3.connect", "sqlite3.load_extension"):
            target = args[0] if args else None
            if event == "sqlite3.load_extension" or (target not in (None, ":memory:") and not self.inside(real(target))):
                self.refuse(f"a database outside the scratch directory ({event})")

    def check_open(self, path: Any, mode: Any, flags: Any) -> None:
        if path is None or isinstance(path, int):
            return
        where = real(path)
        writing = bool((flags or 0) & WRITE_FLAGS) or any(c in (mode or "") for c in "wax+")
        if writing and not self.inside(where) and where != os.devnull:
            self.refuse(f"writing outside the scratch directory ({where})")
        if self.other_process_secret(where):
            self.refuse(f"reading another process's memory or environment ({where})")

    def other_process_secret(self, path: str) -> bool:
        """/proc/PID/environ, /proc/PID/mem, /proc/PID/task/TID/...: another process's secrets."""
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "proc" or parts[-1] not in ("environ", "mem"):
            return False
        return parts[2] not in ("self", "thread-self", str(self.me))

    def check_import(self, name: str, filename: Any) -> None:
        if name in ("_posixsubprocess", "_ctypes"):
            self.refuse(f"starting processes or native code (import {name})")
        if filename and str(filename).endswith((".so", ".pyd", ".dylib")):
            where = real(filename)
            if not any(where.startswith(lib + os.sep) for lib in self.libs):
                self.refuse(f"loading a native extension from {where}")

    def check_change(self, event: str, args: tuple[Any, ...]) -> None:
        for index in FILE_CHANGES[event]:
            target = args[index] if index < len(args) else None
            if target is None or isinstance(target, int):
                continue
            if not self.inside(real(target)):
                self.refuse(f"changing files outside the scratch directory ({event} {real(target)})")
        for index in DIR_FDS.get(event, ()):
            if index < len(args) and isinstance(args[index], int) and args[index] >= 0:
                self.refuse(f"changing files relative to a directory descriptor ({event})")


def real(path: Any) -> str:
    return os.path.realpath(os.fsdecode(os.fspath(path)))


def read_nonce() -> str:
    """Read the nonce the parent wrote to stdin, then give the program an empty stdin."""
    nonce = b""
    while True:
        chunk = os.read(0, 64)
        if not chunk:
            break
        nonce += chunk
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return nonce.decode()


def run_program(path: str, run_name: str) -> None:
    """Run ``path`` as a module named ``run_name``; as ``__main__`` it replaces this module, as
    ``python path`` would."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    code = compile(source, path, "exec")
    module = types.ModuleType(run_name)
    module.__file__ = path
    sys.modules[run_name] = module
    exec(code, module.__dict__)


def failure_text(exc: BaseException, path: str) -> str:
    """One line: the exception and, where it came from the program, the line that raised it."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
    if isinstance(exc, SyntaxError):
        text += f" (line {exc.lineno})"
    elif frames:
        text += f" (line {frames[-1].lineno}: {(frames[-1].line or '').strip()})"
    return text[:2000]


def flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def main() -> None:
    config: dict[str, Any] = json.loads(sys.argv[1])
    fd = config["result_fd"]
    nonce = read_nonce()
    del sys.argv[1:]

    def emit(**data: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(fd, (json.dumps(data) + "\n").encode())

    if config["guard"]:
        Guard(emit, config["write_roots"]).install()
    try:
        run_program("program.py", config["run_name"])
    except BaseException as exc:
        emit(failed=failure_text(exc, "program.py"))
        flush_streams()
        os._exit(1)
    emit(done=nonce)
    flush_streams()
    os._exit(0)


if __name__ == "__main__":
    main()
