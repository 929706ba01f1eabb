"""The OpenAI-compatible backend: what it sends, what it reads back, and how a run proceeds.

Requests go out concurrently over one aiohttp session per run (:mod:`.transport`), at most as
many in flight as the adaptive window allows (:mod:`.window`); a failed attempt is retried or
given up by the rules of :mod:`.policy`. A request that still fails after ``max_retries``
retries comes back as a ``Response`` whose ``error`` names the status and the server's message;
the API key never appears in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import queue
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ...request import Request, Response
from ..base import BackendError, Progress
from . import choices, context
from .facts import RememberedFacts, ServerFacts, facts_from_models
from .loop import in_own_loop, serve
from .policy import Failure, backoff_delay, capped, error_body, refuses_tools, server_message, too_long
from .window import Window, WindowState
from .wire import parse_reply, request_body

if TYPE_CHECKING:
    from .transport import Transport

__all__ = ["DEFAULT_BASE_URL", "KEY_VARIABLES", "OnDone", "OpenAIBackend", "TokenLimitField", "api_key_from_env"]

#: Where requests go when no base URL is given.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Environment variables that may hold the API key, in order of preference.
KEY_VARIABLES = ("LLMEVAL_API_KEY", "OPENAI_API_KEY")
#: Sent as the key to servers that need none (some refuse a request without any).
NO_KEY = "no-key"
#: The request field that carries the token limit: the classic one, or the one reasoning models want.
TokenLimitField = Literal["max_tokens", "max_completion_tokens"]
#: Called once per request as it finishes, with its index in the requests and its response.
OnDone = Callable[[int, Response], None]

_DONE = object()


def api_key_from_env() -> str | None:
    """The API key from ``LLMEVAL_API_KEY``, else ``OPENAI_API_KEY``, else None."""
    for name in KEY_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _open_transport(base_url: str, api_key: str, connections: int, timeout: float) -> Transport:
    from .transport import Transport  # imports aiohttp: only when a run needs it

    return Transport(base_url, api_key, connections=connections, timeout=timeout)


#: The one-token request that learns a server's ``system_fingerprint`` (once per run and process).
PROBE_PROMPT = "Say OK."


class OpenAIBackend:
    """A model behind the OpenAI API or an OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, ``transformers serve``).

    ``api="chat"`` posts to ``/chat/completions`` (``Request.messages``, or the prompt as one
    user message); ``api="completions"`` posts the prompt text to ``/completions``.
    ``timeout`` bounds each attempt in seconds. ``token_limit_field="max_completion_tokens"``
    sends the token limit under that name (OpenAI's reasoning models refuse ``max_tokens``).
    The backoff and the ``Retry-After`` cap are attributes (``backoff_base``, ``backoff_cap``,
    ``retry_after_cap``) so that tests and impatient users can shorten them.

    Against a server of its own (any ``base_url`` but the OpenAI API's) the backend reads what
    the server says about the model (:mod:`.facts`) once per run: its stable fields join the
    identity, ``max_model_len`` lets over-long requests be skipped before they are sent
    (:mod:`.context`), and a vLLM server answers multiple choice by log-likelihood
    (:mod:`.choices`; ``loglikelihood=True``/``False`` decides it instead). ``facts_file`` is
    where those facts are remembered for a rerun with the server gone.

    Example::

        backend = OpenAIBackend("gpt-4o-mini")                      # key from LLMEVAL_API_KEY
        local = OpenAIBackend("llama3", base_url="http://127.0.0.1:11434/v1", concurrency=32)
        for i, response in local.run(requests, progress=lambda n: None):
            print(i, response.text or response.error)
    """

    name = "openai"
    #: First retry waits about this long (seconds); each later one twice as long, jittered.
    backoff_base: float = 0.5
    #: No backoff wait is longer than this (seconds).
    backoff_cap: float = 30.0
    #: A server's Retry-After is honoured up to this many seconds.
    retry_after_cap: float = 120.0
    #: A request that timed out is tried again with twice its last time budget, up to this many
    #: times ``timeout``: a server that drops a request when its client gives up starts it from
    #: zero, so the same budget again would never be enough.
    timeout_growth_cap: float = 8.0
    #: Seconds the probe of a server's facts may take (it runs even for a fully cached rerun).
    probe_timeout: float = 5.0

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api: Literal["chat", "completions"] = "chat",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        token_limit_field: TokenLimitField = "max_tokens",
        loglikelihood: bool | None = None,
        facts_file: Path | None = None,
    ) -> None:
        if importlib.util.find_spec("aiohttp") is None:
            raise BackendError("the openai backend needs the aiohttp package: pip install aiohttp")
        if api not in ("chat", "completions"):
            raise BackendError(f"api must be 'chat' or 'completions', not {api!r}")
        if concurrency < 1:
            raise BackendError(f"concurrency must be at least 1, not {concurrency}")
        if not timeout > 0:
            raise BackendError(f"timeout must be a positive number of seconds, not {timeout}")
        if max_retries < 0:
            raise BackendError(f"max_retries must be 0 or more, not {max_retries}")
        if token_limit_field not in ("max_tokens", "max_completion_tokens"):
            raise BackendError(f"token_limit_field must be 'max_tokens' or 'max_completion_tokens', "
                               f"not {token_limit_field!r}")
        key = api_key if api_key is not None else api_key_from_env()
        if key and not _header_safe(key):  # the message must not quote it
            raise BackendError("the API key has characters an HTTP header cannot carry (spaces, line breaks, "
                               "non-ASCII); check where it was copied from")
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise BackendError(f"base URL must start with http:// or https://, not {self.base_url!r}")
        self.api = api
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.token_limit_field: TokenLimitField = token_limit_field
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise BackendError(
                f"no API key for the OpenAI API: set {' or '.join(KEY_VARIABLES)} in the environment")
        self._api_key = key or None
        self._window = Window(concurrency)
        self._random = random.Random()
        self.loglikelihood = loglikelihood
        self._remembered = RememberedFacts(facts_file) if facts_file is not None else None
        self._facts: ServerFacts | None = None
        self._facts_lock = threading.Lock()
        #: Whether the server has vLLM's /tokenize (None: not tried yet).
        self._tokenize: bool | None = None
        #: Each choice's token ids, asked once per run (concurrent items wait for the same answer).
        self._choice_tokens: dict[str, asyncio.Future[list[int]]] = {}
        #: The server's words when it refused tool definitions (requests then go without them).
        self.tools_refused: str | None = None

    def __repr__(self) -> str:  # explicit, so that no debugging aid ever prints the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, api={self.api!r})"

    # -- Backend protocol -----------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """Backend, model, base URL and API, and what the server reports about the model: what
        decides the answers (never the key).

        ``token_limit_field`` is included only when it is not the default, and ``server`` (the
        stable facts, :meth:`ServerFacts.identity`) only when the server reports any, so that
        existing cache keys stay valid. The OpenAI API is not probed: a model name there is the
        contract (pin a dated snapshot such as ``gpt-4-0613``).
        """
        identity: dict[str, Any] = {"backend": "openai", "model": self.model, "base_url": self.base_url,
                                    "api": self.api}
        if self.token_limit_field != "max_tokens":
            identity["token_limit_field"] = self.token_limit_field
        server = self.facts().identity()
        if server:
            identity["server"] = server
        return identity

    def describe(self) -> str:
        """E.g. ``llama3 on the openai-compatible server at http://127.0.0.1:8000/v1 (chat, concurrency 8)``, with the
        server's context window, whether multiple choice goes by log-likelihood, and a tool-call fallback."""
        where = "OpenAI API" if self.base_url == DEFAULT_BASE_URL else "openai-compatible server"
        details = [self.api, f"concurrency {self.concurrency}"]
        facts = self._facts
        if facts is not None and facts.max_model_len:
            details.append(f"max_model_len {facts.max_model_len}")
        if facts is not None and self._scores_choices():
            details.append("multiple choice by log-likelihood")
        if self.tools_refused:
            details.append(f"tools described in the prompt, not sent: the server refused them ({self.tools_refused})")
        return f"{self.model} on the {where} at {self.base_url} ({', '.join(details)})"

    def supports(self, request: Request) -> bool:
        """Generation always; log-likelihood where the server returns prompt log-probabilities
        (vLLM, or ``loglikelihood=True``), else multiple choice goes by generation."""
        return request.kind == "generate" or (request.kind == "loglikelihood" and self._scores_choices())

    def _scores_choices(self) -> bool:
        if self.loglikelihood is not None:
            return self.loglikelihood
        return self.base_url != DEFAULT_BASE_URL and self.facts().is_vllm

    def facts(self) -> ServerFacts:
        """What the server reports about the model (:mod:`.facts`), read once and kept.

        Probed with a short timeout (``probe_timeout``); when the server cannot be reached, the
        facts remembered from the last run that reached it (``facts_file``), else none. The
        OpenAI API is never probed.
        """
        with self._facts_lock:
            if self._facts is None:
                self._facts = self._learn_facts()
            return self._facts

    def _learn_facts(self) -> ServerFacts:
        if self.base_url == DEFAULT_BASE_URL:
            return ServerFacts()
        try:
            facts = in_own_loop(self._probe)
        except Failure:
            remembered = self._remembered.get(self.base_url, self.model) if self._remembered else None
            return remembered or ServerFacts()
        if self._remembered is not None and facts.reached:
            self._remembered.put(self.base_url, self.model, facts)
        return facts

    async def _probe(self) -> ServerFacts:
        """``GET /models``, on vLLM ``GET /version``, and the ``system_fingerprint`` of a one-token answer.

        Raises :class:`Failure` when the server cannot be reached or does not answer in time.
        """
        limit = min(self.timeout, self.probe_timeout)
        transport = _open_transport(self.base_url, self._api_key or NO_KEY, 1, limit)
        async with transport:
            status, _, _, content = await transport.exchange("GET", "/models")
            facts = facts_from_models(_json_or_none(content), self.model) if status == 200 else ServerFacts(reached=True)
            if facts.is_vllm:
                status, _, _, content = await transport.exchange("GET", f"{_server_root(self.base_url)}/version")
                version = _json_or_none(content)
                if status == 200 and isinstance(version, dict) and isinstance(version.get("version"), str):
                    facts = replace(facts, version=version["version"])
            path, body = self.payload(Request(prompt=PROBE_PROMPT, max_tokens=1))
            try:
                answer = await transport.post_json(path, body)
            except Failure as failure:
                if failure.status is None:
                    raise
                return facts
            fingerprint = answer.get("system_fingerprint") if isinstance(answer, dict) else None
            return replace(facts, fingerprint=fingerprint) if isinstance(fingerprint, str) and fingerprint else facts

    @property
    def window(self) -> int:
        """How many requests may be in flight now (shrinks on 429, regrows on success)."""
        return self._window.limit

    @property
    def window_state(self) -> WindowState:
        """The concurrency window now: limit, maximum, in flight, waiting, seconds of Retry-After pause left."""
        return self._window.state()

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        """Send ``requests`` concurrently; yield ``(index, response)`` as each one finishes.

        A plain generator: the requests run on an event loop in a background thread (see
        :meth:`run_async`), so this works where no loop runs (a pytest test) and where one
        does. Leaving the loop early cancels what is still in flight.
        """
        if not requests:
            return
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        loop = asyncio.new_event_loop()
        main: asyncio.Task[None] = loop.create_task(self.run_async(requests, lambda i, r: results.put((i, r))))
        thread = threading.Thread(target=serve, args=(loop, main, lambda: results.put(_DONE)),
                                  name="llmeval-openai", daemon=True)
        thread.start()
        finished = 0
        try:
            while finished < len(requests):
                try:
                    item = results.get(timeout=1.0)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
                if item is _DONE:
                    error = main.exception() if main.done() and not main.cancelled() else None
                    raise BackendError(f"openai backend stopped early: {error!r}") from error
                finished += 1
                progress(1)
                yield item
        finally:
            if not main.done():
                with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing to cancel
                    loop.call_soon_threadsafe(main.cancel)
            thread.join(30.0)

    async def run_async(self, requests: Sequence[Request], on_done: OnDone) -> None:
        """Answer ``requests`` on the running event loop, calling ``on_done(index, response)`` as each finishes.

        The entry point for callers that have a loop (and for measuring without a thread): every
        request gets exactly one call, an error ``Response`` when it could not be answered.
        One run at a time per backend. Cancelling it cancels what is in flight.

        Example::

            done = {}
            await backend.run_async(requests, lambda i, response: done.__setitem__(i, response))
        """
        # Each run gets its own window (its waiters belong to this loop), starting from the
        # limit the previous run learned: a server's rate limit outlives one batch.
        window = self._window = Window(self.concurrency, limit=self._window.limit)
        self._choice_tokens = {}  # futures of the previous run's loop cannot be awaited on this one
        # Never more than ``concurrency`` requests in flight, so that many connections are all
        # a run can reuse; fewer would reconnect at every burst.
        transport = _open_transport(self.base_url, self._api_key or NO_KEY, self.concurrency, self.timeout)
        # Tasks exist only for a bounded stretch ahead of the window, so a huge suite costs
        # no memory up front, yet requests waiting out a backoff do not block fresh ones.
        live = asyncio.Semaphore(max(4 * self.concurrency, 64))
        tasks: set[asyncio.Task[None]] = set()
        async with transport:
            try:
                for index, request in enumerate(requests):
                    await live.acquire()
                    task = asyncio.create_task(self._answer(transport, window, index, request, on_done))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _: live.release())
                if tasks:
                    await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Nothing to release: each run opens and closes its own connections."""

    def check(self) -> None:
        """Fail fast with a clear :class:`BackendError` when the server cannot be used at all.

        Asks ``GET /models`` once: no connection, or a rejected key (401/403), raises; any
        other answer (some servers lack ``/models``) counts as reachable. What it lists about
        the model (``max_model_len``) is read again here, for the requests about to be sent.
        """
        async def ask() -> tuple[int, str, bytes]:
            transport = _open_transport(self.base_url, self._api_key or NO_KEY, 1, min(self.timeout, 10.0))
            async with transport:
                status, reason, _, content = await transport.exchange("GET", "/models")
            return status, reason, content

        try:
            status, reason, content = in_own_loop(ask)
        except Failure as failure:
            raise BackendError(self._redact(
                f"cannot reach {self.base_url}: {failure.cause or failure.text}; "
                f"is the server running and is the URL right?")) from None
        if status in (401, 403):
            raise BackendError(self._redact(
                f"{self.base_url} refused the API key (HTTP {status}): {server_message(error_body(content), reason)}; "
                f"check {' or '.join(KEY_VARIABLES)}"))
        if status == 200 and self.base_url != DEFAULT_BASE_URL:
            listed = facts_from_models(_json_or_none(content), self.model)
            with self._facts_lock:
                known = self._facts or ServerFacts()
                self._facts = replace(known, max_model_len=listed.max_model_len or known.max_model_len,
                                      owned_by=known.owned_by or listed.owned_by)

    # -- one request ----------------------------------------------------------------------

    async def _answer(self, transport: Transport, window: Window, index: int, request: Request,
                      on_done: OnDone) -> None:
        try:
            response = await self._respond(transport, window, request)
        except Exception as exc:  # a bug of ours or the library's: one item errors, not the run
            response = Response(error=f"unexpected {type(exc).__name__}: {exc}", meta={"backend": self.name})
        on_done(index, response)

    async def _respond(self, transport: Transport, window: Window, request: Request) -> Response:
        """One request's answer: skipped when it cannot fit, scored, or generated (without tools when refused)."""
        facts = self._facts
        limit = facts.max_model_len if facts is not None else None
        if limit is not None and not context.surely_fits(request, limit):
            skip = await self._too_long(transport, request, limit)
            if skip is not None:
                return Response(skip=skip, meta={"backend": self.name, "max_model_len": limit})
        if request.kind == "loglikelihood":
            return await self._with_retries(window, lambda budget: self._score(transport, request, budget))
        sent: list[dict[str, Any]] = []

        async def generate(budget: float) -> Response:
            path, body = self.payload(request)  # at each attempt: tools go only while the server takes them
            sent.append(body)
            return self.parse(await transport.post_json(path, body, timeout=budget), self.base_url + path)

        response = await self._with_retries(window, generate)
        status = response.meta.get("status")
        if response.error and "tools" in sent[-1] and refuses_tools(status, response.error):
            # Said once (describe()); from now on tool requests go without the field, the tool
            # descriptions in the benchmark's system prompt being what the model reads.
            self.tools_refused = self.tools_refused or response.error.removesuffix(" (not retried)")
            response = await self._with_retries(window, generate)
        elif response.error and too_long(status, response.error):
            return Response(skip=f"the server refused the request as too long for its context window: "
                                 f"{response.error.removesuffix(' (not retried)')}", meta=response.meta)
        if request.tools_json is not None and sent and "tools" not in sent[-1]:
            response.meta["tools"] = "described in the prompt (the server refused tool definitions)"
        return response

    async def _with_retries(self, window: Window, attempt: Callable[[float], Awaitable[Response]]) -> Response:
        """``attempt(budget)`` under the window until it answers, or a failure is final.

        A 429 halves the window (once per burst) and honours Retry-After; a timeout halves it
        too and doubles the next attempt's time budget (up to ``timeout_growth_cap`` times
        ``timeout``), since a server that drops an abandoned request starts it from zero.
        """
        retries = timeouts = 0
        while True:
            budget = self.timeout * min(2.0 ** timeouts, self.timeout_growth_cap)
            epoch = await window.acquire()
            # The last attempt's own time: what the server took, not the wait for a slot.
            started = time.perf_counter()
            try:
                response = await attempt(budget)
                failure = None
            except Failure as exc:
                failure = exc
            except Exception as exc:  # a bug of ours or the library's: one item errors, not the run
                failure = Failure(None, f"unexpected {type(exc).__name__}: {exc}", retryable=False)
            finally:
                window.release()
            latency = round(time.perf_counter() - started, 4)
            if failure is None:
                window.succeeded()
                response.meta.update(latency_s=latency, retries=retries)
                return response
            if failure.status == 429:
                window.throttled(epoch, capped(failure.retry_after, self.retry_after_cap))
            elif failure.timed_out:
                window.throttled(epoch, None)
                timeouts += 1
            if not failure.retryable or retries >= self.max_retries:
                return self._gave_up(failure, retries, latency)
            wait = capped(failure.retry_after, self.retry_after_cap)
            retries += 1
            await asyncio.sleep(wait if wait is not None else
                                backoff_delay(retries, self.backoff_base, self.backoff_cap, self._random))

    def _gave_up(self, failure: Failure, retries: int, latency: float) -> Response:
        how = f"gave up after {retries} {'retry' if retries == 1 else 'retries'}" if failure.retryable \
            else "not retried"
        meta: dict[str, Any] = {"backend": self.name, "latency_s": latency, "retries": retries}
        if failure.status is not None:
            meta["status"] = failure.status
        text = f"{failure.text} ({how})"
        if failure.timed_out:
            text += (f": the server is slower than the timeout allows at this load; raise --llm-timeout "
                     f"(now {self.timeout:g} s) or lower --llm-concurrency (now {self.concurrency})")
        return Response(error=self._redact(text), meta=meta)

    # -- context window and log-likelihood (servers with vLLM's /tokenize) ---------------------

    async def _too_long(self, transport: Transport, request: Request, limit: int) -> str | None:
        """Why ``request`` cannot fit ``limit`` tokens (counted by the server where it can), or None."""
        if self._tokenize is not False:
            try:
                count = len(await self._tokens_of(transport, request, self.timeout))
            except Failure as failure:
                if failure.status in (404, 405):
                    self._tokenize = False
                count = None
            if count is not None:
                self._tokenize = True
                return context.counted_skip(count, request, limit)
        return context.estimated_skip(request, limit)

    def _tokenize_body(self, request: Request) -> dict[str, Any]:
        """vLLM's ``/tokenize`` body for what ``request`` sends: chat messages with the template applied, or the prompt."""
        if self.api == "completions":
            return {"model": self.model, "prompt": self.payload(request)[1]["prompt"]}
        body = self.payload(request)[1]
        asked = {"model": self.model, "messages": body["messages"], "add_generation_prompt": True,
                 "add_special_tokens": False}
        if "tools" in body:
            asked["tools"] = body["tools"]
        return asked

    async def _tokens_of(self, transport: Transport, request: Request, budget: float) -> list[int]:
        where = f"{_server_root(self.base_url)}/tokenize"
        return choices.token_ids(await transport.post_json(where, self._tokenize_body(request), timeout=budget), where)

    async def _tokens_of_choice(self, transport: Transport, choice: str, budget: float) -> list[int]:
        """A choice's token ids (no special tokens), asked of the server once per run."""
        known = self._choice_tokens.get(choice)
        if known is None or (known.done() and known.exception() is not None):
            where = f"{_server_root(self.base_url)}/tokenize"
            asked = {"model": self.model, "prompt": choice, "add_special_tokens": False}

            async def ask() -> list[int]:
                return choices.token_ids(await transport.post_json(where, asked, timeout=budget), where)

            known = self._choice_tokens[choice] = asyncio.ensure_future(ask())
        return await asyncio.shield(known)

    async def _score(self, transport: Transport, request: Request, budget: float) -> Response:
        """Each choice's log-probability after the prompt (:mod:`.choices`), in one completions request."""
        prompt = await self._tokens_of(transport, request, budget)
        options = [await self._tokens_of_choice(transport, choice, budget) for choice in request.choices]
        data = await transport.post_json("/completions", choices.choices_body(self.model, prompt, options), timeout=budget)
        values = choices.choice_logprobs(data, len(prompt), options, self.base_url + "/completions")
        return Response(choice_logprobs=values, meta={"backend": self.name, "method": "prompt logprobs",
                                                      "prompt_tokens": len(prompt)})

    def payload(self, request: Request) -> tuple[str, dict[str, Any]]:
        """The path (``/chat/completions`` or ``/completions``) and JSON body sent for ``request``
        (see :func:`.wire.request_body`)."""
        return request_body(request, self.model, self.api, self.token_limit_field, tools=not self.tools_refused)

    def parse(self, data: Any, where: str) -> Response:
        """A :class:`Response` from a server's JSON answer (see :func:`.wire.parse_reply`);
        :class:`~.policy.Failure` when it has no choices."""
        return parse_reply(data, where, self.api, self.name)

    def _redact(self, text: str) -> str:
        key = self._api_key
        if key and len(key) >= 4:
            text = text.replace(key, "[api key]")
        return text


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _server_root(base_url: str) -> str:
    """The server's root URL: ``base_url`` without its API path (``/v1``); vLLM's ``/tokenize`` and ``/version`` live there."""
    return base_url.removesuffix("/v1")


def _header_safe(key: str) -> bool:
    """Whether ``key`` can go in an Authorization header as it is (printable ASCII, no spaces)."""
    return all("!" <= char <= "~" for char in key)
