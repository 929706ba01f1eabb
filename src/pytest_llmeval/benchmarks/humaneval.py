"""HumanEval: write a Python function from its signature and docstring (reasoning).

The instruct model is shown the task's prompt (imports, signature, docstring) and asked for
the whole function in a ```python block. Its code is extracted (:func:`extract_code`), joined
with the task's unit tests (:func:`build_program`) and run in the sandbox
(:mod:`pytest_llmeval.sandbox`); an item passes when ``check(entry_point)`` runs to the end:
pass@1 with one greedy sample.

The program runs with the reference harness's semantics (openai/human-eval's ``execution.py``):
not as ``__main__`` (a demo under ``if __name__ == "__main__":``, such as ``unittest.main()`` or
``input()``, never runs), with an empty stdin, then the task's tests. Exiting before the tests
ran (``sys.exit()``, ``os._exit()``, ``raise SystemExit``) is a failure.

Model-written code runs only when the user allows it (``--llm-allow-code-execution``); the
benchmark says so through ``executes_code`` and the items are skipped otherwise.
"""

from __future__ import annotations

import ast
import re
import textwrap

from ..request import Response
from ..sandbox import CodeExecutionNotAllowed, SandboxError, code_execution_allowed, run_untrusted
from ..scoring.base import Score, Scorer
from ..shipped import shipped
from .base import Benchmark, Item
from .data import DataSource, Row

PROMPT = (
    "Complete the following Python function. Reply with the complete function (its signature, "
    "body and any imports or helpers it needs) in a single ```python code block.\n\n"
    "```python\n{prompt}```"
)

#: The program's ``__name__``: anything but ``"__main__"``, so that a completion's own demo or test
#: block under ``if __name__ == "__main__":`` does not run, as in the reference harness (which
#: runs the program with ``exec``).
RUN_NAME = "humaneval_solution"

#: What a passing item did; shown as the expected answer on failure.
EXPECTED = "the function passes the task's unit tests"

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
_CODE_START = re.compile(r"^(?:def |class |import |from \w|@|async def )")


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M) is not None


def _compiles(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def extract_code(response: str, entry_point: str) -> str:
    """The code in a model's reply.

    A fenced block that defines ``entry_point`` wins, else the first Python (or unlabelled)
    block, else the reply itself: from its first line of code, cut before any trailing prose
    that would not compile. A reply cut off inside an unterminated fence keeps what it has.

    Example::

        extract_code("Sure!\\n```python\\ndef add(a, b):\\n    return a + b\\n```", "add")
        # 'def add(a, b):\\n    return a + b'
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(response)]
    if blocks:
        for _, body in blocks:
            if _defines(body, entry_point):
                return body.strip("\n")
        python = [body for lang, body in blocks if lang in ("", "python", "py", "python3")]
        return (python or [blocks[0][1]])[0].strip("\n")
    lines = response.strip("\n").splitlines()
    if not _defines(response, entry_point):
        return "\n".join(lines)  # a bare body, or nothing usable: build_program decides
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), 0)
    lines = lines[start:]
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        if _defines(candidate, entry_point) and _compiles(candidate):
            return candidate
    return "\n".join(lines)


def build_program(row: Row, code: str) -> str:
    """The program the sandbox runs: the model's code, the task's tests, ``check(entry_point)``.

    A complete function is preceded by what the task's prompt defines before the function (its
    imports and helper functions, such as ``is_palindrome`` for ``make_palindrome``); a bare
    body (the model continued the prompt) is appended to the prompt, indented if it was not.
    """
    prompt, entry_point = row["prompt"], row["entry_point"]
    if _defines(code, entry_point):
        found = re.search(rf"^def\s+{re.escape(entry_point)}\s*\(", prompt, re.M)
        preamble = prompt[: found.start()] if found else ""
        program = preamble + "\n" + code
    else:
        body = code
        first = next((line for line in body.splitlines() if line.strip()), "")
        if first and not first[0].isspace():
            body = textwrap.indent(body, "    ")
        program = prompt + body
    return f"{program}\n\n{row['test']}\n\ncheck({entry_point})\n"


def make_scorer(timeout_s: float = 10.0, memory_mb: int = 512) -> Scorer:
    """The HumanEval scorer: run the program in the sandbox; pass when it runs to the end.

    Raises :class:`~pytest_llmeval.sandbox.CodeExecutionNotAllowed` when code execution is off
    (the item is skipped) and :class:`~pytest_llmeval.sandbox.SandboxError` when the sandbox
    cannot run anything (the item errors).
    """

    def score(item: Item, response: Response) -> Score:
        if not code_execution_allowed():
            raise CodeExecutionNotAllowed()
        code = extract_code(response.text, item.row["entry_point"])
        if not code.strip():
            return _failed(code, "the response holds no code")
        program = build_program(item.row, code)
        try:
            # Compiling runs nothing; it spares a sandbox run for prose and broken code.
            compile(program, "program.py", "exec")
        except (SyntaxError, ValueError) as exc:
            where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            return _failed(code, f"does not compile: {type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}")
        except (RecursionError, MemoryError):
            pass  # pathological nesting: let the sandbox, not this process, deal with it
        result = run_untrusted(program, timeout_s=timeout_s, memory_mb=memory_mb, run_name=RUN_NAME)
        if result.status == "error":
            raise SandboxError(result.detail)
        passed = result.status == "passed"
        return Score(
            passed=passed,
            answer=code,
            expected=EXPECTED,
            metrics={"pass@1": 1.0 if passed else 0.0},
            explanation=f"{result.status}: {result.detail}",
        )

    return score


def _failed(code: str, why: str) -> Score:
    return Score(passed=False, answer=code, expected=EXPECTED, metrics={"pass@1": 0.0}, explanation=why)


class HumanEval(Benchmark):
    """HumanEval pass@1 (164 problems), scored by running the tests in the sandbox."""

    #: The plugin skips the items unless the user allowed code execution.
    executes_code = True

    def __init__(self, data: DataSource | None = None, *, timeout_s: float = 10.0, max_tokens: int = 768) -> None:
        super().__init__(
            "humaneval",
            capability="reasoning",
            data=data if data is not None else shipped("humaneval/HumanEval.jsonl.gz"),
            prompt=PROMPT,
            target=lambda row: EXPECTED,
            scorer=make_scorer(timeout_s),
            max_tokens=max_tokens,
            id_field="task_id",
            description="HumanEval (164 Python problems), pass@1 by running the unit tests in the sandbox",
        )


def benchmarks() -> list[Benchmark]:
    return [HumanEval()]
