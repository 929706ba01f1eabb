"""Reading benchmark rows (benchmarks/data.py), directly: every supported source, and every
broken file refused with a DatasetError that names the file, the line and the field, and
never any other exception, whatever the bytes (hypothesis)."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmeval import Benchmark, scorers
from pytest_llmeval.benchmarks import data as data_module
from pytest_llmeval.benchmarks.base import content_id, sample_indices
from pytest_llmeval.benchmarks.data import DatasetError, describe_source, load_rows

ROWS = [{"country": "France", "capital": "Paris"}, {"country": "Japan", "capital": "Tokyo"}]
JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)


def plain(rows: list[dict]) -> list[dict]:
    """Rows without the line numbers the reader keeps for error messages."""
    return [{k: v for k, v in r.items() if k != "__line__"} for r in rows]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def error(path: Path | str, base_dir: Path | None = None) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_rows(path, base_dir)
    return info.value


# -- sources ------------------------------------------------------------------------------------


def test_jsonl(tmp_path: Path) -> None:
    rows = load_rows(write(tmp_path, "d.jsonl", JSONL))
    assert plain(rows) == ROWS
    assert [r["__line__"] for r in rows] == [1, 2]


def test_jsonl_skips_blank_lines_and_keeps_line_numbers(tmp_path: Path) -> None:
    rows = load_rows(write(tmp_path, "d.jsonl", "\n" + json.dumps(ROWS[0]) + "\n   \n" + json.dumps(ROWS[1])))
    assert plain(rows) == ROWS
    assert [r["__line__"] for r in rows] == [2, 4]


def test_a_utf8_byte_order_mark_and_crlf_line_ends_are_fine(tmp_path: Path) -> None:
    rows = load_rows(write(tmp_path, "d.jsonl", b"\xef\xbb\xbf" + JSONL.replace("\n", "\r\n").encode()))
    assert plain(rows) == ROWS
    csv_rows = load_rows(write(tmp_path, "d.csv", b"\xef\xbb\xbfcountry,capital\r\nFrance,Paris\r\nJapan,Tokyo\r\n"))
    assert plain(csv_rows) == ROWS


def test_non_ascii_text_survives(tmp_path: Path) -> None:
    rows = load_rows(write(tmp_path, "d.jsonl", '{"country": "Côte d\u2019Ivoire", "capital": "Yamoussoukro 🏛"}\n'))
    assert rows[0]["country"] == "Côte d\u2019Ivoire" and rows[0]["capital"].endswith("🏛")


def test_gzipped_jsonl(tmp_path: Path) -> None:
    assert plain(load_rows(write(tmp_path, "d.jsonl.gz", gzip.compress(JSONL.encode())))) == ROWS


def test_csv(tmp_path: Path) -> None:
    rows = load_rows(write(tmp_path, "d.csv", 'country,capital\nFrance,Paris\n"Japan","Tokyo"\n'))
    assert plain(rows) == ROWS
    assert [r["__line__"] for r in rows] == [2, 3]


def test_csv_quoted_fields_may_hold_commas_and_newlines(tmp_path: Path) -> None:
    rows = load_rows(write(tmp_path, "d.csv", 'q,a\n"one, two","line 1\nline 2"\n'))
    assert plain(rows) == [{"q": "one, two", "a": "line 1\nline 2"}]


@pytest.mark.parametrize("layout", [ROWS, {"examples": ROWS}, {"data": ROWS, "version": 2}])
def test_json_list_or_object_with_one_list(tmp_path: Path, layout: object) -> None:
    assert load_rows(write(tmp_path, "d.json", json.dumps(layout))) == ROWS


def test_parquet_through_datasets(tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pyarrow.Table.from_pylist(ROWS), path)
    assert load_rows(path) == ROWS


def test_python_iterables_and_callables() -> None:
    assert load_rows(ROWS) == ROWS
    assert load_rows(tuple(ROWS)) == ROWS
    assert load_rows(r for r in ROWS) == ROWS
    assert load_rows(lambda: iter(ROWS)) == ROWS
    rows = load_rows(ROWS)
    rows[0]["country"] = "changed"
    assert ROWS[0]["country"] == "France"  # the caller's rows are copied, never changed


def test_relative_paths_resolve_against_the_base_directory(tmp_path: Path) -> None:
    write(tmp_path, "d.jsonl", JSONL)
    assert plain(load_rows("d.jsonl", tmp_path)) == ROWS
    assert plain(load_rows(tmp_path / "d.jsonl", Path("/elsewhere"))) == ROWS


def test_describe_source() -> None:
    assert describe_source("data/x.jsonl") == "data/x.jsonl"
    assert describe_source(ROWS) == "<list of rows>"


# -- broken files -------------------------------------------------------------------------------


def test_bad_json_names_the_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", JSONL + '{"country": "Kenya", "capital": }\n')
    exc = error(path)
    assert (exc.source, exc.line, exc.field) == (str(path), 3, None)
    assert str(exc) == f"{path}, line 3: not valid JSON (Expecting value at column 33)"


def test_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    exc = error(write(tmp_path, "d.jsonl", JSONL + "42\n"))
    assert exc.line == 3 and "each line must be a JSON object, found int" in str(exc)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_an_empty_file_has_no_rows(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "d.jsonl", content)
    assert str(error(path)) == f"{path}: has no rows"


def test_a_csv_header_alone_has_no_rows(tmp_path: Path) -> None:
    assert "has no rows" in str(error(write(tmp_path, "d.csv", "country,capital\n")))


def test_not_utf8_says_where_and_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", JSONL.encode() + '{"country": "Québec"}\n'.encode("latin-1"))
    exc = error(path)
    assert str(exc).startswith(f"{path}: not UTF-8 text (invalid continuation byte at byte ")
    assert "re-save it as UTF-8" in str(exc)


def test_a_csv_row_with_more_cells_than_the_header(tmp_path: Path) -> None:
    exc = error(write(tmp_path, "d.csv", "country,capital\nFrance,Paris\nJapan,Tokyo,Honshu\n"))
    assert exc.line == 3 and "has more cells than the header's 2 columns" in str(exc)


def test_a_huge_row_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_module, "MAX_ROW_BYTES", 100)
    exc = error(write(tmp_path, "d.jsonl", JSONL + json.dumps({"country": "x" * 200}) + "\n"))
    assert exc.line == 3 and "over the 100 limit" in str(exc)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("d.txt", "a b\n", "unsupported file type '.txt'"),
        ("d.json", '{"a": [1], "b": [2]}', "must hold a list of objects (or an object with one list)"),
        ("d.json", "[1, 2]", "must hold a list of objects"),
        ("d.json", '[{"a": 1},', "not valid JSON"),
        ("d.jsonl.gz", b"\x1f\x8b but not gzip", "cannot be read"),
        ("d.jsonl.gz", gzip.compress(JSONL.encode(), mtime=0)[:20], "cannot be read"),
    ],
    ids=["txt", "json-two-lists", "json-not-objects", "json-truncated", "gz-bad-magic", "gz-truncated"],
)
def test_other_broken_files(tmp_path: Path, name: str, content: str | bytes, message: str) -> None:
    assert message in str(error(write(tmp_path, name, content)))


def test_a_missing_file_says_how_relative_paths_resolve(tmp_path: Path) -> None:
    exc = error("absent.jsonl", tmp_path)
    assert str(exc) == f"{tmp_path / 'absent.jsonl'}: no such file (relative paths are resolved against the test file's directory)"


def test_a_row_of_an_iterable_that_is_no_mapping() -> None:
    with pytest.raises(DatasetError, match="row 1 is a str, not a mapping"):
        load_rows([{"a": 1}, "b"])


@pytest.mark.parametrize("name", ["d.jsonl", "d.json"])
def test_deeply_nested_json_is_a_dataset_error(tmp_path: Path, name: str) -> None:
    error(write(tmp_path, name, "[" * 100_000 + "\n"))


def test_an_enormous_number_is_a_dataset_error(tmp_path: Path) -> None:
    error(write(tmp_path, "d.jsonl", '{"a": ' + "1" * 5000 + "}\n"))


def test_a_corrupt_gzip_body_is_a_dataset_error(tmp_path: Path) -> None:
    header = gzip.compress(JSONL.encode(), mtime=0)[:10]
    error(write(tmp_path, "d.jsonl.gz", header + b"\xff" * 64))


# -- the errors a benchmark adds: the field ----------------------------------------------------


def capitals(data: object, **kwargs: object) -> Benchmark:
    return Benchmark("capitals", capability="geography", data=data, prompt="Capital of {country}?", target="capital",
                     scorer=scorers.includes(), **kwargs)  # type: ignore[arg-type]


def test_a_row_missing_a_prompt_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", JSONL + '{"land": "Kenya", "capital": "Nairobi"}\n')
    with pytest.raises(DatasetError) as info:
        capitals(str(path)).items()
    assert (info.value.line, info.value.field) == (3, "country")
    assert str(info.value) == f"{path}, line 3, field 'country': row has no field 'country' (fields: capital, land)"


def test_a_row_missing_the_target_field(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"line 2, field 'capital': row has no field 'capital'"):
        capitals(str(write(tmp_path, "d.csv", "country,city\nFrance,Paris\n"))).items()


def test_a_row_missing_a_field_of_a_python_list_names_its_position() -> None:
    with pytest.raises(DatasetError, match=r"<list of rows>, line 2, field 'country'"):
        capitals([ROWS[0], {"capital": "Tokyo"}]).items()


def test_items_do_not_carry_the_line_numbers(tmp_path: Path) -> None:
    items = capitals(str(write(tmp_path, "d.jsonl", JSONL))).items()
    assert [i.row for i in items] == ROWS
    assert [i.id for i in items] == [content_id(row) for row in ROWS]


def test_the_sample_is_seeded_sorted_and_stable() -> None:
    ids = [f"item-{i}" for i in range(1319)]
    first = sample_indices("gsm8k", ids, 5)
    assert first == sample_indices("gsm8k", ids, 5) == sorted(first)
    assert len(set(first)) == 5 and all(0 <= i < 1319 for i in first)
    assert sample_indices("mmlu", ids, 5) != first  # each benchmark its own sample
    assert sample_indices("gsm8k", ids[:4], 5) == [0, 1, 2, 3]
    assert sample_indices("gsm8k", ids[:4], None) == [0, 1, 2, 3]


def test_the_sample_follows_items_not_positions() -> None:
    ids = [f"item-{i}" for i in range(200)]
    chosen = {ids[i] for i in sample_indices("gsm8k", ids, 10)}
    # Removing, inserting and reordering rows outside the sample leaves it as it was.
    others = [i for i in ids if i not in chosen]
    edited = [*reversed([i for i in ids if i != others[0]]), "new-row"]
    assert {edited[i] for i in sample_indices("gsm8k", edited, 10)} == chosen


# -- whatever the bytes: a DatasetError or rows, never anything else ---------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


JSONISH = st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \\\n\r\tabcé€\x00', max_size=200)


def only_dataset_errors(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        rows = load_rows(path)
    except DatasetError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert rows and all(isinstance(r, dict) for r in rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400) | JSONISH.map(lambda s: s.encode("utf-8")))
@pytest.mark.parametrize("name", ["fuzz.jsonl", "fuzz.csv", "fuzz.json"])
def test_arbitrary_bytes_never_raise_anything_but_a_dataset_error(scratch: Path, name: str, content: bytes) -> None:
    only_dataset_errors(scratch / name, content)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20) | st.integers(), max_size=4),
                     min_size=1, max_size=6))
def test_any_written_jsonl_reads_back(scratch: Path, rows: list[dict]) -> None:
    path = scratch / "roundtrip.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert plain(load_rows(path)) == [{k: v for k, v in r.items() if k != "__line__"} for r in rows]
