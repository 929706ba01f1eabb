"""Item identity: unique and stable ids (from the data's own ids or the rows' content, never
their position), collisions refused with the file and both rows named, per-row capabilities,
and fingerprints that change exactly when what was asked or expected changes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pytest_llmeval import Benchmark, DatasetError, scorers
from pytest_llmeval.benchmarks.base import content_id

ROWS = [{"question": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(30)]


def bench(data: object, **kwargs: object) -> Benchmark:
    options = {"capability": "arithmetic", "prompt": "{question}", "target": "answer", "scorer": scorers.number()}
    options.update(kwargs)
    return Benchmark("sums", data=data, **options)  # type: ignore[arg-type]


def write(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def ids(benchmark: Benchmark) -> dict[str, str]:
    """Question -> item id."""
    return {item.row["question"]: item.id for item in benchmark.items()}


@pytest.mark.parametrize("id_field", [None, "key"])
def test_editing_inserting_removing_and_reordering_other_rows_keeps_every_id(tmp_path: Path, id_field: str | None) -> None:
    rows = [{**r, "key": f"k{i}"} for i, r in enumerate(ROWS)]
    before = ids(bench(write(tmp_path / "a.jsonl", rows), id_field=id_field))
    edited = [dict(r) for r in rows]
    edited[3]["question"] = "What is 3 plus 4?"          # an edited row
    del edited[10]                                        # a removed row
    edited.insert(0, {"question": "New?", "answer": "1", "key": "new"})  # an inserted row
    random.Random(0).shuffle(edited)                      # and everything reordered
    after = ids(bench(write(tmp_path / "b.jsonl", edited), id_field=id_field))
    unchanged = {r["question"] for i, r in enumerate(rows) if i not in (3, 10)}
    assert {q: after[q] for q in unchanged} == {q: before[q] for q in unchanged}
    assert len(set(after.values())) == len(after)


def test_content_ids_are_short_readable_and_position_free() -> None:
    row = {"question": "Janet's ducks lay 16 eggs per day.", "answer": "18"}
    assert content_id(row) == content_id(dict(reversed(list(row.items()))))
    assert content_id(row).startswith("janet-s-ducks-") and len(content_id(row)) <= 24 + 11
    assert content_id({**row, "answer": "19"}) != content_id(row)


def test_identical_rows_are_numbered_by_occurrence() -> None:
    items = bench([ROWS[0], ROWS[1], ROWS[0]]).items()
    assert [i.id for i in items] == [content_id(ROWS[0]), content_id(ROWS[1]), content_id(ROWS[0]) + "-2"]


@pytest.mark.parametrize(("first", "second"), [("q 1", "q/1"), (7, "7"), ("a b", "a_b"), ("x", "x")])
def test_ids_that_collide_after_sanitising_name_the_file_and_both_rows(tmp_path: Path, first: object, second: object) -> None:
    path = write(tmp_path / "data.jsonl", [{**ROWS[0], "id": first}, ROWS[1] | {"id": "other"}, {**ROWS[2], "id": second}])
    with pytest.raises(DatasetError) as raised:
        bench(path, id_field="id").items()
    message = str(raised.value)
    assert message.startswith(f"{path}, field 'id': rows 1 and 3 have the same item id")
    assert f"{str(first)!r} and {str(second)!r}" in message and "every row needs its own id" in message


def test_a_missing_id_field_names_the_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "data.jsonl", ROWS[:2])
    with pytest.raises(DatasetError, match=r"data.jsonl, line 1, field 'id': row has no id field 'id' named by id_field "
                                           r"\(fields: answer, question\); fix the data or id_field"):
        bench(path, id_field="id").items()


@pytest.mark.parametrize(("value", "shown"), [(None, "null"), ("", '""'), ("   ", '"   "')])
def test_a_null_or_blank_id_names_the_file_line_and_field(tmp_path: Path, value: object, shown: str) -> None:
    path = write(tmp_path / "data.jsonl", [{**ROWS[0], "id": "a"}, {**ROWS[1], "id": value}])
    with pytest.raises(DatasetError) as raised:
        bench(path, id_field="id").items()
    assert str(raised.value) == (f"{path}, line 2, field 'id': the id field 'id' named by id_field is {shown}: every row "
                                 "needs an id of its own; fill it in, or leave id_field out to derive ids from content")


def test_an_empty_list_of_rows_is_refused() -> None:
    with pytest.raises(DatasetError, match="has no rows"):
        bench([]).items()


def test_capability_may_come_from_a_field_or_a_function() -> None:
    rows = [{**r, "topic": "even" if i % 2 == 0 else "odd"} for i, r in enumerate(ROWS[:4])]
    by_field = bench(rows, capability="{topic}").items()
    assert [i.capability for i in by_field] == ["even", "odd", "even", "odd"]
    by_function = bench(rows, capability=lambda row: f"topic-{row['topic']}").items()
    assert {i.capability for i in by_function} == {"topic-even", "topic-odd"}
    assert bench(rows, capability="{topic}").fixed_capability is None


def test_a_capability_that_is_not_a_name_is_refused_with_where() -> None:
    with pytest.raises(DatasetError, match=r"line 1: item .* capability of a row must be a non-empty string, got 3"):
        bench(ROWS[:1], capability=lambda row: 3).items()
    with pytest.raises(ValueError, match="capability must be a name such as 'reasoning'"):
        bench(ROWS, capability=None)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("temperature", -0.1, "temperature must be a number >= 0"),
    ("top_p", 0, "top_p must be a number above 0 and at most 1"),
    ("max_tokens", 0, "max_tokens must be a whole number of at least 1"),
    ("seed", 1.5, "seed must be a whole number"),
])
def test_bad_generation_settings_are_refused(setting: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"benchmark 'sums': {message}"):
        bench(ROWS, **{setting: value})


def test_the_fingerprint_follows_what_was_asked_and_expected() -> None:
    base = bench(ROWS[:1]).items()[0]
    assert base.fingerprint == bench(ROWS[:1]).items()[0].fingerprint
    assert bench([{**ROWS[0], "answer": "1"}]).items()[0].fingerprint != base.fingerprint
    assert bench(ROWS[:1], prompt="Q: {question}").items()[0].fingerprint != base.fingerprint
    assert bench(ROWS[:1], max_tokens=9).items()[0].fingerprint != base.fingerprint
    assert base.with_generation(temperature=0.5).fingerprint != base.fingerprint


def test_requests_carry_their_item_and_samples_their_index() -> None:
    item = bench(ROWS[:1], temperature=0.8).items()[0]
    assert item.requests[0].item == f"sums[{item.id}]" == item.key
    assert [r.sample for r in item.sample(3)] == [3]
    assert item.sample(0) == item.requests
    # Five rows with the same prompt are five items, so five different requests when sampling.
    same = bench([{"question": "Pick a number.", "answer": str(i)} for i in range(5)], temperature=0.8).items()
    assert len({i.requests[0] for i in same}) == 5
