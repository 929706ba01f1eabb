"""Replaying recorded outputs: ``--llm-model=recorded:NAME`` and ``--llm-judge=recorded:NAME``.

``NAME`` is a built-in transcript set (:data:`BUILTIN_SETS`: real published outputs of
llama-2-70b-chat, gpt-4, gpt-3.5-turbo, mistral-7b-instruct and text-davinci-003 on XSTest and
AlpacaEval), the built-in judge set ``alpaca_eval_gpt4`` (GPT-4's recorded AlpacaEval verdicts),
or the path of a transcript file in a format :mod:`pytest_llmeval.transcripts` reads.

A request is answered when the text of its last user message (whitespace-normalised) was
recorded. Otherwise the response has ``skip`` set: the item is skipped with that reason,
never scored on a made-up answer. A prompt recorded with two different replies is ambiguous and skipped the same way.

Example::

    backend = RecordedBackend("llama-2-70b-chat")
    for index, response in backend.run([request], progress=lambda n: None):
        ...
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..request import Request, Response
from ..scoring.judge import alpaca_eval_judge_request, alpaca_eval_verdict_text
from ..shipped import DATA_DIR
from ..transcripts import (
    Recording,
    TranscriptError,
    Verdict,
    normalize_prompt,
    parse_preference,
    read_transcript,
)
from .base import BackendError, Progress

_ALPACA = DATA_DIR / "alpaca_eval"
#: Where the XSTest completions are looked for (shipped by the XSTest benchmark's data).
XSTEST_DIR = DATA_DIR / "xstest"

#: Built-in transcript sets: alias -> parts, each ``"xstest:<file tag>"`` or ``"alpaca_eval:<generator>"``.
BUILTIN_SETS: dict[str, tuple[str, ...]] = {
    "llama-2-70b-chat": ("xstest:llama2orig", "alpaca_eval:llama-2-70b-chat-hf"),
    "gpt-4": ("xstest:gpt4", "alpaca_eval:gpt4"),
    "gpt-3.5-turbo": ("alpaca_eval:gpt-3.5-turbo-0301",),
    "mistral-7b-instruct": ("xstest:mistralinstruct",),
    "text-davinci-003": ("alpaca_eval:text_davinci_003",),
}
#: Upstream names accepted for the same sets.
SET_ALIASES = {
    "llama-2-70b-chat-hf": "llama-2-70b-chat",
    "gpt4": "gpt-4",
    "gpt-3.5-turbo-0301": "gpt-3.5-turbo",
    "text_davinci_003": "text-davinci-003",
    "mistral-7b-instruct-v0.1": "mistral-7b-instruct",
}
#: Built-in recorded judges (for ``--llm-judge=recorded:NAME``).
JUDGE_SETS = ("alpaca_eval_gpt4",)
#: The models whose outputs GPT-4 judged in the shipped AlpacaEval verdicts.
_JUDGED_MODELS = ("gpt4", "gpt-3.5-turbo-0301", "llama-2-70b-chat-hf")


def request_prompt(request: Request) -> str:
    """What a request is matched on: its last user message, else its plain prompt."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return request.prompt if request.prompt is not None else ""


@dataclass
class _Entry:
    response: str | None
    #: Set when the recording exists but cannot be served: an ambiguous prompt (``skip``) or
    #: a verdict recorded as unparseable (an error, as AlpacaEval drops it from the win rate).
    problem: str | None = None
    skip: bool = True


@dataclass
class _Part:
    label: str
    files: tuple[Path, ...]
    load: Callable[[], tuple[list[Recording], list[Verdict]]]


class RecordedBackend:
    """A model whose answers are read from recorded transcripts (see the module docstring).

    ``source`` is a built-in set's name or a transcript path (relative paths are resolved
    against ``base_dir``, the rootdir). Raises :class:`BackendError` when it is neither.
    """

    name = "recorded"

    def __init__(self, source: str, *, base_dir: Path | None = None) -> None:
        self.source = source
        self._parts, self.notes = _resolve(source, base_dir)
        self._table: dict[str, _Entry] | None = None
        self._sha256: str | None = None

    # -- the Backend protocol ------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """The set's name and the SHA-256 of its files: new recordings change every key."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            for path in sorted({p for part in self._parts for p in part.files}):
                digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
            self._sha256 = digest.hexdigest()
        return {"backend": "recorded", "source": self.source, "sha256": self._sha256}

    def describe(self) -> str:
        parts = ", ".join(part.label for part in self._parts)
        text = f"recorded outputs ({self.source}: {parts})"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text

    def supports(self, request: Request) -> bool:
        return request.kind == "generate"

    def check(self) -> None:
        self._load()

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        table = self._load()
        for index, request in enumerate(requests):
            yield index, self._answer(table, request)
            progress(1)

    def close(self) -> None:
        self._table = None

    # -- lookup ---------------------------------------------------------------------------------

    def _answer(self, table: dict[str, _Entry], request: Request) -> Response:
        meta: dict[str, Any] = {"backend": "recorded", "source": self.source, "latency_s": 0.0}
        if request.kind != "generate":
            return Response(error=f"recorded outputs cannot answer {request.kind} requests", meta=meta)
        entry = table.get(normalize_prompt(request_prompt(request)))
        if entry is None:
            return Response(skip=f"no recording for this prompt in {self.source}", meta=meta)
        if entry.problem is not None:
            if entry.skip:
                return Response(skip=entry.problem, meta=meta)
            return Response(error=entry.problem, meta=meta)
        return Response(text=entry.response or "", meta=meta)

    def _load(self) -> dict[str, _Entry]:
        if self._table is None:
            table: dict[str, _Entry] = {}
            for part in self._parts:
                try:
                    recordings, verdicts = part.load()
                except (TranscriptError, OSError, ValueError) as exc:
                    raise BackendError(f"recorded:{self.source}: {exc}") from None
                for rec in recordings:
                    _add(table, normalize_prompt(rec.prompt), _Entry(rec.response), self.source)
                for verdict in verdicts:
                    _add_verdict(table, verdict, self.source)
            self._table = table
        return self._table


