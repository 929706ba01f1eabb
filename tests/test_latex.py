"""LaTeX math read as plain text: the notation that changes how a number reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.scoring.extract import flexible_number
from pytest_llmeval.scoring.latex import plain_math

PLAIN = [
    # LaTeX                                   plain text
    (r"$9{,}500$", "$9,500$"),
    (r"\(12{,}000\)", " 12,000 "),
    (r"\[12{,}000\]", " 12,000 "),
    (r"$$1{,}250$$", " 1,250 "),
    (r"$1\,250$", "$1250$"),
    (r"$1\;250\!000$", "$1250000$"),
    (r"$1\ 250$", "$1250$"),
    (r"18\,\text{dollars}", "18 dollars"),
    (r"\frac{3}{4}", "3/4"),
    (r"\dfrac{3}{4}", "3/4"),
    (r"\tfrac{3}{4}", "3/4"),
    (r"\frac12", "1/2"),
    (r"\frac{16 - 7}{2}", "(16 - 7)/(2)"),
    (r"\frac{\frac{1}{2}}{3}", "(1/2)/(3)"),
    (r"2\frac{1}{2} cups", "5/2 cups"),
    (r"2 \frac{1}{2} cups", "5/2 cups"),
    (r"25\%", "25%"),
    (r"\$18", "$18"),
    (r"\text{Total: } 18", "Total:  18"),
    (r"\textbf{18}", "18"),
    (r"\mathrm{18\,kg}", "18 kg"),
    (r"\left( 3 + 4 \right) \times 2", "( 3 + 4 )  *  2"),
    (r"3 \cdot 4 = 12", "3  *  4 = 12"),
    (r"\displaystyle 12 \div 4", " 12  /  4"),
    (r"\boxed{18}", r"\boxed{18}"),  # kept for the boxed-answer reader
    ("It costs $5 and $6.", "It costs $5 and $6."),  # currency, not math
    ("No LaTeX here: 1,234.5", "No LaTeX here: 1,234.5"),
]


@pytest.mark.parametrize(("latex", "plain"), PLAIN)
def test_plain_math(latex: str, plain: str) -> None:
    assert plain_math(latex) == plain


# Every way of writing math in a reply, around every LaTeX spelling of the number: the number
# is read wherever the math stands, not only in \boxed{}.
DELIMITERS = [("$", "$"), ("$$", "$$"), (r"\(", r"\)"), (r"\[", r"\]"), (r"\boxed{", "}"), ("", "")]
SPELLINGS = [
    # LaTeX                value
    (r"9{,}500", "9500"),
    (r"12{,}000", "12000"),
    (r"1\,250", "1250"),
    (r"1\!250", "1250"),
    (r"1\;250", "1250"),
    (r"\$1{,}250.50", "1250.5"),
    (r"\frac{3}{4}", "3/4"),
    (r"\dfrac{1}{2}", "1/2"),
    (r"\tfrac{5}{2}", "5/2"),
    (r"-\frac{3}{4}", "-3/4"),
    (r"1\frac{1}{2}", "3/2"),
    (r"45\%", "45"),
    (r"18 \text{ dollars}", "18"),
    (r"\text{\$}18", "18"),
    (r"\left(18\right)", "18"),
]


@pytest.mark.parametrize("delimiters", DELIMITERS)
@pytest.mark.parametrize(("latex", "value"), SPELLINGS)
@pytest.mark.parametrize("sentence", ["So she earns {}.", "The answer is {}.", "Total: 3 + 4 = {}\n"])
def test_a_number_in_latex_reads_wherever_the_math_stands(delimiters: tuple[str, str], latex: str, value: str,
                                                         sentence: str) -> None:
    opening, closing = delimiters
    assert flexible_number(sentence.format(opening + latex + closing)) == value


@given(st.integers(min_value=1000, max_value=10**12))
def test_latex_thousands_separators_read_as_one_number(n: int) -> None:
    grouped = f"{n:,}"
    for separator in ("{,}", r"\,", r"\!", r"\;"):
        assert flexible_number(f"The total is ${grouped.replace(',', separator)}$.") == str(n)
        assert flexible_number(rf"so the total comes to \({grouped.replace(',', separator)}\)") == str(n)


@given(st.text())
def test_plain_math_never_raises_and_leaves_text_without_latex_alone(text: str) -> None:
    plain = plain_math(text)
    if not any(mark in text for mark in ("\\", "{", "~", "$$")):
        assert plain == text
