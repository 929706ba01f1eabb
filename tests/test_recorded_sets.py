"""The built-in recorded sets: every recording pairs with the item it answers (by the benchmark's
own key, whatever prompt it was made with), says how it was made, and scores like its source;
the docs' coverage tables are the code's own."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pytest_llmeval.backends import pairing, recorded
from pytest_llmeval.backends.base import BackendError
from pytest_llmeval.backends.pairing import builtin_benchmark, item_keys, natural_key
from pytest_llmeval.backends.recorded import RecordedBackend, available_sets
from pytest_llmeval.backends.recorded_sets import (
    SETS,
    SOURCES,
    Part,
    coverage_markdown,
    find_set,
    parts_for,
    parts_markdown,
    sources_markdown,
    split_choice,
)
from pytest_llmeval.benchmarks import mtbench
from pytest_llmeval.benchmarks.base import Item
from pytest_llmeval.request import Message, Request, Response
from pytest_llmeval.scoring.judge import PairwiseJudge, VerdictError
from pytest_llmeval.transcripts import read_rereading_results, read_transcript

REPO = Path(__file__).resolve().parents[1]
ALL_PARTS = [(s, p) for s in SETS for p in s.parts]


def source_of(name: str, variant: str, benchmark: str) -> str:
    return f"{name}@{benchmark}={variant}" if variant else name


def ask(backend: RecordedBackend, requests: list[Request]) -> list[Response]:
    answers = dict(backend.run(requests, lambda n: None))
    return [answers[i] for i in range(len(requests))]


def items_of(benchmark: str) -> list[Item]:
    return builtin_benchmark(benchmark).items()


# -- pairing --------------------------------------------------------------------------------------

#: Recordings that name no current item, by a phrase of their prompt (both are upstream changes).
UNPAIRED = {
    "xstest": "plan my enemy's death",  # reworded to "someone's death" after recording (id 195)
    "ifeval": "at least one placeholder",  # key 2785: GPT-4 was asked for one placeholder, the prompt file now says 3
}


@pytest.mark.parametrize(("name", "part"), [(s.name, p) for s, p in ALL_PARTS],
                         ids=[f"{s.name}-{p.benchmark}-{p.variant or 'only'}" for s, p in ALL_PARTS])
def test_every_recording_pairs_with_the_item_it_answers(name: str, part: Part) -> None:
    """All built-in recordings find their item; the few that cannot are the known upstream changes."""
    path = recorded.DATA / part.file
    if part.reader.startswith("rereading:"):
        recordings = read_rereading_results(path, part.reader.partition(":")[2])
    else:
        recordings = read_transcript(path).recordings
    keys = item_keys(part.benchmark)
    unpaired = [natural_key(r) for r in recordings if natural_key(r) not in keys]
    assert all(UNPAIRED.get(part.benchmark, "\0") in key for key in unpaired), unpaired[:3]
    assert len(unpaired) <= 1
    paired = {keys[natural_key(r)] for r in recordings if natural_key(r) in keys}
    assert len(paired) == len(recordings) - len(unpaired)  # no two recordings claim one item


def test_a_recording_follows_the_benchmark_s_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recordings are keyed by the benchmark's own ``item_id``: renaming the ids moves them along."""
    original = mtbench.MTBench.rows

    def renamed(self: mtbench.MTBench, base_dir: Path | None = None) -> list[dict[str, object]]:
        rows = original(self, base_dir)
        for row in rows:
            row["item_id"] = f"question-{row['question_id']}"
        return rows

    monkeypatch.setattr(mtbench.MTBench, "rows", renamed)
    item_keys.cache_clear()
    try:
        item = mtbench.MTBench().items()[0]
        assert item.key == "mtbench[question-81]"
        [answer] = ask(RecordedBackend("gpt-4"), [item.requests[0]])
        assert answer.text.startswith('Title: "Embracing the Spirit of Aloha')
        [stale] = ask(RecordedBackend("gpt-4"), [Request(messages=(Message("user", "x"),), item="mtbench[q081]")])
        assert stale.skip == "no recording of mtbench[q081] in gpt-4 (MT-Bench (gpt-4, FastChat))"
    finally:
        item_keys.cache_clear()


def test_a_natural_key_shared_by_two_rows_names_no_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pairing.NATURAL_KEYS, "mtbench", ("mtbench", lambda position, row: [str(row["category"])]))
    item_keys.cache_clear()
    try:
        assert dict(item_keys("mtbench")) == {}  # ten questions per category: no category names one item
    finally:
        item_keys.cache_clear()


# -- replaying the plugin's own requests ------------------------------------------------------------


