"""Published figures from the survey (arXiv 2311.16989) and the sources it rests on.

These are other people's numbers, measured with other harnesses, prompts and shot counts.
Reports show them in a column of their own labelled "published", with the source, and never
mix them with what the plugin measured.

Only figures with a marker are kept: ``"confirmed"`` (seen in a primary or official source:
a paper, a model card, a leaderboard file) or ``"survey-repo"`` (seen only in the survey's
companion repository ``ntunlp/OpenSource-LLMs-better-than-OpenAI``, commit ``ece38fe``).
Figures seen only in secondary copies, or not confirmed anywhere, are left out, as are the
"best" rows that are a GPT model plus an inference method rather than a model.

Percentages are stored as fractions (86.4 % -> 0.864). MT-Bench stays on its 1-10 scale and
its metric name says so. Where the survey put a figure under the wrong model (its notes a, b
and c), the entry carries the model the figure belongs to and a ``note`` saying what the
survey printed.

Each figure states its ``protocol`` as its source does: the number of solved examples shown
before each question and whether they were worked solutions (``"5-shot"``, ``"5-shot chain of
thought"``, ``"0-shot"``), or ``""`` when the source does not say. :func:`mark_protocols` adds
whether the run asked that benchmark the same way (``--llm-protocol``), which the reports
write next to the figure ("same protocol (5-shot)", "different protocol: 5-shot (this run:
0-shot)"). Same protocol means the same shots and kind of answer, not the same wording.

Example::

    >>> [e["value"] for e in published_for(["gpt-4"], ["gsm8k"])]
    [0.92]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PUBLISHED", "format_published", "mark_protocols", "protocol_note", "protocol_of_label", "published_for"]

CONFIRMED = "confirmed"
SURVEY_REPO = "survey-repo"

_GPT4_T2 = "GPT-4 Tech Report Table 2"
_L2 = "Llama 2 paper (MODEL_CARD.md)"
_AE1 = "AlpacaEval 1.0 leaderboard (GPT-4 judge)"
_AE2 = "AlpacaEval 2.0 leaderboard (GPT-4-turbo judge)"
_LMSYS = "LMSYS Chatbot Arena leaderboard (MT-Bench)"
_OC = "OpenChat README"
_R = "survey companion repo (ntunlp) Table {}"
_ZS = "survey companion repo Table 4 (ZeroSCROLLS)"

_MT = "MT-Bench GPT-4-judged score /10"
_AE1_M = "AlpacaEval 1.0 win rate vs text-davinci-003"
_AE2_M = "AlpacaEval 2.0 raw win rate vs GPT-4-turbo"

_ZS_M = "ZeroSCROLLS {} task score"

#: What each metric's source says of its protocol (see the module docstring); a metric not
#: listed does not say. MT-Bench and AlpacaEval ask their own questions with no examples.
_PROTOCOLS: dict[str, str] = {
    _MT: "0-shot",
    _AE1_M: "0-shot",
    _AE2_M: "0-shot",
    "MMLU 5-shot accuracy": "5-shot",
    "HellaSwag 10-shot accuracy": "10-shot",
    "HellaSwag 0-shot accuracy": "0-shot",
    "ARC-Challenge 25-shot accuracy": "25-shot",
    "WinoGrande 5-shot accuracy": "5-shot",
    "GSM8K 5-shot chain-of-thought accuracy": "5-shot chain of thought",
    "GSM8K 5-shot accuracy": "5-shot",
    "HumanEval 0-shot pass@1": "0-shot",
    "BBH 3-shot accuracy": "3-shot",
    _ZS_M: "0-shot",
}

# (model, capability, benchmark, metric, value, source, marker, note)
_ROWS: tuple[tuple[str, str, str, str, float, str, str, str], ...] = (
    # --- general (survey Table 1) ---
    ("gpt-4", "general", "mtbench", _MT, 8.99, _LMSYS, CONFIRMED, ""),
    ("gpt-3.5-turbo", "general", "mtbench", _MT, 7.94, _LMSYS, CONFIRMED, ""),
    ("llama-2-70b-chat", "general", "mtbench", _MT, 6.86, _LMSYS, CONFIRMED, ""),
    ("wizardlm-70b", "general", "mtbench", _MT, 7.71, _LMSYS, CONFIRMED, ""),
    ("mixtral-8x7b-instruct", "general", "mtbench", _MT, 8.30, _R.format(1), SURVEY_REPO,
     "only in the Feb 2024 version of the repo"),
    ("gpt-4", "general", "alpaca_eval", _AE1_M, 0.9528, _AE1, CONFIRMED, ""),
    ("gpt-3.5-turbo", "general", "alpaca_eval", _AE1_M, 0.8937, _AE1, CONFIRMED,
     "leaderboard row `chatgpt` (gpt-3.5-turbo-0301); the survey prints 81.71, which is the "
     "gpt-3.5-turbo-instruct row"),
    ("gpt-3.5-turbo-instruct", "general", "alpaca_eval", _AE1_M, 0.8171, _AE1, CONFIRMED,
     "printed in the survey under gpt-3.5-turbo"),
    ("llama-2-70b-chat", "general", "alpaca_eval", _AE1_M, 0.9266, _AE1, CONFIRMED, ""),
    ("yi-34b-chat", "general", "alpaca_eval", _AE1_M, 0.9408, _AE1, CONFIRMED, ""),
    ("mixtral-8x7b-instruct", "general", "alpaca_eval", _AE1_M, 0.9478, _R.format(1), SURVEY_REPO, ""),
    ("wizardlm-70b", "general", "alpaca_eval", _AE1_M, 0.9291, _R.format(1), SURVEY_REPO,
     "not found in the AlpacaEval 1.0 leaderboard file"),
    ("zephyr-7b-beta", "general", "alpaca_eval", _AE1_M, 0.9060, _AE1, CONFIRMED, ""),
    ("gpt-4", "general", "alpaca_eval_2", _AE2_M, 0.2358, _AE2, CONFIRMED, ""),
    ("gpt-3.5-turbo-16k-0613", "general", "alpaca_eval_2", _AE2_M, 0.1413, _AE2, CONFIRMED,
     "printed in the survey under gpt-3.5-turbo; gpt-3.5-turbo-0613 is 14.10 in the leaderboard"),
    ("llama-2-70b-chat", "general", "alpaca_eval_2", _AE2_M, 0.1387, _R.format(1), SURVEY_REPO,
     "the current leaderboard file says 13.89"),
    ("yi-34b-chat", "general", "alpaca_eval_2", _AE2_M, 0.2966, _AE2, CONFIRMED, ""),
    ("self-rewarding-70b", "general", "alpaca_eval_2", _AE2_M, 0.2044, _R.format(1), SURVEY_REPO, ""),
    ("gpt-4", "general", "open_llm_leaderboard", "Open LLM Leaderboard 6-task average", 0.8536,
     _R.format(1), SURVEY_REPO, "how the GPT averages were derived is not confirmed"),
    ("gpt-3.5-turbo", "general", "open_llm_leaderboard", "Open LLM Leaderboard 6-task average", 0.7021,
     _R.format(1), SURVEY_REPO, "how the GPT averages were derived is not confirmed"),
    ("yi-34b-chat", "general", "open_llm_leaderboard", "Open LLM Leaderboard 6-task average", 0.6868,
     _R.format(1), SURVEY_REPO, ""),
    ("mixtral-8x7b-instruct", "general", "open_llm_leaderboard", "Open LLM Leaderboard 6-task average",
     0.6842, _R.format(1), SURVEY_REPO, ""),
    ("godzilla2-70b", "general", "open_llm_leaderboard", "Open LLM Leaderboard 6-task average", 0.6701,
     _R.format(1), SURVEY_REPO, ""),
    ("zephyr-7b-beta", "general", "open_llm_leaderboard", "Open LLM Leaderboard 6-task average", 0.5215,
     _R.format(1), SURVEY_REPO, ""),
    ("gpt-4", "general", "mmlu", "MMLU 5-shot accuracy", 0.864, _GPT4_T2, CONFIRMED, ""),
    ("gpt-3.5-turbo", "general", "mmlu", "MMLU 5-shot accuracy", 0.700, _GPT4_T2, CONFIRMED, ""),
    ("llama-2-70b", "general", "mmlu", "MMLU 5-shot accuracy", 0.689, _L2, CONFIRMED, "base model, not chat"),
    ("gpt-4", "general", "hellaswag", "HellaSwag 10-shot accuracy", 0.953, _GPT4_T2, CONFIRMED, ""),
    ("gpt-3.5-turbo", "general", "hellaswag", "HellaSwag 10-shot accuracy", 0.855, _GPT4_T2, CONFIRMED, ""),
    ("llama-2-70b", "general", "hellaswag", "HellaSwag 0-shot accuracy", 0.853, _L2, CONFIRMED,
     "base model, not chat"),
    ("gpt-4", "general", "arc_challenge", "ARC-Challenge 25-shot accuracy", 0.963, _GPT4_T2, CONFIRMED, ""),
    ("gpt-3.5-turbo", "general", "arc_challenge", "ARC-Challenge 25-shot accuracy", 0.852, _GPT4_T2,
     CONFIRMED, ""),
    ("gpt-4", "general", "winogrande", "WinoGrande 5-shot accuracy", 0.875, _GPT4_T2, CONFIRMED, ""),
    ("gpt-3.5-turbo", "general", "winogrande", "WinoGrande 5-shot accuracy", 0.816, _GPT4_T2, CONFIRMED, ""),
    # --- agent (survey Table 2; every figure from the repo, not checked against the Lemur paper) ---
    ("gpt-4", "agent", "alfworld", "ALFWorld success rate", 0.8433, _R.format(2), SURVEY_REPO, ""),
    ("gpt-3.5-turbo", "agent", "alfworld", "ALFWorld success rate", 0.4179, _R.format(2), SURVEY_REPO, ""),
    ("lemur-70b-chat", "agent", "alfworld", "ALFWorld success rate", 0.5970, _R.format(2), SURVEY_REPO, ""),
    ("gpt-4", "agent", "intercode_ctf", "InterCode-CTF success rate", 0.3700, _R.format(2), SURVEY_REPO, ""),
    ("gpt-3.5-turbo", "agent", "intercode_ctf", "InterCode-CTF success rate", 0.1100, _R.format(2),
     SURVEY_REPO, ""),
    ("lemur-70b-chat", "agent", "intercode_ctf", "InterCode-CTF success rate", 0.2200, _R.format(2),
     SURVEY_REPO, ""),
    ("gpt-4", "agent", "webarena", "WebArena success rate", 0.1059, _R.format(2), SURVEY_REPO, ""),
    ("gpt-3.5-turbo", "agent", "webarena", "WebArena success rate", 0.0738, _R.format(2), SURVEY_REPO, ""),
    ("lemur-70b-chat", "agent", "webarena", "WebArena success rate", 0.0530, _R.format(2), SURVEY_REPO, ""),
    # --- reasoning (survey Table 3) ---
    ("gpt-4", "reasoning", "gsm8k", "GSM8K 5-shot chain-of-thought accuracy", 0.920, _GPT4_T2, CONFIRMED, ""),
    ("gpt-3.5-turbo", "reasoning", "gsm8k", "GSM8K 5-shot accuracy", 0.571, _GPT4_T2, CONFIRMED, ""),
    ("wizardmath-70b", "reasoning", "gsm8k", "GSM8K accuracy", 0.816, _R.format(3), SURVEY_REPO, ""),
    ("lemur-70b-chat", "reasoning", "gsm8k", "GSM8K accuracy", 0.663, _R.format(3), SURVEY_REPO, ""),
    ("mixtral-8x7b-instruct", "reasoning", "gsm8k", "GSM8K accuracy", 0.584, _R.format(3), SURVEY_REPO, ""),
    ("openchat-3.5-0106", "reasoning", "gsm8k", "GSM8K accuracy", 0.774, _OC, CONFIRMED,
     "the survey repo swaps this with HumanEval (71.3) and calls the model 70B; it is 7B"),
    ("gpt-4", "reasoning", "humaneval", "HumanEval 0-shot pass@1", 0.670, _GPT4_T2, CONFIRMED, ""),
    ("gpt-3.5-turbo", "reasoning", "humaneval", "HumanEval 0-shot pass@1", 0.481, _GPT4_T2, CONFIRMED, ""),
    ("openchat-3.5-0106", "reasoning", "humaneval", "HumanEval pass@1", 0.713, _OC, CONFIRMED,
     "the survey repo swaps this with GSM8K (77.4) and calls the model 70B; it is 7B"),
    ("lemur-70b-chat", "reasoning", "humaneval", "HumanEval pass@1", 0.610, _R.format(3), SURVEY_REPO, ""),
    ("wizardcoder-15b", "reasoning", "humaneval", "HumanEval pass@1", 0.573, _R.format(3), SURVEY_REPO, ""),
    ("phi-1", "reasoning", "humaneval", "HumanEval pass@1", 0.506, _R.format(3), SURVEY_REPO, ""),
    ("llama-2-70b", "reasoning", "mbpp", "MBPP pass@1", 0.450, _L2, CONFIRMED, "base model, not chat"),
    ("llama-2-70b", "reasoning", "bbh", "BBH 3-shot accuracy", 0.512, _L2, CONFIRMED, "base model, not chat"),
    # --- hallucination (survey Table 5) ---
    ("gpt-3.5-turbo", "hallucination", "truthfulqa", "TruthfulQA (metric not stated by the survey)", 0.470,
     _R.format(5), SURVEY_REPO, ""),
    ("platypus2-70b", "hallucination", "truthfulqa", "TruthfulQA (metric not stated by the survey)", 0.623,
     _R.format(5), SURVEY_REPO, ""),
    ("llama-2-70b-chat", "hallucination", "truthfulqa", "TruthfulQA generation, truthful and informative",
     0.6414, _L2, CONFIRMED, "generation task, not multiple choice"),
    ("gpt-3.5-turbo", "hallucination", "factscore", "FActScore", 0.587, _R.format(5), SURVEY_REPO, ""),
    ("gpt-3.5-turbo", "hallucination", "hotpotqa", "HotpotQA", 0.240, _R.format(5), SURVEY_REPO, ""),
    ("gpt-3.5-turbo", "hallucination", "openbookqa", "OpenBookQA", 0.783, _R.format(5), SURVEY_REPO, ""),
    ("gpt-3.5-turbo", "hallucination", "triviaqa", "TriviaQA", 0.793, _R.format(5), SURVEY_REPO, ""),
    # --- safety (no survey table; Llama 2 paper) ---
    ("llama-2-70b-chat", "safety", "toxigen", "ToxiGen toxic generations (lower is better)", 0.0001, _L2,
     CONFIRMED, "0.01 %"),
    ("llama-2-13b-chat", "safety", "toxigen", "ToxiGen toxic generations (lower is better)", 0.0, _L2,
     CONFIRMED, ""),
    ("llama-2-7b-chat", "safety", "toxigen", "ToxiGen toxic generations (lower is better)", 0.0, _L2,
     CONFIRMED, ""),
)

# --- long_context: ZeroSCROLLS (survey Table 4; every figure from the repo) ---
_ZS_TASKS = ("govreport", "summscreenfd", "qmsum", "squality", "qasper", "narrativeqa", "quality",
             "musique", "spacedigest", "booksumsort")
_ZS_ROWS: dict[str, tuple[float | None, ...]] = {
    "gpt-4": (26.3, 17.3, 18.5, 22.6, 50.7, 27.6, 89.2, 41.1, 62.8, 60.5),
    "gpt-3.5-turbo": (21.3, 16.1, 15.6, 20.4, 49.3, 25.1, 66.6, 27.1, 49.1, 49.8),
    "gpt-3.5-turbo-16k": (24.3, 16.2, 17.4, 21.4, 50.0, 29.5, 72.0, 27.0, 54.1, 54.6),
    "llama-2-long-chat-70b": (26.0, 15.0, 20.0, 20.9, 52.0, 31.7, 82.6, 27.3, 55.5, 46.2),
    "llama-2-70b-32k-retrieval": (None, None, 18.3, None, 31.3, 24.5, 69.6, 26.7, None, None),
}


def _build() -> tuple[dict[str, Any], ...]:
    rows: list[dict[str, Any]] = []
    for model, capability, benchmark, metric, value, source, marker, note in _ROWS:
        rows.append({"model": model, "capability": capability, "benchmark": benchmark, "metric": metric,
                     "value": value, "source": source, "marker": marker, "note": note,
                     "protocol": _PROTOCOLS.get(metric, "")})
    for model, values in _ZS_ROWS.items():
        for task, percent in zip(_ZS_TASKS, values, strict=True):
            if percent is None:
                continue
            rows.append({"model": model, "capability": "long_context", "benchmark": f"zeroscrolls_{task}",
                         "metric": _ZS_M.format(task), "value": round(percent / 100.0, 4),
                         "source": _ZS, "marker": SURVEY_REPO, "note": "", "protocol": _PROTOCOLS[_ZS_M]})
    return tuple(rows)


#: Every published figure, as ``{"model", "capability", "benchmark", "metric", "value",
#: "source", "marker", "note", "protocol"}`` dicts. Treat as read-only; :func:`published_for` returns copies.
PUBLISHED: tuple[dict[str, Any], ...] = _build()

# A spec such as ``openai:gpt-4`` or ``recorded:gpt-3.5-turbo`` names the same model.
_PREFIXES = ("openai:", "recorded:")


def _alias(model: str) -> str:
    name = model.strip().lower()
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def published_for(models: Sequence[str], benchmarks: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The published figures for these models (aliases) on these benchmarks.

    Matching is case-insensitive; ``openai:`` and ``recorded:`` prefixes are ignored. Each
    returned dict names the model as it was asked for, so the scorecard lines up with its
    own rows. ``benchmarks=None`` means all. Order: as ``models``, then as stored.

    >>> [(e["benchmark"], e["value"]) for e in published_for(["GPT-3.5-turbo"], ["mmlu", "mtbench"])]
    [('mtbench', 7.94), ('mmlu', 0.7)]
    """
    wanted = None if benchmarks is None else {b.lower() for b in benchmarks}
    found: list[dict[str, Any]] = []
    for model in models:
        alias = _alias(model)
        for entry in PUBLISHED:
            if entry["model"] == alias and (wanted is None or entry["benchmark"] in wanted):
                found.append({**entry, "model": model})
    return found


