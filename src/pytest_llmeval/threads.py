"""How many compute threads a local backend may use: the CPUs this process may actually run
on (its affinity mask and its cgroup's CPU quota, not the machine's core count), shared among
xdist workers, unless the user says otherwise (``--llm-threads``).

A torch process that starts more threads than it has CPUs, or that spins waiting for threads
the scheduler gave to another process, slows everything on the machine down, itself most of
all: on a 2-core machine two such runs at once took 9.2 times one run alone. The transformers
backend gives torch this many intra- and inter-op threads and keeps their waiting from spinning
(:mod:`pytest_llmeval.backends.transformers.runtime`); perf/concurrent_runs.py measures both.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from .backends.base import BackendContext
from .options import RunOptions


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (``1.5`` = 150 ms per 100 ms), or None.

    Reads cgroup v2's ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD"), else v1's
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1 = none).
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity, capped by the cgroup quota (at least 1)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        count = min(count, max(1, math.floor(limit)))
    return max(1, count)


def threads_for(workers: int, requested: int | None = None) -> int:
    """Threads for one process: ``requested`` when given, else its share of :func:`usable_cpus`."""
    if requested is not None:
        return requested
    return max(1, usable_cpus() // max(1, workers))


def backend_context(config: pytest.Config, options: RunOptions) -> BackendContext:
    """The settings a backend factory receives for this run and process."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    return BackendContext(root=config.rootpath, base_url=options.base_url, concurrency=options.concurrency,
                          timeout=options.timeout, batch_size=options.batch_size,
                          threads=threads_for(workers, options.threads), workers=workers,
                          cache_dir=options.cache_dir if options.cache_mode != "off" else None)
