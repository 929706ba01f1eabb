"""The OpenAI-compatible backend under concurrency, against the ideal and a bare asyncio client.

Figure: wall time of ``OpenAIBackend.run`` sending 2,000 chat requests to the fake server
(``pytest_llmeval.testing.server``, fixed 50 ms latency, in its own process so that client
and server do not share a GIL) at concurrency 8, 32 and 128.

References, measured in the same run:

- the ideal wall time, requests x latency / concurrency (what a free client and server take);
- a bare aiohttp client firing the same request bodies at the same concurrency (one session,
  a connector limited to the concurrency). It parses the JSON answer and nothing else: what
  any client must at least spend. It runs in its own process (``--bare-python``), timed inside.
- with ``--with-httpx``, also a bare httpx client (the openai package's own HTTP library,
  ``httpx2`` for openai 3) the same way, one ``AsyncClient`` with ``Limits`` of the
  concurrency: the measurement the choice between the two libraries rests on. Its figures go
  in the result's detail; the targets are against aiohttp.

At each concurrency the runs alternate (ours, bare, bare, ours, ...). CPU seconds of the
client and of the server process are recorded per run, so a reader can see which side was
saturated. Where a target is missed (or with ``--profile``), one more run of ours is profiled
with cProfile (``OpenAIBackend.run_async`` on the main thread) and the top functions are
written to the result.

    .venv/bin/python perf/openai_concurrency.py                 # 2,000 requests, 3 rounds
    .venv/bin/python perf/openai_concurrency.py --with-httpx    # and the httpx reference
    .venv/bin/python perf/openai_concurrency.py --quick         # 400 requests, 1 round
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common as c

LATENCY = 0.05


def bodies(n: int, model: str) -> list[dict[str, Any]]:
    return [{"model": model, "max_tokens": 16, "temperature": 0.0,
             "messages": [{"role": "user", "content": f"Question {i}: what is {i} + 1?"}]} for i in range(n)]


# -- the bare client (runs in its own process) --------------------------------------------------

async def _bare_aiohttp(url: str, concurrency: int, payloads: list[dict[str, Any]]) -> int:
    import aiohttp

    ok = 0
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": "Bearer no-key"}) as session:
        async def one(body: dict[str, Any]) -> None:
            nonlocal ok
            async with gate, session.post(url, json=body) as response:
                data = await response.json()
                if response.status == 200 and data["choices"]:
                    ok += 1

        await asyncio.gather(*(one(b) for b in payloads))
    return ok


async def _bare_httpx(url: str, concurrency: int, payloads: list[dict[str, Any]]) -> int:
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]

    ok = 0
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, headers={"Authorization": "Bearer no-key"}) as client:
        async def one(body: dict[str, Any]) -> None:
            nonlocal ok
            async with gate:
                response = await client.post(url, json=body)
                data = json.loads(response.content)
                if response.status_code == 200 and data["choices"]:
                    ok += 1

        await asyncio.gather(*(one(b) for b in payloads))
    return ok


def bare_worker(base_url: str, concurrency: int, n: int, client: str) -> None:
    """Entry of the bare-client process: one line of JSON with the time and CPU it took."""
    run = _bare_aiohttp if client == "aiohttp" else _bare_httpx
    payloads = bodies(n, "fake-model")
    t0, c0 = time.perf_counter(), time.process_time()
    ok = asyncio.run(run(base_url + "/chat/completions", concurrency, payloads))
    print(json.dumps({"client": client, "ok": ok, "wall_s": time.perf_counter() - t0,
                      "cpu_s": time.process_time() - c0}))


# -- the measuring process ------------------------------------------------------------------------

def find_bare_python(given: str | None) -> str:
    """An interpreter with aiohttp (a dependency of the plugin): the one given, else this one."""
    python = given or sys.executable
    if not Path(python).exists() or subprocess.run([python, "-c", "import aiohttp"], capture_output=True).returncode:
        raise SystemExit(f"{python} cannot import aiohttp: install the project (pip install -e .) or pass --bare-python")
    return python


class Server:
    """The fake server in a child process; its CPU time read from /proc."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_llmeval.testing.server", "--latency", str(LATENCY), "--port", "0",
             "--lifetime", "3600", "--max-requests", "10000000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError(f"fake server did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err.strip().splitlines()[-1] if err.strip() else ""


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--rounds", type=int, default=3, help="each round runs both once, the order alternating")
    p.add_argument("--bare-python", default=None, help="interpreter for the bare client (one with aiohttp)")
    p.add_argument("--profile", action="store_true", help="profile ours at every concurrency, not only on a miss")
    p.add_argument("--with-httpx", action="store_true", help="also time a bare httpx client (detail only)")
    p.add_argument("--bare-worker", nargs=4, metavar=("BASE_URL", "CONCURRENCY", "N", "CLIENT"), help=argparse_hidden())
    args = p.parse_args()
    if args.bare_worker:
        bare_worker(args.bare_worker[0], int(args.bare_worker[1]), int(args.bare_worker[2]), args.bare_worker[3])
        return
    if args.quick:
        args.requests, args.rounds = 400, 1
    started = time.perf_counter()
    machine = c.machine()

    runner = Runner(args, find_bare_python(args.bare_python))
    print(f"fake server at {runner.server.base_url} (pid {runner.server.proc.pid}); bare client: {runner.bare_python}",
          flush=True)
    runner.ours(8)  # warm-up: imports, the first connections and the server's first requests are paid by neither
    figures = []
    per_concurrency: dict[int, Any] = {}
    profiles: dict[int, dict[str, Any]] = {}
    try:
        for concurrency in args.concurrency:
            runs = runner.rounds(concurrency)
            fig = figure_for(concurrency, runs, args)
            per_concurrency[concurrency] = {"runs": runs, **fig.detail}
            figures.append(fig)
            if args.profile or not fig.met:
                profiles[concurrency] = profile_ours(runner.backend_class, runner.server.base_url, concurrency,
                                                     runner.requests)
                print(profile_note(profiles[concurrency]), flush=True)
    finally:
        served = runner.server.stop()
    notes = [f"server: {served}"] if served else []
    notes += [profile_note(profile) for profile in profiles.values()]
    c.write_result("openai_concurrency", args, figures, machine_info=machine, started=started, notes=notes,
                   extra={"per_concurrency": per_concurrency, "profiles": profiles, "settings": vars(args)})


