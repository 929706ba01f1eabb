"""The sandbox against hostile programs: each is contained, fails with a reason, leaves nothing.

Most hostile programs run twice: with every layer (what users get), and without the Python
audit guard, to prove the operating-system layers hold on their own. Where a layer depends
on the kernel (namespaces), the test says so and is skipped when the layer is missing.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmeval import sandbox
from pytest_llmeval.sandbox import (
    CodeExecutionNotAllowed,
    SandboxResult,
    code_execution,
    code_execution_allowed,
    marked_processes,
    others_can_run,
    program_interpreter,
    run_untrusted,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox needs a POSIX system")

CANARY = "sk-canary-" + uuid.uuid4().hex
#: For programs that are expected to finish: generous, so that a busy machine does not turn a
#: result into a timeout. Programs meant to time out set their own short limit.
FINISHES_WITHIN_S = 60


def run(code: str, guard: bool = True, **limits: object) -> SandboxResult:
    limits.setdefault("timeout_s", FINISHES_WITHIN_S)
    return run_untrusted(code, allow=True, python_guard=guard, **limits)  # type: ignore[arg-type]


def layers() -> tuple[str, ...]:
    return run("pass").protections


def has_layer(fragment: str) -> bool:
    return any(fragment in layer for layer in layers())


both_modes = pytest.mark.parametrize("guard", [True, False], ids=["all-layers", "os-layers-only"])


def stopped_by_the_launcher(result: SandboxResult) -> bool:
    """The launcher's own deadline ended the program, not the parent's backstop."""
    return result.status == "timeout" and "the parent killed it" not in result.detail


# -- permission ----------------------------------------------------------------------------------

def test_off_unless_allowed() -> None:
    assert not code_execution_allowed()
    with pytest.raises(CodeExecutionNotAllowed, match="--llm-allow-code-execution"):
        run_untrusted("print('hello')")
    with pytest.raises(CodeExecutionNotAllowed, match="llm_allow_code_execution"):
        run_untrusted("print('hello')", allow=False)


def test_permission_holds_inside_its_block_only() -> None:
    with code_execution(True):
        assert run_untrusted("print('hello')", timeout_s=FINISHES_WITHIN_S).stdout == "hello\n"
        with code_execution(False), pytest.raises(CodeExecutionNotAllowed):
            run_untrusted("print('hello')")
        assert code_execution_allowed()  # the inner block restored the outer one
    assert not code_execution_allowed()
    with pytest.raises(CodeExecutionNotAllowed):
        run_untrusted("print('hello')")


def test_permission_is_restored_when_the_block_raises() -> None:
    with pytest.raises(KeyError), code_execution(True):
        raise KeyError("boom")
    assert not code_execution_allowed()


def test_permission_does_not_reach_other_threads_unless_carried() -> None:
    seen: dict[str, bool] = {}
    with code_execution(True):
        plain = threading.Thread(target=lambda: seen.update(plain=code_execution_allowed()))
        context = contextvars.copy_context()
        carried = threading.Thread(target=lambda: context.run(lambda: seen.update(carried=code_execution_allowed())))
        for thread in (plain, carried):
            thread.start()
            thread.join()
    assert seen == {"plain": False, "carried": True}


@pytest.mark.parametrize("flag", [[], ["--llm-allow-code-execution"]], ids=["off", "allowed"])
def test_the_option_allows_code_execution_for_its_run_only(pytester: pytest.Pytester, flag: list[str]) -> None:
    pytester.makepyfile(
        f"""
        from pytest_llmeval.sandbox import code_execution_allowed

        def test_inside():
            assert code_execution_allowed() is {bool(flag)}
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider", *flag).assert_outcomes(passed=1)
    assert not code_execution_allowed()  # nothing leaked out of the inner run


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        run_untrusted("pass", timeout_s=0, allow=True)


# -- ordinary programs ---------------------------------------------------------------------------

def test_passing_program() -> None:
    result = run("def f(x):\n    return x + 1\nassert f(1) == 2\nprint('ok')")
    assert result.status == "passed", result
    assert result.passed and result.stdout == "ok\n"


