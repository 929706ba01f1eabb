"""The response cache as a user meets it: reruns repeat no inference, ``--llm-cache`` bypasses
or refreshes it, anything that changes the answer misses it, a killed run resumes where it
stopped, and a damaged cache file is rebuilt with a warning."""

from __future__ import annotations

import signal

import pytest

from conftest import INNER_INI, SUITE, Project, counts, item_outcomes

ORACLE = "--llm-model=script:oracle"

SUMS = """
from pytest_llmeval import Benchmark, scorers

ROWS = [{{"q": "2+3", "a": "5"}}, {{"q": "4+4", "a": "8"}}, {{"q": "9-1", "a": "8"}}]

test_sums = Benchmark("sums", capability="arithmetic", data=ROWS, prompt={prompt!r}, target="a",
                      scorer=scorers.number(), max_tokens={max_tokens})
"""


def comparable(card: dict) -> dict:
    """What two runs over the same items must agree on (not the time or the command line)."""
    return {
        "capabilities": counts(card["capabilities"], "model", "capability"),
        "benchmarks": counts(card["benchmarks"], "model", "benchmark"),
        "items": item_outcomes(card),
        "answers": {(r["model"], r["benchmark"], r["item"]): (r["answer"], r["expected"]) for r in card["items"]},
    }


def test_a_second_identical_run_performs_no_inference(project: Project) -> None:
    first = project.run(*SUITE, ORACLE)
    first.assert_outcomes(passed=10)
    assert project.inferences() == 10
    first.stdout.fnmatch_lines(["responses: 0 from cache, 10 inferred*"])
    again = project.run(*SUITE, ORACLE)
    again.assert_outcomes(passed=10)
    assert project.inferences() == 10
    again.stdout.fnmatch_lines(["responses: 10 from cache, 0 inferred*"])


def test_the_cache_directory_explains_itself_and_is_ignored_by_git(project: Project) -> None:
    project.run(*SUITE, ORACLE)
    assert project.cache_file.exists()
    assert "Do not commit" in (project.cache_dir / "README.md").read_text()
    assert (project.cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_larger_selection_asks_only_for_the_new_items(project: Project) -> None:
    project.run("--llm-suite=gsm8k", "--llm-limit=5", ORACLE)
    assert project.inferences() == 5
    result = project.run(*SUITE, ORACLE)
    result.assert_outcomes(passed=10)
    assert project.inferences() == 10
    result.stdout.fnmatch_lines(["responses: 5 from cache, 5 inferred*"])


def test_refresh_asks_every_request_again_and_rewrites_the_cache(project: Project) -> None:
    project.run(*SUITE, ORACLE)
    refreshed = project.run(*SUITE, ORACLE, "--llm-cache=refresh")
    refreshed.assert_outcomes(passed=10)
    assert project.inferences() == 20
    refreshed.stdout.fnmatch_lines(["responses: 0 from cache, 10 inferred*refresh)"])
    project.run(*SUITE, ORACLE)
    assert project.inferences() == 20


def test_off_neither_reads_nor_writes(project: Project) -> None:
    project.run(*SUITE, ORACLE, "--llm-cache=off").assert_outcomes(passed=10)
    assert not project.cache_file.exists()
    project.run(*SUITE, ORACLE, "--llm-cache=off").assert_outcomes(passed=10)
    assert project.inferences() == 20
    # ... and does not read a cache that is there.
    project.run(*SUITE, ORACLE)
    project.run(*SUITE, ORACLE, "--llm-cache=off")
    assert project.inferences() == 40


def test_cache_mode_and_directory_from_the_ini_file(project: Project) -> None:
    project.pytester.makeini(INNER_INI + "llm_cache_dir = build/responses\nllm_cache = on\n")
    project.run(*SUITE, ORACLE)
    assert (project.path / "build" / "responses" / "responses.sqlite3").exists()
    assert not project.cache_dir.exists()
    project.run(*SUITE, ORACLE)
    assert project.inferences() == 10
    project.pytester.makeini(INNER_INI + "llm_cache_dir = build/responses\nllm_cache = off\n")
    project.run(*SUITE, ORACLE)
    assert project.inferences() == 20


def test_the_cache_dir_option_moves_the_cache(project: Project) -> None:
    project.run(*SUITE, ORACLE, "--llm-cache-dir=elsewhere")
    assert (project.path / "elsewhere" / "responses.sqlite3").exists()
    assert not project.cache_dir.exists()
    project.run(*SUITE, ORACLE)  # the default directory has nothing yet
    assert project.inferences() == 20
    project.run(*SUITE, ORACLE, "--llm-cache-dir=elsewhere")
    assert project.inferences() == 20


def test_another_model_misses_the_cache(project: Project) -> None:
    project.run(*SUITE, ORACLE)
    wrong = project.run(*SUITE, "--llm-model=script:wrong")
    wrong.assert_outcomes(failed=10)  # not the oracle's cached answers
    assert project.inferences() == 20
    project.run(*SUITE, ORACLE, "--llm-model=script:wrong").assert_outcomes(passed=10, failed=10)
    assert project.inferences() == 20


def test_a_changed_prompt_or_generation_setting_misses_the_cache(project: Project) -> None:
    project.pytester.makepyfile(test_sums=SUMS.format(prompt="What is {q}?", max_tokens=32))
    project.run(ORACLE).assert_outcomes(passed=3)
    project.run(ORACLE).assert_outcomes(passed=3)
    assert project.inferences() == 3
    project.pytester.makepyfile(test_sums=SUMS.format(prompt="Compute {q}.", max_tokens=32))
    project.run(ORACLE).assert_outcomes(passed=3)
    assert project.inferences() == 6
    project.pytester.makepyfile(test_sums=SUMS.format(prompt="Compute {q}.", max_tokens=64))
    project.run(ORACLE).assert_outcomes(passed=3)
    assert project.inferences() == 9


def test_failed_requests_are_not_cached_and_are_asked_again(project: Project) -> None:
    # "flaky" fails every third request of a run: 3 of 10 here.
    project.run(*SUITE, "--llm-model=script:flaky", "--llm-max-error-rate=1").assert_outcomes(failed=7, errors=3)
    assert project.inferences() == 10
    again = project.run(*SUITE, "--llm-model=script:flaky", "--llm-max-error-rate=1")
    assert project.inferences() == 13
    again.stdout.fnmatch_lines(["responses: 7 from cache, 2 inferred, 1 failed for flaky (first: HTTP 503: scripted outage) in *"])
    # the third request of this run failed again; the two others were answered and are kept
    again.assert_outcomes(failed=9, errors=1)


def test_a_killed_run_resumes_where_it_stopped_and_ends_with_the_same_scorecard(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = (*SUITE, ORACLE, "--llm-model=script:wrong", "--llm-scorecard=card.json")
    # Killed twice (SIGKILL: nothing flushed, no teardown), at different points of the work.
    for kill_after in (4, 9):
        cached_before, asked_before = project.cached(), project.inferences()
        monkeypatch.setenv("LLMEVAL_KILL_AFTER", str(kill_after))
        killed = project.run(*args, subprocess=True)
        assert killed.ret == -signal.SIGKILL
        assert not (project.path / "card.json").exists()
        # Every answer that had arrived was kept; at most one request per model was in flight.
        assert project.cached() >= cached_before + kill_after
        assert project.inferences() - asked_before - (project.cached() - cached_before) <= 2
    monkeypatch.delenv("LLMEVAL_KILL_AFTER")
    kept, asked = project.cached(), project.inferences()
    assert kept < 20
    resumed = project.run(*args)
    resumed.assert_outcomes(passed=10, failed=10)
    assert project.inferences() - asked == 20 - kept  # the rerun asked only for what was not kept
    resumed.stdout.fnmatch_lines([f"responses: {kept} from cache, {20 - kept} inferred*"])
    after_resume = project.scorecard()

    uninterrupted = project.run(*args[:-1], "--llm-scorecard=fresh.json", "--llm-cache-dir=fresh-cache")
    uninterrupted.assert_outcomes(passed=10, failed=10)
    assert comparable(after_resume) == comparable(project.scorecard("fresh.json"))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "emptied"])
