"""The fake server from the command line: ``python -m pytest_llmeval.testing.server``."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from .fake_server import FakeServer
from .faults import Fault, Hit


def parse_fault(spec: str) -> Fault:
    """A fault from its command-line spelling.

    ``429`` or ``429:SECONDS`` (Retry-After), any other status (``500``, ``503``),
    ``slow:SECONDS``, ``drop``, ``malformed``, ``empty``, ``down:SECONDS``.
    """
    kind, _, arg = spec.partition(":")
    try:
        if kind.isdigit():
            status = int(kind)
            if not 400 <= status <= 599:
                raise ValueError
            return Fault.http(status, retry_after=float(arg) if arg else None)
        if kind in ("slow", "down"):
            seconds = float(arg)
            return Fault.slow(seconds) if kind == "slow" else Fault.down(seconds)
        simple = {"drop": Fault.drop, "malformed": Fault.malformed, "empty": Fault.empty_choices}
        if kind in simple and not arg:
            return simple[kind]()
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"bad fault {spec!r}: use 429[:SECONDS], 500, 503, slow:SECONDS, drop, malformed, empty or down:SECONDS")


def _numbered(text: str) -> tuple[int, Fault]:
    number, sep, spec = text.partition("=")
    if not sep or not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: use N=FAULT, e.g. 3=503 or 5=slow:10")
    return int(number), parse_fault(spec)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until ``--lifetime`` runs out or Ctrl-C; prints the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_llmeval.testing.server",
        description="A fake OpenAI-compatible server on 127.0.0.1 (echoes prompts) with fault injection.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer (default 0)")
    parser.add_argument("--model", default="fake-model", help="model id listed by /v1/models (default fake-model)")
    parser.add_argument("--answer", default=None, metavar="TEXT", help="always answer TEXT (default: echo the prompt)")
    parser.add_argument("--fault", action="append", type=_numbered, default=[], metavar="N=FAULT",
                        help="request number N gets FAULT (repeatable), e.g. 3=503, 5=429:2, 7=slow:10")
    parser.add_argument("--fault-every", type=_numbered, default=None, metavar="K=FAULT",
                        help="every K-th request gets FAULT, e.g. 10=503")
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds (default 600)")
    parser.add_argument("--max-requests", type=int, default=100_000,
                        help="answer at most this many completion requests (default 100000)")
    args = parser.parse_args(argv)

    numbered: dict[int, Fault] = dict(args.fault)
    periodic: tuple[int, Fault] | None = args.fault_every

    def rule(hit: Hit) -> Fault | None:
        if hit.number in numbered:
            return numbered[hit.number]
        if periodic is not None and hit.number % periodic[0] == 0:
            return periodic[1]
        return None

    fixed = args.answer
    server = FakeServer(latency=args.latency, model=args.model, port=args.port, lifetime=args.lifetime,
                        max_requests=args.max_requests, faults=rule,
                        answer=None if fixed is None else (lambda prompt: fixed))
    server.start()

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # terminate() stops it as cleanly as Ctrl-C
    print(server.base_url, flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"served {server.requests} requests, at most {server.max_in_flight} at once: "
          f"{dict(server.outcomes)}", file=sys.stderr)
    return 0
