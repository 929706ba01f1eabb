"""Replaying recorded outputs: ``--llm-model=recorded:NAME`` and ``--llm-judge=recorded:NAME``.

``NAME`` is a built-in recorded set (:mod:`pytest_llmeval.backends.recorded_sets`: real
published replies of GPT-4, GPT-3.5-turbo, Claude and open models on GSM8K, HumanEval,
MT-Bench, IFEval, AlpacaEval and XSTest), optionally with variant choices
(``gpt-4@gsm8k=8-shot``), the built-in judge set ``alpaca_eval_gpt4`` (GPT-4's recorded
AlpacaEval verdicts), or the path of a transcript file in a format
:mod:`pytest_llmeval.transcripts` reads.

A request is answered, in this order:

1. by **item**: a recording that names the request's item (``Request.item``,
   ``"benchmark[id]"``), paired through the benchmark's natural key
   (:mod:`pytest_llmeval.backends.pairing`). This is how a recording made with another prompt
   than the plugin's (few-shot, another wording) answers the plugin's item, and its response
   says so in ``meta["protocol"]``;
2. by **prompt text**: a recording of the text of the request's last user message
   (whitespace-normalised): user transcripts, and the recordings that hold their prompt.

Otherwise the response has ``skip`` set: the item is skipped with that reason, never scored
on a made-up answer. A prompt or item recorded with two different replies is ambiguous and
skipped the same way. A recording of a conversation (MT-Bench's two turns) answers a later
turn only when the request's earlier assistant messages are that recording's own replies.

Example::

    backend = RecordedBackend("gpt-4@gsm8k=8-shot")
    for index, response in backend.run([request], progress=lambda n: None):
        ...
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
    read_rereading_results,
    read_transcript,
)
from .base import BackendError, Progress
from .pairing import item_keys, natural_key
from .recorded_sets import (
    JUDGE_SETS,
    JUDGED_GENERATORS,
    Part,
    SetError,
    find_set,
    parts_for,
    set_names,
    split_choice,
)

#: Where the built-in sets' files are read from (the package's data; tests point it elsewhere).
DATA = DATA_DIR


def request_prompt(request: Request) -> str:
    """What a request is matched on: its last user message, else its plain prompt."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return request.prompt if request.prompt is not None else ""


@dataclass
class _Entry:
    #: The replies, one per turn of the conversation (one for a single question).
    replies: tuple[str, ...]
    label: str = ""
    protocol: str | None = None
    #: Set when the recording exists but cannot be served: an ambiguous prompt (``skip``) or
    #: a verdict recorded as unparseable (an error, as AlpacaEval drops it from the win rate).
    problem: str | None = None
    skip: bool = True


@dataclass
class _Loaded:
    recordings: list[Recording] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    #: The built-in benchmark whose items the recordings name (None: matched by prompt only).
    benchmark: str | None = None


@dataclass
class _Part:
    label: str
    files: tuple[Path, ...]
    load: Callable[[], _Loaded]
    protocol: str | None = None


@dataclass
class _Table:
    by_item: dict[str, _Entry] = field(default_factory=dict)
    by_prompt: dict[str, _Entry] = field(default_factory=dict)
    #: Benchmarks some part pairs by item, with the parts' labels (for skip reasons).
    covered: dict[str, str] = field(default_factory=dict)


