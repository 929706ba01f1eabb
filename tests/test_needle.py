"""Needle in a haystack: seeded items, lengths, depths, the planted fact, the scorer."""

from __future__ import annotations

import re

import pytest

from pytest_llmeval.benchmarks import needle
from pytest_llmeval.benchmarks.needle import (
    CITIES,
    RESERVED_TOKENS,
    TOKENS_PER_WORD,
    Needle,
    find_number,
    generate_haystack_text,
    length_label,
)
from pytest_llmeval.request import Response
from pytest_llmeval.shipped import shipped


def document_of(item: needle.Item) -> str:
    text = item.requests[0].messages[-1].content
    return text.split("<document>\n", 1)[1].split("\n</document>", 1)[0]


def test_default_grid() -> None:
    bench = needle.benchmarks()[0]
    items = bench.items()
    assert bench.name == "needle" and bench.capability == "long_context"
    assert len(items) == 4 * 5
    assert [i.id for i in items[:5]] == ["1k-depth000", "1k-depth025", "1k-depth050", "1k-depth075", "1k-depth100"]
    assert sorted({i.subset for i in items}) == ["1k", "2k", "4k", "8k"]


def test_max_context_caps_the_lengths() -> None:
    assert Needle(max_context=4096).lengths == (1024, 2048, 4096)
    assert len(needle.benchmarks(max_context=2048)[0].items()) == 10
    with pytest.raises(ValueError, match="max_context=512"):
        Needle(max_context=512)


def test_lengths_and_depths_are_parameters() -> None:
    bench = Needle(lengths=(3000, 16384), depths=(10, 90), samples=2)
    ids = [i.id for i in bench.items()]
    assert ids[:4] == ["3k-depth010-0", "3k-depth010-1", "3k-depth090-0", "3k-depth090-1"]
    assert {i.subset for i in bench.items()} == {"3k", "16k"}
    with pytest.raises(ValueError, match="percentages"):
        Needle(depths=(120,))


def test_labels() -> None:
    assert [length_label(n) for n in (1024, 2048, 8192, 3000, 1536, 131072)] == ["1k", "2k", "8k", "3k", "1.5k", "128k"]


def test_items_are_the_same_every_run() -> None:
    first = [i.requests for i in Needle().items()]
    again = [i.requests for i in Needle().items()]
    assert first == again
    other = [i.requests for i in Needle(seed=1).items()]
    assert other != first


@pytest.mark.parametrize("item", Needle().items(), ids=lambda i: i.id)
def test_the_needle_is_planted_once_at_its_depth(item: needle.Item) -> None:
    row = item.row
    planted = f"The special magic number for {row['city']} is {row['number']}."
    document = document_of(item)
    assert document.count(planted) == 1
    assert item.requests[0].messages[-1].content.count(row["number"]) == 1
    assert row["city"] in CITIES and item.target == row["number"] and len(row["number"]) == 6
    position = document.index(planted) / len(document)
    assert abs(position - row["depth"] / 100) < 0.03, position
    # The document fills its token budget (by the words-times-1.3 rule) to within a sentence.
    budget = (row["length"] - RESERVED_TOKENS) / TOKENS_PER_WORD
    assert budget - 30 <= len(document.split()) <= budget
    assert item.requests[0].messages[-1].content.rstrip().endswith("Answer with the number only.")


def test_depth_extremes() -> None:
    items = {i.id: i for i in Needle(lengths=(1024,), depths=(0, 100)).items()}
    assert document_of(items["1k-depth000"]).startswith("The special magic number for")
    assert re.search(r"The special magic number for [^.]+ is \d{6}\.$", document_of(items["1k-depth100"]))


def test_the_shipped_haystack_is_our_own_generated_text() -> None:
    text = shipped("needle/haystack.txt").read_text(encoding="utf-8")
    assert text == generate_haystack_text()
    assert not re.search(r"\d", text), "digits in the haystack could be mistaken for the answer"
    assert "magic" not in text
    assert not any(city in text for city in CITIES)
    assert len(text.split()) >= 60_000


def test_a_custom_haystack() -> None:
    text = " ".join(f"Sentence number {word} is here." for word in ["one", "two", "three"] * 200)
    item = Needle(lengths=(1024,), depths=(50,), haystack=text).items()[0]
    assert "Sentence number" in document_of(item)
    with pytest.raises(ValueError, match="ten sentences"):
        Needle(haystack="Too short.")


SCORER_CASES = [
    ("482913", True),
    ("The special magic number for Lisbon is 482913.", True),
    ("**482,913**", True),
    ("482 913", True),
    ("Answer: 482913\n", True),
    ("It is 482914.", False),
    ("48291", False),
    ("1482913", False),
    ("I could not find it.", False),
    ("", False),
]


@pytest.mark.parametrize(("text", "passed"), SCORER_CASES)
def test_scorer(text: str, passed: bool) -> None:
    item = Needle(lengths=(1024,), depths=(0,)).items()[0]
    object.__setattr__(item, "target", "482913")
    score = item.score(Response(text=text))
    assert score.passed is passed
    assert score.expected == "482913"


def test_find_number_reports_what_it_found() -> None:
    assert find_number("It was 482,913 all along", "482913") == "482,913"
    assert find_number("ids 12 and 482913", "482913") == "482913"
    assert find_number("nothing", "482913") is None
