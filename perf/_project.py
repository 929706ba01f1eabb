"""Scratch pytest projects for the perf scripts that time whole pytest runs.

``make_llmeval_project`` writes a project whose conftest registers the scripted backend
(``--llm-model=script:oracle``) and whose test file holds a user :class:`Benchmark` over N
in-memory rows (simple sums, answered correctly by the oracle). ``make_plain_project`` writes
N trivial parametrized tests: the reference "plain pytest" with nothing of ours in it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import _common as c

_SYNTHETIC = '''\
"""N synthetic items (N from PERF_ITEMS), shared by the conftest and the test file."""
import os

from pytest_llmeval import Benchmark, scorers

N = int(os.environ.get("PERF_ITEMS", "1000"))

BENCH = Benchmark(
    "synthetic",
    capability="arithmetic",
    data=lambda: ({"question": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(N)),
    prompt="{question} Answer with the number.",
    target="answer",
    scorer=scorers.number(),
    max_tokens=16,
)
'''

_CONFTEST = '''\
from pytest_llmeval.testing.scripted import ScriptedBackend

import synthetic


def pytest_llmeval_backends(config):
    # The oracle looks answers up by request: give it this project's benchmark, and the
    # built-in gsm8k and mmlu when a suite of those is asked for.
    suites = config.getoption("llm_suites")

    def make(spec, context):
        benchmarks = [synthetic.BENCH]
        if suites:
            from pytest_llmeval.benchmarks import gsm8k, mmlu
            benchmarks += gsm8k.benchmarks() + mmlu.benchmarks()
        return ScriptedBackend(spec.target, benchmarks=benchmarks)
    return {"script": make}
'''

_INI = """\
[pytest]
pythonpath = .
"""

_PLAIN = '''\
import os

import pytest

N = int(os.environ.get("PERF_ITEMS", "1000"))


@pytest.mark.parametrize("i", range(N))
def test_item(i):
    assert i >= 0
'''


def make_llmeval_project(root: Path, with_items: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text(_INI)
    (root / "synthetic.py").write_text(_SYNTHETIC)
    (root / "conftest.py").write_text(_CONFTEST)
    if with_items:
        (root / "test_synthetic.py").write_text("from synthetic import BENCH as test_synthetic  # noqa: F401\n")
    return root


def make_plain_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_plain.py").write_text(_PLAIN)
    return root


def scratch(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"llmeval-perf-{prefix}-"))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


#: Flags both sides of a comparison share: quiet, and no pytest cache (it is not what is measured).
COMMON = ("-q", "-p", "no:cacheprovider")


def pytest_argv(*args: str) -> list[str]:
    return [c.PYTHON, "-m", "pytest", *COMMON, *args]


def llmeval_args(cache_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    return pytest_argv("--llm-model=script:oracle", "--llm-baseline=none", f"--llm-cache-dir={cache_dir}", *extra)


def plain_args(extra: Sequence[str] = ()) -> list[str]:
    # -p no:llmeval: plain pytest, without our plugin loaded at all.
    return pytest_argv("-p", "no:llmeval", *extra)


def summary_line(output: str) -> str:
    """pytest's closing line ("10000 passed in 12.3s")."""
    lines = [line.strip("= ") for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(word in line for word in ("passed", "failed", "error", "collected", "tests collected", "no tests")):
            return line
    return lines[-1] if lines else ""
