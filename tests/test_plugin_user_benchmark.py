"""A user's own benchmark in their own test file: a dataset (JSONL, CSV, a Python list), a
prompt, a scorer and a capability name become collected items; ``benchmark.each`` tests and
the ``llm_model`` fixture let the test body be plain pytest code."""

from __future__ import annotations

import pytest

from conftest import INNER_CONFTEST, Project

ORACLE = "--llm-model=script:oracle"

CAPITALS_JSONL = """\
{"country": "France", "capital": "Paris"}
{"country": "Japan", "capital": "Tokyo"}
{"country": "Kenya", "capital": "Nairobi"}
{"country": "Peru", "capital": "Lima"}
"""

TEST_GEO = """
from pytest_llmeval import Benchmark, scorers

test_capitals = Benchmark(
    name="capitals",
    capability="geography",
    data="capitals.jsonl",
    prompt="What is the capital of {country}? Answer with the city only.",
    target="capital",
    scorer=scorers.includes(),
)

# The same rows under another name, checked with assertions of the user's own.
style = Benchmark(
    name="capital-style",
    capability="instruction_following",
    data="capitals.jsonl",
    prompt="Name the capital of {country}.",
    target="capital",
    scorer=scorers.includes(),
)


@style.each
def test_names_the_capital(llm_item, llm_response):
    assert llm_item.row["country"]
    assert llm_item.target in llm_response.text


def test_greets(llm_model):
    assert llm_model.generate("Say hello.", system="Be brief.") == "[system] Be brief.\\n[user] Say hello."
"""


@pytest.fixture
def geo(project: Project) -> Project:
    project.pytester.makefile(".jsonl", capitals=CAPITALS_JSONL)
    project.pytester.makepyfile(test_geo=TEST_GEO)
    return project


def test_a_benchmark_in_a_test_file_is_collected_as_one_test_per_row(geo: Project) -> None:
    result = geo.run(ORACLE, "--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "test_geo.py::capitals[[]paris-*]",
        "test_geo.py::capitals[[]tokyo-*]",
        "test_geo.py::capitals[[]nairobi-*]",
        "test_geo.py::capitals[[]lima-*]",
        "test_geo.py::test_names_the_capital[[]paris-*]",
        "test_geo.py::test_names_the_capital[[]lima-*]",
        "test_geo.py::test_greets",
    ])


def test_user_benchmarks_run_score_and_fill_the_scorecard(geo: Project) -> None:
    result = geo.run(ORACLE, "-k", "not greets", "--llm-scorecard=card.json")
    result.assert_outcomes(passed=8, deselected=1)
    assert result.ret == 0
    assert geo.inferences() == 8  # both benchmarks' requests, answered ahead of the tests
    card = geo.scorecard()
    rows = {(r["capability"], r["passed"], r["failed"], r["total"]) for r in card["capabilities"]}
    assert rows == {("geography", 4, 0, 4), ("instruction_following", 4, 0, 4)}
    benchmarks = {(r["benchmark"], r["capability"]) for r in card["benchmarks"]}
    assert benchmarks == {("capitals", "geography"), ("capital-style/test_names_the_capital", "instruction_following")}
    answers = {r["item"]: r["answer"] for r in card["items"] if r["benchmark"] == "capitals"}
    assert {item.split("-")[0]: answer for item, answer in answers.items()} == {
        "paris": "Paris", "tokyo": "Tokyo", "nairobi": "Nairobi", "lima": "Lima"}
    result.stdout.fnmatch_lines(["*llmeval scorecard*", "geography*1.000*4/4*"])


def test_wrong_answers_fail_the_users_items_and_their_own_assertions(geo: Project) -> None:
    result = geo.run("--llm-model=script:wrong", "-k", "not greets", "--llm-scorecard=card.json")
    result.assert_outcomes(failed=8, deselected=1)
    assert result.ret == 0  # wrong answers are measurements, also in the user's own tests
    result.stdout.fnmatch_lines(["*assert 'Paris' in 'I am not sure. The answer is 123456789.*"])
    assert {(r["capability"], r["failed"]) for r in geo.scorecard()["capabilities"]} == {
        ("geography", 4), ("instruction_following", 4)}


@pytest.mark.parametrize(("marker", "passed"), [("geography", 4), ("instruction_following", 4), ("llmeval", 8)])
def test_custom_capabilities_are_registered_markers(geo: Project, marker: str, passed: int) -> None:
    result = geo.run(ORACLE, "--strict-markers", "-m", marker)
    result.assert_outcomes(passed=passed, deselected=9 - passed)


def test_the_model_fixture_asks_the_model_from_a_plain_test(geo: Project) -> None:
    result = geo.run("--llm-model=script:echo", "-k", "greets")
    result.assert_outcomes(passed=1, deselected=8)
    assert result.ret == 0
    assert geo.inferences() == 1
    assert "llmeval scorecard" not in result.stdout.str()  # a plain test is no benchmark item
    geo.run("--llm-model=script:echo", "-k", "greets").assert_outcomes(passed=1, deselected=8)
    assert geo.inferences() == 1  # cached like every request


