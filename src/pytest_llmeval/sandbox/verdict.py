"""Reading how a program ended from what the launcher and the runner wrote.

The launcher writes JSON lines to the report file (``{"layers": [...]}``, ``{"exit": 0,
"signal": null}``, ``{"timed_out": false, "cpu_exhausted": false}`` or ``{"error": ...}``); the
runner writes JSON lines to the result file (``{"violation": ...}`` for each refusal, then
``{"failed": ...}`` or ``{"done": <nonce>}``). :func:`read_verdict` turns both into a status.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass

from .result import SandboxStatus

#: Names of environment variables whose values :func:`redact` blanks out.
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


@dataclass(frozen=True)
class Limits:
    """The limits a program ran under, for the wording of a verdict (seconds and MB)."""

    timeout_s: float
    memory_mb: int
    max_file_mb: int


@dataclass(frozen=True)
class Verdict:
    """A status, its one-line reason and the layers that were in force."""

    status: SandboxStatus
    detail: str
    protections: tuple[str, ...]


def json_lines(text: str) -> list[dict[str, object]]:
    """The JSON objects among ``text``'s lines (anything else is skipped)."""
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_verdict(report_text: str, result_text: str, stderr: str, nonce: str, limits: Limits, *,
                 backstop: bool, leftovers: int) -> Verdict:
    """How the program ended.

    ``backstop`` says the parent had to kill a launcher that did not answer in time;
    ``leftovers`` counts processes the parent killed after the run. A pass needs the runner's
    ``done`` event with this run's ``nonce``: a program that exits early never writes it.
    """
    report: dict[str, object] = {}
    for row in json_lines(report_text):
        report.update(row)
    layers = report.get("layers")
    protections = tuple(str(p) for p in layers) if isinstance(layers, list) else ()
    if leftovers:
        protections += (f"killed {leftovers} leftover process(es) after the run",)
    if report.get("error"):
        return Verdict("error", f"the sandbox could not start the program: {report['error']}", protections)
    events = json_lines(result_text)
    violations = list(dict.fromkeys(str(e["violation"]) for e in events if "violation" in e))
    refused = ("; refused by the sandbox: " + "; ".join(violations[:4])) if violations else ""
    if backstop or report.get("timed_out"):
        how = "; the launcher did not stop it in time, so the parent killed it" if backstop else ""
        return Verdict("timeout", f"did not finish within {limits.timeout_s:g} s (wall clock); "
                                  f"the whole process tree was killed{how}{refused}", protections)
    if "exit" not in report:
        lines = stderr.strip().splitlines()
        return Verdict("error", "the sandbox launcher failed: " + (lines[-1] if lines else "no report"), protections)
    status, detail = ending(report, events, nonce, limits)
    if violations and status in ("passed", "failed"):
        status, detail = "failed", refused[2:]
    elif violations:
        detail += refused
    return Verdict(status, detail, protections)


def ending(report: dict[str, object], events: list[dict[str, object]], nonce: str,
           limits: Limits) -> tuple[SandboxStatus, str]:
    """The status and reason from the program's exit status or signal and the runner's events."""
    sig = report.get("signal")
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and report.get("cpu_exhausted")):
        return "timeout", f"used more than {limits.timeout_s:g} s of CPU time"
    if sig == signal.SIGXFSZ:
        return "killed", f"wrote a file larger than the {limits.max_file_mb} MB limit"
    if isinstance(sig, int):
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = f" (memory limit {limits.memory_mb} MB?)" if sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT) else ""
        return "killed", f"killed by {name}{hint}"
    code = report.get("exit")
    if code == 0 and any(e.get("done") == nonce for e in events):
        return "passed", "ran to the end"
    failure = next((str(e["failed"]) for e in events if "failed" in e), None)
    if failure is None:
        return "failed", (f"the program ended before its checks finished (exit status {code}): it exited early "
                          "(sys.exit, os._exit) or closed the sandbox's result channel")
    if "MemoryError" in failure:
        failure += f" (memory limit {limits.memory_mb} MB)"
    elif "File too large" in failure:
        failure += f" (file size limit {limits.max_file_mb} MB)"
    return "failed", failure


def redact(text: str) -> str:
    """Blank out the values of secret-looking environment variables, should the program print them."""
    for name, value in os.environ.items():
        if len(value) >= 8 and any(word in name.upper() for word in SECRET_WORDS) and value in text:
            text = text.replace(value, "[redacted]")
    return text


def tail(text: str, limit: int = 4000) -> str:
    """The last ``limit`` characters of ``text``, marked with ``...`` when cut."""
    return text if len(text) <= limit else "..." + text[-limit:]
