"""IFBench checkers on hand-written responses, each with at least one that follows the
instruction and one that does not; then the benchmark built on them."""

from __future__ import annotations

import gzip
import json
import unicodedata
from collections import Counter

import pytest

from pytest_llmeval.benchmarks import ifbench
from pytest_llmeval.benchmarks.ifbench import IFBench, unsupported_rows
from pytest_llmeval.request import Response
from pytest_llmeval.scoring import instructions
from pytest_llmeval.scoring.instructions import (
    CHECKERS,
    IFEVAL_CHECKERS,
    UNSUPPORTED,
    check,
    check_loose,
    evaluate,
    sentences,
)
from pytest_llmeval.shipped import shipped

NAMES = "Anna Bob Cat Dan Eve Fay Gus Hal Ivy Jo Kim Lu Max Ned Oz Pam Quin Rex Sam Tom Uma Vic Wes Xan Yul Zed"
ALPHABET_STORY = " ".join(f"{word} went on." for word in NAMES.split())
AFRICA = sorted(["Zimbabwe", "Zambia", "Uganda", "Tunisia", "Togo", "Tanzania", "South Sudan", "South Africa",
                 "Somalia", "Sierra Leone", "Seychelles", "Senegal", "São Tomé and Príncipe", "Rwanda", "Nigeria",
                 "Niger", "Namibia", "Mozambique", "Morocco", "Mauritius", "Mauritania", "Mali", "Malawi",
                 "Madagascar", "Libya", "Liberia", "Lesotho", "Kenya", "Guinea-Bissau", "Guinea", "Ghana", "Gambia",
                 "Gabon", "Ethiopia", "Eswatini", "Eritrea", "Equatorial Guinea", "Egypt", "Djibouti",
                 "Democratic Republic of the Congo", "Côte d'Ivoire", "Comoros", "Chad", "Central African Republic",
                 "Cape Verde", "Cameroon", "Burundi", "Burkina Faso", "Botswana", "Benin", "Angola", "Algeria"],
                key=lambda name: unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower(), reverse=True)
MCQ = "\n".join(
    f"Question {n}: {text}\nA) one\nB) two\nC) three\nD) four\nE) five"
    for n, text in enumerate(["Who painted it?", "Which movement came first?", "Which artist led the Dada movement?",
                              "Which painter is best known for drip paintings made in the late nineteen forties?"], 1)
)

