"""Every option of the plugin, declared once.

:data:`OPTIONS` is the single table from which the command-line options (``addoption``), their
ini / ``pyproject.toml`` equivalents (``addini``), the run's frozen :class:`RunOptions` and the
reference table in ``docs/options.md`` are all derived. Precedence for each setting: the
command line, then the ini value, then the environment variable where one is named, then the
default. A bad value stops the run at start with a :class:`pytest.UsageError` naming the flag
or ini key and what is allowed.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import pytest

from .benchmarks.fewshot import parse_protocol
from .registry import EMBEDDED_MODEL

CACHE_MODES = ("on", "off", "refresh")
SCORECARD_SUFFIXES = (".json", ".md", ".html", ".htm")


# -- value checks (argparse ``type=`` callables; the same ones check ini values) ---------------


def _number(text: str, kind: type[int] | type[float], accepts: Callable[[float], bool], expected: str) -> Any:
    """``text`` as a number of ``kind`` that ``accepts`` takes, else ArgumentTypeError saying ``expected``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not accepts(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    if not text.strip().lstrip("+-").isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    value: int = _number(text, int, lambda v: v >= 1, "a number of at least 1")
    return value


def fraction(text: str) -> float:
    value: float = _number(text, float, lambda v: 0.0 <= v <= 1.0, "a fraction between 0 and 1")
    return value


def seconds(text: str) -> float:
    value: float = _number(text, float, lambda v: v > 0, "a positive number of seconds")
    return value


def non_negative(text: str) -> float:
    value: float = _number(text, float, lambda v: v >= 0, "a number >= 0 (0 is greedy decoding)")
    return value


def probability(text: str) -> float:
    value: float = _number(text, float, lambda v: 0.0 < v <= 1.0, "a number above 0 and at most 1")
    return value


def shard_spec(text: str) -> tuple[int, int]:
    """``"2/5"``: the 1-based index of a shard and the number of shards, ``(2, 5)``."""
    index, sep, total = text.strip().partition("/")
    try:
        value = (int(index), int(total)) if sep else None
    except ValueError:
        value = None
    if value is None or not 1 <= value[0] <= value[1]:
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N (such as 2/5), got {text!r}")
    return value


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


PerBenchmark = tuple[str | None, Any]


def per_benchmark(check: Callable[[str], Any]) -> Callable[[str], PerBenchmark]:
    """A check for ``VALUE`` (every benchmark) or ``BENCHMARK=VALUE`` (that one benchmark)."""

    def parse(text: str) -> PerBenchmark:
        name, sep, value = text.rpartition("=")
        if sep:
            if not name.strip():
                raise argparse.ArgumentTypeError(f"expected VALUE or BENCHMARK=VALUE, got {text!r}")
            return (name.strip(), check(value.strip()))
        return (None, check(text.strip()))

    parse.__name__ = check.__name__
    return parse


def protocol(text: str) -> Any:
    """``zero-shot``, ``K-shot`` or ``survey``, optionally with ``:multi-turn`` / ``:one-message``
    (see :func:`pytest_llmeval.benchmarks.fewshot.parse_protocol`)."""
    try:
        return parse_protocol(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


REDUCERS = ("majority", "all", "any")


def tag_pair(text: str) -> tuple[str, str]:
    """``"<think> </think>"``: the opening and closing tags of a reasoning trace."""
    parts = text.split()
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected an opening and a closing tag separated by a space, such as "
                                         f"'<think> </think>', got {text!r}")
    return (parts[0], parts[1])


# -- the table ---------------------------------------------------------------------------------

Kind = Literal["text", "flag", "lines"]


@dataclass(frozen=True)
class Option:
    """One setting: its flag, its ini key, how its text is checked, and its default.

    ``kind`` is ``"text"`` (one value), ``"flag"`` (on/off; ini type bool) or ``"lines"``
    (repeatable flag; ini type linelist). ``check`` turns a text into the value or raises
    :class:`argparse.ArgumentTypeError`. ``default_text`` is how help and docs show the default.
    """

    name: str
    flag: str | None
    ini: str | None
    help: str
    default: Any
    default_text: str
    kind: Kind = "text"
    check: Callable[[str], Any] | None = None
    metavar: str | None = None
    env: str | None = None
    choices: tuple[str, ...] | None = None

    def parse(self, text: str) -> Any:
        """The value of ``text`` (an ini or environment value, or one line of a lines option);
        raises ArgumentTypeError."""
        if self.choices is not None and text not in self.choices:
            raise argparse.ArgumentTypeError(f"use one of {', '.join(self.choices)}")
        return text if self.check is None else self.check(text)

    @property
    def dest(self) -> str:
        return f"llm_{self.name}"


OPTIONS: tuple[Option, ...] = (
    Option("models", "--llm-model", "llm_models",
           "model under test: an alias (llama-2-70b-chat, gpt-4, ...) or hf:DIR_OR_HUB_ID, gguf:FILE, vllm:DIR_OR_HUB_ID "
           "(a vLLM server the run starts), openai:MODEL, recorded:NAME. Repeat for several models side by side",
           default=(EMBEDDED_MODEL,), default_text=f"the embedded {EMBEDDED_MODEL}", kind="lines", metavar="SPEC"),
    Option("suites", "--llm-suite", "llm_suite",
           "add built-in items: 'capabilities' (all), a capability (reasoning, general, ...) or a benchmark "
           "(gsm8k, mmlu, ...). Repeatable",
           default=(), default_text="none", kind="lines", metavar="NAME"),
    Option("limit", "--llm-limit", "llm_limit",
           "at most N items per benchmark: a seeded sample, the same items every run and machine",
           default=None, default_text="all items", check=positive_int, metavar="N"),
    Option("base_url", "--llm-base-url", "llm_base_url",
           "an OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, transformers serve) for openai: models and "
           "aliases; the key is read only from $LLMEVAL_API_KEY, else $OPENAI_API_KEY",
           default=None, default_text="the OpenAI API", metavar="URL", env="LLMEVAL_BASE_URL"),
    Option("baseline", "--llm-baseline", "llm_baseline",
           "the baseline to compare with: live when reachable, else recorded outputs, else a scorecard JSON of an "
           "earlier run (a path ending in .json; PATH.json#MODEL picks one of several models in it); 'none' turns it off",
           default="gpt-3.5-turbo", default_text="gpt-3.5-turbo", metavar="SPEC"),
    Option("judge", "--llm-judge", "llm_judge",
           "the judge model for judged benchmarks (AlpacaEval, MT-Bench): live when reachable, else recorded verdicts",
           default="gpt-4", default_text="gpt-4", metavar="SPEC"),
    Option("baseline_base_url", "--llm-baseline-base-url", "llm_baseline_base_url",
           "an OpenAI-compatible server for the baseline (its own, never the candidates' --llm-base-url)",
           default=None, default_text="the OpenAI API when a key is set and --llm-base-url is not, else recorded outputs",
           metavar="URL", env="LLMEVAL_BASELINE_BASE_URL"),
    Option("judge_base_url", "--llm-judge-base-url", "llm_judge_base_url",
           "an OpenAI-compatible server for the judge (its own, never the candidates' --llm-base-url)",
           default=None, default_text="the OpenAI API when a key is set and --llm-base-url is not, else recorded verdicts",
           metavar="URL", env="LLMEVAL_JUDGE_BASE_URL"),
    Option("scorecards", "--llm-scorecard", "llm_scorecard",
           "write the scorecard to PATH: .json, .md (Markdown) or .html (with a chart), by suffix. Repeatable",
           default=(), default_text="none", kind="lines", metavar="PATH"),
    Option("thresholds", "--llm-thresholds", "llm_thresholds",
           "the thresholds file the CI gate checks (commit it); read at start, so a malformed one stops the run "
           "before any inference",
           default=None, default_text="none", metavar="PATH"),
    Option("pin", "--llm-pin", None,
           "write the thresholds file from this run's results (needs --llm-thresholds or ini llm_thresholds)",
           default=False, default_text="off", kind="flag"),
    Option("shard", "--llm-shard", "llm_shard",
           "run shard I of N: a deterministic share of the tests (benchmark items by item identity, other tests by "
           "node id) for runs split across machines; write each shard's --llm-scorecard=PATH.json and merge them "
           "with --llm-merge",
           default=None, default_text="the whole run", check=shard_spec, metavar="I/N"),
    Option("merge", "--llm-merge", None,
           "run no test: merge the scorecard JSON files of a run's N shards (names or quoted glob patterns) into "
           "the scorecard, gate verdict, files and exit status of one run over all items. Repeatable",
           default=(), default_text="off", kind="lines", metavar="FILE"),
    Option("max_error_rate", "--llm-max-error-rate", "llm_max_error_rate",
           "fail the run when more than this fraction of benchmark items errored (backend failures)",
           default=0.05, default_text="0.05", check=fraction, metavar="FRACTION"),
    Option("cache_dir", "--llm-cache-dir", "llm_cache_dir",
           "where responses are cached (SQLite, shared safely by xdist workers)",
           default=".llmeval-cache", default_text=".llmeval-cache in the rootdir", metavar="DIR"),
    Option("cache_mode", "--llm-cache", "llm_cache",
           "'on' reads and writes the response cache; 'refresh' asks every request again and rewrites it; "
           "'off' neither reads nor writes",
           default="on", default_text="on", choices=CACHE_MODES),
    Option("batch_size", "--llm-batch-size", "llm_batch_size",
           "local (transformers) generation batch size: rows decoding at once",
           default=16, default_text="16", check=positive_int, metavar="N"),
    Option("concurrency", "--llm-concurrency", "llm_concurrency",
           "most requests in flight to a server; halves on HTTP 429 and grows back",
           default=8, default_text="8", check=positive_int, metavar="N"),
    Option("threads", "--llm-threads", "llm_threads",
           "compute threads of a local (transformers) model in each process; by default the CPUs the process may use "
           "(affinity and cgroup quota), shared among xdist workers",
           default=None, default_text="the usable CPUs / workers", check=positive_int, metavar="N", env="LLMEVAL_THREADS"),
    Option("timeout", "--llm-timeout", "llm_timeout",
           "per-request timeout for servers, in seconds",
           default=60.0, default_text="60", check=seconds, metavar="SECONDS"),
    Option("allow_code_execution", "--llm-allow-code-execution", "llm_allow_code_execution",
           "allow benchmarks (HumanEval) to run model-written code in a sandboxed subprocess; otherwise such items "
           "are skipped",
           default=False, default_text="off", kind="flag"),
    Option("repeats", "--llm-repeats", "llm_repeats",
           "ask each item K times (each sample cached under its own index; sample at a temperature > 0 to "
           "measure run-to-run noise, pass@k and majority vote); the item's outcome follows --llm-reducer",
           default=1, default_text="1", check=positive_int, metavar="K"),
    Option("reducer", "--llm-reducer", "llm_reducer",
           "how K samples make one item outcome: 'majority' passes when more than half of the samples pass, "
           "'all' when every sample passes, 'any' when one does",
           default="majority", default_text="majority", choices=REDUCERS),
    Option("temperature", "--llm-temperature", "llm_temperature",
           "sampling temperature for every benchmark (VALUE) or one (BENCHMARK=VALUE); repeatable; 0 is greedy",
           default=(), default_text="each benchmark's own (0: greedy)", kind="lines", check=per_benchmark(non_negative),
           metavar="[BENCHMARK=]T"),
    Option("top_p", "--llm-top-p", "llm_top_p",
           "nucleus sampling mass for every benchmark (VALUE) or one (BENCHMARK=VALUE); repeatable",
           default=(), default_text="each benchmark's own (none)", kind="lines", check=per_benchmark(probability),
           metavar="[BENCHMARK=]P"),
    Option("seed", "--llm-seed", "llm_seed",
           "sampling seed sent with every request, for every benchmark (VALUE) or one (BENCHMARK=VALUE); repeatable",
           default=(), default_text="each benchmark's own (none)", kind="lines", check=per_benchmark(whole_number),
           metavar="[BENCHMARK=]SEED"),
    Option("max_tokens", "--llm-max-tokens", "llm_max_tokens",
           "most tokens generated per reply, for every benchmark (VALUE) or one (BENCHMARK=VALUE); repeatable",
           default=(), default_text="each benchmark's own", kind="lines", check=per_benchmark(positive_int),
           metavar="[BENCHMARK=]N"),
    Option("protocol", "--llm-protocol", "llm_protocol",
           "how items are asked, for every benchmark (VALUE) or one (BENCHMARK=VALUE); repeatable: 'zero-shot' (the "
           "plain prompt), 'K-shot' (K solved examples first, from the benchmark's few-shot split or a seeded pool of "
           "its rows that is then not evaluated), or 'survey' (the published figures' protocol: MMLU 5-shot, GSM8K "
           "8-shot chain of thought); add ':one-message' to put the examples in the question's message instead of "
           "'multi-turn' chat. A plain VALUE passes over benchmarks without few-shot examples",
           default=(), default_text="each benchmark's own (zero-shot)", kind="lines", check=per_benchmark(protocol),
           metavar="[BENCHMARK=]PROTOCOL"),
    Option("reasoning_tags", "--llm-reasoning-tags", "llm_reasoning_tags",
           "the tags around a reasoning trace in replies, as 'OPEN CLOSE'; repeatable. Every scorer and judge reads "
           "the final answer only, outside the trace",
           default=(("<think>", "</think>"),), default_text="'<think> </think>'", kind="lines", check=tag_pair,
           metavar="'OPEN CLOSE'"),
    Option("aliases", None, "llm_aliases",
           "extra model aliases, one 'name = scheme:target' a line",
           default=(), default_text="none", kind="lines"),
)


@dataclass(frozen=True)
class RunOptions:
    """The run's settings, read once from :data:`OPTIONS` and validated (see the module docstring)."""

    models: tuple[str, ...] = (EMBEDDED_MODEL,)
    suites: tuple[str, ...] = ()
    limit: int | None = None
    base_url: str | None = None
    baseline: str | None = "gpt-3.5-turbo"
    judge: str = "gpt-4"
    baseline_base_url: str | None = None
    judge_base_url: str | None = None
    scorecards: tuple[Path, ...] = ()
    thresholds: Path | None = None
    pin: bool = False
    shard: tuple[int, int] | None = None
    merge: tuple[Path, ...] = ()
    max_error_rate: float = 0.05
    cache_dir: Path = field(default_factory=lambda: Path(".llmeval-cache"))
    cache_mode: str = "on"
    batch_size: int = 16
    concurrency: int = 8
    threads: int | None = None
    timeout: float = 60.0
    allow_code_execution: bool = False
    repeats: int = 1
    reducer: str = "majority"
    temperature: tuple[PerBenchmark, ...] = ()
    top_p: tuple[PerBenchmark, ...] = ()
    seed: tuple[PerBenchmark, ...] = ()
    max_tokens: tuple[PerBenchmark, ...] = ()
    protocol: tuple[PerBenchmark, ...] = ()
    reasoning_tags: tuple[tuple[str, str], ...] = (("<think>", "</think>"),)
    aliases: tuple[str, ...] = ()
    #: The command line as given, without anything that looks like a key (for the scorecard).
    args: tuple[str, ...] = ()

    @property
    def keeps_items(self) -> bool:
        """Whether the run's item outcomes outlive it (a thresholds file, a scorecard file, a shard):
        only then is each item's fingerprint worth computing."""
        return bool(self.thresholds or self.scorecards or self.shard)


#: RunOptions fields that are paths, resolved against the rootdir.
_PATH_FIELDS = ("scorecards", "thresholds", "cache_dir", "merge")


def addoption(parser: pytest.Parser) -> None:
    """Add every option of :data:`OPTIONS` to pytest's parser (one group, one ``--llm-`` prefix)."""
    group = parser.getgroup("llmeval", "model regression testing (pytest-llmeval)")
    for option in OPTIONS:
        if option.flag is not None:
            shown = f"${option.env}, else {option.default_text}" if option.env else option.default_text
            default = f" Default: ini {option.ini}, else {shown}." if option.ini else f" Default: {shown}."
            if option.kind == "flag":
                group.addoption(option.flag, dest=option.dest, action="store_true", default=None,
                                help=f"{option.help}.{default}")
            else:
                group.addoption(option.flag, dest=option.dest, default=None, metavar=option.metavar,
                                action="append" if option.kind == "lines" else "store", type=option.check,
                                choices=option.choices, help=f"{option.help}.{default}")
        if option.ini is not None:
            see = f" (see {option.flag})" if option.flag else ""
            ini_type: Literal["bool", "linelist", "string"] = (
                "bool" if option.kind == "flag" else "linelist" if option.kind == "lines" else "string")
            parser.addini(option.ini, f"{option.help.split(':')[0].split(';')[0]}{see}", type=ini_type,
                          default={"flag": False, "lines": [], "text": ""}[option.kind])


def _from_ini(config: pytest.Config, option: Option) -> Any:
    assert option.ini is not None
    raw = config.getini(option.ini)
    if option.kind == "flag":
        return bool(raw) if raw not in ("", None) else None
    if option.kind == "lines":
        try:
            return tuple(option.parse(str(line).strip()) for line in raw) or None
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini option {option.ini}: {exc}") from None
    text = str(raw).strip()
    if not text:
        return None
    try:
        return option.parse(text)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini option {option.ini} = {text!r}: {exc}") from None


def value_of(config: pytest.Config, option: Option) -> Any:
    """One setting's value: command line, then ini, then environment, then default."""
    given = getattr(config.option, option.dest, None) if option.flag else None
    if given is not None and given != []:
        return tuple(given) if option.kind == "lines" else given
    if option.ini is not None:
        from_ini = _from_ini(config, option)
        if from_ini is not None:
            return from_ini
    if option.env and os.environ.get(option.env):
        text = os.environ[option.env]
        try:
            return option.parse(text)
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"environment variable {option.env}={text!r}: {exc}") from None
    return option.default


