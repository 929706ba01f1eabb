"""GSM8K answer extraction on real replies: one test per kind of misreading found on them.

``perf/gsm8k_extraction_agreement.py`` scores every recorded GPT-4 and GPT-3.5-turbo reply to
the 1,319 GSM8K test questions and lists each one on which our verdict differs from the
recording's own or from lm-evaluation-harness's; reading them showed the kinds of mistake
below. Each kind has its real replies (quoted unchanged, with file and item) and a property
test over made-up replies of the same shape, so the rule holds for the kind, not for the
instance. docs/benchmarks-reasoning-context.md has the figures.

The replies are model outputs recorded by Faithful-CoT (Lyu et al. 2023, MIT licence,
``veronica320/Faithful-COT``) and Re-Reading (Xu et al., Apache-2.0,
``Tebmer/Rereading-LLM-Reasoning``); see ``shared/data/recorded/gsm8k/SOURCE.md``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_llmeval.scoring.extract import flexible_number

# (file, item, gold, reply, what we read): every reply is quoted exactly as recorded.
REPLIES = [
    # A conclusion without an equation restates the question's givens after its result: the
    # number an equation computed is the answer, not the "1 week" or "6 hours" after it.
    ("rereading_gpt-3.5-turbo_baseline:vanilla", "test-0070", "7425",
     "Judy teaches 5 dance classes every day on the weekdays, which means she teaches 5 classes x 5 days = "
     "<<5*5=25>>25 classes in total on the weekdays.\nShe also teaches 8 classes on Saturday.\nSo, she teaches a "
     "total of 25 classes + 8 classes = <<25+8=33>>33 classes in 1 week.\nIf each class has 15 students, then she "
     "teaches a total of 33 classes x 15 students = <<33*15=495>>495 students in 1 week.\nSince she charges $15.00 "
     "per student, she makes a total of 495 students x $15.00 = $<<495*15=7425.00>>7425.00 in 1 week.\n\n"
     "Therefore, Judy makes $7425.00 in 1 week.", "7425"),
    ("rereading_gpt-3.5-turbo_baseline:cot", "test-0605", "42",
     "For two hours, he earned $6.00/hour * 2 hours = $<<6*2=12>>12.\n\nFinally, let's calculate the total earnings "
     "from selling lemonade for 6 hours. Patrick earned $30 for the first four hours and $12 for the next two hours."
     "\n\nIn total, he earned $30 + $12 = $<<30+12=42>>42 from selling lemonade for 6 hours.\n\nTherefore, Patrick "
     "earned $42 from selling lemonade for 6 hours.", "42"),
    ("faithful-cot_gpt4_COT", "test-0616", "10",
     "After the first week, it was 3 inches tall. In the second week, it doubled in height, so it was 3 * 2 = 6 "
     "inches tall. In the third week, it grew another 4 inches, so it was 6 + 4 = 10 inches tall. The beanstalk was "
     "10 inches tall after 3 weeks.", "10"),
    ("faithful-cot_gpt4_COT", "test-0181", "160",
     "Sandra ordered 200 pink calla lilies, which were five times the number of white carnations. So, she ordered "
     "200 / 5 = 40 white carnations. Sandra ordered four times as many red roses as white carnations, so she ordered "
     "4 * 40 = 160 red roses. Fred must deliver 160 red roses by 5 pm to keep Sandra's business.", "160"),
    # ... and a given in a phrase such as "in 48 hours" gives way when nothing was computed.
    ("faithful-cot_gpt4_standard", "test-0709", "3000",
     "In 48 hours, the factory can make 2400 quarts of chocolate ice cream (48 hours / 2 hours * 100 quarts) and 600 "
     "quarts of vanilla ice cream (48 hours / 4 hours * 50 quarts). In total, the factory would make 3000 quarts of "
     "ice cream in 48 hours.", "3000"),
    # A number first written in the conclusion is its result, even when it was worked out in words.
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0291", "2",
     "Each adult will get 6 chocolate bars, which is a total of 24 chocolate bars for all 4 adults. This leaves 8 "
     "packets x 5 chocolate bars per packet - 24 chocolate bars = 16 chocolate bars for the children to share. \n\n"
     "Dividing 16 chocolate bars equally among 8 children gives each child 2 chocolate bars.", "2"),
    # The working in brackets after a result is not the result.
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0600", "10",
     "The weight that he increased to is 12 pounds (8 + 50% of 8 = 12). The weight he uses now is 10 pounds (12 - 2).",
     "10"),
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0366", "9",
     "The minimum number of points Jane must score on the third test to pass is 9. (15 + 18 + 9 = 42)", "9"),
    ("faithful-cot_gpt4_standard", "test-0710", "45",
     "The total cost of the croissants is $15 (5 x $3.00), the cinnamon rolls is $10 (4 x $2.50), the mini quiches is "
     "$12 (3 x $4.00), and the blueberry muffins is $13 (13 x $1.00). The total cost before the discount is $50 ($15 + "
     "$10 + $12 + $13). The 10% discount is $5 ($50 x 0.10). Marcus' total bill is $45 ($50 - $5).", "45"),
    # ... so a reply whose working contradicts its statement reads as it states (the item is wrong).
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0889", "15",
     "The daisies have 30 more petals than the orchids. (4 daisies x 10 petals = 40 petals; 5 orchids x 5 petals = 25 "
     "petals; 40 petals - 25 petals = 15 petals more; 15 petals \u00f7 1 petal/daisy = 15 daisy petals more than each "
     "orchid)", "30"),
    # An ordinal names a position, not a quantity.
    ("faithful-cot_gpt4_COT", "test-1244", "35",
     "Now we need to find out how many more questions Audrey needs to answer correctly on the second test: 77 questions "
     "- 42 questions = 35 questions.\nSo, Audrey needs to answer 35 questions correctly on the second test to move onto "
     "the 7th grade.", "35"),
    # A clock time reads as its hour, never as its "00".
    ("faithful-cot_gpt4_standard", "test-1001", "2", "The latest time of day that Jordan can start making the cake is "
     "2:00 pm.", "2"),
    ("rereading_gpt-3.5-turbo_baseline:cot", "test-1001", "2",
     "If we subtract 180 minutes from 5:00 pm, we get 5:00 pm - 180 minutes = 2:00 pm.\n\nTherefore, the latest time "
     "Jordan can start making the cake is 2:00 pm.\n\nAnswer: \\boxed{2:00 \\, \\text{pm}}.", "2"),
    # A stated answer that is a calculation is its result.
    ("faithful-cot_gpt-3.5-turbo_standard", "test-1172", "93", "The answer is 3 + 6 + 12 + 24 + 48 = 93 clouds.", "93"),
    # The same quantity restated in another unit: the restatement (the unit the question asks for).
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0853", "15", "The answer is 900 minutes or 15 hours.", "15"),
    ("faithful-cot_gpt-3.5-turbo_COT", "test-1288", "34",
     "In 4 weeks, she spends 510 x 4 = 2040 minutes or 34 hours on meditation and yoga practice. The answer is 2040 "
     "minutes or 34 hours.", "34"),
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0228", "1",
     "So their combined rate is 6 pieces per minute. To complete the 360 piece puzzle, it will take them 360/6 = 60 "
     "minutes or 1 hour.", "1"),
    ("faithful-cot_gpt4_COT", "test-0493", "25",
     "There are 4 razors in each pack, so in total, there are 4 * 2 = 8 razors. The cost per razor is $2.00 / 8 = "
     "$0.25, which is equal to 25 cents.", "25"),
    # ... but not a different quantity.
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0639", "216", "The answer is 216 seconds or 3 minutes and 36 seconds.",
     "216"),
    # A stated answer stands even when the explanation after it ends elsewhere: the reply
    # contradicts itself and its answer is wrong (lm-eval's last number credits it).
    ("faithful-cot_gpt-3.5-turbo_standard", "test-0060", "17",
     "The answer is 18. \n\nTo find out, first calculate the number of oranges that are not good: \n- 1 is bad \n- 20% "
     "of 25 (or 0.2 x 25) are unripe, which is 5 \n- 2 are sour \n\nSo the total number of oranges that are not good is "
     "1 + 5 + 2 = 8. \n\nTo find out how many oranges are good, subtract the number of oranges that are not good from "
     "the total number of oranges: \n25 - 8 = 17 \n\nTherefore, there are 17 oranges that are good.", "18"),
]


@pytest.mark.parametrize(("source", "item", "gold", "reply", "read"), REPLIES, ids=[f"{s}:{i}" for s, i, *_ in REPLIES])
def test_recorded_reply(source: str, item: str, gold: str, reply: str, read: str) -> None:
    assert flexible_number(reply) == read


# -- the same kinds, over made-up replies of their shape ---------------------------------------------

small = st.integers(min_value=2, max_value=60)
large = st.integers(min_value=100, max_value=100_000)
units = st.sampled_from(["hours", "days", "weeks", "months", "years"])
phrases = st.sampled_from(["in {} {}", "for {} {}", "after {} {}", "over {} {}", "within {} {}"])


@given(small, small, small, units, phrases)
def test_a_conclusion_reads_the_computed_result_not_the_restated_given(a: int, b: int, span: int, unit: str,
                                                                        phrase: str) -> None:
    result = a * b
    assume(len({a, b, span, result}) == 4)
    given_phrase = phrase.format(span, unit)
    reply = (f"She works {given_phrase}. Each time she earns {a} dollars for {b} tasks, so a * b is {a} * {b} = "
             f"{result} dollars.\n\nTherefore, she earns ${result} {given_phrase}.")
    assert flexible_number(reply) == str(result)


@given(large, small, units, phrases)
def test_a_given_in_a_phrase_gives_way_to_the_result_before_it(result: int, span: int, unit: str, phrase: str) -> None:
    assume(result != span)
    given_phrase = phrase.format(span, unit)
    assert flexible_number(f"The factory runs {given_phrase}. In total, it makes {result} toys {given_phrase}.") == str(result)


@given(small, small, small)
def test_a_new_number_in_the_conclusion_is_its_result(total: int, people: int, share: int) -> None:
    assume(len({total, people, share, 100 - total}) == 4)  # the share is written here first
    reply = (f"This leaves 100 - {100 - total} = {total} bars.\n\nDividing {total} bars among {people} children "
             f"gives each child {share} bars.")
    assert flexible_number(reply) == str(share)


@given(large, small, small, st.sampled_from(["-", "+", "x", "/"]))
def test_bracketed_working_after_a_result_is_not_the_result(result: int, a: int, b: int, operator: str) -> None:
    assume(result not in (a, b))
    assert flexible_number(f"The total bill is ${result} (${a} {operator} ${b}).") == str(result)
    assert flexible_number(f"She must score {result}. ({a} {operator} {b} = {a + b + result})") == str(result)


@given(large, st.integers(min_value=1, max_value=99))
def test_an_ordinal_is_not_the_quantity(result: int, position: int) -> None:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(position % 10 if position % 100 not in (11, 12, 13) else 0, "th")
    assert flexible_number(f"She needs {result} points to reach the {position}{suffix} place.") == str(result)


@given(st.integers(min_value=1, max_value=12), st.sampled_from(["am", "pm", "a.m.", "p.m.", ""]))
def test_a_clock_time_reads_as_its_hour(hour: int, meridiem: str) -> None:
    assert flexible_number(f"The latest she can start is {hour}:00 {meridiem}".strip() + ".") == str(hour)


@given(st.lists(small, min_size=2, max_size=6), st.sampled_from(["+", "*"]))
def test_a_stated_calculation_reads_as_its_result(terms: list[int], operator: str) -> None:
    result = sum(terms) if operator == "+" else math.prod(terms)
    expression = f" {operator} ".join(map(str, terms))
    assert flexible_number(f"The answer is {expression} = {result} apples.") == str(result)


RESTATEMENTS = [
    # (first unit, its size in the second unit, second unit)
    ("minutes", 60, "hours"), ("seconds", 60, "minutes"), ("hours", 24, "days"), ("days", 7, "weeks"),
    ("cents", 100, "dollars"), ("inches", 12, "feet"), ("ounces", 16, "pounds"),
]


@pytest.mark.parametrize(("small_unit", "ratio", "big_unit"), RESTATEMENTS)
@pytest.mark.parametrize("joint", [" or ", ", or ", ", which is ", ", which is equal to ", " ("])
def test_a_quantity_restated_in_another_unit_reads_in_the_last_one(small_unit: str, ratio: int, big_unit: str,
                                                                  joint: str) -> None:
    for amount in (1, 3, 34):
        said = f"{amount * ratio} {small_unit}{joint}{amount} {big_unit}"
        assert flexible_number(f"The answer is {said}.") == str(amount)
        assert flexible_number(f"So it comes to {amount} * {ratio} = {said}.") == str(amount)
        # Not the same quantity: the first figure stands.
        assert flexible_number(f"The answer is {amount * ratio + 1} {small_unit}{joint}{amount} {big_unit}.") == \
            str(amount * ratio + 1)
