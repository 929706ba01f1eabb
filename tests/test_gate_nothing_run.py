"""The gate never passes having compared nothing: a run with none of the pinned rows (another
model name, other benchmarks) or against a file that pins nothing fails, saying what was pinned,
what ran and what to do; a run with some of them is judged on those. And `--llm-pin` says the
thresholds path as a committed CI file should give it."""

from __future__ import annotations

import json

import pytest

from pytest_llmeval.gate import SCHEMA

INI = """
[pytest]
addopts = -p no:hypothesispytest
llm_baseline = none
llm_aliases =
    candidate = recorded:answers.jsonl
    renamed = recorded:answers.jsonl
"""

TEST_FILE = """
from pytest_llmeval import Benchmark, scorers

test_arith = Benchmark(name="arith", capability="arithmetic", data="arith.jsonl", prompt="{question}",
                       target="answer", scorer=scorers.includes(), id_field="qid")
test_spell = Benchmark(name="spell", capability="spelling", data="spell.jsonl", prompt="{question}",
                       target="answer", scorer=scorers.includes(), id_field="qid")
"""

ARITH = [{"qid": f"a{i}", "question": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(1, 9)]
SPELL = [{"qid": f"s{i}", "question": f"Spell the number {i}.", "answer": f"n{i}"} for i in range(1, 9)]

REPIN = "re-pin with `pytest --llm-pin --llm-thresholds=thresholds.json` if they changed on purpose"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_bench=TEST_FILE)
    for name, rows in (("arith", ARITH), ("spell", SPELL)):
        pytester.path.joinpath(f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # Every answer right, so that only what was compared decides the gate.
    answers = [{"prompt": r["question"], "response": r["answer"]} for r in ARITH + SPELL]
    pytester.path.joinpath("answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
    return pytester


def gate(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--llm-thresholds=thresholds.json", "-q", *args)


def test_another_model_name_than_the_pinned_one_fails_the_gate(project: pytest.Pytester) -> None:
    assert gate(project, "--llm-model=candidate", "--llm-pin").ret == pytest.ExitCode.OK
    result = gate(project, "--llm-model=renamed")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines([
        "llmeval gate FAILED (nothing pinned was run) against thresholds.json, alpha 0.05, 2 pinned but not run",
        "nothing pinned in thresholds.json was run, so nothing was compared: it pins candidate (arithmetic,"
        " spelling); this run had renamed (arithmetic, spelling). Run the pinned models and suites (--llm-model,"
        f" --llm-suite), or {REPIN}",
        "warning: candidate / arithmetic: pinned in thresholds.json (score 1.000, n=8) but not in this run",
    ], consecutive=True)
    assert gate(project, "--llm-model=candidate").ret == pytest.ExitCode.OK


def test_a_run_whose_pinned_benchmarks_are_all_deselected_fails_but_a_subset_passes(project: pytest.Pytester) -> None:
    assert gate(project, "--llm-model=candidate", "--llm-pin", "-k", "arith").ret == pytest.ExitCode.OK
    result = gate(project, "--llm-model=candidate", "-k", "spell")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines([
        "llmeval gate FAILED (nothing pinned was run) against thresholds.json, alpha 0.05, 1 pinned but not run",
        "nothing pinned in thresholds.json was run, so nothing was compared: it pins candidate (arithmetic); this"
        " run had candidate (spelling). Run the pinned models and suites (--llm-model, --llm-suite), or"
        f" {REPIN}",
    ], consecutive=True)
    # Some of the pinned rows ran: the others are the warnings of a subset, and the run passes.
    assert gate(project, "--llm-model=candidate", "--llm-pin").ret == pytest.ExitCode.OK
    subset = gate(project, "--llm-model=candidate", "-k", "spell")
    assert subset.ret == pytest.ExitCode.OK, subset.stdout.str()
    subset.stdout.fnmatch_lines([
        "llmeval gate passed against thresholds.json, alpha 0.05, 1 pinned but not run",
        "warning: candidate / arithmetic: pinned in thresholds.json (score 1.000, n=8) but not in this run",
    ], consecutive=True)


def test_a_file_that_pins_nothing_fails_unless_a_floor_applies(project: pytest.Pytester) -> None:
    path = project.path / "thresholds.json"
    path.write_text(json.dumps({"schema": SCHEMA, "capabilities": [], "benchmarks": []}), encoding="utf-8")
    result = gate(project, "--llm-model=candidate")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines([
        "llmeval gate FAILED (nothing to check) against thresholds.json, alpha 0.05",
        "thresholds.json pins no model and sets no floor for this run, so nothing was checked; this run had candidate"
        " (arithmetic, spelling). Pin a good run with `pytest --llm-pin --llm-thresholds=thresholds.json` and commit"
        " the file",
    ], consecutive=True)
    path.write_text(json.dumps({"schema": SCHEMA, "settings": {"floors": {"spelling": 0.5}}}), encoding="utf-8")
    floors = gate(project, "--llm-model=candidate")
    assert floors.ret == pytest.ExitCode.OK, floors.stdout.str()
    floors.stdout.fnmatch_lines(["llmeval gate passed against thresholds.json, alpha 0.05"])


@pytest.mark.parametrize("where", ["relative", "absolute under the rootdir", "outside the rootdir"])
def test_pin_names_the_file_as_a_ci_command_line_should(project: pytest.Pytester, where: str,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "thresholds.json"
    given, shown = {
        "relative": ("ci/thresholds.json", "ci/thresholds.json"),
        "absolute under the rootdir": (str(project.path / "ci" / "thresholds.json"), "ci/thresholds.json"),
        "outside the rootdir": (str(outside), str(outside)),
    }[where]
    result = project.runpytest("--llm-model=candidate", f"--llm-thresholds={given}", "--llm-pin", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines([f"thresholds pinned to {shown}: commit it, and gate CI with --llm-thresholds={shown}"])
    # The path shown is the one that works: given back, it gates against the file just written.
    again = project.runpytest("--llm-model=candidate", f"--llm-thresholds={shown}", "-q")
    assert again.ret == pytest.ExitCode.OK, again.stdout.str()
    again.stdout.fnmatch_lines([f"llmeval gate passed against {shown}, alpha 0.05"])


def test_pin_from_a_subdirectory_names_the_file_from_the_rootdir(project: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative --llm-thresholds is resolved against the rootdir, so that is what the note is relative to.
    project.mkdir("sub")
    monkeypatch.chdir(project.path / "sub")
    result = project.runpytest(str(project.path), "--llm-model=candidate", "--llm-thresholds=thresholds.json",
                               "--llm-pin", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert (project.path / "thresholds.json").exists()
    result.stdout.fnmatch_lines(["thresholds pinned to thresholds.json: commit it, and gate CI with"
                                 " --llm-thresholds=thresholds.json"])
