"""What a server says about the model it serves, and the part of it that belongs in the cache key.

A server's answers depend on more than its URL and the model's name: the weights it loaded,
its context window, its version, its configuration. Where a server reports these, they are
read once per run (``GET /models``, vLLM's ``GET /version``, and the ``system_fingerprint`` of a
one-token probe) and the stable ones become part of the backend's identity, so a server
restarted on other weights, with another context length, another vLLM or (where the server's
fingerprint says so) another configuration is asked again rather than replayed from the cache.

Which fields count, and why:

- ``root`` (vLLM: the path or hub id of the weights), ``parent`` (a LoRA's base) and
  ``max_model_len`` describe what is served and stay the same across restarts of the same
  configuration;
- ``version``: vLLM's, from ``/version``; a new engine may change answers;
- ``fingerprint``: the ``system_fingerprint`` a server sends with completions, where it sends
  one (llama.cpp: its build; OpenAI: its backend configuration);
- never ``created`` (vLLM stamps it with the time of the request) nor ``permission`` (fresh ids).

A fully cached rerun must work with the server gone: the facts learned by the last run that
reached the server are remembered in a small JSON file (:class:`RememberedFacts`, in the
response cache's folder) and used when the probe cannot connect.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["RememberedFacts", "ServerFacts", "facts_from_models"]


@dataclass(frozen=True)
class ServerFacts:
    """What a server reported about one model (None: not reported).

    ``reached`` says whether these were read from the server in this process (False: remembered
    from an earlier run, or nothing known).
    """

    owned_by: str | None = None
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = None
    version: str | None = None
    fingerprint: str | None = None
    reached: bool = False

    @property
    def is_vllm(self) -> bool:
        """Whether the server says it is vLLM (``owned_by: "vllm"`` at ``/models``)."""
        return self.owned_by == "vllm"

    def identity(self) -> dict[str, Any]:
        """The reported fields that decide answers and stay stable across restarts (see the module docstring)."""
        data = {"root": self.root, "parent": self.parent, "max_model_len": self.max_model_len,
                "version": self.version, "fingerprint": self.fingerprint}
        return {key: value for key, value in data.items() if value is not None}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["reached"]
        return data

    @classmethod
    def from_json(cls, data: Any) -> ServerFacts:
        """Facts from :meth:`to_json`'s output; anything unexpected is left out."""
        if not isinstance(data, dict):
            return cls()
        length = data.get("max_model_len")
        return cls(owned_by=_text(data.get("owned_by")), root=_text(data.get("root")), parent=_text(data.get("parent")),
                   max_model_len=length if isinstance(length, int) and length > 0 else None,
                   version=_text(data.get("version")), fingerprint=_text(data.get("fingerprint")))


def facts_from_models(data: Any, model: str) -> ServerFacts:
    """The facts a ``GET /models`` answer gives about ``model`` (empty when it is not listed).

    Example: vLLM lists ``{"id": "m", "owned_by": "vllm", "root": "/models/m", "max_model_len": 8192, ...}``.
    """
    entries = data.get("data") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            length = entry.get("max_model_len")
            return ServerFacts(owned_by=_text(entry.get("owned_by")), root=_text(entry.get("root")),
                               parent=_text(entry.get("parent")),
                               max_model_len=length if isinstance(length, int) and length > 0 else None,
                               reached=True)
    return ServerFacts(reached=True)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class RememberedFacts:
    """Facts of each (base URL, model) as last read from the server, in one JSON file.

    Written whole and replaced atomically, so concurrent runs and xdist workers never read half
    a file; the last writer wins, which is what "last read" means.

    Example::

        store = RememberedFacts(Path(".llmeval-cache/servers.json"))
        store.put("http://127.0.0.1:8000/v1", "m", facts)
        store.get("http://127.0.0.1:8000/v1", "m")   # -> facts, with reached=False
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, base_url: str, model: str) -> ServerFacts | None:
        """The remembered facts, or None when this server and model were never reached."""
        entry = self._read().get(f"{base_url} {model}")
        return None if entry is None else replace(ServerFacts.from_json(entry), reached=False)

    def put(self, base_url: str, model: str, facts: ServerFacts) -> None:
        """Remember ``facts`` (best effort: a read-only folder only means nothing is remembered)."""
        data = self._read()
        data[f"{base_url} {model}"] = facts.to_json()
        staging = self.path.with_name(f"{self.path.name}.tmp{os.getpid()}")
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            os.replace(staging, self.path)
