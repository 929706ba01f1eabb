"""Function calling: reading the calls out of a response, and matching them to possible answers.

A model answers a function-calling item in one of two ways, and both are read:

* through the API's tools field, as :attr:`Response.tool_calls` (name + JSON arguments);
* in text, following the prompt format of :data:`CALL_FORMAT` (a JSON list of
  ``{"name": ..., "arguments": {...}}``). The parser also accepts the JSON inside a fenced code
  block, a single call object, OpenAI's ``{"function": {...}}`` shape, and Python call syntax
  such as ``[get_weather(city="Paris")]`` (the format BFCL itself prompts with).

:func:`match_calls` then follows the semantics of BFCL's AST checker: each possible answer
lists, per parameter, the values that are accepted, ``""`` in that list meaning the parameter
may be left out; strings compare without case, spaces or ``,./-_*^``; an integer is accepted
where the function declares a float; the calls may come in any order; the number of calls
must be right; a parameter the function does not declare is wrong. An empty possible answer
(BFCL's *irrelevance* category) means no function fits, and any call is wrong.

Example::

    >>> calls = calls_from_text('[{"name": "get_weather", "arguments": {"city": "paris"}}]')
    >>> match_calls(calls, [{"get_weather": {"city": ["Paris"], "unit": ["", "celsius"]}}])
    (True, 'all 1 call(s) match')
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import Score

if TYPE_CHECKING:
    from ..benchmarks.base import Item
    from ..request import Response

#: The text prompt format for models served without a tools field (documented for users).
CALL_FORMAT = (
    "To call functions, reply with only a JSON list of calls and nothing else, in this form:\n"
    '[{"name": "function_name", "arguments": {"parameter": "value"}}]\n'
    "To call several functions, or one function several times, put several calls in the list. "
    "If none of the functions fits the request, do not call any: answer in plain text instead."
)


@dataclass(frozen=True)
class FunctionCall:
    """One call a model asked for. ``arguments`` is None when they could not be read as JSON."""

    name: str
    arguments: dict[str, Any] | None

    def render(self) -> str:
        """The call as a person reads it: ``get_weather(city='Paris')``."""
        if self.arguments is None:
            return f"{self.name}(<unreadable arguments>)"
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.arguments.items())})"


# -- reading calls --------------------------------------------------------------------------------


def calls_from_response(response: Response) -> list[FunctionCall]:
    """The calls in ``response``: its ``tool_calls`` if any, else those written in its text."""
    if response.tool_calls:
        calls = []
        for call in response.tool_calls:
            arguments: Any
            try:
                arguments = json.loads(call.arguments) if call.arguments.strip() else {}
            except json.JSONDecodeError:
                arguments = None
            calls.append(FunctionCall(call.name, arguments if isinstance(arguments, dict) else None))
        return calls
    return calls_from_text(response.text)


_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def calls_from_text(text: str) -> list[FunctionCall]:
    """The function calls written in ``text`` (empty when it holds none).

    Every JSON value in the text that has the shape of a call, or of a list of calls, counts,
    in order; failing that, Python call syntax filling a whole code block or the whole text.
    """
    calls: list[FunctionCall] = []
    position = 0
    while True:
        start = _next_bracket(text, position)
        if start < 0:
            break
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        found = _as_calls(value)
        if found is None:
            position = start + 1  # not a call: a call may still sit inside it
        else:
            calls.extend(found)
            position = end
    if calls:
        return calls
    for block in [*_FENCE.findall(text), text]:
        found = _python_calls(block.strip())
        if found:
            return found
    return []


def _next_bracket(text: str, position: int) -> int:
    found = [i for i in (text.find("[", position), text.find("{", position)) if i >= 0]
    return min(found) if found else -1


def _as_calls(value: Any) -> list[FunctionCall] | None:
    """``value`` read as calls, or None when it does not have that shape."""
    if isinstance(value, list):
        calls = [_as_call(element) for element in value]
        if not value or any(call is None for call in calls):
            return None  # "[]" and lists of other things are not calls
        return [call for call in calls if call is not None]
    if isinstance(value, dict):
        for key in ("tool_calls", "calls", "function_calls"):
            if isinstance(value.get(key), list):
                return _as_calls(value[key])
        call = _as_call(value)
        return None if call is None else [call]
    return None


def _as_call(value: Any) -> FunctionCall | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        value = value["function"]
    name = value.get("name")
    key = next((k for k in ("arguments", "parameters", "args") if k in value), None)
    if not isinstance(name, str) or not name or key is None:
        return None  # {"name": "Ada", "age": 36} is data, not a call
    arguments = value[key]
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return FunctionCall(name, None)
    return FunctionCall(name, arguments if isinstance(arguments, dict) else None)


def _python_calls(text: str) -> list[FunctionCall]:
    """``f(a=1)`` or ``[f(a=1), g(b="x")]`` filling all of ``text``, with literal arguments."""
    if not text or "(" not in text:
        return []
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return []
    nodes = tree.elts if isinstance(tree, (ast.List, ast.Tuple)) else [tree]
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call) or node.args:
            return []
        name = _dotted_name(node.func)
        if name is None:
            return []
        try:
            arguments = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
        except (ValueError, SyntaxError):
            return []
        calls.append(FunctionCall(name, _plain_json(arguments)))
    return calls


def _dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _plain_json(value: Any) -> Any:
    """Tuples as lists, as they would be after a JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    return value