def test_a_damaged_cache_file_is_rebuilt_with_a_warning(project: Project, damage: str) -> None:
    project.run(*SUITE, ORACLE, "--llm-scorecard=card.json").assert_outcomes(passed=10)
    before = comparable(project.scorecard())
    for leftover in ("-wal", "-shm"):
        project.cache_file.with_name(project.cache_file.name + leftover).unlink(missing_ok=True)
    data = project.cache_file.read_bytes()
    damaged = {"garbage": b"this is not a database\x00\xff" * 400, "truncated": data[: len(data) // 2],
               "emptied": b""}[damage]
    project.cache_file.write_bytes(damaged)

    result = project.run(*SUITE, ORACLE, "--llm-scorecard=card.json", subprocess=damage != "emptied")
    result.assert_outcomes(passed=10)
    assert result.ret == 0
    if damage != "emptied":  # SQLite reads an all-zero file as an empty database: a plain miss
        assert "is unreadable" in result.stdout.str() + result.stderr.str()
        assert "CacheWarning" in result.stdout.str() + result.stderr.str()
        assert list(project.cache_dir.glob("responses.sqlite3.corrupt-*"))
    assert project.inferences() == 20  # nothing wrong was read from the damaged file
    assert comparable(project.scorecard()) == before
    project.run(*SUITE, ORACLE).assert_outcomes(passed=10)
    assert project.inferences() == 20  # the rebuilt cache serves the next run


def test_an_unreadable_cache_is_rebuilt_with_a_warning_in_pytests_summary(project: Project) -> None:
    project.run(*SUITE, ORACLE)
    project.cache_file.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        project.cache_file.with_name(project.cache_file.name + suffix).unlink(missing_ok=True)
    result = project.run(*SUITE, ORACLE)
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["*warnings summary*", "*CacheWarning: response cache *responses.sqlite3 is unreadable*"])
