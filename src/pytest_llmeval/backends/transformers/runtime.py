"""torch as a good neighbour: threads that follow the CPUs this process may use, and that sleep
instead of spinning while they wait.

OpenMP runtimes keep their idle threads spinning for a while after each parallel region (GNU
libgomp up to 300,000 iterations, Intel's 200 ms), so that the next region starts at once. Alone
on a machine that is a small gain; beside another busy process, the spinning threads burn the
very cores the other process's threads are waiting for, and both crawl: two runs of the
embedded model on two cores were still unfinished after 45 minutes (issue 16). The runtimes
read their settings once, when torch loads them, so :func:`import_torch` sets them before the
first ``import torch`` unless the user already chose; :data:`QUIET_THREADS` lists them.

Example::

    torch = import_torch(threads=2)   # the backend's only way in to torch
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import threading
import warnings
from typing import Any

#: Environment read by the OpenMP and MKL runtimes when torch loads them: waiting threads sleep
#: at once instead of spinning (GNU libgomp: ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``; Intel's
#: OpenMP, which some torch builds use: ``KMP_BLOCKTIME`` in ms) and MKL may not start threads of
#: its own beyond torch's (``MKL_DYNAMIC``). A variable the user set is left as it is.
QUIET_THREADS = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "GOMP_SPINCOUNT": "0",
    "KMP_BLOCKTIME": "0",
    "MKL_DYNAMIC": "FALSE",
}


class ThreadWarning(UserWarning):
    """torch was imported before the backend could quiet its threads: they may spin on a busy machine."""


_lock = threading.Lock()
_state: dict[str, Any] = {"warned": False, "interop": None}


def quiet_thread_environment(environ: dict[str, str] | Any = os.environ) -> dict[str, str]:
    """Set every :data:`QUIET_THREADS` variable the user has not set; return the ones set here."""
    chosen = {name: value for name, value in QUIET_THREADS.items() if name not in environ}
    environ.update(chosen)
    return chosen


def import_torch(threads: int | None = None) -> Any:
    """``torch``, imported with :data:`QUIET_THREADS` in the environment, with ``threads``
    compute threads (intra-op and, where torch still allows it, inter-op).

    When something else imported torch first (a conftest, another plugin), its runtimes have
    already read their settings: a :class:`ThreadWarning` says so once per process, naming the
    variable to export. ``threads`` None leaves torch's own choice.
    """
    with _lock:
        if "torch" not in sys.modules:
            quiet_thread_environment()
        elif os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE" and not _state["warned"]:
            _state["warned"] = True
            warnings.warn(
                "torch was imported before pytest-llmeval's transformers backend could set OMP_WAIT_POLICY=PASSIVE: "
                "its threads may spin for other processes' CPUs and crawl on a busy machine. "
                "Export OMP_WAIT_POLICY=PASSIVE before starting pytest, or import torch after the plugin.",
                ThreadWarning, stacklevel=3)
        import torch

        if threads:
            torch.set_num_threads(threads)
            _set_interop_threads(torch, threads)
    return torch


def _set_interop_threads(torch: Any, threads: int) -> None:
    """Inter-op threads can be set once per process, before any inter-op work: later calls keep
    the first value (torch raises), which is the right one for every backend of a run."""
    if _state["interop"] is not None:
        return
    try:
        torch.set_num_interop_threads(threads)
        _state["interop"] = threads
    except RuntimeError:
        _state["interop"] = torch.get_num_interop_threads()


def library_versions(quantized: bool = False) -> dict[str, str]:
    """The versions of the libraries that decode (part of a local model's identity), read from
    package metadata without importing them: ``transformers``, ``torch``, ``tokenizers``, and
    ``bitsandbytes`` for a quantized model."""
    names = ["transformers", "torch", "tokenizers"] + (["bitsandbytes"] if quantized else [])
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def accelerator() -> str:
    """``"cuda"`` when torch can use a GPU, else ``"cpu"``.

    A torch build whose version says ``+cpu`` (the CPU wheels) has none, and is answered
    without importing torch, so that a fully cached rerun on a CPU never pays for the import.
    """
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "cpu"
    if version.endswith("+cpu"):
        return "cpu"
    torch = import_torch()
    return "cuda" if torch.cuda.is_available() else "cpu"