class RecordedBackend:
    """A model whose answers are read from recorded transcripts (see the module docstring).

    ``source`` is a built-in set's name (with optional ``@BENCHMARK=VARIANT`` choices) or a
    transcript path (relative paths are resolved against ``base_dir``, the rootdir). Raises
    :class:`BackendError` when it is neither, or names a variant that does not exist.
    """

    name = "recorded"

    def __init__(self, source: str, *, base_dir: Path | None = None) -> None:
        self.source = source
        self._parts, self.notes = _resolve(source, base_dir)
        self._table: _Table | None = None
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
        parts = "; ".join(part.label for part in self._parts)
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

    def _answer(self, table: _Table, request: Request) -> Response:
        meta: dict[str, Any] = {"backend": "recorded", "source": self.source, "latency_s": 0.0}
        if request.kind != "generate":
            return Response(error=f"recorded outputs cannot answer {request.kind} requests", meta=meta)
        entry = table.by_item.get(request.item or "") or table.by_prompt.get(normalize_prompt(request_prompt(request)))
        if entry is None:
            return Response(skip=self._missing(table, request), meta=meta)
        if entry.problem is not None:
            return Response(skip=entry.problem, meta=meta) if entry.skip else Response(error=entry.problem, meta=meta)
        meta["recording"] = entry.label
        if entry.protocol is not None:
            meta["protocol"] = entry.protocol
        reply = _turn_reply(entry, request)
        if isinstance(reply, _Skip):
            return Response(skip=f"{reply.reason} ({self.source})", meta=meta)
        return Response(text=reply, meta=meta)

    def _missing(self, table: _Table, request: Request) -> str:
        benchmark = (request.item or "").partition("[")[0]
        if benchmark in table.covered:
            return f"no recording of {request.item} in {self.source} ({table.covered[benchmark]})"
        if request.item and table.covered:
            return (f"no recording for this prompt in {self.source}, which has recordings of "
                    f"{', '.join(sorted(table.covered))} items, not {benchmark}")
        return f"no recording for this prompt in {self.source}"

    def _load(self) -> _Table:
        if self._table is None:
            table = _Table()
            for part in self._parts:
                try:
                    loaded = part.load()
                    _add_part(table, part, loaded, self.source)
                except (TranscriptError, OSError, ValueError, KeyError) as exc:
                    raise BackendError(f"recorded:{self.source}: {exc}") from None
            self._table = table
        return self._table


@dataclass(frozen=True)
class _Skip:
    reason: str


def _turn_reply(entry: _Entry, request: Request) -> str | _Skip:
    """The reply for the request's turn: the first, unless a recorded conversation goes on."""
    if len(entry.replies) == 1:
        return entry.replies[0]
    turn = max(0, sum(1 for m in request.messages if m.role == "user") - 1)
    if turn >= len(entry.replies):
        return _Skip(f"only {len(entry.replies)} turns were recorded, this is turn {turn + 1}")
    earlier = [normalize_prompt(m.content) for m in request.messages if m.role == "assistant"][-turn:] if turn else []
    if earlier != [normalize_prompt(r) for r in entry.replies[:turn]]:
        return _Skip(f"turn {turn + 1} follows other answers than the recorded ones")
    return entry.replies[turn]


def _add_part(table: _Table, part: _Part, loaded: _Loaded, source: str) -> None:
    keys = item_keys(loaded.benchmark) if loaded.benchmark is not None else None
    if keys is not None:
        assert loaded.benchmark is not None
        table.covered[loaded.benchmark] = part.label
    for rec in loaded.recordings:
        entry = _Entry((rec.response, *rec.followups), part.label, part.protocol)
        if keys is not None and (item := keys.get(natural_key(rec))) is not None:
            _add(table.by_item, item, entry, source)
        if rec.key is None:
            _add(table.by_prompt, normalize_prompt(rec.prompt), entry, source)
    for verdict in loaded.verdicts:
        _add_verdict(table.by_prompt, verdict, source)


def _add(table: dict[str, _Entry], key: str, entry: _Entry, source: str) -> None:
    old = table.get(key)
    if old is None:
        table[key] = entry
    elif old.replies != entry.replies or old.problem != entry.problem:
        table[key] = _Entry((), problem=f"{source} recorded different replies to this prompt")


