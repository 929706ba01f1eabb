"""HumanEval on real recorded replies: our scorer's verdicts against the reference harness's.

The replies: GPT-4 (Reflexion, one attempt, no reflection) and ChatGPT (MapCoder, chain-of-thought
prompt) on all 164 problems, from ``../shared/data/recorded/humaneval/`` (``SOURCE.md`` there
gives their origin, licence and fields). For each solution:

- the reference verdict runs it the way openai/human-eval's ``execution.py`` does: the program
  ``prompt + completion + "\\n" + test + "\\n" + "check(<entry_point>)"`` is executed with
  ``exec`` and empty globals (so ``__name__`` is not ``"__main__"``) in a child process of its
  own, in a temporary working directory, with its output swallowed, a stdin that cannot be read,
  the harness's destructive functions disabled and a 3 s timer; it passes when ``exec`` returns.
  The completion is what the recording ran: Reflexion's ``solution``, MapCoder's last
  ``source_codes`` entry (its own extraction from the reply);
- our verdict is the HumanEval benchmark's scorer on the recorded reply as a ``Response``
  (Reflexion: ``solution``; MapCoder: the raw reply, so that our ``extract_code`` is measured
  too), run in the sandbox with the benchmark's defaults (10 s, 512 MB).

It prints both pass rates, the recording's own ``is_solved`` rate, the agreement and every
disagreement, and checks that ``extract_code`` finds the code MapCoder extracted from each reply.

The reference side runs the recorded code outside any sandbox, as the reference harness does:
use it only on these recorded files.

    .venv/bin/python perf/humaneval_agreement.py
    .venv/bin/python perf/humaneval_agreement.py --quick          # 20 problems per model
    .venv/bin/python perf/humaneval_agreement.py --write-sample tests/data/humaneval_recorded/sample.jsonl
"""

from __future__ import annotations

import contextlib
import faulthandler
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c

DEFAULT_DATA = c.REPO.parent / "shared" / "data" / "recorded" / "humaneval"
#: (label, file, the field the reference runs, the field our scorer reads)
RECORDINGS = [
    ("gpt-4 (reflexion)", "reflexion_gpt-4_simple.jsonl.gz", "solution", "solution"),
    ("chatgpt (mapcoder cot)", "mapcoder_chatgpt_cot.jsonl.gz", "source_codes", "responses"),
]
#: The reference harness's default per-problem timeout (evaluate_functional_correctness --timeout).
REFERENCE_TIMEOUT_S = 3.0
#: What human-eval's reliability_guard turns off, as (module, attribute): calling one fails.
DISABLED = [("builtins", name) for name in ("exit", "quit", "help")] + [
    ("os", name) for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                              "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
                              "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir")
] + [("shutil", "rmtree"), ("shutil", "move"), ("shutil", "chown"), ("subprocess", "Popen")]
#: Modules the reference harness makes unimportable.
BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")


@dataclass
class Case:
    model: str
    row: dict[str, Any]
    completion: str  # what the reference runs after the prompt
    reply: str  # what our scorer reads
    variant: str = "as recorded"


#: Appended to every solution in the second pass: a demo of the kind instruct models write, which
#: must never run (it reads stdin, runs unittest's main and exits with an error).
DEMO = ('\n\nif __name__ == "__main__":\n    import sys, unittest\n    print({entry}(input()))\n'
        '    unittest.main()\n    sys.exit(1)\n')


def with_demo(text: str, entry_point: str) -> str:
    """``text`` with :data:`DEMO` after its code: inside the last fenced block when there is one."""
    demo = DEMO.format(entry=entry_point)
    end = text.rfind("```")
    if text.count("```") >= 2 and end > 0:
        return text[:end].rstrip("\n") + demo + text[end:]
    return text.rstrip("\n") + demo


