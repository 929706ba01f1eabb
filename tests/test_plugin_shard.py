"""A run split across machines (``--llm-shard=I/N``) and merged (``--llm-merge``) says, writes and
exits exactly as one run over all items: item for item, the baseline's comparison, the gate's
verdicts and messages, also with a shard under xdist; and what does not fit is refused."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import INNER_INI, Project, item_outcomes
from pytest_llmeval.collection import shard_of

SUITE = ("--llm-suite=gsm8k", "--llm-suite=mmlu", "--llm-limit=12")
RUN = (*SUITE, "--llm-model=cand", "--llm-baseline=script:oracle", "--llm-thresholds=thresholds.json")
#: Tests that are not benchmark items: each must run in exactly one shard.
PLAIN = "\n".join(f"def test_plain_{i}():\n    pass\n" for i in range(6))
#: What one run and its merged shards must agree on, field for field.
SAME = ("models", "capabilities", "benchmarks", "items", "comparisons", "published", "gate")


def as_model(project: Project, behaviour: str) -> None:
    """``cand`` is the scripted ``behaviour`` (a model that changed under the same name)."""
    project.pytester.makeini(INNER_INI + f"llm_aliases =\n    cand = script:{behaviour}\n")


def section(result: pytest.RunResult, title: str) -> list[str]:
    """The lines of one ``=== title ===`` section of the terminal."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"=+ {title} =+", line))
    end = next((i for i in range(start + 1, len(lines)) if re.fullmatch(r"=+ .* =+", lines[i])), len(lines))
    return lines[start + 1:end]


def table(result: pytest.RunResult) -> list[str]:
    """The printed scorecard: its table and the baseline comparisons."""
    lines = section(result, "llmeval scorecard")
    return lines[:next(i for i, line in enumerate(lines) if line.startswith(("responses:", "wrong answers:")))]


