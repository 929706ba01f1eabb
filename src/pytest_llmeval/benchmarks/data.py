"""Reading benchmark rows from where users keep them, with errors that say where and what.

Local JSONL and CSV are read here line by line (fast, and every error names the line);
Parquet and hub datasets go through ``datasets``, imported only when such a source is used.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Union

Row = dict[str, Any]
DataSource = Union[str, Path, Iterable[Mapping[str, Any]], Callable[[], Iterable[Mapping[str, Any]]]]

#: The key under which readers keep a row's line number (for messages); never part of its content.
LINE = "__line__"

#: Rows longer than this are refused: a runaway row is almost always a broken file.
MAX_ROW_BYTES = 8 * 1024 * 1024


class DatasetError(Exception):
    """A benchmark's data cannot be used. The message names the file, the row and the field."""

    def __init__(self, source: str, message: str, *, line: int | None = None, field: str | None = None):
        where = source if line is None else f"{source}, line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.field = field


def describe_source(source: DataSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return f"<{type(source).__name__} of rows>"


def load_rows(source: DataSource, base_dir: Path | None = None, split: str = "test") -> list[Row]:
    """All rows of ``source`` in file order.

    ``source`` is a path (``.jsonl``, ``.json``, ``.csv``, ``.parquet``, optionally ``.gz``),
    ``hf:OWNER/NAME`` (a hub dataset, read with ``datasets.load_dataset`` for ``split``), an
    iterable of mappings, or a callable returning one. Relative paths are resolved against
    ``base_dir`` (the directory of the test file that defines the benchmark).
    """
    if callable(source) and not isinstance(source, (str, Path)):
        source = source()
    if isinstance(source, str) and source.startswith("hf:"):
        return _load_hub(source[3:], split)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return _load_file(path)
    rows = []
    for index, row in enumerate(source):
        if not isinstance(row, Mapping):
            raise DatasetError(describe_source(source), f"row {index} is a {type(row).__name__}, not a mapping")
        rows.append(dict(row))
    if not rows:
        raise DatasetError(describe_source(source), "has no rows")
    return rows


def _load_file(path: Path) -> list[Row]:
    if not path.exists():
        raise DatasetError(str(path), "no such file (relative paths are resolved against the test file's directory)")
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix == ".parquet":
        return _load_parquet(path)
    if suffix not in (".jsonl", ".json", ".csv"):
        raise DatasetError(str(path), f"unsupported file type {suffix!r}: use .jsonl, .json, .csv or .parquet")
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
    with raw:
        try:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            if suffix == ".jsonl":
                rows = _read_jsonl(text, str(path))
            elif suffix == ".json":
                rows = _read_json(text, str(path))
            else:
                rows = _read_csv(text, str(path))
        except UnicodeDecodeError as exc:
            raise DatasetError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(str(path), f"cannot be read: {exc}") from None
    if not rows:
        raise DatasetError(str(path), "has no rows")
    return rows


def _read_jsonl(text: IO[str], source: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text, start=1):
        if len(line) > MAX_ROW_BYTES:
            raise DatasetError(source, f"row is {len(line):,} characters, over the {MAX_ROW_BYTES:,} limit", line=number)
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(source, f"not valid JSON ({exc.msg} at column {exc.colno})", line=number) from None
        except (ValueError, RecursionError) as exc:  # numbers too long, nesting too deep
            raise DatasetError(source, f"not usable JSON ({type(exc).__name__}: {str(exc)[:120]})", line=number) from None
        if not isinstance(row, dict):
            raise DatasetError(source, f"each line must be a JSON object, found {type(row).__name__}", line=number)
        if "\\ud" in line or "\\uD" in line:
            _check_encodable(row, source, number)
        row[LINE] = number
        rows.append(row)
    return rows


def _check_encodable(row: Row, source: str, number: int) -> None:
    """A JSON escape can smuggle in a lone surrogate, which no UTF-8 writer (the cache) accepts."""
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(source, "contains an unpaired surrogate escape (e.g. \\ud800): not valid Unicode text", line=number) from None


def _read_json(text: IO[str], source: str) -> list[Row]:
    try:
        data = json.load(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(source, f"not valid JSON ({exc.msg})", line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise DatasetError(source, f"not usable JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if isinstance(data, dict):
        # Common layouts: {"examples": [...]} or {"data": [...]}.
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DatasetError(source, "a .json file must hold a list of objects (or an object with one list)")
        data = lists[0]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DatasetError(source, "a .json file must hold a list of objects")
    return [dict(r) for r in data]


def _read_csv(text: IO[str], source: str) -> list[Row]:
    reader = csv.DictReader(text)
    rows = []
    try:
        for row in reader:
            if None in row:
                raise DatasetError(source, f"has more cells than the header's {len(reader.fieldnames or [])} columns", line=reader.line_num)
            row_dict: Row = dict(row)
            row_dict[LINE] = reader.line_num
            rows.append(row_dict)
    except csv.Error as exc:
        raise DatasetError(source, f"malformed CSV ({exc})", line=reader.line_num) from None
    return rows


def _load_parquet(path: Path) -> list[Row]:
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        raise DatasetError(str(path), "reading Parquet needs the 'datasets' package: pip install datasets") from None
    try:
        table = datasets.Dataset.from_parquet(str(path))
    except Exception as exc:
        raise DatasetError(str(path), f"cannot be read as Parquet: {exc}") from None
    return [dict(r) for r in table]


def _load_hub(name: str, split: str) -> list[Row]:
    try:
        import datasets
    except ImportError:  # pragma: no cover
        raise DatasetError(f"hf:{name}", "hub datasets need the 'datasets' package: pip install datasets") from None
    repo, _, config = name.partition(":")
    try:
        table = datasets.load_dataset(repo, config or None, split=split)
    except Exception as exc:
        raise DatasetError(
            f"hf:{name}",
            f"cannot be loaded for split {split!r}: {exc}. Offline? Export it to a local JSONL file instead.",
        ) from None
    return [dict(r) for r in table]
