"""What makes a local model's answers what they are, from files on disk, without loading it.

Everything transformers reads to build the model and its tokenizer is fingerprinted: the
weights, ``config.json`` and ``generation_config.json`` (end-of-sequence ids, defaults), the
tokenizer's files (``tokenizer.json``, ``tokenizer.model``, ``tokenizer_config.json``,
``special_tokens_map.json``, ``added_tokens.json``, vocabularies and merges), the chat template
wherever it lives (``chat_template.jinja``, ``chat_template.json``, ``additional_chat_templates/``
or inside the tokenizer config), and a repository's own code. Together with the dtype, the
device kind, the model arguments that change answers and the versions of the decoding
libraries (:func:`~.runtime.library_versions`), this is the backend's identity, hence part of
every cache key: change any of it and the items are asked again. A GGUF file holds its
tokenizer and template itself, so its fingerprint covers them.

It stays cheap: a file up to 256 MB is hashed whole, a bigger one (weight shards) by its size,
first and last 8 MB and modification time; a rerun hashes only metadata-sized files and heads.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: Files of a model directory that no loader reads: documentation, licences, git metadata, pictures.
IGNORED_SUFFIXES = (".md", ".png", ".jpg", ".jpeg", ".gif", ".svg")
IGNORED_PREFIXES = ("LICENSE", "LICENCE", "NOTICE", "README", "USE_POLICY")
#: The note this backend writes next to weights it converted (it names the source's path).
CONVERSION_NOTE = "pytest-llmeval.json"
#: Sub-folders transformers reads (the others hold other formats: ``original/``, ``onnx/``, ...).
READ_FOLDERS = ("additional_chat_templates",)
#: Files up to this size are hashed whole.
WHOLE_FILE_LIMIT = 256 * 2**20


def file_fingerprint(path: Path) -> str:
    """A content hash of one file: the whole file up to :data:`WHOLE_FILE_LIMIT`; above, its size,
    first and last 8 MB and modification time (hashing 100 GB on every run is not an option)."""
    stat = path.stat()
    size = stat.st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        if size <= WHOLE_FILE_LIMIT:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
        else:
            digest.update(handle.read(8 * 2**20))
            handle.seek(-8 * 2**20, os.SEEK_END)
            digest.update(handle.read())
            digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def model_files(directory: Path) -> list[Path]:
    """The files of a model directory that a loader may read, in a stable order."""
    found = []
    for child in sorted(directory.iterdir()):
        name = child.name
        if name.startswith(".") or child.suffix.lower() in IGNORED_SUFFIXES or name.upper().startswith(IGNORED_PREFIXES):
            continue
        if child.is_file() and name != CONVERSION_NOTE:
            found.append(child)
        elif child.is_dir() and child.name in READ_FOLDERS:
            found.extend(p for p in sorted(child.rglob("*")) if p.is_file())
    return found


def directory_fingerprint(directory: Path) -> str:
    """One hash over :func:`model_files` (each named by its path in the directory)."""
    digest = hashlib.sha256()
    for path in model_files(directory):
        digest.update(f"{path.relative_to(directory).as_posix()}:{file_fingerprint(path)}\n".encode())
    return digest.hexdigest()[:16]


def hub_snapshot(hub_id: str, revision: str | None = None) -> Path | None:
    """The local hub cache's folder of a hub model (named by its commit), or None when it has none.

    Asks ``huggingface_hub`` for the cached snapshot only: never the network.
    """
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(hub_id, revision=revision, local_files_only=True)
    except Exception:  # not cached, not a valid id, offline mode: nothing local to fingerprint
        return None
    return Path(folder)


def weights_identity(scheme: str, target: str, revision: str | None = None) -> str:
    """``gguf:<hash>``, ``dir:<hash>``, ``hub:<id>@<commit>:<hash>`` (cached locally) or
    ``hub:<id>@<revision>`` (not yet downloaded)."""
    path = Path(target)
    if scheme == "gguf":
        return f"gguf:{file_fingerprint(path)}"
    if path.is_dir():
        return f"dir:{directory_fingerprint(path)}"
    snapshot = hub_snapshot(target, revision)
    if snapshot is not None:
        return f"hub:{target}@{snapshot.name}:{directory_fingerprint(snapshot)}"
    return f"hub:{target}@{revision or 'main'}"
