"""Decoding with a batch that refills as its rows finish: greedy, or sampled with a generator per row.

``model.generate`` keeps every row of a batch in each decoding step until the last row is
done, and then starts the next batch: a row that ended after 40 tokens still costs a forward
pass at every step of a neighbour that runs to 256. :func:`decode_stream` instead drops a row
(and its keys and values) the moment it emits an end-of-sequence token, reaches a stop string
or its token budget, and prefills waiting prompts into the free places once half the batch
is free; each answer is ready (and cached) as soon as its row ends.

More savings: the tokens every prompt starts with (a chat template's system
turn, a benchmark's instructions) are prefilled once and their keys and values copied into
each row, and the key/value cache is written in place (:class:`~.slab.SlabLayer`) instead of being
copied onto itself at every step as transformers' ``DynamicCache`` does. On a CPU, when every
row is greedy, the vocabulary projection runs with a packed weight and falls back to the
model's own on a near tie (:func:`argmax_head`), so the chosen token never changes.

A row is greedy (argmax) unless it has a :class:`~.sampling.RowSampler`, which draws its token
from its own generator. It is used only for models whose generation config adds no logits
processor (repetition penalty, banned words, ...): there greedy rows choose what ``generate``
chooses (``tests/test_greedy.py`` compares them token by token on the embedded model, and
32 GSM8K answers of up to 256 tokens came out identical); anywhere else the backend calls
``generate`` itself.

Example::

    for index, tokens in decode_stream(model, prompts, max_new_tokens=[256] * len(prompts),
                                       eos_ids={2}, batch_size=16):
        print(index, tokenizer.decode(tokens))
"""

from __future__ import annotations

import contextlib
import inspect
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: Generation-config fields that make ``generate`` change the logits; any set to a value other
#: than these neutral ones sends the batch through ``generate`` instead of this loop.
_NEUTRAL = {
    "repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_repetition_penalty": (None, 1.0),
    "bad_words_ids": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "exponential_decay_length_penalty": (None,),
    "renormalize_logits": (None, False),
}