def load(data: Path, limit: int | None, demo: bool) -> list[Case]:
    cases = []
    for label, name, reference_field, reply_field in RECORDINGS:
        with gzip.open(data / name, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        for row in rows[:limit]:
            completion, reply = row[reference_field], row[reply_field]
            completion = completion[-1] if isinstance(completion, list) else completion
            reply = reply[-1] if isinstance(reply, list) else reply
            cases.append(Case(label, row, completion, reply))
            if demo:
                entry = row["entry_point"]
                cases.append(Case(label, row, with_demo(completion, entry), with_demo(reply, entry), "with a __main__ demo"))
    return cases


# -- the reference harness's semantics --------------------------------------------------------


class Unreadable(io.StringIO):
    """A stream that takes writes and refuses reads, as the reference's swallowed stdin does."""

    def read(self, *args: Any, **kwargs: Any) -> str:
        raise OSError("stdin is not readable")

    def readline(self, *args: Any, **kwargs: Any) -> str:
        raise OSError("stdin is not readable")

    def readlines(self, *args: Any, **kwargs: Any) -> list[str]:
        raise OSError("stdin is not readable")

    def readable(self) -> bool:
        return False


class TimedOut(Exception):
    pass


def reference_child() -> None:
    """In a child process: run the program from stdin as the reference harness would; print the verdict."""
    job = json.loads(sys.stdin.read())
    report = os.fdopen(os.dup(1), "w")
    workdir = tempfile.mkdtemp(prefix="humaneval-reference-")
    os.chdir(workdir)
    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    for module, attribute in DISABLED:
        setattr(sys.modules.get(module) or __import__(module), attribute, None)
    for name in BLOCKED_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]
    sink = Unreadable()

    def alarm(signum: int, frame: Any) -> None:
        raise TimedOut()

    signal.signal(signal.SIGALRM, alarm)
    saved_stdin = sys.stdin
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            sys.stdin = sink
            signal.setitimer(signal.ITIMER_REAL, job["timeout"])
            try:
                exec(job["program"], {})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                sys.stdin = saved_stdin
        verdict = "passed"
    except TimedOut:
        verdict = "timed out"
    except BaseException as exc:
        verdict = f"failed: {type(exc).__name__}: {exc}"[:300]
    report.write(json.dumps(verdict))
    report.flush()
    os._exit(0)


def reference_verdict(case: Case, timeout_s: float) -> str:
    row = case.row
    program = row["prompt"] + case.completion + "\n" + row["test"] + "\n" + f"check({row['entry_point']})"
    try:
        done = subprocess.run([sys.executable, __file__, "--reference-child"], input=json.dumps(
            {"program": program, "timeout": timeout_s}), capture_output=True, text=True, timeout=timeout_s + 30)
    except subprocess.TimeoutExpired:
        return "timed out (killed)"
    try:
        return str(json.loads(done.stdout))
    except ValueError:
        return f"failed: the program ended the process (exit status {done.returncode})"


# -- ours ---------------------------------------------------------------------------------------


def our_verdict(case: Case, items: dict[str, Any]) -> tuple[bool, str]:
    """The HumanEval scorer's verdict on the reply (inside a ``code_execution(True)`` block)."""
    from pytest_llmeval.request import Response

    item = items[case.row["task_id"]]
    if item.row["prompt"] != case.row["prompt"]:
        raise SystemExit(f"{case.row['task_id']}: the recorded prompt is not the shipped one")
    score = item.score(Response(text=case.reply))
    return score.passed, score.explanation or ""


def as_main_verdict(case: Case) -> bool:
    """Our verdict had the program run as ``__main__`` (the sandbox's default, and HumanEval's before)."""
    from pytest_llmeval.benchmarks.humaneval import build_program, extract_code
    from pytest_llmeval.sandbox import run_untrusted

    program = build_program(case.row, extract_code(case.reply, case.row["entry_point"]))
    return run_untrusted(program, timeout_s=10, run_name="__main__", allow=True).passed


def measure(cases: list[Case], threads: int) -> list[dict[str, Any]]:
    from pytest_llmeval.benchmarks.humaneval import HumanEval
    from pytest_llmeval.sandbox import code_execution

    items = {item.row["task_id"]: item for item in HumanEval().items()}

    def both(case: Case) -> dict[str, Any]:
        reference = reference_verdict(case, REFERENCE_TIMEOUT_S)
        # The permission is scoped to a context, and a pool's threads start without it.
        with code_execution(True):
            passed, why = our_verdict(case, items)
        row = {"model": case.model, "variant": case.variant, "task_id": case.row["task_id"],
               "recorded": bool(case.row["is_solved"]), "reference": reference == "passed",
               "reference_detail": reference, "ours": passed, "ours_detail": why}
        if case.variant != "as recorded":
            row["ours_as_main"] = as_main_verdict(case)
        return row

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(both, cases))


def extraction_agreement(cases: list[Case]) -> tuple[int, int, list[str]]:
    """MapCoder's own extraction (``source_codes``) against ours, on its raw replies."""
    from pytest_llmeval.benchmarks.humaneval import extract_code

    mapcoder = [case for case in cases if "source_codes" in case.row and case.variant == "as recorded"]
    differ = [case.row["task_id"] for case in mapcoder
              if extract_code(case.reply, case.row["entry_point"]).strip("\n") != case.completion.strip("\n")]
    return len(mapcoder) - len(differ), len(mapcoder), differ


# -- report ---------------------------------------------------------------------------------------


def summarise(rows: list[dict[str, Any]]) -> list[c.Figure]:
    figures = []
    for label, *_ in RECORDINGS:
        for variant in ("as recorded", "with a __main__ demo"):
            mine = [r for r in rows if r["model"] == label and r["variant"] == variant]
            if mine:
                figures.append(summarise_one(f"{label}, {variant}", mine))
    return figures


