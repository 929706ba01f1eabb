"""The gate on a user's own benchmark, end to end (issue 11): a JSONL benchmark is pinned; the
model then gets 5 items wrong that it had right, and another row is removed from the data
file. The gate must pair the same questions, list exactly those 5 flips, and fail the run.

The "model" is a recorded transcript (JSON Lines export, docs/recorded.md) named `candidate`,
so the two runs differ only in what it answered and in the data file.
"""

from __future__ import annotations

import json

import pytest

from pytest_llmeval.benchmarks.base import content_id
from pytest_llmeval.gate import natural_key

ARGS = ("--llm-model=candidate", "--llm-thresholds=thresholds.json")

INI = """
[pytest]
addopts = -p no:hypothesispytest
llm_baseline = none
llm_aliases =
    candidate = recorded:answers.jsonl
"""

TEST_FILE = """
from pytest_llmeval import Benchmark, scorers

test_arith = Benchmark(
    name="arith",
    capability="arithmetic",
    data="arith.jsonl",
    prompt="{{question}} Answer with the number only.",
    target="answer",
    scorer=scorers.includes(),
    id_field={id_field!r},
)
"""

#: 30 rows; the model answers the first 24 right at the pin.
ROWS = [{"qid": f"q-{i}", "question": f"What is {i} plus {i + 3}?", "answer": str(2 * i + 3)} for i in range(1, 31)]
RIGHT_AT_PIN = set(range(24))
FLIPPED = [5, 9, 13, 17, 21]  # right at the pin, wrong now
REMOVED = 2  # a row before them, so that positions would shift


def write_data(pytester: pytest.Pytester, rows: list[dict[str, str]], with_ids: bool) -> None:
    lines = [json.dumps(row if with_ids else {k: v for k, v in row.items() if k != "qid"}) for row in rows]
    pytester.path.joinpath("arith.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_answers(pytester: pytest.Pytester, right: set[int]) -> None:
    lines = [json.dumps({"prompt": f"{row['question']} Answer with the number only.",
                         "response": row["answer"] if index in right else "I do not know."})
             for index, row in enumerate(ROWS)]
    pytester.path.joinpath("answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def literal(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself (brackets are pattern syntax)."""
    return "".join({"[": "[[]", "]": "[]]", "*": "[*]", "?": "[?]"}.get(c, c) for c in text)


def key(index: int, with_ids: bool) -> str:
    row = ROWS[index] if with_ids else {k: v for k, v in ROWS[index].items() if k != "qid"}
    return f"arith[{row['qid'] if with_ids else content_id(row)}]"


@pytest.mark.parametrize("with_ids", [True, False], ids=["id-column", "content-ids"])
def test_a_removed_row_and_five_flips_fail_the_gate_with_exactly_those_flips(pytester: pytest.Pytester,
                                                                             with_ids: bool) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_arith=TEST_FILE.format(id_field="qid" if with_ids else None))
    write_data(pytester, ROWS, with_ids)
    write_answers(pytester, RIGHT_AT_PIN)
    pinned = pytester.runpytest(*ARGS, "--llm-pin")
    assert pinned.ret == 0, pinned.stdout.str()
    document = json.loads((pytester.path / "thresholds.json").read_text(encoding="utf-8"))
    [row] = document["benchmarks"]
    assert len(row["items"]) == 30 and all(item["fingerprint"] for item in row["items"].values())

    write_data(pytester, [r for i, r in enumerate(ROWS) if i != REMOVED], with_ids)
    write_answers(pytester, RIGHT_AT_PIN - set(FLIPPED))
    gated = pytester.runpytest(*ARGS, "--llm-scorecard=card.json")
    assert gated.ret == pytest.ExitCode.TESTS_FAILED, gated.stdout.str()

    flips = ", ".join(sorted((key(i, with_ids) for i in FLIPPED), key=natural_key))
    gated.stdout.fnmatch_lines([
        "llmeval gate FAILED (2 of 2 checks) against *thresholds.json, alpha 0.05",
        "candidate / arithmetic regressed: 0.800 -> 0.621 (-17.9 points, n=30 pinned, 29 now); one-sided McNemar exact"
        " test on 29 paired items: p = 0.031 < alpha 0.05",
        f"  pass -> fail (5): {literal(flips)}",
        "  1 removed since the pin; 29 of 30 pinned items compared",
    ])
    assert "fail -> pass" not in gated.stdout.str()
    gate = json.loads((pytester.path / "card.json").read_text(encoding="utf-8"))["gate"]
    capability = next(v for v in gate["verdicts"] if v["benchmark"] is None)
    assert capability["pass_to_fail"] == flips.split(", ") and capability["fail_to_pass"] == []
    assert capability["items"]["removed"] == 1 and capability["items"]["changed"] == 0


def test_a_corrected_answer_key_is_not_a_regression(pytester: pytest.Pytester) -> None:
    """Items whose expected answer was edited since the pin keep their ids, but are left out
    and counted, not compared as if unchanged."""
    pytester.makeini(INI)
    pytester.makepyfile(test_arith=TEST_FILE.format(id_field="qid"))
    write_data(pytester, ROWS, with_ids=True)
    write_answers(pytester, RIGHT_AT_PIN)
    assert pytester.runpytest(*ARGS, "--llm-pin").ret == 0
    # The key of five items the model had right changes: its unchanged answers now fail them.
    write_data(pytester, [{**row, "answer": "0"} if i in FLIPPED else row for i, row in enumerate(ROWS)], with_ids=True)
    gated = pytester.runpytest(*ARGS)
    assert gated.ret == pytest.ExitCode.OK, gated.stdout.str()
    gated.stdout.fnmatch_lines([
        "llmeval gate passed against *thresholds.json, alpha 0.05",
        "note: candidate / arithmetic / arith: 5 changed since the pin; 25 of 30 pinned items compared (pinned in"
        " *thresholds.json)",
    ])