def plain_greedy(model: Any) -> bool:
    """Whether greedy ``generate`` on this model is an argmax per step over full attention and nothing more."""
    config = getattr(model, "generation_config", None)
    if config is None or not all(getattr(config, name, None) in neutral for name, neutral in _NEUTRAL.items()):
        return False
    # Full attention in every layer: sliding-window, linear-attention and hybrid models keep
    # caches of other shapes, which the in-place cache here does not imitate.
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    layers = DynamicCache(config=model.config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every token id that ends a sequence for this model: its generation config's and the tokenizer's."""
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


def decode_stream(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: Sequence[int],
    eos_ids: set[int],
    batch_size: int,
    max_batch_tokens: int | None = None,
    stopped: Sequence[Callable[[list[int]], bool] | None] | None = None,
    pad_id: int = 0,
    refill: int = 1,
    samplers: Sequence[Callable[[Any], int] | None] | None = None,
) -> Iterator[tuple[int, list[int]]]:
    """Decode every prompt; yield ``(index, new tokens)`` as each row finishes. A row with a
    ``samplers`` entry (logits -> token id) draws its tokens with it; the others are greedy.

    At most ``batch_size`` rows decode together (and, with ``max_batch_tokens``, at most that
    many rows x longest possible row). A finished row leaves the batch at once (its answer is
    yielded then, not when the batch ends) and waiting prompts take the free places. A row ends at
    an end-of-sequence token (kept in its tokens), at its ``max_new_tokens``, or when its
    ``stopped`` callback says so. Waiting prompts join once ``refill`` rows are free: a
    joining row pads the whole batch's cache out to the longest row's width, so refilling at
    every free place costs more attention than it saves (32 GSM8K prompts, batch 16, one
    thread: refill 8 took 101.6 s, 16 (only when empty) 104.1 s, 4 107.7 s, 1 111.8 s,
    ``generate`` 122.1 s).
    """
    import torch

    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))  # longest first: padding stays small
    pending = deque(i for i in order if max_new_tokens[i] > 0)
    yield from ((i, []) for i in order if max_new_tokens[i] <= 0)
    batch = _Batch(model, pad_id, shared_prefix([prompts[i] for i in pending]), samplers)
    tokens: dict[int, list[int]] = {}
    greedy = samplers is None or all(s is None for s in samplers)

    def finished(row: int) -> bool:
        got = tokens[row]
        check = stopped[row] if stopped is not None else None
        return got[-1] in eos_ids or len(got) >= max_new_tokens[row] or (check is not None and check(got))

    # The fast head's logits differ from the model's by rounding: fine for an argmax, not for a draw.
    with torch.inference_mode(), (argmax_head(model, batch_size) if greedy else contextlib.nullcontext()):
        while pending or batch.rows:
            admit = admissible(batch.rows, pending, prompts, max_new_tokens, batch_size, max_batch_tokens, refill)
            if admit:
                for row in admit:
                    tokens[row] = []
                batch.admit([prompts[row] for row in admit], admit, headroom=max(max_new_tokens[row] for row in (*batch.rows, *admit)))
                fresh = set(admit)  # the rows already there did not step: only the new ones have a token
            else:
                batch.step()
                fresh = set(batch.rows)
            for row, token in zip(batch.rows, batch.following.tolist(), strict=True):
                if row in fresh:
                    tokens[row].append(token)
            done = [row for row in batch.rows if finished(row)]
            if done:
                batch.remove(done)
                for row in done:
                    yield row, tokens.pop(row)


#: A prefix shorter than this is prefilled with each prompt: sharing it would save little.
MIN_SHARED_PREFIX = 16


def shared_prefix(prompts: list[Sequence[int]]) -> list[int]:
    """The tokens every prompt starts with (a chat template's system turn, a benchmark's
    instructions), keeping at least one token of each prompt out of it; empty when short."""
    if len(prompts) < 2:
        return []
    first = prompts[0]
    length = min(len(p) for p in prompts) - 1
    for prompt in prompts[1:]:
        length = next((n for n in range(length) if prompt[n] != first[n]), length)
    prefix = list(first[:length])
    return prefix if len(prefix) >= MIN_SHARED_PREFIX else []


def admissible(rows: list[int], pending: deque[int], prompts: Sequence[Sequence[int]], limits: Sequence[int],
                batch_size: int, max_batch_tokens: int | None, refill: int) -> list[int]:
    """The waiting prompts to prefill now: none until ``refill`` rows are free, then as many as
    fit in ``batch_size`` rows and ``max_batch_tokens`` (rows x the longest a row can grow)."""
    free = batch_size - len(rows)
    if not pending or (rows and free < refill):
        return []
    widest = max((len(prompts[r]) + limits[r] for r in rows), default=0)
    admit: list[int] = []
    while pending and len(admit) < free:
        candidate = pending[0]
        wider = max(widest, len(prompts[candidate]) + limits[candidate])
        if max_batch_tokens and (rows or admit) and (len(rows) + len(admit) + 1) * wider > max_batch_tokens:
            break
        widest = wider
        admit.append(pending.popleft())
    return admit


class _Batch:
    """The rows decoding together: their key/value cache, attention mask and positions.

    Every row's tokens sit right-aligned in the cache (padding on the left), so one column is
    one step for all rows. Rows join by prefilling their prompts in a cache of their own that
    is then padded to the same width and stacked onto the batch's; rows leave by being
    indexed out; columns that no remaining row uses are cut from the left. The cache's layers
    are :class:`~.slab.SlabLayer` layers, written in place rather than copied at every step.
    """

    def __init__(self, model: Any, pad_id: int, prefix: list[int],
                 samplers: Sequence[Callable[[Any], int] | None] | None = None) -> None:
        self.model = model
        self.pad_id = pad_id
        self.samplers = samplers
        #: Tokens every prompt starts with: prefilled once, their keys and values copied into each row.
        self.prefix = prefix
        self._prefix_cache: list[tuple[Any, Any]] | None = None
        self.rows: list[int] = []
        self.cache: Any = None
        self.mask: Any = None
        self.last: Any = None  # each row's position of the token it fed last
        self.following: Any = None  # each row's newest token, to feed next
        self._logits_to_keep = {"logits_to_keep": 1} if accepts_logits_to_keep(model) else {}

    def admit(self, prompts: list[Sequence[int]], rows: list[int], headroom: int) -> None:
        """Prefill ``prompts`` and add them to the batch; their first tokens land in ``following``.

        ``headroom``: how many more columns the batch may need, so that its cache is allocated
        once rather than grown.
        """
        import torch

        shared = len(self.prefix)
        suffixes = [p[shared:] for p in prompts]
        width = max(len(p) for p in suffixes)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        for n, suffix in enumerate(suffixes):
            ids[n, width - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
            mask[n, shared + width - len(suffix):] = 1
        device = self.model.device
        ids, mask = ids.to(device), mask.to(device)
        # A row's positions count its real tokens: the prefix, then its own after the padding.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        cache = self._prefilled(len(prompts), shared + width + headroom)
        logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True,
                            **self._logits_to_keep).logits
        first = self._choose(rows, logits[:, -1, :])
        if self.cache is None:
            self.cache, self.mask, self.last, self.following = cache, mask, positions[:, -1], first
            self.rows = list(rows)
            return
        from .slab import SlabLayer

        width = max(self.mask.shape[1], mask.shape[1])
        self.cache.layers = [SlabLayer.joined([(mine.keys, mine.values), (theirs.keys, theirs.values)], width, width + headroom)
                             for mine, theirs in zip(self.cache.layers, cache.layers, strict=True)]
        self.mask = torch.cat([_pad_left(self.mask, width), _pad_left(mask, width)])
        self.last = torch.cat([self.last, positions[:, -1]])
        self.following = torch.cat([self.following, first])
        self.rows += rows

    def _prefilled(self, rows: int, capacity: int) -> Any:
        """A cache for ``rows`` new rows holding the shared prefix's keys and values (computed once)."""
        import torch
        from transformers import DynamicCache

        from .slab import SlabLayer

        cache: Any = DynamicCache(config=self.model.config)
        if not self.prefix:
            cache.layers = [SlabLayer(capacity) for _ in cache.layers]
            return cache
        if self._prefix_cache is None:
            ids = torch.tensor([self.prefix], dtype=torch.long, device=self.model.device)
            self.model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, use_cache=True,
                       **self._logits_to_keep)
            self._prefix_cache = [(layer.keys, layer.values) for layer in cache.layers]
        shared = len(self.prefix)
        cache.layers = [SlabLayer.joined([(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1))], shared, capacity)
                        for k, v in self._prefix_cache]
        return cache

    def step(self) -> None:
        """Feed every row its newest token; the next ones land in ``following``."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=-1)
        self.last = self.last + 1
        logits = self.model(input_ids=self.following[:, None], attention_mask=self.mask, position_ids=self.last[:, None],
                            cache=self.cache, use_cache=True).logits
        self.following = self._choose(self.rows, logits[:, -1, :])

    def _choose(self, rows: list[int], logits: Any) -> Any:
        """Each row's next token from its last logits: its sampler's draw, else the argmax."""
        tokens = logits.argmax(-1)
        if self.samplers is not None:
            for slot, row in enumerate(rows):
                sampler = self.samplers[row]
                if sampler is not None:
                    tokens[slot] = sampler(logits[slot])
        return tokens

    def remove(self, done: list[int]) -> None:
        """Drop finished rows, then the columns on the left that only they used."""
        import torch

        gone = set(done)
        keep = [slot for slot, row in enumerate(self.rows) if row not in gone]
        self.rows = [self.rows[slot] for slot in keep]
        if not keep:
            self.cache = self.mask = self.last = self.following = None
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.mask, self.last, self.following = self.mask[index], self.last[index], self.following[index]
        used = self.mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else 0
        self.mask = self.mask[:, start:]
        for layer in self.cache.layers:
            layer.select(index, start)


def _pad_left(tensor: Any, width: int) -> Any:
    """``tensor`` with zeros prepended along its sequence axis (-2 for keys/values, -1 for masks) up to ``width``."""
    import torch.nn.functional as F

    axis_is_last = tensor.dim() == 2
    missing = width - tensor.shape[-1 if axis_is_last else -2]
    if missing <= 0:
        return tensor
    return F.pad(tensor, (missing, 0) if axis_is_last else (0, 0, missing, 0))


@contextlib.contextmanager
def argmax_head(model: Any, batch_size: int) -> Iterator[None]:
    """On a CPU, swap the model's vocabulary projection for one that is quicker but, for greedy
    decoding, exact: oneDNN with the weight packed once (the plain product repacks the whole
    weight at every step: 34 against 21 ms a step for SmolLM2's 49,152 x 576 head at batch 16).
    Its logits differ from the plain product's by rounding, so it answers with them only when
    every row's best logit leads the second by :data:`~.fast_head.ARGMAX_MARGIN`; otherwise (a near tie in
    some row) that step's logits come from the original projection. Only argmax is ever read."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    usable = (
        isinstance(head, torch.nn.Linear) and head.weight.device.type == "cpu" and head.weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    )
    if not usable:
        yield
        return
    try:
        from .fast_head import FastArgmaxHead

        fast = FastArgmaxHead(head, batch_size)
    except RuntimeError:  # a torch build whose oneDNN lacks the operator
        yield
        return
    model.set_output_embeddings(fast)
    try:
        yield
    finally:
        model.set_output_embeddings(head)


def stop_checker(tokenizer: Any, stop: Sequence[str]) -> Callable[[list[int]], bool] | None:
    """A ``stopped`` callback for :func:`decode_stream`: whether the text ends past a stop string.

    Only the last few tokens are decoded each step (enough to hold the longest stop string),
    so the check costs the same at token 10 and token 1,000.
    """
    if not stop:
        return None
    window = max(len(s) for s in stop) + 2  # every token is at least one character, most are more

    def stopped(tokens: list[int]) -> bool:
        tail = tokenizer.decode(tokens[-window:], skip_special_tokens=True)
        return any(s in tail for s in stop)

    return stopped


def accepts_logits_to_keep(model: Any) -> bool:
    """Whether the model's forward can skip the logits of all but the last position (most can)."""
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