def without_stamp(text: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", text)


def run_shards(project: Project, *args: str, total: int = 3, xdist_shard: int | None = None) -> list[pytest.RunResult]:
    """Each shard as its own machine would run it: its own cache, its own scorecard file."""
    results = []
    for i in range(1, total + 1):
        xdist = ("-n", "2") if i == xdist_shard else ()
        results.append(project.run(*args, f"--llm-shard={i}/{total}", f"--llm-scorecard=shard-{i}.json",
                                   f"--llm-cache-dir=cache-{i}", *xdist, subprocess=bool(xdist)))
    return results


def ran(result: pytest.RunResult) -> int:
    seen = result.parseoutcomes()
    return seen.get("passed", 0) + seen.get("failed", 0) + seen.get("errors", 0) + seen.get("skipped", 0)


@pytest.mark.parametrize("repeats", [1, 3])
def test_three_shards_merge_into_the_scorecard_and_verdict_of_one_run(project: Project, repeats: int) -> None:
    sampled = f"--llm-repeats={repeats}"
    as_model(project, "oracle")
    assert project.run(*RUN, sampled, "--llm-pin", "--llm-cache-dir=cache-pin").ret == pytest.ExitCode.OK
    as_model(project, "noisy")  # right or wrong by a hash of each request: the gate must fail
    project.pytester.makepyfile(test_plain=PLAIN)
    single = project.run(*RUN, sampled, "--llm-scorecard=single.json", "--llm-scorecard=single.md",
                         "--llm-cache-dir=cache-single")
    assert single.ret == pytest.ExitCode.TESTS_FAILED
    single.stdout.fnmatch_lines(["*llmeval gate FAILED*", "cand / * regressed: *"])

    shards = run_shards(project, *RUN, sampled, xdist_shard=2 if repeats == 1 else None)
    # A shard holds part of the items: the gate waits for the merge.
    assert [r.ret for r in shards] == [pytest.ExitCode.OK] * 3
    shards[0].stdout.fnmatch_lines(["shard 1/3 of the run: the gate and the error rate are decided when*"])
    assert "llmeval gate" not in shards[0].stdout.str()
    merged = project.run("--llm-merge=shard-*.json", "--llm-thresholds=thresholds.json",
                         "--llm-scorecard=merged.json", "--llm-scorecard=merged.md")
    assert merged.ret == single.ret

    one, many = project.scorecard("single.json"), project.scorecard("merged.json")
    for key in SAME:
        assert many[key] == one[key], key
    assert {k: many["run"][k] for k in ("suites", "limit", "settings")} == {k: one["run"][k] for k in ("suites", "limit", "settings")}
    assert one["gate"]["passed"] is False and one["comparisons"]
    assert any(c["only_baseline_right"] for c in one["comparisons"])  # the baseline's comparison has discordant pairs
    if repeats > 1:
        assert all(len(row["samples"]) == repeats for row in one["items"])

    # Every test ran in exactly one shard: the items, and the ordinary tests too.
    parts = [item_outcomes(project.scorecard(f"shard-{i}.json")) for i in (1, 2, 3)]
    assert all(parts) and sum(map(len, parts)) == len(item_outcomes(one)) == 2 * 24
    assert {k: v for part in parts for k, v in part.items()} == item_outcomes(one)
    assert sum(map(ran, shards)) == ran(single) == 24 + 6

    # The terminal and the files say what the one run says.
    assert section(merged, "llmeval gate") == section(single, "llmeval gate")
    assert table(merged) == table(single)
    merged.stdout.fnmatch_lines(["merged 3 shard scorecards: shard-1.json (1/3): * rows, shard-2.json (2/3): *"])
    markdown = [without_stamp((project.path / name).read_text(encoding="utf-8")) for name in ("single.md", "merged.md")]
    assert markdown[0] == markdown[1]


def test_merged_shards_pin_and_pass_like_one_run_and_ordinary_failures_fail_both(project: Project) -> None:
    as_model(project, "oracle")
    project.pytester.makepyfile(test_plain=PLAIN)
    single = project.run(*SUITE, "--llm-model=cand", "--llm-thresholds=single-pin.json", "--llm-pin",
                         "--llm-cache-dir=cache-single")
    run_shards(project, *SUITE, "--llm-model=cand")
    pinned = project.run("--llm-merge=shard-*.json", "--llm-thresholds=merged-pin.json", "--llm-pin")
    assert pinned.ret == single.ret == pytest.ExitCode.OK
    files = [json.loads(without_stamp((project.path / name).read_text(encoding="utf-8")))
             for name in ("single-pin.json", "merged-pin.json")]
    assert files[0] == files[1]

    passing = project.run("--llm-merge=shard-*.json", "--llm-thresholds=merged-pin.json")
    assert passing.ret == pytest.ExitCode.OK
    passing.stdout.fnmatch_lines(["llmeval gate passed*"])

    # An ordinary test that fails fails its shard, and the merge, as it fails one run.
    project.pytester.makepyfile(test_plain=PLAIN + "\ndef test_broken():\n    assert False\n")
    shards = run_shards(project, *SUITE, "--llm-model=cand")
    broken = [i for i, r in enumerate(shards, 1) if r.ret == pytest.ExitCode.TESTS_FAILED]
    assert len(broken) == 1 and all(r.ret == pytest.ExitCode.OK for r in shards if r.ret != pytest.ExitCode.TESTS_FAILED)
    failing = project.run("--llm-merge=shard-*.json", "--llm-thresholds=merged-pin.json")
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    failing.stdout.fnmatch_lines([f"FAILED: 1 test other than benchmark items failed in the shards "
                                  f"(shard-{broken[0]}.json: 1); their runs show which"])


def test_a_merge_under_xdist_options_starts_no_worker(project: Project) -> None:
    as_model(project, "noisy")
    run_shards(project, *SUITE, "--llm-model=cand", "--llm-baseline=script:oracle")
    serial = project.run("--llm-merge=shard-*.json", "--llm-scorecard=serial.json")
    parallel = project.run("--llm-merge=shard-*.json", "--llm-scorecard=parallel.json", "-n", "2", subprocess=True)
    assert parallel.ret == serial.ret == pytest.ExitCode.OK
    assert "workers" not in parallel.stdout.str()
    one, two = project.scorecard("serial.json"), project.scorecard("parallel.json")
    assert all(one[key] == two[key] for key in SAME)


def test_shards_stay_put_when_other_items_are_added(project: Project) -> None:
    rows = [{"qid": f"q-{i}", "question": f"What is {i} plus 1?", "answer": str(i + 1)} for i in range(40)]

    def shard_ids(data: list[dict[str, str]], index: int) -> set[str]:
        project.pytester.path.joinpath("sums.jsonl").write_text("\n".join(map(json.dumps, data)) + "\n", encoding="utf-8")
        result = project.run("--collect-only", "-q", "--llm-model=script:oracle", f"--llm-shard={index}/3",
                             "--llm-scorecard=s.json")
        assert result.ret == pytest.ExitCode.OK
        return {line for line in result.outlines if "::" in line}

    project.pytester.makepyfile(test_sums=(
        "from pytest_llmeval import Benchmark, scorers\n"
        "test_sums = Benchmark('sums', capability='arithmetic', data='sums.jsonl', prompt='{question}', "
        "target='answer', scorer=scorers.includes(), id_field='qid')\n"), test_plain=PLAIN)
    before = [shard_ids(rows, i) for i in (1, 2, 3)]
    every = {line for part in before for line in part}
    assert len(every) == sum(map(len, before)) == 40 + 6 and all(before)  # a partition of every test
    # New rows first in the file, and one removed: the others' shards do not move.
    after = [shard_ids([*({"qid": f"new-{i}", "question": f"{i} + 2?", "answer": str(i + 2)} for i in range(20)),
                        *rows[1:]], i) for i in (1, 2, 3)]
    for old, new in zip(before, after, strict=True):
        assert old - {"test_sums.py::sums[q-0]"} <= new
    assert sum(map(len, after)) == 20 + 39 + 6


def test_the_collection_says_which_share_ran(project: Project) -> None:
    result = project.run(*SUITE, "--llm-model=script:oracle", "--llm-shard=2/3", "--llm-scorecard=s.json")
    kept = ran(result)
    result.stdout.fnmatch_lines([f"llmeval: shard 2/3: {kept} of 24 tests (benchmark items by item identity, other tests "
                                 f"by node id)", f"*{kept} passed, {24 - kept} deselected*"])


@pytest.mark.parametrize(("args", "message"), [
    (("--llm-shard=4/3",), "*--llm-shard: expected I/N with 1 <= I <= N (such as 2/5), got '4/3'*"),
    (("--llm-shard=1/3",), "ERROR: --llm-shard=1/3: name the shard's scorecard file with --llm-scorecard=PATH.json*"),
    (("--llm-shard=1/3", "--llm-scorecard=s.json", "--llm-thresholds=t.json", "--llm-pin"),
     "ERROR: --llm-pin with --llm-shard=1/3: a shard holds only part of the items. Pin from the merged shards*"),
    (("--llm-shard=1/3", "--llm-scorecard=s.json", "--llm-merge=s.json"),
     "ERROR: --llm-merge merges the files of finished shards and runs no test itself: leave out --llm-shard*"),
])
def test_shard_options_that_cannot_work_stop_the_run_at_start(project: Project, args: tuple[str, ...], message: str) -> None:
    result = project.run(*SUITE, "--llm-model=script:oracle", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert project.inferences() == 0


def test_shards_that_do_not_make_one_run_are_refused_naming_the_files(project: Project) -> None:
    as_model(project, "noisy")
    run_shards(project, *SUITE, "--llm-model=cand")
    full = len(item_outcomes(project.scorecard("shard-2.json")))
    missing = project.run("--llm-merge=shard-1.json", "--llm-merge=shard-3.json")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["ERROR: --llm-merge: shard 2/3 is missing (given: shard-1.json (1/3), shard-3.json "
                                  "(3/3)): a merge needs every shard of the run"])

    # A shard stopped by a broken test (-x) lacks items: merging it would hide them.
    name = next(f"test_broken_{k}" for k in range(100) if shard_of(f"test_stop.py::test_broken_{k}", 3) == 2)
    stop = project.pytester.makepyfile(test_stop=f"def {name}():\n    assert False\n")
    stopped = project.run(*SUITE, "--llm-model=cand", "--llm-shard=2/3", "--llm-scorecard=shard-2.json", "-x")
    assert stopped.ret == pytest.ExitCode.TESTS_FAILED
    assert len(item_outcomes(project.scorecard("shard-2.json"))) < full
    stop.unlink()
    refused = project.run("--llm-merge=shard-*.json")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines([f"ERROR: --llm-merge: {project.path / 'shard-2.json'}: that shard's run stopped before "
                                  f"its end (interrupted, -x or --maxfail), so it lacks items: run shard 2/3 again"])

    run_shards(project, *SUITE, "--llm-model=cand")
    shutil.copy(project.path / "shard-3.json", project.path / "copy.json")
    twice = project.run("--llm-merge=shard-*.json", "--llm-merge=copy.json")
    twice.stderr.fnmatch_lines([f"ERROR: --llm-merge: shard 3/3 is given twice: {project.path / 'copy.json'} and "
                                f"{project.path / 'shard-3.json'}; merge one file per shard"])
    other = project.run(*SUITE, "--llm-model=cand", "--llm-limit=5", "--llm-shard=3/3", "--llm-scorecard=shard-3.json")
    assert other.ret == pytest.ExitCode.OK
    mixed = project.run("--llm-merge=shard-*.json")
    mixed.stderr.fnmatch_lines([f"ERROR: --llm-merge: {project.path / 'shard-3.json'} was run with other settings than "
                                f"{project.path / 'shard-1.json'}: run.limit is 5 in shard-3.json and 12 in shard-1.json.*"])


def test_the_shard_comes_from_the_ini_file_unless_the_command_line_names_one(project: Project) -> None:
    project.pytester.makeini(INNER_INI + "llm_shard = 2/3\nllm_scorecard = s.json\n")
    from_ini = project.run(*SUITE, "--llm-model=script:oracle", "--collect-only")
    from_ini.stdout.fnmatch_lines(["llmeval: shard 2/3: * of 24 tests *"])
    given = project.run(*SUITE, "--llm-model=script:oracle", "--collect-only", "--llm-shard=3/3")
    given.stdout.fnmatch_lines(["llmeval: shard 3/3: * of 24 tests *"])
    project.pytester.makeini(INNER_INI + "llm_shard = 2\n")
    broken = project.run(*SUITE, "--llm-model=script:oracle")
    assert broken.ret == pytest.ExitCode.USAGE_ERROR
    broken.stderr.fnmatch_lines(["ERROR: ini option llm_shard = '2': expected I/N with 1 <= I <= N (such as 2/5), got '2'"])


def test_an_empty_share_is_still_a_shard_with_its_file(project: Project) -> None:
    project.run(*SUITE, "--llm-model=script:oracle", "--llm-scorecard=all.json")
    keys = {f"{row['benchmark']}[{row['item']}]" for row in project.scorecard("all.json")["items"]}
    empty = next(i for i in range(1, 31) if all(shard_of(key, 30) != i for key in keys))
    result = project.run(*SUITE, "--llm-model=script:oracle", f"--llm-shard={empty}/30", "--llm-scorecard=empty.json")
    assert result.ret == pytest.ExitCode.OK  # not "no tests collected": the other shards hold them
    card = project.scorecard("empty.json")
    assert card["items"] == [] and card["run"]["shard"] == {"index": empty, "total": 30, "complete": True, "failed_tests": 0}