def test_the_model_fixture_raises_the_backend_error(project: Project) -> None:
    project.pytester.makepyfile(test_ask="def test_ask(llm_model):\n    llm_model.generate('Say hello.')\n")
    result = project.run("--llm-model=script:error")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*BackendError: error: HTTP 503: scripted outage*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_model_fixture_follows_the_model_of_each_item(project: Project) -> None:
    project.pytester.makepyfile(
        test_each="""
        from pytest_llmeval import Benchmark, scorers

        sums = Benchmark("sums", capability="arithmetic", data=[{"q": "2+3", "a": "5"}], prompt="What is {q}?",
                         target="a", scorer=scorers.number())

        @sums.each
        def test_model_name(llm_item, llm_model, llm_response):
            print("MODEL", llm_model.name, llm_response.text[:13])
        """
    )
    result = project.run(ORACLE, "--llm-model=script:wrong", "-s", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_model_name[[]5-*-oracle]*"])
    result.stdout.fnmatch_lines(["*MODEL oracle Let me think.*"])
    result.stdout.fnmatch_lines(["*MODEL wrong I am not sure"])


def test_csv_file_as_data(project: Project) -> None:
    project.pytester.makefile(".csv", capitals="country,capital\nFrance,Paris\nJapan,Tokyo\n")
    project.pytester.makepyfile(
        test_csv="""
        from pytest_llmeval import Benchmark, scorers

        test_capitals = Benchmark("capitals-csv", capability="geography", data="capitals.csv",
                                  prompt="Capital of {country}?", target="capital", scorer=scorers.includes())
        """
    )
    result = project.run(ORACLE, "-v", "--llm-scorecard=card.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["test_csv.py::capitals-csv[[]paris-*] PASSED*", "test_csv.py::capitals-csv[[]tokyo-*] PASSED*"])
    assert {r["answer"] for r in project.scorecard()["items"]} == {"Paris", "Tokyo"}


def test_python_list_and_callable_as_data_with_ids_from_a_field(project: Project) -> None:
    project.pytester.makepyfile(
        test_inline="""
        from pytest_llmeval import Benchmark, scorers

        ROWS = [{"key": "fr", "country": "France", "capital": "Paris"},
                {"key": "jp", "country": "Japan", "capital": "Tokyo"}]

        test_listed = Benchmark("listed", capability="geography", data=ROWS, prompt="Capital of {country}?",
                                target="capital", scorer=scorers.includes(), id_field="key")
        test_generated = Benchmark("generated", capability="geography", data=lambda: iter(ROWS),
                                   prompt=lambda row: f"Which city is the capital of {row['country']}?",
                                   target=lambda row: row["capital"].upper(), scorer=scorers.includes())
        """
    )
    result = project.run(ORACLE, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["test_inline.py::listed[[]fr] PASSED*", "test_inline.py::listed[[]jp] PASSED*",
                                 "test_inline.py::generated[[]paris-*] PASSED*"])


def test_a_benchmark_from_a_conftest_hook_is_a_suite_by_name_and_by_capability(project: Project) -> None:
    project.pytester.makefile(".jsonl", capitals=CAPITALS_JSONL)
    project.pytester.makeconftest(
        INNER_CONFTEST
        + "\n\nfrom pytest_llmeval import Benchmark, scorers\n\n"
        "def pytest_llmeval_benchmarks(config):\n"
        "    data = str(config.rootpath / 'capitals.jsonl')\n"
        "    return [Benchmark('capitals', capability='geography', data=data, prompt='Capital of {country}?',\n"
        "                      target='capital', scorer=scorers.includes())]\n"
    )
    for suite in ("capitals", "geography"):
        result = project.run(ORACLE, f"--llm-suite={suite}", "--llm-limit=3", "--strict-markers")
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(["geography*1.000*3/3*"])
    ids = [line for line in project.run(ORACLE, "--llm-suite=capitals", "--collect-only", "-q").outlines if "::" in line]
    assert [i.split("[")[1].split("-")[0] for i in ids] == ["paris", "tokyo", "nairobi", "lima"]


def test_an_item_checked_by_two_tests_is_counted_once_per_check(project: Project) -> None:
    """Each decorated test is a check of its own with its own benchmark row: no row counts an item twice."""
    project.pytester.makefile(".jsonl", capitals=CAPITALS_JSONL)
    project.pytester.makepyfile(
        test_both="""
        from pytest_llmeval import Benchmark, scorers

        test_capitals = Benchmark(name="capitals", capability="geography", data="capitals.jsonl",
                                  prompt="What is the capital of {country}?", target="capital",
                                  scorer=scorers.includes())

        @test_capitals.each
        def test_one_word(llm_item, llm_response):
            assert llm_item.target in llm_response.text
        """
    )
    result = project.run(ORACLE, "--llm-scorecard=card.json")
    result.assert_outcomes(passed=8)
    card = project.scorecard()
    keys = [(r["model"], r["benchmark"], r["item"]) for r in card["items"]]
    assert len(keys) == len(set(keys)) == 8
    assert sorted((r["benchmark"], r["total"]) for r in card["benchmarks"]) == [("capitals", 4), ("capitals/test_one_word", 4)]
