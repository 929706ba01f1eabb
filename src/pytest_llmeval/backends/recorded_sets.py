"""The recorded sets built into the plugin: which published replies ``recorded:NAME`` replays.

Each :class:`RecordedSet` is a model's recordings, one :class:`Part` per benchmark and protocol.
Where a model was recorded with several protocols on one benchmark (GSM8K few-shot and
zero-shot), the parts are *variants*: the first listed is the default, and
``recorded:NAME@BENCHMARK=VARIANT`` picks another (``recorded:gpt-4@gsm8k=8-shot``).

This table is the only registry of recordings: the backend reads it, and the tables in
``docs/recorded.md`` are generated from it (:func:`coverage_markdown`, :func:`parts_markdown`,
:func:`sources_markdown`; ``python -m pytest_llmeval.backends.recorded_sets`` prints them, and
a test keeps the doc in step).

Example::

    parts_for("gpt-3.5-turbo", {"gsm8k": "8-shot-cot"})   # the parts that set replays
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """Where recordings come from: a short name, the publication, its repository (and commit),
    and its licence."""

    short: str
    title: str
    repository: str
    licence: str


SOURCES: dict[str, Source] = {
    "xstest": Source("XSTest", "XSTest v2 (Röttger et al., NAACL 2024)",
                     "paul-rottger/exaggerated-safety", "CC BY 4.0"),
    "alpaca_eval": Source("AlpacaEval", "AlpacaEval (Li et al., 2023)", "tatsu-lab/alpaca_eval @ cd543a1",
                          "Apache-2.0 repository; data marked CC BY-NC 4.0 (non-commercial)"),
    "faithful-cot": Source("Faithful-CoT", "Faithful-CoT (Lyu et al., IJCNLP-AACL 2023)", "veronica320/Faithful-COT @ 3017843", "MIT"),
    "rereading": Source("Re-Reading", "Re-Reading (Xu et al., 2023)", "Tebmer/Rereading-LLM-Reasoning @ 0dbad50", "Apache-2.0"),
    "reflexion": Source("Reflexion", "Reflexion (Shinn et al., NeurIPS 2023)", "noahshinn/reflexion @ 218cf0e", "MIT"),
    "mapcoder": Source("MapCoder", "MapCoder (Islam et al., ACL 2024)", "Md-Ashraful-Pramanik/MapCoder @ 0027da7", "MIT"),
    "mtbench": Source("FastChat", "MT-Bench pre-generated answers (Zheng et al., 2023)",
                      "lm-sys/FastChat (fork enricai/FastChat @ edacaa5)", "Apache-2.0"),
    "ifeval": Source("IFEval", "IFEval reference responses (Zhou et al., 2023)",
                     "google-research/google-research instruction_following_eval (copy Podtech-AI/IFEval @ 5bdf377)",
                     "Apache-2.0"),
}

#: Benchmark name -> how the docs call it, in the docs' column order.
BENCHMARK_TITLES = {
    "gsm8k": "GSM8K", "humaneval": "HumanEval", "mtbench": "MT-Bench", "ifeval": "IFEval",
    "alpaca_eval": "AlpacaEval", "xstest": "XSTest",
}


@dataclass(frozen=True)
class Part:
    """One recorded file a set replays on one benchmark.

    ``file`` is relative to the package's ``data`` directory; ``reader`` is ``"transcript"``
    (:func:`~pytest_llmeval.transcripts.read_transcript`) or ``"rereading:<act>"``;
    ``model`` is the model as the source names it; ``protocol`` says how it was prompted when
    that is not the plugin's own prompt (reports show it next to the number), else None.
    """

    benchmark: str
    file: str
    model: str
    source: str
    variant: str = ""
    protocol: str | None = None
    reader: str = "transcript"

    @property
    def label(self) -> str:
        """``"GSM8K 8-shot-cot (gpt-4, Faithful-CoT)"``: what the run's header lists."""
        variant = f" {self.variant}" if self.variant else ""
        return f"{BENCHMARK_TITLES[self.benchmark]}{variant} ({self.model}, {SOURCES[self.source].short})"