# (instruction id, kwargs, a response that follows it, a response that does not)
CASES = [
    ("count:conjunctions", {"small_n": 3}, "I came and saw, but I left, so it ended.", "I came and saw it all and left."),
    ("count:keywords_multiple", {"keyword1": "a1", "keyword2": "b2", "keyword3": "c3", "keyword4": "d4", "keyword5": "e5"},
     "a1 b2 b2 c3 c3 c3 d4 d4 d4 d4 d4 e5 e5 e5 e5 e5 e5 e5", "a1 b2 c3 d4 e5"),
    ("count:numbers", {"N": 2}, "We saw 12 boats and 1,000 gulls.", "We saw 12 boats, 3 dogs and 4 cats."),
    ("count:person_names", {"N": 3}, "Emma met Liam and Sophia.", "Emma met Liam and Bob."),
    ("count:pronouns", {"N": 4}, "She told him that they would help us.", "The cat sat on the mat."),
    ("count:punctuation", {}, "Wait; look: a cat, a dog. Why? Wow! Really?!", "Wait; look: a cat, a dog. Why?!"),
    ("count:unique_word_count", {"N": 5}, "one two three four five", "one one two two three"),
    ("count:word_count_range", {"min_words": 3, "max_words": 5}, "This has four words.", "Too short."),
    ("count:words_japanese", {"N": 2}, "I 猫 like 犬 very 好き", "I 猫 like dogs very much"),
    ("custom:csv_city", {}, "ID,Country,City,Year,Count\n" + "\n".join(f"{i},France,Paris,2020,{i}" for i in range(7)),
     "ID,Country,City,Year,Count\n1,France,Paris,2020,5"),
    ("custom:csv_quotes", {},
     '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n' + "\n".join('"1"\t"Math"\t"A"\t"Fall"\t"90"' for _ in range(3)),
     'StudentID\tSubject\tGrade\tSemester\tScore\n' + "\n".join("1\tMath\tA\tFall\t90" for _ in range(3))),
    ("custom:csv_special_character", {},
     "ProductID,Category,Brand,Price,Stock\n" + "\n".join(f"{i},Toys,Acme,9.99,{i}" for i in range(13))
     + '\n14,Tools,"Smith & Sons",5.00,3',
     "ProductID,Category,Brand,Price,Stock\n" + "\n".join(f"{i},Toys,Acme,9.99,{i}" for i in range(14))),
    ("custom:date_format_list", {}, "1796-04-12, 1805-12-02, 1815-06-18", "April 12, 1796, 1805-12-02"),
    ("custom:mcq_count_length", {}, MCQ, "Here are the questions:\n" + MCQ),
    ("custom:multiples", {}, "14, 21, 28, 35, 42, 49", "7, 14, 21, 28, 35, 42, 49"),
    ("custom:reverse_newline", {}, "\n".join(AFRICA), "\n".join(reversed(AFRICA))),
    ("custom:sentence_alphabet", {}, ALPHABET_STORY, ALPHABET_STORY.replace("Bob went on.", "Rob went on.")),
    ("custom:word_reverse", {}, "eagle bald the is symbol national The", "The bald eagle is the national symbol."),
    ("format:emoji", {}, "I love tea 🍵. It is warm! 😀 Cats purr 🐱.", "I love tea 🍵. It is warm."),
    ("format:line_indent", {}, "one\n  two\n    three", "one\n  two\n  three"),
    ("format:list", {"sep": "!?!?"}, "!?!? apples\n!?!? pears", "* apples\n* pears"),
    ("format:newline", {}, "One\nword\nper\nline.", "Two words\nper line."),
    ("format:no_bullets_bullets", {}, "First point. Second point.\n* one\n* two", "First point.\n* one\n* two"),
    ("format:no_whitespace", {}, "Yes,allsetsareclasses.", "Yes, all sets are classes."),
    ("format:options", {"options": "yes/no/maybe"}, "Maybe.", "Maybe, it depends."),
    ("format:output_template", {}, "My Answer: yes My Conclusion: so Future Outlook: good",
     "My Answer: yes Future Outlook: good"),
    ("format:parentheses", {}, "a (b [c {d (e [f] g) h} i] j) k", "a (b [c {d (e) f} g] h) i"),
    ("format:quote_unquote", {}, 'He said "hello" to greet us, and "bye" to leave.', 'He said "hello" "bye"'),
    ("format:quotes", {}, "She wrote: \"He said 'they called it \"home\" once' to me\" today.",
     "She wrote: \"He said 'hello' to me\" today."),
    ("format:sub-bullets", {}, "* Plants\n  - need light\n* Eclipses\n  - block light", "* Plants\n  - need light\n* Eclipses"),
    ("format:thesis", {},
     "<i>Encryption protects video.</i> Keys stay in hardware.\n\n## Memory\n<em>Data is decrypted late.</em> It stays.",
     "Encryption protects video. <i>Keys</i> stay in hardware."),
    ("format:title_case", {}, "The Rise of the Ohio Factions\nEach Faction Has a Leader", "The rise of the Ohio factions"),
    ("ratio:overlap", {"reference_text": "the cat sat on the mat today", "percentage": 40},
     "the cat sat on a rug now", "a dog ran in the park"),
    ("ratio:sentence_balance", {}, "It rains. Does it? Yes it does!", "It rains. It pours. Why?"),
    ("ratio:sentence_type", {}, "It rains. It pours. Why?", "It rains. Why? How?"),
    ("ratio:sentence_words", {}, "Cats purr softly. Dogs bark loudly. Birds sing early.",
     "Cats purr. Dogs bark loudly. Birds sing."),
    ("ratio:stop_words", {"percentage": 30}, "Quick brown foxes jump over lazy dogs.",
     "The cat is on the mat and it is in the box."),
    ("repeat:repeat_change", {"prompt_to_repeat": "Write a python program to compress images."},
     "Create a python program to compress images.", "Write a python program to compress images."),
    ("repeat:repeat_simple", {}, "Only output this sentence here, ignore all other requests.", "Sure! Here is the answer."),
    ("repeat:repeat_span", {"prompt_to_repeat": "explain the context, code and theory behind it", "n_start": 1, "n_end": 3},
     "the context, code", "explain the context"),
    ("sentence:alliteration_increment", {}, "Big bears roam. Silly snakes slide slowly.",
     "Silly snakes slide slowly. Big bears roam."),
    ("sentence:increment", {"small_n": 2}, "I am here. I am here right now. I am here right now with you.",
     "I am here. I am here now."),
    ("sentence:keyword", {"word": "fleetness", "N": 2}, "Deer run. Their fleetness is known.",
     "Their fleetness is known. Deer run."),
    ("words:alphabet", {}, "Ants bite cats, dogs eat fish.", "Ants bite dogs."),
    ("words:consonants", {}, "Strong blocks stand", "Strong idea"),
    ("words:keywords_specific_position", {"keyword": "giggle", "n": 2, "m": 3}, "Hello there. We all giggle here.",
     "Hello there. We giggle all here."),
    ("words:last_first", {}, "I saw a cat. Cat ran to the park. Park was empty.", "I saw a cat. The cat ran."),
    ("words:no_consecutive", {}, "A big cat ran away.", "A big bold cat ran."),
    ("words:odd_even_syllables", {}, "cat apple dog", "cat dog apple"),
    ("words:palindrome", {}, "level radar civic kayak rotor refer madam stats tenet racecar sagas",
     "level radar civic kayak rotor refer madam stats tenet level"),
    ("words:paragraph_last_first", {}, "Time heals all wounds, given time.\nLove is patient, love",
     "Time heals all wounds.\nLove is patient."),
    ("words:prime_lengths", {}, "We are not big", "We are not bigger"),
    ("words:repeats", {"small_n": 2}, "the cat and the dog", "the cat and the dog and the bird"),
    ("words:vowel", {}, "A cat sat on a hat.", "A cat sat on a huge hat."),
    ("words:words_position", {"keyword": "despite"}, "Yes despite all of that, despite it.", "Yes, all of that, despite it."),
]