def test_failing_assertion_names_the_line() -> None:
    result = run("x = 1\nassert x == 2\n")
    assert result.status == "failed"
    assert result.detail == "AssertionError (line 2: assert x == 2)"


def test_syntax_error() -> None:
    result = run("def f(:\n  pass")
    assert result.status == "failed"
    assert result.detail.startswith("SyntaxError") and "(line 1)" in result.detail


@pytest.mark.parametrize("ending", ["import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit",
                                    "raise KeyboardInterrupt"])
def test_exiting_early_is_no_pass(ending: str) -> None:
    # A completion that ends the process before the checks run must not count as passing.
    for run_name in ("__main__", "solution"):
        result = run(ending + "\nassert False, 'the checks'\n", run_name=run_name)
        assert result.status == "failed", (run_name, result)


def test_a_program_runs_as_main_by_default() -> None:
    program = ("import __main__, sys\nVALUE = 7\nassert __main__.VALUE == 7\n"
               "if __name__ == '__main__':\n    print('as a script')\n")
    result = run(program)
    assert result.status == "passed", result
    assert result.stdout == "as a script\n"


@pytest.mark.parametrize("block", ["input()", "import unittest\n    unittest.main()", "import sys\n    sys.exit(1)",
                                   "raise SystemExit(0)", "assert False, 'the demo'"])
def test_a_module_run_skips_the_main_block(block: str) -> None:
    program = f"def f(x):\n    return x + 1\n\nif __name__ == '__main__':\n    {block}\n\nassert f(1) == 2\nprint(__name__)\n"
    result = run(program, run_name="solution")
    assert result.status == "passed", result
    assert result.stdout == "solution\n"
    assert run(program).status == "failed"  # the same program as a script runs its demo


def test_stdin_is_empty() -> None:
    result = run("import sys\nassert sys.stdin.read() == ''\ntry:\n    input()\nexcept EOFError:\n    print('eof')\n")
    assert result.status == "passed", result
    assert result.stdout == "eof\n"


def test_layers_are_reported() -> None:
    names = layers()
    assert "minimal environment" in names and "python audit guard" in names
    assert any(name.startswith("resource limits") for name in names)


# -- hostile programs ----------------------------------------------------------------------------

@both_modes
def test_infinite_loop_times_out(guard: bool) -> None:
    result = run("while True:\n    pass\n", guard, timeout_s=1)
    assert stopped_by_the_launcher(result), result


def test_sleeping_program_times_out_by_wall_clock() -> None:
    result = run("import time\ntime.sleep(600)\n", timeout_s=1)
    assert stopped_by_the_launcher(result), result
    assert "wall clock" in result.detail


def test_fork_is_refused_by_the_guard() -> None:
    result = run("import os\nos.fork()\n")
    assert result.status == "failed"
    assert "refused by the sandbox: starting a process (os.fork)" in result.detail


@both_modes
def test_fork_bomb_is_contained(guard: bool) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = run(bomb, guard, timeout_s=1.5)
    assert result.status == "failed" or stopped_by_the_launcher(result), result
    assert not marked_processes(result.run_id), "processes of a sandbox run survived"


def test_process_limit_bounds_children() -> None:
    # Without the guard, only the kernel's process limit stops the program from forking.
    program = (
        "import os, time\n"
        "children = 0\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "    except OSError:\n"
        "        break\n"
        "print(children)\n"
    )
    result = run(program, guard=False, max_processes=6)
    assert result.status == "passed", result
    assert int(result.stdout) <= 5  # six processes in all, the program itself included
    assert not marked_processes(result.run_id)


@both_modes
def test_memory_bomb_fails_with_memory_error(guard: bool) -> None:
    result = run("blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))\n", guard, memory_mb=256)
    assert result.status == "failed", result
    assert "MemoryError" in result.detail and "memory limit 256 MB" in result.detail


def test_huge_output_is_cut_by_the_file_size_limit() -> None:
    result = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", max_file_mb=2)
    assert result.status in ("failed", "killed"), result
    assert "file size limit 2 MB" in result.detail or "larger than" in result.detail
    assert len(result.stdout) <= 4100  # only the tail comes back


