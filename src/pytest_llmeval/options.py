"""Command-line options, their ini/pyproject equivalents, and the validated settings of a run."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from .registry import EMBEDDED_MODEL


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value}")
    return value


CACHE_MODES = ("on", "off", "refresh")


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmeval", "model regression testing (pytest-llmeval)")
    add = group.addoption
    add("--llm-model", dest="llm_models", action="append", default=None, metavar="SPEC",
        help=f"model under test: an alias (llama-2-70b-chat, gpt-4, ...) or hf:DIR_OR_HUB_ID, gguf:FILE, "
             f"openai:MODEL, recorded:NAME. Repeat for several models side by side. "
             f"Default: ini llm_models, else the embedded {EMBEDDED_MODEL}.")
    add("--llm-suite", dest="llm_suites", action="append", default=None, metavar="NAME",
        help="add built-in items: 'capabilities' (all), a capability (reasoning, general, ...) or a benchmark "
             "(gsm8k, mmlu, ...). Repeatable. Default: ini llm_suite, else none.")
    add("--llm-limit", dest="llm_limit", type=_positive_int, default=None, metavar="N",
        help="at most N items per benchmark: a seeded sample, the same items every run. Default: ini llm_limit, else all.")
    add("--llm-base-url", dest="llm_base_url", default=None, metavar="URL",
        help="an OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, transformers serve) for openai: models "
             "and aliases. Default: ini llm_base_url, else $LLMEVAL_BASE_URL, else the OpenAI API. "
             "The key is read only from $LLMEVAL_API_KEY, else $OPENAI_API_KEY.")
    add("--llm-baseline", dest="llm_baseline", default=None, metavar="SPEC",
        help="the baseline to compare with (default: ini llm_baseline, else gpt-3.5-turbo): run live when reachable, "
             "else recorded outputs, else a scorecard JSON of an earlier run; 'none' turns it off.")
    add("--llm-judge", dest="llm_judge", default=None, metavar="SPEC",
        help="the judge model for judged benchmarks (AlpacaEval, MT-Bench). Default: ini llm_judge, else gpt-4.")
    add("--llm-scorecard", dest="llm_scorecards", action="append", default=None, metavar="PATH",
        help="write the scorecard to PATH: .json, .md (Markdown) or .html (with a chart), by suffix. Repeatable. "
             "Default: ini llm_scorecard, else none.")
    add("--llm-thresholds", dest="llm_thresholds", default=None, metavar="PATH",
        help="the thresholds file the CI gate checks (commit it). Default: ini llm_thresholds, else none.")
    add("--llm-pin", dest="llm_pin", action="store_true", default=False,
        help="write the thresholds file from this run's results (needs --llm-thresholds or ini llm_thresholds).")
    add("--llm-max-error-rate", dest="llm_max_error_rate", type=_rate, default=None, metavar="FRACTION",
        help="fail the run when more than this fraction of benchmark items errored (backend failures). "
             "Default: ini llm_max_error_rate, else 0.05.")
    add("--llm-cache-dir", dest="llm_cache_dir", default=None, metavar="DIR",
        help="where responses are cached. Default: ini llm_cache_dir, else .llmeval-cache in the rootdir.")
    add("--llm-cache", dest="llm_cache", choices=CACHE_MODES, default=None,
        help="'on' reads and writes the response cache; 'refresh' asks every request again and rewrites it; "
             "'off' neither reads nor writes. Default: ini llm_cache, else on.")
    add("--llm-batch-size", dest="llm_batch_size", type=_positive_int, default=None, metavar="N",
        help="local (transformers) generation batch size. Default: ini llm_batch_size, else 16.")
    add("--llm-concurrency", dest="llm_concurrency", type=_positive_int, default=None, metavar="N",
        help="most requests in flight to a server (it adapts down on HTTP 429). Default: ini llm_concurrency, else 8.")
    add("--llm-timeout", dest="llm_timeout", type=_seconds, default=None, metavar="SECONDS",
        help="per-request timeout for servers. Default: ini llm_timeout, else 60.")
    add("--llm-allow-code-execution", dest="llm_allow_code_execution", action="store_true", default=None,
        help="allow benchmarks (HumanEval) to run model-written code in a sandboxed subprocess. "
             "Default: ini llm_allow_code_execution, else off (such items are skipped).")

    ini = parser.addini
    ini("llm_models", "models under test (see --llm-model)", type="linelist", default=[])
    ini("llm_suite", "built-in suites to add (see --llm-suite)", type="linelist", default=[])
    ini("llm_limit", "items per benchmark (see --llm-limit)", default="")
    ini("llm_base_url", "OpenAI-compatible server URL (see --llm-base-url)", default="")
    ini("llm_baseline", "baseline model spec (see --llm-baseline)", default="gpt-3.5-turbo")
    ini("llm_judge", "judge model spec (see --llm-judge)", default="gpt-4")
    ini("llm_scorecard", "scorecard paths (see --llm-scorecard)", type="linelist", default=[])
    ini("llm_thresholds", "thresholds file (see --llm-thresholds)", default="")
    ini("llm_max_error_rate", "allowed fraction of errored items (see --llm-max-error-rate)", default="0.05")
    ini("llm_cache_dir", "response cache directory (see --llm-cache-dir)", default=".llmeval-cache")
    ini("llm_cache", "cache mode on|off|refresh (see --llm-cache)", default="on")
    ini("llm_batch_size", "local generation batch size (see --llm-batch-size)", default="16")
    ini("llm_concurrency", "server concurrency (see --llm-concurrency)", default="8")
    ini("llm_timeout", "server request timeout in seconds (see --llm-timeout)", default="60")
    ini("llm_allow_code_execution", "allow sandboxed code execution (see --llm-allow-code-execution)",
        type="bool", default=False)
    ini("llm_aliases", "extra model aliases, one 'name = scheme:target' a line", type="linelist", default=[])


@dataclass(frozen=True)
class Settings:
    """The run's settings: command line first, then ini/pyproject, then environment, then defaults."""

    models: tuple[str, ...]
    suites: tuple[str, ...]
    limit: int | None
    base_url: str | None
    baseline: str | None
    judge: str
    scorecards: tuple[Path, ...]
    thresholds: Path | None
    pin: bool
    max_error_rate: float
    cache_dir: Path
    cache_mode: str
    batch_size: int
    concurrency: int
    timeout: float
    allow_code_execution: bool
    aliases: tuple[str, ...]


