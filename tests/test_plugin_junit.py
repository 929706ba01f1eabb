"""JUnit XML for dashboards: every item a testcase with its properties, every capability too."""

from __future__ import annotations

import pytest

junitparser = pytest.importorskip("junitparser")

CONFTEST = """
from pytest_llmeval.testing.scripted import ScriptedBackend

def pytest_llmeval_backends(config):
    return {"script": lambda spec, context: ScriptedBackend(spec.target)}
"""


def cases(path: str) -> dict[str, dict[str, object]]:
    """Testcases by "classname::name", each with its properties and result kind."""
    found = {}
    for suite in junitparser.JUnitXml.fromfile(path):
        for case in suite:
            node = case.child(junitparser.Properties)
            props = {p.name: p.value for p in node.iterchildren(junitparser.Property)} if node is not None else {}
            kinds = [type(r).__name__ for r in case.result]
            found[f"{case.classname}::{case.name}"] = {"props": props, "result": kinds}
    return found


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_items_and_capabilities_are_testcases(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest_subprocess(
        "--llm-suite=gsm8k", "--llm-suite=mmlu", "--llm-limit=3", "--llm-model=script:wrong",
        "--llm-model=script:error", "--llm-max-error-rate=1", "--llm-baseline=none", "--junitxml=out.xml", *workers,
    )
    assert result.ret == 0, result.stdout.str()
    found = cases(str(pytester.path / "out.xml"))
    items = {k: v for k, v in found.items() if not k.startswith("llmeval.scorecard")}
    assert len(items) == 12
    gsm = next(v for k, v in items.items() if "gsm8k" in k and v["props"].get("llm_answer"))
    assert gsm["props"]["llm_model"] == "wrong"
    assert gsm["props"]["llm_capability"] == "reasoning"
    assert gsm["props"]["llm_benchmark"] == "gsm8k"
    assert gsm["props"]["llm_answer"] == "123456789"
    assert gsm["props"]["llm_expected"].isdigit()
    assert gsm["props"]["llm_score"] == "0"
    errored = [k for k, v in items.items() if v["result"] == ["Error"]]
    assert len(errored) == 6 and all(k.endswith("-error]") for k in errored)
    capability_cases = {k: v for k, v in found.items() if k.startswith("llmeval.scorecard")}
    assert set(capability_cases) == {f"llmeval.scorecard.{m}::{c}" for m in ("wrong", "error") for c in ("reasoning", "general")}
    reasoning = capability_cases["llmeval.scorecard.wrong::reasoning"]["props"]
    assert (reasoning["llm_passed"], reasoning["llm_failed"], reasoning["llm_errors"]) == ("0", "3", "0")
    assert capability_cases["llmeval.scorecard.error::general"]["props"]["llm_errors"] == "3"


def test_family_is_xunit1(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\njunit_family = xunit2\n")
    pytester.runpytest("--llm-suite=gsm8k", "--llm-limit=1", "--llm-model=script:oracle", "--junitxml=a.xml")
    text = (pytester.path / "a.xml").read_text()
    assert "<properties>" in text and 'name="llm_answer"' in text
