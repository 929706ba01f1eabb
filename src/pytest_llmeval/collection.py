"""Collecting benchmark items: from test modules, from ``--llm-suite``, and for tests decorated
with ``benchmark.each``.

Registered in every process that collects (xdist workers too). Collecting loads benchmark data
and nothing heavier: no model, no backend.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from . import gc_pause, properties
from .benchmarks.base import Benchmark, Item, item_key
from .benchmarks.data import DatasetError
from .evaluation import Evaluator
from .items import SUITE_NODE, BenchmarkItem, Bound, SuiteCollector, add_fingerprint, bound_of, identity_properties, item_name
from .options import RunOptions, generation_for, protocol_for, unknown_benchmarks

#: The marker ``benchmark.each`` puts on a test.
EACH_MARKER = "llmeval_benchmark"


class CollectionPlugin:
    """Turns benchmarks into collected tests, one per item and model."""

    def __init__(self, config: pytest.Config, options: RunOptions, evaluator: Evaluator) -> None:
        self.config = config
        self.options = options
        self.evaluator = evaluator
        self.model_names = evaluator.models.names
        self._benchmarks: dict[str, Benchmark] | None = None
        #: With --llm-shard: (tests kept, tests collected), once collected.
        self.shard_counts: tuple[int, int] | None = None
        #: Whether benchmark items were built, and whether collection froze them (see gc_pause).
        self.made_items = False
        self.frozen = False
        # Given back in a cleanup registered now, before pytest's own (cleanups run last-in,
        # first-out): pytest's end-of-session garbage collections then skip what collection
        # made, and the objects are the collector's again before the session is over.
        config.add_cleanup(self.unfreeze)
        #: The benchmarks whose items were loaded (registered or in test modules).
        self.loaded: set[str] = set()
        #: The capabilities whose marker is registered.
        self.registered: set[str] = set()
        if options.merge and getattr(config.option, "dist", "no") != "no":
            # A merge runs no test, so it starts no xdist worker: as xdist's own -n 0 does, before
            # xdist's (trylast) pytest_configure would start its distributed session.
            config.option.dist, config.option.tx = "no", []

    # -- which benchmarks ----------------------------------------------------------------------

    def benchmarks(self) -> dict[str, Benchmark]:
        """Every benchmark that plugins registered (``pytest_llmeval_benchmarks``), by name."""
        if self._benchmarks is None:
            found: dict[str, Benchmark] = {}
            for result in self.config.hook.pytest_llmeval_benchmarks(config=self.config):
                for bench in result:
                    found.setdefault(bench.name, bench)
            self._benchmarks = found
        return self._benchmarks

    def suite_benchmarks(self) -> list[Benchmark]:
        """The benchmarks ``--llm-suite`` names: all, a capability's, or one by name."""
        known = self.benchmarks()
        capabilities = sorted({b.fixed_capability for b in known.values() if b.fixed_capability})
        chosen: dict[str, Benchmark] = {}
        for name in self.options.suites:
            if name in ("capabilities", "all"):
                chosen.update(known)
            elif name in known:
                chosen[name] = known[name]
            elif name in capabilities:
                chosen.update({k: b for k, b in known.items() if b.fixed_capability == name})
            else:
                raise pytest.UsageError(
                    f"--llm-suite: unknown suite {name!r}. Use 'capabilities', a capability "
                    f"({', '.join(capabilities)}) or a benchmark ({', '.join(sorted(known))})."
                )
        return list(chosen.values())

    # -- items ---------------------------------------------------------------------------------

    def load_items(self, benchmark: Benchmark, base_dir: Path | None) -> list[Item]:
        self.loaded.add(benchmark.name)
        benchmark = self.with_run_protocol(benchmark)
        try:
            items = benchmark.items(base_dir, self.options.limit)
        except DatasetError as exc:
            raise pytest.UsageError(f"benchmark {benchmark.name!r}: {exc}") from None
        settings = generation_for(self.options, benchmark.name)
        if settings:
            items = [item.with_generation(**settings) for item in items]
        for capability in {item.capability for item in items}:
            self.register_capability(capability)
        return items

    def with_run_protocol(self, benchmark: Benchmark) -> Benchmark:
        """The benchmark asked as ``--llm-protocol`` says: a value naming it must apply; a run-wide
        one passes over a benchmark that has no few-shot examples."""
        chosen = protocol_for(self.options, benchmark.name)
        if chosen is None:
            return benchmark
        target, protocol = chosen
        try:
            return benchmark.with_protocol(protocol)
        except ValueError as exc:
            if target is None:
                return benchmark
            raise pytest.UsageError(f"--llm-protocol={target}={protocol}: {exc}") from None

    def make_items(self, parent: pytest.Collector, benchmark: Benchmark, base_dir: Path | None = None) -> list[pytest.Item]:
        several = len(self.model_names) > 1
        made: list[pytest.Item] = []
        # One marker object per name, not one per test (MMLU alone makes 14,042 tests). Items of
        # --llm-suite inherit "llmeval" from their collector (markers are looked up the chain of
        # parents); a test module's items get it themselves.
        markers: dict[str, pytest.MarkDecorator] = {}
        own_llmeval = not isinstance(parent, SuiteCollector)
        with gc_pause.paused():
            for item in self.load_items(benchmark, base_dir):
                capability = markers.get(item.capability) or markers.setdefault(item.capability,
                                                                               getattr(pytest.mark, item.capability))
                for model in self.model_names:
                    name = item_name(benchmark.name, item, model, several)
                    # The node id given as text, so that pytest reads "benchmark[item]" as a name and
                    # its parameters, as it reads the ids --lf and --deselect compare with.
                    node = BenchmarkItem.from_parent(parent, name=name, nodeid=f"{parent.nodeid}::{name}",
                                                     item=item, model=model, evaluator=self.evaluator)
                    node.add_marker(capability)
                    if own_llmeval:
                        node.add_marker(pytest.mark.llmeval)
                    made.append(node)
        self.made_items = self.made_items or bool(made)
        return made

    def register_capability(self, capability: str) -> None:
        if capability in self.registered:
            return
        self.registered.add(capability)
        line = f"{capability}: benchmark items of the {capability} capability (pytest-llmeval)"
        if line not in self.config.getini("markers"):
            self.config.addinivalue_line("markers", line)

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
    def pytest_collection(self, session: pytest.Session) -> bool | None:
        # --llm-merge runs no test: the scorecard plugin merges the shards' files instead.
        return True if self.options.merge else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.options.suites:
            suite = SuiteCollector.from_parent(session, name=SUITE_NODE, nodeid=SUITE_NODE, benchmarks=self.suite_benchmarks(),
                                               make_items=self.make_items)
            suite.add_marker("llmeval")
            collected: list[pytest.Item | pytest.Collector] = list(suite.collect())
            # Reported like any collector's result, so "collected N items" counts the suite too.
            config.hook.pytest_collectreport(report=pytest.CollectReport(SUITE_NODE, "passed", None, collected))
            items.extend(node for node in collected if isinstance(node, pytest.Item))
        known = {*self.benchmarks(), *self.loaded}
        unknown = unknown_benchmarks(self.options, known)
        if unknown:
            raise pytest.UsageError("; ".join(unknown) + f". Known benchmarks: {', '.join(sorted(known))}")
        if self.options.shard is not None:
            self.shard_counts = select_shard(config, items, *self.options.shard)
        if self.made_items and not self.frozen:
            # Before the collector, paused while they were built, walks them all (see gc_pause).
            self.frozen = gc_pause.freeze_collected()

    def unfreeze(self) -> None:
        """Give the objects frozen after collection back to the garbage collector."""
        if self.frozen:
            gc_pause.unfreeze()
            self.frozen = False

    @pytest.hookimpl
    def pytest_report_collectionfinish(self, config: pytest.Config) -> str | None:
        if self.options.shard is None or self.shard_counts is None:
            return None
        (index, total), (kept, seen) = self.options.shard, self.shard_counts
        return f"llmeval: shard {index}/{total}: {kept} of {seen} tests (benchmark items by item identity, other tests by node id)"

    @pytest.hookimpl
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        marker = metafunc.definition.get_closest_marker(EACH_MARKER)
        if marker is None:
            return
        benchmark = marker.args[0]
        if "llm_item" not in metafunc.fixturenames:
            raise pytest.UsageError(f"{metafunc.function.__name__}: a test marked by {benchmark.name}.each must take llm_item")
        items = self.load_items(benchmark, metafunc.definition.path.parent)
        several = len(self.model_names) > 1
        params = [Bound(model, item) for item in items for model in self.model_names]
        ids = [f"{b.item.id}-{b.model}" if several else b.item.id for b in params]
        metafunc.parametrize("llm_item", params, ids=ids, indirect=True)

    @pytest.hookimpl(trylast=True)
    def pytest_itemcollected(self, item: pytest.Item) -> None:
        bound = bound_of(item)
        if bound is not None and not isinstance(item, BenchmarkItem):
            # Each decorated test is a check of its own: counted under its own name, so that an
            # item checked by two tests is not counted twice in one benchmark row.
            label = f"{bound.item.benchmark.name}/{getattr(item, 'originalname', item.name)}"
            item.user_properties.extend(identity_properties(bound.model, bound.item, label))
            item.user_properties.extend(properties.protocol_properties(bound.item.protocol))
            item.add_marker(bound.item.capability)
            item.add_marker("llmeval")

    @pytest.hookimpl
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        bound = bound_of(item)
        if bound is not None and not isinstance(item, BenchmarkItem):
            add_fingerprint(item, bound.item)


