"""The on-disk response cache: every answer kept, keyed by the full identity of its request.

One SQLite file in WAL mode: each response is committed the moment it arrives, so a run that
dies loses nothing that had finished, and xdist workers can read and write it at once. A
cache file that SQLite cannot read is moved aside and rebuilt, with a warning, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Literal

from .request import Request, Response

CacheMode = Literal["on", "off", "refresh"]

#: Bumped when the meaning of a cached entry changes, so old entries are never misread.
KEY_VERSION = 2

_README = """\
# pytest-llmeval response cache

Model responses keyed by the full identity of each request (backend, model and weights,
base URL, messages, generation settings). Safe to delete; a rerun fills it again.
Do not commit it: pin thresholds with --llm-pin to a file of your own instead.
"""


class CacheWarning(UserWarning):
    """The response cache was unreadable and has been rebuilt."""


def request_key(backend_identity: dict[str, Any], request: Request) -> str:
    """The cache key: a hash of everything that decides the answer. Secrets never enter it."""
    blob = json.dumps(
        {"v": KEY_VERSION, "backend": backend_identity, "request": request.identity()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Get and put responses by key. ``mode="refresh"`` ignores what is stored but rewrites it;
    ``mode="off"`` neither reads nor writes."""

    def __init__(self, directory: Path, mode: CacheMode = "on") -> None:
        self.directory = directory
        self.mode = mode
        self.path = directory / "responses.sqlite3"
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            readme = self.directory / "README.md"
            if not readme.exists():
                readme.write_text(_README)
                (self.directory / ".gitignore").write_text("# created by pytest-llmeval\n*\n")
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                self._db = self._rebuild(exc)
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL)")
        db.execute("CREATE TABLE IF NOT EXISTS claims (chunk TEXT PRIMARY KEY, owner TEXT NOT NULL, at REAL)")
        db.execute("SELECT count(*) FROM responses").fetchone()
        return db

    def _rebuild(self, exc: Exception) -> sqlite3.Connection:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        warnings.warn(
            CacheWarning(f"response cache {self.path} is unreadable ({exc}); moved it to {aside.name} and started a new one"),
            stacklevel=3,
        )
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.replace(aside.with_name(aside.name + suffix))
        return self._open()

    def get(self, key: str) -> Response | None:
        if self.mode != "on":
            return None
        with self._lock:
            db = self._connect()
            try:
                row = db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
            except sqlite3.DatabaseError as exc:
                self._db = self._rebuild(exc)
                row = None
        if row is None:
            self.misses += 1
            return None
        try:
            response = Response.from_json(json.loads(row[0]))
        except (ValueError, TypeError, KeyError):
            self.misses += 1
            return None  # a damaged entry is a miss; the fresh answer overwrites it
        response.meta["cached"] = True
        self.hits += 1
        return response

    def put(self, key: str, response: Response) -> None:
        """Store a successful response at once (its own transaction). Errors are not cached:
        a failed request is asked again next run."""
        if self.mode == "off" or not response.ok:
            return
        blob = json.dumps(response.to_json(), ensure_ascii=False)
        with self._lock:
            db = self._connect()
            db.execute(
                "INSERT OR REPLACE INTO responses (key, response, created) VALUES (?, ?, ?)",
                (key, blob, time.time()),
            )

    def claim(self, chunk: str, owner: str, stale_after: float = 900.0) -> bool:
        """Take a chunk of work for ``owner`` (an xdist worker): True when nobody else holds it,
        or the holder's claim is older than ``stale_after`` seconds (it died)."""
        with self._lock:
            db = self._connect()
            now = time.time()
            taken = db.execute("INSERT OR IGNORE INTO claims (chunk, owner, at) VALUES (?, ?, ?)", (chunk, owner, now)).rowcount
            if taken:
                return True
            row = db.execute("SELECT owner, at FROM claims WHERE chunk = ?", (chunk,)).fetchone()
            finished = row is not None and row[1] == -1
            if row is not None and not finished and (row[0] == owner or now - row[1] > stale_after):
                db.execute("UPDATE claims SET owner = ?, at = ? WHERE chunk = ?", (owner, now, chunk))
                return True
            return False

    def finish(self, chunk: str) -> None:
        """Mark a claimed chunk done (its errors, which are not cached, are final for this run)."""
        with self._lock:
            self._connect().execute("UPDATE claims SET at = -1 WHERE chunk = ?", (chunk,))

    def finished(self, chunk: str) -> bool:
        with self._lock:
            row = self._connect().execute("SELECT at FROM claims WHERE chunk = ?", (chunk,)).fetchone()
        return row is not None and row[0] == -1

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