def _add_verdict(table: dict[str, _Entry], verdict: Verdict, source: str) -> None:
    # The key is the judge prompt the plugin itself builds for this pair, so a recorded
    # verdict answers exactly the judge request that scoring.judge would send.
    request = alpaca_eval_judge_request(verdict.instruction, verdict.output_1, verdict.output_2)
    if request is None:  # identical outputs: a draw that needs no judge
        return
    key = normalize_prompt(request_prompt(request))
    if verdict.preference is None:
        entry = _Entry((), problem="the recorded verdict is missing (the judge's reply could not be parsed when "
                                   f"{source} was recorded)", skip=False)
    elif verdict.preference == 1.5:
        entry = _Entry((), problem=f"{source} recorded a draw between different outputs, which a ranking cannot express")
    else:
        entry = _Entry((alpaca_eval_verdict_text(verdict.instruction, verdict.preference),))
    _add(table, key, entry, source)


# -- resolving a source -----------------------------------------------------------------------


def available_sets() -> list[str]:
    """Names accepted by ``recorded:`` besides file paths (without variant choices)."""
    return set_names() + list(JUDGE_SETS)


def judge_formats(source: str) -> tuple[str, ...] | None:
    """The judge formats a built-in recorded judge can answer (``("alpaca_eval_gpt4",)``), or
    None when ``source`` is not one (a user's annotations file answers whatever it recorded)."""
    return JUDGE_SETS.get(source)


def _resolve(source: str, base_dir: Path | None) -> tuple[list[_Part], list[str]]:
    try:
        name, chosen = split_choice(source)
        recorded_set = find_set(name)
        if recorded_set is not None:
            return _builtin_parts(source, parts_for(recorded_set, chosen))
    except SetError as exc:
        raise BackendError(str(exc)) from None
    if source in JUDGE_SETS:
        return [_alpaca_eval_judge_part()], []
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise BackendError(
            f"recorded:{source}: not a built-in recorded set ({', '.join(available_sets())}; variants as "
            f"NAME@BENCHMARK=VARIANT, see docs/recorded.md) and no such file {path}"
        )
    return [_Part(path.name, (path,), _file_loader(path, None))], []


def _builtin_parts(source: str, parts: list[Part]) -> tuple[list[_Part], list[str]]:
    found, notes = [], []
    for part in parts:
        path = DATA / part.file
        if not path.is_file():
            notes.append(f"{part.label}: not installed ({part.file})")
            continue
        loader = (_rereading_loader(path, part.reader.partition(":")[2], part.benchmark)
                  if part.reader.startswith("rereading:") else _file_loader(path, part.benchmark))
        found.append(_Part(part.label, (path,), loader, part.protocol))
    if not found:
        raise BackendError(f"recorded:{source}: none of its recorded files are installed ({'; '.join(notes)}): "
                           "reinstall pytest-llmeval")
    return found, notes


def _file_loader(path: Path, benchmark: str | None) -> Callable[[], _Loaded]:
    def load() -> _Loaded:
        transcript = read_transcript(path)
        return _Loaded(transcript.recordings, transcript.verdicts, benchmark or transcript.benchmark)

    return load


def _rereading_loader(path: Path, act: str, benchmark: str) -> Callable[[], _Loaded]:
    return lambda: _Loaded(read_rereading_results(path, act), benchmark=benchmark)


def _alpaca_eval_judge_part() -> _Part:
    alpaca = DATA / "alpaca_eval"
    verdicts_path = alpaca / "verdicts_alpaca_eval_gpt4.jsonl.gz"
    eval_set = alpaca / "alpaca_eval.jsonl.gz"
    outputs = [alpaca / "model_outputs" / f"{model}.json.gz" for model in JUDGED_GENERATORS]

    def load() -> _Loaded:
        return _Loaded(verdicts=shipped_verdicts(verdicts_path, eval_set, outputs))

    label = f"GPT-4's AlpacaEval 1.0 verdicts on {', '.join(JUDGED_GENERATORS)} against text_davinci_003"
    return _Part(label, (verdicts_path, eval_set, *outputs), load)


def shipped_verdicts(verdicts_path: Path, eval_set: Path, outputs: list[Path]) -> list[Verdict]:
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
