"""The engine: gathers the requests of every collected item and answers them ahead of the tests.

Tests never run inference one at a time when they could share a batch: before the first test
runs, the engine sends each model's uncached requests to its backend in chunks (the backend
batches or overlaps them), streams every answer into the cache as it arrives, and each test
then reads its response. Under xdist every worker does this for the whole selection but
starts at its own offset and skips chunks another worker already cached, so the workers
share the work through the cache instead of repeating it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .backends.base import Backend, BackendError
from .cache import ResponseCache, request_key
from .request import Request, Response


class ModelHandle:
    """One model of the run: its name and role, its backend (made on first use, so a fully
    cached run never builds it) and what went wrong with it."""

    def __init__(self, name: str, make_backend: Callable[[], Backend], role: str = "candidate") -> None:
        self.name = name
        self.role = role
        self.make_backend = make_backend
        self.failure: str | None = None
        self.checked = False
        self.lock = threading.Lock()
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.make_backend()
        return self._backend

    @property
    def label(self) -> str:
        """How the run's output names it: ``llama``, ``baseline gpt-3.5-turbo``, ``judge gpt-4``."""
        return self.name if self.role == "candidate" else f"{self.role} {self.name}"

    @property
    def built(self) -> bool:
        """Whether the backend was made in this process (it was needed)."""
        return self._backend is not None

    def describe(self) -> str:
        if self.failure:
            return f"unavailable: {self.failure}"
        try:
            return self.backend.describe()
        except BackendError as exc:
            return f"unavailable: {exc}"

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


#: Called as ``progress(model, done, total, elapsed, failed)``: ``done`` of the ``total`` requests
#: have finished after ``elapsed`` seconds, ``failed`` of them without an answer (a backend error,
#: or a model that became unavailable).
ProgressCallback = Callable[[str, int, int, float, int], None]


@dataclass
class Finished:
    """How many of a model's requests have finished so far, and how many of those failed."""

    done: int = 0
    failed: int = 0


