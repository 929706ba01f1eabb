"""Published figures state their protocol, and are marked with whether the run asked their
benchmark the same way: same shots and kind of answer, a different one, or not known."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_llmeval.backends.recorded_sets import SETS
from pytest_llmeval.benchmarks.fewshot import CHAT_STYLES, protocol_label
from pytest_llmeval.published import PUBLISHED, mark_protocols, protocol_note, protocol_of_label, published_for


def test_every_figure_states_the_protocol_its_metric_names() -> None:
    for entry in PUBLISHED:
        protocol = entry["protocol"]
        named = re.search(r"(\d+)-shot", entry["metric"])
        if named is not None:
            assert protocol.startswith(f"{named.group(1)}-shot"), entry
        assert ("chain of thought" in protocol) == ("chain-of-thought" in entry["metric"]), entry
        assert protocol == "" or re.fullmatch(r"\d+-shot( chain of thought)?", protocol), entry


def test_the_survey_presets_have_figures_to_compare_with() -> None:
    mmlu = {e["model"]: e["protocol"] for e in published_for(["gpt-4", "gpt-3.5-turbo"], ["mmlu"])}
    assert mmlu == {"gpt-4": "5-shot", "gpt-3.5-turbo": "5-shot"}
    gsm8k = {e["model"]: e["protocol"] for e in published_for(["gpt-4", "gpt-3.5-turbo"], ["gsm8k"])}
    assert gsm8k == {"gpt-4": "5-shot chain of thought", "gpt-3.5-turbo": "5-shot"}


@pytest.mark.parametrize("shots", [1, 5, 8, 25])
@pytest.mark.parametrize("chain_of_thought", [False, True])
@pytest.mark.parametrize("style", CHAT_STYLES)
def test_a_run_label_reads_back_as_the_published_wording(shots: int, chain_of_thought: bool, style: Any) -> None:
    label = protocol_label(shots, chain_of_thought, style)
    expected = f"{shots}-shot" + (" chain of thought" if chain_of_thought else "")
    assert protocol_of_label(label) == expected
    assert protocol_of_label(None) == "0-shot"


def test_every_recorded_protocol_reads_as_shots_or_unknown() -> None:
    labels = {part.protocol for s in SETS for part in s.parts if part.protocol}
    read = {label: protocol_of_label(label) for label in labels}
    assert read["recorded, 8-shot chain of thought (Faithful-CoT's COT prompt)"] == "8-shot chain of thought"
    assert read["recorded, 8-shot answer only (Faithful-CoT's standard prompt)"] == "8-shot"
    assert read["recorded, zero-shot chain of thought, answer in \\boxed{} (Re-Reading baseline)"] == \
        "0-shot chain of thought"
    for label, protocol in read.items():
        assert protocol is None or re.fullmatch(r"\d+-shot( chain of thought)?", protocol), label


def marked(labels: dict[str, list[str | None]], models: tuple[str, ...] = ("gpt-4",)) -> dict[str, dict[str, Any]]:
    entries = mark_protocols(published_for(list(models), sorted(labels)), labels)
    return {f"{e['model']}/{e['benchmark']}": e for e in entries}


def test_same_and_different_protocols_are_marked() -> None:
    found = marked({"mmlu": ["5-shot (multi-turn)"], "gsm8k": ["8-shot chain of thought (multi-turn)"],
                    "humaneval": [None]})
    assert (found["gpt-4/mmlu"]["same_protocol"], found["gpt-4/mmlu"]["run_protocol"]) == (True, "5-shot")
    assert protocol_note(found["gpt-4/mmlu"]) == "same protocol (5-shot)"
    assert found["gpt-4/gsm8k"]["same_protocol"] is False
    assert protocol_note(found["gpt-4/gsm8k"]) == \
        "different protocol: 5-shot chain of thought (this run: 8-shot chain of thought)"
    assert protocol_note(found["gpt-4/humaneval"]) == "same protocol (0-shot)"
    zero = marked({"mmlu": [None, None]})
    assert protocol_note(zero["gpt-4/mmlu"]) == "different protocol: 5-shot (this run: 0-shot)"


def test_the_style_does_not_make_a_protocol_different() -> None:
    assert marked({"mmlu": ["5-shot (one message)"]})["gpt-4/mmlu"]["same_protocol"] is True


def test_unknown_and_mixed_protocols_are_said_and_never_called_the_same() -> None:
    mixed = marked({"mmlu": [None, "5-shot (multi-turn)"]})["gpt-4/mmlu"]
    assert mixed["same_protocol"] is None and mixed["run_protocol"] == "mixed: 0-shot; 5-shot"
    assert protocol_note(mixed) == "5-shot; this run's models differ: 0-shot; 5-shot"
    unknown = marked({"mmlu": ["recorded, with another system prompt"]})["gpt-4/mmlu"]
    assert unknown["same_protocol"] is None and protocol_note(unknown) == "5-shot; this run's protocol is not known"
    unstated = marked({"gsm8k": [None]}, ("mixtral-8x7b-instruct",))["mixtral-8x7b-instruct/gsm8k"]
    assert unstated["protocol"] == "" and unstated["same_protocol"] is None
    assert protocol_note(unstated) == "protocol not stated"


def test_figures_of_benchmarks_the_run_did_not_ask_stay_unmarked() -> None:
    [entry] = mark_protocols(published_for(["gpt-4"], ["mmlu"]), {"gsm8k": [None]})
    assert "same_protocol" not in entry and protocol_note(entry) == ""


def test_a_model_with_a_row_of_its_own_is_compared_with_its_own_protocol() -> None:
    # The candidates ran GSM8K 8-shot chain of thought; the baseline's recording is zero-shot
    # chain of thought: the baseline's published figure is compared with the baseline's own.
    labels = {"gsm8k": ["recorded, 8-shot chain of thought (Faithful-CoT's COT prompt)"]}
    own = {("gpt-4", "gsm8k"): labels["gsm8k"][0],
           ("gpt-3.5-turbo", "gsm8k"): "recorded, zero-shot chain of thought, answer in \\boxed{} (Re-Reading baseline)"}
    found = {e["model"]: e for e in mark_protocols(published_for(["gpt-4", "gpt-3.5-turbo"], ["gsm8k"]), labels, own)}
    assert protocol_note(found["gpt-4"]) == \
        "different protocol: 5-shot chain of thought (this run: 8-shot chain of thought)"
    assert protocol_note(found["gpt-3.5-turbo"]) == "different protocol: 5-shot (this run: 0-shot chain of thought)"
    # Without a row of its own, a model's figure is compared with how the candidates were asked.
    without = {e["model"]: e for e in mark_protocols(published_for(["gpt-3.5-turbo"], ["gsm8k"]), labels)}
    assert protocol_note(without["gpt-3.5-turbo"]) == "different protocol: 5-shot (this run: 8-shot chain of thought)"
