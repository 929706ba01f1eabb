"""Written numbers: the pattern of one number in prose, its canonical form, and when two are equal.

Pure functions that never raise on any text. :func:`normalize_number` reads one number as it is
written ("$1,234.50", "2/4", "\u22127"); :func:`numbers_equal` compares two such by value. Finding
the number a reply gives as its answer is :mod:`pytest_llmeval.scoring.number_answers`.
"""

from __future__ import annotations

import re
from fractions import Fraction

#: Currency signs a number may carry.
CURRENCY_SIGNS = "$€£¥₹"
#: Minus signs: the ASCII hyphen-minus and the typographic minus sign.
MINUS_SIGNS = "-\u2212"

#: One number as written in prose: optional sign and currency (either order), digits with or
#: without thousands separators, a decimal part, a fraction, a percent sign. The look-behind
#: keeps it from starting inside a word ("H2O", "x2") or inside another number, and the minus
#: must touch the digits, so "5 - 3" is a subtraction, not a negative three.
NUMBER_PATTERN = (
    r"(?<![\w.])(?<![0-9]:)"  # a clock time "2:00" reads as its hour, never as "00"
    rf"[{MINUS_SIGNS}]?[{CURRENCY_SIGNS}]?[{MINUS_SIGNS}]?"
    r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?:/[0-9]+)?|\.[0-9]+)"
    r"%?"
)
#: :data:`NUMBER_PATTERN`, compiled.
NUMBER_RE = re.compile(NUMBER_PATTERN)

# Digits are spelled [0-9]: \d would accept other scripts' digits, which int() reads but a
# person comparing answers would not expect.
_DECIMAL_RE = re.compile(r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.([0-9]*))?")
_FRACTION_RE = re.compile(r"([0-9]+)\s*/\s*([0-9]+)")
#: How far apart two numbers may be and still be equal (:func:`numbers_equal`).
TOLERANCE = Fraction(1, 10**6)


def normalize_number(text: str) -> str | None:
    """The canonical form of one written number, or ``None`` if ``text`` is not a number.

    Currency signs, thousands separators, a percent sign, markdown emphasis and sentence
    punctuation are dropped; trailing decimal zeros go; fractions are reduced and kept as
    fractions (:func:`numbers_equal` compares them with decimals). The text must be one
    number, not a sentence containing one (use
    :func:`~pytest_llmeval.scoring.number_answers.flexible_number` for that).

    Example::

        normalize_number("$1,234.50")  # "1234.5"
        normalize_number("18.00")      # "18"
        normalize_number("2/4")        # "1/2"
        normalize_number("eighteen")   # None
    """
    s = text.strip().strip("*_`").strip().rstrip(".,;:!?").strip("*_`").strip()
    sign = ""
    # Sign and currency may come in either order: "-$5" and "$-5" are both minus five.
    for _ in range(2):
        if s and s[0] in MINUS_SIGNS and not sign:
            sign, s = "-", s[1:]
        elif s and s[0] in CURRENCY_SIGNS:
            s = s[1:].lstrip()
    if s.endswith("%"):
        s = s[:-1].rstrip()
    fraction = _FRACTION_RE.fullmatch(s)
    if fraction is not None:
        return _format_fraction(sign, fraction.group(1), fraction.group(2))
    decimal = _DECIMAL_RE.fullmatch(s)
    if decimal is None:
        return None
    whole, frac = decimal.group(1).replace(",", ""), decimal.group(2) or ""
    if not whole and not frac:
        return None
    # String surgery rather than Decimal or int: exact for any length of digits, and no
    # arithmetic context or integer-conversion limit to trip over.
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    number = f"{whole}.{frac}" if frac else whole
    return number if number == "0" else sign + number


def _format_fraction(sign: str, numerator: str, denominator: str) -> str | None:
    try:
        value = Fraction(int(numerator), int(denominator))
    except (ValueError, ZeroDivisionError):  # zero denominator, or digits beyond int()'s limit
        return None
    if value == 0:
        return "0"
    return sign + str(value)  # "1/2", or "3" when the fraction is whole


def as_fraction(number: str) -> Fraction | None:
    """The exact value of a number as :func:`normalize_number` writes it ("1/2", "-3.25"), or
    ``None`` when it has too many digits to convert."""
    try:
        return Fraction(number)
    except (ValueError, ZeroDivisionError):
        return None


def numbers_equal(a: str | None, b: str | None) -> bool:
    """Whether two written numbers have the same value (within 1e-6); ``None`` equals nothing.

    Both sides go through :func:`normalize_number`, so formatting does not matter.

    Example::

        numbers_equal("$18.00", "18")  # True
        numbers_equal("1/2", "0.5")    # True
        numbers_equal("18", None)      # False
    """
    if a is None or b is None:
        return False
    na, nb = normalize_number(a), normalize_number(b)
    if na is None or nb is None:
        return False
    if na == nb:  # the common case, without fraction arithmetic
        return True
    fa, fb = as_fraction(na), as_fraction(nb)
    if fa is None or fb is None:  # too many digits to convert: compare the canonical text
        return na == nb
    return abs(fa - fb) <= TOLERANCE

