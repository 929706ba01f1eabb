"""Reading recorded model outputs and judge verdicts from the formats they are published in.

Seven formats are recognised by their fields, in any file type :func:`load_rows` reads
(``.jsonl``, ``.json``, ``.csv``, each optionally ``.gz``):

========================  ==============================================  ====================
format                    fields of each row                              gives
========================  ==============================================  ====================
plugin JSONL export       ``prompt``, ``response``                        :class:`Recording`
XSTest completions        ``prompt``, ``completion`` (and labels)         :class:`Recording`
AlpacaEval model outputs  ``instruction``, ``output`` (``generator``)     :class:`Recording`
AlpacaEval annotations    ``instruction``, ``output_1``, ``output_2``,    :class:`Verdict`
                          ``preference``
MT-Bench model answers    ``question_id``, ``choices`` (each with         :class:`Recording`
                          ``turns``)                                      (all turns)
HumanEval solutions       ``task_id`` and ``solution`` (Reflexion) or     :class:`Recording`
                          ``responses`` (MapCoder: the last one)
GSM8K predictions         ``id`` (the test row's 0-based position),       :class:`Recording`
                          ``completion`` (Faithful-CoT)
========================  ==============================================  ====================

A :class:`Recording` is one prompt (the text of the last user message) and the model's reply;
the last three formats name their item by the benchmark's own key instead of its prompt
(:attr:`Recording.key`, with :attr:`Transcript.benchmark` saying whose key), and
:mod:`pytest_llmeval.backends.pairing` finds the item it names. A :class:`Verdict` is one
pairwise judgement (which of two outputs a judge preferred), which
:mod:`pytest_llmeval.backends.recorded` turns into the reply a judge model would have given.
:func:`read_rereading_results` reads the Re-Reading project's GSM8K result files, which hold
two protocols per row.

Example::

    recordings = read_transcript("xstest_v2_completions_gpt4.csv").recordings
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .benchmarks.data import LINE, DatasetError, load_rows

TranscriptFormat = Literal["jsonl-export", "xstest-completions", "alpaca-eval-outputs", "alpaca-eval-annotations",
                           "mtbench-answers", "humaneval-solutions", "gsm8k-predictions"]

_SQLITE_MAGIC = b"SQLite format 3\x00"


class TranscriptError(Exception):
    """A transcript file cannot be used; the message names the file (and the row) and says why."""


@dataclass(frozen=True)
class Recording:
    """One recorded exchange: the user's prompt and the model's reply, as recorded.

    ``key`` names the item when the source names it by the benchmark's own key rather than by
    its prompt text (``prompt`` is then empty): an MT-Bench ``question_id`` (``"81"``), a
    HumanEval ``task_id`` (``"HumanEval/0"``) or a GSM8K test row's position (``"line 12"``,
    0-based). ``followups`` are the replies to the conversation's later turns, in order
    (MT-Bench's second question).
    """

    prompt: str
    response: str
    key: str | None = None
    followups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """One recorded pairwise judgement in AlpacaEval's convention.

    ``preference`` is 1.0 when ``output_1`` (the reference) was preferred, 2.0 when
    ``output_2`` (the model) was, 1.5 for a draw, and None when the judge's reply could not
    be parsed when it was recorded (AlpacaEval drops those from the win rate).
    """

    instruction: str
    output_1: str
    output_2: str
    preference: float | None
    generator_2: str = ""


@dataclass
class Transcript:
    """What one transcript file holds."""

    path: Path
    format: TranscriptFormat
    recordings: list[Recording] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    #: The built-in benchmark whose keys the recordings carry (``"mtbench"``), or None when
    #: they are matched by prompt text.
    benchmark: str | None = None


def normalize_prompt(text: str) -> str:
    """The form in which prompts are compared: runs of whitespace collapsed, ends stripped.

    Transcripts pass through CSV and JSON tools that re-wrap lines and trim ends; a prompt
    that differs only there is the same prompt.
    """
    return " ".join(text.split())


def read_transcript(path: str | Path) -> Transcript:
    """Read a transcript file in any of the module's formats, recognised by its fields.

    Raises :class:`TranscriptError` naming the file (and row) when it cannot be read, is the
    plugin's SQLite response cache, or has none of the recognised layouts.
    """
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(f"{path}: no such transcript file")
    with open(path, "rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
            raise TranscriptError(
                f"{path}: this is an SQLite database (the plugin's response cache?). Replaying the cache "
                "directly is not supported yet: export it as JSON Lines, one "
                '{"prompt": <user message>, "response": <text>} object a line, and point recorded: at that file'
            )
    try:
        rows = load_rows(path)
    except DatasetError as exc:
        raise TranscriptError(str(exc)) from None
    fields = set(rows[0])
    if {"instruction", "output_1", "output_2", "preference"} <= fields:
        return Transcript(path, "alpaca-eval-annotations", verdicts=_verdicts(rows, path))
    if {"question_id", "choices"} <= fields:
        return Transcript(path, "mtbench-answers", recordings=_mtbench_answers(rows, path), benchmark="mtbench")
    if "task_id" in fields and fields & {"solution", "responses"}:
        return Transcript(path, "humaneval-solutions", recordings=_humaneval_solutions(rows, path), benchmark="humaneval")
    if {"id", "completion"} <= fields and "prompt" not in fields:
        return Transcript(path, "gsm8k-predictions", recordings=_gsm8k_predictions(rows, path), benchmark="gsm8k")
    if {"prompt", "completion"} <= fields:
        return Transcript(path, "xstest-completions", recordings=_recordings(rows, path, "prompt", "completion"))
    if {"instruction", "output"} <= fields:
        return Transcript(path, "alpaca-eval-outputs", recordings=_recordings(rows, path, "instruction", "output"))
    if {"prompt", "response"} <= fields:
        return Transcript(path, "jsonl-export", recordings=_recordings(rows, path, "prompt", "response"))
    shown = ", ".join(sorted(f for f in fields if f != LINE)) or "none"
    raise TranscriptError(
        f"{path}: not a recognised transcript (fields: {shown}). Expected prompt+response (JSON Lines export), "
        "prompt+completion (XSTest completions), instruction+output (AlpacaEval model outputs), "
        "instruction+output_1+output_2+preference (AlpacaEval annotations), question_id+choices (MT-Bench model "
        "answers), task_id+solution or task_id+responses (HumanEval solutions) or id+completion (GSM8K predictions)"
    )


def read_xstest_completions(path: str | Path) -> list[Recording]:
    """XSTest v2 completions CSV (``prompt``, ``completion``, human labels): prompt -> completion."""
    return _expect(read_transcript(path), "xstest-completions").recordings


def read_alpaca_eval_outputs(path: str | Path) -> list[Recording]:
    """AlpacaEval ``model_outputs.json`` (``instruction``, ``output``): instruction -> output."""
    return _expect(read_transcript(path), "alpaca-eval-outputs").recordings


def read_alpaca_eval_annotations(path: str | Path) -> list[Verdict]:
    """AlpacaEval annotations (``instruction``, ``output_1``, ``output_2``, ``preference``)."""
    return _expect(read_transcript(path), "alpaca-eval-annotations").verdicts


def read_jsonl_export(path: str | Path) -> list[Recording]:
    """The plugin's JSON Lines export: one ``{"prompt": ..., "response": ...}`` object a line."""
    return _expect(read_transcript(path), "jsonl-export").recordings


def read_mtbench_answers(path: str | Path) -> list[Recording]:
    """MT-Bench model answers (FastChat's ``model_answer/<model>.jsonl``): one recording per
    question, keyed by ``question_id``, the first turn's reply as ``response`` and the later
    turns' as ``followups``."""
    return _expect(read_transcript(path), "mtbench-answers").recordings


def read_humaneval_solutions(path: str | Path) -> list[Recording]:
    """HumanEval solutions keyed by ``task_id``: Reflexion's ``solution`` or MapCoder's last
    raw reply (``responses[-1]``)."""
    return _expect(read_transcript(path), "humaneval-solutions").recordings


def read_gsm8k_predictions(path: str | Path) -> list[Recording]:
    """Faithful-CoT's GSM8K ``predictions.jsonl``: ``completion`` keyed by the test row's
    0-based position ``id`` (as ``"line <id>"``)."""
    return _expect(read_transcript(path), "gsm8k-predictions").recordings


#: The protocols a Re-Reading result file holds per row.
REREADING_ACTS = ("vanilla", "cot")


def read_rereading_results(path: str | Path, act: str) -> list[Recording]:
    """One protocol of a Re-Reading (Xu et al.) GSM8K result file: ``input`` (the question) ->
    ``<act>.generation[0]``, ``act`` being ``"vanilla"`` (zero-shot) or ``"cot"`` (zero-shot
    chain of thought). Rows whose generation was not recorded are left out.

    Raises :class:`TranscriptError` naming the file (and row) when the layout is not this one.
    """
    if act not in REREADING_ACTS:
        raise ValueError(f"act must be one of {', '.join(REREADING_ACTS)}, got {act!r}")
    path = Path(path)
    try:
        rows = load_rows(path)
    except DatasetError as exc:
        raise TranscriptError(str(exc)) from None
    out = []
    for index, row in enumerate(rows):
        question, result = row.get("input"), row.get(act)
        if not isinstance(question, str) or not isinstance(result, Mapping):
            raise TranscriptError(f"{_where(path, row, index)}: expected 'input' text and a {act!r} object "
                                  "(a Re-Reading result file)")
        generations = result.get("generation") or []
        if generations and isinstance(generations[0], str):
            out.append(Recording(question, generations[0]))
    return out


def recordings_from_cache(entries: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[Recording]:
    """Recordings from response-cache entries: ``(request identity, response JSON)`` pairs.

    The prompt is the request's last user message (or its plain ``prompt``); entries whose
    response holds an error are left out, so a replay never serves a failure as an answer.
    """
    out = []
    for request, response in entries:
        if response.get("error"):
            continue
        messages = request.get("messages") or []
        users = [content for role, content in messages if role == "user"]
        prompt = users[-1] if users else request.get("prompt")
        if prompt is None:
            continue
        out.append(Recording(str(prompt), str(response.get("text", ""))))
    return out


def parse_preference(value: Any) -> float | None:
    """AlpacaEval's preference value as a float in {1, 1.5, 2}, or None when it is missing.

    Older annotations wrote a draw as 0; AlpacaEval reads that as 1.5 and so does this.
    """
    if value is None or value == "" or (isinstance(value, str) and value.strip().lower() in ("none", "nan")):
        return None
    number = float(value)
    if math.isnan(number):
        return None
    if number == 0:
        return 1.5
    if not 1 <= number <= 2:
        raise ValueError(f"preference {value!r} is outside 1..2")
    return number


def _expect(transcript: Transcript, fmt: TranscriptFormat) -> Transcript:
    if transcript.format != fmt:
        raise TranscriptError(f"{transcript.path}: expected {fmt}, found {transcript.format}")
    return transcript


def _where(path: Path, row: Mapping[str, Any], index: int) -> str:
    line = row.get(LINE)
    return f"{path}, line {line}" if line is not None else f"{path}, row {index}"


def _recordings(rows: list[dict[str, Any]], path: Path, prompt_field: str, response_field: str) -> list[Recording]:
    out = []
    for index, row in enumerate(rows):
        prompt, response = row.get(prompt_field), row.get(response_field)
        if not isinstance(prompt, str) or not isinstance(response, str):
            raise TranscriptError(
                f"{_where(path, row, index)}: {prompt_field!r} and {response_field!r} must both be text"
            )
        out.append(Recording(prompt, response))
    return out


def _verdicts(rows: list[dict[str, Any]], path: Path) -> list[Verdict]:
    out = []
    for index, row in enumerate(rows):
        instruction, output_1, output_2 = (row.get(k) for k in ("instruction", "output_1", "output_2"))
        if not (isinstance(instruction, str) and isinstance(output_1, str) and isinstance(output_2, str)):
            raise TranscriptError(f"{_where(path, row, index)}: instruction, output_1 and output_2 must be text")
        try:
            preference = parse_preference(row.get("preference"))
        except ValueError as exc:
            raise TranscriptError(f"{_where(path, row, index)}: {exc}") from None
        out.append(Verdict(instruction, output_1, output_2, preference, str(row.get("generator_2") or "")))
    return out


def _mtbench_answers(rows: list[dict[str, Any]], path: Path) -> list[Recording]:
    out = []
    for index, row in enumerate(rows):
        choices = row.get("choices")
        turns = choices[0].get("turns") if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else None
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise TranscriptError(f"{_where(path, row, index)}: 'choices' must hold one choice whose 'turns' are texts")
        out.append(Recording("", turns[0], key=str(row["question_id"]), followups=tuple(turns[1:])))
    return out


def _humaneval_solutions(rows: list[dict[str, Any]], path: Path) -> list[Recording]:
    out = []
    for index, row in enumerate(rows):
        reply = row.get("solution")
        if reply is None and isinstance(row.get("responses"), list) and row["responses"]:
            reply = row["responses"][-1]
        if not isinstance(reply, str) or not isinstance(row.get("task_id"), str):
            raise TranscriptError(f"{_where(path, row, index)}: 'task_id' and 'solution' (or a list of 'responses') "
                                  "must be text")
        out.append(Recording("", reply, key=row["task_id"]))
    return out


def _gsm8k_predictions(rows: list[dict[str, Any]], path: Path) -> list[Recording]:
    out = []
    for index, row in enumerate(rows):
        position, reply = row.get("id"), row.get("completion")
        if isinstance(position, bool) or not isinstance(position, int) or not isinstance(reply, str):
            raise TranscriptError(f"{_where(path, row, index)}: 'id' must be the test row's 0-based position and "
                                  "'completion' text")
        out.append(Recording("", reply, key=f"line {position}"))
    return out
