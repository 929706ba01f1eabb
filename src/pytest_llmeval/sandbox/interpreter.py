"""Which Python runs the program, and which user and group id it runs as when pytest is root."""

from __future__ import annotations

import grp
import os
import pwd
import random
import stat
import sys
from pathlib import Path

#: The unprivileged account root drops to where no fresh id can be used (``nobody``).
NOBODY = 65534
#: Root runs each program as a fresh user and group id from this range, unknown to the system,
#: so that the kernel's per-user process limit counts that program alone and no two programs
#: (or real users) share files or signals.
FRESH_IDS = range(3_000_000_000, 4_000_000_000)


def program_interpreter(root: bool) -> str | None:
    """The Python the program runs under: ours, or, as root, one an unrelated user can run.

    Root's own Python may live where an unprivileged id cannot reach it (a pyenv under
    ``/root``): then a system Python of the same version, else any system Python 3, runs the
    program. None when there is no such interpreter.
    """
    if not root:
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, getattr(sys, "_base_executable", sys.executable),
                  f"/usr/local/bin/{version}", f"/usr/bin/{version}", "/usr/local/bin/python3", "/usr/bin/python3"]
    for candidate in candidates:
        if candidate and os.path.exists(candidate) and others_can_run(candidate):
            return candidate
    return None


def others_can_run(path: str) -> bool:
    """Whether a user with no relation to the file's owner (no shared group) can run this interpreter.

    Looks at the "other" permission bits of the interpreter, of every directory above it and of
    its standard library (``prefix/lib/pythonX.Y``); ACLs and security modules are not consulted.
    """
    real = Path(os.path.realpath(path))
    needed = [(real, stat.S_IXOTH)]
    needed += [(parent, stat.S_IXOTH) for parent in real.parents]
    lib = real.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if real.name.startswith(f"python{sys.version_info.major}.{sys.version_info.minor}") and lib.is_dir():
        needed.append((lib, stat.S_IROTH | stat.S_IXOTH))
    try:
        return all(os.stat(p).st_mode & bits == bits for p, bits in needed)
    except OSError:
        return False


def unused_id() -> int:
    """A user and group id that no account, group or process uses and that our namespace maps; else :data:`NOBODY`."""
    for _ in range(20):
        candidate = random.randrange(FRESH_IDS.start, FRESH_IDS.stop)
        if not (id_mapped("/proc/self/uid_map", candidate) and id_mapped("/proc/self/gid_map", candidate)):
            return NOBODY  # inside a container's user namespace such ids do not exist
        try:
            pwd.getpwuid(candidate)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(candidate)
            continue
        except KeyError:
            return candidate
    return NOBODY


def id_mapped(map_file: str, candidate: int) -> bool:
    """Whether ``candidate`` lies in one of the ranges of a ``/proc/self/uid_map``-style file (False without /proc)."""
    try:
        with open(map_file) as handle:
            ranges = [tuple(int(x) for x in line.split()) for line in handle if line.strip()]
    except OSError:
        return False  # no /proc (not Linux): keep to the well-known account
    return any(inside <= candidate < inside + count for inside, _, count in ranges)


def private_tmp_dirs(interpreter: str) -> list[str]:
    """World-writable directories to cover with a private tmpfs, unless Python lives there."""
    keep = [os.path.realpath(p) for p in (interpreter, sys.prefix, sys.base_prefix)]
    dirs = []
    for candidate in ("/tmp", "/var/tmp", "/dev/shm"):
        real = os.path.realpath(candidate)
        if os.path.isdir(real) and not any(k == real or k.startswith(real + os.sep) for k in keep):
            dirs.append(real)
    return dirs
