"""Function-call parsing and matching, proven on every shipped BFCL possible answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmeval.benchmarks import bfcl
from pytest_llmeval.request import Response, ToolCall
from pytest_llmeval.scoring.function_calls import (
    FunctionCall,
    calls_from_response,
    calls_from_text,
    function_call_scorer,
    match_calls,
    render_expected,
)

WEATHER_DOC = {
    "name": "weather.get",
    "description": "Current weather",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "scale": {"type": "float"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "detailed": {"type": "boolean"},
            "coords": {"type": "array", "items": {"type": "float"}},
        },
        "required": ["city"],
    },
}
WEATHER_ANSWER = [{"weather.get": {"city": ["Paris", "Paris, France"], "days": [3], "scale": [1.0, ""],
                                   "unit": ["", "celsius"], "detailed": ["", False]}}]


def call(name: str = "weather.get", **arguments: Any) -> FunctionCall:
    return FunctionCall(name, arguments)


# -- parsing ---------------------------------------------------------------------------------

PARSE_CASES = [
    ('[{"name": "f", "arguments": {"a": 1}}]', [call("f", a=1)]),
    ('Sure!\n```json\n[{"name": "f", "arguments": {"a": 1}}]\n```', [call("f", a=1)]),
    ('{"name": "f", "arguments": {"a": "x"}}', [call("f", a="x")]),
    ('{"name": "f", "parameters": {"a": 1}}', [call("f", a=1)]),
    ('{"name": "f", "arguments": "{\\"a\\": 2}"}', [call("f", a=2)]),
    ('{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}', [call("f", a=1)]),
    ('{"tool_calls": [{"name": "f", "arguments": {}}, {"name": "g", "arguments": {"b": [1, 2]}}]}',
     [call("f"), call("g", b=[1, 2])]),
    ('{"name": "f", "arguments": {"a": 1}}\n{"name": "f", "arguments": {"a": 2}}', [call("f", a=1), call("f", a=2)]),
    ('[math.factorial(number=5), g(x="y", t=(1, 2))]', [call("math.factorial", number=5), call("g", x="y", t=[1, 2])]),
    ("```python\nweather.get(city='Paris')\n```", [call(city="Paris")]),
    ("None of these functions can compute a BMI; the formula is weight / height**2.", []),
    ("[]", []),
    ('{"name": "Ada", "age": 36}', []),  # data, not a call
    ("[1, 2, 3]", []),
    ("print(x)", []),  # positional arguments are not the call format
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_calls_from_text(text: str, expected: list[FunctionCall]) -> None:
    assert calls_from_text(text) == expected


def test_tool_calls_win_over_text_and_bad_json_is_kept_as_unreadable() -> None:
    response = Response(text='[{"name": "g", "arguments": {}}]',
                        tool_calls=[ToolCall("f", '{"a": 1}'), ToolCall("h", "{not json"), ToolCall("k", "")])
    assert calls_from_response(response) == [call("f", a=1), FunctionCall("h", None), call("k")]
    ok, reason = match_calls([FunctionCall("f", None)], [{"f": {}}])
    assert not ok and "not a JSON object" in reason


# -- matching semantics -------------------------------------------------------------------------

MATCH_CASES = [
    # (calls, expect pass, reason fragment)
    ([call(city="Paris", days=3)], True, "match"),
    ([call(city="paris, france", days=3)], True, "match"),  # case, spaces and punctuation ignored
    ([call(city="Paris", days=3, scale=1)], True, "match"),  # an int where a float is declared
    ([call(city="Paris", days=3, unit="celsius", detailed=False)], True, "match"),
    ([call("weather_get", city="Paris", days=3)], True, "match"),  # tools-API spelling of the name
    ([call(city="Paris", days=3.0)], False, "not of type integer"),
    ([call(city="Paris", days=True)], False, "not of type integer"),
    ([call(city="Paris", days=3, detailed=0)], False, "not of type boolean"),
    ([call(city="London", days=3)], False, "not one of the accepted values"),
    ([call(city="Paris", days=4)], False, "not one of the accepted values"),
    ([call(city="Paris", days=3, unit="kelvin")], False, "not one of the accepted values"),
    ([call(city="Paris")], False, "missing parameter 'days'"),
    ([call(days=3)], False, "missing required parameter 'city'"),
    ([call(city="Paris", days=3, colour="red")], False, "unexpected parameter 'colour'"),
    ([call("weather.set", city="Paris", days=3)], False, "called weather.set"),
    ([], False, "made none"),
    ([call(city="Paris", days=3), call(city="Paris", days=3)], False, "expected 1 call(s), the model made 2"),
]


@pytest.mark.parametrize(("calls", "passes", "reason"), MATCH_CASES)
def test_match_calls_semantics(calls: list[FunctionCall], passes: bool, reason: str) -> None:
    ok, why = match_calls(calls, WEATHER_ANSWER, [WEATHER_DOC])
    assert ok is passes
    assert reason in why


def test_parallel_calls_match_in_any_order_and_each_expected_call_needs_its_own() -> None:
    answer = [{"f": {"x": [1]}}, {"f": {"x": [2, 1]}}]
    assert match_calls([call("f", x=2), call("f", x=1)], answer)[0]
    # x=1 fits both expected calls, x=2 only the second: a greedy first-fit pairing would
    # fail here, a full matching does not.
    assert match_calls([call("f", x=1), call("f", x=2)], answer)[0]
    ok, reason = match_calls([call("f", x=1), call("f", x=1)], [{"f": {"x": [1]}}, {"f": {"x": [2]}}])
    assert not ok and "expected call 2" in reason


def test_irrelevance_passes_only_without_calls() -> None:
    assert match_calls([], []) == (True, "no call, as none of the functions fits")
    ok, reason = match_calls([call("f")], [])
    assert not ok and "called f" in reason


def test_nested_dicts_and_lists_of_dicts() -> None:
    answer = [{"q": {"conditions": [[{"field": ["age"], "op": [">"], "note": ["", "x"]},
                                     {"field": ["job"], "op": ["="]}]],
                     "filter": [{"name": ["Ann"], "age": ["", 30]}]}}]
    good = call("q", conditions=[{"field": "age", "op": ">"}, {"field": "Job", "op": "="}], filter={"name": "ann"})
    assert match_calls([good], answer)[0]
    assert not match_calls([call("q", conditions=[{"field": "age", "op": ">"}], filter={"name": "ann"})], answer)[0]
    assert not match_calls([call("q", conditions=good.arguments["conditions"], filter={"name": "ann", "x": 1})],  # type: ignore[index]
                           answer)[0]


def test_scorer_reports_calls_and_expected() -> None:
    item = _FakeItem(target=WEATHER_ANSWER, row={"function": [WEATHER_DOC]})
    score = function_call_scorer()(item, Response(text='[{"name": "weather.get", "arguments": {"city": "Rome"}}]'))  # type: ignore[arg-type]
    assert not score.passed
    assert score.answer == "weather.get(city='Rome')"
    assert score.expected.startswith("weather.get(city='Paris'|'Paris, France', days=3, scale=1.0|omitted")
    assert "parameter 'city'" in score.explanation
    irrelevant = _FakeItem(target=[], row={"function": [WEATHER_DOC]})
    assert function_call_scorer()(irrelevant, Response(text="I cannot help with that.")).passed  # type: ignore[arg-type]
    assert render_expected([]) == "no call"


class _FakeItem:
    def __init__(self, target: Any, row: dict[str, Any]) -> None:
        self.target = target
        self.row = row


# -- proof on the shipped BFCL data ---------------------------------------------------------------

ROWS = bfcl.load_items()
ANSWERED = [row for row in ROWS if row["ground_truth"]]


def render(accepted: Any) -> Any:
    """A concrete value from one accepted value: nested possible-answer dicts take their
    first accepted value per key, leaving out keys whose first value is "" (optional)."""
    if isinstance(accepted, dict):
        return {k: render(v[0]) for k, v in accepted.items() if v and v[0] != ""}
    if isinstance(accepted, list):
        return [render(v) for v in accepted]
    return accepted


def ground_truth_calls(row: dict[str, Any], adjusted: set[str] | None = None) -> list[FunctionCall]:
    """Each expected call with the first accepted value of each parameter ("" = left out).

    Two possible answers disagree with their own function documents, and BFCL's checker
    (like ours) goes by the documents, so a right answer there departs from the first value:
    simple_python_200 lists "" first for a parameter the function requires (the first value
    that is not "" is given), and parallel_multiple_26 lists a parameter the function does not
    declare, as optional (it is left out). ``adjusted`` collects the ids where this happened.
    """
    declared = {f["name"]: f["parameters"] for f in row["function"]}
    calls = []
    for expected in row["ground_truth"]:
        ((name, params),) = expected.items()
        arguments = {}
        for param, accepted in params.items():
            if param not in declared[name]["properties"] and "" in accepted:
                if accepted[0] != "" and adjusted is not None:
                    adjusted.add(row["id"])
                continue
            if accepted[0] != "":
                arguments[param] = render(accepted[0])
            elif param in declared[name].get("required", ()):
                arguments[param] = render(next(v for v in accepted if v != ""))
                if adjusted is not None:
                    adjusted.add(row["id"])
        calls.append(FunctionCall(name, arguments))
    return calls


def test_shipped_items_and_categories() -> None:
    counts = {c: sum(r["category"] == c for r in ROWS) for c in bfcl.CATEGORIES}
    assert counts == {"simple_python": 400, "multiple": 200, "parallel": 200, "parallel_multiple": 200,
                      "irrelevance": 240}


def test_every_ground_truth_answer_scores_correct() -> None:
    wrong = []
    adjusted: set[str] = set()
    for row in ANSWERED:
        ok, reason = match_calls(ground_truth_calls(row, adjusted), row["ground_truth"], row["function"])
        if not ok:
            wrong.append(f"{row['id']}: {reason}")
    assert not wrong, wrong[:10]
    assert len(ANSWERED) == 1000
    assert adjusted == {"simple_python_200", "parallel_multiple_26"}


def test_ground_truth_scores_correct_through_both_answer_paths_and_in_reverse_order() -> None:
    scorer = function_call_scorer()
    for row in ANSWERED:
        calls = ground_truth_calls(row)
        item = _FakeItem(target=row["ground_truth"], row=row)
        # A tools API: names come back in their tools spelling, arguments as JSON text.
        tools = Response(tool_calls=[ToolCall(bfcl.tool_name(c.name), json.dumps(c.arguments)) for c in reversed(calls)])
        # The text prompt format, inside a fenced block.
        text = Response(text="```json\n" + json.dumps([{"name": c.name, "arguments": c.arguments} for c in calls]) + "\n```")
        for response in (tools, text):
            score = scorer(item, response)  # type: ignore[arg-type]
            assert score.passed, (row["id"], score.explanation)


def test_ground_truth_with_every_optional_parameter_given_scores_correct() -> None:
    for row in ANSWERED:
        docs = {f["name"]: f["parameters"]["properties"] for f in row["function"]}
        calls = []
        for expected in row["ground_truth"]:
            ((name, params),) = expected.items()
            arguments = {}
            for param, accepted in params.items():
                given = [v for v in accepted if v != ""]
                # Two possible answers name a parameter their function does not declare
                # (parallel_multiple_12 and _26, both optional): BFCL rejects undeclared
                # parameters, so a right answer leaves them out.
                if given and param in docs[name]:
                    arguments[param] = render(given[0])
            calls.append(FunctionCall(name, arguments))
        ok, reason = match_calls(calls, row["ground_truth"], row["function"])
        assert ok, (row["id"], reason)


def mutate(value: Any, accepted: list[Any]) -> Any:
    """A value that ``accepted`` (the accepted values of a parameter) does not hold."""
    if isinstance(value, bool):
        # Some parameters accept both True and False: then only a wrong type is wrong.
        return "zzz" if (not value) in [a for a in accepted if isinstance(a, bool)] else not value
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, float):
        return value + 1000.5
    if isinstance(value, str):
        return value + "zzz"
    if isinstance(value, list):
        return [*value, value[-1]] if value else ["zzz"]
    if isinstance(value, dict):
        if not value:
            return {"zzz": 1}
        key = next(iter(value))
        return {**value, key: mutate(value[key], [])}
    return "zzz"


def test_a_changed_argument_scores_wrong() -> None:
    checked = 0
    for row in ANSWERED:
        calls = ground_truth_calls(row)
        for index, original in enumerate(calls):
            assert original.arguments is not None
            accepted = next(iter(row["ground_truth"][index].values()))
            variants = [{**original.arguments, p: mutate(v, accepted[p])} for p, v in original.arguments.items()]
            variants.append({**original.arguments, "zzz_unexpected": 1})
            for arguments in variants:
                changed = [*calls[:index], FunctionCall(original.name, arguments), *calls[index + 1:]]
                ok, _ = match_calls(changed, row["ground_truth"], row["function"])
                assert not ok, (row["id"], arguments)
                checked += 1
    assert checked > 4000


def test_wrong_function_or_wrong_number_of_calls_scores_wrong() -> None:
    for row in ANSWERED:
        calls = ground_truth_calls(row)
        renamed = [FunctionCall(calls[0].name + "_x", calls[0].arguments), *calls[1:]]
        assert not match_calls(renamed, row["ground_truth"], row["function"])[0], row["id"]
        assert not match_calls(calls[1:], row["ground_truth"], row["function"])[0], row["id"]
        assert not match_calls([*calls, calls[0]], row["ground_truth"], row["function"])[0], row["id"]


def test_irrelevance_items_pass_without_a_call_and_fail_with_one() -> None:
    irrelevant = [row for row in ROWS if row["category"] == "irrelevance"]
    assert len(irrelevant) == 240
    for row in irrelevant:
        assert match_calls(calls_from_text("None of the functions can answer this."), [], row["function"])[0]
        some_call = [FunctionCall(row["function"][0]["name"], {})]
        assert not match_calls(some_call, [], row["function"])[0]