# -- matching calls to possible answers --------------------------------------------------------

PossibleAnswer = Sequence[Mapping[str, Mapping[str, Sequence[Any]]]]


def match_calls(
    calls: Sequence[FunctionCall],
    possible_answer: PossibleAnswer,
    functions: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[bool, str]:
    """Whether ``calls`` are a right answer, and why (or why not).

    ``possible_answer`` is BFCL's ground truth: a list with one ``{function_name: {parameter:
    [accepted values]}}`` per expected call (empty when no call is right). ``functions`` are
    the function documents (``name``, ``parameters`` with ``properties`` and ``required``);
    with them, parameter types are checked and undeclared or missing required parameters are
    wrong, as in BFCL. Calls match in any order.
    """
    if not possible_answer:
        if not calls:
            return True, "no call, as none of the functions fits"
        return False, f"no function fits the request, but the model called {', '.join(c.name for c in calls)}"
    if not calls:
        return False, f"expected {len(possible_answer)} call(s), the model made none"
    if len(calls) != len(possible_answer):
        return False, f"expected {len(possible_answer)} call(s), the model made {len(calls)}"
    docs = {_name_key(str(f["name"])): f for f in functions or ()}
    reasons: list[list[str | None]] = []
    for expected in possible_answer:
        ((name, params),) = expected.items()
        doc = docs.get(_name_key(name))
        reasons.append([_check_call(call, name, params, doc) for call in calls])
    if _perfect_matching([[r is None for r in row] for row in reasons]):
        return True, f"all {len(calls)} call(s) match"
    return False, _mismatch(calls, possible_answer, reasons)


def _mismatch(calls: Sequence[FunctionCall], possible_answer: PossibleAnswer, reasons: list[list[str | None]]) -> str:
    """Why the calls do not pair off with the expected ones; ``reasons[i][j]`` is why call ``j``
    is not expected call ``i`` (None when it is)."""
    if len(calls) == 1:
        return str(reasons[0][0])
    for index, expected in enumerate(possible_answer):
        if all(r is not None for r in reasons[index]):
            name = next(iter(expected))
            same_name = [r for call, r in zip(calls, reasons[index], strict=True) if _name_key(call.name) == _name_key(name)]
            detail = same_name[0] if same_name else "no call to it"
            return f"no call matches expected call {index + 1} ({name}): {detail}"
    return "each expected call matches some call, but not all at once"


def _name_key(name: str) -> str:
    # Tools APIs allow only [a-zA-Z0-9_-] in names, so "math.factorial" is offered (and called
    # back) as "math_factorial": both spellings name the same function.
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)


def _perfect_matching(ok: list[list[bool]]) -> bool:
    """Whether every expected call (row) can be paired with its own model call (column)."""
    owner: dict[int, int] = {}

    def assign(row: int, seen: set[int]) -> bool:
        for column, fits in enumerate(ok[row]):
            if fits and column not in seen:
                seen.add(column)
                if column not in owner or assign(owner[column], seen):
                    owner[column] = row
                    return True
        return False

    return all(assign(row, set()) for row in range(len(ok)))


def _check_call(call: FunctionCall, name: str, params: Mapping[str, Sequence[Any]],
                doc: Mapping[str, Any] | None) -> str | None:
    """None when ``call`` is an accepted form of the expected call, else the reason it is not."""
    if _name_key(call.name) != _name_key(name):
        return f"called {call.name}, expected {name}"
    if call.arguments is None:
        return f"the arguments of {call.name} are not a JSON object"
    schema = doc.get("parameters", {}) if doc is not None else {}
    properties: Mapping[str, Any] = schema.get("properties", {})
    for required in schema.get("required", ()):
        if required not in call.arguments:
            return f"missing required parameter {required!r}"
    for param, value in call.arguments.items():
        if (doc is not None and param not in properties) or param not in params:
            return f"unexpected parameter {param!r}"
        problem = _check_value(value, params[param], properties.get(param))
        if problem is not None:
            return f"parameter {param!r}: {problem}"
    for param, accepted in params.items():
        if param not in call.arguments and "" not in accepted:
            return f"missing parameter {param!r}"
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "float": (int, float), "number": (int, float),
    "boolean": (bool,), "array": (list,), "tuple": (list,), "dict": (dict,), "object": (dict,),
}


