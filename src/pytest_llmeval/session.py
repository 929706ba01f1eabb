"""The evaluation session: collects benchmark items, prepares models, answers ahead of tests.

Registered in every process that runs tests (xdist workers too); it never loads a model or a
heavy library unless benchmark items were collected.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from .backends.base import Backend, BackendContext, BackendError
from .benchmarks.base import Benchmark, Item
from .benchmarks.data import DatasetError
from .cache import ResponseCache
from .collection import BenchmarkItem, SuiteCollector, backend_failure, check_response, identity_properties, item_name
from .engine import Engine, ModelHandle
from .options import Settings, api_key
from .registry import ModelSpec, ModelSpecError, parse_aliases, resolve
from .request import Request, Response
from .scorecard import ItemOutcome
from .scoring.base import Score
from .scoring.judge import VerdictError, is_judged

SETTINGS = pytest.StashKey["Settings"]()
EVAL_SESSION = pytest.StashKey["EvalSession"]()

MARKER = "llmeval_benchmark"
#: The engine's name for the judge model (kept apart from a candidate of the same name).
JUDGE = "<judge>"


def settings_of(config: pytest.Config) -> Settings:
    return config.stash[SETTINGS]


class Bound:
    """A parametrized test's item together with the model that answers it."""

    def __init__(self, model: str, item: Item) -> None:
        self.model = model
        self.item = item

    def __repr__(self) -> str:
        return f"{self.item.benchmark.name}[{self.item.id}] on {self.model}"


class EvalSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.specs = self._resolve_models(settings.models)
        self.model_names = [spec.name for spec in self.specs]
        self.baseline, self.baseline_note = self._helper_model(settings.baseline, "baseline")
        if self.baseline is not None and self.baseline.name in self.model_names:
            self.baseline, self.baseline_note = None, "the baseline is also a model under test"
        self.judge, self.judge_note = self._helper_model(settings.judge, "judge")
        self.baseline_outcomes: list[ItemOutcome] = []
        self._engine: Engine | None = None
        self._benchmarks: dict[str, Benchmark] | None = None
        self.prefetch_seconds: float | None = None

    # -- models --------------------------------------------------------------------------------

    def _factories(self) -> dict[str, Any]:
        factories: dict[str, Any] = {}
        for result in self.config.hook.pytest_llmeval_backends(config=self.config):
            factories.update(result)
        return factories

    def _resolve_models(self, texts: Sequence[str]) -> list[ModelSpec]:
        try:
            aliases = parse_aliases(list(self.settings.aliases), self._extra_schemes())
            specs = [resolve(text, aliases, self._extra_schemes()) for text in texts]
        except ModelSpecError as exc:
            raise pytest.UsageError(f"--llm-model: {exc}") from None
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise pytest.UsageError(f"--llm-model: the same model is named twice ({', '.join(names)})")
        return specs

    def _helper_model(self, text: str | None, role: str) -> tuple[ModelSpec | None, str]:
        """The baseline or the judge: live when a server is configured, else recorded outputs.

        "Reachable" means an API key or a base URL is configured; nothing is probed, so an
        offline run never waits on the network.
        """
        if text is None:
            return None, f"no {role} (turned off)"
        if text.endswith(".json") and role == "baseline":
            return None, f"from the scorecard file {text}"
        try:
            spec = resolve(text, parse_aliases(list(self.settings.aliases), self._extra_schemes()), self._extra_schemes())
        except ModelSpecError as exc:
            raise pytest.UsageError(f"--llm-{role}: {exc}") from None
        if spec.scheme != "openai" or api_key() or self.settings.base_url:
            return spec, f"{spec.scheme}:{spec.target}"
        from .backends.recorded import available_sets

        recorded = {"gpt-4": "alpaca_eval_gpt4"}.get(spec.name) if role == "judge" else spec.name
        if recorded in available_sets():
            return ModelSpec(spec.name, "recorded", recorded, spec.alias), (
                f"recorded outputs ({recorded}): no API key or --llm-base-url for a live {spec.name}")
        return None, f"{spec.name} is not reachable (no API key or --llm-base-url) and has no recorded outputs"

    def _extra_schemes(self) -> tuple[str, ...]:
        return tuple(s for s in self._factories() if s not in ("hf", "gguf", "openai", "recorded"))

    def backend_for(self, spec: ModelSpec) -> Backend:
        """Build the backend for a model; an alias asked of a server goes to that server."""
        factories = self._factories()
        scheme = spec.scheme
        if self.settings.base_url and spec.alias is not None and spec.scheme == "hf" and spec.alias.served_name:
            spec = ModelSpec(spec.name, "openai", spec.alias.served_name, spec.alias)
            scheme = "openai"
        if scheme not in factories:
            raise BackendError(f"no backend is installed for {scheme}: models (known: {', '.join(sorted(factories))})")
        return factories[scheme](spec, self.backend_context())

    def backend_context(self) -> BackendContext:
        import os

        workers = int(getattr(self.config, "workerinput", {}).get("workercount", 1))
        threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
        s = self.settings
        return BackendContext(root=self.config.rootpath, base_url=s.base_url, concurrency=s.concurrency, timeout=s.timeout,
                              batch_size=s.batch_size, threads=threads, workers=workers)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            roles = [(spec, "candidate") for spec in self.specs]
            roles += [(spec, role) for spec, role in ((self.baseline, "baseline"), (self.judge, "judge")) if spec is not None]
            handles = {
                spec.name if role != "judge" else JUDGE: ModelHandle(spec.name, functools.partial(self.backend_for, spec), role)
                for spec, role in roles
            }
            cache = ResponseCache(self.settings.cache_dir, self.settings.cache_mode)  # type: ignore[arg-type]
            self._engine = Engine(handles, cache)
        return self._engine

    # -- benchmarks ----------------------------------------------------------------------------

    def benchmarks(self) -> dict[str, Benchmark]:
        if self._benchmarks is None:
            found: dict[str, Benchmark] = {}
            for result in self.config.hook.pytest_llmeval_benchmarks(config=self.config):
                for bench in result:
                    found.setdefault(bench.name, bench)
            self._benchmarks = found
        return self._benchmarks

    def suite_benchmarks(self) -> list[Benchmark]:
        known = self.benchmarks()
        capabilities = sorted({b.capability for b in known.values()})
        chosen: dict[str, Benchmark] = {}
        for name in self.settings.suites:
            if name in ("capabilities", "all"):
                chosen.update(known)
            elif name in known:
                chosen[name] = known[name]
            elif name in capabilities:
                chosen.update({k: b for k, b in known.items() if b.capability == name})
            else:
                raise pytest.UsageError(
                    f"--llm-suite: unknown suite {name!r}. Use 'capabilities', a capability "
                    f"({', '.join(capabilities)}) or a benchmark ({', '.join(sorted(known))})."
                )
        return list(chosen.values())

    def make_items(self, parent: pytest.Collector, benchmark: Benchmark, base_dir: Path | None) -> list[pytest.Item]:
        items = self.load_items(benchmark, base_dir)
        several = len(self.model_names) > 1
        self.register_capability(benchmark.capability)
        made: list[pytest.Item] = []
        for item in items:
            for model in self.model_names:
                node = BenchmarkItem.from_parent(parent, name=item_name(benchmark.name, item, model, several),
                                                 item=item, model=model, evaluator=self)
                node.add_marker(benchmark.capability)
                node.add_marker("llmeval")
                made.append(node)
        return made

    def load_items(self, benchmark: Benchmark, base_dir: Path | None) -> list[Item]:
        try:
            return benchmark.items(base_dir, self.settings.limit)
        except DatasetError as exc:
            raise pytest.UsageError(f"benchmark {benchmark.name!r}: {exc}") from None

    def register_capability(self, capability: str) -> None:
        line = f"{capability}: benchmark items of the {capability} capability (pytest-llmeval)"
        if line not in self.config.getini("markers"):
            self.config.addinivalue_line("markers", line)

    # -- scoring -------------------------------------------------------------------------------

    def skip_reason(self, model: str, item: Item) -> str | None:
        """Why an item cannot run on this model, known before asking it anything (or None).

        Checked before inference too, so no time is spent generating answers nobody can score.
        """
        if item.benchmark.executes_code and not self.settings.allow_code_execution:
            return "runs model-written code: allow it with --llm-allow-code-execution (sandboxed subprocess)"
        if is_judged(item.benchmark.scorer):
            if self.judge is None:
                return f"needs a judge model: {self.judge_note}; set --llm-judge"
            model_scheme = next((s.scheme for s in (*self.specs, self.baseline) if s is not None and s.name == model), None)
            if self.judge.scheme == "recorded" and model_scheme != "recorded":
                return (f"needs a live judge: the recorded {self.judge.target} verdicts cover only the recorded models' "
                        f"outputs ({self.judge_note}); set --llm-judge and an API key or --llm-base-url")
        return None

    def evaluate(self, model: str, item: Item) -> tuple[Request, Response, Score]:
        """Answer and score one item: skips when it cannot run, fails with the cause when errored."""
        reason = self.skip_reason(model, item)
        if reason is not None:
            pytest.skip(reason)
        request, response = self.engine.answer(model, item.requests)
        check_response(response, model)
        scorer = item.benchmark.scorer
        if not is_judged(scorer):
            return request, response, item.score(response)
        judge_request = scorer.judge_request(item, response)
        if judge_request is None:
            return request, response, scorer.score_with_verdict(item, response, None)
        assert self.judge is not None  # skip_reason said so
        verdict = self.engine.answer(JUDGE, [judge_request])[1]
        check_response(verdict, f"judge {self.judge.name}")
        try:
            return request, response, scorer.score_with_verdict(item, response, verdict)
        except VerdictError as exc:
            backend_failure(f"judge {self.judge.name} gave no usable verdict: {exc}")
            raise  # unreachable: backend_failure raises

    def outcome(self, model: str, item: Item) -> ItemOutcome:
        """An item's outcome outside any test (the baseline's items)."""
        def made(outcome: str, score: Score | None = None) -> ItemOutcome:
            return ItemOutcome(model=model, capability=item.capability, benchmark=item.benchmark.name, item=item.id,
                               subset=item.subset, outcome=outcome, answer=score.answer if score else None,
                               expected=score.expected if score else None, metrics=dict(score.metrics) if score else {})

        try:
            _, _, score = self.evaluate(model, item)
        except pytest.skip.Exception:
            return made("skipped")
        except (pytest.fail.Exception, Exception):
            return made("error")
        return made("passed" if score.passed else "failed", score)

    # -- hooks ---------------------------------------------------------------------------------

    @pytest.hookimpl
    def pytest_pycollect_makeitem(self, collector: pytest.Collector, name: str, obj: object) -> list[pytest.Item] | None:
        if isinstance(obj, Benchmark) and isinstance(collector, pytest.Module) and collector.funcnamefilter(name):
            try:
                return self.make_items(collector, obj, collector.path.parent)
            except pytest.UsageError as exc:
                raise collector.CollectError(str(exc)) from None
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not self.settings.suites:
            return
        suite = SuiteCollector.from_parent(session, name="llmeval", nodeid="llmeval", benchmarks=self.suite_benchmarks(),
                                           evaluator=self)
        collected: list[pytest.Item | pytest.Collector] = list(suite.collect())
        # Reported like any collector's result, so "collected N items" counts the suite too.
        config.hook.pytest_collectreport(report=pytest.CollectReport("llmeval", "passed", None, collected))
        items.extend(node for node in collected if isinstance(node, pytest.Item))

    @pytest.hookimpl
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        marker = metafunc.definition.get_closest_marker(MARKER)
        if marker is None:
            return
        benchmark = marker.args[0]
        if "llm_item" not in metafunc.fixturenames:
            raise pytest.UsageError(f"{metafunc.function.__name__}: a test marked by {benchmark.name}.each must take llm_item")
        items = self.load_items(benchmark, metafunc.definition.path.parent)
        self.register_capability(benchmark.capability)
        several = len(self.model_names) > 1
        params = [Bound(model, item) for item in items for model in self.model_names]
        ids = [f"{b.item.id}-{b.model}" if several else b.item.id for b in params]
        metafunc.parametrize("llm_item", params, ids=ids, indirect=True)

    @pytest.hookimpl(trylast=True)
    def pytest_itemcollected(self, item: pytest.Item) -> None:
        bound = _bound_of(item)
        if bound is not None:
            # Each decorated test is a check of its own: counted under its own name, so that an
            # item checked by two tests is not counted twice in one benchmark row.
            label = f"{bound.item.benchmark.name}/{getattr(item, 'originalname', item.name)}"
            item.user_properties.extend(identity_properties(bound.model, bound.item, label))
            item.add_marker(bound.item.capability)
            item.add_marker("llmeval")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        from .sandbox import code_execution

        # Scoring (the baseline's in prefetch, each item's in its test) may run model-written
        # code only inside this run's loop, and only when the user allowed it.
        with code_execution(self.settings.allow_code_execution):
            collection_failed = session.testsfailed and not self.config.option.continue_on_collection_errors
            if not self.config.option.collectonly and not collection_failed:
                self.prefetch(session.items)
            return (yield)

    def prefetch(self, nodes: Sequence[pytest.Item]) -> None:
        wanted = []
        for node in nodes:
            if isinstance(node, BenchmarkItem):
                wanted.append((node.model, node.item))
            else:
                bound = _bound_of(node)
                if bound is not None:
                    wanted.append((bound.model, bound.item))
        if self.baseline is not None:
            unique = list({id(item): item for _, item in wanted}.values())
            wanted += [(self.baseline.name, item) for item in unique]
        wanted = [(model, item) for model, item in wanted if self.skip_reason(model, item) is None]
        if not wanted:
            return
        worker, workers = _worker_slot(self.config)
        engine = self.engine
        engine.run_id = str(getattr(self.config, "workerinput", {}).get("testrunuid", "local"))
        engine.progress = self._progress_printer() if worker == 0 or workers == 1 else None
        started = time.perf_counter()
        engine.prefetch([(model, item.requests) for model, item in wanted], worker, workers)
        self._prefetch_judge(wanted, worker, workers)
        if self.baseline is not None:
            # Each worker scores its own share of the baseline's items; answers come from the cache.
            self.baseline_outcomes = [self.outcome(self.baseline.name, item)
                                      for index, item in enumerate(unique) if index % workers == worker]
        self.prefetch_seconds = time.perf_counter() - started
        self._print_models()

    def _prefetch_judge(self, wanted: list[tuple[str, Item]], worker: int, workers: int) -> None:
        if self.judge is None:
            return
        judge_requests = []
        for model, item in wanted:
            scorer = item.benchmark.scorer
            if not is_judged(scorer):
                continue
            _, response = self.engine.answer(model, item.requests)
            if response.ok:
                judge_request = scorer.judge_request(item, response)
                if judge_request is not None:
                    judge_requests.append((JUDGE, (judge_request,)))
        if judge_requests:
            self.engine.prefetch(judge_requests, worker, workers)

    def _print_models(self) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or _worker_slot(self.config)[1] > 1:
            return
        for name, handle in self.engine.models.items():
            label = f"{handle.role} {handle.name}" if handle.role != "candidate" else name
            reporter.write_line(f"llmeval: {label}: {handle.describe()}")
        if self.baseline is None:
            reporter.write_line(f"llmeval: baseline: {self.baseline_note}")

    def _progress_printer(self) -> Any:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return None
        state: dict[str, Any] = {"last": 0.0, "finished": set()}
        tty = reporter.isatty() if callable(getattr(reporter, "isatty", None)) else sys.stdout.isatty()

        def show(model: str, done: int, total: int, elapsed: float) -> None:
            now = time.monotonic()
            final = done >= total
            if final and (model, total) in state["finished"]:
                return
            if not final and (done == 0 or now - state["last"] < (0.5 if tty else 15.0)):
                return
            if final:
                state["finished"].add((model, total))
            state["last"] = now
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (total - done) / rate if rate > 0 else 0.0
            label = "judge" if model == JUDGE else model
            line = f"llmeval: {label}: answering {done}/{total} requests ({rate:.1f}/s, {elapsed:.0f}s elapsed"
            line += ")" if final else f", ~{eta:.0f}s left)"
            if tty and not final:
                reporter.rewrite(line)
            elif tty:
                reporter.rewrite(line, erase=True)
                reporter.write_line("")
            else:
                reporter.write_line(line)

        return show

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def _bound_of(item: pytest.Item) -> Bound | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    value = callspec.params.get("llm_item")
    return value if isinstance(value, Bound) else None


