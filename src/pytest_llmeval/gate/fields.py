"""Checking the fields of a thresholds file, with errors that name the file and the field."""

from __future__ import annotations

import math
from typing import Any


class ThresholdsError(Exception):
    """A thresholds file that cannot be used; the message names the file and the field."""


def fail(source: str, where: str, expected: str, value: Any) -> ThresholdsError:
    """The error for a field: ``"llm-thresholds.json: settings.alpha: expected ..., got 0"``."""
    return ThresholdsError(f"{source}: {where}: expected {expected}, got {value!r}")


def is_number(value: Any) -> bool:
    """A finite JSON number (``true`` is an int in Python, but never meant as a score)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value: Any) -> bool:
    """A whole JSON number >= 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def fraction(source: str, where: str, value: Any, *, open_low: bool = False) -> float:
    """A number from 0 to 1 (above 0 with ``open_low``), else :class:`ThresholdsError`."""
    low_ok = value > 0 if open_low and is_number(value) else is_number(value) and value >= 0
    if not (is_number(value) and low_ok and value <= 1):
        expected = "a number above 0 and at most 1" if open_low else "a number between 0 and 1"
        raise fail(source, where, expected, value)
    return float(value)


def count(source: str, where: str, value: Any) -> int:
    """A whole number >= 0, else :class:`ThresholdsError`."""
    if not is_count(value):
        raise fail(source, where, "a whole number >= 0", value)
    return int(value)


def name(source: str, where: str, value: Any) -> str:
    """A non-empty string, else :class:`ThresholdsError`."""
    if not (isinstance(value, str) and value.strip()):
        raise fail(source, where, "a non-empty string", value)
    return value