class Runner:
    """Times ours (in this process) and the bare clients (each in a process of its own) against one server."""

    def __init__(self, args: Any, bare_python: str) -> None:
        from pytest_llmeval.backends.openai import OpenAIBackend
        from pytest_llmeval.request import Message, Request

        self.args = args
        self.bare_python = bare_python
        self.backend_class = OpenAIBackend
        self.server = Server()
        self.requests = [Request(messages=(Message("user", b["messages"][0]["content"]),), max_tokens=16)
                         for b in bodies(args.requests, "fake-model")]

    def ours(self, concurrency: int) -> dict[str, Any]:
        backend = self.backend_class("fake-model", base_url=self.server.base_url, concurrency=concurrency)
        s0 = self.server.cpu_s()
        t0, c0 = time.perf_counter(), time.process_time()
        out = list(backend.run(self.requests, lambda n: None))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        bad = [r.error for _, r in out if not r.ok]
        if bad:
            raise SystemExit(f"ours: {len(bad)} requests failed, e.g. {bad[0]}")
        return {"wall_s": wall, "cpu_s": cpu, "server_cpu_s": self.server.cpu_s() - s0}

    def bare(self, concurrency: int, client: str) -> dict[str, Any]:
        n = self.args.requests
        s0 = self.server.cpu_s()
        proc = subprocess.run([self.bare_python, __file__, "--bare-worker", self.server.base_url, str(concurrency),
                               str(n), client], capture_output=True, text=True, cwd=c.REPO)
        if proc.returncode != 0:
            raise SystemExit(f"bare client failed: {proc.stderr[-2000:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        if data["ok"] != n:
            raise SystemExit(f"bare client: only {data['ok']} of {n} requests succeeded")
        # The server's CPU over the whole child, start-up included: an upper bound.
        return {**data, "server_cpu_s": self.server.cpu_s() - s0}

    def rounds(self, concurrency: int) -> dict[str, list[dict[str, Any]]]:
        """Every client once a round, the order reversed every other round; the results by client."""
        order = ["ours", "bare"] + (["httpx"] if self.args.with_httpx else [])
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in order}
        for round_ in range(self.args.rounds):
            for name in (order if round_ % 2 == 0 else order[::-1]):
                result = self.ours(concurrency) if name == "ours" else \
                    self.bare(concurrency, "httpx" if name == "httpx" else "aiohttp")
                result["load"] = c.loadavg()
                runs[name].append(result)
                print(f"concurrency {concurrency:4d} {name:5s} {result['wall_s']:.2f}s wall, client cpu "
                      f"{result['cpu_s']:.2f}s, server cpu {result['server_cpu_s']:.2f}s", flush=True)
        return runs