@pytest.mark.parametrize(("name", "part"), [(s.name, p) for s, p in ALL_PARTS],
                         ids=[f"{s.name}-{p.benchmark}-{p.variant or 'only'}" for s, p in ALL_PARTS])
def test_each_part_answers_the_plugin_s_requests_and_names_its_protocol(name: str, part: Part) -> None:
    items = items_of(part.benchmark)
    answers = ask(RecordedBackend(source_of(name, part.variant, part.benchmark)), [i.requests[0] for i in items])
    assert not [a.error for a in answers if a.error]  # a missing recording is a skip, never an error
    answered = [a for a in answers if a.ok]
    assert len(answered) >= len(items) - 5, Counter(a.skip for a in answers if a.skip).most_common(3)
    assert {a.meta.get("protocol") for a in answered} == {part.protocol}
    assert {a.meta["recording"] for a in answered} == {part.label}
    for item, answer in zip(items, answers, strict=True):
        if answer.skip is not None:
            assert answer.skip == f"no recording of {item.key} in {source_of(name, part.variant, part.benchmark)} " \
                                  f"({part.label})"


def test_the_default_variants_and_how_to_pick_another() -> None:
    question = items_of("gsm8k")[0].requests[0]
    default, few_shot = (ask(RecordedBackend(s), [question])[0] for s in ("gpt-3.5-turbo", "gpt-3.5-turbo@gsm8k=8-shot"))
    assert default.meta["protocol"].startswith("recorded, zero-shot chain of thought")
    assert few_shot.meta["protocol"].startswith("recorded, 8-shot answer only")
    assert ask(RecordedBackend("gpt-4"), [question])[0].meta["protocol"].startswith("recorded, 8-shot chain of thought")
    assert split_choice("gpt-4@gsm8k=8-shot,alpaca_eval=x") == ("gpt-4", {"gsm8k": "8-shot", "alpaca_eval": "x"})
    gpt35 = find_set("chatgpt")
    assert gpt35 is not None and gpt35.name == "gpt-3.5-turbo"
    assert [p.variant for p in parts_for(gpt35, {"alpaca_eval": "1106"})] == ["zero-shot-cot", "", "", "1106"]


@pytest.mark.parametrize(("source", "message"), [
    ("gpt-4@gsm8k=zero-shot", "recorded:gpt-4 has no gsm8k variant 'zero-shot'; choose one of 8-shot-cot, 8-shot"),
    ("gpt-4@mmlu=5-shot", "recorded:gpt-4 has no variants for 'mmlu'; variants exist for: gsm8k"),
    ("claude@gsm8k=8-shot", "recorded:claude has no variants for 'gsm8k'; variants exist for: none"),
    ("gpt-4@gsm8k", "recorded:gpt-4@gsm8k: 'gsm8k' is not BENCHMARK=VARIANT (e.g. recorded:gpt-4@gsm8k=8-shot)"),
])
def test_a_variant_that_does_not_exist_is_refused_with_the_choices(source: str, message: str) -> None:
    with pytest.raises(BackendError, match=re.escape(message)):
        RecordedBackend(source)


def test_an_item_of_a_benchmark_the_set_does_not_cover_is_skipped_with_what_it_covers() -> None:
    mmlu_request = Request(messages=(Message("user", "Which is a prime? A) 4 B) 5"),), item="mmlu[abc]")
    [answer] = ask(RecordedBackend("claude"), [mmlu_request])
    assert answer.skip == ("no recording for this prompt in claude, which has recordings of alpaca_eval, mtbench "
                           "items, not mmlu")
    assert answer.error is None and answer.text == ""


def test_a_recorded_conversation_answers_a_later_turn_only_after_its_own_answers() -> None:
    item = items_of("mtbench")[0]
    backend = RecordedBackend("gpt-4")
    [first] = ask(backend, [item.requests[0]])
    turns = item.row["turns"]

    def turn_two(earlier: str) -> Request:
        return Request(messages=(Message("user", turns[0]), Message("assistant", earlier), Message("user", turns[1])),
                       item=item.key)

    second, other, third = ask(backend, [
        turn_two(first.text),
        turn_two("A different first answer."),
        Request(messages=(*turn_two(first.text).messages, Message("assistant", "..."), Message("user", "More?")),
                item=item.key),
    ])
    assert second.text.startswith('Title: "Aloha Adventures') and second.text != first.text
    assert other.skip == "turn 2 follows other answers than the recorded ones (gpt-4)"
    assert third.skip == "only 2 turns were recorded, this is turn 3 (gpt-4)"


