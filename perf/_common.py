"""Shared helpers for the perf/ scripts: the machine, medians, result files and RESULTS.md.

Every script measures its figure against a named reference in the same run, interleaved and
repeated, and hands the outcome to :func:`write_result`, which writes
``perf/results/<name>.json`` and rebuilds ``perf/RESULTS.md`` from every result file there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PERF_DIR = Path(__file__).resolve().parent
REPO = PERF_DIR.parent
RESULTS_DIR = PERF_DIR / "results"
PYTHON = sys.executable


def machine() -> dict[str, Any]:
    """What the numbers were measured on: cores, CPU model, load average at the start."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        memory_gib = None
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gib": memory_gib, "loadavg_at_start": load,
            "python": platform.python_version(), "platform": platform.platform()}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a small version (a minute or two) to check the script works")
    p.add_argument("--no-write", action="store_true", help="print only; leave perf/results and RESULTS.md alone")
    return p


@dataclass
class Figure:
    """One measured figure: ours against a reference, as a ratio, with its target."""

    figure: str
    reference: str
    ratio: float | None
    #: How to read the ratio, e.g. "ours/reference tokens per second (higher is better)".
    ratio_meaning: str
    target: str
    met: bool | None
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        ratio = "n/a" if self.ratio is None else f"{self.ratio:.3f}"
        met = {True: "met", False: "MISSED", None: "reported"}[self.met]
        return f"{self.figure}: {ratio} ({self.ratio_meaning}); target {self.target}: {met}"


def write_result(name: str, args: argparse.Namespace, figures: list[Figure], *, machine_info: dict[str, Any],
                 started: float, notes: Sequence[str] = (), extra: dict[str, Any] | None = None) -> Path | None:
    """Print the figures, write ``perf/results/<name>.json`` and rebuild ``perf/RESULTS.md``."""
    print()
    for fig in figures:
        print(fig.line())
    for note in notes:
        print(f"note: {note}")
    if args.no_write:
        return None
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        "name": name,
        "script": f"perf/{name}.py",
        "quick": bool(args.quick),
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {**machine_info, "loadavg_at_end": loadavg()},
        "figures": [asdict(f) for f in figures],
        "notes": list(notes),
        **(extra or {}),
    }
    # A quick run never overwrites a full one: it goes to <name>.quick.json.
    path = RESULTS_DIR / (f"{name}.quick.json" if args.quick else f"{name}.json")
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path.relative_to(REPO)}")
    write_summary()
    return path


#: The order the summary lists the scripts in (the issue's table order).
ORDER = ["generation_throughput", "end_to_end_lm_eval", "mc_loglikelihood", "openai_concurrency",
         "plugin_overhead", "warm_rerun", "scaling", "concurrent_runs"]


def write_summary() -> Path:
    """Rebuild perf/RESULTS.md from the full-run result files (quick runs are left out)."""
    results = {}
    for path in sorted(RESULTS_DIR.glob("*.json")):
        if path.name.endswith(".quick.json"):
            continue
        results[path.stem] = json.loads(path.read_text())
    names = [n for n in ORDER if n in results] + sorted(n for n in results if n not in ORDER)
    lines = [
        "# Performance results",
        "",
        "Written by the scripts in `perf/` (`.venv/bin/python perf/<name>.py`); do not edit by hand.",
        "Each figure is measured against its reference in the same run, interleaved and repeated;",
        "ratios are of medians. See `docs/performance.md` for what each figure means.",
        "",
        "Machines: " + "; ".join(sorted({f"{r['machine'].get('nproc')} cores ({r['machine'].get('cpu')}), "
                                         f"{r['machine'].get('memory_gib')} GiB, Python {r['machine'].get('python')}"
                                         for r in results.values()})) + ".",
        "",
        "| figure | reference (same run) | measured | target | met? |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        for fig in results[name]["figures"]:
            ratio = "n/a" if fig["ratio"] is None else f"{fig['ratio']:.2f}x"
            met = {True: "yes", False: "**no**", None: "reported"}[fig["met"]]
            lines.append(f"| {fig['figure']} | {fig['reference']} | {ratio} ({fig['ratio_meaning']}) | "
                         f"{fig['target']} | {met} |")
    lines += ["", "## Runs", ""]
    for name in names:
        r = results[name]
        m = r["machine"]
        lines.append(f"### {name}")
        lines.append("")
        lines.append(f"`{r['script']}`, {r['measured']}, {r['wall_s']} s; {m.get('nproc')} cores "
                     f"({m.get('cpu')}), load average {m.get('loadavg_at_start')} at start, "
                     f"{m.get('loadavg_at_end')} at end.")
        lines.append("")
        for fig in r["figures"]:
            lines.append(f"- **{fig['figure']}**: {_detail_text(fig['detail'])}")
        for note in r.get("notes", []):
            lines.append(f"- {note}")
        lines.append("")
    out = PERF_DIR / "RESULTS.md"
    out.write_text("\n".join(lines))
    return out


def _detail_text(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, list) and value and all(isinstance(v, float) for v in value):
            value = "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
        parts.append(f"{key} {value}")
    return "; ".join(parts)


# -- child processes --------------------------------------------------------------------------

_PEAK = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)\n"
    "wall = time.perf_counter() - t\n"
    "sys.stdout.buffer.write(p.stdout)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print('\\n@@PERF', p.returncode, wall, peak)\n"
)


@dataclass
class ChildRun:
    returncode: int
    wall_s: float
    #: Peak resident memory of the child (and any of its children), MiB.
    peak_rss_mib: float
    output: str


def run_child(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> ChildRun:
    """Run a command and measure its wall time and its own peak RSS.

    A fresh small wrapper process runs each command, so ``RUSAGE_CHILDREN`` of that wrapper is
    the peak of this command alone (the counter of a long-lived parent only ever grows).
    """
    full_env = {**os.environ, **(env or {})}
    # As on a user's machine, Python caches compiled (and pytest's assertion-rewritten) modules:
    # a workplace that turns bytecode caching off would time every run's compiling instead.
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([PYTHON, "-c", _PEAK, str(cwd), *argv], env=full_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)
    text = proc.stdout.decode("utf-8", "replace")
    body, _, tail = text.rpartition("\n@@PERF ")
    code, wall, peak = tail.split()
    return ChildRun(int(code), float(wall), int(peak) / 1024.0, body)


def self_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
