"""Running model-written code without trusting it.

Code execution is off until the user allows it (``--llm-allow-code-execution``, or
``llm_allow_code_execution = true`` in the ini file); until then :func:`run_untrusted` raises
:class:`CodeExecutionNotAllowed`, whose message says how to allow it, and the item is skipped.

When allowed, each program runs in its own short-lived process tree::

    result = run_untrusted("assert 1 + 1 == 2", timeout_s=5, allow=True)
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
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SandboxStatus = Literal["passed", "failed", "timeout", "killed", "error"]

#: Shown when an item needs code execution and the user has not allowed it.
NOT_ALLOWED_REASON = (
    "code execution is off: this item runs model-written code; allow it with "
    "--llm-allow-code-execution (or llm_allow_code_execution = true in the ini file) "
    "to run it in the sandbox"
)

#: The unprivileged account root drops to where no fresh id can be used (``nobody``).
NOBODY = 65534
#: Root runs each program as a fresh user and group id from this range, unknown to the system,
#: so that the kernel's per-user process limit counts that program alone and no two programs
#: (or real users) share files or signals.
FRESH_IDS = range(3_000_000_000, 4_000_000_000)

_allowed = False


class CodeExecutionNotAllowed(Exception):
    """Raised by :func:`run_untrusted` when the user has not allowed code execution."""

    def __init__(self, message: str = NOT_ALLOWED_REASON) -> None:
        super().__init__(message)


class SandboxError(RuntimeError):
    """The sandbox could not run a program at all (status ``error``): not the model's fault.

    Scorers raise it so that the item is reported as an error, never as a wrong answer.
    """


def allow_code_execution(allowed: bool = True) -> None:
    """Switch code execution on (or off) for this process; the plugin calls it at start-up."""
    global _allowed
    _allowed = bool(allowed)


def code_execution_allowed() -> bool:
    """Whether :func:`allow_code_execution` switched code execution on in this process."""
    return _allowed


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program.

    ``status`` is ``passed`` (ran to the end), ``failed`` (raised, exited early or tried
    something the sandbox refuses), ``timeout`` (wall clock or CPU limit), ``killed`` (ended
    by a signal: memory, file size) or ``error`` (the sandbox itself could not run it).
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


def run_untrusted(
    code: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    max_processes: int = 16,
    max_open_files: int = 64,
    max_file_mb: int = 16,
    allow: bool | None = None,
) -> SandboxResult:
    """Run ``code`` as a Python program in the sandbox and say how it ended.

    ``allow`` overrides the process-wide switch (:func:`allow_code_execution`); left as
    ``None`` the switch decides. ``timeout_s`` bounds wall-clock time (and CPU seconds),
    ``memory_mb`` the address space, ``max_processes`` the processes the program may have
    at once (itself included), ``max_open_files`` its file descriptors, ``max_file_mb`` the
    size of any file it writes (its captured output included).

    Example::

        run_untrusted("while True: pass", timeout_s=1, allow=True).status  # "timeout"
    """
    if not (code_execution_allowed() if allow is None else allow):
        raise CodeExecutionNotAllowed()
    return _run(
        code,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        max_processes=max_processes,
        max_open_files=max_open_files,
        max_file_mb=max_file_mb,
        python_guard=True,
    )


def _run(
    code: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    max_processes: int = 16,
    max_open_files: int = 64,
    max_file_mb: int = 16,
    python_guard: bool = True,
    namespaces: bool = True,
) -> SandboxResult:
    """:func:`run_untrusted` without the permission check.

    ``python_guard=False`` leaves out the audit hook and ``namespaces=False`` the Linux
    namespaces, so that tests can prove what the remaining layers contain on their own.
    """
    if timeout_s <= 0 or memory_mb < 64 or max_processes < 1 or max_open_files < 16 or max_file_mb < 1:
        raise ValueError("sandbox limits: timeout_s > 0, memory_mb >= 64, max_processes >= 1, "
                         "max_open_files >= 16, max_file_mb >= 1")
    if os.name != "posix":
        return SandboxResult("error", "the sandbox needs a POSIX system (Linux or macOS); "
                                      "run code-executing benchmarks in a Linux container")
    started = time.monotonic()
    root = os.geteuid() == 0
    interpreter = _interpreter(root)
    if interpreter is None:
        return SandboxResult("error", "no Python interpreter is readable by the unprivileged user "
                                      f"'nobody' (tried {sys.executable}); install one outside /root "
                                      "or run the evaluation as a normal user or in a container")
    base = Path(tempfile.mkdtemp(prefix="llmeval-sandbox-"))
    try:
        work = base / "work"
        out = base / "out"
        work.mkdir(mode=0o700)
        out.mkdir(mode=0o700)
        (work / "program.py").write_text(code, encoding="utf-8")
        if root:
            # Only the scratch directory belongs to the program; the output files stay root's.
            os.chmod(base, 0o711)
            drop_to = _unused_id()
            os.chown(work, drop_to, drop_to)
            os.chown(work / "program.py", drop_to, drop_to)
        files = {name: open(out / name, "wb+") for name in ("stdout", "stderr", "result", "report")}  # noqa: SIM115
        try:
            config = {
                "work": str(work),
                "interpreter": interpreter,
                "runner": _RUNNER,
                "result_fd": files["result"].fileno(),
                "report_fd": files["report"].fileno(),
                "timeout": float(timeout_s),
                "memory": int(memory_mb) * 1024 * 1024,
                "cpu": max(1, int(timeout_s + 0.999)),
                "processes": int(max_processes),
                "files": int(max_open_files),
                "file_size": int(max_file_mb) * 1024 * 1024,
                "scratch_size": 4 * int(max_file_mb) * 1024 * 1024,
                "guard": python_guard,
                "namespaces": namespaces,
                "private_tmp": _private_tmp_dirs(interpreter),
                "drop_to": drop_to if root else None,
            }
            nonce = secrets.token_hex(16)
            config["run_id"] = run_id = secrets.token_hex(8)
            backstop = False
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=files["stdout"],
                stderr=files["stderr"],
                cwd=work,
                env=_minimal_environment(str(work)),
                start_new_session=True,
                pass_fds=(files["result"].fileno(), files["report"].fileno()),
            )
            try:
                assert proc.stdin is not None
                try:
                    proc.stdin.write(nonce.encode())
                    proc.stdin.close()
                except OSError:
                    pass
                # The launcher enforces the timeout itself; this only catches a stuck launcher.
                backstop = not _wait(proc, timeout_s + 15)
            finally:
                _kill_group(proc.pid)
                proc.wait()
            texts = {}
            for name, handle in files.items():
                handle.seek(0)
                texts[name] = handle.read().decode("utf-8", "replace")
            leftovers = _kill_session(proc.pid)
            if "PID namespace" not in texts["report"]:
                # Without a PID namespace a daemon that left our session could survive: find it
                # by the run's mark in its environment.
                leftovers += len(kill_marked_processes(run_id))
        finally:
            for handle in files.values():
                handle.close()
    finally:
        _remove_tree(base)
    result = _verdict(texts, nonce, timeout_s, memory_mb, max_file_mb, backstop, leftovers)
    return SandboxResult(
        result.status,
        _redact(result.detail),
        stdout=_redact(_tail(texts["stdout"])),
        stderr=_redact(_tail(texts["stderr"])),
        duration_s=round(time.monotonic() - started, 3),
        protections=result.protections,
        run_id=run_id,
    )


# -- the parent's side ---------------------------------------------------------------------------

#: Environment variables the program gets; nothing is inherited from the parent's environment.
_ENV_LOCALE = "C.UTF-8"


def _minimal_environment(work: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": _ENV_LOCALE,
        "LC_ALL": _ENV_LOCALE,
        "HOME": work,
        "TMPDIR": work,
        "PYTHONHASHSEED": "0",
    }


def _interpreter(root: bool) -> str | None:
    """The Python the program runs under: ours, or, as root, one ``nobody`` can execute."""
    if not root:
        return sys.executable
    # Root's own Python may live where nobody cannot reach it (a pyenv under /root): then a
    # system Python of the same version, else any system Python 3, runs the program.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, getattr(sys, "_base_executable", sys.executable),
                  f"/usr/local/bin/{version}", f"/usr/bin/{version}", "/usr/local/bin/python3", "/usr/bin/python3"]
    for candidate in candidates:
        if candidate and os.path.exists(candidate) and _others_can_run(candidate):
            return candidate
    return None


def _others_can_run(path: str) -> bool:
    """Whether a user with no relation to the file's owner can run this interpreter."""
    real = Path(os.path.realpath(path))
    needed = [(real, stat.S_IXOTH)]
    needed += [(parent, stat.S_IXOTH) for parent in real.parents]
    # The standard library beside it must be readable too (prefix/lib/pythonX.Y).
    lib = real.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if real.name.startswith(f"python{sys.version_info.major}.{sys.version_info.minor}") and lib.is_dir():
        needed.append((lib, stat.S_IROTH | stat.S_IXOTH))
    try:
        return all(os.stat(p).st_mode & bits == bits for p, bits in needed)
    except OSError:
        return False