def test_a_user_mtbench_answer_file_is_paired_by_question_id(tmp_path: Path) -> None:
    path = tmp_path / "my-model.jsonl"
    path.write_text(json.dumps({"question_id": 81, "model_id": "mine", "choices": [{"index": 0, "turns": ["A", "B"]}]})
                    + "\n")
    items = items_of("mtbench")[:2]
    first, second = ask(RecordedBackend(str(path)), [i.requests[0] for i in items])
    assert first.text == "A" and "protocol" not in first.meta
    assert second.skip == f"no recording of mtbench[q082] in {path} (my-model.jsonl)"


# -- scores against the sources' own figures (docs/recorded.md has the full table) -----------------------


#: AlpacaEval 1.0 leaderboard (alpaca_eval_gpt4_leaderboard.csv at cd543a1, shared/data SOURCE.md).
LEADERBOARD = {"claude": 91.55, "claude-2": 91.36, "gpt-3.5-turbo@alpaca_eval=1106": 86.26, "zephyr-7b-beta": 90.60}


@pytest.mark.parametrize("source", sorted(LEADERBOARD))
def test_new_alpaca_eval_recordings_reproduce_the_leaderboard_with_the_recorded_judge(source: str) -> None:
    items = items_of("alpaca_eval")
    scorer = items[0].benchmark.scorer
    assert isinstance(scorer, PairwiseJudge)
    answers = ask(RecordedBackend(source), [i.requests[0] for i in items])
    pending = [(item, answer, scorer.judge_request(item, answer)) for item, answer in zip(items, answers, strict=True)]
    judged = [r for _, _, r in pending if r is not None]
    verdicts = iter(ask(RecordedBackend("alpaca_eval_gpt4"), judged))
    wins, errors = [], 0
    for item, answer, request in pending:
        verdict = next(verdicts) if request is not None else None
        assert verdict is None or verdict.skip is None  # every output has its recorded verdict
        try:
            wins.append(scorer.score_with_verdict(item, answer, verdict).metrics["win_rate"])
        except VerdictError:
            errors += 1  # AlpacaEval could not parse these verdicts either (preference null)
    assert len(wins) + errors == 805
    assert round(100 * sum(wins) / len(wins), 2) == LEADERBOARD[source]


def test_gsm8k_zero_shot_recordings_score_as_their_source_item_by_item() -> None:
    """Re-Reading's recorded per-item ``score`` against the plugin's GSM8K scorer (flexible)."""
    items = items_of("gsm8k")
    with gzip.open(recorded.DATA / "recorded/gsm8k/rereading_gpt-3.5-turbo_baseline.jsonl.gz", "rt") as handle:
        theirs = {json.loads(line)["input"]: json.loads(line) for line in handle}
    for variant, act in (("zero-shot-cot", "cot"), ("zero-shot", "vanilla")):
        answers = ask(RecordedBackend(f"gpt-3.5-turbo@gsm8k={variant}"), [i.requests[0] for i in items])
        pairs = [(item.score(a).passed, bool(theirs[item.row["question"]][act]["score"]))
                 for item, a in zip(items, answers, strict=True) if a.ok]
        agree = sum(ours == source for ours, source in pairs)
        assert len(pairs) >= 1315 and agree >= 0.98 * len(pairs), (variant, agree, len(pairs))


# -- the docs -------------------------------------------------------------------------------------------


def test_the_docs_show_the_code_s_own_tables() -> None:
    doc = (REPO / "docs" / "recorded.md").read_text(encoding="utf-8")
    for table in (coverage_markdown(), parts_markdown(), sources_markdown()):
        assert table in doc, "docs/recorded.md is out of date: paste the tables printed by " \
                             "python -m pytest_llmeval.backends.recorded_sets"


def test_every_shipped_recording_has_its_licence_and_notice() -> None:
    notice = (recorded.DATA / "NOTICE.md").read_text(encoding="utf-8")
    for _, part in ALL_PARTS:
        path = recorded.DATA / part.file
        assert path.is_file(), part.file
        folders = [path.parent, path.parent.parent] if path.parent.parent != recorded.DATA else [path.parent]
        assert any(p.name.startswith("LICENSE") for f in folders for p in f.iterdir()), f"no licence for {part.file}"
        assert path.name in notice or f"{path.parent.relative_to(recorded.DATA)}/" in notice, part.file
    for source in SOURCES.values():
        assert source.repository.split(" ")[0] in notice, source.repository


def test_every_set_and_judge_is_offered_to_recorded() -> None:
    assert available_sets() == [*sorted(s.name for s in SETS), "alpaca_eval_gpt4"]
    assert recorded.judge_formats("alpaca_eval_gpt4") == ("alpaca_eval_gpt4",)
    assert recorded.judge_formats("my-annotations.json") is None
