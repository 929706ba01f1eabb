"""The launcher: ``python -I -S launcher.py CONFIG``, started by :mod:`.run` in a new session.

Trusted code, standard library only: it runs isolated (``-I -S``), so it imports nothing from
this package or from site-packages. It sets up the namespaces, forks the program (under a small
init process when it has its own PID namespace), enforces the wall-clock timeout and kills every
descendant before it reports how the program ended, as JSON lines on ``report_fd``
(see :mod:`.verdict`).

The program's own process runs :mod:`.runner`. The launcher reads that module's source at start
and hands it to the program's interpreter with ``-c``: the program may run as an unprivileged id
that cannot read this package's directory (a checkout under ``/root`` or in a private temporary
directory), and in a mount namespace ``/tmp`` is replaced before the program starts.

``CONFIG`` is a JSON object written by :func:`.run.launch`: ``work`` (the scratch directory),
``interpreter``, ``result_fd``, ``report_fd``, ``timeout`` (s), ``memory``, ``file_size`` and
``scratch_size`` (bytes), ``cpu`` (s), ``processes``, ``files``, ``guard``, ``namespaces``,
``private_tmp`` (directories), ``drop_to`` (uid/gid or null), ``run_name`` and ``run_id``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

# From <sched.h>, <sys/mount.h> and <linux/prctl.h>.
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
#: Mount options in /proc/self/mountinfo that a read-only remount must keep (the kernel refuses to drop them).
MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024,
               "nodiratime": 2048, "relatime": 1 << 21}
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
RUNNER = Path(__file__).with_name("runner.py")


def encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def describe(status: int) -> dict[str, int | None]:
    """An exit status from waitpid as the report's ``exit`` and ``signal`` fields."""
    if os.WIFSIGNALED(status):
        return {"exit": None, "signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status), "signal": None}


class Launcher:
    """One run: isolate, start the program, wait with a deadline, clean up, report."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.report_fd = int(cfg["report_fd"])
        os.set_inheritable(self.report_fd, False)
        self.runner = RUNNER.read_text(encoding="utf-8")
        self.linux = sys.platform.startswith("linux")
        self.libc = ctypes.CDLL(None, use_errno=True) if self.linux else None
        self.root = os.geteuid() == 0
        self.uid, self.gid = os.getuid(), os.getgid()
        self.drop_to: int | None = cfg["drop_to"] if self.root else None
        # The kernel's process limit is per user, so the program's user's existing processes are
        # counted in (a fresh id, or a user namespace, starts from none).
        self.owner = self.drop_to if self.drop_to is not None else self.uid
        self.group = self.drop_to if self.drop_to is not None else self.gid
        self.existing: int | None = None
        self.layers = ["separate process, new session", "minimal environment", "scratch directory"]

    # -- system calls ------------------------------------------------------------------------

    def report(self, **data: Any) -> None:
        os.write(self.report_fd, (json.dumps(data) + "\n").encode())

    def prctl(self, option: int, value: int) -> bool:
        return self.libc is not None and self.libc.prctl(option, value, 0, 0, 0) == 0

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        if self.libc is None or self.libc.mount(encoded(source), encoded(target), encoded(fstype), flags, encoded(data)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {target}: {os.strerror(err)}")

    def count_processes(self, user: int) -> int:
        """Live processes of ``user`` (from /proc)."""
        n = 0
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/status") as f:
                        for line in f:
                            if line.startswith("Uid:"):
                                n += int(line.split()[1]) == user
                                break
                except OSError:
                    pass
        return n

    # -- namespaces ----------------------------------------------------------------------------

    def enter_namespaces(self, flags: int) -> None:
        assert self.libc is not None
        if self.libc.unshare(flags) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        if not self.root:
            for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{self.uid} {self.uid} 1"),
                               ("/proc/self/gid_map", f"{self.gid} {self.gid} 1")):
                with open(path, "w") as f:
                    f.write(text)

    def namespaces_work(self, flags: int) -> bool:
        """Try everything in a throw-away child first: some kernels (AppArmor-restricted user
        namespaces, container seccomp profiles) let unshare succeed and refuse what follows."""
        pid = os.fork()
        if pid == 0:
            try:
                self.enter_namespaces(flags)
                self.mount(None, "/", None, MS_REC | MS_PRIVATE)
                self.mount("tmpfs", self.cfg["work"], "tmpfs", MS_NOSUID | MS_NODEV, "size=64k")
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

    def isolate(self) -> bool:
        """Enter new namespaces where the kernel allows them; count the processes the limit must allow for."""
        if self.linux and self.cfg["namespaces"]:
            flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | (0 if self.root else CLONE_NEWUSER)
            self.existing = self.count_processes(self.owner) if self.root else 0
            if self.namespaces_work(flags):
                self.enter_namespaces(flags)
                if not self.root:
                    self.existing = 2  # this launcher and the init process, counted in the new namespace
                self.layers += ["network namespace (no network)", "PID namespace", "IPC and UTS namespaces"]
                if not self.root:
                    self.layers.append("user namespace")
                return True
        self.existing = self.count_processes(self.owner) if os.path.isdir("/proc/self") else None
        return False

    # -- the file system (in the new mount namespace) -------------------------------------------

    def setup_mounts(self) -> tuple[list[str], list[str]]:
        """Everything read-only but the scratch directory; private /proc and temporary directories.

        Returns the layers that took effect and the private temporary directories.
        """
        self.mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
        done = [self.scratch_tmpfs()]
        try:
            self.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            done.append("private /proc")
        except OSError:
            pass
        if "/" not in self.remount_read_only():
            done.append("read-only file system except the scratch directory")
        private = []
        for tmp in self.cfg["private_tmp"]:
            try:
                self.mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={self.cfg['file_size'] // 1024}k,mode=1777")
                private.append(tmp)
            except OSError:
                pass
        if private:
            done.append("private " + ", ".join(private))
        return done, private

    def scratch_tmpfs(self) -> str:
        """Make the scratch directory a size-limited tmpfs holding only the program, so that the
        program cannot fill the host's disk with many files under the per-file limit."""
        work = self.cfg["work"]
        with open(os.path.join(work, "program.py"), "rb") as f:
            program = f.read()
        size_kb = self.cfg["scratch_size"] // 1024
        self.mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_kb}k,mode=0700,uid={self.owner},gid={self.group}")
        os.chdir(work)
        with open("program.py", "wb") as f:
            f.write(program)
        os.chown("program.py", self.owner, self.group)
        return f"scratch directory on its own {self.cfg['scratch_size'] // 2**20} MB tmpfs"

    def remount_read_only(self) -> list[str]:
        """Remount every mount point but the scratch directory read-only; return those that refused."""
        failed = []
        with open("/proc/self/mountinfo") as f:
            entries = [line.split() for line in f]
        for fields in entries:
            point = fields[4].encode().decode("unicode_escape")
            if point == self.cfg["work"]:
                continue
            keep = 0
            for option in fields[5].split(","):
                keep |= MOUNT_FLAGS.get(option, 0)
            try:
                self.mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
            except OSError:
                failed.append(point)
        return failed

    # -- the program -----------------------------------------------------------------------------

    def set_limits(self) -> None:
        def cap(res: int, soft: int, hard: int | None = None) -> None:
            hard = soft if hard is None else hard
            _, current = resource.getrlimit(res)
            if current != resource.RLIM_INFINITY:
                soft, hard = min(soft, current), min(hard, current)
            resource.setrlimit(res, (soft, hard))

        cap(resource.RLIMIT_AS, self.cfg["memory"])
        cap(resource.RLIMIT_CPU, self.cfg["cpu"], self.cfg["cpu"] + 1)
        cap(resource.RLIMIT_NOFILE, self.cfg["files"])
        cap(resource.RLIMIT_FSIZE, self.cfg["file_size"])
        cap(resource.RLIMIT_CORE, 0)
        if self.existing is not None and hasattr(resource, "RLIMIT_NPROC"):
            cap(resource.RLIMIT_NPROC, self.existing + self.cfg["processes"])

    def limit_layers(self) -> list[str]:
        layers = ["resource limits (memory, CPU, files, file size, no core files)"]
        if self.existing is not None:
            layers.append("process limit")
        if self.drop_to is not None:
            layers.append("unprivileged user " + ("nobody" if self.drop_to == 65534 else f"(fresh id {self.drop_to})"))
        if self.cfg["guard"]:
            layers.append("python audit guard")
        return layers

    def environment(self, private: list[str]) -> tuple[dict[str, str], list[str]]:
        """The program's whole environment, and the directories it may write to."""
        work = self.cfg["work"]
        tmp = "/tmp" if "/tmp" in private else work
        variables = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": tmp,
                     "TMPDIR": tmp, "PYTHONHASHSEED": "0", "LLMEVAL_SANDBOX_RUN": self.cfg["run_id"]}
        return variables, [work, *private]

    def start_program(self, private: list[str]) -> int:
        """Fork the program: limits, unprivileged user, then exec the runner. Returns its pid."""
        variables, write_roots = self.environment(private)
        pid = os.fork()
        if pid:
            return pid
        try:
            os.setpgid(0, 0)  # its own process group: one killpg reaches the whole tree at once
            self.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            self.set_limits()
            if self.drop_to is not None:
                os.setgroups([])
                os.setgid(self.drop_to)
                os.setuid(self.drop_to)
                if os.getuid() == 0 or os.geteuid() == 0:
                    raise OSError("could not drop root privileges")
            self.prctl(PR_SET_NO_NEW_PRIVS, 1)
            self.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the change of user
            runner_cfg = {"result_fd": self.cfg["result_fd"], "guard": self.cfg["guard"], "write_roots": write_roots,
                          "run_name": self.cfg["run_name"]}
            exe = self.cfg["interpreter"]
            os.execve(exe, [exe, "-I", "-c", self.runner, json.dumps(runner_cfg)], variables)
        except BaseException as exc:
            try:
                self.report(error=f"{type(exc).__name__}: {exc}")
            finally:
                os._exit(127)
        raise AssertionError("unreachable")  # execve does not return

    def start_init(self, limit_layers: list[str]) -> int:
        """Fork PID 1 of the new namespace: it mounts, starts the program and reaps. When it
        exits, the kernel kills everything else in the namespace. Returns its pid."""
        init = os.fork()
        if init:
            return init
        try:
            self.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            done, private = self.setup_mounts()
            self.report(layers=self.layers + done + limit_layers + ["no new privileges"])
            child = self.start_program(private)
            while True:
                pid, status = os.waitpid(-1, 0)
                if pid == child:
                    self.report(**describe(status))
                    os._exit(0)
        except BaseException as exc:
            try:
                self.report(error=f"{type(exc).__name__}: {exc}")
            finally:
                os._exit(127)

    # -- waiting and cleaning up ---------------------------------------------------------------------

    def wait(self, watched: int, deadline: float) -> tuple[int, bool]:
        """Wait for ``watched`` until the deadline, then kill it. Returns (wait status, timed out)."""
        try:
            handle: int | None = os.pidfd_open(watched)
        except (AttributeError, OSError):
            handle = None
        delay = 0.001
        while True:
            pid, status = os.waitpid(watched, os.WNOHANG)
            if pid == watched:
                return status, False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(watched, signal.SIGKILL)
                return os.waitpid(watched, 0)[1], True
            if handle is not None:
                select.select([handle], [], [], remaining)
            else:
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.02)

    def my_children(self) -> list[int]:
        me = str(os.getpid())
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        if f.read().rsplit(b")", 1)[1].split()[1].decode() == me:
                            kids.append(int(entry))
                except (OSError, IndexError):
                    pass
        return kids

    def sweep_orphans(self) -> None:
        """Orphans of the program were re-parented to us (subreaper): kill until none is left."""
        quiet = 0
        for _ in range(500):
            kids = self.my_children() if os.path.isdir("/proc/self") else []
            for kid in kids:
                for kill in (os.killpg, os.kill):
                    with contextlib.suppress(OSError):
                        kill(kid, signal.SIGKILL)
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
            quiet = quiet + 1 if not kids else 0
            if quiet >= 2:
                break
            time.sleep(0.002)

    def run(self) -> None:
        namespaces = self.isolate()
        limit_layers = self.limit_layers()
        deadline = time.monotonic() + self.cfg["timeout"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if namespaces:
            watched = self.start_init(limit_layers)
        else:
            if self.prctl(PR_SET_CHILD_SUBREAPER, 1):
                self.layers.append("subreaper kills every descendant")
            self.report(layers=self.layers + limit_layers + (["no new privileges"] if self.linux else []))
            watched = self.start_program([])
        status, timed_out = self.wait(watched, deadline)
        if not namespaces:
            self.report(**describe(status))
            with contextlib.suppress(OSError):
                os.killpg(watched, signal.SIGKILL)
            self.sweep_orphans()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        self.report(timed_out=timed_out, cpu_exhausted=used >= self.cfg["cpu"] - 0.05)


def main() -> None:
    Launcher(json.loads(sys.argv[1])).run()
    os._exit(0)


if __name__ == "__main__":
    main()