def _unused_id() -> int:
    """A user and group id no account, group or process uses, mapped in our namespace; else nobody."""
    import grp
    import pwd
    import random

    for _ in range(20):
        candidate = random.randrange(FRESH_IDS.start, FRESH_IDS.stop)
        if not (_id_mapped("/proc/self/uid_map", candidate) and _id_mapped("/proc/self/gid_map", candidate)):
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


def _id_mapped(map_file: str, candidate: int) -> bool:
    try:
        with open(map_file) as handle:
            ranges = [tuple(int(x) for x in line.split()) for line in handle if line.strip()]
    except OSError:
        return False  # no /proc (not Linux): keep to the well-known account
    return any(inside <= candidate < inside + count for inside, _, count in ranges)


def _private_tmp_dirs(interpreter: str) -> list[str]:
    """World-writable directories to cover with a private tmpfs, unless Python lives there."""
    keep = [os.path.realpath(p) for p in (interpreter, sys.prefix, sys.base_prefix)]
    dirs = []
    for candidate in ("/tmp", "/var/tmp", "/dev/shm"):
        real = os.path.realpath(candidate)
        if os.path.isdir(real) and not any(k == real or k.startswith(real + os.sep) for k in keep):
            dirs.append(real)
    return dirs


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
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


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_session(sid: int) -> int:
    """Kill whatever is left in the launcher's session (Linux); return how many there were."""
    if not os.path.isdir("/proc/self"):
        return 0
    found = 0
    for _ in range(20):
        pids = [pid for pid, session in _process_sessions() if session == sid]
        if not pids:
            break
        found = max(found, len(pids))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return found