def summarise_one(label: str, mine: list[dict[str, Any]]) -> c.Figure:
    n = len(mine)
    agree = sum(r["ours"] == r["reference"] for r in mine)
    counts = {key: sum(r[key] for r in mine) for key in ("ours", "reference", "recorded")}
    line = (f"{label}: {n} problems; pass rate ours {counts['ours']}/{n} ({counts['ours'] / n:.1%}), reference harness "
            f"{counts['reference']}/{n} ({counts['reference'] / n:.1%}), recorded is_solved {counts['recorded']}/{n} "
            f"({counts['recorded'] / n:.1%}); agreement with the reference {agree}/{n}")
    as_main = [r for r in mine if "ours_as_main" in r]
    if as_main:
        line += f"; run as __main__ instead: {sum(r['ours_as_main'] for r in as_main)}/{n} pass"
    print(line)
    for r in mine:
        if r["ours"] != r["reference"]:
            print(f"  DISAGREE {r['task_id']}: ours {r['ours']} ({r['ours_detail']}); reference {r['reference']} "
                  f"({r['reference_detail']})")
        if r["reference"] != r["recorded"]:
            print(f"  the reference differs from the recording's is_solved on {r['task_id']}: "
                  f"{r['reference_detail']}; recorded {r['recorded']}")
    detail: dict[str, Any] = {"ours_pass": counts["ours"], "reference_pass": counts["reference"],
                              "recorded_is_solved": counts["recorded"], "problems": n}
    if as_main:
        detail["ours_pass_if_run_as_main"] = sum(r["ours_as_main"] for r in as_main)
    detail["disagreements"] = [r["task_id"] for r in mine if r["ours"] != r["reference"]]
    return c.Figure(
        figure=f"HumanEval verdicts on recorded replies, {label}, {n} problems",
        reference="openai/human-eval execution semantics (exec, not __main__, 3 s), same solutions",
        ratio=agree / n,
        ratio_meaning="same pass/fail as the reference, share of problems (higher is better)",
        target="1.0 (every verdict equal)",
        met=agree == n,
        detail=detail,
    )


def write_sample(rows: list[dict[str, Any]], cases: list[Case], path: Path) -> None:
    """Write the recorded replies with the reference's verdicts, for tests/test_humaneval.py."""
    verdicts = {(r["model"], r["task_id"]): r for r in rows if r["variant"] == "as recorded"}
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            key = (case.model, case.row["task_id"])
            if key in verdicts and case.variant == "as recorded":
                handle.write(json.dumps({"model": case.model, "task_id": case.row["task_id"], "reply": case.reply,
                                         "completion": case.completion, "recorded_is_solved": verdicts[key]["recorded"],
                                         "reference_passed": verdicts[key]["reference"],
                                         "reference_detail": verdicts[key]["reference_detail"]}) + "\n")
    print(f"wrote {path}")


#: The problems tests/test_humaneval.py checks: passes and failures of both models; fenced,
#: unfenced and bare-body replies; helpers from the prompt; a module constant before the
#: function; missing imports (where the reference and the recording's is_solved differ too).
SAMPLE = ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/5", "HumanEval/10", "HumanEval/14",
          "HumanEval/17", "HumanEval/32", "HumanEval/38", "HumanEval/64", "HumanEval/91", "HumanEval/115",
          "HumanEval/133", "HumanEval/145", "HumanEval/163"]


def main() -> None:
    if sys.argv[1:] == ["--reference-child"]:
        reference_child()
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"the recorded files (default {DEFAULT_DATA})")
    p.add_argument("--threads", type=int, default=4, help="problems run at once (default 4)")
    p.add_argument("--write-sample", type=Path, help="run only the problems tests/test_humaneval.py checks and write "
                                                     "their replies and reference verdicts here (nothing else is written)")
    p.add_argument("--no-demo", action="store_true", help="leave out the second pass (each solution with a __main__ demo)")
    args = p.parse_args()
    started = time.perf_counter()
    machine = c.machine()
    cases = load(args.data, 20 if args.quick else None, demo=not args.no_demo)
    if args.write_sample:
        cases = [case for case in cases if case.row["task_id"] in SAMPLE and case.variant == "as recorded"]
        args.no_write = True
    rows = measure(cases, args.threads)
    figures = summarise(rows)
    same, total, differ = extraction_agreement(cases)
    note = f"extract_code on MapCoder's raw replies finds MapCoder's own extraction in {same}/{total}"
    print(note + (f" (differ: {', '.join(differ)})" if differ else ""))
    if args.write_sample:
        write_sample(rows, cases, args.write_sample)
    c.write_result("humaneval_agreement", args, figures, machine_info=machine, started=started, notes=[note],
                   extra={"verdicts": rows})


if __name__ == "__main__":
    main()
