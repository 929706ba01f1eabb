"""The run's models: the candidates under test, the baseline and the judge, and the engine
that answers them.

Built once per process from the frozen :class:`~pytest_llmeval.options.RunOptions` and the
backend factories that plugins registered (``pytest_llmeval_backends``). Nothing heavy happens
here: a backend is made only when something must be inferred (see
:class:`~pytest_llmeval.engine.ModelHandle`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from .backends.base import Backend, BackendContext, BackendError, BackendFactory
from .cache import ResponseCache
from .engine import Engine, ModelHandle
from .options import RunOptions, api_key, scorecard_baseline
from .registry import SCHEMES, ModelSpec, ModelSpecError, parse_aliases, resolve, split_arguments
from .scorecard import ModelInfo

#: The engine's name for the judge model (kept apart from a candidate of the same name).
JUDGE = "<judge>"
#: Schemes of weights the run serves itself; their aliases go to ``--llm-base-url`` when it is set.
LOCAL_SCHEMES = ("hf", "gguf", "vllm")


class ReplayWarning(UserWarning):
    """Sampling settings asked of a model that replays recordings (one reply per item)."""


class Models:
    """Candidates, baseline and judge of one run, and the engine answering them.

    ``baseline_note`` and ``judge_note`` say where each comes from (live, recorded, a scorecard
    file) or why there is none, for the run's header.
    """

    def __init__(self, options: RunOptions, factories: Mapping[str, BackendFactory], context: BackendContext) -> None:
        self.options = options
        self.factories = dict(factories)
        self.context = context
        extra = tuple(s for s in self.factories if s not in SCHEMES)
        try:
            self.aliases = parse_aliases(list(options.aliases), extra)
        except ModelSpecError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.extra_schemes = extra
        self.candidates = self._candidates(options.models)
        self.baseline, self.baseline_note = self._helper(options.baseline, "baseline")
        if self.baseline is not None and self.baseline.name in self.names:
            self.baseline, self.baseline_note = None, "the baseline is also a model under test"
        self.judge, self.judge_note = self._helper(options.judge, "judge")
        self._engine: Engine | None = None

    @property
    def names(self) -> list[str]:
        """The candidates' names, in the order given."""
        return [spec.name for spec in self.candidates]

    def _resolve(self, text: str) -> ModelSpec:
        return resolve(text, self.aliases, self.extra_schemes)

    def _candidates(self, texts: tuple[str, ...]) -> list[ModelSpec]:
        try:
            specs = [self._resolve(text) for text in texts]
        except ModelSpecError as exc:
            raise pytest.UsageError(f"--llm-model: {exc}") from None
        for spec in specs:
            missing = missing_target(spec)
            if missing is not None:
                raise pytest.UsageError(f"--llm-model={spec.scheme}:{spec.target}: {missing}")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise pytest.UsageError(f"--llm-model: the same model is named twice ({', '.join(names)})")
        return specs

    def _helper(self, text: str | None, role: str) -> tuple[ModelSpec | None, str]:
        """The baseline or the judge: live when it can be answered by a server of its own, else
        recorded outputs, else none; never the candidates' server (``--llm-base-url``), which
        serves the models under test and rarely the baseline's or the judge's.

        Live means: its own base URL (``--llm-baseline-base-url`` / ``--llm-judge-base-url``), or
        an API key for the OpenAI API when no ``--llm-base-url`` is set. Nothing is probed, so
        an offline run never waits on the network.
        """
        if text is None:
            return None, f"no {role} (turned off)"
        if role == "baseline" and scorecard_baseline(text) is not None:
            return None, f"from the scorecard file {text}"
        try:
            spec = self._resolve(text)
        except ModelSpecError as exc:
            raise pytest.UsageError(f"--llm-{role}: {exc}") from None
        if spec.scheme != "openai":
            missing = missing_target(spec)
            if missing is not None:
                raise pytest.UsageError(f"--llm-{role}={spec.scheme}:{spec.target}: {missing}")
            return spec, f"{spec.scheme}:{spec.target}"
        own_url = self.options.baseline_base_url if role == "baseline" else self.options.judge_base_url
        if own_url:
            return spec, f"{spec.target} at {own_url} (--llm-{role}-base-url)"
        if api_key() and not self.options.base_url:
            return spec, f"{spec.target} on the OpenAI API"
        why = (f"--llm-base-url serves the models under test, not the {role}; give the {role} its own with "
               f"--llm-{role}-base-url" if self.options.base_url else "no API key or --llm-base-url")
        from .backends.recorded import available_sets

        recorded = {"gpt-4": "alpaca_eval_gpt4"}.get(spec.name) if role == "judge" else spec.name
        if recorded in available_sets():
            return ModelSpec(spec.name, "recorded", recorded, spec.alias), (
                f"recorded outputs ({recorded}): {why} for a live {spec.name}")
        return None, f"{spec.name} is not reachable ({why}) and has no recorded outputs"

    def replay_warnings(self) -> list[str]:
        """What to warn of when the run samples (``--llm-repeats``, a temperature above 0) and a
        model under test replays recordings: each item has one recorded reply, so its samples
        are that reply again, and its pass@K and majority vote say nothing of sampling."""
        sampled = [f"--llm-repeats={self.options.repeats}"] if self.options.repeats > 1 else []
        if any(value for _, value in self.options.temperature):
            sampled.append("--llm-temperature")
        if not sampled:
            return []
        return [f"{spec.name} replays one recorded reply per item, so {' and '.join(sampled)} change nothing of "
                "its answers: its samples are that reply again, and its pass@K and majority vote say nothing "
                "of sampling" for spec in self.candidates if spec.scheme == "recorded"]

    def spec(self, name: str) -> ModelSpec | None:
        """The candidate or baseline of that name."""
        return next((s for s in (*self.candidates, self.baseline) if s is not None and s.name == name), None)

    def backend_for(self, spec: ModelSpec, role: str = "candidate") -> Backend:
        """Build the backend for a model. A candidate alias of local weights is asked of the
        ``--llm-base-url`` server, under its served name, when one is given; the baseline and
        the judge use their own server (see :meth:`_helper`)."""
        context = self.context
        if role == "candidate" and self.options.base_url and spec.alias is not None and spec.alias.served_name \
                and spec.scheme in LOCAL_SCHEMES:
            spec = ModelSpec(spec.name, "openai", spec.alias.served_name, spec.alias)
        elif role != "candidate":
            own = self.options.baseline_base_url if role == "baseline" else self.options.judge_base_url
            context = replace(context, base_url=own)
        if spec.scheme not in self.factories:
            raise BackendError(f"no backend is installed for {spec.scheme}: models "
                               f"(known: {', '.join(sorted(self.factories))})")
        return self.factories[spec.scheme](spec, context)

    @property
    def engine(self) -> Engine:
        """The engine, made on first use (it opens the response cache)."""
        if self._engine is None:
            roles = [(spec, "candidate") for spec in self.candidates]
            roles += [(spec, role) for spec, role in ((self.baseline, "baseline"), (self.judge, "judge")) if spec is not None]
            handles = {
                spec.name if role != "judge" else JUDGE: ModelHandle(spec.name, functools.partial(self.backend_for, spec, role),
                                                                     role)
                for spec, role in roles
            }
            self._engine = Engine(handles, ResponseCache(self.options.cache_dir, self.options.cache_mode))  # type: ignore[arg-type]
        return self._engine

    @property
    def engine_started(self) -> bool:
        """Whether anything was asked of the engine in this process."""
        return self._engine is not None

    def info(self, built_only: bool = False, served: Mapping[str, ModelInfo] | None = None) -> list[ModelInfo]:
        """The candidates and the baseline as the scorecard lists them: which backend served
        each and how, when it was built in this process (or, under xdist, in a worker: ``served``),
        else its spec; with ``built_only``, only those built here."""
        rows = []
        specs = [(spec, "candidate") for spec in self.candidates]
        if self.baseline is not None:
            specs.append((self.baseline, "baseline"))
        for spec, role in specs:
            handle = self._engine.models.get(spec.name) if self._engine is not None else None
            if handle is not None and handle.built:
                rows.append(ModelInfo(spec.name, handle.backend.name, handle.describe(), role))  # type: ignore[arg-type]
            elif served and spec.name in served:
                rows.append(replace(served[spec.name], role=role))  # type: ignore[arg-type]
            elif not built_only:
                rows.append(ModelInfo(spec.name, spec.scheme, f"{spec.scheme}:{spec.target}", role))  # type: ignore[arg-type]
        return rows

    def header_lines(self) -> list[str]:
        """One line per model for the run's header: which backend serves it, and how."""
        if self._engine is None:
            return []
        lines = []
        for name, handle in self._engine.models.items():
            label = f"{handle.role} {handle.name}" if handle.role != "candidate" else name
            lines.append(f"llmeval: {label}: {handle.describe()}")
        if self.baseline is None:
            lines.append(f"llmeval: baseline: {self.baseline_note}")
        return lines

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def missing_target(spec: ModelSpec) -> str | None:
    """What is wrong when a spec names local weights or recordings that are not there, else
    None; known before anything is loaded, so a typo is a usage error rather than errored items.

    A path of ``hf:``, ``gguf:`` or ``vllm:`` (one that starts with ``.``, ``/`` or ``~``; hub
    ids never do) is read from the current directory. A ``recorded:`` name without a path's
    ``/`` or file suffix must be a built-in set.
    """
    target, _ = split_arguments(spec.target) if spec.scheme in LOCAL_SCHEMES else (spec.target, None)
    if spec.scheme in LOCAL_SCHEMES and target.startswith((".", "/", "~", "\\")):
        path = Path(target).expanduser()
        if not path.exists():
            what = "GGUF file" if spec.scheme == "gguf" else "model directory"
            braces = " (model arguments go in a JSON object after it: {\"dtype\": \"bfloat16\"})" if "{" in target else ""
            return (f"no {what} at {path.absolute()}{braces}; relative paths are read from the current directory. "
                    "Give a local path that exists, or a hub id as ORG/NAME")
    if spec.scheme == "recorded" and "/" not in spec.target and not Path(spec.target).suffix:
        from .backends.recorded import available_sets
        from .backends.recorded_sets import find_set, split_choice

        if find_set(split_choice(spec.target)[0]) is None and spec.target not in available_sets():
            return (f"no built-in recorded set is named {spec.target!r} ({', '.join(available_sets())}); "
                    "a transcript file is named by its path (see docs/recorded.md)")
    return None
