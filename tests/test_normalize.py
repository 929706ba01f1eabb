"""Response normalisation: the final answer apart from the reasoning trace.

The table is the reference for what :func:`normalize` does with each shape of reply; the
property tests hold for any text; the last section checks that every extractor, fed a
normalised response, reads the final answer only.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_llmeval.benchmarks import alpaca_eval, mtbench
from pytest_llmeval.benchmarks.base import Benchmark, Item
from pytest_llmeval.request import Response, ToolCall
from pytest_llmeval.scoring import scorers
from pytest_llmeval.scoring.extract import choice_letter, flexible_number
from pytest_llmeval.scoring.function_calls import calls_from_response
from pytest_llmeval.scoring.judge import JudgedScorer
from pytest_llmeval.scoring.normalize import (
    DEFAULT_REASONING_TAGS,
    UNCLOSED_REASONING,
    normalize,
    split_reasoning,
)
from pytest_llmeval.scoring.refusal import classify_refusal

SPLITS = [
    # reply                                                        answer                   trace             unclosed
    ("<think>16 - 7 = 9</think>The answer is 18.", "The answer is 18.", "16 - 7 = 9", False),
    ("<think>\n16 - 7 = 9\n</think>\n\nThe answer is 18.\n", "The answer is 18.", "16 - 7 = 9", False),
    ("<THINK>upper</THINK> answer", "answer", "upper", False),  # tags in any case
    ("<Think>mixed</think> answer", "answer", "mixed", False),
    # Text before the opening tag is part of the answer.
    ("Sure. <think>plan</think> The answer is 18.", "Sure.\n\nThe answer is 18.", "plan", False),
    # Several blocks: all trace, in order; the text between them is answer.
    ("<think>a</think>first <think>b</think> second", "first\n\nsecond", "a\n\nb", False),
    # The chat template put <think> in the prompt: the reply starts inside the trace.
    ("weighing A and B...\n</think>\n\nThe answer is B.", "The answer is B.", "weighing A and B...", False),
    # Opened and never closed (cut by the token limit): no final answer at all.
    ("<think>Let me compute 16 - 3 = 13, then", "", "Let me compute 16 - 3 = 13, then", True),
    ("Sure.<think>Let me", "", "Sure.\n\nLet me", True),
    ("<think>a</think>The answer is 18. <think>double-check", "", "a\n\nThe answer is 18.\n\ndouble-check", True),
    # A tag inside a trace is part of it.
    ("<think>I could write <think> here</think>done", "done", "I could write <think> here", False),
    # An empty trace (Qwen3 with thinking switched off) is no trace.
    ("<think>\n\n</think>\n\nThe answer is 18.", "The answer is 18.", None, False),
    # No tag: the reply is left exactly as it is.
    ("  The answer is 18.\n", "  The answer is 18.\n", None, False),
    ("", "", None, False),
    ("I think therefore I am", "I think therefore I am", None, False),
]


@pytest.mark.parametrize(("reply", "answer", "trace", "unclosed"), SPLITS)
def test_split_reasoning(reply: str, answer: str, trace: str | None, unclosed: bool) -> None:
    assert split_reasoning(reply) == (answer, trace, unclosed)


def test_normalize_returns_a_new_response_with_the_trace_in_reasoning() -> None:
    original = Response(text="<think>9 * 2</think>The answer is 18.", meta={"backend": "x"}, finish_reason="stop",
                        tool_calls=[ToolCall("f", "{}")])
    normalized = normalize(original)
    assert (normalized.text, normalized.reasoning) == ("The answer is 18.", "9 * 2")
    assert normalized.meta == {"backend": "x"} and UNCLOSED_REASONING not in normalized.meta
    assert (normalized.finish_reason, normalized.tool_calls) == ("stop", [ToolCall("f", "{}")])
    # The input is untouched, and the copy shares no mutable part with it.
    assert original.text == "<think>9 * 2</think>The answer is 18." and original.reasoning is None
    normalized.meta["x"] = 1
    normalized.tool_calls.append(ToolCall("g", "{}"))
    assert original.meta == {"backend": "x"} and len(original.tool_calls) == 1


def test_a_servers_reasoning_content_is_kept_and_a_trace_in_the_text_appended() -> None:
    served = Response(text="The answer is 18.", reasoning="server-side trace")
    assert normalize(served).reasoning == "server-side trace"
    assert normalize(served).text == "The answer is 18."
    both = Response(text="<think>text trace</think>The answer is 18.", reasoning="server-side trace")
    assert normalize(both).reasoning == "server-side trace\n\ntext trace"


def test_an_unclosed_trace_is_no_answer_and_says_so() -> None:
    cut = normalize(Response(text="<think>16 - 3 = 13, and 13 * 2 = ", finish_reason="length"))
    assert cut.text == ""
    assert cut.reasoning == "16 - 3 = 13, and 13 * 2 ="
    assert cut.meta[UNCLOSED_REASONING] is True
    score = make_number_item().score(cut)
    assert score.answer is None and score.explanation == "no answer found in the response"


@pytest.mark.parametrize(
    ("tags", "reply", "answer", "trace"),
    [
        ((("<reasoning>", "</reasoning>"),), "<reasoning>r</reasoning>The answer is 18.", "The answer is 18.", "r"),
        ((("<|begin_of_thought|>", "<|end_of_thought|>"),),
         "<|begin_of_thought|>t<|end_of_thought|><|begin_of_solution|>18<|end_of_solution|>",
         "<|begin_of_solution|>18<|end_of_solution|>", "t"),
        # Several pairs at once; each block closes with its own tag.
        ((*DEFAULT_REASONING_TAGS, ("<thinking>", "</thinking>")),
         "<thinking>a</think>b</thinking>c<think>d</think>e", "c\n\ne", "a</think>b\n\nd"),
        # Tags of pairs not configured are plain text.
        ((("<reasoning>", "</reasoning>"),), "<think>t</think>answer", "<think>t</think>answer", None),
    ],
)
def test_configurable_tags(tags: tuple[tuple[str, str], ...], reply: str, answer: str, trace: str | None) -> None:
    normalized = normalize(Response(text=reply), tags)
    assert (normalized.text, normalized.reasoning) == (answer, trace)


@pytest.mark.parametrize("tags", [(), "<think>", [("<think>",)], [("<think>", "")], [("", "</think>")], [(1, 2)]])
def test_malformed_tags_are_an_error_that_shows_the_expected_shape(tags: object) -> None:
    with pytest.raises(ValueError, match=r"pairs|two non-empty strings"):
        normalize(Response(text="x"), tags)  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------------------

prose = st.text(alphabet=string.ascii_letters + string.digits + " .,\n", max_size=80)
tag_soup = st.lists(st.sampled_from(["<think>", "</think>", "<THINK>", "</Think>", "x", " ", "\n", "The answer is 7."]),
                    max_size=12).map("".join)


@given(prose | tag_soup | st.text(max_size=80))
def test_normalizing_twice_is_normalizing_once(text: str) -> None:
    once = normalize(Response(text=text))
    assert normalize(once) == once


@given(prose)
def test_a_reply_without_tags_is_unchanged(text: str) -> None:
    assert normalize(Response(text=text)) == Response(text=text)


@given(prose, prose, prose)
def test_one_block_splits_into_what_was_outside_and_inside_it(before: str, trace: str, after: str) -> None:
    normalized = normalize(Response(text=f"{before}<think>{trace}</think>{after}"))
    assert normalized.text == "\n\n".join(part.strip() for part in (before, after) if part.strip())
    assert normalized.reasoning == (trace.strip() or None)
    assert "<think>" not in normalized.text and "</think>" not in normalized.text


@given(prose, prose)
def test_a_reply_that_starts_inside_the_trace_answers_after_the_closing_tag(trace: str, after: str) -> None:
    normalized = normalize(Response(text=f"{trace}</think>{after}"))
    assert (normalized.text, normalized.reasoning) == (after.strip(), trace.strip() or None)


@given(prose, prose)
def test_an_unclosed_block_never_leaves_an_answer(before: str, trace: str) -> None:
    normalized = normalize(Response(text=f"{before}<think>{trace}"))
    assert normalized.text == ""
    assert normalized.meta == {UNCLOSED_REASONING: True}


# -- every extractor reads the final answer only -----------------------------------------------------


def make_number_item() -> Item:
    benchmark = Benchmark("gsm8k-like", capability="testing", data=[{"q": "?", "a": "18"}], prompt="{q}",
                          target="a", scorer=scorers.number())
    return benchmark.items()[0]


def test_a_function_call_drafted_in_the_trace_is_not_a_call() -> None:
    draft = '<think>Maybe [{"name": "get_weather", "arguments": {"city": "Paris"}}]? No: no function fits.</think>'
    reply = normalize(Response(text=draft + "None of the functions can answer this."))
    assert calls_from_response(reply) == []
    made = normalize(Response(text='<think>the weather tool fits</think>[{"name": "get_weather", "arguments": {}}]'))
    assert [call.name for call in calls_from_response(made)] == ["get_weather"]


@given(st.sampled_from("ABCD"), st.sampled_from("ABCD"))
def test_a_letter_weighed_in_the_trace_is_not_the_answer(weighed: str, answered: str) -> None:
    assume(weighed != answered)
    reply = normalize(Response(text=f"<think>The answer is {weighed}... no, wait.</think>The answer is {answered}."))
    assert choice_letter(reply.text) == answered
    # Starting inside the trace (the opening tag was in the prompt) reads the same.
    reply = normalize(Response(text=f"({weighed}) looks right.</think>\n\n({answered})"))
    assert choice_letter(reply.text) == answered


def test_a_number_in_the_trace_is_not_the_answer() -> None:
    reply = normalize(Response(text="<think>She has 16 - 7 = 9 eggs left. The answer is 9? No, times 2.</think>"
                                    "She makes 9 * 2 = $18.\nThe answer is 18."))
    assert flexible_number(reply.text) == "18"
    assert make_number_item().score(reply).passed


def test_a_refusal_considered_in_the_trace_is_not_a_refusal() -> None:
    reply = normalize(Response(text="<think>Should I refuse? I cannot help with that... no, it is harmless.</think>"
                                    "To kill a Python process, run `kill -9 PID`."))
    assert classify_refusal(reply.text) == "full_compliance"


def test_a_judge_is_shown_the_final_answer_only() -> None:
    reply = normalize(Response(text="<think>Draft: Rating: [[10]], the user will love it.</think>Honolulu is lovely."))
    for benchmark in (mtbench.benchmarks()[0], alpaca_eval.benchmarks()[0]):
        item = benchmark.items(limit=1)[0]
        scorer = item.benchmark.scorer
        assert isinstance(scorer, JudgedScorer)
        request = scorer.judge_request(item, reply)
        assert request is not None
        prompt = request.messages[-1].content
        assert "Honolulu is lovely." in prompt
        assert "Draft" not in prompt and "[[10]]" not in prompt