def figure_for(concurrency: int, runs: dict[str, list[dict[str, Any]]], args: Any) -> c.Figure:
    """The figure at one concurrency: against the ideal up to 32 in flight, against the bare client above."""
    def wall(name: str) -> float:
        return c.median([r["wall_s"] for r in runs[name]])

    def cpu_ms(name: str) -> float:
        return 1000 * c.median([r["cpu_s"] for r in runs[name]]) / args.requests

    ideal = args.requests * LATENCY / concurrency
    ours_wall, bare_wall = wall("ours"), wall("bare")
    bare_client = runs["bare"][-1].get("client", "?")
    detail = {"ours_wall_s": ours_wall, "bare_wall_s": bare_wall, "ideal_wall_s": ideal,
              "ours_vs_ideal": ours_wall / ideal, "bare_vs_ideal": bare_wall / ideal,
              "ours_vs_bare": ours_wall / bare_wall, "ours_client_cpu_ms_per_request": cpu_ms("ours"),
              "bare_client_cpu_ms_per_request": cpu_ms("bare"), "bare_client": bare_client, "rounds": args.rounds}
    if "httpx" in runs:
        detail.update(httpx_wall_s=wall("httpx"), httpx_vs_bare=wall("httpx") / bare_wall,
                      httpx_client_cpu_ms_per_request=cpu_ms("httpx"))
    label = f"OpenAI-compatible backend, {args.requests} requests, 50 ms server, concurrency {concurrency}"
    if concurrency <= 32:
        ratio = ours_wall / ideal
        return c.Figure(label, f"ideal wall time {ideal:.2f}s (requests x latency / concurrency)", ratio,
                        "ours/ideal wall time, lower is better", "<= 1.15x ideal", ratio <= 1.15, detail)
    ratio = ours_wall / bare_wall
    return c.Figure(label, f"bare asyncio client ({bare_client}), same requests and concurrency", ratio,
                    "ours/bare wall time, lower is better", "<= 1.3x bare client", ratio <= 1.3, detail)


def profile_ours(backend_class: Any, base_url: str, concurrency: int, requests: list[Any]) -> dict[str, Any]:
    """cProfile of one ``run_async`` on this thread (``run`` puts the loop on a thread cProfile cannot see).

    Timed in CPU seconds, so that the shares are of the work done, not of the waits in ``select``.
    """
    backend = backend_class("fake-model", base_url=base_url, concurrency=concurrency)
    profiler = cProfile.Profile(time.process_time)
    t0 = time.perf_counter()
    profiler.enable()
    asyncio.run(backend.run_async(requests, lambda index, response: None))
    profiler.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (path, line, func), (_cc, ncalls, own, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("site-packages/")[-1].split("src/")[-1] if path != "~" else ""
        rows.append({"function": f"{where}:{line}({func})" if where else func, "calls": ncalls,
                     "own_s": round(own, 4), "cumulative_s": round(cum, 4)})
    # Where the time goes, as shares of the profiled CPU time.
    marks = {"transport post_json()": ("openai/transport.py", "(post_json)"),
             "  of which aiohttp request": ("aiohttp/client.py", "(_request)"),
             "  of which aiohttp body read": ("aiohttp/client_reqrep.py", "(read)"),
             "  of which JSON encoding": ("json/__init__.py", "(dumps)"),
             "  of which JSON decoding": ("json/__init__.py", "(loads)"),
             "backend parse()": ("openai/backend.py", "(parse)"),
             "window acquire()": ("openai/window.py", "(acquire)"),
             "window _wake()": ("openai/window.py", "(_wake)"),
             "socket connect()": ("", "connect' of '_socket.socket"),
             "socket send()": ("", "send' of '_socket.socket")}
    shares = {}
    for label, (file_part, func_part) in marks.items():
        hit = [r for r in rows if file_part in r["function"] and func_part in r["function"]]
        if hit:
            shares[label] = {"share": round(sum(r["cumulative_s"] for r in hit) / total, 3),
                             "calls": sum(r["calls"] for r in hit)}
    return {"concurrency": concurrency, "wall_s_under_profiler": round(wall, 3), "profiled_cpu_s": round(total, 3),
            "ms_per_request_under_profiler": round(1000 * total / len(requests), 3), "shares": shares,
            "top_cumulative": sorted(rows, key=lambda r: -r["cumulative_s"])[:30],
            "top_own": sorted(rows, key=lambda r: -r["own_s"])[:20]}


def profile_note(profile: dict[str, Any]) -> str:
    parts = [f"{label.strip()} {v['share']:.0%} ({v['calls']} calls)" for label, v in profile["shares"].items()]
    return (f"cProfile of ours at concurrency {profile['concurrency']} (event loop side, "
            f"{profile['ms_per_request_under_profiler']:.2f} ms of CPU a request under the profiler): "
            + "; ".join(parts))


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
