"""JUnit XML for dashboards: every item a testcase with its properties, every capability too."""

from __future__ import annotations

from xml.etree import ElementTree

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
    # Scored (all wrong, no gate): passed; nothing scored (every item errored): skipped, not passed.
    assert {k: v["result"] for k, v in capability_cases.items()} == {
        f"llmeval.scorecard.{m}::{c}": ["Skipped"] if m == "error" else [] for m in ("wrong", "error") for c in ("reasoning", "general")}


def test_family_is_xunit1(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\njunit_family = xunit2\n")
    pytester.runpytest("--llm-suite=gsm8k", "--llm-limit=1", "--llm-model=script:oracle", "--junitxml=a.xml")
    text = (pytester.path / "a.xml").read_text()
    assert "<properties>" in text and 'name="llm_answer"' in text


#: Items skipped before inference, of both kinds: code execution not allowed (every model) and a
#: recorded model without recordings of the benchmark; "geo" is scored on the scripted model.
SKIPPING_MODULE = """
from pytest_llmeval import Benchmark, scorers


class CodeBenchmark(Benchmark):
    executes_code = True


test_code = CodeBenchmark("codegen", capability="coding", data=[{"q": "a"}, {"q": "b"}],
                          prompt="Write {q}.", target="q", scorer=scorers.includes())
test_geo = Benchmark("geo", capability="general", data=[{"q": "a"}], prompt="Write {q}.", target="q",
                     scorer=scorers.includes())
"""
#: Model names with dots: an alias, and a recorded model (which has no recordings of mmlu or geo).
DOTTED = {"v1.2.3": "v1_2_3", "recorded:gpt-3.5-turbo": "recorded:gpt-3_5-turbo"}


def junit_cases(path: str) -> list[ElementTree.Element]:
    return list(ElementTree.parse(path).getroot().iter("testcase"))


def props_of(case: ElementTree.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_testcases_name_their_file_their_model_in_one_piece_and_skips_without_a_line(
        pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_mod=SKIPPING_MODULE)
    pytester.makeini("[pytest]\nllm_aliases =\n    v1.2.3 = script:oracle\n")
    result = pytester.runpytest_subprocess("--llm-suite=mmlu", "--llm-limit=2", "--llm-model=v1.2.3",
                                           "--llm-model=recorded:gpt-3.5-turbo", "--llm-baseline=none",
                                           "--junitxml=out.xml", *workers)
    assert result.ret == 0, result.stdout.str()
    cases = junit_cases(str(pytester.path / "out.xml"))
    items = [c for c in cases if not c.get("classname", "").startswith("llmeval.scorecard.")]
    capabilities = [c for c in cases if c.get("classname", "").startswith("llmeval.scorecard.")]
    # 2 mmlu + 2 codegen + 1 geo items, on each model; coding and general, on each model.
    assert len(items) == 10 and len(capabilities) == 4
    skips = 0
    for case in items:
        benchmark = props_of(case)["llm_benchmark"]
        expected_file = "llmeval" if benchmark == "mmlu" else "test_mod.py"
        assert (case.get("file"), case.get("classname")) == (expected_file, expected_file.removesuffix(".py")), case.attrib
        for skipped in case.iter("skipped"):
            skips += 1
            # Where the item is (its benchmark, no line), then the reason.
            assert skipped.text == f"{expected_file}::{benchmark}: {skipped.get('message')}", skipped.text
    assert skips == 7  # every codegen item (4), the recorded model's mmlu (2) and geo (1)
    names = {(c.get("classname"), props_of(c)["llm_model"]) for c in capabilities}
    assert names == {(f"llmeval.scorecard.{flat}", model) for model, flat in DOTTED.items()}
    for case in capabilities:
        props = props_of(case)
        assert case.get("file") == "llmeval"
        skipped = case.find("skipped")
        if props["llm_score"]:
            assert skipped is None and case.find("failure") is None, props
            continue
        assert skipped is not None, f"{case.get('classname')} {case.get('name')}: nothing scored, yet passed"
        reason = f"nothing scored: {props['llm_skipped']} items skipped"
        nodeid = f"{case.get('classname', '').replace('.', '::')}::{case.get('name')}"
        assert (skipped.get("message"), skipped.text) == (reason, f"{nodeid}: {reason}")
    unscored = {(props_of(c)["llm_model"], c.get("name")) for c in capabilities if c.find("skipped") is not None}
    assert unscored == {("v1.2.3", "coding"), ("recorded:gpt-3.5-turbo", "coding"), ("recorded:gpt-3.5-turbo", "general")}