def _check_value(value: Any, accepted: Sequence[Any], schema: Mapping[str, Any] | None) -> str | None:
    value = _plain_json(value)
    # BFCL accepts a value of the type its possible answers have even where it is not the
    # declared type (a variable name given as a string): the value comparison below decides.
    if (schema is not None and not _has_type(value, schema)
            and not any(_same_kind(value, a) for a in accepted if a != "")):
        return f"{value!r} is not of type {schema.get('type')}"
    if any(_equal(value, a, schema) for a in accepted):
        return None
    shown = [a for a in accepted if a != ""]
    return f"{value!r} is not one of the accepted values {shown!r}"


def _has_type(value: Any, schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    types = _TYPES.get(str(kind))
    if types is None:  # "any" or an unknown type: nothing to check
        return True
    if isinstance(value, bool) and bool not in types:
        return False  # in Python, True is an int; to a function signature it is not
    if not isinstance(value, types):
        return False
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        return all(_has_type(v, items) for v in value)
    return True


def _same_kind(value: Any, accepted: Any) -> bool:
    return type(value) is type(accepted)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(value: Any, accepted: Any, schema: Mapping[str, Any] | None) -> bool:
    """Whether ``value`` is the accepted value ``accepted`` (one entry of an accepted list)."""
    if isinstance(accepted, dict):
        return _dict_equal(value, accepted, schema)
    if isinstance(accepted, list):
        return _list_equal(value, accepted, schema)
    return _scalar_equal(value, accepted)


def _dict_equal(value: Any, accepted: Mapping[str, Sequence[Any]], schema: Mapping[str, Any] | None) -> bool:
    # A dict in a possible answer maps each key to its own list of accepted values.
    if not isinstance(value, dict) or any(k not in accepted for k in value):
        return False
    properties = (schema or {}).get("properties", {})
    for key, options in accepted.items():
        if key not in value:
            if "" not in options:
                return False
        elif _check_value(value[key], options, properties.get(key)) is not None:
            return False
    return True


def _list_equal(value: Any, accepted: Sequence[Any], schema: Mapping[str, Any] | None) -> bool:
    if not isinstance(value, list) or len(value) != len(accepted):
        return False
    items = (schema or {}).get("items")
    return all(_equal(v, a, items if isinstance(items, Mapping) else None) for v, a in zip(value, accepted, strict=True))


def _scalar_equal(value: Any, accepted: Any) -> bool:
    if isinstance(accepted, str):
        return isinstance(value, str) and _standard(value) == _standard(accepted)
    if isinstance(accepted, bool) or isinstance(value, bool):
        return value is accepted
    if _is_number(accepted):
        return _is_number(value) and value == accepted
    return bool(value == accepted)


_IGNORED = re.compile(r"[ ,./\-_*^]")


def _standard(text: str) -> str:
    # BFCL's leniency: "April 1, 2024" and "april 1 2024" are the same answer.
    return _IGNORED.sub("", text).lower().replace("'", '"')


# -- the scorer -------------------------------------------------------------------------------


def render_expected(possible_answer: PossibleAnswer) -> str:
    """The possible answer as a person reads it: ``f(a=1|2, unit='cm'|omitted)``."""
    if not possible_answer:
        return "no call"
    parts = []
    for expected in possible_answer:
        for name, params in expected.items():
            args = ", ".join(
                f"{p}=" + "|".join("omitted" if v == "" else repr(v) for v in values) for p, values in params.items()
            )
            parts.append(f"{name}({args})")
    return "; ".join(parts)


def function_call_scorer() -> FunctionCallScorer:
    """Score function calls against the item's target, a BFCL-style possible answer.

    The row's ``function`` field (the function documents) enables type and required-parameter
    checks. The answer shown is the calls the model made (or "no call").

    Example::

        Benchmark("my-tools", capability="agent", data=rows, prompt=make_request,
                  target="ground_truth", scorer=function_call_scorer())
    """
    return FunctionCallScorer()


class FunctionCallScorer:
    """The scorer :func:`function_call_scorer` returns (a class so that it pickles)."""

    def __call__(self, item: Item, response: Response) -> Score:
        possible = item.target or []
        calls = calls_from_response(response)
        passed, reason = match_calls(calls, possible, item.row.get("function"))
        answer = "; ".join(c.render() for c in calls) if calls else "no call"
        return Score(passed=passed, answer=answer, expected=render_expected(possible),
                     explanation="" if passed else reason)