@pytest.fixture
def outside_targets() -> Iterator[list[Path]]:
    """Files a program must not create: in /tmp, in the checkout, and at the root of the file
    system (outside every private temporary directory, wherever the checkout lies)."""
    tag = uuid.uuid4().hex
    repo_file = Path(__file__).resolve().parent / f"sandbox-marker-{tag}"
    targets = [Path("/tmp") / f"llmeval-marker-{tag}", repo_file, Path("/") / f"llmeval-marker-{tag}"]
    yield targets
    for path in targets:
        path.unlink(missing_ok=True)


def writer(targets: list[Path]) -> str:
    return (
        "wrote = []\n"
        f"for path in {[str(t) for t in targets]!r} + ['inside.txt']:\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write('x')\n"
        "        wrote.append(path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, exc)\n"
        "print('wrote', wrote)\n"
        "assert 'inside.txt' in wrote\n"
    )


def test_writing_outside_the_scratch_directory_is_refused(outside_targets: list[Path]) -> None:
    result = run(writer(outside_targets))
    assert result.status == "failed"
    assert "refused by the sandbox: writing outside the scratch directory" in result.detail
    assert not any(path.exists() for path in outside_targets)


def test_writes_outside_never_reach_the_host_without_the_guard(outside_targets: list[Path]) -> None:
    if not has_layer("private /tmp"):
        pytest.skip("no mount namespace here: /tmp is shared (documented in docs/sandbox.md)")
    result = run(writer(outside_targets), guard=False)
    assert "wrote ['inside.txt']" in result.stdout or "/tmp/llmeval-marker" in result.stdout
    assert not any(path.exists() for path in outside_targets)  # private /tmp, read-only repo


def test_the_repository_is_not_writable_without_the_guard(outside_targets: list[Path]) -> None:
    result = run(writer(outside_targets[1:]), guard=False)
    assert not outside_targets[1].exists(), result
    assert "refused" in result.stdout


