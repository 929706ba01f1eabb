"""MT-Bench's second turn, end to end: the second question is asked after the model's own first
answer in one conversation (answered ahead of the tests, turn by turn, and cached), each turn is
judged with its published prompt, and the item's rating is the mean of the two."""

from __future__ import annotations

import json

import pytest

from conftest import INNER_INI
from pytest_llmeval.backends.openai.backend import PROBE_PROMPT
from pytest_llmeval.testing.server import FakeServer, Hit


@pytest.fixture
def offline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("LLMEVAL_BASE_URL", "LLMEVAL_API_KEY", "OPENAI_API_KEY", "LLMEVAL_JUDGE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(INNER_INI)
    return pytester


def asked(srv: FakeServer) -> list[Hit]:
    """The requests the run made of a server, without its identity probe."""
    return [hit for hit in srv.hits if hit.prompt != PROBE_PROMPT]


def answer(prompt: str) -> str:
    return f"ANSWER TO: {prompt[:40]}"


def rating(prompt: str) -> str:
    return "Second turn seen. Rating: [[6]]" if "### User:" in prompt else "Rating: [[9]]"


def test_mtbench_asks_the_second_turn_after_the_first_answer_and_judges_both(offline: pytest.Pytester) -> None:
    args = ("--llm-suite=mtbench", "--llm-limit=3", "--llm-model=openai:fake-model", "--llm-judge=openai:gpt-4",
            "--llm-scorecard=card.json")
    with FakeServer(answer=answer) as model, FakeServer(model="gpt-4", answer=rating) as judge:
        result = offline.runpytest(*args, f"--llm-base-url={model.base_url}", f"--llm-judge-base-url={judge.base_url}")
        first_model_hits, first_judge_hits = len(asked(model)), len(asked(judge))
        again = offline.runpytest(*args, f"--llm-base-url={model.base_url}", f"--llm-judge-base-url={judge.base_url}")
    result.assert_outcomes(failed=3)  # 7.5 < 8
    assert (first_model_hits, first_judge_hits) == (6, 6)  # two turns of three items, two verdicts each
    assert (len(asked(model)), len(asked(judge))) == (6, 6)  # the rerun is answered from the cache, turn 2 included
    again.assert_outcomes(failed=3)
    second_turns = [h for h in asked(model) if len(h.body["messages"]) == 3]
    assert len(second_turns) == 3
    for hit in second_turns:
        q1, a1, q2 = hit.body["messages"]
        assert (q1["role"], a1["role"], q2["role"]) == ("user", "assistant", "user")
        assert a1["content"] == answer(q1["content"])
    card = json.loads((offline.path / "card.json").read_text())
    [row] = [r for r in card["benchmarks"] if r["benchmark"] == "mtbench"]
    assert row["metrics"] == {"rating": 7.5, "rating_turn1": 9.0, "rating_turn2": 6.0}


def test_mtbench_without_a_live_judge_is_skipped_before_inference(offline: pytest.Pytester) -> None:
    with FakeServer() as model:
        result = offline.runpytest("--llm-suite=mtbench", "--llm-limit=2", "--llm-model=openai:fake-model",
                                   f"--llm-base-url={model.base_url}", "-rs")
    result.assert_outcomes(skipped=2)
    assert asked(model) == []
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] llmeval::mtbench: needs a live judge*"])


def test_recorded_mtbench_answers_without_verdicts_are_skipped_with_the_reason(offline: pytest.Pytester) -> None:
    result = offline.runpytest("--llm-suite=mtbench", "--llm-limit=2", "--llm-model=recorded:gpt-4", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*needs a live judge: the recorded alpaca_eval_gpt4 verdicts are not mtbench's*"])


def test_recorded_mtbench_answers_replay_both_turns_for_a_live_judge(offline: pytest.Pytester) -> None:
    with FakeServer(model="gpt-4", answer=rating) as judge:
        result = offline.runpytest("--llm-suite=mtbench", "--llm-limit=2", "--llm-model=recorded:gpt-4",
                                   "--llm-judge=openai:gpt-4", f"--llm-judge-base-url={judge.base_url}")
    result.assert_outcomes(failed=2)
    second = [h for h in asked(judge) if "### User:" in h.prompt]
    assert len(asked(judge)) == 4 and len(second) == 2
    assert all("### Assistant A:\n" in h.prompt for h in second)