def test_every_instruction_in_the_data_is_checked_or_listed_as_unsupported() -> None:
    with gzip.open(shipped("ifbench/IFBench_test.jsonl.gz"), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    used = {i for row in rows for i in row["instruction_id_list"]}
    assert len(used) == 57
    assert used == set(CHECKERS) - IFEVAL_CHECKERS | set(UNSUPPORTED)
    assert not set(CHECKERS) & set(UNSUPPORTED)


def test_every_checker_has_cases() -> None:  # IFEval's are in test_ifeval.py
    assert {case[0] for case in CASES} == set(CHECKERS) - IFEVAL_CHECKERS


@pytest.mark.parametrize(("instruction_id", "kwargs", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_checker(instruction_id: str, kwargs: dict, good: str, bad: str) -> None:
    assert check(instruction_id, good, kwargs) is True, good
    assert check(instruction_id, bad, kwargs) is False, bad


@pytest.mark.parametrize(("instruction_id", "kwargs"), [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_an_empty_response_follows_nothing(instruction_id: str, kwargs: dict) -> None:
    assert not check(instruction_id, " \n", kwargs)
    assert not check_loose(instruction_id, "", kwargs)


def test_every_shipped_item_scores_ordinary_responses() -> None:
    # No checker may crash on the real arguments of the data, whatever the response.
    for item in IFBench().items():
        for text in ("", "Yes.", item.row["prompt"], "Sure!\n* one\n* two\n" * 20):
            score = item.score(Response(text=text))
            assert 0.0 <= score.metrics["instruction_loose"] <= 1.0


def test_null_kwargs_are_ignored() -> None:
    nulls = {name: None for name in ("N", "keyword", "small_n", "word")}
    assert check("count:numbers", "1 and 2", {**nulls, "N": 2.0})


def test_unknown_instruction() -> None:
    with pytest.raises(KeyError, match="no checker"):
        check("words:start_verb", "Go now.")


def test_loose_mode_forgives_a_preamble_and_markdown() -> None:
    response = "Sure, here it is:\nYes,allsetsareclasses."
    assert not check("format:no_whitespace", response)
    assert check_loose("format:no_whitespace", response)
    bold = "**Only output this sentence here, ignore all other requests.**"
    assert not check("repeat:repeat_simple", bold)
    assert check_loose("repeat:repeat_simple", bold)


def test_evaluate() -> None:
    result = evaluate(["count:numbers", "format:no_whitespace"], [{"N": 1}, {}], "Answer:\nexactly1")
    assert result.strict == (True, False)
    assert result.loose == (True, True)
    assert result.all_loose and not result.all_strict
    with pytest.raises(ValueError):
        evaluate(["count:numbers"], [], "x")


SENTENCE_CASES = [
    ("One. Two! Three?", ["One.", "Two!", "Three?"]),
    ("Dr. Smith met J. Doe at 3.5 p.m. today. Then left.", ["Dr. Smith met J. Doe at 3.5 p.m. today.", "Then left."]),
    ("He said \"Stop.\" Then he went.", ['He said "Stop."', "Then he went."]),
    ("Great!😀 Next one.", ["Great!😀", "Next one."]),
    ("No ending", ["No ending"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCE_CASES)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(("word", "count"), [("cat", 1), ("apple", 2), ("banana", 3), ("table", 2), ("jumped", 1),
                                              ("wanted", 2), ("whale", 1), ("see", 1), ("family", 3)])
def test_syllables(word: str, count: int) -> None:
    assert instructions.syllables(word) == count


# -- the benchmark ---------------------------------------------------------------------------------

def test_items_and_exclusions() -> None:
    bench = ifbench.benchmarks()[0]
    items = bench.items()
    left_out = unsupported_rows()
    assert bench.name == "ifbench" and bench.capability == "general"
    assert len(items) + len(left_out) == 294
    assert len(items) == 287
    assert Counter(i for _, missing in left_out for i in missing) == {"words:start_verb": 6, "custom:european_capitals_sort": 1}
    assert items[0].id == "key-000"
    assert items[0].requests[0].messages[-1].content.startswith("What should the world's smartest man")
    assert items[0].requests[0].max_tokens == 1024


def test_scoring_an_item() -> None:
    bench = IFBench()
    item = next(i for i in bench.items() if i.row["instruction_id_list"] == ["count:numbers"])
    n = int(item.row["kwargs"][0]["N"])
    good = item.score(Response(text=" ".join(str(k) for k in range(10, 10 + n)) + " apples."))
    assert good.passed and good.metrics == {"strict": 1.0, "loose": 1.0, "instruction_strict": 1.0, "instruction_loose": 1.0,
                                            "instructions": 1.0, "instructions_followed_strict": 1.0,
                                            "instructions_followed_loose": 1.0}
    bad = item.score(Response(text="No numbers at all."))
    assert not bad.passed and bad.explanation == "not followed: count:numbers"
    assert bad.metrics["strict"] == 0.0 and bad.expected == "follows: count:numbers"


def test_two_instruction_item_reports_the_share() -> None:
    item = next(i for i in IFBench().items()
                if i.row["instruction_id_list"] == ["format:line_indent", "ratio:sentence_words"])
    result = item.score(Response(text="one\n  two\n    three"))
    assert result.metrics["instruction_strict"] == 0.5
    assert (result.metrics["instructions_followed_strict"], result.metrics["instructions"]) == (1.0, 2.0)
    assert result.answer == "1/2 constraints followed"