def _ini_number(config: pytest.Config, name: str, check: object) -> object:
    raw = str(config.getini(name)).strip()
    if not raw:
        return None
    try:
        return check(raw)  # type: ignore[operator]
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini option {name} = {raw!r}: {exc}") from None


def read_settings(config: pytest.Config) -> Settings:
    """Collect and validate every setting; bad values raise a UsageError that says what to do."""
    opt = config.option
    root = config.rootpath

    def path(value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else root / p

    models = tuple(opt.llm_models or config.getini("llm_models") or [EMBEDDED_MODEL])
    suites = tuple(opt.llm_suites or config.getini("llm_suite") or [])
    limit = opt.llm_limit if opt.llm_limit is not None else _ini_number(config, "llm_limit", _positive_int)
    base_url = opt.llm_base_url or str(config.getini("llm_base_url")).strip() or os.environ.get("LLMEVAL_BASE_URL") or None
    baseline = opt.llm_baseline or str(config.getini("llm_baseline")).strip() or None
    if baseline is not None and baseline.lower() == "none":
        baseline = None
    scorecards = tuple(path(p) for p in (opt.llm_scorecards or config.getini("llm_scorecard") or []))
    for card in scorecards:
        if card.suffix.lower() not in (".json", ".md", ".html", ".htm"):
            raise pytest.UsageError(f"--llm-scorecard {card}: the file name must end in .json, .md or .html")
    thresholds_text = opt.llm_thresholds or str(config.getini("llm_thresholds")).strip()
    thresholds = path(thresholds_text) if thresholds_text else None
    if opt.llm_pin and thresholds is None:
        raise pytest.UsageError("--llm-pin writes the thresholds file: name it with --llm-thresholds=PATH "
                                "(or llm_thresholds in pyproject.toml)")
    max_error_rate = opt.llm_max_error_rate
    if max_error_rate is None:
        max_error_rate = _ini_number(config, "llm_max_error_rate", _rate)
    cache_mode = opt.llm_cache or str(config.getini("llm_cache")).strip() or "on"
    if cache_mode not in CACHE_MODES:
        raise pytest.UsageError(f"ini option llm_cache = {cache_mode!r}: use one of {', '.join(CACHE_MODES)}")
    allow = opt.llm_allow_code_execution
    if allow is None:
        allow = bool(config.getini("llm_allow_code_execution"))
    return Settings(
        models=models,
        suites=suites,
        limit=limit,  # type: ignore[arg-type]
        base_url=base_url,
        baseline=baseline,
        judge=opt.llm_judge or str(config.getini("llm_judge")).strip() or "gpt-4",
        scorecards=scorecards,
        thresholds=thresholds,
        pin=opt.llm_pin,
        max_error_rate=0.05 if max_error_rate is None else max_error_rate,  # type: ignore[arg-type]
        cache_dir=path(opt.llm_cache_dir or str(config.getini("llm_cache_dir")).strip() or ".llmeval-cache"),
        cache_mode=cache_mode,
        batch_size=opt.llm_batch_size or _ini_number(config, "llm_batch_size", _positive_int) or 16,  # type: ignore[arg-type]
        concurrency=opt.llm_concurrency or _ini_number(config, "llm_concurrency", _positive_int) or 8,  # type: ignore[arg-type]
        timeout=opt.llm_timeout or _ini_number(config, "llm_timeout", _seconds) or 60.0,  # type: ignore[arg-type]
        allow_code_execution=allow,
        aliases=tuple(config.getini("llm_aliases") or []),
    )


def api_key() -> str | None:
    """The API key, only ever from the environment."""
    return os.environ.get("LLMEVAL_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