def format_published(entry: Mapping[str, Any]) -> str:
    """A published value as a person reads it: ``0.864`` for fractions, ``8.99/10`` for MT-Bench."""
    value = float(entry["value"])
    if "/10" in str(entry.get("metric", "")):
        return f"{value:.2f}/10"
    return f"{value:.3f}"


_SHOTS = re.compile(r"\b(\d+|zero)-shot( chain of thought)?")


def protocol_of_label(label: str | None) -> str | None:
    """The protocol a scorecard row's label names, worded as published figures state theirs:
    None (the plugin's zero-shot prompt) is ``"0-shot"``; ``"8-shot chain of thought
    (multi-turn)"`` and ``"recorded, 8-shot chain of thought (Faithful-CoT's COT prompt)"`` are
    ``"8-shot chain of thought"``; a label that names no shot count gives None (unknown).

    >>> protocol_of_label("recorded, zero-shot chain of thought, answer in \\boxed{}")
    '0-shot chain of thought'
    """
    if label is None:
        return "0-shot"
    found = _SHOTS.search(label)
    if found is None:
        return None
    shots = "0" if found.group(1) == "zero" else found.group(1)
    return f"{shots}-shot{found.group(2) or ''}"


def mark_protocols(entries: Sequence[Mapping[str, Any]], labels: Mapping[str, Sequence[str | None]],
                   own: Mapping[tuple[str, str], str | None] | None = None) -> list[dict[str, Any]]:
    """The published figures, each with ``run_protocol`` (how this run asked its benchmark) and
    ``same_protocol``: True or False, or None when the figure's protocol or the run's is not known.

    ``own`` maps ``(model, benchmark)`` to the label of that model's own row in this run (the
    baseline's recorded protocol, say): a figure of a model that has a row is compared with that
    row's protocol. Other figures are compared with the ``labels`` of the models under test on
    the benchmark (:func:`protocol_of_label` of each; ``"mixed: A; B"`` when they differ). A
    figure of a benchmark with neither is returned unmarked."""
    own = own or {}
    marked: list[dict[str, Any]] = []
    for entry in entries:
        row = dict(entry)
        key = (entry["model"], entry["benchmark"])
        asked = [own[key]] if key in own else labels.get(entry["benchmark"])
        if asked is not None:
            found = list(dict.fromkeys(protocol_of_label(label) for label in asked))
            run = found[0] if len(found) == 1 else "mixed: " + "; ".join(p or "unknown" for p in found)
            known = bool(row.get("protocol")) and run is not None and not run.startswith("mixed")
            row.update(run_protocol=run, same_protocol=(row["protocol"] == run) if known else None)
        marked.append(row)
    return marked


def protocol_note(entry: Mapping[str, Any]) -> str:
    """What the reports write next to a published figure: ``"same protocol (5-shot)"``,
    ``"different protocol: 5-shot (this run: 0-shot)"``, ``"protocol not stated"``, ``"0-shot;
    this run's models differ: 0-shot; 5-shot"``; ``""`` for an unmarked figure."""
    if "run_protocol" not in entry:
        return ""
    stated, run = entry.get("protocol") or "", entry.get("run_protocol")
    if not stated:
        return "protocol not stated"
    if entry.get("same_protocol") is True:
        return f"same protocol ({stated})"
    if entry.get("same_protocol") is False:
        return f"different protocol: {stated} (this run: {run})"
    if run is not None and run.startswith("mixed: "):
        return f"{stated}; this run's models differ: {run.removeprefix('mixed: ')}"
    return f"{stated}; this run's protocol is not known"
