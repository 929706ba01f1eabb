"""Where the data shipped inside the package lives."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def shipped(relative: str) -> Path:
    """The path of a shipped data file, e.g. ``shipped("gsm8k/test.jsonl.gz")``."""
    path = DATA_DIR / relative
    if not path.exists():  # pragma: no cover - a broken installation
        raise FileNotFoundError(f"pytest-llmeval's shipped data {relative} is missing from {DATA_DIR}: reinstall the package")
    return path
