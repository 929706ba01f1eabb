"""IFBench's ``format:*`` instructions: layout, lists, brackets, quotation marks, templates
and capitalisation.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from ..registry import checker
from ..text import NO_PUNCTUATION, PUNCTUATION, end_mark, ends_with_emoji, sentences, starts_with_emoji


@checker("format:emoji")
def emoji_after_every_sentence(response: str) -> bool:
    """Every sentence ends with an emoji (before or after its full stop)."""
    found = sentences(response)
    if not found:
        return False
    for i, sentence in enumerate(found):
        if ends_with_emoji(sentence):
            continue
        # "Done. 😀 Next." splits as "Done." / "😀 Next.": the emoji belongs to the first sentence.
        if i + 1 < len(found) and starts_with_emoji(found[i + 1]):
            continue
        return False
    return True


@checker("format:line_indent")
def stairs(response: str) -> bool:
    """Each non-empty line is indented further than the one before."""
    lines = [line.expandtabs(4) for line in response.splitlines() if line.strip()]
    depths = [len(line) - len(line.lstrip(" ")) for line in lines]
    return len(lines) >= 2 and all(a < b for a, b in pairwise(depths))


@checker("format:list")
def custom_bullets(response: str, sep: str) -> bool:
    """A list of at least two items, each introduced by ``sep`` instead of a bullet."""
    items = response.split(sep)[1:]
    return len([item for item in items if item.strip()]) >= 2


@checker("format:newline")
def one_word_per_line(response: str) -> bool:
    """Every non-empty line holds exactly one word."""
    lines = [line.translate(NO_PUNCTUATION).split() for line in response.splitlines()]
    lines = [line for line in lines if line]
    return bool(lines) and all(len(line) == 1 for line in lines)


@checker("format:no_bullets_bullets")
def sentences_then_bullets(response: str) -> bool:
    """At least two sentences ending in a full stop, then at least two ``*`` bullet points, nothing after."""
    lines = [line.strip() for line in response.strip().splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("*")), len(lines))
    prose, bullets = lines[:first], lines[first:]
    full_stops = [s for s in sentences(" ".join(prose)) if end_mark(s) == "."]
    return len(full_stops) >= 2 and len(bullets) >= 2 and all(line.startswith("*") for line in bullets)


@checker("format:no_whitespace")
def no_whitespace(response: str) -> bool:
    """No spaces, tabs or line breaks (around the response too, bar the very ends)."""
    text = response.strip()
    return bool(text) and not any(c.isspace() for c in text)


def _options(options: str) -> list[str]:
    for separator in ("/", " or ", ","):
        if separator in options:
            return [o.strip() for o in options.split(separator) if o.strip()]
    return [options.strip()]


@checker("format:options")
def one_of_the_options(response: str, options: str) -> bool:
    """The whole response is one of the options (ignoring case and surrounding punctuation)."""
    choices = _options(options)
    if all(re.fullmatch(r"\(?[a-eA-E]\)?", c) for c in choices):  # lettered choices: exact
        return response.strip() in choices
    answer = response.strip(PUNCTUATION + " \n").lower()
    return any(answer == c.strip(PUNCTUATION + " ").lower() for c in choices)


@checker("format:output_template")
def answer_template(response: str) -> bool:
    """Uses the template: "My Answer:", then "My Conclusion:", then "Future Outlook:"."""
    places = [response.find(label) for label in ("My Answer:", "My Conclusion:", "Future Outlook:")]
    return all(p >= 0 for p in places) and places == sorted(places)


_CLOSES = {")": "(", "]": "[", "}": "{"}


@checker("format:parentheses")
def nested_brackets(response: str) -> bool:
    """Some balanced group of (), [] or {} nests at least five levels deep."""
    stack: list[list[Any]] = []  # [opening char, deepest level closed inside]
    for char in response:
        if char in "([{":
            stack.append([char, 0])
        elif char in _CLOSES:
            if not stack or stack[-1][0] != _CLOSES[char]:
                stack = []
                continue
            level = len(stack)
            _, deepest = stack.pop()
            deepest = max(deepest, level)
            if not stack:
                if deepest >= 5:
                    return True
            else:
                stack[-1][1] = max(stack[-1][1], deepest)
    return False


def _quote_marks(text: str) -> list[str]:
    """The quotation marks of ``text`` as '"' or "'", apostrophes left out."""
    marks = []
    for i, char in enumerate(text):
        if char in "\"\u201c\u201d":
            marks.append('"')
        elif char in "'\u2018\u2019":
            before = text[i - 1] if i > 0 else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            if before.isalnum() and after.isalnum():
                continue  # don't, it's
            marks.append("'")
    return marks


@checker("format:quotes")
def nested_quotes(response: str) -> bool:
    """Quotes within quotes within quotes (three levels), alternating double and single marks."""
    stack: list[list[Any]] = []
    for mark in _quote_marks(response):
        if stack and stack[-1][0] == mark:
            level = len(stack)
            _, deepest = stack.pop()
            deepest = max(deepest, level)
            if not stack:
                if deepest >= 3:
                    return True
            else:
                stack[-1][1] = max(stack[-1][1], deepest)
        elif not stack or stack[-1][0] != mark:
            stack.append([mark, 0])
    return False


@checker("format:quote_unquote")
def quotes_explained(response: str) -> bool:
    """Every double-quoted phrase is followed by unquoted words before the next quotation or the end."""
    text = re.sub("[\u201c\u201d]", '"', response)
    spans = list(re.finditer(r'"[^"\n]+"', text))
    for index, span in enumerate(spans):
        end = spans[index + 1].start() if index + 1 < len(spans) else len(text)
        after = text[span.end():end]
        if not re.search(r"[^\W\d_]{2,}", after):
            return False
    return True


@checker("format:sub-bullets")
def bullets_with_sub_bullets(response: str) -> bool:
    """``*`` bullet points, each followed by at least one ``-`` sub-bullet."""
    bullets: list[int] = []
    for line in response.splitlines():
        stripped = line.strip()
        if re.match(r"^\*\s", stripped):
            bullets.append(0)
        elif re.match(r"^-\s", stripped) and bullets:
            bullets[-1] += 1
    return bool(bullets) and all(count >= 1 for count in bullets)


@checker("format:thesis")
def italic_thesis_sections(response: str) -> bool:
    """Each section (split at Markdown headings) opens with an HTML-italic thesis, then more text."""
    sections = re.split(r"(?m)^\s*#{1,6}\s.*$", response)
    sections = [s.strip() for s in sections if s.strip()]
    if not sections:
        return False
    for section in sections:
        found = re.match(r"^<(i|em)>(.+?)</\1>(.*)$", section, re.S)
        if not found or not found.group(2).strip() or not found.group(3).strip():
            return False
    return True


_MINOR_WORDS = {
    "a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in", "of", "off", "on",
    "per", "to", "up", "via", "vs", "with", "from", "into", "onto", "over", "than", "upon",
}


@checker("format:title_case")
def title_case(response: str) -> bool:
    """Every major word starts with a capital; short function words may stay lower case mid-line."""
    for line in response.splitlines():
        items = re.findall("[^\\W\\d_][\\w'\u2019-]*", line)
        for position, word in enumerate(items):
            if word[0].isupper():
                continue
            if position > 0 and word.lower() in _MINOR_WORDS:
                continue
            return False
    return True