def _process_sessions() -> list[tuple[int, int]]:
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


def _remove_tree(path: Path) -> None:
    # The program may have left directories it made unreadable (chmod 0): open them up and retry.
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


def _redact(text: str) -> str:
    """Blank out the values of secret-looking environment variables, should the program print them."""
    for name, value in os.environ.items():
        if len(value) >= 8 and any(word in name.upper() for word in _SECRET_WORDS) and value in text:
            text = text.replace(value, "[redacted]")
    return text


@dataclass(frozen=True)
class _Verdict:
    status: SandboxStatus
    detail: str
    protections: tuple[str, ...]


def _json_lines(text: str) -> list[dict[str, object]]:
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _verdict(texts: dict[str, str], nonce: str, timeout_s: float, memory_mb: int, max_file_mb: int,
             backstop: bool, leftovers: int) -> _Verdict:
    report: dict[str, object] = {}
    for row in _json_lines(texts["report"]):
        report.update(row)
    layers = report.get("layers")
    protections = tuple(str(p) for p in layers) if isinstance(layers, list) else ()
    if leftovers:
        protections += (f"killed {leftovers} leftover process(es) after the run",)
    if report.get("error"):
        return _Verdict("error", f"the sandbox could not start the program: {report['error']}", protections)
    events = _json_lines(texts["result"])
    violations = list(dict.fromkeys(str(e["violation"]) for e in events if "violation" in e))
    refused = ("; refused by the sandbox: " + "; ".join(violations[:4])) if violations else ""
    if backstop or report.get("timed_out"):
        return _Verdict("timeout", f"did not finish within {timeout_s:g} s (wall clock); "
                                   "the whole process tree was killed" + refused, protections)
    if "exit" not in report:
        stderr = texts["stderr"].strip().splitlines()
        return _Verdict("error", "the sandbox launcher failed: " + (stderr[-1] if stderr else "no report"), protections)

    failure = next((str(e["failed"]) for e in events if "failed" in e), None)
    done = any(e.get("done") == nonce for e in events)
    code = report.get("exit")
    sig = report.get("signal")

    status: SandboxStatus
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and report.get("cpu_exhausted")):
        status, detail = "timeout", f"used more than {timeout_s:g} s of CPU time"
    elif sig == signal.SIGXFSZ:
        status, detail = "killed", f"wrote a file larger than the {max_file_mb} MB limit"
    elif isinstance(sig, int):
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = f" (memory limit {memory_mb} MB?)" if sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT) else ""
        status, detail = "killed", f"killed by {name}{hint}"
    elif done and code == 0:
        status, detail = "passed", "ran to the end"
    elif failure is not None:
        status, detail = "failed", failure
        if "MemoryError" in failure:
            detail += f" (memory limit {memory_mb} MB)"
        elif "File too large" in failure:
            detail += f" (file size limit {max_file_mb} MB)"
    else:
        status = "failed"
        detail = (f"the program ended before its checks finished (exit status {code}): it exited early "
                  "(sys.exit, os._exit) or closed the sandbox's result channel")
    if violations and status in ("passed", "failed"):
        status, detail = "failed", refused[2:]
    elif violations:
        detail += refused
    return _Verdict(status, detail, protections)