def _add(table: dict[str, _Entry], key: str, entry: _Entry, source: str) -> None:
    old = table.get(key)
    if old is None:
        table[key] = entry
    elif old.response != entry.response or old.problem != entry.problem:
        table[key] = _Entry(None, f"{source} recorded different replies to this prompt")


def _add_verdict(table: dict[str, _Entry], verdict: Verdict, source: str) -> None:
    # The key is the judge prompt the plugin itself builds for this pair, so a recorded
    # verdict answers exactly the judge request that scoring.judge would send.
    request = alpaca_eval_judge_request(verdict.instruction, verdict.output_1, verdict.output_2)
    if request is None:  # identical outputs: a draw that needs no judge
        return
    key = normalize_prompt(request_prompt(request))
    if verdict.preference is None:
        entry = _Entry(None, "the recorded verdict is missing (the judge's reply could not be parsed when "
                             f"{source} was recorded)", skip=False)
    elif verdict.preference == 1.5:
        entry = _Entry(None, f"{source} recorded a draw between different outputs, which a ranking cannot express")
    else:
        entry = _Entry(alpaca_eval_verdict_text(verdict.instruction, verdict.preference))
    _add(table, key, entry, source)


# -- resolving a source -----------------------------------------------------------------------


def available_sets() -> list[str]:
    """Names accepted by ``recorded:`` besides file paths."""
    return sorted(BUILTIN_SETS) + list(JUDGE_SETS)


def _resolve(source: str, base_dir: Path | None) -> tuple[list[_Part], list[str]]:
    name = SET_ALIASES.get(source, source)
    if name in BUILTIN_SETS:
        parts, notes = [], []
        for spec in BUILTIN_SETS[name]:
            part = _builtin_part(spec)
            if part is None:
                notes.append(f"{spec.split(':')[0]} transcripts are not installed")
            else:
                parts.append(part)
        if not parts:
            raise BackendError(f"recorded:{source}: none of its transcript files are installed ({'; '.join(notes)})")
        return parts, notes
    if name == "alpaca_eval_gpt4":
        return [_alpaca_eval_judge_part()], []
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise BackendError(
            f"recorded:{source}: not a built-in transcript set ({', '.join(available_sets())}) "
            f"and no such file {path}"
        )
    return [_Part(path.name, (path,), _file_loader(path))], []


def _builtin_part(spec: str) -> _Part | None:
    kind, _, tag = spec.partition(":")
    if kind == "xstest":
        for name in (f"xstest_v2_completions_{tag}.csv", f"xstest_v2_completions_{tag}.csv.gz"):
            path = XSTEST_DIR / name
            if path.is_file():
                return _Part(f"XSTest completions ({tag})", (path,), _file_loader(path))
        return None
    path = _ALPACA / "model_outputs" / f"{tag}.json.gz"
    return _Part(f"AlpacaEval outputs ({tag})", (path,), _file_loader(path))


def _file_loader(path: Path) -> Callable[[], tuple[list[Recording], list[Verdict]]]:
    def load() -> tuple[list[Recording], list[Verdict]]:
        transcript = read_transcript(path)
        return transcript.recordings, transcript.verdicts

    return load


def _alpaca_eval_judge_part() -> _Part:
    verdicts_path = _ALPACA / "verdicts_alpaca_eval_gpt4.jsonl.gz"
    eval_set = _ALPACA / "alpaca_eval.jsonl.gz"
    outputs = [_ALPACA / "model_outputs" / f"{model}.json.gz" for model in _JUDGED_MODELS]

    def load() -> tuple[list[Recording], list[Verdict]]:
        return [], _shipped_verdicts(verdicts_path, eval_set, outputs)

    label = f"GPT-4's AlpacaEval 1.0 verdicts on {', '.join(_JUDGED_MODELS)} against text_davinci_003"
    return _Part(label, (verdicts_path, eval_set, *outputs), load)


def _shipped_verdicts(verdicts_path: Path, eval_set: Path, outputs: list[Path]) -> list[Verdict]:
    """The shipped verdicts, with the judged texts taken back from the shipped outputs.

    The shipped verdict file stores digests instead of the two texts (they are in the eval
    set and the model outputs already); a verdict is kept only where both digests match, so it
    is replayed for exactly the texts that were judged.
    """
    # The reference judged is the eval set's (text_davinci_003's model_outputs.json differs).
    references: dict[str, str] = {}
    with gzip.open(eval_set, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            references[row["instruction"]] = row["reference"]
    outputs_by_model: dict[tuple[str, str], str] = {}
    for path in outputs:
        for rec in read_transcript(path).recordings:
            outputs_by_model[(path.name.removesuffix(".json.gz"), rec.prompt)] = rec.response
    verdicts = []
    with gzip.open(verdicts_path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            out_1 = references.get(row["instruction"])
            out_2 = outputs_by_model.get((row["generator_2"], row["instruction"]))
            if out_1 is None or out_2 is None:
                continue
            if _digest(out_1) != row["output_1_digest"] or _digest(out_2) != row["output_2_digest"]:
                continue
            verdicts.append(Verdict(row["instruction"], out_1, out_2, parse_preference(row["preference"]),
                                    row["generator_2"]))
    return verdicts


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
