"""The JUnit file where people read it: through a maintained consumer (junit2html, from PyPI),
and against the schema of what the CI examples' dashboards read (tests/data/junit-dashboards.xsd:
dorny/test-reporter's java-junit parser on GitHub, GitLab's JUnit report parser), validated by
xmlschema. Every benchmark item and every capability testcase must show, with its outcome."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import xmlschema
from junit2htmlreport import parser as junit2html

from conftest import INNER_CONFTEST, SUITE, Project

SCHEMA = Path(__file__).parent / "data" / "junit-dashboards.xsd"
PLAIN_TESTS = "def test_ordinary():\n    pass\n\n\ndef test_broken():\n    assert 1 == 2\n"
#: Items that can never run: the scorecard's skipped outcome.
SKIPPING_BENCHMARK = """
from pytest_llmeval import Benchmark, scorers


class CodeBenchmark(Benchmark):
    executes_code = True


test_code = CodeBenchmark("codegen", capability="coding", data=[{"q": "a"}, {"q": "b"}],
                          prompt="Write {q}.", target="q", scorer=scorers.includes())
"""


class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


@pytest.fixture
def junit_file(project: Project) -> Path:
    """A run with every outcome: right and wrong answers, backend errors, skipped items, ordinary
    tests (one broken), and capability testcases of a gate that fails reasoning."""
    project.pytester.makeconftest(INNER_CONFTEST)
    project.pytester.makepyfile(test_plain=PLAIN_TESTS, test_code=SKIPPING_BENCHMARK)
    pinned = project.run(*SUITE, "--llm-model=script:oracle", "--llm-model=script:flaky", "--llm-max-error-rate=1",
                         "--llm-thresholds=thresholds.json", "--llm-pin", "-p", "no:cacheprovider")
    assert (project.path / "thresholds.json").exists(), pinned.stdout.str()
    # A floor the flaky model's reasoning (wrong answers and errors) does not meet: its capability
    # testcase fails, the oracle's passes.
    thresholds = project.path / "thresholds.json"
    document = json.loads(thresholds.read_text(encoding="utf-8"))
    document["settings"]["floors"] = {"reasoning": 0.9}
    thresholds.write_text(json.dumps(document), encoding="utf-8")
    result = project.run(*SUITE, "--llm-model=script:oracle", "--llm-model=script:flaky", "--llm-max-error-rate=1",
                         "--llm-thresholds=thresholds.json", "--junitxml=junit.xml", "--llm-scorecard=card.json")
    assert result.ret == 1, result.stdout.str()  # the gate failed
    return project.path / "junit.xml"


def item_outcomes(project: Project) -> dict[str, str]:
    """Test name -> outcome of every benchmark item, from the run's scorecard."""
    return {f"{r['benchmark']}[{r['item']}-{r['model']}]": r["outcome"] for r in project.scorecard()["items"]}


def test_the_schema_rejects_what_the_dashboards_cannot_read(tmp_path: Path) -> None:
    schema = xmlschema.XMLSchema(SCHEMA)
    good = ('<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" time="0.1">'
            '<testcase classname="llmeval" name="{name}" time="{time}"><properties><property name="llm_model" value="m"/>'
            '</properties></testcase></testsuite></testsuites>')
    assert schema.is_valid(good.format(name="gsm8k[1-m]", time="0.010"))
    assert not schema.is_valid(good.format(name=" ", time="0.010"))  # dorny trims and shows nothing
    assert not schema.is_valid(good.format(name="gsm8k[1-m]", time="n/a"))  # parseFloat: NaN
    assert not schema.is_valid(good.replace(' name="pytest"', ""))  # dorny reads the suite's name


def test_dashboards_and_junit2html_show_every_item_and_every_capability(project: Project, junit_file: Path) -> None:
    path = junit_file
    errors = [str(e) for e in xmlschema.XMLSchema(SCHEMA).iter_errors(str(path))]
    assert not errors, errors[:3]
    items = item_outcomes(project)
    assert len(items) == 24  # 10 items x 2 models, 2 skipped code items x 2 models
    assert set(items.values()) == {"passed", "failed", "error", "skipped"}
    report = junit2html.Junit(str(path))
    cases = {case.fullname(): case for suite in report.suites for case in suite.all()}
    by_name = {case.name: case for full, case in cases.items() if not full.startswith("llmeval.scorecard.")}
    for name, outcome in items.items():
        case = by_name.get(name)
        assert case is not None, f"{name} not in the JUnit file"
        assert case.outcome() == {"error": "failed"}.get(outcome, outcome), name  # junit2html: an error fails
        if outcome != "skipped":
            props = {p.name: p.value for p in case.properties}
            assert props["llm_model"] in ("oracle", "flaky") and props["llm_benchmark"] in ("gsm8k", "mmlu"), props
    capabilities = {name: case for name, case in cases.items() if name.startswith("llmeval.scorecard.")}
    assert set(capabilities) == {f"llmeval.scorecard.{m} : {c}" for m in ("oracle", "flaky") for c in ("general", "reasoning", "coding")}
    gate = project.scorecard()["gate"]["verdicts"]
    failing = {f"llmeval.scorecard.{v['model']} : {v['capability']}" for v in gate if v["benchmark"] is None and v["status"] == "fail"}
    assert "llmeval.scorecard.flaky : reasoning" in failing and not any(".oracle " in name for name in failing)
    assert {name for name, case in capabilities.items() if case.outcome() == "failed"} == failing
    # A capability none of whose items was scored (all skipped or errored) shows as skipped.
    scored = {(r["model"], r["capability"]) for r in project.scorecard()["items"] if r["outcome"] in ("passed", "failed")}
    unscored = {name for name in capabilities if tuple(name.removeprefix("llmeval.scorecard.").split(" : ")) not in scored}
    assert unscored and {name for name, case in capabilities.items() if case.outcome() == "skipped"} == unscored - failing
    assert "below the floor 0.900" in (capabilities["llmeval.scorecard.flaky : reasoning"].failure or "")
    assert {"test_plain : test_ordinary", "test_plain : test_broken"} <= set(cases)  # the ordinary tests keep their place

    # The same through its command line, as a user would: the HTML names every case.
    html = project.path / "junit.html"
    done = subprocess.run([sys.executable, "-m", "junit2htmlreport", str(path), str(html)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    text = Text()
    text.feed(html.read_text(encoding="utf-8"))
    words = " ".join(text.chunks)
    for name in [*items, *(name.split(" : ")[1] for name in capabilities)]:
        assert name in words, f"{name} not shown by junit2html"
    for model in ("oracle", "flaky"):
        assert f"llmeval.scorecard.{model}" in words