# -- the launcher: runs as `python -I -S -c _LAUNCHER CONFIG` in a new session -----------------
#
# It is trusted code, kept to the standard library. It sets up the namespaces, forks the program
# (under a small init process when it has its own PID namespace), enforces the wall-clock timeout
# and kills every descendant before it reports. Reports are JSON lines on report_fd.

_LAUNCHER = r'''
import ctypes, json, os, resource, signal, sys, time

cfg = json.loads(sys.argv[1])
report_fd = cfg["report_fd"]
os.set_inheritable(report_fd, False)
layers = ["separate process, new session", "minimal environment", "scratch directory"]

def report(**data):
    os.write(report_fd, (json.dumps(data) + "\n").encode())

linux = sys.platform.startswith("linux")
libc = ctypes.CDLL(None, use_errno=True) if linux else None
root = os.geteuid() == 0
uid, gid = os.getuid(), os.getgid()
NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024,
               "nodiratime": 2048, "relatime": 1 << 21}
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38

def prctl(option, value):
    return libc is not None and libc.prctl(option, value, 0, 0, 0) == 0

def mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s: %s" % (target, os.strerror(err)))

def count_processes(user):
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/status" % entry) as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            n += int(line.split()[1]) == user
                            break
            except OSError:
                pass
    return n

# Processes the program may have: its user's existing ones are counted in, since the kernel's
# limit is per user (a fresh id, or a user namespace, starts from none).
target_uid = cfg["drop_to"] if root and cfg["drop_to"] is not None else uid

def enter_namespaces(flags):
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if not root:
        for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", "%d %d 1" % (uid, uid)),
                           ("/proc/self/gid_map", "%d %d 1" % (gid, gid))):
            with open(path, "w") as f:
                f.write(text)

def namespaces_work(flags):
    """Try everything in a throw-away child first: some kernels (AppArmor-restricted user
    namespaces, container seccomp profiles) let unshare succeed and refuse what follows."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_namespaces(flags)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            mount("tmpfs", cfg["work"], "tmpfs", MS_NOSUID | MS_NODEV, "size=64k")
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

namespaces = False
if linux and cfg["namespaces"]:
    flags = NEWNS | NEWPID | NEWNET | NEWIPC | NEWUTS | (0 if root else NEWUSER)
    existing = count_processes(target_uid) if root else 0
    if namespaces_work(flags):
        enter_namespaces(flags)
        namespaces = True
        if not root:
            existing = 2  # this launcher and the init process below, counted in the new namespace
        layers += ["network namespace (no network)", "PID namespace", "IPC and UTS namespaces"]
        if not root:
            layers.append("user namespace")
if not namespaces:
    existing = count_processes(target_uid) if os.path.isdir("/proc/self") else None

def set_limits():
    def cap(res, soft, hard=None):
        hard = soft if hard is None else hard
        _, current = resource.getrlimit(res)
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(res, (soft, hard))
    cap(resource.RLIMIT_AS, cfg["memory"])
    cap(resource.RLIMIT_CPU, cfg["cpu"], cfg["cpu"] + 1)
    cap(resource.RLIMIT_NOFILE, cfg["files"])
    cap(resource.RLIMIT_FSIZE, cfg["file_size"])
    cap(resource.RLIMIT_CORE, 0)
    if existing is not None and hasattr(resource, "RLIMIT_NPROC"):
        cap(resource.RLIMIT_NPROC, existing + cfg["processes"])

def setup_mounts():
    """In the new mount namespace: everything read-only but the scratch directory."""
    done = []
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    work = cfg["work"]
    # The scratch directory becomes a size-limited tmpfs holding only the program, so the
    # program cannot fill the host's disk with many files under the per-file limit.
    with open(os.path.join(work, "program.py"), "rb") as f:
        program = f.read()
    owner = cfg["drop_to"] if root and cfg["drop_to"] is not None else uid
    group = cfg["drop_to"] if root and cfg["drop_to"] is not None else gid
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV,
          "size=%dk,mode=0700,uid=%d,gid=%d" % (cfg["scratch_size"] // 1024, owner, group))
    os.chdir(work)
    with open("program.py", "wb") as f:
        f.write(program)
    os.chown("program.py", owner, group)
    done.append("scratch directory on its own %d MB tmpfs" % (cfg["scratch_size"] // 2**20))
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        done.append("private /proc")
    except OSError:
        pass
    failed = []
    with open("/proc/self/mountinfo") as f:
        entries = [line.split() for line in f]
    for fields in entries:
        point = fields[4].encode().decode("unicode_escape")
        if point == work:
            continue
        keep = 0
        for option in fields[5].split(","):
            keep |= MOUNT_FLAGS.get(option, 0)
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        except OSError:
            failed.append(point)
    if "/" not in failed:
        done.append("read-only file system except the scratch directory")
    private = []
    for tmp in cfg["private_tmp"]:
        try:
            mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "size=%dk,mode=1777" % (cfg["file_size"] // 1024))
            private.append(tmp)
        except OSError:
            pass
    if private:
        done.append("private " + ", ".join(private))
    return done, private

def start_program(env):
    """Fork the program: limits, unprivileged user, then exec the runner. Returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setpgid(0, 0)  # its own process group: one killpg reaches the whole tree at once
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        set_limits()
        if root and cfg["drop_to"] is not None:
            os.setgroups([])
            os.setgid(cfg["drop_to"])
            os.setuid(cfg["drop_to"])
            if os.getuid() == 0 or os.geteuid() == 0:
                raise OSError("could not drop root privileges")
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the change of user
        runner_cfg = {"result_fd": cfg["result_fd"], "guard": cfg["guard"], "write_roots": env["roots"]}
        exe = cfg["interpreter"]
        os.execve(exe, [exe, "-I", "-c", cfg["runner"], json.dumps(runner_cfg)], env["vars"])
    except BaseException as exc:
        try:
            report(error="%s: %s" % (type(exc).__name__, exc))
        finally:
            os._exit(127)

def environment(private):
    work = cfg["work"]
    tmp = "/tmp" if "/tmp" in private else work
    return {"vars": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                     "HOME": tmp, "TMPDIR": tmp, "PYTHONHASHSEED": "0", "LLMEVAL_SANDBOX_RUN": cfg["run_id"]},
            "roots": [work] + private}

def wait_status(pid):
    _, status = os.waitpid(pid, 0)
    return status

def describe(status):
    if os.WIFSIGNALED(status):
        return {"exit": None, "signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status), "signal": None}

limit_layers = ["resource limits (memory, CPU, files, file size, no core files)"]
if existing is not None:
    limit_layers.append("process limit")
if root and cfg["drop_to"] is not None:
    limit_layers.append("unprivileged user " + ("nobody" if cfg["drop_to"] == 65534 else "(fresh id %d)" % cfg["drop_to"]))
if cfg["guard"]:
    limit_layers.append("python audit guard")

deadline = time.monotonic() + cfg["timeout"]
cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)

if namespaces:
    # The first child is PID 1 of the new namespace: it mounts, starts the program and reaps.
    # When it exits, the kernel kills everything else in the namespace.
    init = os.fork()
    if init == 0:
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            done, private = setup_mounts()
            report(layers=layers + done + limit_layers + ["no new privileges"])
            child = start_program(environment(private))
            while True:
                pid, status = os.waitpid(-1, 0)
                if pid == child:
                    report(**describe(status))
                    os._exit(0)
        except BaseException as exc:
            try:
                report(error="%s: %s" % (type(exc).__name__, exc))
            finally:
                os._exit(127)
    watched = init
else:
    if prctl(PR_SET_CHILD_SUBREAPER, 1):
        layers.append("subreaper kills every descendant")
    report(layers=layers + limit_layers + (["no new privileges"] if linux else []))
    watched = start_program(environment([]))

timed_out = False
try:
    import select
    handle = os.pidfd_open(watched)
except (AttributeError, OSError):
    handle = None
delay = 0.001
while True:
    pid, status = os.waitpid(watched, os.WNOHANG)
    if pid == watched:
        break
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        os.kill(watched, signal.SIGKILL)
        status = wait_status(watched)
        timed_out = True
        break
    if handle is not None:
        select.select([handle], [], [], remaining)
    else:
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.02)

if not namespaces:
    report(**describe(status))
    try:
        os.killpg(watched, signal.SIGKILL)
    except OSError:
        pass
    # Orphans of the program were re-parented to us (subreaper): kill until none is left.
    quiet = 0
    for _ in range(500):
        me = str(os.getpid())
        kids = []
        if os.path.isdir("/proc/self"):
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open("/proc/%s/stat" % entry, "rb") as f:
                            if f.read().rsplit(b")", 1)[1].split()[1].decode() == me:
                                kids.append(int(entry))
                    except (OSError, IndexError):
                        pass
        for kid in kids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(kid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        quiet = quiet + 1 if not kids else 0
        if quiet >= 2:
            break
        time.sleep(0.002)
cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
used = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
report(timed_out=timed_out, cpu_exhausted=used >= cfg["cpu"] - 0.05)
os._exit(0)
'''