class Engine:
    """Answers requests for named models, from the cache when it can."""

    def __init__(self, models: dict[str, ModelHandle], cache: ResponseCache, chunk_size: int = 256) -> None:
        self.models = models
        self.cache = cache
        self.chunk_size = chunk_size
        self._answers: dict[str, Response] = {}
        self._keys: dict[tuple[str, Request], str] = {}
        #: Requests answered by a backend in this process (not from the cache), per model.
        self.answered: dict[str, int] = {}
        #: Requests a backend could not answer, per model, and the first such error.
        self.failed: dict[str, int] = {}
        self.first_error: dict[str, str] = {}
        self.progress: ProgressCallback | None = None
        #: Names this run's chunk claims in the shared cache (xdist's testrunuid: one per run).
        self.run_id = "local"

    # -- choosing the request and its key -----------------------------------------------------

    def pick(self, model: str, requests: Sequence[Request]) -> Request:
        """The first of an item's requests that the model's backend can answer."""
        backend = self.models[model].backend
        for request in requests:
            if backend.supports(request):
                return request
        return requests[-1]

    def key(self, model: str, request: Request) -> str:
        """The request's cache key for this model (hashed once per run: prefetch and the test both ask)."""
        memo = self._keys.get((model, request))
        if memo is None:
            memo = self._keys[(model, request)] = request_key(self.models[model].backend.identity(), request)
        return memo

    # -- answering ----------------------------------------------------------------------------

    def prefetch(self, wanted: Sequence[tuple[str, Sequence[Request]]], worker: int = 0, workers: int = 1) -> None:
        """Answer every wanted (model, requests) pair now, in batches, streaming into the cache."""
        per_model: dict[str, dict[str, Request]] = {}
        for model, requests in wanted:
            handle = self.models[model]
            if handle.failure:
                continue
            try:
                request = self.pick(model, requests)
                key = self.key(model, request)
            except BackendError as exc:
                handle.failure = str(exc)
                continue
            if key not in self._answers:
                per_model.setdefault(model, {})[key] = request
        if len(per_model) <= 1:
            for model, pending in per_model.items():
                self._prefetch_model(model, pending, worker, workers)
            return
        # Several models are answered at once (one thread each): a server's latency overlaps
        # with local generation and with other servers instead of adding up.
        with ThreadPoolExecutor(max_workers=len(per_model), thread_name_prefix="llmeval") as pool:
            futures = [pool.submit(self._prefetch_model, model, pending, worker, workers) for model, pending in per_model.items()]
            for future in futures:
                future.result()

    def _take_cached(self, pairs: Iterable[tuple[str, Request]]) -> list[tuple[str, Request]]:
        """Keep what the cache already has; return the (key, request) pairs it lacks."""
        missing = []
        for key, request in pairs:
            cached = self.cache.get(key)
            if cached is not None:
                self._answers[key] = cached
            else:
                missing.append((key, request))
        return missing

    def _prefetch_model(self, model: str, pending: dict[str, Request], worker: int, workers: int) -> None:
        missing = self._take_cached(pending.items())
        if not missing:
            return
        size = self.chunk_size
        if workers > 1:  # enough chunks that each worker has its own to start with
            size = max(1, min(size, -(-len(missing) // (workers * 2))))
        chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
        start = (len(chunks) * worker) // max(1, workers)
        chunks = chunks[start:] + chunks[:start]
        total = len(missing)
        started = time.perf_counter()
        finished = Finished()
        others: list[list[tuple[str, Request]]] = []
        for chunk in chunks:
            if workers > 1 and not self.cache.claim(self._chunk_id(model, chunk), f"{self.run_id}:{worker}"):
                others.append(chunk)  # another worker is answering it
                continue
            self._run_chunk(model, chunk, finished, total, started)
            if workers > 1:
                self.cache.finish(self._chunk_id(model, chunk))
        for chunk in others:
            finished.failed += self._await_chunk(model, chunk, worker)
        finished.done = total
        self._report(model, finished, total, started)

    def _chunk_id(self, model: str, chunk: list[tuple[str, Request]]) -> str:
        return f"{self.run_id}:{model}:{chunk[0][0]}:{len(chunk)}"

    def _await_chunk(self, model: str, chunk: list[tuple[str, Request]], worker: int) -> int:
        """Wait for another worker's chunk to reach the cache; take it over if that worker died.
        Returns how many of its requests failed when asked here."""
        waiting = list(chunk)
        retried = Finished()
        while waiting:
            still = self._take_cached(waiting)
            if not still:
                break
            chunk_id = self._chunk_id(model, chunk)
            if self.cache.finished(chunk_id):
                # Done, but these failed there (errors are not cached): ask them here, once.
                self._run_chunk(model, still, retried, len(still), time.perf_counter())
                break
            if self.cache.claim(chunk_id, f"{self.run_id}:{worker}"):  # its worker died
                self._run_chunk(model, still, retried, len(still), time.perf_counter())
                self.cache.finish(chunk_id)
                break
            waiting = still
            time.sleep(0.2)
        return retried.failed

    def _run_chunk(self, model: str, chunk: list[tuple[str, Request]], finished: Finished, total: int, started: float) -> None:
        """Answer ``chunk``, adding to ``finished`` (and reporting it) as requests finish. The end
        is reported by the caller: a backend reports a request done before the engine has seen
        whether it failed."""
        handle = self.models[model]
        first = finished.done

        def progress(n: int) -> None:
            finished.done += n
            if finished.done < total:
                self._report(model, finished, total, started)

        requests = [request for _, request in chunk]
        with handle.lock:
            try:
                if not handle.checked:
                    # A server that cannot be reached is said once, clearly, before any request.
                    handle.checked = True
                    handle.backend.check()
                if not handle.failure:  # an unavailable model is not asked again, chunk after chunk
                    for index, response in handle.backend.run(requests, progress):
                        key = chunk[index][0]
                        response.meta.setdefault("backend", handle.backend.name)
                        self._answers[key] = response
                        self.cache.put(key, response)
                        self._count(handle, response)
                        finished.failed += response.error is not None
            except BackendError as exc:
                handle.failure = str(exc)
        if handle.failure:
            unanswered = [key for key, _ in chunk if key not in self._answers]
            for key in unanswered:
                self._answers[key] = Response(error=f"model {model!r} is unavailable: {handle.failure}")
            finished.failed += len(unanswered)
            finished.done = max(finished.done, first + len(chunk))
            if finished.done < total:
                self._report(model, finished, total, started)

    def _report(self, model: str, finished: Finished, total: int, started: float) -> None:
        if self.progress is not None:
            self.progress(model, finished.done, total, time.perf_counter() - started, finished.failed)

    def answer(self, model: str, requests: Sequence[Request]) -> tuple[Request, Response]:
        """The response to an item's request: prefetched, cached, or asked for now."""
        handle = self.models[model]
        if handle.failure:
            return requests[0], Response(error=f"model {model!r} is unavailable: {handle.failure}")
        try:
            request = self.pick(model, requests)
            key = self.key(model, request)
        except BackendError as exc:
            handle.failure = str(exc)
            return requests[0], Response(error=f"model {model!r} is unavailable: {exc}")
        response = self._answers.get(key) or self.cache.get(key)
        if response is None:
            self._run_chunk(model, [(key, request)], Finished(), 1, time.perf_counter())
            response = self._answers.get(key)
            if response is None:
                response = Response(error=f"model {model!r} is unavailable: {handle.failure or 'no answer'}")
        return request, response

    def ask(self, model: str, request: Request) -> Response:
        """One request, outside any benchmark (the ``llm_model`` fixture)."""
        return self.answer(model, [request])[1]

    def close(self) -> None:
        for handle in self.models.values():
            handle.close()
        self.cache.close()

    def _count(self, handle: ModelHandle, response: Response) -> None:
        if response.error is not None:
            self.failed[handle.label] = self.failed.get(handle.label, 0) + 1
            self.first_error.setdefault(handle.label, response.error)
        elif response.skip is None:
            self.answered[handle.label] = self.answered.get(handle.label, 0) + 1

    def stats(self) -> dict[str, Any]:
        """``cache_hits``; ``inferred`` and ``replayed`` (answers a backend gave in this process:
        replayed ones came from recorded outputs); ``failed``, per model, with its first error."""
        replayed = sum(n for label, n in self.answered.items() if self._backend_name(label) == "recorded")
        return {"cache_hits": self.cache.hits, "inferred": sum(self.answered.values()) - replayed, "replayed": replayed,
                "failed": {label: (n, self.first_error[label]) for label, n in self.failed.items()}}

    def _backend_name(self, label: str) -> str | None:
        handle = next((h for h in self.models.values() if h.label == label), None)
        return handle.backend.name if handle is not None and handle.built else None