def _worker_slot(config: pytest.Config) -> tuple[int, int]:
    """(this worker's index, number of workers) under xdist, else (0, 1)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return 0, 1
    return int(str(workerinput["workerid"]).removeprefix("gw")), int(workerinput["workercount"])


# -- fixtures ----------------------------------------------------------------------------------


class ModelClient:
    """The ``llm_model`` fixture: ask the model under test directly from a test body.

    Example::

        def test_greets(llm_model):
            assert "hello" in llm_model.generate("Say hello.").lower()
    """

    def __init__(self, evaluator: EvalSession, model: str) -> None:
        self.evaluator = evaluator
        self.name = model

    def ask(self, request: Any) -> Response:
        return self.evaluator.engine.ask(self.name, request)

    def generate(self, prompt: str, *, system: str | None = None, max_tokens: int = 256) -> str:
        """Chat-generate a reply to ``prompt`` (cached like every request); raises on backend errors."""
        from .request import Message, Request

        messages = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
        response = self.ask(Request(messages=messages, max_tokens=max_tokens))
        if not response.ok:
            raise BackendError(f"{self.name}: {response.error}")
        return response.text


@pytest.fixture
def llm_item(request: pytest.FixtureRequest) -> Item:
    """The benchmark item of a test decorated with ``benchmark.each``."""
    bound = getattr(request, "param", None)
    if not isinstance(bound, Bound):
        raise pytest.UsageError(f"{request.node.nodeid}: llm_item is only available in tests decorated with BENCHMARK.each")
    return bound.item


@pytest.fixture
def llm_response(request: pytest.FixtureRequest, llm_item: Item) -> Response:
    """The model's response to ``llm_item`` (answered ahead of the tests, from the cache on reruns).

    Backend errors make the test error; a missing recording skips it.
    """
    bound = _bound_of(request.node)
    assert bound is not None
    response = request.config.stash[EVAL_SESSION].engine.answer(bound.model, llm_item.requests)[1]
    check_response(response, bound.model)
    return response


@pytest.fixture
def llm_model(request: pytest.FixtureRequest) -> ModelClient:
    """A client for the model under test (the first ``--llm-model``, or this test's model)."""
    evaluator = request.config.stash[EVAL_SESSION]
    bound = _bound_of(request.node)
    return ModelClient(evaluator, bound.model if bound else evaluator.model_names[0])