# -- shards (--llm-shard=I/N) ------------------------------------------------------------------


def shard_of(key: str, total: int) -> int:
    """The shard, 1 to ``total``, that runs the test named ``key`` (see :func:`shard_key`).

    A hash of the key alone (SHA-256, salted apart from ``--llm-limit``'s sample), so every
    machine agrees, and adding or removing other tests never moves a test to another shard.
    Shards are equal in expectation, not exactly: with n tests each holds about n/N.
    """
    digest = hashlib.sha256(f"pytest-llmeval-shard:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def shard_key(node: pytest.Item) -> str:
    """What decides a test's shard: for a benchmark item (or a ``benchmark.each`` test) its
    item's key ``"gsm8k[<id>]"``, so that every model and check of one item runs in the same
    shard with the baseline's answer to it; for any other test its node id."""
    bound = bound_of(node)
    return node.nodeid if bound is None else item_key(bound.item.benchmark.name, bound.item.id)


def select_shard(config: pytest.Config, items: list[pytest.Item], index: int, total: int) -> tuple[int, int]:
    """Keep the tests of shard ``index`` of ``total`` in ``items``, report the rest as deselected,
    and return (kept, collected)."""
    seen = len(items)
    kept = [node for node in items if shard_of(shard_key(node), total) == index]
    if len(kept) < seen:
        chosen = set(map(id, kept))
        config.hook.pytest_deselected(items=[node for node in items if id(node) not in chosen])
        items[:] = kept
    return len(kept), seen
