"""How the gate orders item names: as a person reads them, ``xstest[2]`` before ``xstest[10]``."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key that compares runs of digits by their value and the rest as text.

    >>> sorted(["xstest[10]", "xstest[2]", "gsm8k[test-0003]"], key=natural_key)
    ['gsm8k[test-0003]', 'xstest[2]', 'xstest[10]']

    Each part is ``(0, number, "")`` for digits and ``(1, 0, text)`` otherwise, so that the
    parts of two names always compare (never a number against a string); ties between
    ``"007"`` and ``"7"`` are broken by the digits as written.
    """
    parts: list[tuple[int, int, str]] = []
    for index, part in enumerate(_DIGITS.split(name)):
        if index % 2:
            parts.append((0, int(part), part))
        elif part:
            parts.append((1, 0, part))
    return tuple(parts)
