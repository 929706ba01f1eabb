"""Few-shot prompting: both chat styles, examples that are never evaluated (whatever the limit,
after rows are removed, reordered or duplicated), groups, a separate few-shot split, the
survey's presets (MMLU 5-shot per subject, GSM8K 8-shot chain of thought), and fingerprints
and cache keys that change with the protocol."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval import Benchmark, DatasetError, Message, Request, scorers
from pytest_llmeval.benchmarks import gsm8k, mmlu
from pytest_llmeval.benchmarks.base import Item, content_id
from pytest_llmeval.benchmarks.fewshot import (
    CHAT_STYLES,
    Example,
    FewShot,
    Protocol,
    parse_protocol,
    protocol_label,
    with_examples,
)
from pytest_llmeval.benchmarks.multiple_choice import MultipleChoice, format_options
from pytest_llmeval.cache import request_key

ROWS = [{"question": f"What is {i} plus {i + 1}?", "answer": str(2 * i + 1), "topic": f"t{i % 3}"} for i in range(40)]
PROMPT = "Add the numbers. {question}"


def bench(data: Any = ROWS, **kwargs: Any) -> Benchmark:
    options: dict[str, Any] = {"capability": "arithmetic", "prompt": PROMPT, "target": "answer",
                               "scorer": scorers.number()}
    options.update(kwargs)
    return Benchmark("sums", data=data, **options)


def questions(items: list[Item]) -> set[str]:
    return {item.row["question"] for item in items}


def example_questions(items: list[Item]) -> set[str]:
    """The questions shown as examples in any request of the items (multi-turn)."""
    shown = set()
    for item in items:
        for request in item.requests:
            for message in request.messages[:-1]:
                if message.role == "user":
                    shown.add(message.content.removeprefix("Add the numbers. "))
    return shown


# -- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("system", [None, "You are careful."])
def test_multi_turn_puts_each_example_as_a_user_turn_and_its_answer_as_the_assistant_reply(system: str | None) -> None:
    items = bench(num_fewshot=3, system=system).items()
    by_question = {r["question"]: r for r in ROWS}
    for item in items:
        [request] = item.requests
        messages = list(request.messages)
        if system is not None:
            assert messages.pop(0) == Message("system", system)
        assert [m.role for m in messages] == ["user", "assistant"] * 3 + ["user"]
        assert messages[-1].content == PROMPT.format(question=item.row["question"])
        for user, assistant in zip(messages[:-1:2], messages[1:-1:2], strict=True):
            row = by_question[user.content.removeprefix("Add the numbers. ")]
            assert user.content == PROMPT.format(**row) and assistant.content == row["answer"]
        assert item.protocol == "3-shot (multi-turn)"


@pytest.mark.parametrize("system", [None, "You are careful."])
def test_one_message_puts_the_examples_and_the_question_in_one_user_message(system: str | None) -> None:
    spec = FewShot(style="one-message", answer_prefix="A: ")
    multi = {i.id: i for i in bench(num_fewshot=2, system=system).items()}
    for item in bench(num_fewshot=2, system=system, fewshot=spec).items():
        [request] = item.requests
        messages = list(request.messages)
        if system is not None:
            assert messages.pop(0) == Message("system", system)
        [message] = messages
        turns = multi[item.id].requests[0].messages[-5:]  # the same examples, as multi-turn
        expected = [f"{turns[0].content}\nA: {turns[1].content}", f"{turns[2].content}\nA: {turns[3].content}",
                    turns[4].content]
        assert message == Message("user", "\n\n".join(expected))
        assert item.protocol == "2-shot (one message)"


def test_a_plain_prompt_request_gets_its_examples_as_text_before_it() -> None:
    examples = [Example("Q1", "A1"), Example("Q2", "A2")]
    for style in CHAT_STYLES:
        shown = with_examples(Request(prompt="Q3"), examples, style)
        assert shown.prompt == "Q1\nAnswer: A1\n\nQ2\nAnswer: A2\n\nQ3"


def test_a_conversation_prompt_cannot_take_examples() -> None:
    request = Request(messages=(Message("user", "a"), Message("assistant", "b"), Message("user", "c")))
    with pytest.raises(ValueError, match="one user message"):
        with_examples(request, [Example("Q", "A")], "multi-turn")
    conversation = bench(prompt=lambda row: [Message("user", "a"), Message("assistant", "b"), Message("user", "c")],
                         num_fewshot=1)
    with pytest.raises(DatasetError, match="one user message"):
        conversation.items()


def test_multiple_choice_shows_each_example_with_its_letter_in_both_requests() -> None:
    rows = [{"question": f"Pick {i}", "choices": [f"x{i}", f"y{i}", f"z{i}"], "answer": "ABC"[i % 3]} for i in range(12)]
    choice = MultipleChoice("picks", capability="general", data=rows, target="answer", num_fewshot=2,
                            prompt=lambda row: f"{row['question']}\n{format_options(row['choices'])}")
    by_prompt = {f"{r['question']}\n{format_options(r['choices'])}": r["answer"] for r in rows}
    for item in choice.items():
        likelihood, generate = item.requests
        assert likelihood.kind == "loglikelihood" and likelihood.choices == ("A", "B", "C")
        assert likelihood.messages == generate.messages
        turns = likelihood.messages[:-1]
        assert [turns[i + 1].content for i in range(0, 4, 2)] == [by_prompt[turns[i].content] for i in range(0, 4, 2)]


# -- the pool: never evaluated ------------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, 1, 5, 20, 37, 100])
@pytest.mark.parametrize("shots", [1, 3])
def test_the_pool_is_never_evaluated_whatever_the_limit(limit: int | None, shots: int) -> None:
    full = bench(num_fewshot=shots).items()
    pool = example_questions(full)
    assert len(pool) == shots and not pool & questions(full)
    limited = bench(num_fewshot=shots).items(limit=limit)
    assert example_questions(limited) == pool and not pool & questions(limited)
    assert len(limited) == min(limit or len(ROWS), len(ROWS) - shots)


def test_a_limited_few_shot_run_asks_the_zero_shot_sample_less_the_pool() -> None:
    few = bench(num_fewshot=3)
    pool = example_questions(few.items())
    for limit in (5, 10, 20):
        zero = questions(bench().items(limit=limit))
        limited = questions(few.items(limit=limit))
        # The sample ranks items as zero-shot does: only the pool's rows are passed over.
        assert zero - pool <= limited and len(limited) == limit


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_removing_or_reordering_rows_keeps_the_pool_apart_and_stable(data: st.DataObject) -> None:
    shots = data.draw(st.integers(1, 4))
    rows = [dict(r) for r in ROWS]
    before = example_questions(bench(rows, num_fewshot=shots).items())
    removed = set(data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=10)))
    kept = [r for i, r in enumerate(rows) if i not in removed]
    random.Random(data.draw(st.integers(0, 99))).shuffle(kept)
    items = bench(kept, num_fewshot=shots).items(limit=data.draw(st.none() | st.integers(1, 40)))
    after = example_questions(items)
    assert not after & questions(items)
    removed_questions = {rows[i]["question"] for i in removed}
    if not before & removed_questions:  # no example was removed: the same examples
        assert after == before
    else:  # each removed example is replaced by another row, still never evaluated
        assert before - removed_questions <= after and len(after) == shots


def test_an_item_identical_to_an_example_is_not_evaluated() -> None:
    rows = [dict(r) for r in ROWS] + [dict(r) for r in ROWS[:10]]  # ten rows twice
    items = bench(rows, num_fewshot=4).items()
    pool = example_questions(items)
    assert not pool & questions(items)
    assert len(items) == len(rows) - sum(1 for r in rows if r["question"] in pool)
    assert len({content_id(r) for r in rows if r["question"] in pool}) == 4  # four different examples


def test_each_item_gets_the_examples_of_its_own_group() -> None:
    items = bench(num_fewshot=2, fewshot=FewShot(group="topic")).items()
    topic = {r["question"]: r["topic"] for r in ROWS}
    seen: dict[str, tuple[str, ...]] = {}
    for item in items:
        shown = tuple(m.content for m in item.requests[0].messages[:-1] if m.role == "user")
        assert {topic[q.removeprefix("Add the numbers. ")] for q in shown} == {item.row["topic"]}
        assert seen.setdefault(item.row["topic"], shown) == shown  # the same two for the whole group
    assert len(items) == len(ROWS) - 2 * 3


def test_a_group_too_small_for_the_shots_is_refused_with_the_field() -> None:
    rows = [dict(r) for r in ROWS] + [{"question": "Lonely?", "answer": "1", "topic": "rare"}]
    with pytest.raises(DatasetError, match=r"field 'topic': 2-shot prompting needs 2 different rows with topic = 'rare'"):
        bench(rows, num_fewshot=2, fewshot=FewShot(group="topic")).items()
    with pytest.raises(DatasetError, match="field 'subject'"):
        bench(num_fewshot=2, fewshot=FewShot(group="subject")).items()


def test_examples_come_from_a_separate_split_and_a_row_in_both_is_not_evaluated() -> None:
    split = [{"question": f"Shot {i}?", "answer": str(i), "topic": f"t{i % 3}"} for i in range(6)] + [ROWS[4]]
    drew_the_shared_row = False
    for seed in range(20):
        items = bench(num_fewshot=3, fewshot=FewShot(data=split, seed=seed)).items()
        shown = example_questions(items)
        assert shown <= {r["question"] for r in split} and len(shown) == 3
        assert questions(items) == {r["question"] for r in ROWS} - shown
        drew_the_shared_row |= ROWS[4]["question"] in shown
    assert drew_the_shared_row


def test_a_separate_split_without_rows_of_an_items_group_is_refused() -> None:
    split = [{"question": f"Shot {i}?", "answer": str(i), "topic": f"t{2 * (i % 2)}"} for i in range(6)]  # no t1
    with pytest.raises(DatasetError, match=r"3-shot prompting needs 3 different rows with topic = 't1' .* found 0"):
        bench(num_fewshot=3, fewshot=FewShot(data=split, group="topic")).items()


def test_another_seed_draws_another_pool() -> None:
    pools = {frozenset(example_questions(bench(num_fewshot=3, fewshot=FewShot(seed=seed)).items())) for seed in range(5)}
    assert len(pools) > 1


# -- protocols and identity ---------------------------------------------------------------------


def test_every_request_fingerprint_and_cache_key_changes_with_the_protocol() -> None:
    variants = {
        "zero-shot": bench(),
        "2-shot": bench(num_fewshot=2),
        "3-shot": bench(num_fewshot=3),
        "2-shot one message": bench(num_fewshot=2, fewshot=FewShot(style="one-message")),
        "2-shot other seed": bench(num_fewshot=2, fewshot=FewShot(seed=7)),
    }
    runs = {name: {i.id: i for i in b.items()} for name, b in variants.items()}
    common = set.intersection(*(set(r) for r in runs.values()))
    assert len(common) >= len(ROWS) - 3 - 2 - 2
    backend = {"backend": "script"}
    for item_id in common:
        fingerprints = {runs[name][item_id].fingerprint for name in runs}
        keys = {request_key(backend, runs[name][item_id].requests[0]) for name in runs}
        assert len(fingerprints) == len(keys) == len(runs)


def test_zero_shot_items_claim_no_protocol() -> None:
    assert all(item.protocol is None for item in bench().items())
    assert all(item.protocol is None for item in bench(num_fewshot=3).with_protocol(Protocol(0)).items())


def test_with_protocol_sets_shots_and_style_and_refuses_a_benchmark_without_examples() -> None:
    few = bench(fewshot=FewShot(survey=4))
    assert few.with_protocol(Protocol(None)).num_fewshot == 4
    changed = few.with_protocol(Protocol(2, "one-message"))
    assert (changed.num_fewshot, changed.protocol) == (2, "2-shot (one message)")
    assert (few.num_fewshot, few.protocol) == (0, None)  # the original is untouched
    plain = bench()
    assert plain.with_protocol(Protocol(None)) is plain and plain.with_protocol(Protocol(0)) is plain
    with pytest.raises(ValueError, match="'sums' offers no few-shot examples"):
        plain.with_protocol(Protocol(3))
    assert bench(fewshot=FewShot()).with_protocol(Protocol(None)).num_fewshot == 0  # no published protocol


@pytest.mark.parametrize(("text", "protocol"), [
    ("survey", Protocol(None)), ("zero-shot", Protocol(0)), ("0-shot", Protocol(0)), ("5-shot", Protocol(5)),
    ("8-shot:one-message", Protocol(8, "one-message")), (" Survey:Multi-Turn ", Protocol(None, "multi-turn")),
])
def test_protocols_parse(text: str, protocol: Protocol) -> None:
    assert parse_protocol(text) == protocol
    assert parse_protocol(str(protocol)) == protocol


@pytest.mark.parametrize("text", ["five-shot", "5shot", "5-shot:chat", "", "-1-shot", "survey:", "5-shot:one-message:x"])
def test_bad_protocols_say_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="expected zero-shot, K-shot"):
        parse_protocol(text)


def test_labels() -> None:
    assert protocol_label(0, True, "multi-turn") is None
    assert protocol_label(8, True, "multi-turn") == "8-shot chain of thought (multi-turn)"
    assert protocol_label(5, False, "one-message") == "5-shot (one message)"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_num_fewshot_must_be_a_whole_number(bad: Any) -> None:
    with pytest.raises(ValueError, match="num_fewshot must be a whole number"):
        bench(num_fewshot=bad)


def test_fewshot_style_is_checked() -> None:
    with pytest.raises(ValueError, match="multi-turn, one-message"):
        FewShot(style="chat")  # type: ignore[arg-type]


# -- the survey's presets -------------------------------------------------------------------------


def test_gsm8k_survey_is_8_shot_chain_of_thought_with_reference_solutions() -> None:
    zero = gsm8k.benchmarks()[0]
    survey = zero.with_protocol(Protocol(None))
    items = survey.items()
    rows = {r["question"]: r for r in zero.rows()}
    assert len(items) == len(rows) - 8
    [first] = {item.requests[0].messages[:-1] for item in items}  # the same eight for every problem
    assert [m.role for m in first] == ["user", "assistant"] * 8
    for user, assistant in zip(first[::2], first[1::2], strict=True):
        row = rows[user.content.split("\n\n", 1)[1]]
        assert user.content == gsm8k.PROMPT.format(**row)
        assert "<<" not in assistant.content and ">>" not in assistant.content
        assert assistant.content.splitlines()[-1] == "#### " + row["answer"].rsplit("####", 1)[1].strip()
        assert re.sub(r"<<[^>]*>>", "", row["answer"]) == assistant.content
    assert not {user.content for user in first[::2]} & {item.requests[0].messages[-1].content for item in items}
    assert {item.protocol for item in items} == {"8-shot chain of thought (multi-turn)"}


def test_mmlu_survey_is_5_shot_from_each_subjects_own_questions() -> None:
    survey = mmlu.benchmarks()[0].with_protocol(Protocol(None))
    items = survey.items()
    asked = {item.requests[0].messages[-1].content for item in items}
    subjects: dict[str, set[tuple[Message, ...]]] = {}
    for item in items:
        likelihood, generate = item.requests
        assert likelihood.messages == generate.messages
        turns = likelihood.messages[:-1]
        assert [m.role for m in turns] == ["user", "assistant"] * 5
        header = f"about {item.row['subject'].replace('_', ' ')}.\n"
        assert all(header in m.content for m in turns[::2])
        assert all(m.content in "ABCD" and len(m.content) == 1 for m in turns[1::2])
        assert not {m.content for m in turns[::2]} & asked
        subjects.setdefault(item.row["subject"], set()).add(turns)
    assert len(subjects) == 57 and all(len(shown) == 1 for shown in subjects.values())
    assert 14042 - len(items) >= 57 * 5
    assert {item.protocol for item in items} == {"5-shot (multi-turn)"}
