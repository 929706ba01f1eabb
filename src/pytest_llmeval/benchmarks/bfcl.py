"""BFCL: the Berkeley Function Calling Leaderboard v4, single-turn Python categories (agent).

1,240 items in five categories, each reported as a subset:

===================  =====  ==========================================================
category             items  the right answer
===================  =====  ==========================================================
simple_python          400  one call to the one function offered
multiple               200  one call, choosing the right function among 2 to 4
parallel               200  several calls to the one function offered, in any order
parallel_multiple      200  several calls to several of the functions offered
irrelevance            240  no call: none of the functions offered fits the request
===================  =====  ==========================================================

Each item is one generate request that carries the functions twice: in the request's
``tools_json`` (OpenAI ``tools``, converted from BFCL's function documents) for backends with
a tools API, and in a system message with the JSON prompt format of
:data:`~pytest_llmeval.scoring.function_calls.CALL_FORMAT` for backends without one. The
scorer reads either answer and matches it with BFCL's AST-checker semantics
(:func:`~pytest_llmeval.scoring.function_calls.match_calls`).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..request import Message, Request
from ..scoring.function_calls import CALL_FORMAT, function_call_scorer
from ..shipped import shipped
from .base import Benchmark
from .data import DatasetError, Row

#: The BFCL categories shipped, in the order items are listed.
CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")

# BFCL's parameter types, as JSON Schema types for a tools API.
_SCHEMA_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


def load_items(categories: tuple[str, ...] = CATEGORIES) -> list[Row]:
    """One row per BFCL item: ``id``, ``category``, ``question`` (the messages),
    ``function`` (the function documents) and ``ground_truth`` (``[]`` for irrelevance)."""
    rows: list[Row] = []
    for category in categories:
        questions = _read_jsonl(shipped(f"bfcl/BFCL_v4_{category}.json.gz"))
        answers: dict[str, Any] = {}
        if category != "irrelevance":
            answer_path = shipped(f"bfcl/possible_answer/BFCL_v4_{category}.json.gz")
            answers = {row["id"]: row["ground_truth"] for row in _read_jsonl(answer_path)}
        for question in questions:
            if category != "irrelevance" and question["id"] not in answers:
                raise DatasetError(f"bfcl/{category}", f"item {question['id']} has no possible answer")
            rows.append({
                "id": question["id"],
                "category": category,
                "question": question["question"],
                "function": question["function"],
                "ground_truth": answers.get(question["id"], []),
            })
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def tool_name(name: str) -> str:
    """A function's name as a tools API accepts it (``[a-zA-Z0-9_-]``, at most 64 characters)."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64]


def to_openai_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL parameter schema as JSON Schema: ``dict`` becomes ``object``, ``float``
    ``number``, ``tuple`` ``array``; BFCL's non-standard ``optional`` flag is dropped."""
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "optional":
            continue
        if key == "type":
            converted[key] = _SCHEMA_TYPES.get(value, value)
        elif key == "properties" and isinstance(value, Mapping):
            converted[key] = {name: to_openai_schema(sub) for name, sub in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            converted[key] = to_openai_schema(value)
        else:
            converted[key] = value
    return converted


def to_openai_tools(functions: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """BFCL function documents as the OpenAI ``tools`` list."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool_name(str(function["name"])),
                "description": function.get("description", ""),
                "parameters": to_openai_schema(function.get("parameters", {"type": "dict", "properties": {}})),
            },
        }
        for function in functions
    ]


def system_prompt(tools: list[dict[str, Any]]) -> str:
    """The system message offering ``tools`` in the text prompt format."""
    # One compact line per function: small models have small context windows.
    listing = "\n".join(json.dumps(tool["function"], ensure_ascii=False) for tool in tools)
    return f"You can call these functions (parameters in JSON Schema):\n{listing}\n\n{CALL_FORMAT}"


def make_request(row: Row, max_tokens: int = 512) -> Request:
    """The request for one BFCL row: tools in ``tools_json`` and in the system message."""
    tools = to_openai_tools(row["function"])
    turn = row["question"][0]  # every shipped item is single-turn
    messages = (Message("system", system_prompt(tools)), *(Message(m["role"], m["content"]) for m in turn))
    return Request(messages=messages, max_tokens=max_tokens, tools_json=json.dumps(tools, sort_keys=True))


class BFCL(Benchmark):
    """BFCL items; the subset is the BFCL category."""

    def subset(self, row: Row) -> str | None:
        return str(row["category"])


def _ground_truth(row: Row) -> Any:
    return row["ground_truth"]


def benchmarks() -> list[Benchmark]:
    """The BFCL benchmark (1,240 items in five categories)."""
    return [
        BFCL(
            "bfcl",
            capability="agent",
            data=load_items,
            prompt=make_request,
            target=_ground_truth,
            scorer=function_call_scorer(),
            id_field="id",
            max_tokens=512,
            description="BFCL v4 function calling: simple, multiple, parallel, parallel_multiple, irrelevance (1,240)",
        )
    ]