@dataclass(frozen=True)
class RecordedSet:
    """A model's recordings; ``aliases`` are other names accepted for it (upstream spellings)."""

    name: str
    parts: tuple[Part, ...]
    aliases: tuple[str, ...] = ()


_FC = "recorded/gsm8k/faithful-cot_{}.jsonl.gz"
_RR = "recorded/gsm8k/rereading_gpt-3.5-turbo_baseline.jsonl.gz"
_FEW_COT = "recorded, 8-shot chain of thought (Faithful-CoT's COT prompt)"
_FEW_ANSWER = "recorded, 8-shot answer only (Faithful-CoT's standard prompt)"


def _alpaca(generator: str) -> Part:
    return Part("alpaca_eval", f"alpaca_eval/model_outputs/{generator}.json.gz", generator, "alpaca_eval")


def _mtbench(model: str) -> Part:
    return Part("mtbench", f"recorded/mtbench/{model}.jsonl.gz", model, "mtbench")


def _xstest(tag: str, model: str, protocol: str | None = None) -> Part:
    return Part("xstest", f"xstest/xstest_v2_completions_{tag}.csv.gz", model, "xstest", protocol=protocol)


SETS: tuple[RecordedSet, ...] = (
    RecordedSet("gpt-4", (
        Part("gsm8k", _FC.format("gpt4_COT"), "gpt-4", "faithful-cot", "8-shot-cot", _FEW_COT),
        Part("gsm8k", _FC.format("gpt4_standard"), "gpt-4", "faithful-cot", "8-shot", _FEW_ANSWER),
        Part("humaneval", "recorded/humaneval/reflexion_gpt-4_simple.jsonl.gz", "gpt-4", "reflexion",
             protocol="recorded, zero-shot with Reflexion's code-only system prompt"),
        _mtbench("gpt-4"),
        Part("ifeval", "recorded/ifeval/input_response_data_gpt4_20231107_145030.jsonl.gz", "gpt-4 (7 Nov 2023)",
             "ifeval"),
        _alpaca("gpt4"),
        _xstest("gpt4", "gpt-4"),
    ), aliases=("gpt4",)),
    RecordedSet("gpt-3.5-turbo", (
        Part("gsm8k", _RR, "gpt-3.5-turbo-0613", "rereading", "zero-shot-cot",
             "recorded, zero-shot chain of thought, answer in \\boxed{} (Re-Reading baseline)", "rereading:cot"),
        Part("gsm8k", _RR, "gpt-3.5-turbo-0613", "rereading", "zero-shot",
             "recorded, zero-shot, answer in \\boxed{} (Re-Reading baseline)", "rereading:vanilla"),
        Part("gsm8k", _FC.format("gpt-3.5-turbo_COT"), "gpt-3.5-turbo", "faithful-cot", "8-shot-cot", _FEW_COT),
        Part("gsm8k", _FC.format("gpt-3.5-turbo_standard"), "gpt-3.5-turbo", "faithful-cot", "8-shot", _FEW_ANSWER),
        Part("humaneval", "recorded/humaneval/mapcoder_chatgpt_cot.jsonl.gz", "ChatGPT (Azure, version not recorded)",
             "mapcoder", protocol="recorded, 5-shot chain of thought (MapCoder's CoT baseline)"),
        _mtbench("gpt-3.5-turbo"),
        Part("alpaca_eval", "alpaca_eval/model_outputs/gpt-3.5-turbo-0301.json.gz", "gpt-3.5-turbo-0301",
             "alpaca_eval", "0301"),
        Part("alpaca_eval", "alpaca_eval/model_outputs/gpt-3.5-turbo-1106.json.gz", "gpt-3.5-turbo-1106",
             "alpaca_eval", "1106"),
    ), aliases=("gpt-3.5-turbo-0301", "chatgpt")),
    RecordedSet("claude", (_alpaca("claude"), _mtbench("claude-v1")), aliases=("claude-v1",)),
    RecordedSet("claude-instant", (_mtbench("claude-instant-v1"),), aliases=("claude-instant-v1",)),
    RecordedSet("claude-2", (_alpaca("claude-2"),)),
    RecordedSet("claude-2.1", (_alpaca("claude-2.1"),)),
    RecordedSet("llama-2-70b-chat", (
        _alpaca("llama-2-70b-chat-hf"),
        _xstest("llama2orig", "llama-2-70b-chat", "recorded, with Llama-2's original system prompt"),
    ), aliases=("llama-2-70b-chat-hf",)),
    RecordedSet("mistral-7b-instruct", (_xstest("mistralinstruct", "mistral-7b-instruct-v0.1"),),
                aliases=("mistral-7b-instruct-v0.1",)),
    RecordedSet("mixtral-8x7b-instruct", (_alpaca("Mixtral-8x7B-Instruct-v0.1"),),
                aliases=("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1")),
    RecordedSet("vicuna-33b", (_alpaca("vicuna-33b-v1.3"), _mtbench("vicuna-33b-v1.3")), aliases=("vicuna-33b-v1.3",)),
    RecordedSet("wizardlm-70b", (_alpaca("wizardlm-70b"),)),
    RecordedSet("wizardlm-30b", (_mtbench("wizardlm-30b"),)),
    RecordedSet("zephyr-7b-beta", (_alpaca("zephyr-7b-beta"),)),
    RecordedSet("falcon-40b-instruct", (_mtbench("falcon-40b-instruct"),)),
    RecordedSet("text-davinci-003", (_alpaca("text_davinci_003"),), aliases=("text_davinci_003",)),
)

