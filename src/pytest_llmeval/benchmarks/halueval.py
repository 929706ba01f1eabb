"""HaluEval, general user queries (hallucination): does ChatGPT's reply contain a hallucination?

HaluEval (Li et al., 2023, "HaluEval: A Large-Scale Hallucination Evaluation Benchmark for
Large Language Models", EMNLP 2023, arXiv 2305.11747) collected real ChatGPT replies to
queries from the Alpaca instruction set, and three annotators labelled each reply:
hallucination yes or no (4,507 rows, 815 yes). The model under test reads the query and the
reply and judges: "Yes" (it contains non-factual or hallucinated information) or "No". An item
passes when its judgement matches the human label.

The prompt is HaluEval's hallucination-recognition prompt (``halueval/judge_prompt.txt``): the
system message and instruction of the repository's response judge
(``evaluation/evaluate.py`` and ``evaluation/dialogue/dialogue_evaluation_instruction.txt``),
worded for a user query and without demonstrations, since the repository publishes none for
general queries. The judgement is read as HaluEval's ``evaluate.py`` reads it: full stops
removed, then "Yes" or "No" must appear (case-sensitive), not both; otherwise the item fails
with "no judgement".

Most replies are labelled "No", so always answering "No" scores 81.9%: the scorecard shows the
subsets ``hallucinated`` (815: recall of hallucinations) and ``not-hallucinated`` (3,692).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..request import Message, Request, Response
from ..scoring.base import Score
from ..shipped import shipped
from .base import Benchmark, Item, content_id
from .data import DataSource, Row, load_rows

DATA = "halueval/general_data.jsonl.gz"
PROMPT = "halueval/judge_prompt.txt"
LABELS = {"yes": "Yes", "no": "No"}


@lru_cache(maxsize=1)
def judge_prompt() -> tuple[str, str]:
    """(system message, user template with ``{user_query}`` and ``{chatgpt_response}``)."""
    text = shipped(PROMPT).read_text(encoding="utf-8")
    system, _, user = text.partition("\n---\n")
    return system.strip(), user.rstrip("\n")


def read_judgement(reply: str) -> str | None:
    """"Yes" or "No" as HaluEval reads a judge's reply, or None when it holds both or neither."""
    text = reply.replace(".", "")
    found = [word for word in ("Yes", "No") if word in text]
    return found[0] if len(found) == 1 else None


def _target(row: Row) -> str:
    label = str(row["hallucination"]).strip().lower()
    if label not in LABELS:
        raise ValueError(f"hallucination must be 'yes' or 'no', got {row['hallucination']!r}")
    return LABELS[label]


def _request(row: Row) -> Request:
    system, template = judge_prompt()
    user = template.format(user_query=row["user_query"], chatgpt_response=row["chatgpt_response"])
    return Request(messages=(Message("system", system), Message("user", user)), max_tokens=64)


def score_judgement(item: Item, response: Response) -> Score:
    """Pass when the model's Yes/No matches the human label."""
    judgement = read_judgement(response.text)
    notes = [] if judgement is not None else ["no judgement: the reply holds both or neither of Yes/No"]
    if item.target == "Yes" and item.row.get("hallucination_spans"):
        notes.append("annotated hallucination: " + " | ".join(str(s) for s in item.row["hallucination_spans"])[:300])
    return Score(judgement == item.target, judgement, item.target, {}, "; ".join(notes))


class HaluEvalGeneral(Benchmark):
    """HaluEval's general split; ids ``id-1`` from its ``ID`` (content-derived where it has none)."""

    def __init__(self, data: DataSource | None = None) -> None:
        super().__init__(
            "halueval",
            capability="hallucination",
            data=data if data is not None else shipped(DATA),
            prompt=_request,
            target=_target,
            scorer=score_judgement,
            id_field="item_id",
            description="HaluEval general (4,507 ChatGPT replies): judge whether each contains a hallucination, "
                        "scored against the human labels",
        )

    def rows(self, base_dir: Path | None = None) -> list[Row]:
        rows = load_rows(self.data, base_dir, self.split)
        for row in rows:
            raw = str(row.get("ID", "")).strip()
            # Three rows have no number upstream: two carry the header text "ID", one is empty.
            row["item_id"] = f"id-{int(raw)}" if raw.isdigit() else content_id(row)
        return rows

    def subset(self, row: Row) -> str | None:
        return "hallucinated" if _target(row) == "Yes" else "not-hallucinated"


def benchmarks() -> list[Benchmark]:
    """The built-in HaluEval (general) benchmark."""
    return [HaluEvalGeneral()]
