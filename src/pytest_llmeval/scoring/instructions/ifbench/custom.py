"""IFBench's ``custom:*`` instructions, one prompt each: CSV tables, dates, multiple-choice
questions, lists and word games.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import string
import unicodedata
from itertools import pairwise

from ..registry import checker
from ..text import PUNCTUATION, bare_words, sentences


def _fold(text: str) -> str:
    """Accents removed: "São Tomé" -> "Sao Tome"."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, skipinitialspace=True))


@checker("custom:csv_city")
def csv_city(response: str) -> bool:
    """Comma-separated CSV: header ID, Country, City, Year, Count and exactly 7 rows of 5 fields."""
    rows = _csv_rows(response)
    return (len(rows) == 8 and [c.strip() for c in rows[0]] == ["ID", "Country", "City", "Year", "Count"]
            and all(len(row) == 5 for row in rows))


@checker("custom:csv_quotes")
def csv_quotes(response: str) -> bool:
    """Tab-separated: header StudentID, Subject, Grade, Semester, Score and 3 rows, every field in double quotes."""
    lines = [line for line in response.strip().splitlines() if line.strip()]
    if len(lines) != 4:
        return False
    fields = [[f.strip() for f in line.split("\t")] for line in lines]
    if any(len(row) != 5 for row in fields):
        return False
    if any(not (f.startswith('"') and f.endswith('"') and len(f) >= 2) for row in fields for f in row):
        return False
    return [f.strip('"') for f in fields[0]] == ["StudentID", "Subject", "Grade", "Semester", "Score"]


@checker("custom:csv_special_character")
def csv_special_character(response: str) -> bool:
    """Comma CSV: ProductID, Category, Brand, Price, Stock and 14 rows; some quoted field holds a special character."""
    rows = _csv_rows(response)
    if len(rows) != 15 or [c.strip() for c in rows[0]] != ["ProductID", "Category", "Brand", "Price", "Stock"]:
        return False
    if any(len(row) != 5 for row in rows):
        return False
    quoted = re.findall(r'"((?:[^"]|"")*)"', "\n".join(response.strip().splitlines()[1:]))
    return any(re.search(r"[^\w\s]", field.replace('""', '"')) for field in quoted)


@checker("custom:date_format_list")
def napoleon_dates(response: str) -> bool:
    """Only dates, YYYY-MM-DD, separated by commas, each a real date within Napoleon's lifetime (1769-1821)."""
    for part in response.strip().split(","):
        part = part.strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", part):
            return False
        try:
            day = datetime.date.fromisoformat(part)
        except ValueError:
            return False
        if not 1769 <= day.year <= 1821:
            return False
    return True


@checker("custom:mcq_count_length")
def four_growing_questions(response: str) -> bool:
    """Starts with "Question"; 4 questions of 5 options (A-E) each; each question longer than the one before."""
    text = response.strip()
    if not text.startswith("Question"):
        return False
    blocks = [b for b in re.split(r"(?m)^\s*Question\b\s*\d*\s*[.:)]?\s*", text) if b.strip()]
    if len(blocks) != 4:
        return False
    lengths = []
    for block in blocks:
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        options = [line for line in lines if re.match(r"^[A-Ea-e][.)]\s*\S", line)]
        question = " ".join(line for line in lines if line not in options)
        if len(options) != 5 or not question:
            return False
        lengths.append(len(question))
    return all(a < b for a, b in pairwise(lengths))


@checker("custom:multiples")
def multiples_of_seven(response: str) -> bool:
    """The numbers printed are exactly 14, 21, 28, 35, 42, 49, in order."""
    return re.findall(r"\d+", response) == ["14", "21", "28", "35", "42", "49"]


def _list_line(line: str) -> str:
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line)
    return line.strip(PUNCTUATION + " ")


@checker("custom:reverse_newline")
def african_countries_reversed(response: str) -> bool:
    """One country a line from Zimbabwe on, at least 50 lines, in reverse alphabetical order."""
    lines = [_fold(_list_line(line)) for line in response.splitlines() if _list_line(line)]
    start = next((i for i, line in enumerate(lines) if "Zimbabwe" in line), None)
    if start is None:
        return False
    listed = lines[start:]
    return len(listed) >= 50 and all(a.lower() >= b.lower() for a, b in pairwise(listed))


@checker("custom:sentence_alphabet")
def alphabet_story(response: str) -> bool:
    """Exactly 26 sentences, the first word of each starting with A, B, C... in order."""
    found = sentences(response)
    if len(found) != 26:
        return False
    initials = [s.lstrip(PUNCTUATION + " ")[:1].lower() for s in found]
    return "".join(initials) == string.ascii_lowercase


@checker("custom:word_reverse")
def reversed_answer(response: str) -> bool:
    """Read backwards word by word, the answer names the bald eagle."""
    return "bald eagle" in " ".join(reversed(bare_words(response)))

