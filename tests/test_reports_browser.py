"""The HTML scorecard as a person sees it: opened in headless Chromium, in the light and the dark
colour scheme, at 12 capabilities x 4 models.

Two runs of Chromium per scheme, on the same page at the same window size: one dumps the DOM of
a copy of the page that carries a measuring script (bounding boxes, computed colours and font
sizes of every chart element, as laid out), the other takes a screenshot of the page itself.
The test reads the layout from the first and checks the pixels of the second against it.

Skipped when no Chromium is installed (Debian: ``apt-get install chromium``; ``.ci/run`` does).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_llmeval.published import published_for
from pytest_llmeval.reports import render_html
from pytest_llmeval.reports.chart import PLOT_HEIGHT, chart_bars
from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)")

#: As the machine notes say: no sandbox (root in a container), no GPU, nothing on the network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1")
WIDTH = 1280
#: The smallest text a reader is asked to read, in CSS pixels as rendered.
READABLE_PX = 10.0
SCHEMES = {"light": 1, "dark": 0}  # Blink's preferredColorScheme setting

CANDIDATES = ("llama-2-70b-chat", "zephyr-7b-beta", "mixtral-8x7b-instruct-v0.1-awq-4bit-gguf-q4km")
BASELINE = "gpt-3.5-turbo"
PROTOCOL = "recorded, 8-shot chain of thought"
#: 12 capabilities: the six built-in ones with their benchmarks (published figures exist for
#: them), and six a user's own benchmarks add.
CAPABILITIES = {
    "general": ["mmlu", "alpaca_eval", "ifbench"], "reasoning": ["gsm8k", "humaneval"], "long_context": ["needle"],
    "agent": ["bfcl"], "hallucination": ["truthfulqa"], "safety": ["xstest", "harmbench"], "coding": ["codegen"],
    "medical": ["medqa"], "summarization": ["xsum"], "translation": ["flores"],
    "math_word_problems": ["svamp"], "multilingual_question_answering": ["tydiqa"],
}

MEASURE = """
<script>
const svg = document.querySelector('svg.llmeval-chart');
const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
const own = e => [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join('');
const out = {
  scheme: matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light',
  background: getComputedStyle(document.body).backgroundColor, scale: scale, svg: box(svg),
  texts: [...svg.querySelectorAll('text')].map(t => ({...box(t), text: own(t), cls: t.getAttribute('class') || 'legend',
    fill: getComputedStyle(t).fill, size: parseFloat(getComputedStyle(t).fontSize) * scale})),
  bars: [...svg.querySelectorAll('rect.bar')].map(r => ({...box(r), kind: r.dataset.kind, model: r.dataset.model,
    capability: r.dataset.capability, value: parseFloat(r.dataset.value), fill: getComputedStyle(r).fill})),
};
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>
"""


def realistic_scorecard() -> Scorecard:
    """12 capabilities x 3 models under test and a baseline: recorded in general on AlpacaEval,
    which the models skip (no common items), on half the items in reasoning (paired), with another
    protocol in reasoning; the published figures of the models."""
    items = []
    for c, (capability, benchmarks) in enumerate(CAPABILITIES.items()):
        for benchmark in benchmarks:
            for i in range(20):
                for m, model in enumerate(CANDIDATES):
                    outcome = "passed" if (i * 7 + m * 3 + c) % 10 < 3 + 2 * m + c % 4 else "failed"
                    outcome = "skipped" if benchmark == "alpaca_eval" else outcome  # no judge for them
                    items.append(ItemOutcome(model, capability, benchmark, f"{benchmark}-{i}", outcome))  # type: ignore[arg-type]
                if capability == "general" and benchmark != "alpaca_eval":
                    continue
                if capability == "reasoning" and i % 2:
                    continue
                items.append(ItemOutcome(BASELINE, capability, benchmark, f"{benchmark}-{i}", "passed" if i % 4 else "failed",
                                         protocol=PROTOCOL if capability == "reasoning" else None))
    models = [ModelInfo(name, "transformers") for name in CANDIDATES] + [ModelInfo(BASELINE, "recorded", role="baseline")]
    card = Scorecard.build(items, models, created="2026-11-30T12:00:00Z")
    return card.with_published(published_for([m.name for m in card.models], sorted({g.benchmark or "" for g in card.benchmarks})))


def chromium(page: Path, scheme: str, profile: Path, *args: str) -> str:
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", f"--blink-settings=preferredColorScheme={SCHEMES[scheme]}",
               *args, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def measure(page: Path, scheme: str, folder: Path, height: int) -> dict[str, Any]:
    """The layout Chromium gave the page: a copy of it with :data:`MEASURE` added, its DOM dumped."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = chromium(probe, scheme, folder / "profile-dom", f"--window-size={WIDTH},{height}", "--dump-dom")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


def screenshot(path: Path) -> np.ndarray:
    """The PNG's pixels as a (height, width, 3) array of ints."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def luminance(colour: tuple[int, int, int]) -> float:
    """Relative luminance, as WCAG 2.x defines it."""
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2.x contrast ratio (1 to 21); 4.5 is the minimum for normal text."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def overlaps(a: dict[str, float], b: dict[str, float], slack: float = 0.5) -> bool:
    return (a["x"] + slack < b["x"] + b["w"] and b["x"] + slack < a["x"] + a["w"]
            and a["y"] + slack < b["y"] + b["h"] and b["y"] + slack < a["y"] + a["h"])


@pytest.fixture(scope="module")
def card() -> Scorecard:
    return realistic_scorecard()


@dataclass
class Rendered:
    """What Chromium made of the page in one scheme: the layout and the screenshot's pixels."""

    scheme: str
    seen: dict[str, Any]
    pixels: np.ndarray
    background: tuple[int, int, int]

    @property
    def texts(self) -> list[dict[str, Any]]:
        return [t for t in self.seen["texts"] if t["text"].strip()]


@pytest.fixture(scope="module", params=list(SCHEMES))
def rendered(request: pytest.FixtureRequest, card: Scorecard, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    scheme = request.param
    folder = tmp_path_factory.mktemp(f"chart-{scheme}")
    page = folder / "scorecard.html"
    page.write_text(render_html(card), encoding="utf-8")
    svg_height = float(re.search(r'<svg [^>]*height="([\d.]+)"', page.read_text(encoding="utf-8")).group(1))  # type: ignore[union-attr]
    height = int(svg_height) + 600
    seen = measure(page, scheme, folder, height)
    shot = folder / f"chart-{scheme}.png"
    chromium(page, scheme, folder / "profile-shot", f"--window-size={WIDTH},{height}", f"--screenshot={shot}")
    pixels = screenshot(shot)
    assert pixels.shape == (height, WIDTH, 3)
    return Rendered(scheme, seen, pixels, rgb(seen["background"]))


def test_the_page_follows_the_colour_scheme_at_full_size(rendered: Rendered) -> None:
    seen, background = rendered.seen, rendered.background
    assert seen["scheme"] == rendered.scheme, "chromium did not apply the colour scheme asked for"
    assert (luminance(background) < 0.05) if rendered.scheme == "dark" else (luminance(background) > 0.9), seen["background"]
    assert np.abs(rendered.pixels[2, 2] - background).max() <= 2, "the screenshot's background is not the page's"
    assert seen["scale"] == pytest.approx(1.0, abs=1e-3), "the chart was shrunk to fit the page"


def test_every_bar_is_drawn_at_its_height(card: Scorecard, rendered: Rendered) -> None:
    seen = rendered.seen
    expected = [(b.capability, b.kind, b.model, round(b.value, 4)) for b in chart_bars(card) if b.value is not None]
    drawn = [(b["capability"], b["kind"], b["model"], round(b["value"], 4)) for b in seen["bars"]]
    assert drawn == expected
    assert len({b["capability"] for b in seen["bars"]}) == 12
    for bar in seen["bars"]:
        assert bar["h"] == pytest.approx(bar["value"] * PLOT_HEIGHT * seen["scale"], abs=1.0), bar
        assert bar["w"] > 10 and seen["svg"]["x"] <= bar["x"] and bar["x"] + bar["w"] <= seen["svg"]["x"] + seen["svg"]["w"]
    # In the screenshot, each bar is painted in its colour (hatched ones in two).
    for bar in seen["bars"]:
        x, y, w, h = (round(bar[k]) for k in ("x", "y", "w", "h"))
        if h < 6:
            continue
        inside = rendered.pixels[y + 2:y + h - 2, x + 2:x + w - 2].reshape(-1, 3)
        if bar["kind"] == "published":  # hatched: both the stroke colour and the ground show
            assert len(np.unique(inside, axis=0)) > 2, bar
            continue
        share = float((np.abs(inside - rgb(bar["fill"])).max(axis=1) <= 6).mean())
        assert share > 0.8, (bar, share)  # the whisker crosses a few of them


def test_every_label_is_readable(rendered: Rendered) -> None:
    texts, svg = rendered.texts, rendered.seen["svg"]
    assert {t["cls"] for t in texts} >= {"legend", "tick", "axis-label", "value", "bar-label", "capability", "bar-label missing"}
    for t in texts:
        assert t["size"] >= READABLE_PX - 0.01, t
        assert contrast(rgb(t["fill"]), rendered.background) >= 4.5, (t, rendered.seen["background"])
        assert svg["x"] <= t["x"] and t["x"] + t["w"] <= svg["x"] + svg["w"] + 0.5, f"cut off: {t}"
        assert svg["y"] <= t["y"] and t["y"] + t["h"] <= svg["y"] + svg["h"] + 0.5, f"cut off: {t}"
        # In the screenshot, the label's box is inked.
        x, y, w, h = (round(t[k]) for k in ("x", "y", "w", "h"))
        region = rendered.pixels[y:y + h + 1, x:x + w + 1].reshape(-1, 3)
        assert np.abs(region - rendered.background).max() > 100, f"label not painted: {t}"


def test_nothing_overlaps_and_names_stand_over_their_bars(rendered: Rendered) -> None:
    texts, bars = rendered.texts, rendered.seen["bars"]
    clashes = [(a["text"], b["text"]) for i, a in enumerate(texts) for b in texts[i + 1:] if overlaps(a, b)]
    assert not clashes, clashes[:10]
    covered = [(t["text"], b["capability"], b["model"]) for t in texts for b in bars if overlaps(t, b)]
    assert not covered, covered[:10]
    # Each capability's name stands right over its own bars, not nearer another row.
    for t in (t for t in texts if t["cls"] == "capability"):
        mine = [b for b in bars if b["capability"] == t["text"]]
        left, right = min(b["x"] for b in mine), max(b["x"] + b["w"] for b in mine)
        plot_top = mine[0]["y"] + mine[0]["h"] - PLOT_HEIGHT * rendered.seen["scale"]
        assert left <= t["x"] + t["w"] / 2 <= right, t
        assert 0 <= plot_top - (t["y"] + t["h"]) <= 40, (t, plot_top)
