"""HaluEval (general): the items, HaluEval's judgement prompt and its reading of the verdict,
and scoring against the human labels."""

from __future__ import annotations

from collections import Counter

import pytest

from pytest_llmeval.benchmarks.halueval import HaluEvalGeneral, judge_prompt, read_judgement
from pytest_llmeval.request import Response


@pytest.fixture(scope="module")
def items() -> list:
    return HaluEvalGeneral().items()


def test_items_subsets_and_ids(items: list) -> None:
    assert len(items) == 4507
    assert Counter((i.subset, i.target) for i in items) == {("hallucinated", "Yes"): 815,
                                                             ("not-hallucinated", "No"): 3692}
    assert len({i.id for i in items}) == 4507
    assert items[0].id == "id-1" and items[0].capability == "hallucination"
    assert sum(not i.id.split("-", 1)[1].isdigit() for i in items) == 3  # rows without a numeric ID upstream


def test_the_prompt_shows_the_query_and_chatgpt_s_reply_and_asks_for_yes_or_no(items: list) -> None:
    system, user = (m.content for m in items[1].requests[0].messages)
    assert system == judge_prompt()[0] and system.endswith('The answer you give MUST be "Yes" or "No"')
    assert "#User Query#: Provide a few examples of homophones.\n#Response#: 1. allowed (permitted)" in user
    assert user.endswith("#Your Judgement#: ")
    assert items[1].requests[0].max_tokens == 64


@pytest.mark.parametrize(("reply", "judgement"), [
    ("Yes", "Yes"), ("Yes.", "Yes"), ("No.", "No"), ("No, it is accurate.", "No"),
    ("Yes and No", None), ("I cannot tell.", None), ("yes", None),  # case-sensitive, as HaluEval reads it
])
def test_the_judgement_is_read_as_halueval_reads_it(reply: str, judgement: str | None) -> None:
    assert read_judgement(reply) == judgement


def test_scoring_against_the_human_label(items: list) -> None:
    hallucinated = next(i for i in items if i.target == "Yes")
    assert hallucinated.score(Response(text="Yes.")).passed
    score = hallucinated.score(Response(text="No"))
    assert not score.passed and score.explanation.startswith("annotated hallucination: ")
    unread = hallucinated.score(Response(text="Hard to say."))
    assert unread.answer is None  # nothing extracted: counted "without an answer", not "wrong"
    assert unread.explanation.startswith("no judgement: the reply holds both or neither of Yes/No; annotated ")
    # Most replies are labelled "No": always answering "No" scores the majority share, 81.9%.
    always_no = [i.score(Response(text="No")).passed for i in items]
    assert sum(always_no) == 3692