#: Other names (upstream spellings) -> set name.
SET_ALIASES: dict[str, str] = {alias: s.name for s in SETS for alias in s.aliases}
_BY_NAME = {s.name: s for s in SETS}

#: Built-in recorded judges (``--llm-judge=recorded:NAME``) -> the judge formats they can answer
#: (:attr:`~pytest_llmeval.scoring.judge.JudgedScorer.judge_format`).
JUDGE_SETS: dict[str, tuple[str, ...]] = {"alpaca_eval_gpt4": ("alpaca_eval_gpt4",)}
#: The outputs GPT-4 judged in the shipped AlpacaEval 1.0 verdicts (generators, as upstream).
JUDGED_GENERATORS = ("gpt4", "gpt-3.5-turbo-0301", "llama-2-70b-chat-hf", "claude", "claude-2",
                     "gpt-3.5-turbo-1106", "zephyr-7b-beta")


class SetError(ValueError):
    """A ``recorded:`` name or variant choice that names nothing; the message lists what exists."""


def set_names() -> list[str]:
    """The built-in sets' names (not their aliases), sorted."""
    return sorted(_BY_NAME)


def find_set(name: str) -> RecordedSet | None:
    """The set called ``name`` (or one of its aliases), else None."""
    return _BY_NAME.get(SET_ALIASES.get(name, name))


def covered_benchmarks(source: str) -> frozenset[str] | None:
    """The benchmarks a built-in set (``recorded:SOURCE``, variants allowed) has recordings of,
    known without reading a file; None when ``source`` is not a built-in set (a transcript file)."""
    recorded_set = find_set(source.partition("@")[0])
    return None if recorded_set is None else frozenset(p.benchmark for p in recorded_set.parts)


def split_choice(text: str) -> tuple[str, dict[str, str]]:
    """``"gpt-4@gsm8k=8-shot"`` -> ``("gpt-4", {"gsm8k": "8-shot"})``; choices separated by ``,``."""
    name, _, choices = text.partition("@")
    chosen: dict[str, str] = {}
    for choice in filter(None, (c.strip() for c in choices.split(","))):
        benchmark, sep, variant = choice.partition("=")
        if not sep or not benchmark.strip() or not variant.strip():
            raise SetError(f"recorded:{text}: {choice!r} is not BENCHMARK=VARIANT (e.g. recorded:gpt-4@gsm8k=8-shot)")
        chosen[benchmark.strip()] = variant.strip()
    return name, chosen


