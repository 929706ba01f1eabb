"""Markdown and HTML reports, checked against a realistic typed scorecard (``Scorecard.build``)."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from pytest_llmeval.gate import check_scorecard, parse_thresholds, pin
from pytest_llmeval.published import published_for
from pytest_llmeval.reports import render_html, render_markdown, render_table
from pytest_llmeval.reports.chart import PLOT_HEIGHT
from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard
from pytest_llmeval.stats import format_p, wilson_interval

MODEL = "smollm2-135m-instruct"
BASELINE = "gpt-3.5-turbo"
SVG = "{http://www.w3.org/2000/svg}"
Plan = dict[str, list[tuple[str, str, str | None, int, int, int]]]

# (capability, benchmark, subset-or-None, passed, failed, errors) per model; items are numbered in that order.
PLAN: Plan = {
    MODEL: [
        ("general", "mmlu", None, 12, 28, 0),
        ("general", "mtbench", None, 3, 17, 0),
        ("reasoning", "gsm8k", None, 14, 24, 2),
        ("hallucination", "truthfulqa", None, 9, 31, 0),
        ("long_context", "needle", "4k", 15, 5, 0),
        ("long_context", "needle", "8k", 9, 11, 0),
    ],
    BASELINE: [
        ("general", "mmlu", None, 27, 13, 0),
        ("general", "mtbench", None, 14, 6, 0),
        ("reasoning", "gsm8k", None, 22, 18, 0),
        ("hallucination", "truthfulqa", None, 19, 21, 0),
        ("long_context", "needle", "4k", 20, 0, 0),
        ("long_context", "needle", "8k", 19, 1, 0),
    ],
}
MODELS = [ModelInfo(MODEL, "transformers", "transformers (GGUF SmolLM2-135M-Instruct.Q4_1.gguf, cpu, float32, batch 16)"),
          ModelInfo(BASELINE, "recorded", "recorded outputs (gpt-3.5-turbo-0301)", "baseline")]


def plan_outcomes(plan: Plan) -> list[ItemOutcome]:
    """The items of a plan: per model and benchmark numbered test-0000, test-0001, ... in plan order,
    so two models with the same plan rows answered the same items."""
    items = []
    for model, rows in plan.items():
        number: dict[str, int] = {}
        for capability, benchmark, subset, passed, failed, errors in rows:
            for outcome, k in (("passed", passed), ("failed", failed), ("error", errors)):
                for _ in range(k):
                    index = number.get(benchmark, 0)
                    number[benchmark] = index + 1
                    metrics = {"strict": 0.3, "flexible": 0.35} if benchmark == "gsm8k" and model == MODEL else {}
                    items.append(ItemOutcome(model, capability, benchmark, f"test-{index:04d}", outcome,  # type: ignore[arg-type]
                                             subset=subset, answer="B" if outcome == "passed" else "C", expected="B",
                                             metrics=metrics))
    return items


def build_scorecard(plan: Plan, models: list[ModelInfo] = MODELS) -> Scorecard:
    """A scorecard as the plugin builds it: from item outcomes, with the published figures."""
    card = Scorecard.build(plan_outcomes(plan), models, {"suites": ["capabilities"], "limit": 40},
                           created="2026-11-25T16:00:00Z")
    return card.with_published(published_for([m.name for m in card.models], sorted({g.benchmark or "" for g in card.benchmarks})))


@pytest.fixture
def scorecard() -> Scorecard:
    """This run, gated against a pinned earlier run in which reasoning scored higher."""
    card = build_scorecard(PLAN)
    earlier_plan = copy.deepcopy(PLAN)
    earlier_plan[MODEL][2] = ("reasoning", "gsm8k", None, 26, 14, 0)
    document = pin(build_scorecard(earlier_plan))
    return card.with_gate(check_scorecard(parse_thresholds(document, "llm-thresholds.json"), card).to_dict())


def row_of(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
    raise AssertionError(f"no table row for {first_cell!r}")


# --- the fixture itself -------------------------------------------------------------------------

def test_the_example_scorecard_is_consistent(scorecard):
    reasoning = scorecard.capability(MODEL, "reasoning").tally
    assert (reasoning.passed, reasoning.failed, reasoning.errors, reasoning.score) == (14, 24, 2, 14 / 38)
    assert scorecard.gate["passed"] is False
    assert {(p["model"], p["benchmark"]) for p in scorecard.published} == {
        (BASELINE, "mtbench"), (BASELINE, "mmlu"), (BASELINE, "gsm8k"), (BASELINE, "truthfulqa")}


# --- Markdown -----------------------------------------------------------------------------------

def test_markdown_opens_with_the_gate_verdict_and_its_messages(scorecard):
    text = render_markdown(scorecard)
    lines = text.splitlines()
    assert lines[0] == "## LLM scorecard"
    assert lines[2] == "**Gate: ❌ failed (2 of 9 checks against llm-thresholds.json)**"
    fence = lines.index("```text")
    assert lines[fence + 1].startswith(f"{MODEL} / reasoning regressed: 0.650 -> 0.368 (-28.2 points, n=40 pinned, 38 now)")
    assert lines[fence + 2].startswith("  pass -> fail (12): gsm8k[test-0014], gsm8k[test-0015]")
    assert text.index("```text") < text.index("### Capabilities") < text.index("### Benchmarks") < text.index("### Subsets")


def test_markdown_capability_table(scorecard):
    text = render_markdown(scorecard)
    header = row_of(text, "capability")
    assert header == ["capability", MODEL, f"{BASELINE} (baseline)", f"{MODEL} vs {BASELINE}", "gate",
                      "published (not measured here)"]
    reasoning = row_of(text, "reasoning")
    low, high = wilson_interval(14, 38)
    assert reasoning[1] == f"0.368 ({low:.2f} to {high:.2f})<br>14/38 passed, 2 errored"
    # The model scored 38 of its 40 items (2 errored): the baseline's column stands on those 38 only,
    # where it is right on 22 (its own 40 items would say 22/40 = 0.550).
    low, high = wilson_interval(22, 38)
    assert reasoning[2] == (f"0.579 ({low:.2f} to {high:.2f})<br>22/38 passed on the 38 paired items that {MODEL} "
                            "also answered")
    assert reasoning[3].startswith("-21.1 points, p = ")
    assert "McNemar exact, 38 paired items" in reasoning[3]
    [verdict] = [v for v in scorecard.gate["verdicts"] if v["name"] == f"{MODEL}::reasoning"]
    assert reasoning[4] == f"❌ {MODEL}: fail, p = {format_p(verdict['p_value'])}"
    assert reasoning[5] == f"{BASELINE}: GSM8K 5-shot accuracy 0.571 [GPT-4 Tech Report Table 2]"
    general = row_of(text, "general")
    assert f"{BASELINE}: MT-Bench GPT-4-judged score /10 7.94/10 [LMSYS Chatbot Arena leaderboard (MT-Bench)]" in general[5]
    assert row_of(text, "long_context")[5] == "—"
    # Where both answered the same items, the baseline's column is its own tally.
    assert row_of(text, "hallucination")[2] == "0.475 ({:.2f} to {:.2f})<br>19/40 passed".format(*wilson_interval(19, 40))


def test_markdown_benchmark_and_subset_tables(scorecard):
    text = render_markdown(scorecard)
    gsm8k = row_of(text, "gsm8k")
    assert gsm8k[1] == "reasoning"
    assert gsm8k[2].endswith("<br>flexible 0.350 · strict 0.300")
    needle_rows = [line for line in text.splitlines() if line.startswith("| needle |")]
    assert len(needle_rows) == 3  # the benchmark row, then one per subset
    assert needle_rows[1].startswith("| needle | 4k | 0.750 (")


def test_markdown_without_gate_says_how_to_pin(scorecard):
    text = render_markdown(scorecard.with_gate(None))
    assert "**Gate: no thresholds. Pin this run with `pytest --llm-pin --llm-thresholds=llm-thresholds.json`" in text
    assert "| gate |" not in text


def test_markdown_escapes_what_would_break_a_table():
    plan = {"evil|<b>model</b>": [("cap|x", "bench<i>", None, 1, 1, 0)]}
    text = render_markdown(build_scorecard({**plan, BASELINE: [("cap|x", "bench<i>", None, 2, 0, 0)]}))
    assert "<b>" not in text and "<i>" not in text
    assert "| cap\\|x |" in text
    assert "evil\\|&lt;b&gt;model&lt;/b&gt;" in text


# --- HTML ---------------------------------------------------------------------------------------

class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def svg_of(page: str) -> ET.Element:
    match = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert match, "no inline svg"
    return ET.fromstring(match.group(0))


def bars(svg: ET.Element) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if "bar" in (r.get("class") or "").split()]


def test_html_is_standalone(scorecard):
    page = render_html(scorecard)
    parser = Collector()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert page.startswith("<!DOCTYPE html>")
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for _, attrs in parser.tags:
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http", "//")), attrs
    assert tags.count("table") == 3 and tags.count("svg") == 1


def test_html_chart_has_one_bar_per_model_and_published_figure(scorecard):
    svg = svg_of(render_html(scorecard))
    drawn = [(b.get("data-capability"), b.get("data-kind"), b.get("data-model"), b.get("data-benchmark")) for b in bars(svg)]
    assert drawn == [
        ("general", "measured", MODEL, None), ("general", "baseline", BASELINE, None),
        ("general", "published", BASELINE, "mmlu"),  # MT-Bench (/10) is not on this axis
        ("hallucination", "measured", MODEL, None), ("hallucination", "baseline", BASELINE, None),
        ("hallucination", "published", BASELINE, "truthfulqa"),
        ("long_context", "measured", MODEL, None), ("long_context", "baseline", BASELINE, None),
        ("reasoning", "measured", MODEL, None), ("reasoning", "baseline", BASELINE, None),
        ("reasoning", "published", BASELINE, "gsm8k"),
    ]


def test_html_bar_heights_are_the_scores(scorecard):
    svg = svg_of(render_html(scorecard))
    expected = {(g.capability, g.model): g.tally.score for g in scorecard.capabilities if g.model == MODEL}
    # The baseline on the items the model scored: all of them, but in reasoning the 38 of 40 the
    # model did not error on, of which the baseline got the first 22 right.
    expected.update({("general", BASELINE): 41 / 60, ("reasoning", BASELINE): 22 / 38,
                     ("hallucination", BASELINE): 19 / 40, ("long_context", BASELINE): 39 / 40})
    expected.update({(p["capability"], f"published {p['benchmark']}"): p["value"] for p in scorecard.published})
    bottoms = set()
    for bar in bars(svg):
        key_model = f"published {bar.get('data-benchmark')}" if bar.get("data-kind") == "published" else bar.get("data-model")
        value = expected[(bar.get("data-capability"), key_model)]
        height, y = float(bar.get("height")), float(bar.get("y"))
        assert height == pytest.approx(value * PLOT_HEIGHT, abs=0.006)
        assert float(bar.get("data-value")) == pytest.approx(value, abs=1e-4)
        bottoms.add(round(y + height, 1))
    assert len(bottoms) == 1, "every bar stands on the same axis"
    reasoning = next(b for b in bars(svg) if b.get("data-capability") == "reasoning" and b.get("data-model") == MODEL)
    assert float(reasoning.get("height")) == pytest.approx(14 / 38 * PLOT_HEIGHT, abs=0.006)
    paired = next(b for b in bars(svg) if b.get("data-capability") == "reasoning" and b.get("data-kind") == "baseline")
    assert paired.get("data-paired") == "38"


def test_html_published_bars_are_drawn_and_labelled_as_published(scorecard):
    svg = svg_of(render_html(scorecard))
    published = [b for b in bars(svg) if b.get("data-kind") == "published"]
    assert len(published) == 3
    for bar in published:
        assert bar.get("fill") == "url(#published-hatch)" and bar.get("stroke-dasharray")
        title = bar.find(f"{SVG}title")
        assert title is not None and title.text.startswith(f"published (not measured here): {BASELINE} · ")
    gsm8k = next(b for b in published if b.get("data-benchmark") == "gsm8k")
    assert gsm8k.find(f"{SVG}title").text.endswith("GSM8K 5-shot accuracy 0.571 [GPT-4 Tech Report Table 2]")
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "bar-label" and t.get("data-kind") == "published"]
    assert labels == [f"published {BASELINE} mmlu", f"published {BASELINE} truthfulqa", f"published {BASELINE} gsm8k"]
    legend = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert [g.get("data-kind") for g in legend] == ["measured", "baseline", "published"]
    assert legend[-1].find(f"{SVG}text").text == "published (not measured here)"
    measured = [b for b in bars(svg) if b.get("data-kind") != "published"]
    assert all(b.get("fill", "").startswith("#") for b in measured)


def test_html_whiskers_show_the_confidence_interval(scorecard):
    svg = svg_of(render_html(scorecard))
    whiskers = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "ci"]
    assert len(whiskers) == 8  # one per measured bar, none on published figures
    low, high = wilson_interval(14, 38)
    [reasoning] = [g for g in whiskers if g.get("data-model") == MODEL and g.get("data-capability") == "reasoning"]
    assert (float(reasoning.get("data-low")), float(reasoning.get("data-high"))) == pytest.approx((low, high), abs=1e-4)
    vertical = reasoning.find(f"{SVG}line")
    span = float(vertical.get("y1")) - float(vertical.get("y2"))
    assert span == pytest.approx((high - low) * PLOT_HEIGHT, abs=0.01)


def test_html_escapes_everything():
    card = build_scorecard({"<script>alert(1)</script>": [("cap&<x>", "b\"q'", None, 1, 1, 0)],
                            BASELINE: [("cap&<x>", "b\"q'", None, 2, 0, 0)]})
    page = render_html(card)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    svg_of(page)  # still well-formed XML


def test_html_carries_the_gate_and_tables(scorecard):
    page = render_html(scorecard)
    assert '<div class="gate failed"><strong>Gate: ❌ failed (2 of 9 checks against llm-thresholds.json)</strong>' in page
    assert f"{MODEL} / reasoning regressed: 0.650 -&gt; 0.368" in page
    assert "<th>published (not measured here)</th>" in page
    assert "GSM8K 5-shot accuracy 0.571 [GPT-4 Tech Report Table 2]" in page


def test_an_empty_run_renders_without_tables():
    assert "_No benchmark item ran._" in render_markdown({"models": [], "capabilities": []})
    page = render_html({})
    assert "No benchmark item ran." in page and "<svg" not in page


def test_a_capability_without_any_scored_item_has_no_bar():
    card = build_scorecard({MODEL: [("general", "mmlu", None, 0, 0, 3)], BASELINE: [("general", "mmlu", None, 2, 1, 0)]})
    svg = svg_of(render_html(card))
    assert [b.get("data-kind") for b in bars(svg)] == ["baseline", "published"]
    assert "no score<br>0/0 passed, 3 errored" in render_markdown(card)


# --- the published figures the reports show -------------------------------------------------------

def test_published_figures_keep_their_marker_and_scale():
    from pytest_llmeval.published import PUBLISHED

    assert PUBLISHED, "no published figures"
    capabilities = {"general", "reasoning", "long_context", "agent", "hallucination", "safety"}
    for entry in PUBLISHED:
        assert entry["marker"] in ("confirmed", "survey-repo"), entry
        assert entry["capability"] in capabilities, entry
        assert entry["source"] and entry["metric"], entry
        if "/10" in entry["metric"]:
            assert 1.0 < entry["value"] <= 10.0, entry
        else:
            assert 0.0 <= entry["value"] <= 1.0, entry
    keys = [(e["model"], e["benchmark"], e["metric"]) for e in PUBLISHED]
    assert len(keys) == len(set(keys)), "a figure is listed twice"


def test_published_for_matches_aliases_and_benchmarks():
    found = published_for(["GPT-4", "openai:gpt-3.5-turbo", MODEL], ["gsm8k", "humaneval"])
    assert [(e["model"], e["benchmark"], e["value"], e["marker"]) for e in found] == [
        ("GPT-4", "gsm8k", 0.92, "confirmed"), ("GPT-4", "humaneval", 0.67, "confirmed"),
        ("openai:gpt-3.5-turbo", "gsm8k", 0.571, "confirmed"), ("openai:gpt-3.5-turbo", "humaneval", 0.481, "confirmed"),
    ]
    assert published_for([MODEL], None) == []


def test_published_figures_follow_the_corrections_in_the_reference():
    # Note a: the survey's 81.71 is gpt-3.5-turbo-instruct; the chat model scored 89.37.
    [chat] = published_for(["gpt-3.5-turbo"], ["alpaca_eval"])
    assert chat["value"] == 0.8937 and "81.71" in chat["note"]
    # Note c: OpenChat-3.5-0106 (7B) has GSM8K 77.4 and HumanEval 71.3, swapped in the survey repo.
    openchat = {e["benchmark"]: e["value"] for e in published_for(["openchat-3.5-0106"], ["gsm8k", "humaneval"])}
    assert openchat == {"gsm8k": 0.774, "humaneval": 0.713}
    # Figures seen only in secondary copies are left out (LM11's Llama-2-70B-chat MMLU 63.0, LLM360's 61.1).
    assert published_for(["llama-2-70b-chat"], ["mmlu", "gsm8k", "humaneval"]) == []
    [mt] = published_for(["llama-2-70b-chat"], ["mtbench"])
    assert (mt["value"], mt["metric"]) == (6.86, "MT-Bench GPT-4-judged score /10")


# --- protocols and cut-off replies, in every report -----------------------------------------------

PROTOCOL = "recorded, 8-shot chain of thought"


def protocol_card(baseline_protocols: list[str | None], truncated: int = 0) -> Scorecard:
    """GSM8K: the model on 10 items (``truncated`` of its failures cut off), the baseline on the
    same 10, its answers made with the given protocols in turn."""
    items = [ItemOutcome(MODEL, "reasoning", "gsm8k", f"g{i}", "passed" if i < 4 else "failed", truncated=i >= 10 - truncated)
             for i in range(10)]
    items += [ItemOutcome(BASELINE, "reasoning", "gsm8k", f"g{i}", "passed" if i < 8 else "failed",
                          protocol=baseline_protocols[i % len(baseline_protocols)]) for i in range(10)]
    models = [ModelInfo(MODEL), ModelInfo(BASELINE, "recorded", "recorded outputs", "baseline", protocol=PROTOCOL)]
    return Scorecard.build(items, models, created="2026-11-30T12:00:00Z")


def test_a_protocol_is_shown_next_to_the_number_in_every_report():
    card = protocol_card([PROTOCOL])
    terminal = render_table(card)
    assert terminal[0].endswith(f"{BASELINE} (baseline) (a)")  # the model's protocol, by its name
    [row] = [line for line in terminal if line.startswith("reasoning")]
    assert row.endswith("0.800 [0.49-0.94] 8/10 (a)")
    assert f"(a) answers made with another protocol than the plugin's zero-shot prompt: {PROTOCOL}" in terminal
    markdown = render_markdown(card)
    assert row_of(markdown, "reasoning")[2] == "0.800 (0.49 to 0.94)<br>8/10 passed<br>protocol: " + PROTOCOL
    assert f"- **{BASELINE}** (baseline): recorded outputs; protocol: {PROTOCOL}" in markdown
    page = render_html(card)
    assert "8/10 passed<br>protocol: recorded, 8-shot chain of thought</td>" in page
    svg = svg_of(page)
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("data-kind") == "baseline"]
    assert labels == [f"{BASELINE} (baseline) (a)"]
    legend = [g.find(f"{SVG}text").text for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert legend == [MODEL, f"{BASELINE} (baseline) (a)"]
    assert f"(a) answers made with another protocol than the plugin&#x27;s zero-shot prompt: {PROTOCOL}</figcaption>" in page
    # The model's own answers carry no mark.
    assert not any(line.startswith("reasoning") and line.count("(a)") > 1 for line in terminal)


def test_mixed_protocols_say_so_and_the_plugins_own_prompt_says_nothing():
    mixed = protocol_card([PROTOCOL, None])
    terminal = render_table(mixed)
    [row] = [line for line in terminal if line.startswith("reasoning")]
    assert row.endswith(" (b)")  # (a) is the baseline's own protocol, by its name
    assert f"(b) answers made with another protocol than the plugin's zero-shot prompt: mixed: {PROTOCOL}; the plugin's prompt" in terminal
    assert f"protocol: mixed: {PROTOCOL}; the plugin's prompt" in render_markdown(mixed)
    plain = Scorecard.build(plan_outcomes(PLAN), [ModelInfo(MODEL), ModelInfo(BASELINE, role="baseline")])
    for text in ("\n".join(render_table(plain)), render_markdown(plain), render_html(plain)):
        assert "protocol" not in text and "(a)" not in text


def test_replies_cut_off_by_the_token_limit_are_counted_where_there_are_any():
    card = protocol_card([None], truncated=3)
    [row] = [line for line in render_table(card) if line.startswith("reasoning")]
    assert re.split(r"\s{2,}", row)[1] == "0.400 [0.17-0.69] 4/10 (3 cut off)"
    assert row_of(render_markdown(card), "reasoning")[1].endswith("4/10 passed, 3 cut off")
    assert "4/10 passed, 3 cut off" in render_html(card)
    for text in ("\n".join(render_table(protocol_card([None]))), render_markdown(protocol_card([None]))):
        assert "cut off" not in text


def test_the_renderers_read_a_scorecard_document_too(scorecard):
    document = scorecard.to_json()
    assert render_markdown(document) == render_markdown(scorecard)
    assert render_html(document) == render_html(scorecard)
    assert render_table(document) == render_table(scorecard)


def test_a_gate_row_with_nothing_scored_is_not_a_check(scorecard):
    # As in JUnit (a skipped testcase), a row none of whose items was scored judged nothing: it
    # reads "not scored" in the gate column and is not counted among the checks.
    gate = dict(scorecard.gate)
    verdicts = [dict(v) for v in gate["verdicts"]]
    [reasoning] = [v for v in verdicts if v["name"] == f"{MODEL}::reasoning"]
    unscored = {**reasoning, "name": f"{MODEL}::long_context", "capability": "long_context", "status": "pass",
                "n": 0, "p_value": None}
    gate["verdicts"] = [v for v in verdicts if v["name"] != unscored["name"]] + [unscored]
    assert any(v["name"] == unscored["name"] for v in verdicts)  # a check of the 9 before
    text = render_markdown(scorecard.with_gate(gate))
    assert text.splitlines()[2] == "**Gate: ❌ failed (2 of 8 checks against llm-thresholds.json)**"
    assert row_of(text, "long_context")[4] == f"{MODEL}: not scored"