# -- the runner: `python -I -c _RUNNER CONFIG` as the program's own process ----------------------
#
# It reads the nonce from stdin, installs the audit guard, runs program.py and writes one JSON
# line per event to result_fd: {"violation": ...} for each refusal, then {"failed": ...} or
# {"done": nonce}. A pass needs the nonce, so an early sys.exit(0) or os._exit(0) is no pass.

_RUNNER = r'''
import os, sys

def _sandbox_main():
    import json
    cfg = json.loads(sys.argv[1])
    fd = cfg["result_fd"]
    nonce = b""
    while True:
        chunk = os.read(0, 64)
        if not chunk:
            break
        nonce += chunk
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    del sys.argv[1:]

    def emit(**data):
        try:
            os.write(fd, (json.dumps(data) + "\n").encode())
        except OSError:
            pass

    if cfg["guard"]:
        _install_guard(emit, cfg["write_roots"])
    try:
        with open("program.py", encoding="utf-8") as f:
            source = f.read()
        code = compile(source, "program.py", "exec")
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except BaseException as exc:
        import traceback
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "program.py"]
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        if isinstance(exc, SyntaxError):
            text += " (line %s)" % exc.lineno
        elif frames:
            text += " (line %d: %s)" % (frames[-1].lineno, (frames[-1].line or "").strip())
        emit(failed=text[:2000])
        _flush()
        os._exit(1)
    emit(done=nonce.decode())
    _flush()
    os._exit(0)

def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass

def _install_guard(emit, write_roots):
    import os.path as paths
    roots = [paths.realpath(r) for r in write_roots]
    libs = sorted({paths.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})

    def other_process_secret(path):
        # /proc/PID/environ, /proc/PID/mem, /proc/PID/task/TID/...: another process's secrets.
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "proc" or parts[-1] not in ("environ", "mem"):
            return False
        return parts[2] not in ("self", "thread-self", str(me))
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    me = os.getpid()

    class SandboxRefusal(PermissionError):
        pass

    def refuse(what):
        emit(violation=what)
        raise SandboxRefusal("refused by the sandbox: " + what)

    def inside(path):
        return any(path == r or path.startswith(r + os.sep) for r in roots)

    def real(path):
        path = os.fsdecode(os.fspath(path))
        return paths.realpath(path)

    processes = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                 "subprocess.Popen", "pty.spawn", "os.startfile")
    changes = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (1,),
               "os.symlink": (1,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,), "os.truncate": (0,),
               "os.chflags": (0,), "os.lchflags": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
               "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (1,)}
    # Where each event carries a dir_fd (-1 or None when absent): paths relative to it escape our check.
    dir_fds = {"os.remove": (1,), "os.rmdir": (1,), "os.mkdir": (2,), "os.rename": (2, 3), "os.link": (2, 3),
               "os.symlink": (2,), "os.chmod": (2,), "os.chown": (3,), "os.utime": (3,)}
    busy = []

    def hook(event, args):
        if busy:
            return
        busy.append(1)
        try:
            check(event, args)
        finally:
            busy.pop()

    def check(event, args):
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            where = real(path)
            writing = bool((flags or 0) & write_flags) or any(c in (mode or "") for c in "wax+")
            if writing and not inside(where) and where != os.devnull:
                refuse("writing outside the scratch directory (%s)" % where)
            if other_process_secret(where):
                refuse("reading another process's memory or environment (%s)" % where)
        elif event.startswith("socket."):
            refuse("network access (%s)" % event)
        elif event.startswith(processes):
            refuse("starting a process (%s)" % event)
        elif event.startswith("ctypes."):
            refuse("native code through ctypes (%s)" % event)
        elif event in ("os.kill", "os.killpg", "resource.prlimit"):
            if not (event == "os.kill" and args[0] == me):
                refuse("signalling or changing another process (%s)" % event)
        elif event == "import":
            name, filename = args[0], args[1]
            if name in ("_posixsubprocess", "_ctypes"):
                refuse("starting processes or native code (import %s)" % name)
            if filename and filename.endswith((".so", ".pyd", ".dylib")):
                where = real(filename)
                if not any(where.startswith(lib + os.sep) for lib in libs):
                    refuse("loading a native extension from %s" % where)
        elif event in changes:
            for index in changes[event]:
                target = args[index] if index < len(args) else None
                if target is None or isinstance(target, int):
                    continue
                if not inside(real(target)):
                    refuse("changing files outside the scratch directory (%s %s)" % (event, real(target)))
            for index in dir_fds.get(event, ()):
                if index < len(args) and isinstance(args[index], int) and args[index] >= 0:
                    refuse("changing files relative to a directory descriptor (%s)" % event)
        elif event in ("sqlite3.connect", "sqlite3.load_extension"):
            target = args[0] if args else None
            if event == "sqlite3.load_extension" or (target not in (None, ":memory:") and not inside(real(target))):
                refuse("a database outside the scratch directory (%s)" % event)

    sys.addaudithook(hook)

_sandbox_main()
'''