@both_modes
def test_secrets_in_the_environment_stay_out(guard: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMEVAL_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    program = (
        "import glob, os\n"
        "found = [name for name, value in os.environ.items() if 'canary' in value]\n"
        "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/task/*/environ'):\n"
        "    try:\n"
        "        with open(path, 'rb') as handle:\n"
        "            data = handle.read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    start = data.find(b'sk-canary')\n"
        "    if start >= 0:\n"
        "        found.append(data[start:start + 60].decode())\n"
        "print(found)\n"
        "assert found, 'no secret found'\n"
    )
    result = run(program, guard)
    assert result.status == "failed", result
    for text in (result.detail, result.stdout, result.stderr):
        assert CANARY not in text


def test_printed_secrets_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should a secret reach the program anyway, it does not reach our reports.
    monkeypatch.setenv("LLMEVAL_API_KEY", CANARY)
    result = run(f"print({CANARY!r})\nraise ValueError({CANARY!r})\n")
    assert CANARY not in result.stdout + result.detail
    assert "[redacted]" in result.stdout


class Listener:
    """A loopback server. Connections wait in its backlog until counted, so counting needs no
    thread and no guess at how long a connection takes to arrive."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]

    def accepted(self, wait_s: float) -> int:
        """Connections made so far: waits up to ``wait_s`` for the first, takes the rest at once."""
        count = 0
        self.server.settimeout(wait_s)
        while True:
            try:
                conn, _ = self.server.accept()
            except (BlockingIOError, TimeoutError):
                return count
            conn.close()
            count += 1
            self.server.settimeout(0.0)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def connector(port: int) -> str:
    return (
        "import socket\n"
        f"connection = socket.create_connection(('127.0.0.1', {port}), timeout=10)\n"
        "connection.sendall(b'stolen')\n"
    )


def test_the_listener_sees_an_unsandboxed_connection(listener: Listener) -> None:
    # The control: the same program, run directly, does reach the listener.
    subprocess.run([sys.executable, "-c", connector(listener.port)], check=True, timeout=FINISHES_WITHIN_S)
    assert listener.accepted(wait_s=FINISHES_WITHIN_S) == 1


def test_network_is_refused(listener: Listener) -> None:
    result = run(connector(listener.port))
    assert result.status == "failed"
    assert "refused by the sandbox: network access" in result.detail
    assert listener.accepted(wait_s=0.5) == 0


def test_network_namespace_blocks_loopback_without_the_guard(listener: Listener) -> None:
    if not has_layer("network namespace"):
        pytest.skip("no network namespace here: only the audit guard blocks the network (see docs/sandbox.md)")
    result = run(connector(listener.port), guard=False)
    assert result.status == "failed"
    assert "unreachable" in result.detail or "refused" in result.detail.lower()
    assert listener.accepted(wait_s=0.5) == 0


def test_subprocess_and_os_system_are_refused() -> None:
    for program in ("import subprocess\nsubprocess.run(['true'])\n", "import os\nos.system('true')\n"):
        result = run(program)
        assert result.status == "failed"
        assert "refused by the sandbox" in result.detail


def test_ctypes_is_refused() -> None:
    result = run("import ctypes\nctypes.CDLL(None).fork()\n")
    assert result.status == "failed"
    assert "refused by the sandbox" in result.detail


def daemon(token: str) -> str:
    """A program that starts a daemon (fork, setsid, fork, exec) whose command line holds
    ``token``, then waits until the test has seen the daemon (SIGUSR1), at most 30 s."""
    return (
        "import os, signal, time\n"
        "class Seen(Exception):\n"
        "    pass\n"
        "def seen(*args):\n"
        "    raise Seen()\n"
        "signal.signal(signal.SIGUSR1, seen)\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600; : {token}'])\n"
        "    os._exit(0)\n"
        "try:\n"
        "    time.sleep(30)\n"
        "except Seen:\n"
        "    print('seen')\n"
    )


def test_background_process_is_refused_by_the_guard() -> None:
    result = run(daemon("never"))
    assert result.status == "failed" and "starting a process" in result.detail
    assert not marked_processes(result.run_id)


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def watch_for_the_daemon(token: str, found: dict[str, int], stop: threading.Event) -> None:
    """Find the daemon by ``token`` in its command line and its run mark, then tell the program (SIGUSR1)."""
    while not stop.is_set() and not found:
        marks = marked_processes()
        pid = next((pid for pid in marks if token.encode() in cmdline(pid)), None)
        if pid is None:
            stop.wait(0.02)
            continue
        found["daemon"] = pid
        for other, mark in marks.items():
            if mark == marks[pid] and other != pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other, signal.SIGUSR1)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finding the daemon reads /proc")
@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "no-namespaces"])
def test_daemonised_process_does_not_survive(namespaces: bool) -> None:
    token = uuid.uuid4().hex
    found: dict[str, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_for_the_daemon, args=(token, found, stop))
    watcher.start()
    try:
        result = run(daemon(token), guard=False, namespaces=namespaces)
    finally:
        stop.set()
        watcher.join()
    assert result.status == "passed", result
    assert result.stdout == "seen\n", "the daemon was never seen running, so this test proves nothing"
    assert not marked_processes(result.run_id), "the daemon survived the run"
    assert token.encode() not in cmdline(found["daemon"])


@both_modes
def test_closing_every_descriptor(guard: bool) -> None:
    result = run("import os\nos.closerange(0, 1000)\n", guard)
    assert result.status == "failed"
    assert "ended before its checks finished" in result.detail


def test_closing_stdout_then_printing() -> None:
    result = run("import os, sys\nsys.stdout.close()\nos.close(1)\nos.close(2)\nprint('x')\n")
    assert result.status == "failed"
    assert "closed file" in result.detail


def test_closing_stdout_does_not_stop_a_correct_program() -> None:
    result = run("import os, sys\nsys.stdout.close()\nos.close(1)\nassert 2 + 2 == 4\n")
    assert result.status == "passed", result


def test_scratch_directory_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = run("open('left-behind.txt', 'w').write('x')\nimport os\nos.mkdir('d')\nos.chmod('d', 0)\n")
    assert result.status == "passed", result
    assert list(tmp_path.iterdir()) == []


# -- the unprivileged path (what a normal user's run takes) ----------------------------------------

UNPRIVILEGED_PROGRAMS = {
    "fork": "import os, time\nn = 0\nfor _ in range(100):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        n += 1\n    except OSError:\n        break\n"
            "print(n)\n",
    "net": "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n",
    "write": "open('/work-outside-marker', 'w')\n",
    "ok": "print('fine')\n",
}


ORDINARY_UID = 4242


def as_ordinary_user(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={ORDINARY_UID}", f"--regid={ORDINARY_UID}", "--clear-groups", *argv],
        capture_output=True, text=True, timeout=timeout, cwd="/", env={"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp"},
    )


@pytest.fixture
def package_for_an_ordinary_user() -> Iterator[tuple[str, Path]]:
    """An interpreter and a copy of the sandbox package that the ordinary user can actually run and read.

    The checkout may lie where that user cannot go (under /root, in a private temporary
    directory), so the package is copied into a world-readable directory; what the user can
    read is then checked as that user, and the test is skipped, saying why, where it cannot.
    """
    interpreter = program_interpreter(root=True)
    if interpreter is None or not others_can_run(interpreter):
        pytest.skip("no Python interpreter that an unrelated user may run")
    reasons = []
    for parent in dict.fromkeys([tempfile.gettempdir(), "/tmp", "/var/tmp"]):
        if not os.path.isdir(parent):
            continue
        base = Path(tempfile.mkdtemp(prefix="llmeval-sandbox-copy-", dir=parent))
        shutil.copytree(Path(sandbox.__file__).parent, base / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        probe = as_ordinary_user([interpreter, "-I", "-c", f"import sys; sys.path.insert(0, {str(base)!r}); import sandbox"],
                                 timeout=FINISHES_WITHIN_S)
        if probe.returncode == 0:
            yield interpreter, base
            shutil.rmtree(base)
            return
        reasons.append(f"{base}: {(probe.stderr.strip().splitlines() or ['?'])[-1]}")
        shutil.rmtree(base)
    pytest.skip(f"user {ORDINARY_UID} can read no copy of the sandbox package: " + "; ".join(reasons))


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to switch users")
def test_as_an_ordinary_user(package_for_an_ordinary_user: tuple[str, Path]) -> None:
    interpreter, base = package_for_an_ordinary_user
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(base)!r})\n"
        "from sandbox import run_untrusted\n"
        f"programs = {UNPRIVILEGED_PROGRAMS!r}\n"
        f"results = {{name: run_untrusted(code, timeout_s={FINISHES_WITHIN_S}, python_guard=False, max_processes=4,"
        " allow=True) for name, code in programs.items()}\n"
        "print(json.dumps({name: [r.status, r.detail, r.stdout, list(r.protections)] for name, r in results.items()}))\n"
    )
    completed = as_ordinary_user([interpreter, "-I", "-c", script], timeout=10 * FINISHES_WITHIN_S)
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert results["ok"][0] == "passed", results["ok"]
    protections = results["ok"][3]
    if "user namespace" not in protections:
        pytest.skip("unprivileged user namespaces are disabled here")
    assert int(results["fork"][2]) <= 3
    assert results["net"][0] == "failed" and "unreachable" in results["net"][1]
    assert results["write"][0] == "failed" and "Read-only" in results["write"][1]
    assert not Path("/work-outside-marker").exists()


def test_many_files_cannot_fill_the_disk() -> None:
    # Each file is under the size limit; together they would exceed the scratch space.
    if not has_layer("tmpfs"):
        pytest.skip("no mount namespace here: the scratch directory is on the host disk (see docs/sandbox.md)")
    program = (
        "written = 0\n"
        "for i in range(100):\n"
        "    with open(f'file{i}', 'wb') as handle:\n"
        "        handle.write(b'x' * (1024 * 1024))\n"
        "    written += 1\n"
        "print(written)\n"
    )
    result = run(program, guard=False, max_file_mb=2)
    assert result.status == "failed"
    assert "No space left on device" in result.detail
