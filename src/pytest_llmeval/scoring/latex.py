r"""LaTeX math as plain text, so that the numbers in it read as numbers.

Models trained on math data write their numbers in LaTeX anywhere in a reply, not only in
``\boxed{}``: ``$9{,}500$``, ``\(12{,}000\)``, ``$1\,250$``, ``\frac{3}{4}``, ``25\%``. Read as
prose, those are 9, 0 and 1 (the separators break the number). :func:`plain_math` rewrites
the notation that changes how a number reads, and leaves everything else alone.

The rewrites (LaTeX's own meaning of each command, as in any LaTeX reference):

* math delimiters ``\( \) \[ \] $$`` become spaces; a single ``$`` stays, since in prose it
  is a currency sign (the number reader skips it either way);
* ``{,}`` (a comma typeset without the space after it: a thousands separator) becomes ``,``;
* the spacing commands ``\, \: \; \!`` and ``\ `` vanish between two digits (a thin space
  used as a thousands separator: ``1\,250`` is 1250) and become a space elsewhere;
  ``\quad``, ``\qquad`` and ``~`` become a space;
* ``\frac{a}{b}``, ``\dfrac``, ``\tfrac`` (and ``\frac12``) become ``a/b``, parenthesised when a
  part is not a plain number; a whole number just before one makes a mixed number
  (``2\frac{1}{2}`` is ``5/2``);
* ``\text{...}`` and its kin (``\textbf``, ``\mathrm``, ``\mbox``, ...) become their content;
* ``\left`` / ``\right`` (and ``\bigl`` etc.) vanish, keeping the bracket after them;
* ``\%`` and ``\$`` become ``%`` and ``$``; ``\times`` and ``\cdot`` become ``*``, ``\div`` ``/``;
  ``\displaystyle`` vanishes.

``\boxed{}`` is kept, so that a reader can still find the boxed answer.

Example::

    plain_math(r"So she earns $9{,}500$ in total.")  # "So she earns $9,500$ in total."
    plain_math(r"\(\dfrac{3}{4}\) of the pie")      # " 3/4  of the pie"
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["plain_math"]

_TEXT_COMMAND = re.compile(r"\\(?:text(?:bf|it|rm|sf|tt|normal)?|math(?:rm|bf|it|sf|tt)|mbox|operatorname)\s*\{([^{}]*)\}")
_SIZED_BRACKET = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])\s*\.?")
_MIXED_FRACTION = re.compile(r"(?<![\w.,])([0-9]+)\s*\\[dt]?frac\s*\{\s*([0-9]+)\s*\}\s*\{\s*([0-9]+)\s*\}")
_FRACTION = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SHORT_FRACTION = re.compile(r"\\[dt]?frac\s*([0-9])\s*([0-9])")  # \frac12
_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_THIN_SPACE_IN_NUMBER = re.compile(r"(?<=[0-9])\\[,:;! ](?=[0-9])")
_SPACING = re.compile(r"\\(?:[,:; ]|q?quad(?![a-zA-Z]))|~")
_DELIMITER = re.compile(r"\\[()\[\]]|\$\$")
_SYMBOLS = (
    ("{,}", ","), ("{.}", "."), ("\\%", "%"), ("\\$", "$"), ("\\!", ""),
    ("\\times", " * "), ("\\cdot", " * "), ("\\div", " / "), ("\\displaystyle", ""),
)


def plain_math(text: str) -> str:
    """``text`` with the LaTeX that changes how numbers read rewritten as plain text.

    See the module docstring for the rewrites. Text without a backslash, ``{,}``, ``$$`` or
    ``~`` comes back unchanged; the function never raises.
    """
    if "\\" not in text and "{" not in text and "~" not in text and "$$" not in text:
        return text
    text = _SIZED_BRACKET.sub("", text)
    for _ in range(3):  # \text{\textbf{...}}: innermost first
        text, replaced = _TEXT_COMMAND.subn(r"\1", text)
        if not replaced:
            break
    # Separators and symbols before fractions, so that \frac{9{,}500}{2} has plain parts.
    text = _THIN_SPACE_IN_NUMBER.sub("", text)
    for latex, plain in _SYMBOLS:
        text = text.replace(latex, plain)
    text = _MIXED_FRACTION.sub(_mixed_number, text)
    text = _SHORT_FRACTION.sub(r"\1/\2", text)
    for _ in range(3):  # \frac{\frac{1}{2}}{3}: innermost first
        text, replaced = _FRACTION.subn(_fraction, text)
        if not replaced:
            break
    text = _SPACING.sub(" ", text)
    return _DELIMITER.sub(" ", text)


def _mixed_number(match: re.Match[str]) -> str:
    whole, numerator, denominator = (int(group) for group in match.groups())
    if denominator == 0:
        return match.group(0)
    value = whole + Fraction(numerator, denominator)
    return f"{value.numerator}/{value.denominator}"


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = (part.strip() for part in match.groups())
    if _PLAIN_NUMBER.fullmatch(numerator) and _PLAIN_NUMBER.fullmatch(denominator):
        return f"{numerator}/{denominator}"
    return f"({numerator})/({denominator})"