def read_options(config: pytest.Config) -> RunOptions:
    """Collect and validate every setting; bad values raise a UsageError that says what to do."""
    values = {option.name: value_of(config, option) for option in OPTIONS}
    root = config.rootpath

    def path(value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else root / p

    values["scorecards"] = tuple(path(p) for p in values["scorecards"])
    for card in values["scorecards"]:
        if card.suffix.lower() not in SCORECARD_SUFFIXES:
            raise pytest.UsageError(f"--llm-scorecard {card}: the file name must end in .json, .md or .html")
    values["thresholds"] = path(values["thresholds"]) if values["thresholds"] else None
    values["cache_dir"] = path(values["cache_dir"])
    if values["cache_mode"] != "off":
        _check_writable_directory(values["cache_dir"], "--llm-cache-dir",
                                  "choose a directory you can write to, or turn the cache off with --llm-cache=off")
    if values["pin"] and values["thresholds"] is None:
        raise pytest.UsageError("--llm-pin writes the thresholds file: name it with --llm-thresholds=PATH "
                                "(or llm_thresholds in pyproject.toml)")
    values["merge"] = tuple(path(p) for p in values["merge"])
    _check_shard_and_merge(values)
    if values["baseline"] is not None and str(values["baseline"]).lower() == "none":
        values["baseline"] = None
    values["args"] = tuple(a for a in config.invocation_params.args if "key" not in a.lower())
    known = {f.name for f in fields(RunOptions)}
    return RunOptions(**{k: v for k, v in values.items() if k in known})


def scorecard_baseline(text: str | None) -> tuple[str, str | None] | None:
    """``--llm-baseline`` as an earlier run's scorecard: ``("card.json", None)`` for
    ``card.json``, ``("card.json", "MODEL")`` for ``card.json#MODEL``; None for a model spec."""
    if not text:
        return None
    if text.endswith(".json"):
        return text, None
    path, sep, model = text.rpartition("#")
    return (path, model) if sep and path.endswith(".json") and model else None


def _check_writable_directory(directory: Path, flag: str, advice: str) -> None:
    """Refuse a directory that cannot be made or written: it, or the nearest part of its path
    that exists, must be a writable directory (nothing is created here)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise pytest.UsageError(f"{flag} {directory}: {existing} is a file, not a directory; {advice}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise pytest.UsageError(f"{flag} {directory}: {existing} is not writable; {advice}")


def _check_shard_and_merge(values: dict[str, Any]) -> None:
    """A shard must write the JSON file its merge reads, and leaves the gate and pinning to it."""
    shard = values["shard"]
    if shard is not None and values["merge"]:
        raise pytest.UsageError("--llm-merge merges the files of finished shards and runs no test itself: "
                                "leave out --llm-shard (or ini llm_shard) when merging")
    if shard is None:
        return
    index, total = shard
    if values["pin"]:
        raise pytest.UsageError(f"--llm-pin with --llm-shard={index}/{total}: a shard holds only part of the items. "
                                f"Pin from the merged shards: pytest --llm-merge='shard-*.json' "
                                f"--llm-thresholds=PATH --llm-pin")
    if not any(card.suffix.lower() == ".json" for card in values["scorecards"]):
        raise pytest.UsageError(f"--llm-shard={index}/{total}: name the shard's scorecard file with "
                                f"--llm-scorecard=PATH.json (such as shard-{index}.json): --llm-merge reads it "
                                f"to make the run's scorecard and gate verdict")


#: The settings that decide what a run asks and how it scores the answers (besides its suites
#: and limit): shards of one run must agree on them (see :func:`outcome_settings`).
OUTCOME_SETTINGS = ("models", "baseline", "judge", "aliases", "repeats", "reducer", "temperature", "top_p", "seed",
                    "max_tokens", "reasoning_tags", "allow_code_execution", "protocol")


def outcome_settings(options: RunOptions) -> dict[str, Any]:
    """The run's :data:`OUTCOME_SETTINGS` and the plugin's version, as JSON values (the
    scorecard's ``run.settings``): ``{"models": ["smollm2-135m-instruct"], "repeats": 1, ...,
    "version": "0.1.0"}``. Tuples become lists, so a value read back from JSON compares equal."""
    from importlib.metadata import PackageNotFoundError, version

    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)

    found = {name: plain(getattr(options, name)) for name in OUTCOME_SETTINGS}
    try:
        found["version"] = version("pytest-llmeval")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        found["version"] = None
    return found


def api_key() -> str | None:
    """The API key, only ever from the environment."""
    return os.environ.get("LLMEVAL_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


def options_markdown(options: Sequence[Option] = OPTIONS) -> str:
    """The reference table of docs/options.md, derived from :data:`OPTIONS`."""
    lines = ["| option | ini | default | what it does |", "|---|---|---|---|"]
    for option in options:
        flag = "—"
        if option.flag is not None:
            shown = "\\|".join(option.choices) if option.choices else option.metavar or "VALUE"
            flag = f"`{option.flag}`" if option.kind == "flag" else f"`{option.flag}={shown}`"
            if option.kind == "lines":
                flag += " (repeatable)"
        ini = "—" if option.ini is None else f"`{option.ini}`" + {"lines": " (lines)", "flag": " (bool)"}.get(option.kind, "")
        default = f"`${option.env}`, else {option.default_text}" if option.env else option.default_text
        lines.append(f"| {flag} | {ini} | {default} | {option.help.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


#: The lines of docs/options.md between which :func:`options_markdown` stands.
DOC_START = "<!-- options table: generated from pytest_llmeval.options.OPTIONS by write_options_doc() -->"
DOC_END = "<!-- end of options table -->"


def write_options_doc(path: str | Path = Path("docs/options.md")) -> None:
    """Rewrite the generated table of docs/options.md from :data:`OPTIONS`."""
    target = Path(path)
    text = target.read_text(encoding="utf-8")
    head, _, rest = text.partition(DOC_START + "\n")
    _, _, tail = rest.partition(DOC_END)
    target.write_text(f"{head}{DOC_START}\n{options_markdown()}{DOC_END}{tail}", encoding="utf-8")


#: The options that take ``BENCHMARK=VALUE``, by RunOptions field.
PER_BENCHMARK_FLAGS = {"temperature": "--llm-temperature", "top_p": "--llm-top-p", "seed": "--llm-seed",
                       "max_tokens": "--llm-max-tokens", "protocol": "--llm-protocol"}


def unknown_benchmarks(options: RunOptions, known: Iterable[str]) -> list[str]:
    """The ``BENCHMARK=VALUE`` values that name no benchmark in ``known``, as the user wrote
    them (``"--llm-temperature=gsm8kk=0.5"``), with the closest known name where one is close."""
    names = set(known)
    found = []
    for field_name, flag in PER_BENCHMARK_FLAGS.items():
        for target, _ in getattr(options, field_name):
            if target is not None and target not in names:
                close = difflib.get_close_matches(target, sorted(names), n=1, cutoff=0.75)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                found.append(f"{flag}={target}=...: no benchmark is named {target!r}{hint}")
    return found


def generation_for(options: RunOptions, benchmark: str) -> dict[str, Any]:
    """The generation settings the run sets for one benchmark: ``{"temperature": 0.7, ...}``
    with only the settings given; a ``BENCHMARK=VALUE`` value beats a plain ``VALUE``."""
    found: dict[str, Any] = {}
    for name in ("temperature", "top_p", "seed", "max_tokens"):
        values: tuple[PerBenchmark, ...] = getattr(options, name)
        for target, value in sorted(values, key=lambda v: v[0] is not None):
            if target in (None, benchmark):
                found[name] = value
    return found


def protocol_for(options: RunOptions, benchmark: str) -> PerBenchmark | None:
    """The run's ``--llm-protocol`` for one benchmark as ``(target, Protocol)``: ``target`` is the
    benchmark's name when the value named it (it beats a plain value), None for a run-wide
    value; None when the run sets no protocol."""
    found: PerBenchmark | None = None
    for target, value in sorted(options.protocol, key=lambda v: v[0] is not None):
        if target in (None, benchmark):
            found = (target, value)
    return found
