"""The backend contract: what every model backend (built-in or third-party) provides."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..request import Request, Response

#: Called by a backend as work completes, with the number of requests just finished.
Progress = Callable[[int], None]


class BackendError(Exception):
    """A backend could not be created or used at all (bad spec, missing package, no server)."""


@runtime_checkable
class Backend(Protocol):
    """A model that answers :class:`~pytest_llmeval.request.Request` objects.

    ``run`` receives every pending request of a model at once so that it can batch (local
    weights) or overlap (servers) them, and yields ``(index, response)`` pairs as each one
    finishes, in any order: the engine writes each to the cache at once, so a run killed
    midway loses nothing that had finished. A request the backend cannot answer yields a
    ``Response`` with ``error`` set; ``run`` raises only when the whole backend is unusable.

    Example of a third-party backend (registered with the ``pytest_llmeval_backends`` hook)::

        class EchoBackend:
            name = "echo"
            def __init__(self, model): self.model = model
            def identity(self): return {"backend": "echo", "model": self.model}
            def describe(self): return f"echo ({self.model})"
            def supports(self, request): return request.kind == "generate"
            def check(self): pass
            def run(self, requests, progress):
                for i, r in enumerate(requests):
                    progress(1)
                    yield i, Response(text=r.text())
            def close(self): pass
    """

    #: Short backend name shown in the run's header and the scorecard ("transformers").
    name: str

    def identity(self) -> dict[str, Any]:
        """What makes this model's answers what they are: backend, model, weights revision,
        base URL. Part of every cache key. Never includes secrets."""
        ...

    def describe(self) -> str:
        """One line for the run's header: which backend serves the model, and how."""
        ...

    def supports(self, request: Request) -> bool:
        """Whether this backend can answer this kind of request (log-likelihood needs logits)."""
        ...

    def check(self) -> None:
        """Make sure the model can be used at all, before its first request (a server that can't
        be reached, a wrong key, missing weights): raise :class:`BackendError` saying what to do.
        Called once per run, only when something must be inferred; may do nothing."""
        ...

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        """Answer ``requests``; yield ``(index into requests, response)`` as each finishes."""
        ...

    def close(self) -> None:
        """Release the model or connections."""
        ...


@dataclass(frozen=True)
class BackendContext:
    """What a backend factory may know of the run: the settings that shape a backend, never
    the whole pytest configuration.

    Example factory (registered with the ``pytest_llmeval_backends`` hook)::

        def echo_factory(spec, context):
            return EchoBackend(spec.target)
    """

    #: The rootdir of the run: relative paths in specs are resolved against it.
    root: Path
    #: An OpenAI-compatible server for ``openai:`` models and aliases, or None (the OpenAI API).
    base_url: str | None = None
    #: Most requests in flight to a server.
    concurrency: int = 8
    #: Seconds one server request may take.
    timeout: float = 60.0
    #: Local generation batch size.
    batch_size: int = 16
    #: Compute threads a local backend may use (None: its own choice).
    threads: int | None = None
    #: Processes answering in parallel (xdist workers).
    workers: int = 1
    #: The response cache's folder (None when the cache is off): where a backend may keep what
    #: a rerun needs besides the responses (a server's facts, a managed server's state and logs).
    cache_dir: Path | None = None


#: A backend factory: ``--llm-model=SCHEME:TARGET`` calls ``factory(spec, context)``.
BackendFactory = Callable[[Any, BackendContext], Backend]
