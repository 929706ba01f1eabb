"""Where each model is asked: the candidates' server (``--llm-base-url``) serves the models under
test only; the baseline and the judge are asked of their own server, or come from recordings,
and the run's header says which and why. An alias of local weights is asked of the candidates'
server under its served name."""

from __future__ import annotations

import pytest

from conftest import INNER_INI
from pytest_llmeval.testing.server import FakeServer


@pytest.fixture
def offline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("LLMEVAL_BASE_URL", "LLMEVAL_API_KEY", "OPENAI_API_KEY", "LLMEVAL_JUDGE_BASE_URL",
                 "LLMEVAL_BASELINE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(INNER_INI.replace("llm_baseline = none\n", ""))
    return pytester


def asked(srv: FakeServer) -> set[str]:
    return {str(hit.body.get("model")) for hit in srv.hits}


def test_the_judge_and_the_baseline_never_go_to_the_candidates_server(offline: pytest.Pytester) -> None:
    with FakeServer() as srv:
        result = offline.runpytest("--llm-suite=alpaca_eval", "--llm-suite=gsm8k", "--llm-limit=2",
                                   "--llm-model=openai:fake-model", f"--llm-base-url={srv.base_url}", "-rs")
    assert asked(srv) == {"fake-model"}
    result.stdout.fnmatch_lines([
        "llmeval: baseline gpt-3.5-turbo: recorded outputs (gpt-3.5-turbo: *",
        "llmeval: judge gpt-4: recorded outputs (alpaca_eval_gpt4: *",
    ])
    # Judged items of a live candidate need a live judge: skipped with the reason, not errored.
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines(["*--llm-base-url serves the models under test, not the judge; give the judge its own "
                                 "with --llm-judge-base-url*"])
    assert result.ret == 0


def test_the_judge_and_the_baseline_take_their_own_server(offline: pytest.Pytester) -> None:
    with FakeServer() as candidates, FakeServer(model="gpt-4") as judges, FakeServer(model="gpt-3.5-turbo") as baselines:
        offline.runpytest("--llm-suite=alpaca_eval", "--llm-limit=2", "--llm-model=openai:fake-model",
                          f"--llm-base-url={candidates.base_url}", f"--llm-judge-base-url={judges.base_url}",
                          f"--llm-baseline-base-url={baselines.base_url}")
    assert asked(candidates) == {"fake-model"}
    assert asked(judges) == {"gpt-4"}
    assert asked(baselines) == {"gpt-3.5-turbo"}


def test_an_alias_of_local_weights_is_asked_of_the_server_under_its_served_name(offline: pytest.Pytester) -> None:
    with FakeServer() as srv:
        result = offline.runpytest("--llm-suite=gsm8k", "--llm-limit=2", "--llm-model=smollm2-135m-instruct",
                                   f"--llm-base-url={srv.base_url}", "--llm-baseline=none")
    assert asked(srv) == {"SmolLM2-135M-Instruct"}
    result.stdout.fnmatch_lines(["llmeval: smollm2-135m-instruct: *SmolLM2-135M-Instruct*"])
    assert "torch" not in result.stdout.str()