def variants(recorded_set: RecordedSet, benchmark: str) -> list[str]:
    """The variant names a set has for a benchmark, the default first (empty when it has one part)."""
    return [p.variant for p in recorded_set.parts if p.benchmark == benchmark and p.variant]


def parts_for(recorded_set: RecordedSet, chosen: Mapping[str, str]) -> list[Part]:
    """The parts a set replays with ``chosen`` variants (benchmark -> variant), one per benchmark.

    Raises :class:`SetError` naming the set's benchmarks or variants when a choice names none.
    """
    for benchmark, variant in chosen.items():
        names = variants(recorded_set, benchmark)
        if not names:
            raise SetError(f"recorded:{recorded_set.name} has no variants for {benchmark!r}; variants exist for: "
                           f"{', '.join(_with_variants(recorded_set)) or 'none'}")
        if variant not in names:
            raise SetError(f"recorded:{recorded_set.name} has no {benchmark} variant {variant!r}; choose one of "
                           f"{', '.join(names)}")
    picked: dict[str, Part] = {}
    for part in recorded_set.parts:
        wanted = chosen.get(part.benchmark)
        if part.benchmark not in picked and (wanted is None or part.variant == wanted):
            picked[part.benchmark] = part
    return list(picked.values())


def _with_variants(recorded_set: RecordedSet) -> list[str]:
    return sorted({p.benchmark for p in recorded_set.parts if p.variant})


# -- the docs' tables ---------------------------------------------------------------------------------


def coverage_markdown() -> str:
    """Per set, which benchmarks it has recordings for (variants listed, the default first)."""
    columns = list(BENCHMARK_TITLES)
    lines = ["| `recorded:` name | also accepted as | " + " | ".join(BENCHMARK_TITLES[c] for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for recorded_set in sorted(SETS, key=lambda s: s.name):
        cells = []
        for benchmark in columns:
            parts = [p for p in recorded_set.parts if p.benchmark == benchmark]
            if not parts:
                cells.append("")
            elif len(parts) == 1:
                cells.append(parts[0].model)
            else:
                cells.append(", ".join(f"**{p.variant}**" if i == 0 else p.variant for i, p in enumerate(parts)))
        aliases = ", ".join(f"`{a}`" for a in recorded_set.aliases)
        lines.append(f"| `{recorded_set.name}` | {aliases} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parts_markdown() -> str:
    """Every recorded file a set replays: benchmark and variant, the model as the source names
    it, how it was prompted, and its source (see :func:`sources_markdown`)."""
    lines = ["| set | benchmark | variant | model (as recorded) | prompted with | source |",
             "|---|---|---|---|---|---|"]
    for recorded_set in sorted(SETS, key=lambda s: s.name):
        for part in recorded_set.parts:
            how = (part.protocol or "the plugin's prompt (the source's chat template)").removeprefix("recorded, ")
            lines.append(f"| `{recorded_set.name}` | {BENCHMARK_TITLES[part.benchmark]} | {part.variant or '-'} | "
                         f"{part.model} | {how} | {SOURCES[part.source].short} |")
    return "\n".join(lines)


def sources_markdown() -> str:
    """The sources of the recordings: publication, repository (and commit) and licence."""
    lines = ["| source | publication | repository | licence |", "|---|---|---|---|"]
    for source in sorted(SOURCES.values(), key=lambda s: s.short.lower()):
        lines.append(f"| {source.short} | {source.title} | {source.repository} | {source.licence} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m pytest_llmeval.backends.recorded_sets: the docs' tables
    print(coverage_markdown(), parts_markdown(), sources_markdown(), sep="\n\n")
