"""Like for like: the baseline's column stands on the items the models also answered, or says
that it does not (``pytest_llmeval.reports.pairing``), and every report says the same."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.reports import render_html, render_markdown, render_table
from pytest_llmeval.reports.pairing import baseline_cell
from pytest_llmeval.scorecard import ItemOutcome, ModelInfo, Scorecard, Tally

MODEL, OTHER, BASELINE = "model", "other", "gpt-3.5-turbo"
INFOS = [ModelInfo(MODEL), ModelInfo(OTHER), ModelInfo(BASELINE, "recorded", role="baseline")]


def outcome(model: str, benchmark: str, item: int, outcome: str, capability: str = "general", **extra: object) -> ItemOutcome:
    return ItemOutcome(model, capability, benchmark, f"{benchmark}-{item}", outcome, **extra)  # type: ignore[arg-type]


def card_of(*items: ItemOutcome) -> Scorecard:
    return Scorecard.build(items, INFOS, created="2026-11-30T12:00:00Z")


def test_the_main_jobs_general_row_says_plainly_the_baseline_is_on_other_items():
    # The model answered MMLU and IFBench and skipped AlpacaEval (no judge); the recorded baseline
    # answered only AlpacaEval. Both sit under "general" and share no item.
    items = [outcome(MODEL, "mmlu", i, "passed" if i < 2 else "failed") for i in range(5)]
    items += [outcome(MODEL, "ifbench", i, "failed") for i in range(5)]
    items += [outcome(MODEL, "alpaca_eval", i, "skipped") for i in range(5)]
    items += [outcome(BASELINE, "alpaca_eval", i, "passed") for i in range(5)]
    items += [outcome(BASELINE, "mmlu", i, "skipped") for i in range(5)]
    card = card_of(*items)
    cell = baseline_cell(card, BASELINE, "general")
    assert (cell.kind, cell.shown, cell.own.passed, cell.own.skipped) == ("different", None, 5, 5)
    # Benchmark by benchmark: AlpacaEval has the baseline alone; MMLU has it unscored.
    assert baseline_cell(card, BASELINE, "general", "alpaca_eval").kind == "alone"
    assert baseline_cell(card, BASELINE, "general", "mmlu").kind == "unscored"

    terminal = "\n".join(render_table(card))
    assert [line.split("  ")[0] for line in terminal.splitlines()[:2]] == ["capability", "general"]
    general = terminal.splitlines()[1]
    assert general.endswith("0.200 [0.06-0.51] 2/10 (5 skipped)  1.000 [0.57-1.00] 5/5 (5 skipped) other items only")
    assert "other items only: the baseline answered none of the items the models answered in that row" in terminal
    assert ("different items: none in common with model<br>1.000 (0.57 to 1.00)<br>5/5 passed, 5 skipped<br>on 5 other items "
            "(see the benchmark rows): not compared") in render_markdown(card)
    assert "different items: none in common with model<br>1.000 (0.57 to 1.00)<br>5/5 passed, 5 skipped<br>on 5 other items" in render_html(card)


def test_a_baseline_that_answered_a_few_of_many_items_is_paired_and_says_what_it_skipped():
    # Issue 13.6: a baseline judged on 7 of 805 items showed "2/7" with nothing about the 798 others.
    items = [outcome(MODEL, "xstest", i, "passed" if i % 3 else "failed", "safety") for i in range(805)]
    items += [outcome(BASELINE, "xstest", i, "skipped" if i >= 7 else ("passed" if i < 2 else "failed"), "safety")
              for i in range(805)]
    card = Scorecard.build(items, [ModelInfo(MODEL), ModelInfo(BASELINE, role="baseline")])
    cell = baseline_cell(card, BASELINE, "safety")
    assert cell.kind == "paired" and cell.shown == Tally(passed=2, failed=5)
    assert cell.own.skipped == 798
    [safety] = [line for line in render_table(card) if line.startswith("safety")]
    assert safety.endswith("0.286 [0.08-0.64] 2/7 paired (798 skipped)")
    assert "2/7 passed on the 7 paired items that model also answered; 798 skipped" in render_markdown(card)


def test_paired_items_only_when_the_item_sets_differ():
    # Same items: the baseline's own tally. The model errs on two: the baseline stands on the other 8.
    same = [outcome(m, "gsm8k", i, "passed" if i < k else "failed", "reasoning") for m, k in ((MODEL, 4), (BASELINE, 7))
            for i in range(10)]
    card = Scorecard.build(same, [ModelInfo(MODEL), ModelInfo(BASELINE, role="baseline")])
    assert baseline_cell(card, BASELINE, "reasoning").kind == "same"
    erring = [o if o.model == BASELINE or o.item not in ("gsm8k-0", "gsm8k-9") else
              ItemOutcome(o.model, o.capability, o.benchmark, o.item, "error") for o in same]
    card = Scorecard.build(erring, [ModelInfo(MODEL), ModelInfo(BASELINE, role="baseline")])
    cell = baseline_cell(card, BASELINE, "reasoning")
    assert cell.kind == "paired" and cell.shown == Tally(passed=6, failed=2)  # items 1..8; the baseline passes 1..6
    [comparison] = [c for c in card.comparisons if c.benchmark is None]
    assert (comparison.n_paired, comparison.baseline_score) == (8, 6 / 8)


def test_models_paired_on_different_items_get_one_line_each():
    items = [outcome(MODEL, "mmlu", i, "passed") for i in range(4)]
    items += [outcome(OTHER, "mmlu", i, "failed") for i in range(2, 6)]
    items += [outcome(BASELINE, "mmlu", i, "passed" if i % 2 else "failed") for i in range(6)]
    card = card_of(*items)
    cell = baseline_cell(card, BASELINE, "general")
    assert cell.kind == "paired" and cell.shown is None
    assert {(p.model, p.tally.passed, p.tally.scored, p.model_scored) for p in cell.pairings} == {(MODEL, 2, 4, 4), (OTHER, 2, 4, 4)}
    [general] = [line for line in render_table(card) if line.startswith("general")]
    assert general.endswith("vs model: 2/4 paired; vs other: 2/4 paired")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([MODEL, OTHER, BASELINE]), st.sampled_from(["mmlu", "ifbench", "gsm8k"]),
                          st.integers(0, 5), st.sampled_from(["passed", "failed", "error", "skipped"])), max_size=60))
def test_a_baseline_number_always_stands_on_items_the_models_answered(rows):
    capabilities = {"mmlu": "general", "ifbench": "general", "gsm8k": "reasoning"}
    unique = {(m, b, i): o for m, b, i, o in rows}
    card = card_of(*(outcome(m, b, i, o, capabilities[b]) for (m, b, i), o in unique.items()))
    comparisons = {(c.model, c.capability, c.benchmark): c for c in card.comparisons}
    for capability in {g.capability for g in card.capabilities if g.model == BASELINE}:
        for benchmark in [None, *sorted({b for b, c in capabilities.items() if c == capability})]:
            cell = baseline_cell(card, BASELINE, capability, benchmark)
            answered = {m: {(o.benchmark, o.item) for o in card.outcomes(m, capability, benchmark) if o.scored}
                        for m in (MODEL, OTHER)}
            theirs = {(o.benchmark, o.item) for o in card.outcomes(BASELINE, capability, benchmark) if o.scored}
            assert cell.own == Tally.of(card.outcomes(BASELINE, capability, benchmark))
            if cell.kind == "same":
                assert all(keys == theirs for keys in answered.values() if keys)
            elif cell.kind == "different":
                assert cell.shown is None and theirs and all(not keys & theirs for keys in answered.values())
                assert not any(key[0] in (MODEL, OTHER) and key[1:] == (capability, benchmark) for key in comparisons)
            elif cell.kind == "alone":
                assert not any(answered.values()) and cell.shown == cell.own
            elif cell.kind == "unscored":
                assert not theirs
            else:
                for p in cell.pairings:
                    # The same n and baseline score as the paired comparison, when there is one.
                    c = comparisons.get((p.model, capability, benchmark))
                    assert (p.tally.scored, c is not None) == (len(answered[p.model] & theirs), bool(answered[p.model] & theirs))
                    if c is not None:
                        assert c.n_paired == p.tally.scored and c.baseline_score == p.tally.passed / p.tally.scored
                if cell.shown is not None:
                    assert all(p.tally == cell.shown for p in cell.pairings)
